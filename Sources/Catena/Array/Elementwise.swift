import CCatenaKernels
import Foundation

/// The loops behind every element-wise operation: one generic body per arity, specialised by the compiler for each
/// element type and closure, with flat fast paths for contiguous same-shape and scalar operands and a strided
/// fallback (``LoopPlan``) for views and broadcasting.
@usableFromInline
enum Elementwise {
    /// `out[i] = f(a[i])`. The result is a new contiguous array of `a`'s shape (or `dest` if given, which must be
    /// contiguous with that shape and may alias `a`).
    @inlinable @inline(__always)
    static func unary<T: NDArrayElement, U: NDArrayElement>(
        _ a: NDArray, into dest: NDArray? = nil, _ f: (T) -> U
    ) -> NDArray {
        let out = dest ?? (a.isContiguous ? NDArray(uninitializedLike: a, dtype: U.dtype)
                                           : NDArray(uninitializedShape: a.shape, dtype: U.dtype))
        let po = out.pointer(U.self), pa = a.pointer(T.self)
        if a.isContiguous {
            for i in 0..<a.count { po[i] = f(pa[i]) }
            return out
        }
        var plan = LoopPlan(shape: a.shape, operandStrides: [out.strides, a.strides])
        plan.forEachRun { off, n, inner in
            let o = po + off[0], x = pa + off[1], sx = inner[1]
            for i in 0..<n { o[i] = f(x[i * sx]) }
        }
        return out
    }

    /// `out[i] = f(a[i], b[i])` with NumPy broadcasting. The result is a new contiguous array of the broadcast shape
    /// (or `dest`, contiguous with that shape, which may alias `a`). `float32Kernel` names the operation `f` is among
    /// the kernel library's (``catena_binary_f32``: 0 add, 1 subtract, 2 multiply, 3 divide), whose vectorised loops
    /// then run the float32 flat cases.
    @inlinable @inline(__always)
    static func binary<T: NDArrayElement, U: NDArrayElement>(
        _ a: NDArray, _ b: NDArray, op: String, into dest: NDArray? = nil, float32Kernel: Int32? = nil, _ f: (T, T) -> U
    ) -> NDArray {
        let sameShape = a.shape == b.shape
        let shape = sameShape ? a.shape : NDArray.broadcastShapes(a.shape, b.shape, op: op)
        let out: NDArray
        if let dest {
            out = dest
        } else if a.isContiguous && (sameShape || a.shape == shape) {
            out = NDArray(uninitializedLike: a, dtype: U.dtype)
        } else if b.isContiguous && b.shape == shape {
            out = NDArray(uninitializedLike: b, dtype: U.dtype)
        } else {
            out = NDArray(uninitializedShape: shape, dtype: U.dtype)
        }
        let po = out.pointer(U.self), pa = a.pointer(T.self), pb = b.pointer(T.self)
        let n = out.count
        if a.isContiguous && b.isContiguous {
            if let code = float32Kernel, T.self == Float.self, U.self == Float.self {
                let mode: Int32 = sameShape ? 0 : (b.count == 1 && a.count == n ? 1 : (a.count == 1 && b.count == n ? 2 : -1))
                if mode >= 0 {
                    func f32<V>(_ p: UnsafeMutablePointer<V>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
                    catena_binary_f32(code, f32(pa), f32(pb), f32(po), n, mode)
                    return out
                }
            }
            if sameShape {
                if T.self == U.self && UnsafeRawPointer(po) == UnsafeRawPointer(pa) {
                    // In place: one pointer for both, so the loop vectorises instead of failing an overlap check.
                    let q = UnsafeMutableRawPointer(po).assumingMemoryBound(to: T.self)
                    for i in 0..<n { q[i] = unsafeBitCast(f(q[i], pb[i]), to: T.self) }
                } else {
                    for i in 0..<n { po[i] = f(pa[i], pb[i]) }
                }
                return out
            }
            if b.count == 1 && a.count == n {
                let s = pb[0]
                for i in 0..<n { po[i] = f(pa[i], s) }
                return out
            }
            if a.count == 1 && b.count == n {
                let s = pa[0]
                for i in 0..<n { po[i] = f(s, pb[i]) }
                return out
            }
        }
        var plan = LoopPlan(shape: shape, operandStrides: [
            out.strides, a.broadcastStrides(to: shape, op: op), b.broadcastStrides(to: shape, op: op),
        ])
        plan.forEachRun { off, n, inner in
            let o = po + off[0], x = pa + off[1], y = pb + off[2]
            let sx = inner[1], sy = inner[2]
            if sx == 1 && sy == 1 {
                for i in 0..<n { o[i] = f(x[i], y[i]) }
            } else if sx == 1 && sy == 0 {
                let s = y[0]
                for i in 0..<n { o[i] = f(x[i], s) }
            } else if sx == 0 && sy == 1 {
                let s = x[0]
                for i in 0..<n { o[i] = f(s, y[i]) }
            } else {
                for i in 0..<n { o[i] = f(x[i * sx], y[i * sy]) }
            }
        }
        return out
    }

    /// `out[i] = f(a[i], b[i], c[i])` with broadcasting of all three; a new contiguous array.
    @inlinable @inline(__always)
    static func ternary<A: NDArrayElement, T: NDArrayElement, U: NDArrayElement>(
        _ a: NDArray, _ b: NDArray, _ c: NDArray, op: String, _ f: (A, T, T) -> U
    ) -> NDArray {
        let shape = NDArray.broadcastShapes(NDArray.broadcastShapes(a.shape, b.shape, op: op), c.shape, op: op)
        let out = NDArray(uninitializedShape: shape, dtype: U.dtype)
        let po = out.pointer(U.self), pa = a.pointer(A.self), pb = b.pointer(T.self), pc = c.pointer(T.self)
        var plan = LoopPlan(shape: shape, operandStrides: [
            out.strides, a.broadcastStrides(to: shape, op: op), b.broadcastStrides(to: shape, op: op),
            c.broadcastStrides(to: shape, op: op),
        ])
        plan.forEachRun { off, n, inner in
            let o = po + off[0], x = pa + off[1], y = pb + off[2], z = pc + off[3]
            let sx = inner[1], sy = inner[2], sz = inner[3]
            for i in 0..<n { o[i] = f(x[i * sx], y[i * sy], z[i * sz]) }
        }
        return out
    }
}

/// The arithmetic operations shared by the operators, the in-place operators and ``NDArray/maximum(_:_:)``.
@usableFromInline
enum BinaryOp: Sendable {
    case add, sub, mul, div, pow, maximum, minimum

    @usableFromInline var name: String {
        switch self {
        case .add: return "add"
        case .sub: return "sub"
        case .mul: return "mul"
        case .div: return "div"
        case .pow: return "pow"
        case .maximum: return "maximum"
        case .minimum: return "minimum"
        }
    }
}

/// Comparisons producing bool masks.
@usableFromInline
enum CompareOp: Sendable {
    case equal, notEqual, less, lessEqual, greater, greaterEqual
}

extension NDArray {
    /// Applies `op` element-wise with broadcasting, writing into `dest` when given.
    @usableFromInline
    static func arithmetic(_ a: NDArray, _ b: NDArray, _ op: BinaryOp, into dest: NDArray? = nil) -> NDArray {
        a.checkSameDType(b, op: op.name)
        return a.dtype.withFloatOrIntegerType(orFail: "\(op.name): bool arrays do not support arithmetic; convert with astype(_:)",
                                              float: { floatArithmetic($0, a, b, op, dest) }, integer: { integerArithmetic($0, a, b, op, dest) })
    }

    @inline(__always)
    static func floatArithmetic<T: NDFloatingPoint>(_: T.Type, _ a: NDArray, _ b: NDArray, _ op: BinaryOp, _ dest: NDArray?) -> NDArray {
        let name = op.name
        switch op {
        case .add: return Elementwise.binary(a, b, op: name, into: dest, float32Kernel: 0) { (x: T, y: T) in x + y }
        case .sub: return Elementwise.binary(a, b, op: name, into: dest, float32Kernel: 1) { (x: T, y: T) in x - y }
        case .mul: return Elementwise.binary(a, b, op: name, into: dest, float32Kernel: 2) { (x: T, y: T) in x * y }
        case .div: return Elementwise.binary(a, b, op: name, into: dest, float32Kernel: 3) { (x: T, y: T) in x / y }
        case .pow:
            if b.count == 1 && b.isContiguous {
                let e = b.pointer(T.self)[0]
                if e == 2 { return Elementwise.binary(a, b, op: name, into: dest) { (x: T, _: T) in x * x } }
                if e == 1 { return Elementwise.binary(a, b, op: name, into: dest) { (x: T, _: T) in x } }
                if e == 0.5 { return Elementwise.binary(a, b, op: name, into: dest) { (x: T, _: T) in x.squareRoot() } }
            }
            return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in T._pow(x, y) }
        case .maximum:  // NaN propagates, as NumPy's maximum
            return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in x.isNaN || x >= y ? x : y }
        case .minimum:
            return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in x.isNaN || x <= y ? x : y }
        }
    }

    @inline(__always)
    static func integerArithmetic<T: NDNumeric & FixedWidthInteger>(_: T.Type, _ a: NDArray, _ b: NDArray, _ op: BinaryOp, _ dest: NDArray?) -> NDArray {
        let name = op.name
        switch op {
        case .add: return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in x &+ y }
        case .sub: return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in x &- y }
        case .mul: return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in x &* y }
        case .div: return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in T._divide(x, y) }
        case .pow:
            return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) -> T in
                if y < 0 { return x == 1 ? 1 : (x == -1 ? (y & 1 == 0 ? 1 : -1) : 0) }
                var result: T = 1, base = x, e = y
                while e > 0 {
                    if e & 1 == 1 { result = result &* base }
                    base = base &* base
                    e >>= 1
                }
                return result
            }
        case .maximum: return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in Swift.max(x, y) }
        case .minimum: return Elementwise.binary(a, b, op: name, into: dest) { (x: T, y: T) in Swift.min(x, y) }
        }
    }

    @usableFromInline
    static func compare(_ a: NDArray, _ b: NDArray, _ op: CompareOp) -> NDArray {
        a.checkSameDType(b, op: "compare")
        func go<T: NDArrayElement & Comparable>(_: T.Type) -> NDArray {
            switch op {
            case .equal: return Elementwise.binary(a, b, op: "equal") { (x: T, y: T) in x == y }
            case .notEqual: return Elementwise.binary(a, b, op: "not_equal") { (x: T, y: T) in x != y }
            case .less: return Elementwise.binary(a, b, op: "less") { (x: T, y: T) in x < y }
            case .lessEqual: return Elementwise.binary(a, b, op: "less_equal") { (x: T, y: T) in x <= y }
            case .greater: return Elementwise.binary(a, b, op: "greater") { (x: T, y: T) in x > y }
            case .greaterEqual: return Elementwise.binary(a, b, op: "greater_equal") { (x: T, y: T) in x >= y }
            }
        }
        if a.dtype == .bool { return compare(a.astype(.int32), b.astype(.int32), op) }
        return a.dtype.withNumericType(orFail: "") { go($0) }
    }

    /// A 0-d array of this array's dtype holding `value`, for scalar operands.
    /// - Precondition: integer arrays take only integral scalars.
    @usableFromInline
    func scalarOperand(_ value: Double, op: String) -> NDArray {
        if dtype.isInteger && value.rounded(.towardZero) != value {
            typeCheckFailure("\(op): the scalar \(value) cannot be combined with an \(dtype) array without losing its fraction; convert the array with astype(.float32)")
        }
        if dtype == .bool { typeCheckFailure("\(op): bool arrays do not support arithmetic; convert with astype(_:)") }
        return NDArray(scalar: value, dtype: dtype)
    }
}
