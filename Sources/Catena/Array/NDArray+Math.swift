import CCatenaKernels
import Foundation

/// The element-wise functions of floating-point arrays.
@usableFromInline
enum UnaryMath: Sendable {
    case exp, log, sqrt, tanh, sigmoid, log1p, expm1

    @usableFromInline var name: String {
        switch self {
        case .exp: return "exp"
        case .log: return "log"
        case .sqrt: return "sqrt"
        case .tanh: return "tanh"
        case .sigmoid: return "sigmoid"
        case .log1p: return "log1p"
        case .expm1: return "expm1"
        }
    }
}

extension NDArray {
    @usableFromInline
    func unaryMath(_ f: UnaryMath, into dest: NDArray? = nil) -> NDArray {
        if dtype == .float32 && isContiguous, let vec = NDArray.vectorKernel(f) {
            let out = dest ?? NDArray(uninitializedLike: self, dtype: .float32)
            vec(pointer(Float.self), out.pointer(Float.self), count)
            return out
        }
        return dtype.withFloatType(orFail: "\(f.name): expected a floating-point array, got \(dtype); convert with astype(.float32)") {
            NDArray.scalarMath($0, self, f, dest)
        }
    }

    /// The vectorised single-precision loop for `f`, if the kernel library has one.
    @usableFromInline
    static func vectorKernel(_ f: UnaryMath) -> ((UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void)? {
        switch f {
        case .exp: return { catena_vexp_f32($0, $1, $2) }
        case .log: return { catena_vlog_f32($0, $1, $2) }
        case .tanh: return { catena_vtanh_f32($0, $1, $2) }
        case .sigmoid: return { catena_vsigmoid_f32($0, $1, $2) }
        default: return nil
        }
    }

    @inline(__always)
    static func scalarMath<T: NDFloatingPoint>(_: T.Type, _ x: NDArray, _ f: UnaryMath, _ dest: NDArray?) -> NDArray {
        switch f {
        case .exp: return Elementwise.unary(x, into: dest) { (v: T) in T._exp(v) }
        case .log: return Elementwise.unary(x, into: dest) { (v: T) in T._log(v) }
        case .sqrt: return Elementwise.unary(x, into: dest) { (v: T) in v.squareRoot() }
        case .tanh: return Elementwise.unary(x, into: dest) { (v: T) in T._tanh(v) }
        case .sigmoid:
            // 1 / (1 + e^-x), written so that neither branch overflows.
            return Elementwise.unary(x, into: dest) { (v: T) -> T in
                if v >= 0 { return 1 / (1 + T._exp(-v)) }
                let e = T._exp(v)
                return e / (1 + e)
            }
        case .log1p: return Elementwise.unary(x, into: dest) { (v: T) in T._log1p(v) }
        case .expm1: return Elementwise.unary(x, into: dest) { (v: T) in T._expm1(v) }
        }
    }

    /// `e^x` element-wise. Float arrays only.
    public func exp() -> NDArray { unaryMath(.exp) }
    /// The natural logarithm element-wise (`-inf` at 0, NaN below). Float arrays only.
    public func log() -> NDArray { unaryMath(.log) }
    /// `log(1 + x)`, accurate for small x. Float arrays only.
    public func log1p() -> NDArray { unaryMath(.log1p) }
    /// `e^x - 1`, accurate for small x. Float arrays only.
    public func expm1() -> NDArray { unaryMath(.expm1) }
    /// The square root element-wise. Float arrays only.
    public func sqrt() -> NDArray { unaryMath(.sqrt) }
    /// The hyperbolic tangent element-wise. Float arrays only.
    public func tanh() -> NDArray { unaryMath(.tanh) }
    /// The logistic sigmoid `1 / (1 + e^-x)` element-wise. Float arrays only.
    public func sigmoid() -> NDArray { unaryMath(.sigmoid) }

    /// The absolute value element-wise.
    public func abs() -> NDArray {
        if dtype == .uint8 || dtype == .bool { return self }
        func float<T: NDFloatingPoint>(_: T.Type) -> NDArray { Elementwise.unary(self) { (v: T) in Swift.abs(v) } }
        func integer<T: NDNumeric & FixedWidthInteger>(_: T.Type) -> NDArray { Elementwise.unary(self) { (v: T) in v < 0 ? 0 &- v : v } }
        return dtype.withFloatOrIntegerType(orFail: "abs: \(dtype)", float: { float($0) }, integer: { integer($0) })
    }

    /// -1, 0 or 1 by the sign of each element (NaN stays NaN).
    public func sign() -> NDArray {
        func f<T: NDNumeric>(_: T.Type) -> NDArray {
            Elementwise.unary(self) { (v: T) -> T in v > T._zero ? T._one : (v < T._zero ? T._zero - T._one : (v == T._zero ? T._zero : v)) }
        }
        if dtype == .bool { return self }
        return dtype.withNumericType(orFail: "sign: bool arrays have no sign") { f($0) }
    }

    /// `x * x` element-wise.
    public func squared() -> NDArray { NDArray.arithmetic(self, self, .mul) }

    /// `max(x, 0)` element-wise (NaN stays NaN).
    public func relu() -> NDArray {
        if dtype == .uint8 || dtype == .bool { return self }
        // `v != v` is NaN's test (never true for integers): NaN stays NaN.
        func go<T: NDNumeric>(_: T.Type) -> NDArray { Elementwise.unary(self) { (v: T) in v > T._zero || v != v ? v : T._zero } }
        return dtype.withNumericType(orFail: "") { go($0) }
    }

    /// True where an element is NaN.
    public func isNaN() -> NDArray {
        if !dtype.isFloatingPoint { return NDArray.zeros(shape, dtype: .bool) }
        func go<T: NDFloatingPoint>(_: T.Type) -> NDArray { Elementwise.unary(self) { (v: T) in v.isNaN } }
        return dtype.withFloatType(orFail: "isnan: expected a floating-point array, got \(dtype)") { go($0) }
    }

    /// True where an element is finite (neither infinite nor NaN).
    public func isFinite() -> NDArray {
        if !dtype.isFloatingPoint { return NDArray.ones(shape, dtype: .bool) }
        func go<T: NDFloatingPoint>(_: T.Type) -> NDArray { Elementwise.unary(self) { (v: T) in v.isFinite } }
        return dtype.withFloatType(orFail: "isfinite: expected a floating-point array, got \(dtype)") { go($0) }
    }
}
