import Foundation

// softmax, logSoftmax and logSumExp along an axis, computed stably (the maximum is subtracted first).

final class Softmax: UnaryFunction {
    private let axis: Int
    @exclusivity(unchecked) private var y: NDArray!
    init(axis: Int) { self.axis = axis }
    override func forward(_ input: consuming NDArray) -> NDArray {
        let x = input
        let ax = x.normalizedAxis(axis, op: "softmax")
        let e = (x - x.max(axis: ax, keepDims: true)).exp()
        y = e / e.sum(axis: ax, keepDims: true)
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g, y) }
    override func backward(_ g: Recorded) -> Recorded { formula(g, outputVariable(y)) }
    /// gx = y · (gy − Σ gy·y).
    private func formula<V: GradientValue>(_ g: V, _ y: V) -> V {
        let gyy = g * y
        return gyy - y * gyy.summed(axes: [y.values.normalizedAxis(axis, op: "softmax")], keepDims: true)
    }
}

final class LogSoftmax: UnaryFunction {
    private let axis: Int
    @exclusivity(unchecked) private var y: NDArray!
    init(axis: Int) { self.axis = axis }
    override func forward(_ input: consuming NDArray) -> NDArray {
        let x = input
        y = x - x.logSumExp(axis: x.normalizedAxis(axis, op: "log_softmax"), keepDims: true)
        return y
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g, y) }
    override func backward(_ g: Recorded) -> Recorded { formula(g, outputVariable(y)) }
    /// gx = gy − softmax · Σ gy.
    private func formula<V: GradientValue>(_ g: V, _ y: V) -> V {
        g - y.expValue() * g.summed(axes: [y.values.normalizedAxis(axis, op: "log_softmax")], keepDims: true)
    }
}

final class LogSumExp: UnaryFunction {
    private let axes: [Int]?
    @exclusivity(unchecked) private var x: NDArray!, y: NDArray!
    init(axes: [Int]?) { self.axes = axes }
    @exclusivity(unchecked) private var outputShape: [Int] = []
    override func forward(_ input: consuming NDArray) -> NDArray {
        x = input
        y = x.logSumExp(axes: axes.map { x.reductionAxes($0, op: "logsumexp") }, keepDims: true)
        let all = x.reductionAxes(axes, op: "logsumexp")
        let out = y.squeezed(axes: all)
        outputShape = out.shape
        return out
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g, x, y) }
    override func backward(_ g: Recorded) -> Recorded { formula(g, inputVariable, outputVariable(y.reshaped(outputShape)).reshapedTo(y.shape)) }
    /// d/dx log Σ e^x = e^(x − y).
    private func formula<V: GradientValue>(_ g: V, _ x: V, _ y: V) -> V {
        g.reshapedTo(y.shape) * (x - y).expValue()
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
