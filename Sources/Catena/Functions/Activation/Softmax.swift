import Foundation

// softmax, logSoftmax and logSumExp along an axis, computed stably (the maximum is subtracted first).

final class Softmax: UnaryFunction {
    private let axis: Int
    @exclusivity(unchecked) private var y = NDArray.zeros([])
    init(axis: Int) { self.axis = axis }
    override func forward(_ input: NDArray) -> NDArray {
        let x = input
        let ax = x.normalizedAxis(axis, op: "softmax")
        let e = (x - x.max(axis: ax, keepDims: true)).exp()
        y = e / e.sum(axis: ax, keepDims: true)
        return y
    }
    override func backward(_ g: NDArray) -> NDArray {
        // gx = y · (gy − Σ gy·y)
        let gyy = g * y
        return gyy - y * gyy.sum(axis: y.normalizedAxis(axis, op: "softmax"), keepDims: true)
    }
}

final class LogSoftmax: UnaryFunction {
    private let axis: Int
    @exclusivity(unchecked) private var y = NDArray.zeros([])
    init(axis: Int) { self.axis = axis }
    override func forward(_ input: NDArray) -> NDArray {
        let x = input
        y = x - x.logSumExp(axis: x.normalizedAxis(axis, op: "log_softmax"), keepDims: true)
        return y
    }
    override func backward(_ g: NDArray) -> NDArray {
        // gx = gy − softmax · Σ gy
        return g - y.exp() * g.sum(axis: y.normalizedAxis(axis, op: "log_softmax"), keepDims: true)
    }
}

final class LogSumExp: UnaryFunction {
    private let axes: [Int]?
    @exclusivity(unchecked) private var x = NDArray.zeros([]), y = NDArray.zeros([])
    init(axes: [Int]?) { self.axes = axes }
    override func forward(_ input: NDArray) -> NDArray {
        x = input
        y = x.logSumExp(axes: axes.map { x.reductionAxes($0, op: "logsumexp") }, keepDims: true)
        let all = x.reductionAxes(axes, op: "logsumexp")
        return y.squeezed(axes: all)
    }
    override func backward(_ g: NDArray) -> NDArray {
        // d/dx log Σ e^x = e^(x − y)
        g.reshaped(y.shape) * (x - y).exp()
    }
}

extension F {
    /// `e^x / Σ e^x` along `axis` (Chainer's default axis 1).
    public static func softmax(_ x: Variable, axis: Int = 1) -> Variable { Softmax(axis: axis).call(x) }
    /// `log softmax(x)` along `axis`, computed directly for stability.
    public static func logSoftmax(_ x: Variable, axis: Int = 1) -> Variable { LogSoftmax(axis: axis).call(x) }
    /// `log Σ e^x` over the given axes (all when nil), computed stably.
    public static func logSumExp(_ x: Variable, axes: [Int]? = nil) -> Variable { LogSumExp(axes: axes).call(x) }
    /// `log Σ e^x` over one axis.
    public static func logSumExp(_ x: Variable, axis: Int) -> Variable { LogSumExp(axes: [axis]).call(x) }
}
