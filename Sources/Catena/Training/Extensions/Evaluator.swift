import Foundation

/// Evaluates a model on a validation iterator and reports the means (Chainer's `Evaluator`), as
/// `validation/main/loss`, `validation/main/accuracy`, … under its name (`validation` by default).
///
/// Each call runs with ``Config/train`` off and without recording the graph, restarts the iterator, and averages
/// each reported value over the batches (per batch, unweighted, as Chainer). `evalHook` runs first — use it to
/// reset an RNN's state. A repeating iterator is read for one epoch.
public final class Evaluator<I: DatasetIterator>: Extension {
    /// The validation batches (Chainer's `main` iterator of the evaluator), reset before every evaluation.
    public let iterator: I
    /// The link evaluated, observed as `main` (its children as `main/…`).
    public let target: Link
    /// Turns a batch of examples into the arrays ``evalFunction`` takes.
    public var converter: ([I.Element]) -> [NDArray]
    /// Runs at the start of every evaluation, before the iterator is reset (Chainer's `eval_hook`).
    public var evalHook: ((Evaluator) -> Void)?
    /// Computes, and reports, on one batch's arrays (Chainer's `eval_func`).
    public var evalFunction: ([NDArray]) -> Void

    /// - Parameters:
    ///   - iterator: the validation batches; it is reset before every evaluation.
    ///   - target: the link observed as `main`, whose reports (and its children's) are averaged.
    ///   - converter: turns a batch of examples into the arrays `evalFunction` takes (Chainer's `converter`).
    ///   - evalHook: runs at the start of every evaluation, before the iterator is reset (Chainer's `eval_hook`).
    ///   - evalFunction: computes (and reports) on one batch's arrays; nil calls `target`, which must be a
    ///     ``Classifier``, with the first two arrays.
    public init(_ iterator: I, _ target: Link, converter: @escaping ([I.Element]) -> [NDArray],
                evalHook: ((Evaluator) -> Void)? = nil, evalFunction: (([NDArray]) -> Void)? = nil) {
        self.iterator = iterator
        self.target = target
        self.converter = converter
        self.evalHook = evalHook
        if let evalFunction {
            self.evalFunction = evalFunction
        } else {
            guard let model = target as? Classifier else {
                typeCheckFailure("Evaluator: give an evalFunction, or evaluate a Classifier (got \(type(of: target)))")
            }
            self.evalFunction = { _ = model.loss(onArrays: $0, caller: "Evaluator") }
        }
    }

    public override var defaultName: String { "validation" }
    public override func makeDefaultTrigger() -> Trigger { IntervalTrigger(1, .epoch) }
    public override var defaultPriority: Int { Extension.priorityWriter }

    public override func callAsFunction(_ trainer: Trainer) throws {
        report(evaluate())
    }

    /// Runs the evaluation and returns the means, keyed `<name>/main/…`.
    public func evaluate() -> [String: Double] {
        let reporter = Reporter()
        let prefix = name.map { $0 + "/" } ?? ""
        reporter.addObserver(prefix + "main", target)
        reporter.addObservers(prefix + "main", target.namedLinks(skipSelf: true))
        var summary = DictSummary()
        usingConfig(\.train, false) {
            evalHook?(self)
            iterator.reset()
            while let batch = iterator.next() {
                let arrays = converter(batch)
                let obs = reporter.scope { noBackpropMode { evalFunction(arrays) } }
                summary.add(obs)
                if iterator.repeats && iterator.epoch > 0 { break }
            }
        }
        return summary.mean
    }
}

extension Evaluator {
    /// An evaluator for a recurrent language model over a token stream (a ``ParallelSequentialIterator`` of int32
    /// tokens, usually `repeats: false` with one stream): each batch becomes the current and next tokens' arrays,
    /// and `resetState` (the evaluated model's) runs before every evaluation, so that it starts from a fresh state.
    ///
    /// ```swift
    /// let evalModel = model.copy(mode: .share) as! Classifier     // the weights, its own RNN state
    /// trainer.extend(Evaluator(tokens: ParallelSequentialIterator(valid, batchSize: 1, repeats: false), evalModel) {
    ///     (evalModel.predictor as! RNNLanguageModel).resetState()
    /// })
    /// ```
    public convenience init<D: Dataset>(tokens iterator: I, _ target: Link, resetState: @escaping () -> Void)
    where I == ParallelSequentialIterator<D>, D.Example == Int32 {
        self.init(iterator, target, converter: { batch in
            let (x, t) = tokenArrays(batch)
            return [x, t]
        }, evalHook: { _ in resetState() })
    }
}

extension Evaluator where I.Element == [NDArray] {
    /// An evaluator whose batches are stacked with ``concatExamples(_:padding:)->[NDArray]``.
    public convenience init(_ iterator: I, _ target: Link, evalHook: ((Evaluator) -> Void)? = nil, evalFunction: (([NDArray]) -> Void)? = nil) {
        self.init(iterator, target, converter: { concatExamples($0) }, evalHook: evalHook, evalFunction: evalFunction)
    }
}
