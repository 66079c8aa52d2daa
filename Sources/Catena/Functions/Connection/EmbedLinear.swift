import Foundation

// `linear(embedID(ids, E), W, b)` — a Linear layer fed by an embedding, as in every language model — computes
// `E[ids]·Wᵀ + b`, which is row `ids` of the table `T = E·Wᵀ + b`. When the vocabulary is no larger than the batch,
// `F.linear` takes that row from T (computed once and reused while E, W and b are unchanged: across all the time
// steps of a truncated-BPTT update) instead of multiplying, and the backward pass gathers the output gradients of
// all those steps into one vocabulary × out matrix G and finishes with `gE = G·W`, `gW = Gᵀ·E`, `gb = Σ G` — three
// small products per update in place of two per step. The graph is the one the unfused calls record (the
// embedding's output is still an input of the linear function), so `grad(_:_:)`, `retainGrad` and
// non-parameter inputs take the ordinary path; the values are the same up to rounding in the gradients' order of
// summation.

/// What a fused linear function needs of the embedding behind its input.
struct EmbedSource {
    /// The row of E for each row of the input.
    let ids: [Int]
    /// The embedding's weight variable and the data it held.
    let e: Variable
    let eArray: NDArray

    /// The embedding behind `x` if `linear(x, w, b)` may be computed from the table: `x` is the recorded 2-D output
    /// of `embedID` over a leaf E whose data has not changed since, no id was ignored, W and b are leaves, the
    /// shapes and dtypes agree, and the vocabulary is no larger than the batch (so that building the table costs
    /// no more than the product it replaces).
    static func behind(_ x: Variable, w: Variable, b: Variable?) -> EmbedSource? {
        guard x.ndim == 2, let embed = x.creator as? EmbedIDFunction, embed.inputCount == 2, let source = embed.source,
              w.creator == nil, b?.creator == nil, w.ndim == 2 else { return nil }
        let e = embed.input(1)
        let ea = e.array
        guard e.creator == nil, ea.ndim == 2, ea.shape[0] <= x.shape[0], ea.shape[1] == w.shape[1], ea.dtype == w.dtype,
              ea.dtype.isFloatingPoint, b.map({ $0.shape == [w.shape[0]] && $0.dtype == w.dtype }) ?? true,
              source == (ObjectIdentifier(ea.storage), ea.offset, ea.storage.version), !embed.ids.contains(-1) else { return nil }
        return EmbedSource(ids: embed.ids, e: e, eArray: ea)
    }
}

/// Tables `E·Wᵀ + b`, kept while their operands' data is unchanged (by storage identity and version).
final class EmbedLinearTables: @unchecked Sendable {
    private struct Operand {
        weak var storage: NDStorage?
        let offset: Int, version: UInt64, shape: [Int]
        init(_ a: NDArray) {
            storage = a.storage
            offset = a.offset
            version = a.storage.version
            shape = a.shape
        }
        func matches(_ a: NDArray) -> Bool {
            storage === a.storage && offset == a.offset && version == a.storage.version && shape == a.shape
        }
    }
    private struct Entry {
        let e: Operand, w: Operand, b: Operand?
        let table: NDArray
    }
    static let shared = EmbedLinearTables()
    static let capacity = 4
    private var entries: [Entry] = []
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }

    /// `e·wᵀ + b`, from the cache when its operands are unchanged.
    func table(e: NDArray, w: NDArray, b: NDArray?) -> NDArray {
        pthread_mutex_lock(&lock)
        entries.removeAll { $0.e.storage == nil || $0.w.storage == nil || ($0.b != nil && $0.b!.storage == nil) }
        if let i = entries.firstIndex(where: { $0.e.matches(e) && $0.w.matches(w) && ($0.b == nil) == (b == nil) && ($0.b.map { o in o.matches(b!) } ?? true) }) {
            let hit = entries.remove(at: i)
            entries.append(hit)
            pthread_mutex_unlock(&lock)
            return hit.table
        }
        pthread_mutex_unlock(&lock)
        var t: NDArray
        if let b {
            t = b.broadcast(to: [e.shape[0], w.shape[0]]).contiguous()
            NDArray.gemm(e, w, into: &t, transposeB: true, accumulate: true)
        } else {
            t = NDArray.zeros([e.shape[0], w.shape[0]], dtype: w.dtype)
            NDArray.gemm(e, w, into: &t, transposeB: true)
        }
        pthread_mutex_lock(&lock)
        entries.append(Entry(e: Operand(e), w: Operand(w), b: b.map(Operand.init), table: t))
        if entries.count > EmbedLinearTables.capacity { entries.removeFirst() }
        pthread_mutex_unlock(&lock)
        return t
    }
}

/// The backward of every fused call over one (E, W, b) in a pass: output gradients summed by vocabulary row.
final class EmbedLinearGradient: DeferredGradient {
    let e: Variable, w: Variable, b: Variable?
    let eArray: NDArray, wArray: NDArray
    private var g: NDArray

    init(e: Variable, w: Variable, b: Variable?, eArray: NDArray, wArray: NDArray) {
        self.e = e
        self.w = w
        self.b = b
        self.eArray = eArray
        self.wArray = wArray
        g = NDArray.zeros([eArray.shape[0], wArray.shape[0]], dtype: wArray.dtype)
    }

    /// Whether a call over these operands (and data) belongs to this accumulator.
    func accepts(e other: Variable, b otherB: Variable?, eArray a: NDArray, wArray wa: NDArray) -> Bool {
        other === e && otherB === b && a.storage === eArray.storage && a.offset == eArray.offset
            && wa.storage === wArray.storage && wa.offset == wArray.offset
    }

    /// Adds row k of `gy` to row `ids[k]` of G.
    func add(_ gy: NDArray, ids: [Int]) { g.scatterAddInPlace(gy, checked: ids, axis: 0) }

    func finish() {
        if e.requiresGrad {
            var ge = NDArray(uninitializedShape: eArray.shape, dtype: eArray.dtype)
            NDArray.gemm(g, wArray, into: &ge)                        // gE = G · W
            NDArray.accumulate(&e._grad, ge)
        }
        if w.requiresGrad {
            var gw = NDArray(uninitializedShape: wArray.shape, dtype: wArray.dtype)
            NDArray.gemm(g, eArray, into: &gw, transposeA: true)      // gW = Gᵀ · E
            NDArray.accumulate(&w._grad, gw)
        }
        if let b, b.requiresGrad { NDArray.accumulate(&b._grad, g.sum(axis: 0)) }
    }
}
