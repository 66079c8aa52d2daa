import Foundation

// Element-wise kernels written once for every float type. A kernel is a small struct whose generic method is the
// per-element body; `NDArray.map` specialises it for Float and Double, so backward formulas such as
// `gy * (1 - y * y)` run as one fused loop without temporaries.

/// A per-element function of one float value.
public protocol UnaryFloatKernel {
    /// The result for one element `x`, the same formula for `Float` and `Double`.
    func callAsFunction<T: NDFloatingPoint>(_ x: T) -> T
}

/// A per-element function of two float values.
public protocol BinaryFloatKernel {
    /// The result for one pair of corresponding elements, the same formula for `Float` and `Double`.
    func callAsFunction<T: NDFloatingPoint>(_ x: T, _ y: T) -> T
}

/// A per-element function of three float values.
public protocol TernaryFloatKernel {
    /// The result for one triple of corresponding elements, the same formula for `Float` and `Double`.
    func callAsFunction<T: NDFloatingPoint>(_ x: T, _ y: T, _ z: T) -> T
}

extension NDArray {
    /// `kernel(x)` for every element of a float array, as a new contiguous array.
    @inlinable
    public static func map<K: UnaryFloatKernel>(_ x: NDArray, _ kernel: K, op: String = "map") -> NDArray {
        func go<T: NDFloatingPoint>(_: T.Type) -> NDArray { Elementwise.unary(x) { (v: T) in kernel(v) } }
        return x.dtype.withFloatType(orFail: "\(op): expected a floating-point array, got \(x.dtype)") { go($0) }
    }

    /// `kernel(x, y)` element-wise with broadcasting, for float arrays of one dtype.
    @inlinable
    public static func map<K: BinaryFloatKernel>(_ x: NDArray, _ y: NDArray, _ kernel: K, op: String = "map") -> NDArray {
        x.checkSameDType(y, op: op)
        func go<T: NDFloatingPoint>(_: T.Type) -> NDArray { Elementwise.binary(x, y, op: op) { (a: T, b: T) in kernel(a, b) } }
        return x.dtype.withFloatType(orFail: "\(op): expected floating-point arrays, got \(x.dtype)") { go($0) }
    }

    /// `kernel(x, y, z)` element-wise with broadcasting, for float arrays of one dtype.
    @inlinable
    public static func map<K: TernaryFloatKernel>(_ x: NDArray, _ y: NDArray, _ z: NDArray, _ kernel: K, op: String = "map") -> NDArray {
        x.checkSameDType(y, op: op)
        x.checkSameDType(z, op: op)
        let flat = x.isContiguous && y.isContiguous && z.isContiguous && x.shape == y.shape && x.shape == z.shape
        func go<T: NDFloatingPoint>(_: T.Type) -> NDArray {
            if !flat { return Elementwise.ternary(x, y, z, op: op) { (a: T, b: T, c: T) in kernel(a, b, c) } }
            let out = NDArray(uninitializedLike: x, dtype: x.dtype)
            let px = x.pointer(T.self), py = y.pointer(T.self), pz = z.pointer(T.self), po = out.pointer(T.self)
            for i in 0..<x.count { po[i] = kernel(px[i], py[i], pz[i]) }
            return out
        }
        return x.dtype.withFloatType(orFail: "\(op): expected floating-point arrays, got \(x.dtype)") { go($0) }
    }

    /// The sum of this array down to `shape`, undoing broadcasting: leading axes are summed away and axes where
    /// `shape` has 1 are summed with keepDims (Chainer's `sum_to`). The gradient of a broadcast.
    /// - Precondition: `shape` broadcasts to this array's shape.
    public func sumTo(_ target: [Int]) -> NDArray {
        if target == shape { return self }
        let lead = ndim - target.count
        if lead < 0 { typeCheckFailure("sum_to: cannot reduce shape \(shape) to the larger rank of \(target)") }
        var axes = Array(0..<lead)
        for (i, d) in target.enumerated() {
            if d == 1 && shape[lead + i] != 1 { axes.append(lead + i) } else if d != shape[lead + i] {
                typeCheckFailure("sum_to: shape \(target) does not broadcast to \(shape)")
            }
        }
        var r = sum(axes: axes, keepDims: true)
        if lead > 0 { r = r.reshaped(target) }
        return r.shape == target ? r : r.reshaped(target)
    }
}
