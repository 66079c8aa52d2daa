import Foundation

/// Plain stochastic gradient descent: `p -= lr · g` (Chainer's `SGD`, default lr 0.01).
public final class SGD: Optimizer {
    public init(lr: Double = 0.01) { super.init(hyperparameters: ["lr": lr]) }
    public override func createUpdateRule() -> UpdateRule { SGDRule(parent: hyperparam) }
}

/// The rule of ``SGD``.
public final class SGDRule: UpdateRule {
    public override func updateCore(_ param: Parameter, grad: NDArray) {
        let lr = hyperparam["lr"]
        withBuffers(param, grad, [], float32: { p, g, _, n in
            let r = Float(lr)
            for i in 0..<n { p[i] -= r * g[i] }
        }, float64: { p, g, _, n in
            for i in 0..<n { p[i] -= lr * g[i] }
        })
    }
}

/// SGD with momentum: `v = μv − lr·g; p += v` (Chainer's `MomentumSGD`, defaults lr 0.01, momentum 0.9; state `v`).
public final class MomentumSGD: Optimizer {
    public init(lr: Double = 0.01, momentum: Double = 0.9) { super.init(hyperparameters: ["lr": lr, "momentum": momentum]) }
    public override func createUpdateRule() -> UpdateRule { MomentumSGDRule(parent: hyperparam) }
    /// The momentum coefficient μ.
    public var momentum: Double {
        get { hyperparam["momentum"] }
        set { hyperparam["momentum"] = newValue }
    }
}

/// The rule of ``MomentumSGD``.
public final class MomentumSGDRule: UpdateRule {
    public override var stateNames: [String] { ["v"] }
    public override func updateCore(_ param: Parameter, grad: NDArray) {
        let lr = hyperparam["lr"], mu = hyperparam["momentum"]
        withBuffers(param, grad, ["v"], float32: { p, g, s, n in
            let v = s[0], r = Float(lr), m = Float(mu)
            for i in 0..<n {
                v[i] = m * v[i] - r * g[i]
                p[i] += v[i]
            }
        }, float64: { p, g, s, n in
            let v = s[0]
            for i in 0..<n {
                v[i] = mu * v[i] - lr * g[i]
                p[i] += v[i]
            }
        })
    }
}

/// Nesterov's accelerated gradient (Chainer's `NesterovAG`, defaults lr 0.01, momentum 0.9; state `v`):
/// `v = μv − lr·g; p += μ²v − (1 + μ)·lr·g`.
public final class NesterovAG: Optimizer {
    public init(lr: Double = 0.01, momentum: Double = 0.9) { super.init(hyperparameters: ["lr": lr, "momentum": momentum]) }
    public override func createUpdateRule() -> UpdateRule { NesterovAGRule(parent: hyperparam) }
    /// The momentum coefficient μ.
    public var momentum: Double {
        get { hyperparam["momentum"] }
        set { hyperparam["momentum"] = newValue }
    }
}

/// The rule of ``NesterovAG``.
public final class NesterovAGRule: UpdateRule {
    public override var stateNames: [String] { ["v"] }
    public override func updateCore(_ param: Parameter, grad: NDArray) {
        let lr = hyperparam["lr"], mu = hyperparam["momentum"]
        withBuffers(param, grad, ["v"], float32: { p, g, s, n in
            let v = s[0], r = Float(lr), m = Float(mu)
            for i in 0..<n {
                v[i] = m * v[i] - r * g[i]
                p[i] += m * m * v[i] - (1 + m) * r * g[i]
            }
        }, float64: { p, g, s, n in
            let v = s[0]
            for i in 0..<n {
                v[i] = mu * v[i] - lr * g[i]
                p[i] += mu * mu * v[i] - (1 + mu) * lr * g[i]
            }
        })
    }
}
