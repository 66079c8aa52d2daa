import Foundation

// relu, leakyRelu, sigmoid, tanh, softplus: element-wise activations. Each backward is one formula over
// GradientValue, run on arrays (a fused kernel) or on variables (recorded, for double backprop).

final class ReLU: UnaryFunction {
    @exclusivity(unchecked) private var y: NDArray!
    override func forward(_ input: consuming NDArray) -> NDArray {
        y = input.relu()
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    /// gy where y > 0. (Not twice differentiable at 0; its second derivative is 0 elsewhere.)
    private func formula<V: GradientValue>(_ g: V) -> V { V.reluGrad(g, y) }
}

final class LeakyReLU: UnaryFunction {
    private let slope: Double
    @exclusivity(unchecked) private var x: NDArray!
    init(slope: Double) { self.slope = slope }
    override func forward(_ input: consuming NDArray) -> NDArray {
        x = input
        return NDArray.map(x, LeakyKernel(slope: slope), op: "leaky_relu")
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    /// gy where x > 0, slope·gy elsewhere (the slope at 0, as Chainer).
    private func formula<V: GradientValue>(_ g: V) -> V { V.maskedGrad(g, x .> 0, otherwise: slope) }
}

private struct LeakyKernel: UnaryFloatKernel {
    let slope: Double
    func callAsFunction<T: NDFloatingPoint>(_ x: T) -> T { x < 0 ? x * T(slope) : x }
}

final class Sigmoid: UnaryFunction {
    @exclusivity(unchecked) private var y: NDArray!
    override func forward(_ input: consuming NDArray) -> NDArray {
        y = input.sigmoid()
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g, y) }
    override func backward(_ g: Recorded) -> Recorded { formula(g, outputVariable(y)) }
    /// gy · y · (1 − y).
    private func formula<V: GradientValue>(_ g: V, _ y: V) -> V { V.sigmoidGrad(g, y) }
}

final class Tanh: UnaryFunction {
    @exclusivity(unchecked) private var y: NDArray!
    override func forward(_ input: consuming NDArray) -> NDArray {
        y = input.tanh()
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g, y) }
    override func backward(_ g: Recorded) -> Recorded { formula(g, outputVariable(y)) }
    /// gy · (1 − y²).
    private func formula<V: GradientValue>(_ g: V, _ y: V) -> V { V.tanhGrad(g, y) }
}

final class Softplus: UnaryFunction {
    private let beta: Double
    @exclusivity(unchecked) private var x: NDArray!
    init(beta: Double) { self.beta = beta }
    override func forward(_ input: consuming NDArray) -> NDArray {
        x = input
        return NDArray.map(x, SoftplusKernel(beta: beta), op: "softplus")
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g, x) }
    override func backward(_ g: Recorded) -> Recorded { formula(g, inputVariable) }
    /// gy · σ(βx).
    private func formula<V: GradientValue>(_ g: V, _ x: V) -> V { g * (x * beta).sigmoidValue() }
}

private struct SoftplusKernel: UnaryFloatKernel {
    let beta: Double
    // log(1 + e^(βx)) / β = max(βx, 0) + log1p(e^-|βx|), divided by β; no overflow for large |x|.
    func callAsFunction<T: NDFloatingPoint>(_ x: T) -> T {
        let bx = x * T(beta)
        return ((bx > 0 ? bx : 0) + T._log1p(T._exp(-Swift.abs(bx)))) / T(beta)
    }
}

extension F {
    /// `max(x, 0)`; its gradient is 0 where the output is 0.
    public static func relu(_ x: Variable) -> Variable { ReLU().call(x) }
    /// `x` where `x > 0`, `slope * x` elsewhere (Chainer's default slope 0.2; the gradient at 0 is `slope`).
    public static func leakyRelu(_ x: Variable, slope: Double = 0.2) -> Variable { LeakyReLU(slope: slope).call(x) }
    /// The logistic sigmoid `1 / (1 + e^-x)`.
    public static func sigmoid(_ x: Variable) -> Variable { Sigmoid().call(x) }
    /// The hyperbolic tangent.
    public static func tanh(_ x: Variable) -> Variable { Tanh().call(x) }
    /// `log(1 + e^(βx)) / β`, a smooth ReLU, computed without overflow.
    public static func softplus(_ x: Variable, beta: Double = 1) -> Variable { Softplus(beta: beta).call(x) }
}
