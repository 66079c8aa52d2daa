import Foundation

/// An error that stops training (thrown out of ``Trainer/run()`` after the extensions' `onError`).
public struct TrainingError: Error, CustomStringConvertible {
    /// What went wrong (also the error's `description`).
    public let message: String
    /// An error with the given message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs one training iteration: the part of the loop the ``Trainer`` drives (Chainer's `Updater`).
public protocol Updater: AnyObject, Serializable {
    /// Iterations done so far.
    var iteration: Int { get set }
    /// The main iterator's epoch, fraction, previous fraction and new-epoch flag.
    var epoch: Int { get }
    /// The epoch as a fraction: completed epochs plus the part of the current one done.
    var epochDetail: Double { get }
    /// `epochDetail` before the last batch was taken; nil before the first.
    var previousEpochDetail: Double? { get }
    /// True when the last iteration crossed into a new epoch.
    var isNewEpoch: Bool { get }
    /// The optimizers by name (`main` first).
    var optimizers: [(name: String, optimizer: Optimizer)] { get }
    /// One iteration.
    func update() throws
    /// Called once when training ends.
    func finalize()
}

extension Updater {
    /// The optimizer registered under `name`.
    public func optimizer(_ name: String = "main") -> Optimizer? { optimizers.first { $0.name == name }?.optimizer }
}

/// One batch, one update (Chainer's `StandardUpdater`): takes the next batch from the iterator, converts it to
/// arrays, and calls `optimizer.update` with the loss of those arrays; counts an epoch on the optimizer when the
/// iterator starts one.
///
/// ```swift
/// let updater = StandardUpdater(iterator: SerialIterator(train, batchSize: 100), optimizer: optimizer)
/// ```
/// By default the loss is the optimizer's target called on the first two arrays, which suits a ``Classifier``.
open class StandardUpdater<I: DatasetIterator>: Updater {
    /// The iterator the training batches come from (Chainer's `main` iterator).
    public let iterator: I
    /// The optimizer that updates its target (Chainer's `main` optimizer).
    public let optimizer: Optimizer
    /// Turns a batch into the arrays the loss function takes.
    public var converter: ([I.Element]) -> [NDArray]
    /// The loss of one batch's arrays.
    public var lossFunction: ([NDArray]) -> Variable
    /// Whether to call `optimizer.newEpoch()` when the iterator starts an epoch.
    public var autoNewEpoch: Bool
    public var iteration = 0

    /// - Parameters:
    ///   - iterator: the training batches, one per iteration.
    ///   - optimizer: the optimizer that updates its target with the loss's gradients.
    ///   - converter: batch to arrays.
    ///   - lossFunction: arrays to a scalar loss; nil uses the optimizer's target, which must be a ``Classifier``,
    ///     called with the first two arrays as inputs and labels.
    ///   - autoNewEpoch: call `optimizer.newEpoch()` when the iterator starts an epoch.
    public init(iterator: I, optimizer: Optimizer, converter: @escaping ([I.Element]) -> [NDArray],
                lossFunction: (([NDArray]) -> Variable)? = nil, autoNewEpoch: Bool = true) {
        self.iterator = iterator
        self.optimizer = optimizer
        self.converter = converter
        self.autoNewEpoch = autoNewEpoch
        if let lossFunction {
            self.lossFunction = lossFunction
        } else {
            guard let model = optimizer.target as? Classifier else {
                typeCheckFailure("StandardUpdater: give a lossFunction, or set up the optimizer with a Classifier (its target is \(optimizer.target.map { "\(type(of: $0))" } ?? "not set"))")
            }
            self.lossFunction = { model.loss(onArrays: $0, caller: "StandardUpdater") }
        }
    }

    public var epoch: Int { iterator.epoch }
    /// The iterator's ``DatasetIterator/epochDetail``.
    public var epochDetail: Double { iterator.epochDetail }
    /// The iterator's ``DatasetIterator/previousEpochDetail``.
    public var previousEpochDetail: Double? { iterator.previousEpochDetail }
    /// The iterator's ``DatasetIterator/isNewEpoch``.
    public var isNewEpoch: Bool { iterator.isNewEpoch }
    public var optimizers: [(name: String, optimizer: Optimizer)] { [(name: "main", optimizer: optimizer)] }

    /// Runs ``updateCore()`` and counts the iteration.
    public func update() throws {
        try updateCore()
        iteration += 1
    }

    /// The work of one iteration.
    open func updateCore() throws {
        guard let batch = iterator.next() else { throw TrainingError("the training iterator has no more batches (it does not repeat)") }
        let arrays = converter(batch)
        optimizer.update { lossFunction(arrays) }
        if autoNewEpoch && iterator.isNewEpoch { optimizer.newEpoch() }
    }

    public func finalize() {}

    /// How many batches one iteration takes from the iterator (1; ``BPTTUpdater``'s `bpropLen`).
    open var batchesPerIteration: Int { 1 }

    /// Chainer's layout: `iterator:main/…`, `optimizer:main/…`, `model:main/…`, `iteration`.
    ///
    /// Loading checks that the iteration count agrees with how far the iterator has read (for iterators that
    /// count their batches, ``DatasetIterator/batchesTaken``), so that a damaged or edited counter is refused
    /// instead of ending a run that trained nothing, or overflowing later.
    open func serialize(_ s: Serializer) throws {
        try iterator.serialize(s["iterator:main"])
        try optimizer.serialize(s["optimizer:main"])
        if let target = optimizer.target {
            try target.serialize(s["model:main"])
            if s.isLoading { try checkLoadedRecurrentStates(target, batch: iterator.batchSize, key: "model:main") }
        }
        try s.counter("iteration", &iteration)
        if s.isLoading, let taken = iterator.batchesTaken, taken != iteration * batchesPerIteration {
            throw SerializationError("key 'iteration': the updater is at iteration \(iteration) (\(iteration * batchesPerIteration) batches) but its iterator has read \(taken) batches; the snapshot is inconsistent")
        }
    }
}

extension StandardUpdater where I.Element == [NDArray] {
    /// An updater whose batches (lists of example components) are stacked with
    /// ``concatExamples(_:padding:)->[NDArray]``.
    public convenience init(iterator: I, optimizer: Optimizer, lossFunction: (([NDArray]) -> Variable)? = nil, autoNewEpoch: Bool = true) {
        self.init(iterator: iterator, optimizer: optimizer, converter: { concatExamples($0) }, lossFunction: lossFunction, autoNewEpoch: autoNewEpoch)
    }
}

/// Truncated backpropagation through time (the `BPTTUpdater` of Chainer's PTB example and the repeat-count seed):
/// each iteration sums the loss of `bpropLen` consecutive batches, backpropagates once, cuts the graph with
/// `unchainBackward()` (the RNN keeps its state's values, not their history) and updates once.
///
/// As in Chainer's example, the optimizer's epoch counter is not advanced, and the reported `main/loss` is the
/// last step's.
public final class BPTTUpdater<I: DatasetIterator>: StandardUpdater<I> {
    /// The number of time steps per update.
    public let bpropLen: Int

    /// A truncated-BPTT updater.
    /// - Parameters:
    ///   - iterator: the batches, one per time step (a ``ParallelSequentialIterator`` for a token stream).
    ///   - optimizer: the optimizer that updates its target once per `bpropLen` steps.
    ///   - bpropLen: the number of time steps whose losses are summed before each backward pass and update.
    ///   - converter: batch to arrays.
    ///   - lossFunction: arrays to a scalar loss; nil uses the optimizer's target, which must be a ``Classifier``,
    ///     called with the first two arrays as inputs and labels.
    /// - Precondition: `bpropLen > 0`.
    public init(iterator: I, optimizer: Optimizer, bpropLen: Int, converter: @escaping ([I.Element]) -> [NDArray],
                lossFunction: (([NDArray]) -> Variable)? = nil) {
        if bpropLen <= 0 { typeCheckFailure("BPTTUpdater: bpropLen must be positive, got \(bpropLen)") }
        self.bpropLen = bpropLen
        super.init(iterator: iterator, optimizer: optimizer, converter: converter, lossFunction: lossFunction, autoNewEpoch: false)
    }

    public override var batchesPerIteration: Int { bpropLen }

    public override func updateCore() throws {
        guard optimizer.target != nil else { throw TrainingError("BPTTUpdater: the optimizer has no target; call setup(_:)") }
        var loss: Variable? = nil
        for _ in 0..<bpropLen {
            guard let batch = iterator.next() else { throw TrainingError("the training iterator has no more batches (it does not repeat)") }
            let l = lossFunction(converter(batch))
            loss = loss.map { $0 + l } ?? l
        }
        guard let total = loss else { return }
        optimizer.clearGrads()
        total.backward()
        total.unchainBackward()
        optimizer.update()
    }
}

extension BPTTUpdater where I.Element == (current: Int32, next: Int32) {
    /// A BPTT updater over a token stream (a ``ParallelSequentialIterator`` of int32 tokens).
    public convenience init(iterator: I, optimizer: Optimizer, bpropLen: Int, lossFunction: (([NDArray]) -> Variable)? = nil) {
        self.init(iterator: iterator, optimizer: optimizer, bpropLen: bpropLen, converter: { batch in
            let (x, t) = tokenArrays(batch)
            return [x, t]
        }, lossFunction: lossFunction)
    }
}
