import Foundation

extension NDArray {
    /// The matrix product, as NumPy's `matmul`, with optional transposition of either operand's last two axes.
    ///
    /// - 2-D × 2-D: `(m, k) · (k, n) → (m, n)`.
    /// - N-D: the last two axes are matrices, the leading axes broadcast (`(b, m, k) · (k, n) → (b, m, n)`).
    /// - 1-D operands are promoted as in NumPy (a leading or trailing axis of 1 that is removed afterwards).
    ///
    /// Transposed operands and other strided views are read in place, never copied. Float products run the packed
    /// SIMD kernel (both cores for large products); integer products use a simple loop.
    /// - Precondition: same dtype; the contracted sizes match.
    public static func matmul(_ a: NDArray, _ b: NDArray, transposeA: Bool = false, transposeB: Bool = false) -> NDArray {
        a.checkSameDType(b, op: "matmul")
        if a.dtype == .bool { typeCheckFailure("matmul: bool arrays cannot be multiplied") }
        if a.ndim == 0 || b.ndim == 0 { typeCheckFailure("matmul: operands must have at least one dimension (shapes \(a.shape) and \(b.shape))") }
        if a.ndim == 2 && b.ndim == 2 { return matmul2D(a, b, transposeA: transposeA, transposeB: transposeB) }
        var x = a, y = b
        let aVector = a.ndim == 1, bVector = b.ndim == 1
        if aVector { x = x.expandedDims(axis: 0) }
        if bVector { y = y.expandedDims(axis: 1) }
        if transposeA && !aVector { x = x.swappedAxes(-1, -2) }
        if transposeB && !bVector { y = y.swappedAxes(-1, -2) }
        let m = x.shape[x.ndim - 2], k = x.shape[x.ndim - 1]
        let k2 = y.shape[y.ndim - 2], n = y.shape[y.ndim - 1]
        if k != k2 {
            typeCheckFailure("matmul: the contracted axes differ: a\(transposeA ? "ᵀ" : "") has shape \(x.shape) and b\(transposeB ? "ᵀ" : "") has shape \(y.shape) (\(k) vs \(k2))")
        }
        let batchA = Array(x.shape.dropLast(2)), batchB = Array(y.shape.dropLast(2))
        let batch = NDArray.broadcastShapes(batchA, batchB, op: "matmul")
        var outShape = batch + [m, n]
        let out = NDArray(uninitializedShape: outShape, dtype: a.dtype)
        // Offsets of each batch's matrix in x and y (broadcast axes repeat the same matrix).
        let xs = x.batchOffsets(to: batch), ys = y.batchOffsets(to: batch)
        let rsa = x.axisStride(x.ndim - 2), csa = x.axisStride(x.ndim - 1)
        let rsb = y.axisStride(y.ndim - 2), csb = y.axisStride(y.ndim - 1)
        products(x, y, into: out, m: m, n: n, k: k, strides: (rsa, csa, rsb, csb), offsets: (xs, ys))
        if aVector { outShape.remove(at: outShape.count - 2) }
        if bVector { outShape.removeLast() }
        return out.reshaped(outShape)
    }

    /// `op(a) · op(b)` for two matrices: the operands' strides go to the kernel as they are (a transposed operand
    /// is its strides swapped), without the views, batch offsets and shape arithmetic of the general case.
    private static func matmul2D(_ a: NDArray, _ b: NDArray, transposeA: Bool, transposeB: Bool) -> NDArray {
        let m = a.shape[transposeA ? 1 : 0], k = a.shape[transposeA ? 0 : 1]
        let k2 = b.shape[transposeB ? 1 : 0], n = b.shape[transposeB ? 0 : 1]
        if k != k2 {
            typeCheckFailure("matmul: the contracted axes differ: a\(transposeA ? "ᵀ" : "") has shape \([m, k]) and b\(transposeB ? "ᵀ" : "") has shape \([k2, n]) (\(k) vs \(k2))")
        }
        let rsa = a.axisStride(transposeA ? 1 : 0), csa = a.axisStride(transposeA ? 0 : 1)
        let rsb = b.axisStride(transposeB ? 1 : 0), csb = b.axisStride(transposeB ? 0 : 1)
        let out = NDArray(uninitializedShape: [m, n], dtype: a.dtype)
        products(a, b, into: out, m: m, n: n, k: k, strides: (rsa, csa, rsb, csb), offsets: nil)
        return out
    }

    /// `out[i] = a[i] · b[i]` for each matrix `i` (element offsets `offsets` into `a` and `b`, or one matrix each when
    /// nil), the float kernel for float dtypes and a plain loop for integers; `out` holds the products contiguously.
    private static func products(_ a: NDArray, _ b: NDArray, into out: NDArray, m: Int, n: Int, k: Int,
                                 strides: (rsa: Int, csa: Int, rsb: Int, csb: Int), offsets: ([Int], [Int])?) {
        let count = offsets?.0.count ?? 1
        func run<T: NDNumeric>(_: T.Type, _ product: (Int, UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void) {
            let pa = a.pointer(T.self), pb = b.pointer(T.self), pc = out.pointer(T.self)
            for i in 0..<count { product(i, pa + (offsets?.0[i] ?? 0), pb + (offsets?.1[i] ?? 0), pc + i * m * n) }
        }
        func float<T: GEMMScalar>(_: T.Type) {
            run(T.self) { _, x, y, c in
                GEMM.gemm(m: m, n: n, k: k, alpha: 1, a: MatrixOperand(x, strides.rsa, strides.csa), b: MatrixOperand(y, strides.rsb, strides.csb),
                          c: c, rsc: n, accumulate: false)
            }
        }
        func integer<T: NDNumeric>(_: T.Type) {
            run(T.self) { _, x, y, c in
                GEMM.naive(m: m, n: n, k: k, a: MatrixOperand(x, strides.rsa, strides.csa), b: MatrixOperand(y, strides.rsb, strides.csb),
                           c: c, rsc: n, accumulate: false)
            }
        }
        if a.dtype == .bool { return }
        a.dtype.withFloatOrIntegerType(orFail: "matmul: \(a.dtype)", float: { float($0) }, integer: { integer($0) })
    }

    /// The element offset of each matrix when the leading (batch) axes are broadcast to `batch`.
    @usableFromInline
    func batchOffsets(to batch: [Int]) -> [Int] {
        if batch.isEmpty { return [0] }
        let lead = Array(shape.dropLast(2)), leadStrides = Array(strides.dropLast(2))
        let view = NDArray(storage: storage, dtype: dtype, shape: lead, strides: leadStrides, offset: 0)
        let bs = view.broadcastStrides(to: batch, op: "matmul")
        let total = batch.reduce(1, *)
        var offsets = [Int](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: batch.count)
        for i in 0..<total {
            var off = 0
            for d in 0..<batch.count { off += index[d] * bs[d] }
            offsets[i] = off
            var d = batch.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < batch[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return offsets
    }

    /// `C = alpha · op(A) · op(B) + (accumulate ? C : 0)` for 2-D float arrays, writing into `c` in place (copying
    /// it first only if its storage is shared). This is how gradients are accumulated without temporaries.
    /// - Precondition: 2-D operands of one float dtype with matching sizes; `c` has shape `(m, n)`.
    public static func gemm(_ a: NDArray, _ b: NDArray, into c: inout NDArray, transposeA: Bool = false, transposeB: Bool = false,
                            alpha: Double = 1, accumulate: Bool = false) {
        gemm(a, b, into: &c, transposeA: transposeA, transposeB: transposeB, alpha: alpha, accumulate: accumulate, rowBias: nil)
    }

    /// ``gemm(_:_:into:transposeA:transposeB:alpha:accumulate:)`` with every row of `c` starting from `rowBias`
    /// (a vector of `n` values of the operands' dtype) when given: `C = alpha · op(A) · op(B) + 1 · rowBiasᵀ`, the
    /// bias written by each thread into its own part of C just before its product (a layer's bias in no separate
    /// pass).
    static func gemm(_ a: NDArray, _ b: NDArray, into c: inout NDArray, transposeA: Bool = false, transposeB: Bool = false,
                     alpha: Double = 1, accumulate: Bool = false, rowBias: NDArray?) {
        a.checkSameDType(b, op: "gemm")
        a.checkSameDType(c, op: "gemm")
        if a.ndim != 2 || b.ndim != 2 || c.ndim != 2 { typeCheckFailure("gemm: operands must be 2-D (shapes \(a.shape), \(b.shape), \(c.shape))") }
        // A transposed operand is read through its strides swapped (no view is made).
        let m = a.shape[transposeA ? 1 : 0], k = a.shape[transposeA ? 0 : 1]
        let k2 = b.shape[transposeB ? 1 : 0], n = b.shape[transposeB ? 0 : 1]
        if k2 != k || c.shape[0] != m || c.shape[1] != n {
            typeCheckFailure("gemm: shapes \([m, k]) · \([k2, n]) do not produce \(c.shape)")
        }
        let rsa = a.axisStride(transposeA ? 1 : 0), csa = a.axisStride(transposeA ? 0 : 1)
        let rsb = b.axisStride(transposeB ? 1 : 0), csb = b.axisStride(transposeB ? 0 : 1)
        let bias = rowBias?.contiguous()
        if let bias {
            a.checkSameDType(bias, op: "gemm")
            if bias.count != n { typeCheckFailure("gemm: a row bias of \(bias.count) values for \(n) columns") }
        }
        c.makeUniqueContiguous()
        func run<T: GEMMScalar>(_: T.Type) {
            withExtendedLifetime(bias) {
                GEMM.gemm(m: m, n: n, k: k, alpha: T(alpha), a: MatrixOperand(a.pointer(T.self), rsa, csa),
                          b: MatrixOperand(b.pointer(T.self), rsb, csb), c: c.pointer(T.self), rsc: n, accumulate: accumulate,
                          bSource: (b.storage, b.offset), rowBias: bias.map { UnsafePointer($0.pointer(T.self)) })
            }
        }
        a.dtype.withFloatType(orFail: "gemm: expected float arrays, got \(a.dtype)") { run($0) }
    }
}
