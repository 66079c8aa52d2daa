import Foundation

// The functions that gradient formulas are made of, beyond the ordinary F functions: each is the fused kernel of
// a derivative (tanh's, the sigmoid's, a masked pass-through, the scatters that undo a gather), recorded as a node
// of its own when a backward pass is recorded, so that its own derivative — the second derivative of the function
// it came from — is available too. Each one's derivative is written once, like every function's.

/// `gy · (1 − y²)`, tanh's derivative from its output.
final class TanhGrad: BinaryFunction {
    @exclusivity(unchecked) private var gy: NDArray!, y: NDArray!
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        (gy, y) = (a, b)
        return NDArray.tanhGrad(a, b)
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, gy, y, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(g, inputVariables.0, inputVariables.1, needA, needB)
    }
    /// ∂/∂gy = 1 − y², ∂/∂y = −2·gy·y.
    private func formula<V: GradientValue>(_ g: V, _ gy: V, _ y: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        (needA ? V.tanhGrad(g, y) : nil, needB ? g * gy * y * -2 : nil)
    }
}

/// `gy · y · (1 − y)`, the sigmoid's derivative from its output.
final class SigmoidGrad: BinaryFunction {
    @exclusivity(unchecked) private var gy: NDArray!, y: NDArray!
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        (gy, y) = (a, b)
        return NDArray.sigmoidGrad(a, b)
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, gy, y, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(g, inputVariables.0, inputVariables.1, needA, needB)
    }
    /// ∂/∂gy = y·(1 − y), ∂/∂y = gy·(1 − 2y).
    private func formula<V: GradientValue>(_ g: V, _ gy: V, _ y: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        (needA ? V.sigmoidGrad(g, y) : nil, needB ? g * gy * (1 - y * 2) : nil)
    }
}

/// `gy` where `mask`, `gy · scale` elsewhere: linear in `gy`, so its derivative is itself.
final class MaskedGrad: UnaryFunction {
    private let mask: NDArray, scale: Double, name: String
    init(mask: NDArray, scale: Double, label: String = "MaskedGrad") {
        self.mask = mask
        self.scale = scale
        name = label
    }
    override var label: String { name }
    override func forward(_ x: consuming NDArray) -> NDArray { NDArray.maskedGrad(x, mask, otherwise: scale) }
    override func backward(_ g: NDArray) -> NDArray { NDArray.maskedGrad(g, mask, otherwise: scale) }
    override func backward(_ g: Recorded) -> Recorded { Recorded.maskedGrad(g, mask, otherwise: scale) }
}

/// Rows added into a zero table at ids (the gradient of a gather); its derivative gathers them back.
final class ScatterRows: UnaryFunction {
    private let ids: [Int], rows: Int
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(ids: [Int], rows: Int) {
        self.ids = ids
        self.rows = rows
    }
    override func forward(_ x: consuming NDArray) -> NDArray {
        inShape = x.shape
        return NDArray.scatterRows(x, ids: ids, rows: rows)
    }
    override func backward(_ g: NDArray) -> NDArray { NDArray.gatherRows(g, ids: ids, shape: inShape) }
    override func backward(_ g: Recorded) -> Recorded { Recorded.gatherRows(g, ids: ids, shape: inShape) }
}

/// The rows of a table at ids (−1: zeros), reshaped to `shape`; its derivative scatters them back.
final class GatherRows: UnaryFunction {
    private let ids: [Int], shape: [Int]
    @exclusivity(unchecked) private var rows = 0
    init(ids: [Int], shape: [Int]) {
        self.ids = ids
        self.shape = shape
    }
    override func forward(_ x: consuming NDArray) -> NDArray {
        rows = x.shape[0]
        return NDArray.gatherRows(x, ids: ids, shape: shape)
    }
    override func backward(_ g: NDArray) -> NDArray { NDArray.scatterRows(g, ids: ids, rows: rows) }
    override func backward(_ g: Recorded) -> Recorded { Recorded.scatterRows(g, ids: ids, rows: rows) }
}

/// `g` placed into zeros of `shape` at basic indices (the gradient of indexing); its derivative indexes again.
final class Place: UnaryFunction {
    private let indices: [NDIndex], shape: [Int]
    init(_ indices: [NDIndex], shape: [Int]) {
        self.indices = indices
        self.shape = shape
    }
    override func forward(_ x: consuming NDArray) -> NDArray { NDArray.placed(x, at: indices, in: shape) }
    override func backward(_ g: NDArray) -> NDArray { g.selected(indices) }
    override func backward(_ g: Recorded) -> Recorded { g.selected(indices) }
}

/// `g` added into zeros of `shape` at indices along an axis (the gradient of `take`); its derivative takes.
final class ScatterAdd: UnaryFunction {
    private let indices: NDArray, axis: Int, shape: [Int]
    init(_ indices: NDArray, axis: Int, shape: [Int]) {
        self.indices = indices
        self.axis = axis
        self.shape = shape
    }
    override func forward(_ x: consuming NDArray) -> NDArray { NDArray.scatterAdd(x, indices: indices, axis: axis, shape: shape) }
    override func backward(_ g: NDArray) -> NDArray { g.taken(indices, axis: axis) }
    override func backward(_ g: Recorded) -> Recorded { g.taken(indices, axis: axis) }
}

/// The sum down to a shape that broadcasts to the input's (Chainer's `sum_to`); its derivative broadcasts back.
final class SumTo: UnaryFunction {
    private let shape: [Int]
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ shape: [Int]) { self.shape = shape }
    override func forward(_ x: consuming NDArray) -> NDArray {
        inShape = x.shape
        return x.sumTo(shape)
    }
    override func backward(_ g: NDArray) -> NDArray { g.broadcastTo(inShape) }
    override func backward(_ g: Recorded) -> Recorded { g.broadcastTo(inShape) }
}

extension F {
    /// The sum of `x` down to `shape`, undoing broadcasting (Chainer's `sum_to`): leading axes are summed away and
    /// axes where `shape` has 1 are summed with their size kept as 1.
    /// - Precondition: `shape` broadcasts to `x.shape`.
    public static func sumTo(_ x: Variable, _ shape: [Int]) -> Variable { x.shape == shape ? x : SumTo(shape).call(x) }
}
