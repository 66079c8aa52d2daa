import Foundation

/// L2 regularisation: `g += rate · p` for every parameter, before the update (Chainer's `WeightDecay`).
public struct WeightDecay: OptimizerHook {
    /// The coefficient of the L2 penalty (`rate · p` is added to each gradient).
    public var rate: Double
    public let name = "WeightDecay"
    public let timing = HookTiming.pre
    /// A weight-decay hook with coefficient `rate`, for ``Optimizer/addHook(_:name:)``.
    public init(rate: Double) { self.rate = rate }
    public func callAsFunction(_ optimizer: Optimizer) {
        for p in optimizer.updatableParameters {
            guard var g = p._grad.take() else { continue }
            g += p.array * rate
            p._grad = g
        }
    }
}

/// L1 regularisation: `g += rate · sign(p)` (Chainer's `Lasso`).
public struct Lasso: OptimizerHook {
    /// The coefficient of the L1 penalty (`rate · sign(p)` is added to each gradient).
    public var rate: Double
    public let name = "Lasso"
    public let timing = HookTiming.pre
    /// A lasso hook with coefficient `rate`.
    public init(rate: Double) { self.rate = rate }
    public func callAsFunction(_ optimizer: Optimizer) {
        for p in optimizer.updatableParameters {
            guard var g = p._grad.take() else { continue }
            g += p.array.sign() * rate
            p._grad = g
        }
    }
}

/// Rescales all gradients together so that their global L2 norm is at most `threshold` (Chainer's
/// `GradientClipping`): with `norm = √(Σ g²)` over every parameter, each gradient is multiplied by
/// `threshold / norm` when that is below 1.
public struct GradientClipping: OptimizerHook {
    /// The largest global L2 norm the gradients may have.
    public var threshold: Double
    public let name = "GradientClipping"
    public let timing = HookTiming.pre
    /// A hook that rescales the gradients whenever their global L2 norm exceeds `threshold`.
    public init(threshold: Double) { self.threshold = threshold }
    public func callAsFunction(_ optimizer: Optimizer) {
        let params = optimizer.parameters.map(\.param).filter(\.isInitialized)
        // Each parameter's sum on its own (several at once), added in the parameters' order.
        var sums = [Double](repeating: 0, count: params.count)
        sums.withUnsafeMutableBufferPointer { s in
            Optimizer.forEachConcurrently(params) { i in if let g = params[i].grad { s[i] = g.sumOfSquares() } }
        }
        let norm = sums.reduce(0, +).squareRoot()
        let rate = threshold / norm
        if !(rate < 1) { return }
        // The scaled gradients' arrays are taken and the old ones given back on this thread (arrays are recycled
        // by the thread that frees them: a worker freeing the gradients the backward pass made here would keep
        // their buffers from this thread, which would then map fresh ones every update); filled side by side.
        var old = params.map(\._grad)
        let scaled = old.map { g in g.map { NDArray(uninitializedShape: $0.shape, dtype: $0.dtype) } }
        for p in params { p._grad = nil }
        Optimizer.forEachConcurrently(params) { i in
            guard let g = old[i], let out = scaled[i] else { return }
            _ = NDArray.arithmetic(g, g.scalarOperand(rate, op: "mul"), .mul, into: out)
        }
        for (p, g) in zip(params, scaled) { p._grad = g }
        old.removeAll()
    }
}

/// Clips every gradient element to `[lowerBound, upperBound]` (Chainer's `GradientHardClipping`).
public struct GradientHardClipping: OptimizerHook {
    /// The interval every gradient element is clipped to: `lowerBound` its smallest value, `upperBound` its largest.
    public var lowerBound: Double, upperBound: Double
    public let name = "GradientHardClipping"
    public let timing = HookTiming.pre
    /// A hook that clips every gradient element to `[lowerBound, upperBound]`.
    public init(lowerBound: Double, upperBound: Double) {
        self.lowerBound = lowerBound
        self.upperBound = upperBound
    }
    public func callAsFunction(_ optimizer: Optimizer) {
        for p in optimizer.updatableParameters {
            if let g = p._grad { p._grad = g.clipped(lowerBound, upperBound) }
        }
    }
}

/// Adds Gaussian noise to every gradient (Chainer's `GradientNoise`): by default with standard deviation
/// `√(eta / (1 + t)^0.55)`, where t is the parameter's update count (0 on the first update, as the hook runs before
/// it advances). Noise is drawn from `rng` (``RandomState/global`` unless given), parameter by parameter in
/// `params()` order.
public struct GradientNoise: OptimizerHook {
    /// The noise scale `η` passed to `noiseScale` (Chainer's default schedule gives variance `η / (1 + t)^0.55`).
    public var eta: Double
    /// The generator the noise is drawn from; `nil` means ``RandomState/global``.
    public var rng: RandomState?
    /// The standard deviation for a parameter whose rule has run `t` times.
    public var noiseScale: (Double, Int) -> Double
    public let name = "GradientNoise"
    public let timing = HookTiming.pre
    /// A gradient-noise hook.
    /// - Parameters:
    ///   - eta: the noise scale `η`.
    ///   - rng: the generator of the noise (``RandomState/global`` when `nil`).
    ///   - noiseScale: the standard deviation for `(eta, t)`, `t` the parameter's update count; by default
    ///     `√(eta / (1 + t)^0.55)`, as in Chainer.
    public init(eta: Double, rng: RandomState? = nil, noiseScale: @escaping (Double, Int) -> Double = { eta, t in (eta / Foundation.pow(1 + Double(t), 0.55)).squareRoot() }) {
        self.eta = eta
        self.rng = rng
        self.noiseScale = noiseScale
    }
    public func callAsFunction(_ optimizer: Optimizer) {
        let r = rng ?? .global
        for p in optimizer.updatableParameters {
            guard var g = p._grad.take() else { continue }
            let std = noiseScale(eta, p.updateRule?.t ?? 0)
            g += r.normal(shape: g.shape, std: std, dtype: g.dtype)
            p._grad = g
        }
    }
}

extension Optimizer {
    /// The parameters a hook acts on: initialised, with an enabled update rule.
    var updatableParameters: [Parameter] {
        parameters.map(\.param).filter { $0.isInitialized && ($0.updateRule?.enabled ?? false) }
    }
}
