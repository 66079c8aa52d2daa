import CCatenaKernels
import Foundation

/// Adam, with AMSGrad and AdamW's decoupled weight decay as options (Chainer's `Adam`; defaults alpha 0.001,
/// beta1 0.9, beta2 0.999, eps 1e-8, eta 1, weightDecayRate 0; state `m`, `v`, and `vhat` with AMSGrad).
///
/// As in Chainer, the bias correction is folded into the step size and `eps` is added to the uncorrected `√v`:
/// `m += (1−β1)(g − m)`, `v += (1−β2)(g² − v)`, `v̂ = amsgrad ? max(v̂, v) : v`,
/// `p = (1 − η·wd)·p − η·αₜ·m / (√v̂ + eps)` with `αₜ = α·√(1−β2ᵗ)/(1−β1ᵗ)` and t the rule's step count.
public final class Adam: Optimizer {
    /// An Adam optimizer; every argument is a hyperparameter (`hyperparam["alpha"]`, …) that schedules may change.
    /// - Parameters:
    ///   - alpha: the base step size α (0.001).
    ///   - beta1: the decay rate of the first moment `m` (0.9).
    ///   - beta2: the decay rate of the second moment `v` (0.999).
    ///   - eps: the constant added to `√v̂` (1e-8).
    ///   - eta: the schedule multiplier η of the step and the weight decay (1).
    ///   - weightDecayRate: AdamW's decoupled weight decay rate (0: none).
    ///   - amsgrad: use AMSGrad's running maximum `v̂` of `v` (off).
    public init(alpha: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, eta: Double = 1,
                weightDecayRate: Double = 0, amsgrad: Bool = false) {
        super.init(hyperparameters: ["alpha": alpha, "beta1": beta1, "beta2": beta2, "eps": eps, "eta": eta,
                                     "weight_decay_rate": weightDecayRate, "amsgrad": amsgrad ? 1 : 0])
    }
    public override func createUpdateRule() -> UpdateRule { AdamRule(parent: hyperparam) }

    /// The base step size α.
    public var alpha: Double {
        get { hyperparam["alpha"] }
        set { hyperparam["alpha"] = newValue }
    }

    /// The schedule multiplier η (scales both the step and the weight decay).
    public var eta: Double {
        get { hyperparam["eta"] }
        set { hyperparam["eta"] = newValue }
    }

    /// The effective step size `αₜ = α·√(1−β2ᵗ)/(1−β1ᵗ)` at the optimizer's step count (α before the first update).
    public var alphaT: Double { AdamRule.alphaT(hyperparam, t: t) }

    /// For Adam, `lr` reads the effective step size ``alphaT`` (as Chainer's) and writes α.
    public override var lr: Double {
        get { alphaT }
        set { alpha = newValue }
    }
}

/// AdamW: ``Adam`` with a decoupled weight decay rate (Chainer's `AdamW`).
public func AdamW(alpha: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, eta: Double = 1,
                  weightDecayRate: Double) -> Adam {
    Adam(alpha: alpha, beta1: beta1, beta2: beta2, eps: eps, eta: eta, weightDecayRate: weightDecayRate)
}

/// The rule of ``Adam``.
public final class AdamRule: UpdateRule {
    public override var stateNames: [String] { hyperparam["amsgrad"] != 0 ? ["m", "v", "vhat"] : ["m", "v"] }

    /// The element loop: the kernel library's vectorised loop for float32 (the same operations, each rounded on its
    /// own), a Swift loop for float64 (written separately for AMSGrad).
    @inline(__always)
    static func kernel<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ m: UnsafeMutablePointer<T>,
                                           _ v: UnsafeMutablePointer<T>, _ vhat: UnsafeMutablePointer<T>?, _ n: Int,
                                           beta1: T, beta2: T, eps: T, decay: T, step: T) {
        let c1 = 1 - beta1, c2 = 1 - beta2
        if T.self == Float.self {
            func f(_ x: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self) }
            func f(_ x: T) -> Float { unsafeBitCast(x, to: Float.self) }
            catena_adam_f32(f(p), UnsafeRawPointer(g).assumingMemoryBound(to: Float.self), f(m), f(v), vhat.map(f), n, f(c1), f(c2), f(eps),
                            f(decay), f(step))
            return
        }
        if let vh = vhat {
            for i in 0..<n {
                let gi = g[i]
                let mi = m[i] + c1 * (gi - m[i]), vi = v[i] + c2 * (gi * gi - v[i])
                let h = vi > vh[i] ? vi : vh[i]
                m[i] = mi
                v[i] = vi
                vh[i] = h
                p[i] = decay * p[i] - step * mi / (h.squareRoot() + eps)
            }
        } else {
            for i in 0..<n {
                let gi = g[i]
                let mi = m[i] + c1 * (gi - m[i]), vi = v[i] + c2 * (gi * gi - v[i])
                m[i] = mi
                v[i] = vi
                p[i] = decay * p[i] - step * mi / (vi.squareRoot() + eps)
            }
        }
    }

    struct Kernel: UpdateKernel {
        let beta1: Double, beta2: Double, eps: Double, decay: Double, step: Double, amsgrad: Bool
        func callAsFunction<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ s: [UnsafeMutablePointer<T>], _ n: Int) {
            AdamRule.kernel(p, g, s[0], s[1], amsgrad ? s[2] : nil, n, beta1: T(beta1), beta2: T(beta2), eps: T(eps), decay: T(decay), step: T(step))
        }
    }

    static func alphaT(_ h: Hyperparameters, t: Int) -> Double {
        if t == 0 { return h["alpha"] }
        let b1 = h["beta1"], b2 = h["beta2"]
        return h["alpha"] * (1 - Foundation.pow(b2, Double(t))).squareRoot() / (1 - Foundation.pow(b1, Double(t)))
    }

    public override func updateCore(_ param: Parameter, grad: NDArray) {
        let b1 = hyperparam["beta1"], b2 = hyperparam["beta2"], eps = hyperparam["eps"], eta = hyperparam["eta"]
        let wd = hyperparam["weight_decay_rate"], ams = hyperparam["amsgrad"] != 0
        let at = AdamRule.alphaT(hyperparam, t: t)
        withBuffers(param, grad, stateNames, Kernel(beta1: b1, beta2: b2, eps: eps, decay: 1 - eta * wd, step: eta * at, amsgrad: ams))
    }
}
