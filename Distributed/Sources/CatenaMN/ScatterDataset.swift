import Catena

/// Where rank `rank` of `size` reads its part of `count` examples (ChainerMN's rule): with `forceEqualLength`,
/// every part has ⌈count / size⌉ examples and part `i` starts at ⌊count·i / size⌋, so that when `size` does not
/// divide `count` neighbouring parts overlap by a few examples (every rank then runs the same number of iterations
/// per epoch); without it, the parts are disjoint and every example belongs to exactly one rank.
public func scatterRange(count: Int, rank: Int, size: Int, forceEqualLength: Bool = true) -> Range<Int> {
    precondition(size > 0 && rank >= 0 && rank < size && count >= 0, "scatterRange: rank \(rank) of \(size), \(count) examples")
    let start = count * rank / size
    let end = forceEqualLength ? start + (count + size - 1) / size : count * (rank + 1) / size
    return start..<end
}

/// Splits rank `root`'s dataset between the processes (ChainerMN's `scatter_dataset`): each rank gets its part
/// (``scatterRange(count:rank:size:forceEqualLength:)``), optionally after a shuffle drawn on the root; only that
/// part's arrays are sent to it. Other ranks' `dataset` is ignored, so they may pass nil and skip loading the data.
///
/// ```swift
/// let train = try scatterDataset(comm.rank == 0 ? try getMnist().train : nil, comm, shuffle: true, seed: 0)
/// ```
/// - Parameters:
///   - shuffle: permute the examples before splitting (with `seed`, the same permutation every run).
///   - forceEqualLength: equal parts (ChainerMN's default), which may repeat a few examples when the size does
///     not divide; false gives disjoint parts that cover every example exactly once.
/// - Throws: ``CatenaMNError`` on every rank if the root has no dataset.
public func scatterDataset(_ dataset: TupleDataset?, _ comm: Communicator, shuffle: Bool = false, seed: UInt64? = nil,
                           root: Int = 0, forceEqualLength: Bool = true) throws -> SubDataset<TupleDataset> {
    comm.checkRoot(root, "scatterDataset")
    var header: [UInt8] = []
    if comm.rank == root { header = dataset == nil ? [0] : [1] }
    comm.bcast(&header, root: root)
    if header != [1] { throw CatenaMNError("scatterDataset: rank \(root), the root, gave no dataset to scatter") }
    var arrays: [NDArray] = []
    if comm.rank == root, let dataset {
        let order = shuffle ? RandomState(seed: seed ?? UInt64.random(in: 0...UInt64.max)).permutationIndices(dataset.count) : nil
        for r in 0..<comm.size {
            let range = scatterRange(count: dataset.count, rank: r, size: comm.size, forceEqualLength: forceEqualLength)
            let index = NDArray(values: range.map { Int64(order?[$0] ?? $0) }, shape: [range.count])
            let part = dataset.arrays.map { $0.take(index) }
            if r == comm.rank {
                arrays = part
            } else {
                comm.send(try encodeNPZ(part.enumerated().map { (key: String($0.offset), value: .array($0.element)) }, source: "scatterDataset"), to: r)
            }
        }
    } else {
        arrays = try decodeNPZ(comm.receive(from: root), source: "scatterDataset (from rank \(root))").map { entry -> NDArray in
            guard case .array(let a) = entry.value else { throw CatenaMNError("scatterDataset: component \(entry.key) is not an array") }
            return a
        }
    }
    let part = TupleDataset(arrays: arrays)
    return SubDataset(part, start: 0, finish: part.count)
}

/// Splits a dataset that every rank already holds (loaded from the same files, or generated from the same seed)
/// between the processes, as ``scatterDataset(_:_:shuffle:seed:root:forceEqualLength:)`` does, without sending
/// any examples: only the root's shuffle order travels.
/// - Throws: ``CatenaMNError`` on every rank if the ranks' datasets have different lengths.
public func scatterDataset<D: Dataset>(replicated dataset: D, _ comm: Communicator, shuffle: Bool = false, seed: UInt64? = nil,
                                       root: Int = 0, forceEqualLength: Bool = true) throws -> SubDataset<D> {
    comm.checkRoot(root, "scatterDataset")
    var counts: [Int64] = [Int64(dataset.count), -Int64(dataset.count)]
    comm.allreduce(&counts, .max)
    if counts[0] != -counts[1] {
        throw CatenaMNError("scatterDataset(replicated:): the ranks' datasets have different lengths (from \(-counts[1]) to \(counts[0]) examples; this rank has \(dataset.count)); give every rank the same dataset, or scatter rank \(root)'s")
    }
    var order: [Int]? = nil
    if shuffle {
        // Every rank has the same count (checked above), so the root's permutation goes as it is.
        var permutation = [Int64](repeating: 0, count: dataset.count)
        if comm.rank == root {
            permutation = RandomState(seed: seed ?? UInt64.random(in: 0...UInt64.max)).permutationIndices(dataset.count).map(Int64.init)
        }
        permutation.withUnsafeMutableBytes { comm.bcastRaw($0.baseAddress, byteCount: $0.count, root: root) }
        order = permutation.map(Int.init)
    }
    let range = scatterRange(count: dataset.count, rank: comm.rank, size: comm.size, forceEqualLength: forceEqualLength)
    return SubDataset(dataset, start: range.lowerBound, finish: range.upperBound, order: order)
}
