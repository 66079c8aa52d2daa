import Foundation

/// The unit of a trigger's period.
public enum TriggerUnit: String, Sendable {
    /// `iteration` counts updates (one batch each); `epoch` counts passes over the training set, fractionally
    /// (``Updater/epochDetail``).
    case iteration, epoch
}

/// Decides, each iteration, whether something happens (Chainer's triggers). Triggers are evaluated on every
/// iteration, so they may keep state; stateful ones save it through ``serialize(_:)``.
public protocol Trigger: AnyObject {
    /// True when the extension (or, for the stop trigger, the end of training) is due.
    func callAsFunction(_ trainer: Trainer) -> Bool
    /// True once the trigger will never fire again (its extension is then not initialised on resume).
    var finished: Bool { get }
    /// The length of training this trigger describes, for progress bars.
    var trainingLength: (Double, TriggerUnit)? { get }
    /// Saves or loads the trigger's state.
    func serialize(_ s: Serializer) throws
}

extension Trigger {
    public var finished: Bool { false }
    public var trainingLength: (Double, TriggerUnit)? { nil }
    public func serialize(_ s: Serializer) throws {}
}

/// Fires every `period` iterations or epochs (Chainer's `IntervalTrigger`): when `floor(x / period)` changes between
/// two calls, with x the iteration or the epoch fraction. Fractional epoch periods work (`0.5` epochs).
///
/// A trigger remembers where it last looked, so give each extension its own: one instance shared by two
/// extensions fires for whichever asks first.
public final class IntervalTrigger: Trigger {
    /// The interval between firings, in `unit`s (fractional for epochs).
    public let period: Double
    /// Whether `period` counts iterations or epochs.
    public let unit: TriggerUnit
    private var previousIteration = 0
    private var previousEpochDetail = 0.0

    /// - Precondition: `period > 0`.
    public init(_ period: Double, _ unit: TriggerUnit) {
        if !(period > 0) { typeCheckFailure("IntervalTrigger: the period must be positive, got \(period)") }
        self.period = period
        self.unit = unit
    }

    public func callAsFunction(_ trainer: Trainer) -> Bool {
        let u = trainer.updater
        let fire: Bool
        switch unit {
        case .epoch:
            let prev = previousEpochDetail >= 0 ? previousEpochDetail : (u.previousEpochDetail ?? 0)
            fire = (prev / period).rounded(.down) != (u.epochDetail / period).rounded(.down)
        case .iteration:
            let prev = previousIteration >= 0 ? previousIteration : u.iteration - 1
            fire = (Double(prev) / period).rounded(.down) != (Double(u.iteration) / period).rounded(.down)
        }
        previousIteration = u.iteration
        previousEpochDetail = u.epochDetail
        return fire
    }

    public var trainingLength: (Double, TriggerUnit)? { (period, unit) }

    public func serialize(_ s: Serializer) throws {
        try s.counter("previous_iteration", &previousIteration)
        try s("previous_epoch_detail", &previousEpochDetail)
    }
}

/// Fires when the iteration or epoch passes one of the given points (Chainer's `ManualScheduleTrigger`).
public final class ManualScheduleTrigger: Trigger {
    /// The iterations or epochs at which the trigger fires.
    public let points: [Double]
    /// Whether `points` are iterations or epochs.
    public let unit: TriggerUnit
    private var previousIteration = 0
    private var previousEpochDetail = 0.0
    public private(set) var finished = false

    /// A trigger that fires once as training passes each of `points`, in `unit`s; it is finished after the last.
    /// - Precondition: `points` is not empty.
    public init(_ points: [Double], _ unit: TriggerUnit) {
        if points.isEmpty { typeCheckFailure("ManualScheduleTrigger: give at least one point") }
        self.points = points
        self.unit = unit
    }

    public func callAsFunction(_ trainer: Trainer) -> Bool {
        let u = trainer.updater
        let (prev, cur): (Double, Double)
        switch unit {
        case .epoch: (prev, cur) = (previousEpochDetail, u.epochDetail)
        case .iteration: (prev, cur) = (Double(previousIteration), Double(u.iteration))
        }
        let fire = points.contains { prev < $0 && $0 <= cur }
        if fire && cur >= points.max()! { finished = true }
        previousIteration = u.iteration
        previousEpochDetail = u.epochDetail
        return fire
    }

    public var trainingLength: (Double, TriggerUnit)? { (points.max()!, unit) }

    public func serialize(_ s: Serializer) throws {
        try s.counter("previous_iteration", &previousIteration)
        try s("previous_epoch_detail", &previousEpochDetail)
        try s("finished", &finished)
    }
}

/// Fires on its first call only (Chainer's `OnceTrigger`); with `callOnResume`, once more after a resume.
public final class OnceTrigger: Trigger {
    private var flagFirst = true
    private var flagResumed: Bool
    private let callOnResume: Bool

    /// A trigger that fires on its first call; with `callOnResume`, also on the first call after a snapshot is
    /// loaded into it.
    public init(callOnResume: Bool = false) {
        self.callOnResume = callOnResume
        flagResumed = false
    }

    public func callAsFunction(_ trainer: Trainer) -> Bool {
        let fire = flagFirst || flagResumed
        flagFirst = false
        flagResumed = false
        return fire
    }

    public var finished: Bool { !(flagFirst || flagResumed) }

    public func serialize(_ s: Serializer) throws {
        try s("_flag_first", &flagFirst)
        if s.isLoading { flagResumed = callOnResume }
    }
}

/// Fires when the mean of a reported value over each check interval is the best so far (Chainer's
/// `MaxValueTrigger` / `MinValueTrigger`), e.g. to snapshot the best model.
public final class BestValueTrigger: Trigger {
    /// The observation key whose mean is compared (e.g. `"validation/main/accuracy"`).
    public let key: String
    private let better: (Double, Double) -> Bool
    private let interval: Trigger
    private var summary = Summary()
    /// The best mean so far.
    public private(set) var bestValue: Double?

    init(key: String, better: @escaping (Double, Double) -> Bool, trigger: Trigger) {
        self.key = key
        self.better = better
        interval = trigger
    }

    public func callAsFunction(_ trainer: Trainer) -> Bool {
        if let v = trainer.observation[key] { summary.add(v) }
        guard interval(trainer) else { return false }
        let value = summary.mean
        let had = summary.count > 0
        summary = Summary()
        guard had else { return false }
        if bestValue == nil || better(value, bestValue!) {
            bestValue = value
            return true
        }
        return false
    }

    public func serialize(_ s: Serializer) throws {
        try interval.serialize(s["interval_trigger"])
        var x = summary.sum, x2 = summary.sumOfSquares, n = summary.count
        try s["summary"]("_x", &x)
        try s["summary"]("_x2", &x2)
        try s["summary"].counter("_n", &n)
        if s.isLoading { summary = Summary(sum: x, sumOfSquares: x2, count: n) }
        try s("best_value", &bestValue)
    }
}

/// Fires when the mean of `key` over an interval exceeds every earlier one (Chainer's `MaxValueTrigger`).
public func MaxValueTrigger(_ key: String, trigger: Trigger = IntervalTrigger(1, .epoch)) -> BestValueTrigger {
    BestValueTrigger(key: key, better: { $0 > $1 }, trigger: trigger)
}

/// Fires when the mean of `key` over an interval is below every earlier one (Chainer's `MinValueTrigger`).
public func MinValueTrigger(_ key: String, trigger: Trigger = IntervalTrigger(1, .epoch)) -> BestValueTrigger {
    BestValueTrigger(key: key, better: { $0 < $1 }, trigger: trigger)
}

/// A stop trigger that ends training when a monitored value stops improving (Chainer's `EarlyStoppingTrigger`),
/// or at `maxTrigger` in any case. `patience` counts check intervals without improvement; with mode `.auto` a key
/// containing "accuracy" is maximised and anything else minimised.
public final class EarlyStoppingTrigger: Trigger {
    /// Whether smaller or larger values of the monitored key are better.
    public enum Mode: Sendable {
        /// Maximise keys containing "accuracy", minimise anything else (Chainer's `'auto'`).
        case auto
        /// Smaller is better (a loss).
        case min
        /// Larger is better (an accuracy).
        case max
    }
    /// The observation key watched (`"main/loss"` by default).
    public let monitor: String
    /// How many checks in a row without improvement end training (3 by default).
    public let patience: Int
    private let checkTrigger: Trigger
    private let maxTrigger: Trigger
    private let maximize: Bool
    private var summary = Summary()
    private var best: Double
    private var count = 0

    /// A stop trigger that ends training after `patience` checks without improvement of `monitor`, or at
    /// `maxTrigger`.
    /// - Parameters:
    ///   - checkTrigger: when the mean of `monitor` since the last check is compared with the best (every epoch by
    ///     default).
    ///   - monitor: the observation key to watch.
    ///   - patience: checks in a row without improvement before training stops.
    ///   - mode: whether smaller or larger values are better (``Mode/auto`` decides from the key's name).
    ///   - maxTrigger: the trigger that ends training in any case (100 epochs by default).
    public init(checkTrigger: Trigger = IntervalTrigger(1, .epoch), monitor: String = "main/loss", patience: Int = 3,
                mode: Mode = .auto, maxTrigger: Trigger = IntervalTrigger(100, .epoch)) {
        self.checkTrigger = checkTrigger
        self.monitor = monitor
        self.patience = patience
        self.maxTrigger = maxTrigger
        maximize = mode == .max || (mode == .auto && monitor.contains("accuracy"))
        best = maximize ? -.infinity : .infinity
    }

    public func callAsFunction(_ trainer: Trainer) -> Bool {
        if let v = trainer.observation[monitor] { summary.add(v) }
        if maxTrigger(trainer) { return true }
        guard checkTrigger(trainer) else { return false }
        guard summary.count > 0 else { return false }
        let mean = summary.mean
        summary = Summary()
        if maximize ? mean > best : mean < best {
            best = mean
            count = 0
        } else {
            count += 1
        }
        return count >= patience
    }

    public var trainingLength: (Double, TriggerUnit)? { maxTrigger.trainingLength }

    /// Catena extension: Chainer saves no state for this trigger; saving it lets a resumed run stop where the
    /// uninterrupted one would.
    public func serialize(_ s: Serializer) throws {
        try checkTrigger.serialize(s["check_trigger"])
        try maxTrigger.serialize(s["max_trigger"])
        try s("best", &best)
        try s.counter("count", &count)
        var x = summary.sum, x2 = summary.sumOfSquares, n = summary.count
        try s("_x", &x)
        try s("_x2", &x2)
        try s.counter("_n", &n)
        if s.isLoading { summary = Summary(sum: x, sumOfSquares: x2, count: n) }
    }
}
