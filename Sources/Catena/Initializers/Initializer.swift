import Foundation

/// Fills a new parameter array (Chainer's `initializer`). Implementations draw random numbers only from the
/// ``RandomState`` they are given, so a model built twice from the same seed is identical.
public protocol Initializer {
    /// A new array of `shape` and `dtype` holding this initializer's values.
    func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray
}

/// Every element equal to `value` (Chainer's `Constant`).
public struct Constant: Initializer {
    public var value: Double
    public init(_ value: Double) { self.value = value }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray { .full(shape, value, dtype: dtype) }
}
