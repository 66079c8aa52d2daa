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
        switch dtype {
        case .float32:
            if isContiguous, let vec = NDArray.vectorKernel(f) {
                let out = dest ?? NDArray(uninitializedLike: self, dtype: .float32)
                vec(pointer(Float.self), out.pointer(Float.self), count)
                return out
            }
            return NDArray.scalarMath(Float.self, self, f, dest)
        case .float64: return NDArray.scalarMath(Double.self, self, f, dest)
        default: typeCheckFailure("\(f.name): expected a floating-point array, got \(dtype); convert with astype(.float32)")
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
        switch dtype {
        case .float32: return Elementwise.unary(self) { (v: Float) in Swift.abs(v) }
        case .float64: return Elementwise.unary(self) { (v: Double) in Swift.abs(v) }
        case .int32: return Elementwise.unary(self) { (v: Int32) in v < 0 ? 0 &- v : v }
        case .int64: return Elementwise.unary(self) { (v: Int64) in v < 0 ? 0 &- v : v }
        case .uint8, .bool: return self
        }
    }

    /// -1, 0 or 1 by the sign of each element (NaN stays NaN).
    public func sign() -> NDArray {
        func f<T: NDNumeric>(_: T.Type) -> NDArray {
            Elementwise.unary(self) { (v: T) -> T in v > T._zero ? T._one : (v < T._zero ? T._zero - T._one : (v == T._zero ? T._zero : v)) }
        }
        switch dtype {
        case .float32: return f(Float.self)
        case .float64: return f(Double.self)
        case .int32: return f(Int32.self)
        case .int64: return f(Int64.self)
        case .uint8: return f(UInt8.self)
        case .bool: return self
        }
    }

    /// `x * x` element-wise.
    public func squared() -> NDArray { NDArray.arithmetic(self, self, .mul) }

    /// `max(x, 0)` element-wise (NaN stays NaN).
    public func relu() -> NDArray {
        switch dtype {
        case .float32: return Elementwise.unary(self) { (v: Float) in v > 0 || v.isNaN ? v : 0 }
        case .float64: return Elementwise.unary(self) { (v: Double) in v > 0 || v.isNaN ? v : 0 }
        case .int32: return Elementwise.unary(self) { (v: Int32) in v > 0 ? v : 0 }
        case .int64: return Elementwise.unary(self) { (v: Int64) in v > 0 ? v : 0 }
        case .uint8, .bool: return self
        }
    }

    /// True where an element is NaN.
    public func isNaN() -> NDArray {
        switch dtype {
        case .float32: return Elementwise.unary(self) { (v: Float) in v.isNaN }
        case .float64: return Elementwise.unary(self) { (v: Double) in v.isNaN }
        default: return NDArray.zeros(shape, dtype: .bool)
        }
    }

    /// True where an element is finite (neither infinite nor NaN).
    public func isFinite() -> NDArray {
        switch dtype {
        case .float32: return Elementwise.unary(self) { (v: Float) in v.isFinite }
        case .float64: return Elementwise.unary(self) { (v: Double) in v.isFinite }
        default: return NDArray.ones(shape, dtype: .bool)
        }
    }
}
