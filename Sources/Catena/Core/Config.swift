import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The configuration in effect on one thread (Chainer's `chainer.config`).
///
/// Read and change it through ``Config`` or scope a change with ``usingConfig(_:_:_:)``,
/// ``noBackpropMode(_:)`` and ``forceBackpropMode(_:)``. Each thread has its own, starting from the defaults.
public final class Configuration {
    /// Training mode: dropout is active and links behave as during training. Default true.
    @exclusivity(unchecked) public var train = true
    /// Whether functions record the graph for backpropagation. Default true.
    @exclusivity(unchecked) public var enableBackprop = true

    init() {}

    // Per-thread bookkeeping of the graph machinery (not configuration).
    @exclusivity(unchecked) var passCounter = 0
    @exclusivity(unchecked) var pendingRelease: [Variable] = []
    @exclusivity(unchecked) var draining = false
    @exclusivity(unchecked) var releaseDepth = 0
    /// The backward engine's node heap buffer, kept between passes (empty; taken by the running pass).
    @exclusivity(unchecked) var spareHeapItems: FunctionHeap.Items?
    /// Whether reported variables are kept with their graphs (set by `DumpGraph`; Chainer's `keep_graph_on_report`).
    public var keepGraphOnReport = false

    /// The counter that marks functions visited by one traversal (backward, unchainBackward).
    @inline(__always) func nextPass() -> Int {
        passCounter &+= 1
        return passCounter
    }

    /// Releases graph references without recursion: a function's deinit hands its inputs here, and the outermost
    /// release drains the queue in a loop, so dropping a graph of any depth uses a bounded stack.
    func deferRelease(_ node: FunctionNode) {
        node.moveInputs(into: &pendingRelease)
        if draining { return }
        draining = true
        while let v = pendingRelease.popLast() {
            // Dropping it here, outside the access to the queue, may run deinits that append to it.
            withExtendedLifetime(v) {}
        }
        draining = false
    }
}

private let configurations = ThreadLocal { Configuration() }

/// Chainer's `chainer.config`: the current thread's settings.
public enum Config {
    /// The current thread's configuration object.
    @inline(__always)
    public static var current: Configuration { configurations.value }

    /// Training mode on this thread (dropout active). Default true.
    public static var train: Bool {
        get { current.train }
        set { current.train = newValue }
    }

    /// Whether functions record the graph on this thread. Default true.
    public static var enableBackprop: Bool {
        get { current.enableBackprop }
        set { current.enableBackprop = newValue }
    }
}

/// Runs `body` with one configuration value changed, restoring it afterwards (Chainer's `using_config`).
///
/// ```swift
/// let y = usingConfig(\.train, false) { model(x) }   // dropout off
/// ```
@discardableResult
public func usingConfig<Value, Result>(
    _ key: ReferenceWritableKeyPath<Configuration, Value>, _ value: Value, _ body: () throws -> Result
) rethrows -> Result {
    let config = Config.current
    let saved = config[keyPath: key]
    config[keyPath: key] = value
    defer { config[keyPath: key] = saved }
    return try body()
}

/// Runs `body` without recording the graph (Chainer's `no_backprop_mode`): results have no creator.
@discardableResult
public func noBackpropMode<Result>(_ body: () throws -> Result) rethrows -> Result {
    try usingConfig(\.enableBackprop, false, body)
}

/// Runs `body` with graph recording on, even inside ``noBackpropMode(_:)`` (Chainer's `force_backprop_mode`).
@discardableResult
public func forceBackpropMode<Result>(_ body: () throws -> Result) rethrows -> Result {
    try usingConfig(\.enableBackprop, true, body)
}
