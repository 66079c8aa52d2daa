import Foundation

/// Plain stochastic gradient descent: `p -= lr · g` (Chainer's `SGD`, default lr 0.01).
public final class SGD: Optimizer {
    /// An SGD optimizer with learning rate `lr` (0.01), the hyperparameter `hyperparam["lr"]`.
    public init(lr: Double = 0.01) { super.init(hyperparameters: ["lr": lr]) }
    public override func createUpdateRule() -> UpdateRule { SGDRule(parent: hyperparam) }
}

/// The rule of ``SGD``.
public final class SGDRule: UpdateRule {
    public override func updateCore(_ param: Parameter, grad: NDArray) {
        withBuffers(param, grad, [], Kernel(lr: hyperparam["lr"]))
    }

    struct Kernel: UpdateKernel {
        let lr: Double
        func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ s: [UnsafeMutablePointer<T>], _ n: Int) {
            let r = T(lr)
            for i in 0..<n { p[i] -= r * g[i] }
        }
    }
}

/// SGD with momentum: `v = μv − lr·g; p += v` (Chainer's `MomentumSGD`, defaults lr 0.01, momentum 0.9; state `v`).
public final class MomentumSGD: Optimizer {
    /// A momentum SGD optimizer with learning rate `lr` (0.01) and momentum coefficient `momentum` (0.9).
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
        withBuffers(param, grad, ["v"], Kernel(lr: hyperparam["lr"], mu: hyperparam["momentum"]))
    }

    struct Kernel: UpdateKernel {
        let lr: Double, mu: Double
        func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ s: [UnsafeMutablePointer<T>], _ n: Int) {
            let v = s[0], r = T(lr), m = T(mu)
            for i in 0..<n {
                v[i] = m * v[i] - r * g[i]
                p[i] += v[i]
            }
        }
    }
}

/// Nesterov's accelerated gradient (Chainer's `NesterovAG`, defaults lr 0.01, momentum 0.9; state `v`):
/// `v = μv − lr·g; p += μ²v − (1 + μ)·lr·g`.
public final class NesterovAG: Optimizer {
    /// A Nesterov accelerated gradient optimizer with learning rate `lr` (0.01) and momentum coefficient `momentum`
    /// (0.9).
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
        withBuffers(param, grad, ["v"], Kernel(lr: hyperparam["lr"], mu: hyperparam["momentum"]))
    }

    struct Kernel: UpdateKernel {
        let lr: Double, mu: Double
        func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ s: [UnsafeMutablePointer<T>], _ n: Int) {
            let v = s[0], r = T(lr), m = T(mu)
            for i in 0..<n {
                v[i] = m * v[i] - r * g[i]
                p[i] += m * m * v[i] - (1 + m) * r * g[i]
            }
        }
    }
}
