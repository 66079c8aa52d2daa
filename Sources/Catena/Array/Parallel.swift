import CCatenaKernels
import Dispatch

/// Wraps a value that is safe to share for the duration of a parallel loop although its type is not `Sendable`
/// (closures over raw pointers into disjoint parts of one buffer).
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @inlinable init(_ value: T) { self.value = value }
}

/// Runs `body(i)` for `i` in `0..<iterations` on the machine's cores (``CatenaRuntime/threads`` threads: the caller and
/// a pool of workers that spin briefly between jobs, so that the short products of an RNN step can be split too)
/// and returns when all are done. Each iteration must touch memory no other iteration writes. A call made while
/// another is running (nested, or from another thread) runs serially.
@usableFromInline
func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    if iterations <= 1 || CatenaRuntime.threads == 1 {
        for i in 0..<iterations { body(i) }
        return
    }
    withoutActuallyEscaping(body) { escaping in
        let box = ParallelBody(escaping)
        let ctx = Unmanaged.passUnretained(box).toOpaque()
        let ok = catena_parallel_for(iterations, Int32(clamping: CatenaRuntime.threads), { ctx, i in
            Unmanaged<ParallelBody>.fromOpaque(ctx!).takeUnretainedValue().body(i)
        }, ctx)
        if ok == 0 { for i in 0..<iterations { escaping(i) } }
        withExtendedLifetime(box) {}
    }
}

/// Cuts `0 ..< count` into `parts` contiguous ranges of nearly equal length and runs `body` on each, one range per
/// ``parallelFor(_:_:)`` iteration (a single call over everything when `parts` is 1).
@usableFromInline
func parallelForRanges(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
    parallelFor(parts) { t in body((count * t / parts)..<(count * (t + 1) / parts)) }
}

/// ``parallelForRanges(_:parts:_:)`` with one range per thread when `work` (whatever the caller counts: values,
/// gate values, multiply-adds) is at least `threshold`, else one call over everything.
func parallelForRanges(_ count: Int, work: Int, threshold: Int, _ body: (Range<Int>) -> Void) {
    parallelForRanges(count, parts: work >= threshold ? Swift.max(1, Swift.min(CatenaRuntime.threads, count)) : 1, body)
}

/// `body(i)` for every index of `weights`, in contiguous groups of nearly equal total weight (``balancedRanges(_:parts:)``),
/// one per thread, when `work` is at least `threshold`; else in order on this thread.
func parallelForEach(weights: [Int], work: Int, threshold: Int, _ body: (Int) -> Void) {
    let groups = balancedRanges(weights, parts: work >= threshold ? CatenaRuntime.threads : 1)
    parallelFor(groups.count) { g in for i in groups[g] { body(i) } }
}

/// `weights` cut into at most `parts` contiguous non-empty ranges whose total weights are as close to equal as whole
/// items allow: each item whose middle falls within a range's share, at least one item per range and one left for
/// every range after it (one range when there are fewer than two parts or no weight).
func balancedRanges(_ weights: [Int], parts requested: Int) -> [Range<Int>] {
    let count = weights.count, total = weights.reduce(0, +)
    let parts = Swift.min(requested, count)
    if parts < 2 || total == 0 { return [0..<count] }
    var bounds = [0], done = 0, r = 0
    for i in 1..<parts {
        let target = total * i / parts
        while r < count - (parts - i) && (r == bounds.last! || 2 * done + weights[r] <= 2 * target) {
            done += weights[r]
            r += 1
        }
        bounds.append(r)
    }
    bounds.append(count)
    return (0..<parts).map { bounds[$0]..<bounds[$0 + 1] }
}

/// The closure of a ``parallelFor(_:_:)`` call, passed to the C pool by pointer.
final class ParallelBody {
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}
