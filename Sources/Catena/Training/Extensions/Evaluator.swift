import Foundation

/// Evaluates a model on a validation iterator and reports the means (Chainer's `Evaluator`), as
/// `validation/main/loss`, `validation/main/accuracy`, … under its name (`validation` by default).
///
/// Each call runs with ``Config/train`` off and without recording the graph, restarts the iterator, and averages
/// each reported value over the batches (per batch, unweighted, as Chainer). `evalHook` runs first — use it to
/// reset an RNN's state. A repeating iterator is read for one epoch.
public final class Evaluator<I: DatasetIterator>: Extension {
    public let iterator: I
    public let target: Link
    public var converter: ([I.Element]) -> [NDArray]
    public var evalHook: ((Evaluator) -> Void)?
    public var evalFunction: ([NDArray]) -> Void

    /// - Parameters:
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
            self.evalFunction = { arrays in
                if arrays.count < 2 { typeCheckFailure("Evaluator: the converter gave \(arrays.count) arrays; a Classifier needs inputs and labels") }
                _ = model(.constant(arrays[0]), .constant(arrays[1]))
            }
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
    /// An evaluator whose batches are stacked with ``concatExamples(_:padding:)``.
    public convenience init(_ iterator: I, _ target: Link, evalHook: ((Evaluator) -> Void)? = nil, evalFunction: (([NDArray]) -> Void)? = nil) {
        self.init(iterator, target, converter: { concatExamples($0) }, evalHook: evalHook, evalFunction: evalFunction)
    }
}

/// Multiplies an optimizer hyperparameter by `rate` each time it runs (Chainer's `ExponentialShift`): the value is
/// `initial · rateᵗ`, clamped at `target` if given.
public final class ExponentialShift: Extension {
    public let attribute: String
    public let rate: Double
    public let target: Double?
    private var initial: Double?
    private let optimizer: Optimizer?
    private var t = 0
    private var lastValue: Double?

    /// - Parameters:
    ///   - attribute: the hyperparameter name (`lr`, or `alpha` for Adam).
    ///   - initial: the starting value (the optimizer's current value if nil).
    ///   - optimizer: the optimizer to change (the updater's `main` if nil).
    public init(_ attribute: String, rate: Double, initial: Double? = nil, target: Double? = nil, optimizer: Optimizer? = nil) {
        if rate < 0 { typeCheckFailure("ExponentialShift: the rate must not be negative, got \(rate)") }
        self.attribute = attribute
        self.rate = rate
        self.initial = initial
        self.target = target
        self.optimizer = optimizer
    }

    public override var defaultName: String { "ExponentialShift" }

    public override func initialize(_ trainer: Trainer) throws {
        let o = try scheduledOptimizer(optimizer, trainer, attribute, "ExponentialShift")
        if initial == nil { initial = o.hyperparam[attribute] }
        o.hyperparam[attribute] = lastValue ?? initial!
    }

    public override func callAsFunction(_ trainer: Trainer) throws {
        let o = try scheduledOptimizer(optimizer, trainer, attribute, "ExponentialShift")
        t += 1
        var value = initial! * Foundation.pow(rate, Double(t))
        if let target {
            if rate > 1 ? value / target > 1 : value / target < 1 { value = target }
        }
        o.hyperparam[attribute] = value
        lastValue = value
    }

    public override func serialize(_ s: Serializer) throws {
        try s.counter("_t", &t)
        try s("_last_value", &lastValue)
    }
}

/// Moves an optimizer hyperparameter linearly from `valueRange.0` to `valueRange.1` between calls
/// `timeRange.0` and `timeRange.1` (Chainer's `LinearShift`).
public final class LinearShift: Extension {
    public let attribute: String
    public let valueRange: (Double, Double)
    public let timeRange: (Int, Int)
    private let optimizer: Optimizer?
    private var t = 0
    private var lastValue: Double?

    public init(_ attribute: String, valueRange: (Double, Double), timeRange: (Int, Int), optimizer: Optimizer? = nil) {
        self.attribute = attribute
        self.valueRange = valueRange
        self.timeRange = timeRange
        self.optimizer = optimizer
    }

    public override var defaultName: String { "LinearShift" }

    func value(at t: Int) -> Double {
        let (t1, t2) = timeRange, (v1, v2) = valueRange
        if t <= t1 { return v1 }
        if t >= t2 { return v2 }
        return v1 + Double(t - t1) / Double(t2 - t1) * (v2 - v1)
    }

    public override func initialize(_ trainer: Trainer) throws {
        let o = try scheduledOptimizer(optimizer, trainer, attribute, "LinearShift")
        o.hyperparam[attribute] = lastValue ?? value(at: t)
    }

    public override func callAsFunction(_ trainer: Trainer) throws {
        let o = try scheduledOptimizer(optimizer, trainer, attribute, "LinearShift")
        t += 1
        let v = value(at: t)
        o.hyperparam[attribute] = v
        lastValue = v
    }

    public override func serialize(_ s: Serializer) throws {
        try s.counter("_t", &t)
        try s("_last_value", &lastValue)
    }
}

/// The optimizer a schedule extension named `name` changes (`optimizer`, or the updater's `main`), checked to have
/// the hyperparameter `attribute`.
func scheduledOptimizer(_ optimizer: Optimizer?, _ trainer: Trainer, _ attribute: String, _ name: String) throws -> Optimizer {
    guard let o = optimizer ?? trainer.updater.optimizer() else { throw TrainingError("\(name): the updater has no optimizer named 'main'") }
    if o.hyperparam.value(attribute) == nil { throw TrainingError("\(name): \(type(of: o)) has no hyperparameter '\(attribute)'") }
    return o
}

/// Writes `key` into the observation with the value of `function` (Chainer's `observe_value`; once per epoch,
/// priority writer, default name `_observe_value`).
public func observeValue(_ key: String, trigger: Trigger = IntervalTrigger(1, .epoch), _ function: @escaping (Trainer) -> Double) -> Extension {
    makeExtension(name: "_observe_value", trigger: trigger, priority: Extension.priorityWriter) { trainer in
        trainer.observation[key] = function(trainer)
    }
}

/// Observes an optimizer's learning rate as `lr` (Chainer's `observe_lr`).
public func observeLR(optimizerName: String = "main", key: String = "lr", trigger: Trigger = IntervalTrigger(1, .epoch)) -> Extension {
    observeValue(key, trigger: trigger) { $0.updater.optimizer(optimizerName)?.lr ?? .nan }
}

/// Stops training when a parameter becomes NaN or infinite (Chainer's `FailOnNonNumber`).
public final class FailOnNonNumber: Extension {
    public override var defaultName: String { "FailOnNonNumber" }
    public override func callAsFunction(_ trainer: Trainer) throws {
        for (name, opt) in trainer.updater.optimizers {
            for (path, p) in opt.target?.namedParams(includeUninitialized: false) ?? [] where p.dtype.isFloatingPoint {
                if p.array.isFinite().logicalNot().astype(.int32).sum().item() > 0 {
                    throw TrainingError("Kill the process since parameters in optimizer '\(name)' diverge (\(path) is not finite). R.I.P.")
                }
            }
        }
    }
}
