import Catena

/// An ``Evaluator`` whose results are the means over all processes (ChainerMN's `create_multi_node_evaluator`):
/// each rank evaluates its own part of the validation set (``scatterDataset(_:_:shuffle:seed:root:forceEqualLength:)``),
/// then every reported value is averaged over the ranks with one allreduce, so that every rank reports the same
/// `validation/main/loss`, `validation/main/accuracy`, ….
///
/// ```swift
/// trainer.extend(createMultiNodeEvaluator(Evaluator(SerialIterator(valid, batchSize: 100, repeats: false, shuffle: false), model), comm))
/// ```
/// Every rank must add it with the same trigger. Its name, trigger and priority are the wrapped evaluator's.
public final class MultiNodeEvaluator<I: DatasetIterator>: Extension {
    /// The evaluator each rank runs on its own data.
    public let evaluator: Evaluator<I>
    public let comm: Communicator

    public init(_ evaluator: Evaluator<I>, _ comm: Communicator) {
        self.evaluator = evaluator
        self.comm = comm
    }

    public override var defaultName: String { evaluator.defaultName }
    public override func makeDefaultTrigger() -> Trigger { evaluator.makeDefaultTrigger() }
    public override var defaultPriority: Int { evaluator.defaultPriority }
    public override func initialize(_ trainer: Trainer) throws { try evaluator.initialize(trainer) }
    public override func finalize(_ trainer: Trainer) { evaluator.finalize(trainer) }
    public override func serialize(_ s: Serializer) throws { try evaluator.serialize(s) }

    public override func callAsFunction(_ trainer: Trainer) throws {
        report(evaluate())
    }

    /// Runs the wrapped evaluator on this rank and returns the means over the ranks (ChainerMN's rule: the mean of
    /// the ranks' means, which is the overall mean when the ranks' parts are equal, as `scatterDataset` makes them).
    /// Every rank must report the same keys; if they differ (a rank whose part is empty reports nothing), the job
    /// ends with a message naming the first key that differs.
    public func evaluate() -> [String: Double] {
        evaluator.name = name
        let local = evaluator.evaluate()
        let keys = local.keys.sorted()
        comm.requireAgreement(keys, operation: "MultiNodeEvaluator", subject: "results", item: "reported key",
                              hint: "give every rank a non-empty part of the validation set and the same evaluation function")
        var values = keys.map { local[$0]! }
        comm.allreduce(&values, .sum)
        return Dictionary(uniqueKeysWithValues: zip(keys, values.map { $0 / Double(comm.size) }))
    }
}

/// The evaluator, reporting means over all processes (ChainerMN's `create_multi_node_evaluator`).
public func createMultiNodeEvaluator<I>(_ evaluator: Evaluator<I>, _ comm: Communicator) -> MultiNodeEvaluator<I> {
    MultiNodeEvaluator(evaluator, comm)
}
