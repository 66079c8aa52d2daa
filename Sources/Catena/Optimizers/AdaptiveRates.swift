import Foundation

/// AdaGrad: `h += g²; p -= lr·g / (√h + eps)` (Chainer's `AdaGrad`, defaults lr 0.001, eps 1e-8; state `h`).
public final class AdaGrad: Optimizer {
    /// An AdaGrad optimizer with learning rate `lr` (0.001) and `eps` (1e-8) added to `√h`; both are hyperparameters
    /// (`hyperparam["lr"]`, `hyperparam["eps"]`) that schedules may change.
    public init(lr: Double = 0.001, eps: Double = 1e-8) { super.init(hyperparameters: ["lr": lr, "eps": eps]) }
    public override func createUpdateRule() -> UpdateRule { AdaGradRule(parent: hyperparam) }
}

/// The rule of ``AdaGrad``.
public final class AdaGradRule: UpdateRule {
    public override var stateNames: [String] { ["h"] }
    public override func updateCore(_ param: Parameter, grad: NDArray) {
        withBuffers(param, grad, ["h"], Kernel(lr: hyperparam["lr"], eps: hyperparam["eps"]))
    }

    struct Kernel: UpdateKernel {
        let lr: Double, eps: Double
        func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ s: [UnsafeMutablePointer<T>], _ n: Int) {
            let h = s[0], r = T(lr), e = T(eps)
            for i in 0..<n {
                h[i] += g[i] * g[i]
                p[i] -= r * g[i] / (h[i].squareRoot() + e)
            }
        }
    }
}

/// AdaDelta (Chainer's `AdaDelta`, defaults rho 0.95, eps 1e-6, no learning rate; state `msg`, `msdx`):
/// `msg = ρ·msg + (1−ρ)g²; dx = √((msdx + eps)/(msg + eps))·g; msdx = ρ·msdx + (1−ρ)dx²; p −= dx`.
public final class AdaDelta: Optimizer {
    /// An AdaDelta optimizer with decay rate `rho` (0.95) of both running means and `eps` (1e-6) inside the square
    /// roots; both are hyperparameters (`hyperparam["rho"]`, `hyperparam["eps"]`).
    public init(rho: Double = 0.95, eps: Double = 1e-6) { super.init(hyperparameters: ["rho": rho, "eps": eps]) }
    public override func createUpdateRule() -> UpdateRule { AdaDeltaRule(parent: hyperparam) }
}

/// The rule of ``AdaDelta``.
public final class AdaDeltaRule: UpdateRule {
    public override var stateNames: [String] { ["msg", "msdx"] }
    public override func updateCore(_ param: Parameter, grad: NDArray) {
        withBuffers(param, grad, ["msg", "msdx"], Kernel(rho: hyperparam["rho"], eps: hyperparam["eps"]))
    }

    struct Kernel: UpdateKernel {
        let rho: Double, eps: Double
        func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ s: [UnsafeMutablePointer<T>], _ n: Int) {
            let msg = s[0], msdx = s[1], r = T(rho), e = T(eps)
            for i in 0..<n {
                msg[i] = r * msg[i] + (1 - r) * g[i] * g[i]
                let dx = ((msdx[i] + e) / (msg[i] + e)).squareRoot() * g[i]
                msdx[i] = r * msdx[i] + (1 - r) * dx * dx
                p[i] -= dx
            }
        }
    }
}

/// RMSprop: `ms = α·ms + (1−α)g²; p −= lr·g / (√ms + eps)` (or `/ √(ms + eps)` with `epsInsideSqrt`)
/// (Chainer's `RMSprop`, defaults lr 0.01, alpha 0.99, eps 1e-8; state `ms`).
public final class RMSprop: Optimizer {
    /// An RMSprop optimizer.
    /// - Parameters:
    ///   - lr: the learning rate (0.01).
    ///   - alpha: the decay rate of the running mean of squared gradients (0.99).
    ///   - eps: the constant added to the root, or with `epsInsideSqrt` under it (1e-8); a value that rounds to 0
    ///     in float32 stops the program at the first update of a float32 parameter.
    ///   - epsInsideSqrt: divide by `√(ms + eps)` rather than `√ms + eps` (Chainer's `eps_inside_sqrt`).
    public init(lr: Double = 0.01, alpha: Double = 0.99, eps: Double = 1e-8, epsInsideSqrt: Bool = false) {
        super.init(hyperparameters: ["lr": lr, "alpha": alpha, "eps": eps, "eps_inside_sqrt": epsInsideSqrt ? 1 : 0])
    }
    public override func createUpdateRule() -> UpdateRule { RMSpropRule(parent: hyperparam) }
}

/// The rule of ``RMSprop``.
public final class RMSpropRule: UpdateRule {
    public override var stateNames: [String] { ["ms"] }
    public override func updateCore(_ param: Parameter, grad: NDArray) {
        let lr = hyperparam["lr"], alpha = hyperparam["alpha"], eps = hyperparam["eps"]
        let inside = hyperparam["eps_inside_sqrt"] != 0
        if param.dtype == .float32 && Float(eps) == 0 && eps != 0 {
            typeCheckFailure("RMSprop: eps (\(eps)) is too small for float32 parameters")
        }
        withBuffers(param, grad, ["ms"], Kernel(lr: lr, alpha: alpha, eps: eps, inside: inside))
    }

    struct Kernel: UpdateKernel {
        let lr: Double, alpha: Double, eps: Double, inside: Bool
        func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ s: [UnsafeMutablePointer<T>], _ n: Int) {
            let ms = s[0], r = T(lr), a = T(alpha), e = T(eps)
            for i in 0..<n {
                ms[i] = a * ms[i] + (1 - a) * g[i] * g[i]
                p[i] -= r * g[i] / (inside ? (ms[i] + e).squareRoot() : ms[i].squareRoot() + e)
            }
        }
    }
}
