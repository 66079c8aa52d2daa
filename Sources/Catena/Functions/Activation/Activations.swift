import Foundation

// relu, leakyRelu, sigmoid, tanh, softplus: element-wise activations. Backward formulas are single fused loops.

final class ReLU: UnaryFunction {
    @exclusivity(unchecked) private var y = NDArray.zeros([])
    override func forward(_ input: NDArray) -> NDArray {
        y = input.relu()
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { NDArray.map(g, y, ReLUGrad(), op: "relu") }
}

private struct ReLUGrad: BinaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ y: T) -> T { y > 0 ? g : 0 }
}

final class LeakyReLU: UnaryFunction {
    private let slope: Double
    @exclusivity(unchecked) private var x = NDArray.zeros([])
    init(slope: Double) { self.slope = slope }
    override func forward(_ input: NDArray) -> NDArray {
        x = input
        return NDArray.map(x, LeakyKernel(slope: slope), op: "leaky_relu")
    }
    override func backward(_ g: NDArray) -> NDArray {
        NDArray.map(g, x, LeakyGrad(slope: slope), op: "leaky_relu")
    }
}

private struct LeakyKernel: UnaryFloatKernel {
    let slope: Double
    func callAsFunction<T: NDFloatingPoint>(_ x: T) -> T { x < 0 ? x * T(slope) : x }
}

private struct LeakyGrad: BinaryFloatKernel {
    let slope: Double
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ x: T) -> T { x <= 0 ? g * T(slope) : g }  // slope at 0, as Chainer
}

final class Sigmoid: UnaryFunction {
    @exclusivity(unchecked) private var y = NDArray.zeros([])
    override func forward(_ input: NDArray) -> NDArray {
        y = input.sigmoid()
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { NDArray.map(g, y, SigmoidGrad(), op: "sigmoid") }
}

struct SigmoidGrad: BinaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ y: T) -> T { g * y * (1 - y) }
}

final class Tanh: UnaryFunction {
    @exclusivity(unchecked) private var y = NDArray.zeros([])
    override func forward(_ input: NDArray) -> NDArray {
        y = input.tanh()
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { NDArray.map(g, y, TanhGrad(), op: "tanh") }
}

struct TanhGrad: BinaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ y: T) -> T { g * (1 - y * y) }
}

final class Softplus: UnaryFunction {
    private let beta: Double
    @exclusivity(unchecked) private var x = NDArray.zeros([])
    init(beta: Double) { self.beta = beta }
    override func forward(_ input: NDArray) -> NDArray {
        x = input
        return NDArray.map(x, SoftplusKernel(beta: beta), op: "softplus")
    }
    override func backward(_ g: NDArray) -> NDArray {
        NDArray.map(g, x, SoftplusGrad(beta: beta), op: "softplus")
    }
}

private struct SoftplusKernel: UnaryFloatKernel {
    let beta: Double
    // log(1 + e^(βx)) / β = max(βx, 0) + log1p(e^-|βx|), divided by β; no overflow for large |x|.
    func callAsFunction<T: NDFloatingPoint>(_ x: T) -> T {
        let bx = x * T(beta)
        return ((bx > 0 ? bx : 0) + T._log1p(T._exp(-Swift.abs(bx)))) / T(beta)
    }
}

private struct SoftplusGrad: BinaryFloatKernel {
    let beta: Double
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ x: T) -> T {
        let bx = x * T(beta)
        let s: T = bx >= 0 ? 1 / (1 + T._exp(-bx)) : T._exp(bx) / (1 + T._exp(bx))
        return g * s
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
