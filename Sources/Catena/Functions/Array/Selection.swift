import Foundation

// getItem, take, selectItem, where: picking elements; the gradient goes back to the picked positions.

final class GetItem: UnaryFunction {
    private let indices: [NDIndex]
    @exclusivity(unchecked) private var inShape: [Int] = [], dtype = DType.float32
    init(_ indices: [NDIndex]) { self.indices = indices }
    override func forward(_ input: NDArray) -> NDArray {
        inShape = input.shape
        dtype = input.dtype
        return input.selection(indices)
    }
    override func backward(_ g: NDArray) -> NDArray {
        var gx = NDArray.zeros(inShape, dtype: dtype)
        gx.assign(g, to: indices)
        return gx
    }
}

final class Take: UnaryFunction {
    private let indices: NDArray
    private let axis: Int
    @exclusivity(unchecked) private var inShape: [Int] = []
    init(_ indices: NDArray, axis: Int) {
        self.indices = indices
        self.axis = axis
    }
    override func forward(_ input: NDArray) -> NDArray {
        inShape = input.shape
        return input.take(indices, axis: axis)
    }
    override func backward(_ g: NDArray) -> NDArray {
        NDArray.scatterAdd(g.contiguous(), indices: indices, axis: axis, shape: inShape)
    }
}

/// `x[i, t[i]]` for each row i.
final class SelectItem: BinaryFunction {
    @exclusivity(unchecked) private var t: [Int] = [], inShape: [Int] = [], dtype = DType.float32
    override func forward(_ x: NDArray, _ tArr: NDArray) -> NDArray {
        if x.ndim != 2 { typeCheckFailure("select_item: x must be 2-D (batch, classes), got shape \(x.shape)") }
        if tArr.ndim != 1 || tArr.shape[0] != x.shape[0] {
            typeCheckFailure("select_item: t must be 1-D with one index per row of x: t.shape \(tArr.shape), x.shape \(x.shape)")
        }
        t = NDArray.checkedIndices(tArr, size: x.shape[1], op: "select_item")
        inShape = x.shape
        dtype = x.dtype
        let rows = NDArray.arange(x.shape[0], dtype: .int64)
        let flat = rows * Double(x.shape[1]) + NDArray(t.map(Double.init), dtype: .int64)
        return x.reshaped(-1).take(flat)
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        guard needA else { return (nil, nil) }
        let n = inShape[1]
        let flat = NDArray(t.enumerated().map { Double($0.offset * n + $0.element) }, dtype: .int64)
        return (NDArray.scatterAdd(g.contiguous(), indices: flat, shape: [inShape[0] * n]).reshaped(inShape), nil)
    }
}

final class Where: FunctionNode {
    @exclusivity(unchecked) private var condition = NDArray.zeros([]), shapes: ([Int], [Int]) = ([], [])
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        condition = inputs[0]
        shapes = (inputs[1].shape, inputs[2].shape)
        return [NDArray.where(condition, inputs[1], inputs[2])]
    }
    override func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        let g = gy[0]!
        let zero = NDArray.zeros([], dtype: g.dtype)
        return indexes.map { i -> NDArray? in
            switch i {
            case 1: return NDArray.where(condition, g, zero).sumTo(shapes.0)
            case 2: return NDArray.where(condition, zero, g).sumTo(shapes.1)
            default: return nil
            }
        }
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
