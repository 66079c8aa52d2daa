import Dispatch

/// Wraps a value that is safe to share for the duration of a parallel loop although its type is not `Sendable`
/// (closures over raw pointers into disjoint parts of one buffer).
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @inlinable init(_ value: T) { self.value = value }
}

/// Runs `body(i)` for `i` in `0..<iterations` on the machine's cores and returns when all are done. Each
/// iteration must touch memory no other iteration writes.
@usableFromInline
func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    if iterations == 1 {
        body(0)
        return
    }
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(escaping)
        DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
    }
}
