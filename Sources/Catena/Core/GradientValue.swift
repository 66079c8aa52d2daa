import Foundation

/// What a backward formula computes with: ``NDArray`` in a plain backward pass, a ``Variable`` (as ``Recorded``)
/// in a recorded one (double backprop).
///
/// Each built-in function writes its gradient formula once, as a generic function over this protocol, and calls it
/// with arrays from its array-level backward (no graph, no wrappers: the fast path) and with variables from its
/// variable-level backward, where every operation below is an `F` function and so is recorded. A step that has a
/// fused array kernel (`tanhGrad`, `lstmGrad`, …) is a primitive here: its array form runs the kernel, its variable
/// form applies a function node whose forward is the same kernel and whose backward is written once again in
/// these terms. The conformance tests check both forms against finite differences.
protocol GradientValue {
    var shape: [Int] { get }
    var dtype: DType { get }
    /// The values (the array itself, or a variable's data).
    var values: NDArray { get }
    /// A value that needs no gradient (masks, constants of a formula).
    static func constantValue(_ a: NDArray) -> Self

    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    static prefix func - (a: Self) -> Self
    static func * (a: Self, c: Double) -> Self
    static func + (a: Self, c: Double) -> Self
    static func - (a: Self, c: Double) -> Self
    static func - (c: Double, a: Self) -> Self
    static func pow(_ a: Self, _ b: Self) -> Self
    static func pow(_ a: Self, _ c: Double) -> Self

    /// The sum down to `shape`, undoing broadcasting (Chainer's `sum_to`).
    func sumTo(_ shape: [Int]) -> Self
    func reshapedTo(_ shape: [Int]) -> Self
    func transposedBy(_ axes: [Int]) -> Self
    func broadcastTo(_ shape: [Int]) -> Self
    func summed(axes: [Int], keepDims: Bool) -> Self
    /// `op(a) · op(b)` with NumPy's batched matmul semantics.
    static func matmul(_ a: Self, _ b: Self, transA: Bool, transB: Bool) -> Self
    func expValue() -> Self
    func logValue() -> Self
    func sigmoidValue() -> Self
    func tanhValue() -> Self
    func softmaxValue(axis: Int) -> Self
    func clippedValue(_ low: Double, _ high: Double) -> Self
    /// The elements at `indices` (basic indexing).
    func selected(_ indices: [NDIndex]) -> Self
    /// The inputs joined along `axis`.
    static func concatenated(_ parts: [Self], axis: Int) -> Self
    /// Pieces cut before each of `indices` along `axis`.
    func split(at indices: [Int], axis: Int) -> [Self]

    // Primitives with fused array kernels (see the function nodes in Functions/Gradients.swift).

    /// `gy · (1 − y²)`: the gradient of tanh from its output.
    static func tanhGrad(_ gy: Self, _ y: Self) -> Self
    /// `gy · y · (1 − y)`: the gradient of the sigmoid from its output.
    static func sigmoidGrad(_ gy: Self, _ y: Self) -> Self
    /// `gy` where `y > 0`, else 0: the gradient of ReLU from its output.
    static func reluGrad(_ gy: Self, _ y: NDArray) -> Self
    /// `gy` where `mask` is true, else `gy · scale`: the gradient of a piecewise-linear function (leaky ReLU,
    /// clip, abs) whose slopes do not depend on its input's value beyond the mask.
    static func maskedGrad(_ gy: Self, _ mask: NDArray, otherwise scale: Double) -> Self
    /// `gy / (2y)`: the gradient of √x from its output.
    static func sqrtGrad(_ gy: Self, _ y: Self) -> Self
    /// Rows of `gy` added into a zero `(rows, gy.shape.last)` array at the given row ids (−1: dropped): the
    /// gradient of `embedID` with respect to the table.
    static func scatterRows(_ gy: Self, ids: [Int], rows: Int) -> Self
    /// The rows `ids` of `table` (−1: a zero row): `embedID`'s forward, the transpose of ``scatterRows(_:ids:rows:)``.
    static func gatherRows(_ table: Self, ids: [Int], shape: [Int]) -> Self
    /// A zero array of `shape` with `gy` placed at `indices`: the gradient of basic indexing.
    static func placed(_ gy: Self, at indices: [NDIndex], in shape: [Int]) -> Self
    /// `gy` added into a zero array of `shape` at `indices` along `axis`: the gradient of `take`.
    static func scatterAdd(_ gy: Self, indices: NDArray, axis: Int, shape: [Int]) -> Self
    /// The elements at `indices` along `axis`: `take`.
    func taken(_ indices: NDArray, axis: Int) -> Self
}

extension NDArray: GradientValue {
    var values: NDArray { self }
    static func constantValue(_ a: NDArray) -> NDArray { a }
    static func pow(_ a: NDArray, _ c: Double) -> NDArray { a.pow(c) }
    func reshapedTo(_ shape: [Int]) -> NDArray { reshaped(shape) }
    func transposedBy(_ axes: [Int]) -> NDArray { transposed(axes) }
    func broadcastTo(_ shape: [Int]) -> NDArray {
        if shape == self.shape { return self }
        if count == 1 && ndim <= shape.count { return NDArray.full(shape, item(), dtype: dtype) }   // a scalar loss's gradient: one fill
        return broadcast(to: shape).contiguous()
    }
    func summed(axes: [Int], keepDims: Bool) -> NDArray { sum(axes: axes, keepDims: keepDims) }
    static func matmul(_ a: NDArray, _ b: NDArray, transA: Bool, transB: Bool) -> NDArray {
        NDArray.matmul(a, b, transposeA: transA, transposeB: transB)
    }
    func expValue() -> NDArray { exp() }
    func logValue() -> NDArray { log() }
    func sigmoidValue() -> NDArray { sigmoid() }
    func tanhValue() -> NDArray { tanh() }
    func softmaxValue(axis: Int) -> NDArray { (self - logSumExp(axis: axis, keepDims: true)).exp() }
    func clippedValue(_ low: Double, _ high: Double) -> NDArray { clipped(low, high) }
    func selected(_ indices: [NDIndex]) -> NDArray { selection(indices) }
    static func concatenated(_ parts: [NDArray], axis: Int) -> NDArray { NDArray.concatenate(parts, axis: axis) }
    func split(at indices: [Int], axis: Int) -> [NDArray] { split(indices: indices, axis: axis) }
    static func tanhGrad(_ gy: NDArray, _ y: NDArray) -> NDArray { NDArray.map(gy, y, TanhGradKernel(), op: "tanh") }
    static func sigmoidGrad(_ gy: NDArray, _ y: NDArray) -> NDArray { NDArray.map(gy, y, SigmoidGradKernel(), op: "sigmoid") }
    static func reluGrad(_ gy: NDArray, _ y: NDArray) -> NDArray { NDArray.map(gy, y, ReLUGradKernel(), op: "relu") }
    static func maskedGrad(_ gy: NDArray, _ mask: NDArray, otherwise scale: Double) -> NDArray {
        let s = NDArray(scalar: scale, dtype: gy.dtype)
        return NDArray.where(mask, gy, scale == 0 ? NDArray.zeros([], dtype: gy.dtype) : gy * s)
    }
    static func sqrtGrad(_ gy: NDArray, _ y: NDArray) -> NDArray { NDArray.map(gy, y, SqrtGradKernel(), op: "sqrt") }
    static func scatterRows(_ gy: NDArray, ids: [Int], rows: Int) -> NDArray {
        var out = NDArray.zeros([rows, gy.shape.last ?? 0], dtype: gy.dtype)
        out.scatterAddRows(gy, ids: ids)
        return out
    }
    static func gatherRows(_ table: NDArray, ids: [Int], shape: [Int]) -> NDArray { table.gatherRows(ids: ids, shape: shape) }
    static func placed(_ gy: NDArray, at indices: [NDIndex], in shape: [Int]) -> NDArray {
        var gx = NDArray.zeros(shape, dtype: gy.dtype)
        gx.assign(gy, to: indices)
        return gx
    }
    func taken(_ indices: NDArray, axis: Int) -> NDArray { take(indices, axis: axis) }
}

/// A variable as a ``GradientValue``: every operation is an `F` function, recorded when backprop is enabled.
/// (A wrapper because ``Variable`` is a class with subclasses, which cannot satisfy the protocol's `Self`
/// requirements itself.)
///
/// Layering: this is the one place where Core calls into Functions, and it must: a recorded backward pass (double
/// backprop) is itself a graph of differentiable functions, as in Chainer, whose backward machinery calls
/// `chainer.functions`. Nothing else in Core names a function.
struct Recorded: GradientValue {
    let variable: Variable
    init(_ variable: Variable) { self.variable = variable }

    var shape: [Int] { variable.shape }
    var dtype: DType { variable.dtype }
    var values: NDArray { variable.array }
    static func constantValue(_ a: NDArray) -> Recorded { Recorded(Variable.constant(a)) }
    static func + (a: Recorded, b: Recorded) -> Recorded { Recorded(a.variable + b.variable) }
    static func - (a: Recorded, b: Recorded) -> Recorded { Recorded(a.variable - b.variable) }
    static func * (a: Recorded, b: Recorded) -> Recorded { Recorded(a.variable * b.variable) }
    static func / (a: Recorded, b: Recorded) -> Recorded { Recorded(a.variable / b.variable) }
    static prefix func - (a: Recorded) -> Recorded { Recorded(-a.variable) }
    static func * (a: Recorded, c: Double) -> Recorded { Recorded(a.variable * c) }
    static func + (a: Recorded, c: Double) -> Recorded { Recorded(a.variable + c) }
    static func - (a: Recorded, c: Double) -> Recorded { Recorded(a.variable - c) }
    static func - (c: Double, a: Recorded) -> Recorded { Recorded(c - a.variable) }
    static func pow(_ a: Recorded, _ b: Recorded) -> Recorded { Recorded(F.pow(a.variable, b.variable)) }
    static func pow(_ a: Recorded, _ c: Double) -> Recorded { Recorded(F.pow(a.variable, c)) }
    func sumTo(_ shape: [Int]) -> Recorded { Recorded(F.sumTo(variable, shape)) }
    func reshapedTo(_ shape: [Int]) -> Recorded { shape == self.shape ? self : Recorded(F.reshape(variable, shape)) }
    func transposedBy(_ axes: [Int]) -> Recorded { Recorded(F.transpose(variable, axes: axes)) }
    func broadcastTo(_ shape: [Int]) -> Recorded { shape == self.shape ? self : Recorded(F.broadcastTo(variable, shape)) }
    func summed(axes: [Int], keepDims: Bool) -> Recorded { Recorded(F.sum(variable, axes: axes, keepDims: keepDims)) }
    static func matmul(_ a: Recorded, _ b: Recorded, transA: Bool, transB: Bool) -> Recorded {
        Recorded(F.matmul(a.variable, b.variable, transA: transA, transB: transB))
    }
    func expValue() -> Recorded { Recorded(F.exp(variable)) }
    func logValue() -> Recorded { Recorded(F.log(variable)) }
    func sigmoidValue() -> Recorded { Recorded(F.sigmoid(variable)) }
    func tanhValue() -> Recorded { Recorded(F.tanh(variable)) }
    func softmaxValue(axis: Int) -> Recorded { Recorded(F.softmax(variable, axis: axis)) }
    func clippedValue(_ low: Double, _ high: Double) -> Recorded { Recorded(F.clip(variable, low, high)) }
    func selected(_ indices: [NDIndex]) -> Recorded { Recorded(F.getItem(variable, indices)) }
    static func concatenated(_ parts: [Recorded], axis: Int) -> Recorded { Recorded(F.concat(parts.map(\.variable), axis: axis)) }
    func split(at indices: [Int], axis: Int) -> [Recorded] { F.splitAxis(variable, indices: indices, axis: axis).map(Recorded.init) }
    static func tanhGrad(_ gy: Recorded, _ y: Recorded) -> Recorded { Recorded(TanhGrad().call(gy.variable, y.variable)) }
    static func sigmoidGrad(_ gy: Recorded, _ y: Recorded) -> Recorded { Recorded(SigmoidGrad().call(gy.variable, y.variable)) }
    static func reluGrad(_ gy: Recorded, _ y: NDArray) -> Recorded { Recorded(MaskedGrad(mask: y .> 0, scale: 0, label: "ReLUGrad").call(gy.variable)) }
    static func maskedGrad(_ gy: Recorded, _ mask: NDArray, otherwise scale: Double) -> Recorded {
        Recorded(MaskedGrad(mask: mask, scale: scale).call(gy.variable))
    }
    static func sqrtGrad(_ gy: Recorded, _ y: Recorded) -> Recorded { gy / (y * 2) }
    static func scatterRows(_ gy: Recorded, ids: [Int], rows: Int) -> Recorded { Recorded(ScatterRows(ids: ids, rows: rows).call(gy.variable)) }
    static func gatherRows(_ table: Recorded, ids: [Int], shape: [Int]) -> Recorded { Recorded(GatherRows(ids: ids, shape: shape).call(table.variable)) }
    static func placed(_ gy: Recorded, at indices: [NDIndex], in shape: [Int]) -> Recorded { Recorded(Place(indices, shape: shape).call(gy.variable)) }
    static func scatterAdd(_ gy: Recorded, indices: NDArray, axis: Int, shape: [Int]) -> Recorded {
        Recorded(ScatterAdd(indices, axis: axis, shape: shape).call(gy.variable))
    }
    func taken(_ indices: NDArray, axis: Int) -> Recorded { Recorded(F.take(variable, indices, axis: axis)) }
}

struct TanhGradKernel: BinaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ y: T) -> T { g * (1 - y * y) }
}

struct SigmoidGradKernel: BinaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ y: T) -> T { g * y * (1 - y) }
}

struct ReLUGradKernel: BinaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ y: T) -> T { y > 0 ? g : 0 }
}

struct SqrtGradKernel: BinaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ y: T) -> T { g / (y + y) }
}
