import Foundation

/// A hook run by an optimizer on each update (Chainer's optimizer hooks, e.g. ``GradientClipping``).
public protocol OptimizerHook {
    /// The default name under which it is added.
    var name: String { get }
    /// Whether it runs before or after the parameters are updated.
    var timing: HookTiming { get }
    /// Runs the hook (typically on every parameter of `optimizer.target`).
    func callAsFunction(_ optimizer: Optimizer)
}

/// Updates a link's parameters from their gradients (Chainer's `GradientMethod`).
///
/// ```swift
/// let optimizer = Adam()
/// optimizer.setup(model)
/// optimizer.addHook(GradientClipping(threshold: 5))
/// optimizer.update { F.softmaxCrossEntropy(model(x), t) }   // forward, clearGrads, backward, update
/// ```
///
/// Each parameter gets an ``UpdateRule`` whose hyperparameters fall back on the optimizer's, so changing
/// `optimizer.lr` changes every parameter's unless a rule overrides it.
open class Optimizer {
    /// The optimizer-wide hyperparameters (the parent of every rule's).
    public let hyperparam: Hyperparameters
    /// The link being optimised.
    public private(set) var target: Link?
    /// The number of updates so far.
    public var t = 0
    /// The number of epochs counted by ``newEpoch()``.
    public var epoch = 0
    private var hooks: [(name: String, hook: OptimizerHook)] = []
    /// The target's parameters as found by ``setup(_:)`` — the ones that have update rules. (As in Chainer,
    /// parameters added to the link later are not updated; call `setup` again to include them.)
    public private(set) var parameters: [(path: String, param: Parameter)] = []
    /// A step run on the gradients at the start of every ``update()``, before missing gradients become zeros and
    /// before the hooks: data-parallel training averages every process's gradients there (CatenaMN's
    /// `createMultiNodeOptimizer` sets it). Returning false skips that update: nothing is changed and `t` stays.
    /// Nil for a single process.
    public var gradientExchange: ((Optimizer) -> Bool)?

    /// An optimizer with these default hyperparameters.
    public init(hyperparameters: [String: Double]) {
        hyperparam = Hyperparameters(parent: nil, hyperparameters)
    }

    /// A new rule for one parameter, inheriting ``Optimizer/hyperparam``.
    open func createUpdateRule() -> UpdateRule {
        fatalError("\(type(of: self)) must override createUpdateRule()")
    }

    /// Starts optimising `link`: every parameter (lazy ones included) gets a fresh update rule, and `t` and `epoch`
    /// restart at 0.
    @discardableResult
    public func setup(_ link: Link) -> Self {
        target = link
        t = 0
        epoch = 0
        parameters = link.namedParams()
        for (_, p) in parameters { p.updateRule = createUpdateRule() }
        return self
    }

    /// One update from the current gradients (Chainer's `update()`): the ``gradientExchange`` runs if set, missing
    /// gradients of initialised parameters become zeros (so momentum and decay still act), the `pre` hooks run, `t`
    /// advances, every parameter is updated in `params()` order, then the `post` hooks run.
    /// - Precondition: ``setup(_:)`` was called.
    public func update() {
        guard target != nil else { typeCheckFailure("\(type(of: self)).update(): call setup(_:) with the link to optimise first") }
        if let exchange = gradientExchange, !exchange(self) { return }
        let params = parameters.map(\.param)
        reallocateClearedGrads(params)
        for entry in hooks where entry.hook.timing == .pre {
            entry.hook(self)
            reallocateClearedGrads(params)
        }
        t += 1
        // The library's rules on parameters too small to split update side by side; the rest one after another.
        var together: [Parameter] = [], alone: [Parameter] = []
        for p in params {
            guard let rule = p.updateRule else { continue }
            if rule.updatesConcurrently && p.isInitialized && p.array.count < UpdateRule.parallelElements { together.append(p) } else { alone.append(p) }
        }
        Optimizer.forEachConcurrently(together) { together[$0].update() }
        for p in alone { p.update() }
        reallocateClearedGrads(params)
        for entry in hooks where entry.hook.timing == .post { entry.hook(self) }
    }

    /// Computes the loss, clears the gradients, backpropagates and updates (Chainer's `update(lossfun, *args)`,
    /// which clears after the forward pass).
    public func update(_ lossFunction: () -> Variable) {
        guard target != nil else { typeCheckFailure("\(type(of: self)).update(_:): call setup(_:) with the link to optimise first") }
        do {
            // The loss (and with it the graph, which holds the parameters' arrays) is dropped before the update,
            // so that the parameters are updated in place rather than copied.
            let loss = lossFunction()
            clearGrads()
            loss.backward()
        }
        update()
    }

    /// Clears the gradients of the optimised parameters (the target's `clearGrads()`, without searching the link
    /// again).
    public func clearGrads() { for (_, p) in parameters { p.clearGrad() } }

    /// Counts an epoch (Chainer's `new_epoch`); updaters call it when their iterator starts a new epoch.
    public func newEpoch() { epoch += 1 }

    /// Runs `body(i)` for each index of `params`, the parameters in contiguous groups of nearly equal size, one per
    /// thread, when they hold ``UpdateRule/parallelElements`` elements or more together (otherwise in order on this
    /// thread). `body` must touch only parameter `i` (and its gradient and rule).
    static func forEachConcurrently(_ params: [Parameter], _ body: (Int) -> Void) {
        let sizes = params.map { $0.isInitialized ? $0.array.count : 0 }
        parallelForEach(weights: sizes, work: sizes.reduce(0, +), threshold: UpdateRule.parallelElements, body)
    }

    private func reallocateClearedGrads(_ params: [Parameter]) {
        for p in params where p.isInitialized && p.grad == nil { p.zeroGrad() }
    }

    // MARK: - Hooks

    /// Adds a hook, run in the order added at its timing.
    /// - Precondition: no hook with that name yet.
    public func addHook(_ hook: OptimizerHook, name: String? = nil) {
        let n = name ?? hook.name
        if hooks.contains(where: { $0.name == n }) { typeCheckFailure("Optimizer.addHook: a hook named '\(n)' already exists") }
        hooks.append((name: n, hook: hook))
    }

    /// Removes the hook with that name.
    public func removeHook(name: String) { hooks.removeAll { $0.name == name } }

    /// The hooks in the order they run at each timing.
    public var hookNames: [String] { hooks.map(\.name) }

    // MARK: - Common hyperparameters

    /// The learning rate (`lr`), for optimizers that have one (``Adam`` maps it to its effective step size).
    open var lr: Double {
        get { hyperparam["lr"] }
        set { hyperparam["lr"] = newValue }
    }
}
