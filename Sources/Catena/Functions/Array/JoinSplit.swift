import Foundation

// concat, stack, splitAxis, separate: joining and cutting along an axis.

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
    override func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        var cuts = [Int](), acc = 0
        for s in sizes.dropLast() {
            acc += s
            cuts.append(acc)
        }
        let parts = gy[0]!.split(indices: cuts, axis: ax)
        return indexes.map { parts[$0] }
    }
}

final class Stack: FunctionNode {
    private let axis: Int
    @exclusivity(unchecked) private var ax = 0
    init(axis: Int) { self.axis = axis }
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        guard let first = inputs.first else { typeCheckFailure("stack: needs at least one input") }
        ax = axis < 0 ? axis + first.ndim + 1 : axis
        return [NDArray.stack(inputs, axis: axis)]
    }
    override func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        let g = gy[0]!
        return indexes.map { g.selection([NDIndex](repeating: .all, count: ax) + [.index($0)]) }
    }
}

/// Cuts one input into several outputs along an axis.
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
    override func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        // Outputs nobody used contribute zeros.
        var pieces = [NDArray]()
        for (i, g) in gy.enumerated() {
            if let g {
                pieces.append(g)
            } else {
                var s = inShape
                s[ax] = (i + 1 < starts.count ? starts[i + 1] : inShape[ax]) - starts[i]
                pieces.append(.zeros(s, dtype: dtype))
            }
        }
        return [NDArray.concatenate(pieces, axis: ax)]
    }
}

extension F {
    /// Variables joined along an existing axis (Chainer's default axis 1).
    public static func concat(_ xs: [Variable], axis: Int = 1) -> Variable { Concat(axis: axis).applySingle(xs) }
    /// Variables of one shape joined along a new axis.
    public static func stack(_ xs: [Variable], axis: Int = 0) -> Variable { Stack(axis: axis).applySingle(xs) }
    /// The input cut before each of `indices` along `axis`.
    public static func splitAxis(_ x: Variable, indices: [Int], axis: Int) -> [Variable] {
        SplitAxis(indices: indices, sections: nil, axis: axis).apply([x])
    }
    /// The input cut into `sections` equal pieces along `axis`.
    public static func splitAxis(_ x: Variable, sections: Int, axis: Int) -> [Variable] {
        SplitAxis(indices: nil, sections: sections, axis: axis).apply([x])
    }
    /// The slices along `axis`, each with that axis removed (Chainer's `separate`).
    public static func separate(_ x: Variable, axis: Int = 0) -> [Variable] {
        let ax = x.array.normalizedAxis(axis, op: "separate")
        return splitAxis(x, sections: x.shape[ax], axis: ax).map { squeeze($0, axes: [ax]) }
    }
}
