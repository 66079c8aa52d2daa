import Foundation

// sigmoidCrossEntropy, meanSquaredError, meanAbsoluteError, huberLoss.

final class SigmoidCrossEntropy: BinaryFunction {
    private let normalize: Bool
    private let reduce: LossReduction
    @exclusivity(unchecked) private var x: NDArray!, t: NDArray!, mask: NDArray!, coeff = 0.0
    static let ignoreLabel = -1
    init(normalize: Bool, reduce: LossReduction) {
        self.normalize = normalize
        self.reduce = reduce
    }
    override func forward(_ xIn: consuming NDArray, _ tIn: consuming NDArray) -> NDArray {
        x = xIn
        if !x.dtype.isFloatingPoint { typeCheckFailure("sigmoid_cross_entropy: x must be floating-point, got \(x.dtype)") }
        if !tIn.dtype.isInteger { typeCheckFailure("sigmoid_cross_entropy: t must hold integer labels, got \(tIn.dtype)") }
        if tIn.shape != x.shape { typeCheckFailure("sigmoid_cross_entropy: t.shape \(tIn.shape) must equal x.shape \(x.shape)") }
        mask = (tIn .!= Double(SigmoidCrossEntropy.ignoreLabel)).astype(x.dtype)
        t = tIn.astype(x.dtype)
        let count = normalize ? Int(mask.sum().item()) : (x.ndim > 0 ? x.shape[0] : 1)
        coeff = 1 / Double(Swift.max(count, 1))
        // −(x·(t − [x ≥ 0]) − log(1 + e^−|x|)), stable for any x
        let loss = NDArray.map(x, t, mask, SigmoidCELoss(), op: "sigmoid_cross_entropy")
        return reduce == .none ? loss : loss.sum() * coeff
    }
    override func backward(_ gy: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { (needA ? formula(gy, x) : nil, nil) }
    override func backward(_ gy: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) { (needA ? formula(gy, inputVariables.0) : nil, nil) }
    /// m · (σ(x) − t) · gy (times the normaliser for a mean).
    private func formula<V: GradientValue>(_ gy: V, _ x: V) -> V {
        (x.sigmoidValue() - V.constantValue(t)) * V.constantValue(mask) * (reduce == .none ? gy : gy * coeff)
    }
}

private struct SigmoidCELoss: TernaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ x: T, _ t: T, _ m: T) -> T {
        -m * (x * (t - (x >= 0 ? 1 : 0)) - T._log1p(T._exp(-Swift.abs(x))))
    }
}

/// mean of (x0 − x1)² or |x0 − x1| over all elements.
final class MeanError: BinaryFunction {
    private let squared: Bool
    @exclusivity(unchecked) private var diff: NDArray!
    init(squared: Bool) { self.squared = squared }
    override var label: String { squared ? "MeanSquaredError" : "MeanAbsoluteError" }
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        let name = squared ? "mean_squared_error" : "mean_absolute_error"
        if a.shape != b.shape { typeCheckFailure("\(name): x0.shape \(a.shape) must equal x1.shape \(b.shape)") }
        if !a.dtype.isFloatingPoint { typeCheckFailure("\(name): expected floating-point inputs, got \(a.dtype)") }
        diff = a - b
        let e = squared ? diff.squared() : diff.abs()
        return e.sum() / Double(Swift.max(diff.count, 1))
    }
    override func backward(_ gy: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(gy, diff, needA, needB) }
    override func backward(_ gy: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(gy, inputVariables.0 - inputVariables.1, needA, needB)
    }
    /// ∂/∂x0 = 2·diff/n (squared) or sign(diff)/n, ∂/∂x1 its negative.
    private func formula<V: GradientValue>(_ gy: V, _ diff: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        let scale = gy * (1 / Double(Swift.max(diff.values.count, 1)))
        let g0 = (squared ? diff * 2 : V.constantValue(diff.values.sign())) * scale
        return (needA ? g0 : nil, needB ? -g0 : nil)
    }
}

/// How ``F/huberLoss(_:_:delta:reduce:)`` reduces.
public enum HuberReduction: Sendable {
    /// Summed over axis 1 (Chainer's default `sum_along_second_axis`): shape `x.shape` without axis 1.
    case sumAlongSecondAxis
    /// One loss per element.
    case none
}

final class HuberLoss: BinaryFunction {
    private let delta: Double
    private let reduce: HuberReduction
    @exclusivity(unchecked) private var diff: NDArray!
    init(delta: Double, reduce: HuberReduction) {
        self.delta = delta
        self.reduce = reduce
    }
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        if a.shape != b.shape { typeCheckFailure("huber_loss: x.shape \(a.shape) must equal t.shape \(b.shape)") }
        if reduce == .sumAlongSecondAxis && a.ndim < 2 { typeCheckFailure("huber_loss: summing along axis 1 needs at least 2 axes, got shape \(a.shape)") }
        diff = a - b
        let e = NDArray.map(diff, HuberKernel(delta: delta), op: "huber_loss")
        return reduce == .none ? e : e.sum(axis: 1)
    }
    override func backward(_ gy: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(gy, diff, needA, needB) }
    override func backward(_ gy: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(gy, inputVariables.0 - inputVariables.1, needA, needB)
    }
    /// ∂/∂x0 = clip(diff, −δ, δ), ∂/∂x1 its negative.
    private func formula<V: GradientValue>(_ gy: V, _ diff: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        var expanded = gy.shape
        if reduce != .none { expanded.insert(1, at: 1) }
        let g0 = diff.clippedValue(-delta, delta) * gy.reshapedTo(expanded)
        return (needA ? g0 : nil, needB ? -g0 : nil)
    }
}

private struct HuberKernel: UnaryFloatKernel {
    let delta: Double
    func callAsFunction<T: NDFloatingPoint>(_ d: T) -> T {
        let a = Swift.abs(d), dl = T(delta)
        return a <= dl ? d * d / 2 : dl * (a - dl / 2)
    }
}

extension F {
    /// The sigmoid cross entropy of scores `x` against 0/1 labels `t` of the same shape (labels −1 are ignored);
    /// the mean divides by the number of labels counted (`normalize`) or by N.
    public static func sigmoidCrossEntropy(_ x: Variable, _ t: Variable, normalize: Bool = true, reduce: LossReduction = .mean) -> Variable {
        SigmoidCrossEntropy(normalize: normalize, reduce: reduce).call(x, t)
    }
    /// The mean of `(x0 − x1)²` over all elements.
    public static func meanSquaredError(_ x0: Variable, _ x1: Variable) -> Variable { MeanError(squared: true).call(x0, x1) }
    /// The mean of `|x0 − x1|` over all elements (gradient 0 where they are equal).
    public static func meanAbsoluteError(_ x0: Variable, _ x1: Variable) -> Variable { MeanError(squared: false).call(x0, x1) }
    /// The Huber loss: `d²/2` where `|d| ≤ delta`, `delta·(|d| − delta/2)` elsewhere, with `d = x − t`; by default
    /// summed over axis 1, as Chainer's (so the result is not a scalar). `delta` has no default, as in Chainer.
    public static func huberLoss(_ x: Variable, _ t: Variable, delta: Double, reduce: HuberReduction = .sumAlongSecondAxis) -> Variable {
        HuberLoss(delta: delta, reduce: reduce).call(x, t)
    }
}
