import Foundation

// matmul and batchMatmul: matrix products with optional transposition, batched over leading axes.

/// `op(a) · op(b)` for operands of two or more axes (leading axes broadcast).
final class MatMul: BinaryFunction {
    private let transA: Bool, transB: Bool
    @exclusivity(unchecked) private var a = NDArray.zeros([]), b = NDArray.zeros([])
    init(transA: Bool, transB: Bool) {
        self.transA = transA
        self.transB = transB
    }
    override func forward(_ x: NDArray, _ y: NDArray) -> NDArray {
        a = x
        b = y
        if a.ndim < 2 || b.ndim < 2 { typeCheckFailure("matmul: operands must have two or more axes here (shapes \(a.shape) and \(b.shape))") }
        return NDArray.matmul(a, b, transposeA: transA, transposeB: transB)
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        var ga: NDArray?, gb: NDArray?
        if needA {
            // y = A'B' with A' = op(a): dA' = g B'ᵀ; da = transA ? B' gᵀ : dA'.
            ga = (transA ? NDArray.matmul(b, g, transposeA: transB, transposeB: true)
                         : NDArray.matmul(g, b, transposeB: !transB)).sumTo(a.shape)
        }
        if needB {
            gb = (transB ? NDArray.matmul(g, a, transposeA: true, transposeB: transA)
                         : NDArray.matmul(a, g, transposeA: !transA)).sumTo(b.shape)
        }
        return (ga, gb)
    }
}

extension F {
    /// The matrix product `op(a) · op(b)` (NumPy's `matmul` semantics: leading axes broadcast; a 1-D `a` is a
    /// row, a 1-D `b` a column, and that axis is removed from the result).
    /// - Parameters:
    ///   - transA: use the transpose of `a`'s last two axes.
    ///   - transB: use the transpose of `b`'s last two axes.
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
