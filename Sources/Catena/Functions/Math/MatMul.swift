import Foundation

// matmul and batchMatmul: matrix products with optional transposition, batched over leading axes.

/// `op(a) · op(b)` for operands of two or more axes (leading axes broadcast).
final class MatMul: BinaryFunction {
    private let transA: Bool, transB: Bool
    @exclusivity(unchecked) private var a: NDArray!, b: NDArray!
    init(transA: Bool, transB: Bool) {
        self.transA = transA
        self.transB = transB
        super.init()
        offersLeafGradientTerms = true
    }
    override func forward(_ x: consuming NDArray, _ y: consuming NDArray) -> NDArray {
        a = x
        b = y
        if a.ndim < 2 || b.ndim < 2 { typeCheckFailure("matmul: operands must have two or more axes here (shapes \(a.shape) and \(b.shape))") }
        return NDArray.matmul(a, b, transposeA: transA, transposeB: transB)
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, a, b, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(g, inputVariables.0, inputVariables.1, needA, needB)
    }
    /// y = A'B' with A' = op(a): dA' = g B'ᵀ, so da = transA ? B' gᵀ : dA'; likewise for b.
    private func formula<V: GradientValue>(_ g: V, _ a: V, _ b: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        (needA ? (transA ? V.matmul(b, g, transA: transB, transB: true) : V.matmul(g, b, transA: false, transB: !transB)).sumTo(a.shape) : nil,
         needB ? (transB ? V.matmul(g, a, transA: true, transB: transA) : V.matmul(a, g, transA: !transA, transB: false)).sumTo(b.shape) : nil)
    }

    /// For a 2-D weight on the right (`x · W` or `x · Wᵀ`), its gradient `xᵀ · gy` (or `gyᵀ · x`) as a product the
    /// engine can gather over the steps of an unrolled network.
    override func leafGradientTerm(_ index: Int, _ gys: GradSlots<NDArray>) -> LeafGradientTerm? {
        guard index == 1, !transA, a.ndim == 2, b.ndim == 2, let g = gys.first else { return nil }
        return transB ? .product(lhs: g, rhs: a) : .product(lhs: a, rhs: g)
    }
}

extension F {
    /// The matrix product `op(a) · op(b)` (NumPy's `matmul` semantics: leading axes broadcast; a 1-D `a` is a
    /// row, a 1-D `b` a column, and that axis is removed from the result).
    /// - Parameters:
    ///   - a: the left operand, with one axis or more.
    ///   - b: the right operand, with one axis or more.
    ///   - transA: use the transpose of `a`'s last two axes.
    ///   - transB: use the transpose of `b`'s last two axes.
    ///
    /// The labels are Chainer's (`F.matmul(a, b, transa=, transb=)`), camelCased; the array-level
    /// ``NDArray/matmul(_:_:transposeA:transposeB:)`` spells them out, as NumPy has no such arguments to follow.
    public static func matmul(_ a: Variable, _ b: Variable, transA: Bool = false, transB: Bool = false) -> Variable {
        if a.ndim >= 2 && b.ndim >= 2 { return MatMul(transA: transA, transB: transB).call(a, b) }
        if a.ndim == 0 || b.ndim == 0 { typeCheckFailure("matmul: operands must have at least one axis (shapes \(a.shape) and \(b.shape))") }
        let a2 = a.ndim == 1 ? reshape(a, [1, a.shape[0]]) : a
        let b2 = b.ndim == 1 ? reshape(b, [b.shape[0], 1]) : b
        var y = MatMul(transA: a.ndim == 1 ? false : transA, transB: b.ndim == 1 ? false : transB).call(a2, b2)
        var shape = y.shape
        if a.ndim == 1 { shape.remove(at: shape.count - 2) }
        if b.ndim == 1 { shape.removeLast() }
        if shape != y.shape { y = reshape(y, shape) }
        return y
    }

    /// Batched matrix products of 3-D operands `(batch, m, k) · (batch, k, n)` (Chainer's `batch_matmul`).
    /// - Precondition: both operands are 3-D with equal batch sizes.
    public static func batchMatmul(_ a: Variable, _ b: Variable, transA: Bool = false, transB: Bool = false) -> Variable {
        if a.ndim != 3 || b.ndim != 3 || a.shape[0] != b.shape[0] {
            typeCheckFailure("batch_matmul: expected 3-D operands with the same batch size, got shapes \(a.shape) and \(b.shape)")
        }
        return MatMul(transA: transA, transB: transB).call(a, b)
    }
}

extension Variable {
    /// The matrix product `self · other` (``F/matmul(_:_:transA:transB:)``).
    public func matmul(_ other: Variable) -> Variable { F.matmul(self, other) }
}
