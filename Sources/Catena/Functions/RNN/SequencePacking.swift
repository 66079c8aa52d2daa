import Foundation

/// Rows of sequences sorted by length (longest first) interleaved in time order: step 0 of every sequence, then
/// step 1 of those at least two long, and so on (Chainer's `transpose_sequence`, kept as one array). Step `t` holds
/// `batchSizes[t]` rows, starting at row `offsets[t]`.
struct PackedLayout: Equatable {
    /// The sequences' lengths, non-increasing.
    let lengths: [Int]
    /// Rows per time step, non-increasing.
    let batchSizes: [Int]
    /// The first row of each step.
    let offsets: [Int]
    /// All rows.
    var rowCount: Int { offsets.last.map { $0 + batchSizes.last! } ?? 0 }

    init(lengths: [Int]) {
        let steps = lengths.first ?? 0
        var sizes = [Int](repeating: 0, count: steps)
        for l in lengths { for t in 0..<l { sizes[t] += 1 } }
        self.init(batchSizes: sizes, lengths: lengths)
    }

    /// A layout from the batch size of each step (Chainer's time-major `xs`).
    init(batchSizes: [Int]) {
        var lengths = [Int](repeating: 0, count: batchSizes.first ?? 0)
        for b in batchSizes { for r in 0..<b { lengths[r] += 1 } }
        self.init(batchSizes: batchSizes, lengths: lengths)
    }

    private init(batchSizes: [Int], lengths: [Int]) {
        self.lengths = lengths
        self.batchSizes = batchSizes
        var offsets = [Int](repeating: 0, count: batchSizes.count)
        var o = 0
        for t in batchSizes.indices {
            offsets[t] = o
            o += batchSizes[t]
        }
        self.offsets = offsets
    }

    /// The packed rows of `xs` (each `(lengths[i], features…)`), one array.
    func pack(_ xs: [NDArray]) -> NDArray {
        let features = Array(xs[0].shape.dropFirst())
        let out = NDArray(uninitializedShape: [rowCount] + features, dtype: xs[0].dtype)
        let row = features.reduce(1, *) * out.dtype.itemSize
        let dst = out.rawBytes
        // Large batches copy their sequences on every thread, in groups of nearly equal length.
        withExtendedLifetime(out) {
            parallelForEach(weights: lengths, work: out.count, threshold: NDArray.parallelElements) { i in
                let src = xs[i].contiguous()
                withExtendedLifetime(src) {
                    let p = src.rawBytes
                    for t in 0..<lengths[i] { (dst + (offsets[t] + i) * row).copyMemory(from: p + t * row, byteCount: row) }
                }
            }
        }
        return out
    }

    /// The sequences of `packed` (rows as ``pack(_:)`` lays them out). When every sequence has the same length the
    /// packed array is `(steps, batch, features…)` in memory and each sequence is a strided view of it, not a copy.
    func unpack(_ packed: NDArray) -> [NDArray] {
        let features = Array(packed.shape.dropFirst())
        let row = features.reduce(1, *) * packed.dtype.itemSize
        let src = packed.contiguous()
        if let steps = lengths.first, lengths.last == steps, steps > 0 {
            let grid = src.reshaped([steps, lengths.count] + features)
            return lengths.indices.map { grid.selection([.slice(start: nil, stop: nil, step: 1), .index($0)]) }
        }
        return withExtendedLifetime(src) {
            let p = src.rawBytes
            return lengths.indices.map { i in
                let out = NDArray(uninitializedShape: [lengths[i]] + features, dtype: packed.dtype)
                let dst = out.rawBytes
                for t in 0..<lengths[i] { (dst + t * row).copyMemory(from: p + (offsets[t] + i) * row, byteCount: row) }
                return out
            }
        }
    }
}

/// Packs sequences sorted by length into one time-major array (see ``PackedLayout``); its gradient unpacks.
final class PackSequences: FunctionNode {
    let layout: PackedLayout
    init(_ layout: PackedLayout) { self.layout = layout }
    override var label: String { "PackSequences" }

    override func forward(_ inputs: [NDArray]) -> [NDArray] { [layout.pack(inputs)] }

    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        let parts = gys[0].map { layout.unpack($0) }
        var out = GradSlots<NDArray>()
        for (k, i) in targets.enumerated() { out[k] = parts?[i] }
        return out
    }

    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        guard let g = gradOutputs[0] else { return indexes.map { _ in nil } }
        let parts = UnpackSequences(layout).apply([g])
        return indexes.map { parts[$0] }
    }
}

/// Splits a time-major packed array back into its sequences; its gradient packs.
final class UnpackSequences: FunctionNode {
    let layout: PackedLayout
    init(_ layout: PackedLayout) { self.layout = layout }
    override var label: String { "UnpackSequences" }

    override func forward(_ inputs: [NDArray]) -> [NDArray] { layout.unpack(inputs[0]) }

    /// Missing output gradients count as zeros.
    private func filled<V>(_ gys: [V?], zeros: (Int) -> V) -> [V] {
        gys.enumerated().map { $0.element ?? zeros($0.offset) }
    }

    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        let x = input(0).array
        let width = Array(x.shape.dropFirst())
        let gs = filled((0..<outputCount).map { gys[$0] }) { NDArray.zeros([layout.lengths[$0]] + width, dtype: x.dtype) }
        return GradSlots(layout.pack(gs))
    }

    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        let x = input(0)
        let width = Array(x.shape.dropFirst())
        if gradOutputs.allSatisfy({ $0 == nil }) { return [nil] }
        let gs = filled(gradOutputs) { Variable.constant(NDArray.zeros([layout.lengths[$0]] + width, dtype: x.dtype)) }
        return [PackSequences(layout).applySingle(gs)]
    }
}
