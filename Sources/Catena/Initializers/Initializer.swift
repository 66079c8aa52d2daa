import Foundation

/// Fills a new parameter array (Chainer's initializers). Implementations draw random numbers only from the
/// ``RandomState`` they are given, so a model built twice from the same seed is identical.
public protocol Initializer {
    /// A new array of `shape` and `dtype` holding this initializer's values.
    func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray
}

/// Chainer's fans of a weight shape: for `(out, in, k…)`, fan-in is `in · Πk` and fan-out `out · Πk`.
/// - Precondition: at least two axes.
func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
    if shape.count < 2 { typeCheckFailure("initializer: fans need a shape of at least 2 axes, got \(shape)") }
    let receptive = shape[2...].reduce(1, *)
    return (shape[1] * receptive, shape[0] * receptive)
}

/// Every element equal to `value` (Chainer's `Constant`).
public struct Constant: Initializer {
    /// The value every element is set to.
    public var value: Double
    /// An initializer that fills every element with `value`.
    public init(_ value: Double) { self.value = value }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray { .full(shape, value, dtype: dtype) }
}

/// Zeros (Chainer's `Zero`).
public struct Zero: Initializer {
    /// The zero initializer.
    public init() {}
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray { .zeros(shape, dtype: dtype) }
}

/// Ones (Chainer's `One`).
public struct One: Initializer {
    /// The ones initializer.
    public init() {}
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray { .ones(shape, dtype: dtype) }
}

/// Normal values with mean 0 and standard deviation `scale` (Chainer's `Normal`, default scale 0.05).
public struct Normal: Initializer {
    /// The standard deviation.
    public var scale: Double
    /// A normal initializer with standard deviation `scale` (0.05 by default).
    public init(scale: Double = 0.05) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        rng.normal(shape: shape, std: scale, dtype: dtype)
    }
}

/// Uniform values in `[-scale, scale)` (Chainer's `Uniform`, default scale 0.05).
public struct Uniform: Initializer {
    /// The half-width of the interval.
    public var scale: Double
    /// A uniform initializer over `[-scale, scale)` (`scale` 0.05 by default).
    public init(scale: Double = 0.05) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        rng.uniform(shape: shape, low: -scale, high: scale, dtype: dtype)
    }
}

/// `N(0, scale² / fan_in)` — the default for weights (Chainer's `LeCunNormal`).
public struct LeCunNormal: Initializer {
    /// The factor on the standard deviation `√(1 / fan_in)`.
    public var scale: Double
    /// A LeCun normal initializer whose standard deviation is `scale · √(1 / fan_in)` (`scale` 1 by default).
    public init(scale: Double = 1) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        let f = fans(of: shape)
        return rng.normal(shape: shape, std: scale * (1 / Double(f.fanIn)).squareRoot(), dtype: dtype)
    }
}

/// `U(±scale·√(3 / fan_in))` (Chainer's `LeCunUniform`).
public struct LeCunUniform: Initializer {
    /// The factor on the bound `√(3 / fan_in)`.
    public var scale: Double
    /// A LeCun uniform initializer with bound `scale · √(3 / fan_in)` (`scale` 1 by default).
    public init(scale: Double = 1) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        let s = scale * (3 / Double(fans(of: shape).fanIn)).squareRoot()
        return rng.uniform(shape: shape, low: -s, high: s, dtype: dtype)
    }
}

/// `N(0, scale² · 2 / (fan_in + fan_out))` (Chainer's `GlorotNormal`).
public struct GlorotNormal: Initializer {
    /// The factor on the standard deviation `√(2 / (fan_in + fan_out))`.
    public var scale: Double
    /// A Glorot (Xavier) normal initializer with standard deviation `scale · √(2 / (fan_in + fan_out))`
    /// (`scale` 1 by default).
    public init(scale: Double = 1) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        let f = fans(of: shape)
        return rng.normal(shape: shape, std: scale * (2 / Double(f.fanIn + f.fanOut)).squareRoot(), dtype: dtype)
    }
}

/// `U(±scale·√(6 / (fan_in + fan_out)))` (Chainer's `GlorotUniform`).
public struct GlorotUniform: Initializer {
    /// The factor on the bound `√(6 / (fan_in + fan_out))`.
    public var scale: Double
    /// A Glorot (Xavier) uniform initializer with bound `scale · √(6 / (fan_in + fan_out))` (`scale` 1 by default).
    public init(scale: Double = 1) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        let f = fans(of: shape)
        let s = scale * (6 / Double(f.fanIn + f.fanOut)).squareRoot()
        return rng.uniform(shape: shape, low: -s, high: s, dtype: dtype)
    }
}

/// Which fan ``HeNormal`` scales by.
public enum FanOption: Sendable {
    /// Fan-in, `in · Πk` for a weight of shape `(out, in, k…)` (the default; keeps the forward signal's
    /// variance).
    case fanIn
    /// Fan-out, `out · Πk` (keeps the variance of the gradients in the backward pass).
    case fanOut
}

/// `N(0, scale² · 2 / fan)` (Chainer's `HeNormal`).
public struct HeNormal: Initializer {
    /// The factor on the standard deviation `√(2 / fan)`.
    public var scale: Double
    /// Which fan the variance is divided by (fan-in by default, as in Chainer).
    public var fanOption: FanOption
    /// A He (Kaiming) normal initializer with standard deviation `scale · √(2 / fan)`, `fan` chosen by `fanOption`
    /// (`scale` 1 and fan-in by default).
    public init(scale: Double = 1, fanOption: FanOption = .fanIn) {
        self.scale = scale
        self.fanOption = fanOption
    }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        let f = fans(of: shape)
        let fan = fanOption == .fanIn ? f.fanIn : f.fanOut
        return rng.normal(shape: shape, std: scale * (2 / Double(fan)).squareRoot(), dtype: dtype)
    }
}

/// `U(±scale·√(6 / fan_in))` (Chainer's `HeUniform`).
public struct HeUniform: Initializer {
    /// The factor on the bound `√(6 / fan_in)`.
    public var scale: Double
    /// A He (Kaiming) uniform initializer with bound `scale · √(6 / fan_in)` (`scale` 1 by default).
    public init(scale: Double = 1) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        let s = scale * (6 / Double(fans(of: shape).fanIn)).squareRoot()
        return rng.uniform(shape: shape, low: -s, high: s, dtype: dtype)
    }
}

/// `scale` times the identity matrix (Chainer's `Identity`; the recurrent weight of an IRNN).
/// - Precondition: a square 2-D shape.
public struct Identity: Initializer {
    /// The value on the diagonal.
    public var scale: Double
    /// An identity initializer with `scale` on the diagonal (1 by default).
    public init(scale: Double = 1) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        if shape.count != 2 || shape[0] != shape[1] { typeCheckFailure("Identity initializer: needs a square 2-D shape, got \(shape)") }
        return NDArray.eye(shape[0], dtype: dtype) * scale
    }
}

/// A (semi-)orthogonal matrix times `scale` (Chainer's `Orthogonal`, default scale 1.1): the rows (or columns, if
/// there are fewer) of the `(shape[0], Π shape[1...])` matrix are orthonormal, from the QR factorisation of a normal
/// random matrix with the signs fixed by the diagonal of R.
public struct Orthogonal: Initializer {
    /// The factor the orthonormal rows (or columns) are multiplied by.
    public var scale: Double
    /// An orthogonal initializer with gain `scale` (1.1 by default, as in Chainer).
    public init(scale: Double = 1.1) { self.scale = scale }
    public func makeArray(shape: [Int], dtype: DType, rng: RandomState) -> NDArray {
        if shape.isEmpty { return NDArray(scalar: scale * (rng.nextInt(below: 2) == 0 ? -1 : 1), dtype: dtype) }
        let rows = shape[0], cols = shape[1...].reduce(1, *)
        // Work on the taller orientation: m ≥ n columns to orthonormalise.
        let tall = rows >= cols
        let m = tall ? rows : cols, n = tall ? cols : rows
        let a = rng.normal(shape: [m, n], dtype: .float64).toDoubles()
        let q = Orthogonal.orthonormalColumns(a, m: m, n: n, scale: scale)
        var out = [Double](repeating: 0, count: rows * cols)
        for i in 0..<m { for j in 0..<n {
            if tall { out[i * cols + j] = q[i * n + j] } else { out[j * cols + i] = q[i * n + j] }
        } }
        return NDArray(out, shape: shape, dtype: dtype)
    }

    /// Householder QR of the m×n matrix `a` (row-major, m ≥ n): returns Q's first n columns, each multiplied by
    /// `scale · sign(R_jj)` (the sign convention that makes the result unique).
    static func orthonormalColumns(_ a: [Double], m: Int, n: Int, scale: Double) -> [Double] {
        var r = a
        var vs: [[Double]] = []
        for k in 0..<n {
            var v = (k..<m).map { r[$0 * n + k] }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let alpha = v[0] >= 0 ? -norm : norm
            v[0] -= alpha
            let vn = v.reduce(0) { $0 + $1 * $1 }
            if vn > 0 {
                for j in k..<n {
                    var dot = 0.0
                    for i in k..<m { dot += v[i - k] * r[i * n + j] }
                    let f = 2 * dot / vn
                    for i in k..<m { r[i * n + j] -= f * v[i - k] }
                }
            }
            vs.append(vn > 0 ? v : [])
        }
        // Q = H_0 H_1 … H_{n-1} applied to the first n columns of the identity.
        var q = [Double](repeating: 0, count: m * n)
        for j in 0..<n { q[j * n + j] = 1 }
        for k in stride(from: n - 1, through: 0, by: -1) where !vs[k].isEmpty {
            let v = vs[k]
            let vn = v.reduce(0) { $0 + $1 * $1 }
            for j in 0..<n {
                var dot = 0.0
                for i in k..<m { dot += v[i - k] * q[i * n + j] }
                let f = 2 * dot / vn
                for i in k..<m { q[i * n + j] -= f * v[i - k] }
            }
        }
        for j in 0..<n {
            let sign: Double = r[j * n + j] < 0 ? -1 : 1
            for i in 0..<m { q[i * n + j] *= sign * scale }
        }
        return q
    }
}
