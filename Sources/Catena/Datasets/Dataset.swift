import Foundation

/// Anything indexable with a count: the source of examples for an iterator (Chainer's dataset protocol).
public protocol Dataset {
    /// The type of one example (e.g. `[NDArray]` for a ``TupleDataset``).
    associatedtype Example
    /// The number of examples.
    var count: Int { get }
    /// The example at `index` (0-based).
    subscript(index: Int) -> Example { get }
}

extension Array: Dataset {}

/// Several arrays of equal length read in parallel: example i is `[a₀[i], a₁[i], …]` (Chainer's `TupleDataset`).
///
/// ```swift
/// let train = TupleDataset(images, labels)   // example i: [images[i], labels[i]]
/// ```
public struct TupleDataset: Dataset {
    /// The component arrays; their first axes have equal length.
    public let arrays: [NDArray]
    public let count: Int

    /// - Precondition: at least one array, all of the same length along the first axis.
    public init(_ arrays: NDArray...) { self.init(arrays: arrays) }

    /// A dataset reading `arrays` in parallel along their first axes.
    /// - Precondition: at least one array, all of the same length along the first axis.
    public init(arrays: [NDArray]) {
        guard let first = arrays.first, first.ndim > 0 else { typeCheckFailure("TupleDataset: needs at least one array with a first axis") }
        for (i, a) in arrays.enumerated() where a.ndim == 0 || a.shape[0] != first.shape[0] {
            typeCheckFailure("TupleDataset: array \(i) has length \(a.ndim == 0 ? 0 : a.shape[0]), array 0 has \(first.shape[0])")
        }
        self.arrays = arrays
        count = first.shape[0]
    }

    public subscript(index: Int) -> [NDArray] { arrays.map { $0[index] } }
}

/// A contiguous range of another dataset, optionally through a reordering (Chainer's `SubDataset`).
public struct SubDataset<Base: Dataset>: Dataset {
    /// The dataset the examples come from.
    public let base: Base
    /// The range `start..<finish` of positions in `base` (after `order`) that this dataset covers.
    public let start: Int, finish: Int
    /// The reordering of `base`'s indices applied before taking the range; nil for `base`'s own order.
    public let order: [Int]?

    /// Examples `start..<finish` of `base`, after `order` if given.
    /// - Precondition: `0 <= start <= finish <= base.count`; `order` is a permutation of the base's indices.
    public init(_ base: Base, start: Int, finish: Int, order: [Int]? = nil) {
        if start < 0 || finish > base.count || start > finish {
            typeCheckFailure("SubDataset: range \(start)..<\(finish) is outside the dataset's \(base.count) examples")
        }
        if let order, order.count != base.count { typeCheckFailure("SubDataset: order has \(order.count) entries for \(base.count) examples") }
        self.base = base
        self.start = start
        self.finish = finish
        self.order = order
    }

    public var count: Int { finish - start }

    public subscript(index: Int) -> Base.Example {
        let i = index < 0 ? finish + index : start + index
        if i < start || i >= finish { typeCheckFailure("SubDataset: index \(index) is out of range for \(count) examples") }
        return base[order?[i] ?? i]
    }
}

/// The dataset cut in two at `splitAt` (after `order` if given) (Chainer's `split_dataset`).
public func splitDataset<D: Dataset>(_ dataset: D, at splitAt: Int, order: [Int]? = nil) -> (SubDataset<D>, SubDataset<D>) {
    if splitAt < 0 || splitAt > dataset.count { typeCheckFailure("splitDataset: split point \(splitAt) is outside 0...\(dataset.count)") }
    return (SubDataset(dataset, start: 0, finish: splitAt, order: order), SubDataset(dataset, start: splitAt, finish: dataset.count, order: order))
}

/// The dataset shuffled with its own generator seeded by `seed` and cut in two (Chainer's `split_dataset_random`).
public func splitDatasetRandom<D: Dataset>(_ dataset: D, firstSize: Int, seed: UInt64) -> (SubDataset<D>, SubDataset<D>) {
    splitDataset(dataset, at: firstSize, order: RandomState(seed: seed).permutationIndices(dataset.count))
}

/// Another dataset's examples passed through a function when read (Chainer's `TransformDataset`).
public struct TransformDataset<Base: Dataset, Example>: Dataset {
    /// The dataset whose examples are transformed.
    public let base: Base
    /// The function applied to each example when it is read.
    public let transform: (Base.Example) -> Example
    /// A dataset of `transform` applied to each example of `base`, lazily (on every read).
    public init(_ base: Base, _ transform: @escaping (Base.Example) -> Example) {
        self.base = base
        self.transform = transform
    }
    public var count: Int { base.count }
    public subscript(index: Int) -> Example { transform(base[index]) }
}

/// Stacks a batch of examples into batch arrays (Chainer's `concat_examples`): example component k of every
/// example becomes row i of output array k. With `padding`, components of different shapes are placed in arrays of
/// the largest shape filled with that value (one value for all components, or one per component).
/// - Precondition: a non-empty batch whose examples have the same number of components, with equal shapes unless
///   padded.
public func concatExamples(_ batch: [[NDArray]], padding: [Double?]? = nil) -> [NDArray] {
    guard let first = batch.first else { typeCheckFailure("concatExamples: the batch is empty") }
    return (0..<first.count).map { k in
        let parts = batch.enumerated().map { (i, ex) -> NDArray in
            if ex.count != first.count { typeCheckFailure("concatExamples: example \(i) has \(ex.count) components, example 0 has \(first.count)") }
            return ex[k]
        }
        let pad = padding.flatMap { $0.count == 1 ? $0[0] : $0[k] }
        return stackPadded(parts, padding: pad, component: k)
    }
}

/// ``concatExamples(_:padding:)`` for a batch of single arrays.
public func concatExamples(_ batch: [NDArray], padding: Double? = nil) -> NDArray {
    concatExamples(batch.map { [$0] }, padding: [padding])[0]
}

private func stackPadded(_ parts: [NDArray], padding: Double?, component: Int) -> NDArray {
    let shape0 = parts[0].shape
    if parts.allSatisfy({ $0.shape == shape0 }) { return NDArray.stack(parts) }
    guard let padding else {
        typeCheckFailure("concatExamples: component \(component) has shapes \(parts.map(\.shape).uniquedShapes()) in one batch; give a padding value")
    }
    var maxShape = shape0
    for p in parts {
        if p.ndim != maxShape.count { typeCheckFailure("concatExamples: component \(component) mixes \(maxShape.count)-d and \(p.ndim)-d arrays") }
        for d in 0..<p.ndim { maxShape[d] = Swift.max(maxShape[d], p.shape[d]) }
    }
    var out = NDArray.full([parts.count] + maxShape, padding, dtype: parts[0].dtype)
    for (i, p) in parts.enumerated() {
        out.assign(p, to: [.index(i)] + p.shape.map { NDIndex.slice(start: 0, stop: $0, step: 1) })
    }
    return out
}

extension Array where Element == [Int] {
    fileprivate func uniquedShapes() -> [[Int]] {
        var seen: [[Int]] = []
        for s in self where !seen.contains(s) { seen.append(s) }
        return seen
    }
}
