import CCatenaKernels
import Foundation

/// The reductions over one or more axes.
@usableFromInline
enum ReduceOp: Sendable {
    case sum, max, min

    @usableFromInline var name: String {
        switch self {
        case .sum: return "sum"
        case .max: return "max"
        case .min: return "min"
        }
    }
}

extension NDArray {
    // MARK: - Public reductions

    /// The sum over all elements (a 0-d array), or over `axis`. Bool arrays sum to int64 counts.
    public func sum(axis: Int? = nil, keepDims: Bool = false) -> NDArray { reduce(.sum, axes: axis.map { [$0] }, keepDims: keepDims) }
    /// The sum over several axes.
    public func sum(axes: [Int], keepDims: Bool = false) -> NDArray { reduce(.sum, axes: axes, keepDims: keepDims) }

    /// `Σ x²` over every element, accumulated in float64 whatever the dtype (the squared norm of a gradient): one
    /// pass over float32 data in the kernel library, without a float64 copy of the array.
    func sumOfSquares() -> Double {
        let x = contiguous()
        switch x.dtype {
        case .float32:
            return withExtendedLifetime(x) { catena_sum_squares_f32(x.pointer(Float.self), x.count) }
        case .float64:
            let p = x.pointer(Double.self)
            return withExtendedLifetime(x) { (0..<x.count).reduce(0.0) { $0 + p[$1] * p[$1] } }
        default:
            return x.astype(.float64).sumOfSquares()
        }
    }

    /// The arithmetic mean over all elements or over `axis` (float64 for integer arrays).
    public func mean(axis: Int? = nil, keepDims: Bool = false) -> NDArray { mean(axes: axis.map { [$0] }, keepDims: keepDims) }
    /// The mean over several axes (all when nil).
    public func mean(axes: [Int]?, keepDims: Bool = false) -> NDArray {
        let source = dtype.isFloatingPoint ? self : astype(.float64)
        let s = source.reduce(.sum, axes: axes, keepDims: keepDims)
        let n = count / Swift.max(s.count, 1)
        return s / Double(Swift.max(n, 1))
    }

    /// The variance over all elements or over `axis` (NumPy's `var`): the mean of `(x − mean)²`, divided by
    /// `n − ddof` instead of `n` (`ddof: 1` gives the unbiased sample variance). Float64 for integer arrays.
    /// - Precondition: `ddof >= 0`. A reduced extent of `ddof` elements or fewer gives NaN (and, for `n − ddof < 0`,
    ///   infinity in NumPy; NaN here).
    public func variance(axis: Int? = nil, ddof: Int = 0, keepDims: Bool = false) -> NDArray {
        variance(axes: axis.map { [$0] }, ddof: ddof, keepDims: keepDims)
    }

    /// The variance over several axes (all when nil).
    public func variance(axes: [Int]?, ddof: Int = 0, keepDims: Bool = false) -> NDArray {
        if ddof < 0 { typeCheckFailure("var: ddof must not be negative, got \(ddof)") }
        let source = dtype.isFloatingPoint ? self : astype(.float64)
        let centred = source - source.mean(axes: axes, keepDims: true)
        let s = (centred * centred).reduce(.sum, axes: axes, keepDims: keepDims)
        let n = count / Swift.max(s.count, 1)
        return n - ddof > 0 ? s / Double(n - ddof) : NDArray.full(s.shape, .nan, dtype: s.dtype)
    }

    /// The standard deviation over all elements or over `axis` (NumPy's `std`): the square root of
    /// ``variance(axis:ddof:keepDims:)``.
    public func std(axis: Int? = nil, ddof: Int = 0, keepDims: Bool = false) -> NDArray {
        variance(axis: axis, ddof: ddof, keepDims: keepDims).sqrt()
    }

    /// The standard deviation over several axes (all when nil).
    public func std(axes: [Int]?, ddof: Int = 0, keepDims: Bool = false) -> NDArray {
        variance(axes: axes, ddof: ddof, keepDims: keepDims).sqrt()
    }

    /// The maximum over all elements or over `axis` (NaN propagates).
    /// - Precondition: the reduced extent is not empty.
    public func max(axis: Int? = nil, keepDims: Bool = false) -> NDArray { reduce(.max, axes: axis.map { [$0] }, keepDims: keepDims) }
    /// The maximum over several axes.
    public func max(axes: [Int], keepDims: Bool = false) -> NDArray { reduce(.max, axes: axes, keepDims: keepDims) }
    /// The minimum over all elements or over `axis` (NaN propagates).
    public func min(axis: Int? = nil, keepDims: Bool = false) -> NDArray { reduce(.min, axes: axis.map { [$0] }, keepDims: keepDims) }
    /// The minimum over several axes.
    public func min(axes: [Int], keepDims: Bool = false) -> NDArray { reduce(.min, axes: axes, keepDims: keepDims) }

    /// `log(sum(exp(x)))` over all elements or the given axes, computed stably (the maximum is factored out).
    public func logSumExp(axes: [Int]? = nil, keepDims: Bool = false) -> NDArray {
        if !dtype.isFloatingPoint { typeCheckFailure("logsumexp: expected a floating-point array, got \(dtype)") }
        let all = axes ?? Array(0..<ndim)
        var m = reduce(.max, axes: all, keepDims: true)
        // An all -inf (or empty-range) slice would give -inf - -inf = NaN; shifting by 0 there is exact.
        m = NDArray.where(m.isFinite(), m, NDArray.zeros([], dtype: dtype))
        let s = (self - m).exp().reduce(.sum, axes: all, keepDims: true).log() + m
        return keepDims ? s : s.squeezed(axes: all)
    }

    /// `log(sum(exp(x)))` over one axis.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> NDArray { logSumExp(axes: [axis], keepDims: keepDims) }

    /// The index of the largest element along `axis` (of the flattened array when nil), as int32. Ties give the
    /// first index; a NaN counts as the largest.
    public func argmax(axis: Int? = nil) -> NDArray { argReduce(axis: axis, largest: true) }
    /// The index of the smallest element along `axis` (of the flattened array when nil), as int32.
    public func argmin(axis: Int? = nil) -> NDArray { argReduce(axis: axis, largest: false) }

    // MARK: - Layout: (outer, reduced, inner)

    /// Normalised, sorted, de-duplicated axes and the result shape.
    @usableFromInline
    func reductionAxes(_ axes: [Int]?, op: String) -> [Int] {
        guard let axes else { return Array(0..<ndim) }
        var out = axes.map { normalizedAxis($0, op: op) }
        out.sort()
        for i in 1..<Swift.max(out.count, 1) where out[i] == out[i - 1] {
            typeCheckFailure("\(op): duplicate value in axes \(axes)")
        }
        return out
    }

    /// This array as a contiguous (outer, reduced, inner) block, permuting and copying only when the reduced axes
    /// are not already one contiguous block.
    @usableFromInline
    func reductionLayout(_ axes: [Int]) -> (source: NDArray, outer: Int, reduced: Int, inner: Int) {
        let reducedCount = axes.reduce(1) { $0 * shape[$1] }
        if let first = axes.first, axes.last! - first + 1 == axes.count, isContiguous {
            let outer = shape[..<first].reduce(1, *)
            let inner = shape[(axes.last! + 1)...].reduce(1, *)
            return (self, outer, reducedCount, inner)
        }
        let kept = (0..<ndim).filter { !axes.contains($0) }
        let permuted = transposed(kept + axes).contiguous()
        return (permuted, count / Swift.max(reducedCount, 1), reducedCount, 1)
    }

    @usableFromInline
    func reduce(_ op: ReduceOp, axes: [Int]?, keepDims: Bool) -> NDArray {
        if axes == nil && !keepDims && op == .sum && isContiguous && dtype.isFloatingPoint {
            // The whole array to a scalar: no layout work.
            let out = NDArray(uninitializedShape: [], dtype: dtype)
            if dtype == .float32 {
                out.pointer(Float.self)[0] = NDArray.contiguousSum(pointer(Float.self), count)
            } else {
                out.pointer(Double.self)[0] = NDArray.contiguousSum(pointer(Double.self), count)
            }
            return out
        }
        let ax = reductionAxes(axes, op: op.name)
        var outShape = [Int]()
        for i in 0..<ndim {
            if ax.contains(i) { if keepDims { outShape.append(1) } } else { outShape.append(shape[i]) }
        }
        if dtype == .uint8 && op == .sum { return astype(.int64).reduce(op, axes: axes, keepDims: keepDims) }
        if dtype == .bool {
            if op == .sum { return astype(.int64).reduce(op, axes: axes, keepDims: keepDims) }
            return astype(.int32).reduce(op, axes: axes, keepDims: keepDims).astype(.bool)
        }
        let layout = reductionLayout(ax)
        if layout.reduced == 0 && op != .sum {
            typeCheckFailure("\(op.name): zero-size array to reduction operation (shape \(shape), axes \(ax)) which has no identity")
        }
        let out = NDArray(uninitializedShape: outShape, dtype: dtype)
        dtype.withFloatOrIntegerType(orFail: "\(op.name): bool arrays are reduced as integers",
                                     float: { NDArray.reduceFloat($0, op, layout, out) }, integer: { NDArray.reduceGeneric($0, op, layout, out) })
        return out
    }

    // MARK: - Kernels

    @inline(__always)
    static func reduceFloat<T: NDFloatingPoint & SIMDScalar>(
        _: T.Type, _ op: ReduceOp, _ l: (source: NDArray, outer: Int, reduced: Int, inner: Int), _ out: NDArray
    ) {
        guard op == .sum else { return reduceGeneric(T.self, op, l, out) }
        let x = l.source.pointer(T.self), o = out.pointer(T.self)
        if l.inner == 1 {
            for i in 0..<l.outer { o[i] = contiguousSum(x + i * l.reduced, l.reduced) }
            return
        }
        if T.self == Float.self {
            sumRowsFloat32(UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self), UnsafeMutableRawPointer(o).assumingMemoryBound(to: Float.self),
                           l.outer, l.reduced, l.inner)
            return
        }
        reduceRows(T.self, x, o, l.outer, l.reduced, l.inner) { $0 + $1 }
    }

    /// Memory-bound passes over this many elements or more — float32 sums over rows (a bias's gradient over a batch
    /// of sequences' steps), joins (``concatenate(_:axis:)``, ``stack(_:axis:)``) — are split across the threads.
    nonisolated(unsafe) static var parallelElements = 1 << 15

    /// ``reduceRows(_:_:_:_:_:_:_:)`` for a float32 sum: the kernel library's column sums (``catena_sum_rows_f32``: the
    /// rows added in order, so the same bits as adding them one by one), the columns split across the threads when the
    /// sum is large, in groups of 16 so that only the last thread has a part-group of columns.
    static func sumRowsFloat32(_ x: UnsafeMutablePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ outer: Int, _ reduced: Int, _ inner: Int) {
        parallelForRanges((inner + 15) / 16, work: outer * reduced * inner, threshold: parallelElements) { groups in
            let cols = (groups.lowerBound * 16)..<Swift.min(inner, groups.upperBound * 16)
            if cols.isEmpty { return }
            for r in 0..<outer {
                let dst = o + r * inner + cols.lowerBound, base = x + r * reduced * inner + cols.lowerBound
                if reduced == 0 {
                    dst.update(repeating: 0, count: cols.count)
                    continue
                }
                catena_sum_rows_f32(base, dst, reduced, cols.count, inner)
            }
        }
    }

    /// The sum of `n` contiguous elements: SIMD partial sums over blocks, the block sums added in `Double`.
    @inline(__always)
    static func contiguousSum<T: NDFloatingPoint & SIMDScalar>(_ p: UnsafeMutablePointer<T>, _ n: Int) -> T {
        var total = 0.0
        var start = 0
        let raw = UnsafeRawPointer(p)
        let stride = MemoryLayout<T>.stride
        while start < n {
            let end = Swift.min(start + 4096, n)
            var a0 = SIMD8<T>(), a1 = SIMD8<T>(), a2 = SIMD8<T>(), a3 = SIMD8<T>()
            var i = start
            while i + 32 <= end {
                a0 += raw.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<T>.self)
                a1 += raw.loadUnaligned(fromByteOffset: (i + 8) * stride, as: SIMD8<T>.self)
                a2 += raw.loadUnaligned(fromByteOffset: (i + 16) * stride, as: SIMD8<T>.self)
                a3 += raw.loadUnaligned(fromByteOffset: (i + 24) * stride, as: SIMD8<T>.self)
                i += 32
            }
            var s = ((a0 + a1) + (a2 + a3)).sum()
            while i < end {
                s += p[i]
                i += 1
            }
            total += s._doubleValue
            start = end
        }
        return T(_fromDouble: total)
    }

    /// `o[r, :] = x[r, 0, :] ⊕ x[r, 1, :] ⊕ …` for each outer row r, with rows of `inner` contiguous elements.
    @inline(__always)
    static func reduceRows<T: NDArrayElement>(
        _: T.Type, _ x: UnsafeMutablePointer<T>, _ o: UnsafeMutablePointer<T>, _ outer: Int, _ reduced: Int, _ inner: Int,
        _ f: (T, T) -> T
    ) {
        for r in 0..<outer {
            let dst = o + r * inner
            let base = x + r * reduced * inner
            if reduced == 0 { continue }
            dst.update(from: base, count: inner)
            for k in 1..<Swift.max(reduced, 1) {
                let row = base + k * inner
                for j in 0..<inner { dst[j] = f(dst[j], row[j]) }
            }
        }
    }

    @inline(__always)
    static func reduceGeneric<T: NDNumeric>(
        _: T.Type, _ op: ReduceOp, _ l: (source: NDArray, outer: Int, reduced: Int, inner: Int), _ out: NDArray
    ) {
        let x = l.source.pointer(T.self), o = out.pointer(T.self)
        if l.reduced == 0 {  // an empty sum
            o.update(repeating: T._zero, count: out.count)
            return
        }
        switch op {
        case .sum:
            reduceRows(T.self, x, o, l.outer, l.reduced, l.inner) { T._add($0, $1) }
        case .max: reduceRows(T.self, x, o, l.outer, l.reduced, l.inner) { a, b in (b > a || b != b) && a == a ? b : a }
        case .min: reduceRows(T.self, x, o, l.outer, l.reduced, l.inner) { a, b in (b < a || b != b) && a == a ? b : a }
        }
    }

    func argReduce(axis: Int?, largest: Bool) -> NDArray {
        let name = largest ? "argmax" : "argmin"
        if dtype == .bool { return astype(.int32).argReduce(axis: axis, largest: largest) }
        let src: NDArray
        let ax: Int
        if let axis {
            ax = normalizedAxis(axis, op: name)
            src = self
        } else {
            src = flattened()
            ax = 0
        }
        let l = src.reductionLayout([ax])
        if l.reduced == 0 { typeCheckFailure("\(name): attempt to get \(name) of an empty sequence (shape \(shape))") }
        var outShape = src.shape
        outShape.remove(at: ax)
        let out = NDArray(uninitializedShape: outShape, dtype: .int32)
        let o = out.pointer(Int32.self)
        func go<T: NDNumeric>(_: T.Type) {
            let x = l.source.pointer(T.self)
            for r in 0..<l.outer {
                for j in 0..<l.inner {
                    let base = x + r * l.reduced * l.inner + j
                    var best = base[0], bestIndex = 0
                    if best == best {
                        for k in 1..<Swift.max(l.reduced, 1) {
                            let v = base[k * l.inner]
                            if v != v { best = v; bestIndex = k; break }
                            if largest ? v > best : v < best { best = v; bestIndex = k }
                        }
                    }
                    o[r * l.inner + j] = Int32(bestIndex)
                }
            }
        }
        if dtype != .bool { dtype.withNumericType(orFail: "") { go($0) } }
        return out
    }
}
