import Foundation

// getItem, take, selectItem, where: picking elements; the gradient goes back to the picked positions.

final class GetItem: UnaryFunction {
    private let indices: [NDIndex]
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ indices: [NDIndex]) { self.indices = indices }
    override func forward(_ input: consuming NDArray) -> NDArray {
        inShape = input.shape
        return input.selection(indices)
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    /// The gradient placed back at the selected positions of zeros.
    private func formula<V: GradientValue>(_ g: V) -> V { V.placed(g, at: indices, in: inShape) }
}

final class Take: UnaryFunction {
    private let indices: NDArray
    private let axis: Int
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ indices: NDArray, axis: Int) {
        self.indices = indices
        self.axis = axis
    }
    override func forward(_ input: consuming NDArray) -> NDArray {
        inShape = input.shape
        return input.take(indices, axis: axis)
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    /// The gradient added back at the taken indices (repeated ones accumulate).
    private func formula<V: GradientValue>(_ g: V) -> V { V.scatterAdd(g, indices: indices, axis: axis, shape: inShape) }
}

final class SelectItem: BinaryFunction {
    @exclusivity(unchecked) private var flat: NDArray!, inShape: [Int] = []
    override func forward(_ x: consuming NDArray, _ tArr: consuming NDArray) -> NDArray {
        if x.ndim != 2 { typeCheckFailure("select_item: x must be 2-D (batch, classes), got shape \(x.shape)") }
        if tArr.ndim != 1 || tArr.shape[0] != x.shape[0] {
            typeCheckFailure("select_item: t must be 1-D with one index per row of x: t.shape \(tArr.shape), x.shape \(x.shape)")
        }
        let t = NDArray.checkedIndices(tArr, size: x.shape[1], op: "select_item")
        inShape = x.shape
        flat = NDArray(t.enumerated().map { Double($0.offset * x.shape[1] + $0.element) }, dtype: .int64)
        return x.reshaped(-1).take(flat)
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { (needA ? formula(g) : nil, nil) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) { (needA ? formula(g) : nil, nil) }
    /// The gradient at the selected element of each row, zeros elsewhere.
    private func formula<V: GradientValue>(_ g: V) -> V {
        V.scatterAdd(g, indices: flat, axis: 0, shape: [inShape[0] * inShape[1]]).reshapedTo(inShape)
    }
}

final class Where: FunctionNode {
    @exclusivity(unchecked) private var condition: NDArray!, shapes: ([Int], [Int]) = ([], [])
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        condition = inputs[0]
        shapes = (inputs[1].shape, inputs[2].shape)
        return [NDArray.where(condition, inputs[1], inputs[2])]
    }
    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> { formula(targets, gys) }
    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        recording(gys) { formula(targets, $0) }
    }
    /// The gradient to x where the condition holds and to y elsewhere (none to the condition).
    private func formula<V: GradientValue>(_ targets: [Int], _ gys: GradSlots<V>) -> GradSlots<V> {
        guard let g = gys.first else { return GradSlots() }
        let mask = condition.broadcast(to: g.shape).contiguous()
        var out = GradSlots<V>()
        for (k, i) in targets.enumerated() {
            switch i {
            case 1: out[k] = V.maskedGrad(g, mask, otherwise: 0).sumTo(shapes.0)
            case 2: out[k] = V.maskedGrad(g, mask.logicalNot(), otherwise: 0).sumTo(shapes.1)
            default: out[k] = nil
            }
        }
        return out
    }
}

extension F {
    /// The view selected by NumPy-style basic indices (Chainer's `get_item`); the gradient is scattered back.
    public static func getItem(_ x: Variable, _ indices: [NDIndex]) -> Variable { GetItem(indices).call(x) }
    /// The slices at integer `indices` along `axis` (NumPy's `take`; Chainer's `get_item` with an index array).
    public static func take(_ x: Variable, _ indices: NDArray, axis: Int = 0) -> Variable { Take(indices, axis: axis).call(x) }
    /// `x[i, t[i]]` for each row: x is (batch, classes), t holds one class index per row.
    public static func selectItem(_ x: Variable, _ t: Variable) -> Variable { SelectItem().call(x, t) }
    /// `x` where `condition` is true, `y` elsewhere, with broadcasting.
    public static func `where`(_ condition: Variable, _ x: Variable, _ y: Variable) -> Variable {
        Where().applySingle([condition, x, y])
    }
}

extension Variable {
    /// The view selected by NumPy-style basic indices, as a graph operation: `x[0]`, `x[.all, 1..<3]`.
    public subscript(_ indices: any NDIndexExpression...) -> Variable { F.getItem(self, indices.map(\.ndIndex)) }
}
