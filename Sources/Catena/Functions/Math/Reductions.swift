import Foundation

// sum, mean, max, min over axes, and argmax/argmin (no gradient).

/// The shape of a reduction's result with the reduced axes kept as 1, for broadcasting the gradient back.
private func keptShape(_ shape: [Int], _ axes: [Int]) -> [Int] {
    shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
}

/// A reduction over `axes` (nil: all) whose gradient broadcasts back to the input's shape: what `Sum` and `Mean`
/// keep from forward for their backward.
class AxisReduction: UnaryFunction {
    final let axes: [Int]?
    final let keepDims: Bool
    @exclusivity(unchecked) final var inShape: [Int] = [], reduced: [Int] = []
    init(axes: [Int]?, keepDims: Bool) {
        self.axes = axes
        self.keepDims = keepDims
    }
}

final class Sum: AxisReduction {
    override func forward(_ input: consuming NDArray) -> NDArray {
        let x = input
        inShape = x.shape
        // The full reduction (a loss) keeps no axes: its scalar gradient broadcasts to the input as it is.
        if axes == nil && !keepDims { return x.sum() }
        reduced = x.reductionAxes(axes, op: "sum")
        return x.sum(axes: reduced, keepDims: keepDims)
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    private func formula<V: GradientValue>(_ g: V) -> V {
        (axes == nil && !keepDims ? g : g.reshapedTo(keptShape(inShape, reduced))).broadcastTo(inShape)
    }
}

final class Mean: AxisReduction {
    override func forward(_ input: consuming NDArray) -> NDArray {
        let x = input
        if !x.dtype.isFloatingPoint { typeCheckFailure("mean: expected a floating-point input, got \(x.dtype)") }
        inShape = x.shape
        reduced = x.reductionAxes(axes, op: "mean")
        return x.mean(axes: reduced, keepDims: keepDims)
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    private func formula<V: GradientValue>(_ g: V) -> V {
        let n = reduced.reduce(1) { $0 * inShape[$1] }
        return (g * (1 / Double(Swift.max(n, 1)))).reshapedTo(keptShape(inShape, reduced)).broadcastTo(inShape)
    }
}

/// max or min over axes; the gradient goes to every element equal to the result (as Chainer's).
final class MaxMin: UnaryFunction {
    private let axes: [Int]?
    private let keepDims: Bool
    private let isMax: Bool
    @exclusivity(unchecked) private var x: NDArray!, y: NDArray!, reduced: [Int] = []
    init(axes: [Int]?, keepDims: Bool, isMax: Bool) {
        self.axes = axes
        self.keepDims = keepDims
        self.isMax = isMax
    }
    override var label: String { isMax ? "Max" : "Min" }
    override func forward(_ input: consuming NDArray) -> NDArray {
        x = input
        reduced = x.reductionAxes(axes, op: isMax ? "max" : "min")
        y = isMax ? x.max(axes: reduced, keepDims: true) : x.min(axes: reduced, keepDims: true)
        return keepDims ? y : y.squeezed(axes: reduced)
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    /// To every element equal to the result (piecewise linear: no second derivative).
    private func formula<V: GradientValue>(_ g: V) -> V {
        V.maskedGrad(g.reshapedTo(y.shape).broadcastTo(x.shape), x .== y, otherwise: 0)
    }
}

extension F {
    /// The sum over the given axes (all when nil).
    public static func sum(_ x: Variable, axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        Sum(axes: axes, keepDims: keepDims).call(x)
    }
    /// The sum over one axis.
    public static func sum(_ x: Variable, axis: Int, keepDims: Bool = false) -> Variable { sum(x, axes: [axis], keepDims: keepDims) }
    /// The mean over the given axes (all when nil).
    public static func mean(_ x: Variable, axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        Mean(axes: axes, keepDims: keepDims).call(x)
    }
    /// The mean over one axis.
    public static func mean(_ x: Variable, axis: Int, keepDims: Bool = false) -> Variable { mean(x, axes: [axis], keepDims: keepDims) }
    /// The variance over the given axes (all when nil), dividing the sum of `(x − mean)²` by `n − ddof`
    /// (NumPy's `var`; `ddof: 1` is the unbiased sample variance). Composed of ``mean(_:axes:keepDims:)``,
    /// subtraction, ``square(_:)`` and ``sum(_:axes:keepDims:)``, so its gradient (and the gradient's gradient)
    /// comes from theirs.
    /// - Precondition: `0 <= ddof < n`, the number of elements reduced.
    public static func variance(_ x: Variable, axes: [Int]? = nil, ddof: Int = 0, keepDims: Bool = false) -> Variable {
        let reduced = (axes ?? Array(0..<x.ndim)).map { x.shape[x.array.normalizedAxis($0, op: "var")] }.reduce(1, *)
        if ddof < 0 || ddof >= reduced { typeCheckFailure("var: ddof (\(ddof)) must be in 0..<\(reduced), the number of elements reduced") }
        let centred = x - F.mean(x, axes: axes, keepDims: true)
        return F.sum(F.square(centred), axes: axes, keepDims: keepDims) * (1 / Double(reduced - ddof))
    }
    /// The variance over one axis.
    public static func variance(_ x: Variable, axis: Int, ddof: Int = 0, keepDims: Bool = false) -> Variable {
        variance(x, axes: [axis], ddof: ddof, keepDims: keepDims)
    }
    /// The standard deviation over the given axes (all when nil): the square root of
    /// ``variance(_:axes:ddof:keepDims:)``. Its gradient is infinite where the variance is 0.
    public static func std(_ x: Variable, axes: [Int]? = nil, ddof: Int = 0, keepDims: Bool = false) -> Variable {
        F.sqrt(variance(x, axes: axes, ddof: ddof, keepDims: keepDims))
    }
    /// The standard deviation over one axis.
    public static func std(_ x: Variable, axis: Int, ddof: Int = 0, keepDims: Bool = false) -> Variable {
        std(x, axes: [axis], ddof: ddof, keepDims: keepDims)
    }
    /// The maximum over the given axes (all when nil); ties share the gradient.
    public static func max(_ x: Variable, axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        MaxMin(axes: axes, keepDims: keepDims, isMax: true).call(x)
    }
    /// The maximum over one axis.
    public static func max(_ x: Variable, axis: Int, keepDims: Bool = false) -> Variable { max(x, axes: [axis], keepDims: keepDims) }
    /// The minimum over the given axes (all when nil).
    public static func min(_ x: Variable, axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        MaxMin(axes: axes, keepDims: keepDims, isMax: false).call(x)
    }
    /// The minimum over one axis.
    public static func min(_ x: Variable, axis: Int, keepDims: Bool = false) -> Variable { min(x, axes: [axis], keepDims: keepDims) }
    /// The index of the maximum along `axis` (of the flattened array when nil), as int32. Not differentiable.
    public static func argmax(_ x: Variable, axis: Int? = nil) -> Variable { .constant(x.array.argmax(axis: axis)) }
    /// The index of the minimum along `axis`, as int32. Not differentiable.
    public static func argmin(_ x: Variable, axis: Int? = nil) -> Variable { .constant(x.array.argmin(axis: axis)) }
}

extension Variable {
    /// The sum over the given axes (all when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Variable { F.sum(self, axes: axes, keepDims: keepDims) }
    /// The sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Variable { F.sum(self, axis: axis, keepDims: keepDims) }
    /// The mean over the given axes (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Variable { F.mean(self, axes: axes, keepDims: keepDims) }
    /// The mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Variable { F.mean(self, axis: axis, keepDims: keepDims) }
}
