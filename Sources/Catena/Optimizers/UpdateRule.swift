import Foundation

/// When an optimizer or update-rule hook runs relative to the update.
public enum HookTiming: Sendable {
    /// Before the parameters are updated (and before the step counter advances).
    case pre
    /// After the update.
    case post
}

/// A function run on one parameter during its update: `hook(rule, param)`.
public typealias UpdateRuleHook = (UpdateRule, Parameter) -> Void

/// The update of one parameter: its hyperparameters (falling back on the optimizer's), its state arrays and its
/// step counter (Chainer's `UpdateRule`).
///
/// Subclasses name their state (``stateNames``), create it in ``initState(_:)`` and implement ``updateCore(_:grad:)``.
open class UpdateRule {
    /// This parameter's hyperparameters; unset ones come from the optimizer.
    public let hyperparam: Hyperparameters
    /// State arrays by name (`m`, `v`, …), created on the first update.
    public var state: [String: NDArray] = [:]
    /// How many times this rule has run (advanced before each update, so 1 on the first).
    public var t = 0
    /// When false, the parameter is not updated and `t` does not advance.
    public var enabled = true
    private var preHooks: [(String, UpdateRuleHook)] = []
    private var postHooks: [(String, UpdateRuleHook)] = []

    /// A rule whose hyperparameters fall back on `parent` (the optimizer's).
    public required init(parent: Hyperparameters?) {
        hyperparam = Hyperparameters(parent: parent)
    }

    /// The names of the state arrays, in the order Chainer serialises them.
    open var stateNames: [String] { [] }

    /// Creates the state for `param` (zeros of its shape by default).
    open func initState(_ param: Parameter) {
        for name in stateNames { state[name] = NDArray.zerosLike(param.array) }
    }

    /// Updates `param.data.array` from `grad`.
    open func updateCore(_ param: Parameter, grad: NDArray) {
        fatalError("\(type(of: self)) must override updateCore(_:grad:)")
    }

    /// Adds a function run on the parameter before (or after) each update, after `t` has advanced.
    /// - Precondition: no hook with that name yet.
    public func addHook(_ hook: @escaping UpdateRuleHook, name: String, timing: HookTiming = .pre) {
        if preHooks.contains(where: { $0.0 == name }) || postHooks.contains(where: { $0.0 == name }) {
            typeCheckFailure("UpdateRule.addHook: a hook named '\(name)' already exists")
        }
        if timing == .pre { preHooks.append((name, hook)) } else { postHooks.append((name, hook)) }
    }

    /// Removes the hook with that name.
    public func removeHook(name: String) {
        preHooks.removeAll { $0.0 == name }
        postHooks.removeAll { $0.0 == name }
    }

    /// Runs one update of `param` (Chainer's `UpdateRule.update`): advances `t`, creates the state on first use,
    /// runs the hooks and ``updateCore(_:grad:)``. Does nothing when disabled; skips uninitialised parameters
    /// (after advancing `t`, as Chainer).
    public func update(_ param: Parameter) {
        guard enabled else { return }
        t += 1
        guard param.isInitialized else { return }
        if state.isEmpty && !stateNames.isEmpty { initState(param) }
        guard param.grad != nil else { return }
        for (_, h) in preHooks { h(self, param) }
        guard let grad = param.grad else { return }
        if grad.dtype != param.array.dtype || grad.shape != param.array.shape {
            typeCheckFailure("\(type(of: self)): the gradient of \(param.name ?? "a parameter") has shape \(grad.shape) (\(grad.dtype)), the parameter \(param.shape) (\(param.dtype))")
        }
        updateCore(param, grad: grad)
        for (_, h) in postHooks { h(self, param) }
    }

    /// An independent copy: same hyperparameter overrides, a copy of the state, the same `t`.
    public func copied() -> UpdateRule {
        let r = type(of: self).init(parent: hyperparam.parent)
        for (k, v) in hyperparam.ownValues { r.hyperparam[k] = v }
        r.state = state.mapValues { $0.copied() }
        r.t = t
        r.enabled = enabled
        r.preHooks = preHooks
        r.postHooks = postHooks
        return r
    }

    // MARK: - Helpers for update kernels

    /// Runs `kernel` over the parameter's data, the gradient and the named state arrays (in `names`' order), in
    /// place and split across cores as ``withBuffers(_:_:_:float32:float64:)`` does, with the kernel's one generic
    /// loop specialised for the parameter's float type.
    public func withBuffers<K: UpdateKernel>(_ param: Parameter, _ grad: NDArray, _ names: [String], _ kernel: K) {
        withBuffers(param, grad, names, float32: { kernel($0, $1, $2, $3) }, float64: { kernel($0, $1, $2, $3) })
    }

    /// Whether ``Optimizer/update()`` may run this rule while other parameters' rules run on other threads: the
    /// library's own rules (``LibraryUpdateRule``) without hooks, which touch only their parameter, its gradient and
    /// their state. A subclass of ``UpdateRule`` written elsewhere always runs alone, in order.
    var updatesConcurrently: Bool { self is LibraryUpdateRule && preHooks.isEmpty && postHooks.isEmpty }

    /// Parameters of at least this many elements are updated in one chunk per thread (the weight matrices of small
    /// recurrent models, 400 × 100, are above it), so the pool's worker is not left idle during the update.
    nonisolated(unsafe) static var parallelElements = 1 << 14

    /// Runs `body` with mutable pointers to the parameter's data, the gradient and the named state arrays, all of
    /// one float type, each contiguous and unique (so the update is in place). Large parameters are split into
    /// chunks updated on all cores: `body(p, g, states, n)` then runs once per chunk with pointers to its start.
    public func withBuffers(
        _ param: Parameter, _ grad: NDArray, _ names: [String],
        float32 body32: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, [UnsafeMutablePointer<Float>], Int) -> Void,
        float64 body64: (UnsafeMutablePointer<Double>, UnsafePointer<Double>, [UnsafeMutablePointer<Double>], Int) -> Void
    ) {
        var states = names.map { state[$0].take()! }
        defer { for (n, s) in zip(names, states) { state[n] = s } }
        for i in states.indices { states[i].makeUniqueContiguous() }
        let g = grad.contiguous()
        param.data.array.makeUniqueContiguous()
        let n = param.data.array.count
        func run<T: NDFloatingPoint>(_: T.Type, _ body: (UnsafeMutablePointer<T>, UnsafePointer<T>, [UnsafeMutablePointer<T>], Int) -> Void) {
            let p = param.data.array.pointer(T.self), gp = UnsafePointer(g.pointer(T.self)), sp = states.map { $0.pointer(T.self) }
            parallelForRanges(n, work: n, threshold: UpdateRule.parallelElements) { r in body(p + r.lowerBound, gp + r.lowerBound, sp.map { $0 + r.lowerBound }, r.count) }
        }
        switch param.data.array.dtype {
        case .float32: run(Float.self, body32)
        case .float64: run(Double.self, body64)
        default: typeCheckFailure("\(type(of: self)): parameters must be floating-point, got \(param.data.array.dtype)")
        }
    }
}

/// The element loop of an update rule, written once for float32 and float64: a value holding the hyperparameters
/// (as `Double`s, converted with `T(…)` inside) whose `callAsFunction` updates `n` elements of the parameter `p`
/// from the gradient `g` and the state arrays. Run it with ``UpdateRule/withBuffers(_:_:_:_:)``.
///
/// ```swift
/// struct SignSGDKernel: UpdateKernel {
///     let lr: Double
///     func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
///                                            _ states: [UnsafeMutablePointer<T>], _ n: Int) {
///         let r = T(lr)
///         for i in 0..<n { p[i] -= g[i] > 0 ? r : (g[i] < 0 ? -r : 0) }
///     }
/// }
/// ```
public protocol UpdateKernel {
    /// Updates the `n` elements of `p` in place from the gradient `g` and the state arrays `states` (in the order of
    /// the names given to `withBuffers`), all `n` long. Large parameters are split into chunks updated concurrently,
    /// so the kernel must treat each element independently and keep no mutable state of its own.
    func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ states: [UnsafeMutablePointer<T>], _ n: Int)
}

/// The library's update rules, which read nothing but their own parameter, gradient, state and (read-only)
/// hyperparameters, so that an optimizer may update several parameters at once (``UpdateRule/updatesConcurrently``).
protocol LibraryUpdateRule {}
extension SGDRule: LibraryUpdateRule {}
extension MomentumSGDRule: LibraryUpdateRule {}
extension NesterovAGRule: LibraryUpdateRule {}
extension AdamRule: LibraryUpdateRule {}
extension AdaGradRule: LibraryUpdateRule {}
extension AdaDeltaRule: LibraryUpdateRule {}
extension RMSpropRule: LibraryUpdateRule {}
