import Foundation

/// The reporters made current by ``Reporter/scope(_:)`` on one thread, innermost last. Kept here rather than in
/// Core's configuration, which knows nothing of training.
private final class ReporterStack {
    var reporters: [Reporter] = []

    private static let stacks = ThreadLocal { ReporterStack() }

    /// This thread's stack.
    static var current: ReporterStack { stacks.value }
}

/// Collects the values that code reports during one iteration (Chainer's `Reporter`).
///
/// Links and functions call ``report(_:observer:)`` with plain names (`loss`); the reporter prefixes them with the
/// name under which the observer was registered (`main/loss`, `validation/main/accuracy`). Only scalar values are
/// kept, as `Double`s, so a reported loss never keeps its graph alive.
///
/// ```swift
/// let reporter = Reporter()
/// reporter.addObserver("main", model)
/// let observation = reporter.scope { _ = model(x, t) }   // a Classifier reports loss and accuracy
/// print(observation["main/loss"]!)
/// ```
public final class Reporter {
    private var observerNames: [ObjectIdentifier: String] = [:]
    /// The values reported in the current scope.
    public var observation: [String: Double] = [:]
    /// Reported variables with their graphs, kept only while ``Configuration/keepGraphOnReport`` is on.
    var variables: [String: Variable] = [:]

    /// A reporter with no observers and an empty observation.
    public init() {}

    /// Registers `observer` so that its reports are prefixed with `name/`.
    public func addObserver(_ name: String, _ observer: AnyObject) { observerNames[ObjectIdentifier(observer)] = name }

    /// Registers every link under `prefix` + its path (Chainer's `add_observers(prefix, link.namedlinks())`).
    public func addObservers(_ prefix: String, _ links: [(path: String, link: Link)]) {
        for (path, link) in links { addObserver(prefix + path, link) }
    }

    /// The registered name of `observer`, if any.
    public func name(of observer: AnyObject) -> String? { observerNames[ObjectIdentifier(observer)] }

    /// Runs `body` with this reporter current and a fresh observation, and returns what was reported.
    @discardableResult
    public func scope(_ body: () throws -> Void) rethrows -> [String: Double] {
        let stack = ReporterStack.current
        let saved = observation
        observation = [:]
        stack.reporters.append(self)
        defer { stack.reporters.removeLast() }
        try body()
        let result = observation
        observation = saved
        return result
    }

    /// Runs `body` with this reporter current, reporting into its ``observation`` as it is (no fresh scope).
    public func makingCurrent(_ body: () throws -> Void) rethrows {
        let stack = ReporterStack.current
        stack.reporters.append(self)
        defer { stack.reporters.removeLast() }
        try body()
    }

    /// Records values under their names, prefixed by the observer's registered name.
    /// - Precondition: `observer`, if given, is registered.
    public func report(_ values: [String: Double], observer: AnyObject? = nil) {
        var prefix = ""
        if let observer {
            guard let n = name(of: observer) else {
                typeCheckFailure("report: the observer \(type(of: observer)) is not registered with the current reporter; add it with addObserver(_:_:)")
            }
            prefix = n + "/"
        }
        for (k, v) in values { observation[prefix + k] = v }
    }

    /// The reporter of the innermost ``scope(_:)`` on this thread, if any.
    public static var current: Reporter? { ReporterStack.current.reporters.last }
}

/// Reports values to the current reporter, if there is one (Chainer's `chainer.report`). Variables and arrays must
/// have one element; they are converted to `Double`, so no graph is kept.
public func report(_ values: [String: Double], observer: AnyObject? = nil) {
    Reporter.current?.report(values, observer: observer)
}

/// ``report(_:observer:)`` for variables (their single value is taken; the graph is not kept).
public func report(_ values: [String: Variable], observer: AnyObject? = nil) {
    guard let r = Reporter.current else { return }
    r.report(values.compactMapValues { $0.count == 1 ? $0.item() : nil }, observer: observer)
    if Config.current.keepGraphOnReport {
        let prefix = observer.flatMap { r.name(of: $0) }.map { $0 + "/" } ?? ""
        for (k, v) in values { r.variables[prefix + k] = v }
    }
}

/// Running mean and standard deviation of reported values, accumulated in float64 (Chainer's `Summary`).
public struct Summary: Sendable {
    /// The weighted sum of the values added (Chainer's `_x`).
    public private(set) var sum = 0.0
    /// The weighted sum of their squares (Chainer's `_x2`).
    public private(set) var sumOfSquares = 0.0
    /// The total weight of the values added, as a count (Chainer's `_n`).
    public private(set) var count = 0

    /// An empty summary.
    public init() {}

    /// Adds a value (with a weight, counting it that many times).
    public mutating func add(_ value: Double, weight: Double = 1) {
        sum += value * weight
        sumOfSquares += value * value * weight
        count += Int(weight)
    }

    /// The mean of the values added.
    public var mean: Double { sum / Double(Swift.max(count, 1)) }

    /// The standard deviation of the values added.
    public var std: Double {
        let m = mean
        return Swift.max(sumOfSquares / Double(Swift.max(count, 1)) - m * m, 0).squareRoot()
    }

    /// Restores a summary from its saved fields.
    public init(sum: Double, sumOfSquares: Double, count: Int) {
        self.sum = sum
        self.sumOfSquares = sumOfSquares
        self.count = count
    }
}

/// Summaries of many named values (Chainer's `DictSummary`), keeping the order in which names first appear.
public struct DictSummary: Sendable {
    /// The names seen, in the order they first appeared (names new in the same observation in sorted order).
    public private(set) var names: [String] = []
    /// The summary of each name.
    public private(set) var summaries: [String: Summary] = [:]

    /// An empty summary.
    public init() {}

    /// Adds every value of an observation.
    public mutating func add(_ observation: [String: Double]) {
        for k in observation.keys.sorted() where summaries[k] == nil { names.append(k) }
        for (k, v) in observation { summaries[k, default: Summary()].add(v) }
    }

    /// The mean of each name.
    public var mean: [String: Double] { summaries.mapValues(\.mean) }

    /// Restores from saved summaries.
    public init(names: [String], summaries: [String: Summary]) {
        self.names = names
        self.summaries = summaries
    }
}
