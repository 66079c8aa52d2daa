import Foundation

// concat, stack, splitAxis, separate: joining and cutting along an axis.

/// Inputs joined along an axis; the gradient is cut back into their sizes.
final class Concat: FunctionNode {
    private let axis: Int
    @exclusivity(unchecked) private var sizes: [Int] = [], ax = 0
    init(axis: Int) { self.axis = axis }
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        guard let first = inputs.first else { typeCheckFailure("concat: needs at least one input") }
        ax = first.normalizedAxis(axis, op: "concat")
        sizes = inputs.map { $0.ndim > ax ? $0.shape[ax] : 0 }
        return [NDArray.concatenate(inputs, axis: ax)]
    }
    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> { formula(targets, gys) }
    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        recording(gys) { formula(targets, $0) }
    }
    private func formula<V: GradientValue>(_ targets: [Int], _ gys: GradSlots<V>) -> GradSlots<V> {
        guard let g = gys.first else { return GradSlots() }
        var cuts = [Int](), acc = 0
        for s in sizes.dropLast() {
            acc += s
            cuts.append(acc)
        }
        let parts = g.split(at: cuts, axis: ax)
        var out = GradSlots<V>()
        for (k, i) in targets.enumerated() { out[k] = parts[i] }
        return out
    }
}

/// Inputs stacked along a new axis; the gradient of input k is slice k.
final class Stack: FunctionNode {
    private let axis: Int
    @exclusivity(unchecked) private var ax = 0
    init(axis: Int) { self.axis = axis }
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        guard let first = inputs.first else { typeCheckFailure("stack: needs at least one input") }
        ax = axis < 0 ? axis + first.ndim + 1 : axis
        return [NDArray.stack(inputs, axis: axis)]
    }
    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> { formula(targets, gys) }
    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        recording(gys) { formula(targets, $0) }
    }
    private func formula<V: GradientValue>(_ targets: [Int], _ gys: GradSlots<V>) -> GradSlots<V> {
        guard let g = gys.first else { return GradSlots() }
        var out = GradSlots<V>()
        for (k, i) in targets.enumerated() { out[k] = g.selected([NDIndex](repeating: .all, count: ax) + [.index(i)]) }
        return out
    }
}

/// An input cut into pieces along an axis; the gradient joins the pieces' gradients (zeros for unused ones).
final class SplitAxis: FunctionNode {
    private let indices: [Int]?
    private let sections: Int?
    private let axis: Int
    @exclusivity(unchecked) private var ax = 0, inShape: [Int] = [], dtype = DType.float32, starts: [Int] = []
    init(indices: [Int]?, sections: Int?, axis: Int) {
        self.indices = indices
        self.sections = sections
        self.axis = axis
    }
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        let x = inputs[0]
        ax = x.normalizedAxis(axis, op: "split_axis")
        inShape = x.shape
        dtype = x.dtype
        let parts = sections.map { x.split(sections: $0, axis: ax) } ?? x.split(indices: indices ?? [], axis: ax)
        var s = 0
        starts = parts.map { p in defer { s += p.shape[ax] }; return s }
        return parts
    }
    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> { formula(gys) }
    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        recording(gys) { formula($0) }
    }
    private func formula<V: GradientValue>(_ gys: GradSlots<V>) -> GradSlots<V> {
        var pieces = [V]()
        for i in 0..<outputCount {
            if let g = gys[i] {
                pieces.append(g)
            } else {
                var s = inShape
                s[ax] = (i + 1 < starts.count ? starts[i + 1] : inShape[ax]) - starts[i]
                pieces.append(V.constantValue(.zeros(s, dtype: dtype)))
            }
        }
        return GradSlots(pieces.count == 1 ? pieces[0] : V.concatenated(pieces, axis: ax))
    }
}

extension F {
    /// The variables joined along `axis` (Chainer's `concat`, default axis 1).
    /// - Precondition: the shapes agree except along `axis`.
    public static func concat(_ xs: [Variable], axis: Int = 1) -> Variable { Concat(axis: axis).applySingle(xs) }
    /// The variables stacked along a new `axis` (Chainer's `stack`).
    /// - Precondition: equal shapes.
    public static func stack(_ xs: [Variable], axis: Int = 0) -> Variable { Stack(axis: axis).applySingle(xs) }
    /// Pieces of `x` cut before each of `indices` along `axis` (Chainer's `split_axis` with indices).
    public static func splitAxis(_ x: Variable, indices: [Int], axis: Int) -> [Variable] {
        SplitAxis(indices: indices, sections: nil, axis: axis).apply([x])
    }
    /// `sections` equal pieces of `x` along `axis` (Chainer's `split_axis` with a section count).
    /// - Precondition: `sections` divides `x.shape[axis]`.
    public static func splitAxis(_ x: Variable, sections: Int, axis: Int) -> [Variable] {
        SplitAxis(indices: nil, sections: sections, axis: axis).apply([x])
    }
    /// The slices of `x` along `axis`, with that axis removed (Chainer's `separate`).
    public static func separate(_ x: Variable, axis: Int = 0) -> [Variable] {
        let ax = x.array.normalizedAxis(axis, op: "separate")
        return splitAxis(x, sections: x.shape[ax], axis: ax).map { squeeze($0, axes: [ax]) }
    }
}
