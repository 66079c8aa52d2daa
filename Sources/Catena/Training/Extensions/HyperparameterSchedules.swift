import Foundation

/// Multiplies an optimizer hyperparameter by `rate` each time it runs (Chainer's `ExponentialShift`): the value is
/// `initial · rateᵗ`, clamped at `target` if given.
public final class ExponentialShift: Extension {
    /// The hyperparameter changed (`lr`; `alpha` for ``Adam``).
    public let attribute: String
    /// The factor applied at each run.
    public let rate: Double
    /// The value not to go past (an upper bound when `rate > 1`, a lower one otherwise); nil for none.
    public let target: Double?
    private var initial: Double?
    private let optimizer: Optimizer?
    private var t = 0
    private var lastValue: Double?

    /// - Parameters:
    ///   - attribute: the hyperparameter name (`lr`, or `alpha` for Adam).
    ///   - rate: the factor applied at each run; not negative.
    ///   - initial: the starting value (the optimizer's current value if nil).
    ///   - target: the value not to go past: an upper bound when `rate > 1`, a lower one otherwise (nil: none).
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
    /// The hyperparameter changed (`lr`; `alpha` for ``Adam``).
    public let attribute: String
    /// The start and end values.
    public let valueRange: (Double, Double)
    /// The runs of the extension between which the value moves: `valueRange.0` up to run `timeRange.0`,
    /// `valueRange.1` from run `timeRange.1` on.
    public let timeRange: (Int, Int)
    private let optimizer: Optimizer?
    private var t = 0
    private var lastValue: Double?

    /// A linear schedule of `attribute` on `optimizer` (the updater's `main` when nil), run every iteration by
    /// default: the hyperparameter is set to `valueRange.0` when training starts and moves linearly to `valueRange.1`
    /// over the runs `timeRange.0` to `timeRange.1`.
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
