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
    @inlinable public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    /// True for `int32`, `int64` and `uint8`.
    @inlinable public var isInteger: Bool { self == .int32 || self == .int64 || self == .uint8 }

    /// NumPy's name for the type (`float32`, `int64`, `bool`).
    public var description: String { rawValue }
}

/// A Swift type that can be the element of an ``NDArray``: `Float`, `Double`, `Int32`, `Int64`, `UInt8` or `Bool`.
public protocol NDArrayElement: Sendable {
    /// The dtype an array of this element type has.
    static var dtype: DType { get }
    /// Converts from a `Double`, rounding to nearest for floats and toward zero for integers.
    init(_fromDouble value: Double)
    /// The value as a `Double`.
    var _doubleValue: Double { get }
}

/// An element type with arithmetic: `Float`, `Double`, `Int32`, `Int64`, `UInt8`.
public protocol NDNumeric: NDArrayElement, Numeric, Comparable {
    static var _zero: Self { get }
    static var _one: Self { get }
    /// The smallest and largest representable values (the identities of max and min reductions).
    static var _lowest: Self { get }
    static var _highest: Self { get }
    static func _divide(_ a: Self, _ b: Self) -> Self
    /// Addition that wraps around for integers (as NumPy's) instead of trapping.
    static func _add(_ a: Self, _ b: Self) -> Self
}

/// A floating-point element type with the elementary functions: `Float` and `Double`.
public protocol NDFloatingPoint: NDNumeric, BinaryFloatingPoint {
    static func _exp(_ x: Self) -> Self
    static func _log(_ x: Self) -> Self
    static func _tanh(_ x: Self) -> Self
    static func _pow(_ x: Self, _ y: Self) -> Self
    static func _log1p(_ x: Self) -> Self
    static func _expm1(_ x: Self) -> Self
}

extension Float: NDFloatingPoint {
    public static var dtype: DType { .float32 }
    @inlinable public init(_fromDouble value: Double) { self = Float(value) }
    @inlinable public var _doubleValue: Double { Double(self) }
    @inlinable public static var _zero: Float { 0 }
    @inlinable public static var _one: Float { 1 }
    @inlinable public static var _lowest: Float { -.infinity }
    @inlinable public static var _highest: Float { .infinity }
    @inlinable public static func _divide(_ a: Float, _ b: Float) -> Float { a / b }
    @inlinable public static func _add(_ a: Float, _ b: Float) -> Float { a + b }
    @inlinable public static func _exp(_ x: Float) -> Float { Foundation.exp(x) }
    @inlinable public static func _log(_ x: Float) -> Float { Foundation.log(x) }
    @inlinable public static func _tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    @inlinable public static func _pow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
    @inlinable public static func _log1p(_ x: Float) -> Float { Foundation.log1p(x) }
    @inlinable public static func _expm1(_ x: Float) -> Float { Foundation.expm1(x) }
}

extension Double: NDFloatingPoint {
    public static var dtype: DType { .float64 }
    @inlinable public init(_fromDouble value: Double) { self = value }
    @inlinable public var _doubleValue: Double { self }
    @inlinable public static var _zero: Double { 0 }
    @inlinable public static var _one: Double { 1 }
    @inlinable public static var _lowest: Double { -.infinity }
    @inlinable public static var _highest: Double { .infinity }
    @inlinable public static func _divide(_ a: Double, _ b: Double) -> Double { a / b }
    @inlinable public static func _add(_ a: Double, _ b: Double) -> Double { a + b }
    @inlinable public static func _exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func _log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func _tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func _pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    @inlinable public static func _log1p(_ x: Double) -> Double { Foundation.log1p(x) }
    @inlinable public static func _expm1(_ x: Double) -> Double { Foundation.expm1(x) }
}

extension Int32: NDNumeric {
    public static var dtype: DType { .int32 }
    @inlinable public init(_fromDouble value: Double) {
        self = value.isNaN ? 0 : Int32(Swift.max(Swift.min(value, 2147483647), -2147483648).rounded(.towardZero))
    }
    @inlinable public var _doubleValue: Double { Double(self) }
    @inlinable public static var _zero: Int32 { 0 }
    @inlinable public static var _one: Int32 { 1 }
    @inlinable public static var _lowest: Int32 { .min }
    @inlinable public static var _highest: Int32 { .max }
    @inlinable public static func _divide(_ a: Int32, _ b: Int32) -> Int32 { b == 0 ? 0 : (b == -1 ? 0 &- a : a / b) }
    @inlinable public static func _add(_ a: Int32, _ b: Int32) -> Int32 { a &+ b }
}

extension Int64: NDNumeric {
    public static var dtype: DType { .int64 }
    @inlinable public init(_fromDouble value: Double) {
        if value.isNaN { self = 0 } else if value >= 9.2233720368547758e18 { self = .max } else if value < -9.2233720368547758e18 { self = .min } else { self = Int64(value.rounded(.towardZero)) }
    }
    @inlinable public var _doubleValue: Double { Double(self) }
    @inlinable public static var _zero: Int64 { 0 }
    @inlinable public static var _one: Int64 { 1 }
    @inlinable public static var _lowest: Int64 { .min }
    @inlinable public static var _highest: Int64 { .max }
    @inlinable public static func _divide(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? 0 : (b == -1 ? 0 &- a : a / b) }
    @inlinable public static func _add(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }
}

extension UInt8: NDNumeric {
    public static var dtype: DType { .uint8 }
    /// Rounds toward zero and saturates to 0…255 (NaN gives 0).
    @inlinable public init(_fromDouble value: Double) {
        self = value.isNaN ? 0 : UInt8(Swift.max(Swift.min(value, 255), 0).rounded(.towardZero))
    }
    @inlinable public var _doubleValue: Double { Double(self) }
    @inlinable public static var _zero: UInt8 { 0 }
    @inlinable public static var _one: UInt8 { 1 }
    @inlinable public static var _lowest: UInt8 { .min }
    @inlinable public static var _highest: UInt8 { .max }
    @inlinable public static func _divide(_ a: UInt8, _ b: UInt8) -> UInt8 { b == 0 ? 0 : a / b }
    @inlinable public static func _add(_ a: UInt8, _ b: UInt8) -> UInt8 { a &+ b }
}

extension Bool: NDArrayElement {
    public static var dtype: DType { .bool }
    @inlinable public init(_fromDouble value: Double) { self = value != 0 }
    @inlinable public var _doubleValue: Double { self ? 1 : 0 }
}
