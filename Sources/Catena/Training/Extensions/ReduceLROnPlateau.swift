import Foundation

/// Multiplies an optimizer hyperparameter by `factor` when a reported value stops improving (PyTorch's
/// `ReduceLROnPlateau`; Chainer has no built-in equivalent) — or, with `comparison: .previous`, whenever it gets
/// worse than at the previous check, the schedule of the RNN language-model seed ("halve the learning rate if the
/// loss increases").
///
/// The extension runs every iteration to average `key` over each `trigger` interval (as ``LogReport`` does), and at
/// the end of each interval compares the mean with the reference: the best mean so far (`.best`) or the last one
/// (`.previous`). A mean counts as an improvement when it beats the reference by more than `threshold` (relative:
/// `value < reference · (1 − threshold)` in `.min` mode, `value > reference · (1 + threshold)` in `.max` mode);
/// after more than `patience` checks in a row without one, the hyperparameter is multiplied by `factor` (but not
/// below `minValue`) and the next `cooldown` checks are skipped. NaN never improves.
///
/// ```swift
/// // The seed's schedule: evaluate once per epoch, halve SGD's lr whenever the validation loss rose.
/// trainer.extend(ReduceLROnPlateau("validation/main/loss", factor: 0.5, comparison: .previous))
/// // PyTorch's defaults: a tenth after 10 epochs without a 0.01% improvement of the best.
/// trainer.extend(ReduceLROnPlateau("validation/main/loss", factor: 0.1, patience: 10, threshold: 1e-4))
/// ```
/// Its state (the reference, the counters and the current value of the hyperparameter, which optimizers do not
/// save) is kept in snapshots, so a resumed run continues the schedule.
public final class ReduceLROnPlateau: Extension {
    /// Whether smaller (a loss) or larger (an accuracy) values are better.
    public enum Mode: String, Sendable {
        /// Smaller is better (a loss).
        case min
        /// Larger is better (an accuracy).
        case max
    }
    /// What a new value is compared with.
    public enum Comparison: String, Sendable {
        /// The best value so far (PyTorch).
        case best
        /// The value at the previous check (the language-model seed).
        case previous
    }

    /// The reported value watched (`validation/main/loss`).
    public let key: String
    /// The hyperparameter changed (`lr`; `alpha` for ``Adam``).
    public let attribute: String
    /// The multiplier applied at each reduction, in (0, 1) (0.1 by default).
    public let factor: Double
    /// How many checks in a row without improvement are tolerated; the next one reduces the hyperparameter
    /// (0 by default).
    public let patience: Int
    /// Whether smaller (``Mode/min``, the default) or larger values are better.
    public let mode: Mode
    /// The margin, relative to the reference's magnitude, by which a value must beat the reference to count as an
    /// improvement (0 by default).
    public let threshold: Double
    /// Whether a value is compared with the best so far (the default) or with the previous check's.
    public let comparison: Comparison
    /// How many checks after a reduction are skipped before counting again (0 by default).
    public let cooldown: Int
    /// The floor the hyperparameter is never reduced below (0 by default).
    public let minValue: Double
    private let trigger: Trigger
    private let optimizer: Optimizer?
    private var summary = DictSummary()
    private var reference: Double?
    private var badChecks = 0
    private var cooldownLeft = 0
    private var lastValue: Double?
    /// How many times the hyperparameter has been reduced.
    public private(set) var reductions = 0

    /// - Parameters:
    ///   - key: the reported value to watch.
    ///   - attribute: the optimizer hyperparameter to multiply (default `lr`).
    ///   - factor: the multiplier, in (0, 1).
    ///   - patience: checks without improvement tolerated before a reduction (0: reduce at the first).
    ///   - mode: `.min` when smaller values are better.
    ///   - threshold: the relative margin a value must beat the reference by to count as an improvement.
    ///   - comparison: compare with the best value so far or with the previous one.
    ///   - cooldown: checks skipped after a reduction.
    ///   - minValue: the hyperparameter is never reduced below this.
    ///   - trigger: when to check (once per epoch by default); the value is averaged over each interval.
    ///   - optimizer: the optimizer to change (the updater's `main` when nil).
    /// - Precondition: `0 < factor < 1`, `patience >= 0`, `cooldown >= 0`, `threshold >= 0`.
    public init(_ key: String, attribute: String = "lr", factor: Double = 0.1, patience: Int = 0, mode: Mode = .min,
                threshold: Double = 0, comparison: Comparison = .best, cooldown: Int = 0, minValue: Double = 0,
                trigger: Trigger = IntervalTrigger(1, .epoch), optimizer: Optimizer? = nil) {
        if !(factor > 0 && factor < 1) { typeCheckFailure("ReduceLROnPlateau: factor must be in (0, 1), got \(factor)") }
        if patience < 0 || cooldown < 0 { typeCheckFailure("ReduceLROnPlateau: patience (\(patience)) and cooldown (\(cooldown)) must not be negative") }
        if !(threshold >= 0) { typeCheckFailure("ReduceLROnPlateau: threshold must not be negative, got \(threshold)") }
        self.key = key
        self.attribute = attribute
        self.factor = factor
        self.patience = patience
        self.mode = mode
        self.threshold = threshold
        self.comparison = comparison
        self.cooldown = cooldown
        self.minValue = minValue
        self.trigger = trigger
        self.optimizer = optimizer
    }

    public override var defaultName: String { "ReduceLROnPlateau" }
    /// After the writers (an ``Evaluator`` reports in the same iteration), before the readers.
    public override var defaultPriority: Int { Extension.priorityEditor }

    private func resolve(_ trainer: Trainer) throws -> Optimizer {
        try scheduledOptimizer(optimizer, trainer, attribute, "ReduceLROnPlateau")
    }

    public override func initialize(_ trainer: Trainer) throws {
        let o = try resolve(trainer)
        if let lastValue { o.hyperparam[attribute] = lastValue }
    }

    /// True when `value` beats `ref` by more than the threshold.
    func improves(_ value: Double, on ref: Double) -> Bool {
        switch mode {
        case .min: return value < ref - Swift.abs(ref) * threshold
        case .max: return value > ref + Swift.abs(ref) * threshold
        }
    }

    public override func callAsFunction(_ trainer: Trainer) throws {
        if let v = trainer.observation[key] { summary.add([key: v]) }
        guard trigger(trainer) else { return }
        defer { summary = DictSummary() }
        guard let value = summary.mean[key] else {
            throw TrainingError("ReduceLROnPlateau: nothing was reported as '\(key)' since the last check (reported now: \(trainer.observation.keys.sorted().joined(separator: ", "))); give the extension the trigger of whatever reports it")
        }
        let o = try resolve(trainer)
        let better = reference.map { value.isFinite && improves(value, on: $0) } ?? value.isFinite
        switch comparison {
        case .best: if better { reference = value }
        case .previous: reference = value.isFinite ? value : reference
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            badChecks = 0
            return
        }
        badChecks = better ? 0 : badChecks + 1
        guard badChecks > patience else { return }
        let current = o.hyperparam[attribute]
        let reduced = Swift.max(current * factor, minValue)
        if reduced < current {
            o.hyperparam[attribute] = reduced
            lastValue = reduced
            reductions += 1
        }
        badChecks = 0
        cooldownLeft = cooldown
    }

    public override func serialize(_ s: Serializer) throws {
        try trigger.serialize(s["_trigger"])
        try serializeSummary(&summary, s["_summary"])
        try s("_reference", &reference)
        try s("_bad_checks", &badChecks)
        try s("_cooldown_left", &cooldownLeft)
        try s("_last_value", &lastValue)
        try s("_reductions", &reductions)
        if s.isLoading && (badChecks < 0 || cooldownLeft < 0 || reductions < 0) {
            throw SerializationError("ReduceLROnPlateau: negative counters in the snapshot (bad checks \(badChecks), cooldown \(cooldownLeft), reductions \(reductions))")
        }
    }
}
