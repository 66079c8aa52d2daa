import Foundation

/// Something the trainer runs alongside the updates (Chainer's `Extension`): logging, evaluation, snapshots,
/// learning-rate schedules. Subclass it, or make one from a closure with ``makeExtension(name:trigger:priority:_:)``.
open class Extension {
    /// Runs before extensions with lower priority in the same iteration (writers of observations first).
    public static let priorityWriter = 300
    /// Runs after writers and before readers (things that edit observations).
    public static let priorityEditor = 200
    /// Runs last (things that read observations: logs, reports).
    public static let priorityReader = 100

    /// The name the trainer gave this extension (its default name, made unique). An extension that wraps another
    /// (CatenaMN's multi-node evaluator) passes its name on to the wrapped one.
    public var name: String?

    /// An extension with no name yet (the trainer gives it one when it is added).
    public init() {}

    /// The name used when none is given to ``Trainer/extend(_:name:trigger:priority:callBeforeTraining:)``.
    open var defaultName: String { String(describing: type(of: self)) }
    /// When the extension runs, unless the trainer is told otherwise (every iteration by default).
    open func makeDefaultTrigger() -> Trigger { IntervalTrigger(1, .iteration) }
    /// The priority, unless the trainer is told otherwise.
    open var defaultPriority: Int { Extension.priorityReader }

    /// Called once before the loop starts (also after a resume).
    open func initialize(_ trainer: Trainer) throws {}
    /// Called whenever the trigger fires.
    open func callAsFunction(_ trainer: Trainer) throws {}
    /// Called once when training ends, normally or not.
    open func finalize(_ trainer: Trainer) {}
    /// Called when the loop fails with `error`, before it is rethrown.
    open func onError(_ trainer: Trainer, _ error: Error) {}
    /// Saves or loads the extension's state.
    open func serialize(_ s: Serializer) throws {}
    /// True for extensions that restore the trainer's state when they initialise (an autoloading snapshot): they
    /// initialise before all others, so that the others start from the restored state. Override it in your own
    /// extension that loads a run's state in ``initialize(_:)``.
    open var initializesFirst: Bool { false }
}

/// An extension made from a closure.
public final class FunctionExtension: Extension {
    private let body: (Trainer) throws -> Void
    private let nameValue: String
    private let triggerMaker: () -> Trigger
    private let priorityValue: Int

    /// An extension that calls `body` with the trainer whenever `trigger` fires.
    /// - Parameters:
    ///   - name: its default name.
    ///   - trigger: its default trigger, made afresh for each
    ///     ``Trainer/extend(_:name:trigger:priority:callBeforeTraining:)``.
    ///   - priority: its default priority.
    ///   - body: the work to run.
    public init(name: String, trigger: @escaping @autoclosure () -> Trigger, priority: Int, _ body: @escaping (Trainer) throws -> Void) {
        self.body = body
        nameValue = name
        triggerMaker = trigger
        priorityValue = priority
    }

    public override var defaultName: String { nameValue }
    public override func makeDefaultTrigger() -> Trigger { triggerMaker() }
    public override var defaultPriority: Int { priorityValue }
    public override func callAsFunction(_ trainer: Trainer) throws { try body(trainer) }
}

/// An extension that runs `body` (Chainer's `make_extension`).
public func makeExtension(name: String, trigger: @escaping @autoclosure () -> Trigger = IntervalTrigger(1, .iteration),
                          priority: Int = Extension.priorityReader, _ body: @escaping (Trainer) throws -> Void) -> Extension {
    FunctionExtension(name: name, trigger: trigger(), priority: priority, body)
}

/// The training loop (Chainer's `Trainer`): calls the updater until the stop trigger fires and, after every update,
/// runs each extension whose trigger fires, in order of priority.
///
/// ```swift
/// let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(20, .epoch), out: "result")
/// trainer.extend(Evaluator(validIterator, model))
/// trainer.extend(LogReport())
/// trainer.extend(PrintReport(["epoch", "main/loss", "validation/main/accuracy"]))
/// try trainer.run()
/// ```
///
/// Each iteration starts a fresh ``observation``; values reported during the update (a ``Classifier``'s
/// `main/loss`) and by extensions (`validation/main/accuracy`, `lr`) collect there for the logging extensions.
/// If the loop throws, every extension's `onError` runs, then every `finalize`, and the error is rethrown.
public final class Trainer {
    /// The updater that runs each iteration (and holds the iterators, optimizers and iteration count).
    public let updater: Updater
    /// Ends training when it fires; evaluated before every update (as in Chainer).
    public var stopTrigger: Trigger
    /// The directory for logs, plots and snapshots (created when training starts).
    public let out: String
    /// The reporter observing the optimizers' targets as `main`, `main/predictor`, ….
    public let reporter = Reporter()
    /// The values reported during the current iteration (held by ``reporter``).
    public var observation: [String: Double] {
        get { reporter.observation }
        set { reporter.observation = newValue }
    }
    struct Entry {
        let name: String
        let ext: Extension
        let trigger: Trigger
        let priority: Int
        let callBeforeTraining: Bool
    }
    private(set) var entries: [Entry] = []
    private var startTime: Double?
    private var finalElapsed: Double?
    private var elapsedBeforeResume = 0.0
    private var done = false

    /// A trainer for `updater`, whose optimizers' targets are registered with the ``reporter`` as `main`, `main/…`.
    /// - Parameters:
    ///   - updater: the updater to drive.
    ///   - stopTrigger: ends training when it fires; nil never fires (the loop then ends only by an error, such as
    ///     a non-repeating iterator running out).
    ///   - out: the directory for logs, plots and snapshots (`result` by default).
    public init(updater: Updater, stopTrigger: Trigger? = nil, out: String = "result") {
        self.updater = updater
        self.stopTrigger = stopTrigger ?? NeverTrigger()
        self.out = out
        for (name, optimizer) in updater.optimizers {
            guard let target = optimizer.target else { continue }
            reporter.addObserver(name, target)
            reporter.addObservers(name, target.namedLinks(skipSelf: true))
        }
    }

    /// Adds an extension. Its name (given, or its default) is made unique with `_1`, `_2`, …; the trigger and
    /// priority default to the extension's. With `callBeforeTraining`, it also runs once before the first update.
    public func extend(_ ext: Extension, name: String? = nil, trigger: Trigger? = nil, priority: Int? = nil, callBeforeTraining: Bool = false) {
        let base = name ?? ext.defaultName
        if base == "training" { typeCheckFailure("Trainer.extend: the name 'training' is reserved") }
        var unique = base
        var ordinal = 0
        while entries.contains(where: { $0.name == unique }) {
            ordinal += 1
            unique = "\(base)_\(ordinal)"
        }
        ext.name = unique
        entries.append(Entry(name: unique, ext: ext, trigger: trigger ?? ext.makeDefaultTrigger(), priority: priority ?? ext.defaultPriority,
                             callBeforeTraining: callBeforeTraining))
    }

    /// The extension added under `name`.
    public func getExtension(_ name: String) -> Extension? { entries.first { $0.name == name }?.ext }

    /// The names of the extensions in the order they were added.
    public var extensionNames: [String] { entries.map(\.name) }

    /// Seconds of training so far (including the time before a resume, restored from the snapshot).
    public var elapsedTime: Double {
        if let f = finalElapsed { return f }
        guard let s = startTime else { return elapsedBeforeResume }
        return Trainer.now() - s + elapsedBeforeResume
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Runs the loop until the stop trigger fires.
    /// - Throws: whatever an update or an extension throws (after `onError` and `finalize`), or a
    ///   ``TrainingError`` if the output directory cannot be created or the trainer already ran.
    public func run() throws {
        if done { throw TrainingError("Trainer.run: a trainer runs once; create a new one (and load a snapshot) to continue") }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw TrainingError("cannot create the output directory '\(out)': \(error.localizedDescription)")
        }
        removeStaleTemporaryFiles(in: out)
        let ordered = entries.enumerated().sorted { a, b in
            a.element.priority != b.element.priority ? a.element.priority > b.element.priority : a.offset < b.offset
        }.map(\.element)
        startTime = Trainer.now()
        defer {
            for e in ordered { e.ext.finalize(self) }
            updater.finalize()
            finalElapsed = elapsedTime
            done = true
        }
        do {
            for e in ordered where e.ext.initializesFirst { try e.ext.initialize(self) }
            for e in ordered where !e.ext.initializesFirst && !e.trigger.finished { try e.ext.initialize(self) }
            if updater.iteration == 0 {
                observation = [:]
                try reporter.makingCurrent {
                    for e in ordered where e.callBeforeTraining { try e.ext(self) }
                }
            }
            while !stopTrigger(self) {
                observation = [:]
                try reporter.makingCurrent {
                    try updater.update()
                    for e in ordered where e.trigger(self) { try e.ext(self) }
                }
            }
        } catch {
            for e in ordered { e.ext.onError(self, error) }
            throw error
        }
    }

    /// True before the first update (for extensions that behave differently then).
    public var isBeforeTraining: Bool { updater.iteration == 0 }
}

/// A trigger that never fires (the stop trigger of a trainer given none).
final class NeverTrigger: Trigger {
    func callAsFunction(_ trainer: Trainer) -> Bool { false }
}

extension Trainer: Serializable {
    /// Chainer's snapshot layout: `updater/…`, `stop_trigger/…`, `extensions/<name>/…`,
    /// `extension_triggers/<name>/…` (in the order extensions were added) and `_snapshot_elapsed_time`.
    ///
    /// A trainer may resume from a snapshot made with a different set of extensions (a run with a progress bar
    /// resumed with `--quiet`, or the other way round): the saved state of an extension this trainer lacks is
    /// left unused, and an extension of this trainer that the snapshot does not have starts afresh; each is
    /// reported on standard error. Everything else must match.
    public func serialize(_ s: Serializer) throws {
        try updater.serialize(s["updater"])
        try stopTrigger.serialize(s["stop_trigger"])
        var stored = Set<String>()
        if s.isLoading {
            let ours = Set(entries.map(\.name))
            stored = Set(s["extensions"].storedChildren() + s["extension_triggers"].storedChildren())
            for name in stored.sorted() where !ours.contains(name) {
                s["extensions"].skip(name)
                s["extension_triggers"].skip(name)
                printWarning("snapshot: ignoring the saved state of extension '\(name)', which this trainer does not have")
            }
        }
        for e in entries {
            if s.isLoading && !stored.contains(e.name) {
                printWarning("snapshot: extension '\(e.name)' is not in the snapshot; it starts afresh")
                continue
            }
            try e.ext.serialize(s["extensions"][e.name])
            try e.trigger.serialize(s["extension_triggers"][e.name])
        }
        // Catena's addition: the global generator (default for dropout, shuffling and initializers), so that a
        // resumed run draws the same numbers; absent from Chainer's snapshots, which then load without it.
        if !s.isLoading || s.contains("_global_rng/state") { try RandomState.global.serialize(s["_global_rng"]) }
        var elapsed = elapsedTime
        try s("_snapshot_elapsed_time", &elapsed)
        if s.isLoading {
            if !(elapsed.isFinite && elapsed >= 0) { throw SerializationError("key '_snapshot_elapsed_time': \(elapsed) is not a time") }
            elapsedBeforeResume = elapsed
        }
    }
}
