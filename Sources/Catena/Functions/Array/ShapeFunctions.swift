import Foundation

// identity, reshape, transpose, broadcastTo, expandDims, squeeze, cast: functions that move or relabel elements.

final class IdentityFunction: FunctionNode {
    override var label: String { "Identity" }
    override func forward(_ inputs: [NDArray]) -> [NDArray] { inputs }
    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> { formula(targets, gys) }
    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> { formula(targets, gys) }
    private func formula<V>(_ targets: [Int], _ gys: GradSlots<V>) -> GradSlots<V> {
        var out = GradSlots<V>()
        for (k, i) in targets.enumerated() { out[k] = gys[i] }
        return out
    }
}

final class Reshape: UnaryFunction {
    private let shape: [Int]
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ shape: [Int]) { self.shape = shape }
    override func forward(_ input: consuming NDArray) -> NDArray {
        inShape = input.shape
        return input.reshaped(shape)
    }
    override func backward(_ g: NDArray) -> NDArray { g.reshapedTo(inShape) }
    override func backward(_ g: Recorded) -> Recorded { g.reshapedTo(inShape) }
}

final class Transpose: UnaryFunction {
    private let axes: [Int]?
    @exclusivity(unchecked) private var perm: [Int] = []
    init(_ axes: [Int]?) { self.axes = axes }
    override func forward(_ input: consuming NDArray) -> NDArray {
        let x = input
        perm = axes.map { $0.map { x.normalizedAxis($0, op: "transpose") } } ?? Array((0..<x.ndim).reversed())
        return x.transposed(perm)
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    /// The inverse permutation.
    private func formula<V: GradientValue>(_ g: V) -> V {
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return g.transposedBy(inverse)
    }
}

final class BroadcastTo: UnaryFunction {
    private let shape: [Int]
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ shape: [Int]) { self.shape = shape }
    override func forward(_ input: consuming NDArray) -> NDArray {
        inShape = input.shape
        return input.broadcast(to: shape)
    }
    override func backward(_ g: NDArray) -> NDArray { g.sumTo(inShape) }
    override func backward(_ g: Recorded) -> Recorded { g.sumTo(inShape) }
}

final class ExpandDims: UnaryFunction {
    private let axis: Int
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ axis: Int) { self.axis = axis }
    override func forward(_ input: consuming NDArray) -> NDArray {
        inShape = input.shape
        return input.expandedDims(axis: axis)
    }
    override func backward(_ g: NDArray) -> NDArray { g.reshapedTo(inShape) }
    override func backward(_ g: Recorded) -> Recorded { g.reshapedTo(inShape) }
}

final class Squeeze: UnaryFunction {
    private let axes: [Int]?
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ axes: [Int]?) { self.axes = axes }
    override func forward(_ input: consuming NDArray) -> NDArray {
        inShape = input.shape
        return input.squeezed(axes: axes)
    }
    override func backward(_ g: NDArray) -> NDArray { g.reshapedTo(inShape) }
    override func backward(_ g: Recorded) -> Recorded { g.reshapedTo(inShape) }
}

final class Cast: UnaryFunction {
    private let dtype: DType
    @exclusivity(unchecked) private var inType = DType.float32
    init(_ dtype: DType) { self.dtype = dtype }
    override func forward(_ input: consuming NDArray) -> NDArray {
        inType = input.dtype
        return input.astype(dtype)
    }
    override func backward(_ g: NDArray) -> NDArray { g.astype(inType) }
    override func backward(_ g: Recorded) -> Recorded { Recorded(F.cast(g.variable, inType)) }
}

extension F {
    /// The input unchanged (a new node in the graph).
    public static func identity(_ x: Variable) -> Variable { IdentityFunction().apply(x) }
    /// The same elements in a new shape (one entry may be -1).
    public static func reshape(_ x: Variable, _ shape: [Int]) -> Variable { Reshape(shape).call(x) }
    /// The axes permuted (reversed when `axes` is nil).
    public static func transpose(_ x: Variable, axes: [Int]? = nil) -> Variable { Transpose(axes).call(x) }
    /// The input broadcast to `shape`; the gradient is summed back.
    public static func broadcastTo(_ x: Variable, _ shape: [Int]) -> Variable { BroadcastTo(shape).call(x) }
    /// A new axis of size 1 at `axis`.
    public static func expandDims(_ x: Variable, axis: Int) -> Variable { ExpandDims(axis).call(x) }
    /// The axes of size 1 removed (all, or those named).
    public static func squeeze(_ x: Variable, axes: [Int]? = nil) -> Variable { Squeeze(axes).call(x) }
    /// The input converted to `dtype` (the gradient is converted back).
    public static func cast(_ x: Variable, _ dtype: DType) -> Variable { x.dtype == dtype ? x : Cast(dtype).call(x) }
}

extension Variable {
    /// The same elements in a new shape (one entry may be -1).
    public func reshaped(_ shape: [Int]) -> Variable { F.reshape(self, shape) }
    /// Variadic form of ``reshaped(_:)-([Int])``.
    public func reshaped(_ shape: Int...) -> Variable { F.reshape(self, shape) }
    /// The axes reversed (the matrix transpose in 2-D).
    public func transposed() -> Variable { F.transpose(self) }
    /// The axes permuted.
    public func transposed(_ axes: [Int]) -> Variable { F.transpose(self, axes: axes) }
    /// Chainer's `T`: the axes reversed.
    public var T: Variable { F.transpose(self) }
}
