import Foundation

/// The element type of an ``NDArray``, chosen at run time as in NumPy.
///
/// `float32` is the default everywhere (parameters, activations, gradients); `float64` is used by gradient checks;
/// `int32` and `int64` hold labels and ids; `uint8` holds raw bytes such as image pixels (IDX files, NumPy's
/// `uint8`); `bool` holds masks produced by comparisons.
///
/// Integer arithmetic wraps around on overflow, as NumPy's does (`uint8` 250 + 10 is 4); convert with
/// ``NDArray/astype(_:)`` before arithmetic that must not wrap.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 32-bit IEEE float (NumPy's `float32`, Swift's `Float`): the default.
    case float32
    /// 64-bit IEEE float (NumPy's `float64`, Swift's `Double`).
    case float64
    /// 32-bit signed integer (Swift's `Int32`).
    case int32
    /// 64-bit signed integer (Swift's `Int64`).
    case int64
    /// 8-bit unsigned integer (Swift's `UInt8`).
    case uint8
    /// Boolean, one byte per element (Swift's `Bool`).
    case bool

    /// Bytes per element.
    @inlinable public var itemSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .uint8, .bool: return 1
        }
    }

    /// True for `float32` and `float64`.
    @inlinable public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float64: return true
        default: return false
        }
    }

    /// True for `int32`, `int64` and `uint8`.
    @inlinable public var isInteger: Bool {
        switch self {
        case .int32, .int64, .uint8: return true
        default: return false
        }
    }

    /// NumPy's name for the type (`float32`, `int64`, `bool`).
    public var description: String { rawValue }
}

/// A Swift type that can be the element of an ``NDArray``: `Float`, `Double`, `Int32`, `Int64`, `UInt8` or `Bool`.
///
/// The element protocols are closed: their conversion and arithmetic requirements are the kernels' own, behind the
/// `CatenaKernels` SPI, so that they stay out of every importer's completion on `Float`, `Int32`, …. A generic
/// kernel of your own (an ``UpdateKernel``, a ``UnaryFloatKernel``) has the operators and `squareRoot()` of
/// `BinaryFloatingPoint`; for `exp`, `log`, `tanh`, `pow`, `log1p` and `expm1` on a generic `T`, import the SPI:
/// `@_spi(CatenaKernels) import Catena` gives `T._exp(x)` and the rest.
public protocol NDArrayElement: Sendable {
    /// The dtype an array of this element type has.
    static var dtype: DType { get }
    /// Converts from a `Double`, rounding to nearest for floats and toward zero for integers.
    @_spi(CatenaKernels) init(_fromDouble value: Double)
    /// The value as a `Double`.
    @_spi(CatenaKernels) var _doubleValue: Double { get }
}

/// An element type with arithmetic: `Float`, `Double`, `Int32`, `Int64`, `UInt8`.
public protocol NDNumeric: NDArrayElement, Numeric, Comparable {
    @_spi(CatenaKernels) static var _zero: Self { get }
    @_spi(CatenaKernels) static var _one: Self { get }
    /// The smallest and largest representable values (the identities of max and min reductions).
    @_spi(CatenaKernels) static var _lowest: Self { get }
    @_spi(CatenaKernels) static var _highest: Self { get }
    @_spi(CatenaKernels) static func _divide(_ a: Self, _ b: Self) -> Self
    /// Addition that wraps around for integers (as NumPy's) instead of trapping.
    @_spi(CatenaKernels) static func _add(_ a: Self, _ b: Self) -> Self
}

/// A floating-point element type with the elementary functions: `Float` and `Double`.
public protocol NDFloatingPoint: NDNumeric, BinaryFloatingPoint {
    @_spi(CatenaKernels) static func _exp(_ x: Self) -> Self
    @_spi(CatenaKernels) static func _log(_ x: Self) -> Self
    @_spi(CatenaKernels) static func _tanh(_ x: Self) -> Self
    @_spi(CatenaKernels) static func _pow(_ x: Self, _ y: Self) -> Self
    @_spi(CatenaKernels) static func _log1p(_ x: Self) -> Self
    @_spi(CatenaKernels) static func _expm1(_ x: Self) -> Self
}

extension Float: NDFloatingPoint {
    public static var dtype: DType { .float32 }
    @_spi(CatenaKernels) @inlinable public init(_fromDouble value: Double) { self = Float(value) }
    @_spi(CatenaKernels) @inlinable public var _doubleValue: Double { Double(self) }
    @_spi(CatenaKernels) @inlinable public static var _zero: Float { 0 }
    @_spi(CatenaKernels) @inlinable public static var _one: Float { 1 }
    @_spi(CatenaKernels) @inlinable public static var _lowest: Float { -.infinity }
    @_spi(CatenaKernels) @inlinable public static var _highest: Float { .infinity }
    @_spi(CatenaKernels) @inlinable public static func _divide(_ a: Float, _ b: Float) -> Float { a / b }
    @_spi(CatenaKernels) @inlinable public static func _add(_ a: Float, _ b: Float) -> Float { a + b }
    @_spi(CatenaKernels) @inlinable public static func _exp(_ x: Float) -> Float { Foundation.exp(x) }
    @_spi(CatenaKernels) @inlinable public static func _log(_ x: Float) -> Float { Foundation.log(x) }
    @_spi(CatenaKernels) @inlinable public static func _tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    @_spi(CatenaKernels) @inlinable public static func _pow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
    @_spi(CatenaKernels) @inlinable public static func _log1p(_ x: Float) -> Float { Foundation.log1p(x) }
    @_spi(CatenaKernels) @inlinable public static func _expm1(_ x: Float) -> Float { Foundation.expm1(x) }
}

extension Double: NDFloatingPoint {
    public static var dtype: DType { .float64 }
    @_spi(CatenaKernels) @inlinable public init(_fromDouble value: Double) { self = value }
    @_spi(CatenaKernels) @inlinable public var _doubleValue: Double { self }
    @_spi(CatenaKernels) @inlinable public static var _zero: Double { 0 }
    @_spi(CatenaKernels) @inlinable public static var _one: Double { 1 }
    @_spi(CatenaKernels) @inlinable public static var _lowest: Double { -.infinity }
    @_spi(CatenaKernels) @inlinable public static var _highest: Double { .infinity }
    @_spi(CatenaKernels) @inlinable public static func _divide(_ a: Double, _ b: Double) -> Double { a / b }
    @_spi(CatenaKernels) @inlinable public static func _add(_ a: Double, _ b: Double) -> Double { a + b }
    @_spi(CatenaKernels) @inlinable public static func _exp(_ x: Double) -> Double { Foundation.exp(x) }
    @_spi(CatenaKernels) @inlinable public static func _log(_ x: Double) -> Double { Foundation.log(x) }
    @_spi(CatenaKernels) @inlinable public static func _tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @_spi(CatenaKernels) @inlinable public static func _pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    @_spi(CatenaKernels) @inlinable public static func _log1p(_ x: Double) -> Double { Foundation.log1p(x) }
    @_spi(CatenaKernels) @inlinable public static func _expm1(_ x: Double) -> Double { Foundation.expm1(x) }
}

extension Int32: NDNumeric {
    public static var dtype: DType { .int32 }
    @_spi(CatenaKernels) @inlinable public init(_fromDouble value: Double) {
        self = value.isNaN ? 0 : Int32(Swift.max(Swift.min(value, 2147483647), -2147483648).rounded(.towardZero))
    }
    @_spi(CatenaKernels) @inlinable public var _doubleValue: Double { Double(self) }
    @_spi(CatenaKernels) @inlinable public static var _zero: Int32 { 0 }
    @_spi(CatenaKernels) @inlinable public static var _one: Int32 { 1 }
    @_spi(CatenaKernels) @inlinable public static var _lowest: Int32 { .min }
    @_spi(CatenaKernels) @inlinable public static var _highest: Int32 { .max }
    @_spi(CatenaKernels) @inlinable public static func _divide(_ a: Int32, _ b: Int32) -> Int32 { b == 0 ? 0 : (b == -1 ? 0 &- a : a / b) }
    @_spi(CatenaKernels) @inlinable public static func _add(_ a: Int32, _ b: Int32) -> Int32 { a &+ b }
}

extension Int64: NDNumeric {
    public static var dtype: DType { .int64 }
    @_spi(CatenaKernels) @inlinable public init(_fromDouble value: Double) {
        if value.isNaN { self = 0 } else if value >= 9.2233720368547758e18 { self = .max } else if value < -9.2233720368547758e18 { self = .min } else { self = Int64(value.rounded(.towardZero)) }
    }
    @_spi(CatenaKernels) @inlinable public var _doubleValue: Double { Double(self) }
    @_spi(CatenaKernels) @inlinable public static var _zero: Int64 { 0 }
    @_spi(CatenaKernels) @inlinable public static var _one: Int64 { 1 }
    @_spi(CatenaKernels) @inlinable public static var _lowest: Int64 { .min }
    @_spi(CatenaKernels) @inlinable public static var _highest: Int64 { .max }
    @_spi(CatenaKernels) @inlinable public static func _divide(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? 0 : (b == -1 ? 0 &- a : a / b) }
    @_spi(CatenaKernels) @inlinable public static func _add(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }
}

extension UInt8: NDNumeric {
    public static var dtype: DType { .uint8 }
    /// Rounds toward zero and saturates to 0…255 (NaN gives 0).
    @_spi(CatenaKernels) @inlinable public init(_fromDouble value: Double) {
        self = value.isNaN ? 0 : UInt8(Swift.max(Swift.min(value, 255), 0).rounded(.towardZero))
    }
    @_spi(CatenaKernels) @inlinable public var _doubleValue: Double { Double(self) }
    @_spi(CatenaKernels) @inlinable public static var _zero: UInt8 { 0 }
    @_spi(CatenaKernels) @inlinable public static var _one: UInt8 { 1 }
    @_spi(CatenaKernels) @inlinable public static var _lowest: UInt8 { .min }
    @_spi(CatenaKernels) @inlinable public static var _highest: UInt8 { .max }
    @_spi(CatenaKernels) @inlinable public static func _divide(_ a: UInt8, _ b: UInt8) -> UInt8 { b == 0 ? 0 : a / b }
    @_spi(CatenaKernels) @inlinable public static func _add(_ a: UInt8, _ b: UInt8) -> UInt8 { a &+ b }
}

extension Bool: NDArrayElement {
    public static var dtype: DType { .bool }
    @_spi(CatenaKernels) @inlinable public init(_fromDouble value: Double) { self = value != 0 }
    @_spi(CatenaKernels) @inlinable public var _doubleValue: Double { self ? 1 : 0 }
}

// MARK: - Dispatch on the dtype

// The one place where a run-time dtype becomes a Swift element type. A kernel is written once as a generic local
// function and called through these, e.g. `dtype.withFloatType(orFail: "op: …") { go($0) }`: the metatype passed
// in is opened into the generic parameter, and since the switch below is visible to the optimiser, each case
// calls the kernel specialised for `Float`, `Double`, … (as fast as a `switch` written at the call site; an
// existential metatype that is not known at compile time would run the kernel unspecialised).
extension DType {
    /// Calls `body` with the Swift type of this dtype's elements (`Float`, `Double`, `Int32`, `Int64`, `UInt8`,
    /// `Bool`).
    @inline(__always) @usableFromInline
    func withElementType<R>(_ body: (any NDArrayElement.Type) -> R) -> R {
        if self == .bool { return body(Bool.self) }
        return withNumericType(orFail: "") { body($0) }
    }

    /// Calls `body` with the Swift type of this dtype's elements if they have arithmetic (every dtype but `bool`);
    /// stops with `failure` (a message naming the operation) for `bool`.
    @inline(__always) @usableFromInline
    func withNumericType<R>(orFail failure: @autoclosure () -> String, _ body: (any NDNumeric.Type) -> R) -> R {
        withFloatOrIntegerType(orFail: failure(), float: { body($0) }, integer: { body($0) })
    }

    /// Calls `body` with `Float` or `Double` for a float dtype; stops with `failure` for any other.
    @inline(__always) @usableFromInline
    func withFloatType<R>(orFail failure: @autoclosure () -> String, _ body: (any GEMMScalar.Type) -> R) -> R {
        switch self {
        case .float32: return body(Float.self)
        case .float64: return body(Double.self)
        default: typeCheckFailure(failure())
        }
    }

    /// Calls `float` with `Float` or `Double`, or `integer` with `Int32`, `Int64` or `UInt8`, for a kernel written once
    /// for each kind; stops with `failure` for `bool`.
    @inline(__always) @usableFromInline
    func withFloatOrIntegerType<R>(orFail failure: @autoclosure () -> String, float: (any GEMMScalar.Type) -> R,
                                   integer: (any (NDNumeric & FixedWidthInteger).Type) -> R) -> R {
        switch self {
        case .float32: return float(Float.self)
        case .float64: return float(Double.self)
        case .int32: return integer(Int32.self)
        case .int64: return integer(Int64.self)
        case .uint8: return integer(UInt8.self)
        case .bool: typeCheckFailure(failure())
        }
    }

    /// Calls `body` with `Int32`, `Int64` or `UInt8` for an integer dtype; stops with `failure` for any other.
    @inline(__always) @usableFromInline
    func withIntegerType<R>(orFail failure: @autoclosure () -> String, _ body: (any (NDNumeric & FixedWidthInteger).Type) -> R) -> R {
        switch self {
        case .int32: return body(Int32.self)
        case .int64: return body(Int64.self)
        case .uint8: return body(UInt8.self)
        default: typeCheckFailure(failure())
        }
    }
}
