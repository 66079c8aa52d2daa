import Foundation

/// Produces batches from a dataset and keeps track of epochs (Chainer's `Iterator`).
public protocol DatasetIterator: AnyObject, Serializable {
    /// The type of one example of a batch.
    associatedtype Element
    /// The next batch, or nil once a non-repeating iterator has gone through the data.
    func next() -> [Element]?
    /// The number of examples per batch.
    var batchSize: Int { get }
    /// The number of completed passes over the data.
    var epoch: Int { get }
    /// The epoch as a fraction: `epoch` plus the part of the current pass done.
    var epochDetail: Double { get }
    /// `epochDetail` before the last `next()`; nil before the first batch.
    var previousEpochDetail: Double? { get }
    /// True when the last `next()` crossed into a new epoch.
    var isNewEpoch: Bool { get }
    /// Whether the iterator goes round the data forever (Chainer's `repeat`).
    var repeats: Bool { get }
    /// Starts again from the beginning of the data.
    func reset()
    /// How many batches `next()` has returned since the start (or the last `reset()`), when the iterator can tell
    /// exactly; nil otherwise. Updaters use it to check a loaded snapshot.
    var batchesTaken: Int? { get }
}

extension DatasetIterator {
    public var batchesTaken: Int? { nil }
}

/// Reads examples in order or shuffled, `batchSize` at a time (Chainer's `SerialIterator`).
///
/// With `repeats` (the default) the iterator never ends: the batch that reaches the end of the data is completed
/// with the first examples of the next epoch, in the next epoch's order. Without it, the last batch is short and
/// `next()` then returns nil. Shuffling draws each epoch's order from the iterator's own generator, which snapshots
/// save along with the order, so a resumed run sees the same batches.
public final class SerialIterator<D: Dataset>: DatasetIterator {
    /// The examples read.
    public let dataset: D
    public let batchSize: Int
    public let repeats: Bool
    /// Whether each epoch is read in a new random order (on by default).
    public let shuffle: Bool
    /// The generator that shuffles the order.
    public let rng: RandomState
    public private(set) var epoch = 0
    public private(set) var isNewEpoch = false
    /// The position of the next example in the current order.
    public private(set) var currentPosition = 0
    /// The current epoch's order of example indices (nil without shuffling: the natural order).
    public private(set) var order: [Int]?
    private var previous = -1.0

    /// - Parameters:
    ///   - dataset: the examples to read.
    ///   - batchSize: the number of examples per batch.
    ///   - repeats: go round the data forever, completing the last batch of an epoch from the next one; without it
    ///     the last batch is short and `next()` then returns nil.
    ///   - shuffle: read each epoch in a new random order rather than in the dataset's order.
    ///   - rng: the shuffling generator; by default a new one seeded from ``RandomState/global``.
    /// - Precondition: `batchSize > 0`.
    public init(_ dataset: D, batchSize: Int, repeats: Bool = true, shuffle: Bool = true, rng: RandomState? = nil) {
        if batchSize <= 0 { typeCheckFailure("SerialIterator: batchSize must be positive, got \(batchSize)") }
        self.dataset = dataset
        self.batchSize = batchSize
        self.repeats = repeats
        self.shuffle = shuffle
        self.rng = rng ?? RandomState(seed: RandomState.global.nextUInt64())
        reset()
    }

    public func reset() {
        order = shuffle ? rng.permutationIndices(dataset.count) : nil
        currentPosition = 0
        epoch = 0
        isNewEpoch = false
        previous = -1
    }

    public var epochDetail: Double { Double(epoch) + Double(currentPosition) / Double(Swift.max(dataset.count, 1)) }
    public var previousEpochDetail: Double? { previous < 0 ? nil : previous }

    public func next() -> [D.Example]? {
        previous = epochDetail
        if !repeats && epoch > 0 { return nil }
        let n = dataset.count
        if n == 0 {
            if repeats { typeCheckFailure("SerialIterator: cannot repeat over an empty dataset") }
            return nil
        }
        var indices = [Int]()
        indices.reserveCapacity(batchSize)
        var i = currentPosition
        var iEnd = i + batchSize
        isNewEpoch = false
        while iEnd >= n {
            indices.append(contentsOf: order.map { Array($0[i..<n]) } ?? Array(i..<n))
            if shuffle { order = rng.permutationIndices(n) }
            epoch += 1
            isNewEpoch = true
            i = 0
            if repeats {
                iEnd -= n
            } else {
                iEnd = 0
                break
            }
        }
        indices.append(contentsOf: order.map { Array($0[i..<iEnd]) } ?? Array(i..<iEnd))
        currentPosition = iEnd
        return indices.map { dataset[$0] }
    }

    /// For a repeating iterator, the examples read so far divided by the batch size, when that is exact.
    public var batchesTaken: Int? {
        guard repeats, dataset.count > 0 else { return nil }
        let read = epoch * dataset.count + currentPosition
        return read % batchSize == 0 ? read / batchSize : nil
    }

    /// Saves or loads the position: Chainer's keys (`current_position`, `epoch`, `is_new_epoch`, `order` when
    /// shuffling, `previous_epoch_detail`) plus the shuffling generator's state under `rng/state` (read only when
    /// present, so Chainer's snapshots load). Loading checks that the order is a permutation of the dataset's
    /// indices.
    public func serialize(_ s: Serializer) throws {
        try s("current_position", &currentPosition, in: 0...Swift.max(dataset.count, 0))
        try s("epoch", &epoch, in: 0...(maximumSavedCounter / Swift.max(dataset.count, 1)))
        try s("is_new_epoch", &isNewEpoch)
        if shuffle {
            var o = order ?? []
            try s("order", &o)
            if s.isLoading {
                if o.count != dataset.count || Set(o) != Set(0..<dataset.count) {
                    throw SerializationError("SerialIterator: the saved order has \(o.count) entries but the dataset has \(dataset.count) examples")
                }
                order = o
            }
        }
        try s("previous_epoch_detail", &previous)
        if !s.isLoading || s.contains("rng/state") { try rng.serialize(s["rng"]) }
    }
}

/// Reads one long sequence as `batchSize` parallel streams, returning (current, next) pairs (the
/// `ParallelSequentialIterator` of Chainer's PTB example and of the repeat-count seed).
///
/// Stream j starts at offset `j · count / batchSize`; each call advances every stream by one position (wrapping
/// around), so consecutive batches continue each stream — what truncated BPTT needs. An epoch is `count` tokens:
/// `epochDetail = iteration · batchSize / count`.
public final class ParallelSequentialIterator<D: Dataset>: DatasetIterator {
    /// One stream's step: the token at its position and the one after it (the first, at the end of the sequence).
    public typealias Element = (current: D.Example, next: D.Example)
    /// The sequence read (one token per example).
    public let dataset: D
    public let batchSize: Int
    public let repeats: Bool
    /// Where each stream started.
    public let offsets: [Int]
    /// The number of batches taken since the start.
    public private(set) var iteration = 0
    public private(set) var epoch = 0
    public private(set) var isNewEpoch = false
    private var previous = -1.0

    /// - Precondition: `batchSize > 0` and a non-empty dataset.
    public init(_ dataset: D, batchSize: Int, repeats: Bool = true) {
        if batchSize <= 0 { typeCheckFailure("ParallelSequentialIterator: batchSize must be positive, got \(batchSize)") }
        if dataset.count == 0 { typeCheckFailure("ParallelSequentialIterator: the sequence is empty") }
        self.dataset = dataset
        self.batchSize = batchSize
        self.repeats = repeats
        offsets = (0..<batchSize).map { $0 * dataset.count / batchSize }
        reset()
    }

    public func reset() {
        iteration = 0
        epoch = 0
        isNewEpoch = false
        previous = -1
    }

    public var epochDetail: Double { Double(iteration * batchSize) / Double(dataset.count) }
    public var previousEpochDetail: Double? { previous < 0 ? nil : previous }

    // Inlinable, so that a caller's concrete dataset (an `[Int32]` of tokens) is read through its own subscript, not
    // through the generic one that copies every element by its value witness.
    @inlinable
    public func next() -> [Element]? {
        let n = dataset.count
        if !repeats && iteration * batchSize >= n { return nil }
        var batch = [Element]()
        batch.reserveCapacity(batchSize)
        for o in offsets {
            let i = (o + iteration) % n
            batch.append((current: dataset[i], next: dataset[i + 1 == n ? 0 : i + 1]))
        }
        advance()
        return batch
    }

    /// Counts the batch just taken.
    @usableFromInline
    func advance() {
        previous = epochDetail
        iteration += 1
        let e = iteration * batchSize / dataset.count
        isNewEpoch = epoch < e
        if isNewEpoch { epoch = e }
    }

    /// The batches read so far: the iteration count.
    public var batchesTaken: Int? { iteration }

    /// Saves or loads the position: Chainer's keys (`iteration`, `epoch`, `previous_epoch_detail`) plus
    /// `is_new_epoch`, read only when present so Chainer's snapshots load. Loading checks that the epoch agrees with
    /// the iteration.
    public func serialize(_ s: Serializer) throws {
        try s("iteration", &iteration, in: 0...(maximumSavedCounter / batchSize))
        try s.counter("epoch", &epoch)
        try s("previous_epoch_detail", &previous)
        if !s.isLoading || s.contains("is_new_epoch") { try s("is_new_epoch", &isNewEpoch) }
        if s.isLoading && epoch != iteration * batchSize / dataset.count {
            throw SerializationError("key 'epoch': \(epoch) does not match iteration \(iteration) of \(batchSize) streams over \(dataset.count) tokens (epoch \(iteration * batchSize / dataset.count))")
        }
    }
}

extension ParallelSequentialIterator where D.Example == Int32 {
    /// The batch as arrays: the current tokens and the next tokens, each int32 of shape `[batchSize]`.
    public static func arrays(_ batch: [Element]) -> (x: NDArray, t: NDArray) { tokenArrays(batch) }
}

/// A batch of (current, next) token pairs as two int32 arrays of shape `[batch.count]`.
func tokenArrays(_ batch: [(current: Int32, next: Int32)]) -> (x: NDArray, t: NDArray) {
    (NDArray(values: batch.map(\.current), shape: [batch.count]), NDArray(values: batch.map(\.next), shape: [batch.count]))
}
