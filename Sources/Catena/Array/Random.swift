import Foundation

/// A seeded pseudo-random generator whose whole state can be read and restored, and whose output is the same on
/// every machine.
///
/// The bits come from xoshiro256** (seeded through SplitMix64); floats are formed from them with exact integer
/// arithmetic, and normal variates use the polar method with a logarithm written in plain IEEE arithmetic (no
/// platform math library), so a given seed produces the same arrays everywhere. Every random array in Catena
/// (initializers, dropout masks, shuffling) is drawn from a `RandomState` passed in or from ``RandomState/global``,
/// and snapshots store the states so that a resumed run draws the same numbers it would have drawn.
///
/// ```swift
/// let rng = RandomState(seed: 42)
/// let w = rng.normal(shape: [3, 4], std: 0.1)      // float32
/// let saved = rng.state
/// let a = rng.uniform(shape: [2])
/// rng.state = saved
/// assert(rng.uniform(shape: [2]) == a)
/// ```
public final class RandomState {
    /// The complete state: the four xoshiro words and the cached second normal variate of the polar method.
    public struct State: Equatable, Sendable {
        /// The four 64-bit words of the xoshiro256** state.
        public var words: (UInt64, UInt64, UInt64, UInt64)
        /// The unused second variate of the last polar-method draw, which the next normal draw returns; nil when
        /// there is none.
        public var spareNormal: Double?

        public static func == (l: State, r: State) -> Bool {
            l.words.0 == r.words.0 && l.words.1 == r.words.1 && l.words.2 == r.words.2 && l.words.3 == r.words.3
                && l.spareNormal?.bitPattern == r.spareNormal?.bitPattern
        }
    }

    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spare: Double?

    /// The process-wide generator used when no generator is passed. Seeded with 0 at start; reseed it with
    /// ``seed(_:)`` for a reproducible run.
    ///
    /// A generator is not synchronised (RandomState is not `Sendable`): draw from one thread at a time, and give
    /// each thread of your own its own `RandomState`.
    nonisolated(unsafe) public static var global = RandomState(seed: 0)

    /// A generator whose sequence is determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitMix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix()
        s1 = splitMix()
        s2 = splitMix()
        s3 = splitMix()
        spare = nil
    }

    /// Restarts the sequence from `seed`.
    public func seed(_ seed: UInt64) { state = RandomState(seed: seed).state }

    /// The complete state; assigning it makes the generator continue exactly from that point.
    public var state: State {
        get { State(words: (s0, s1, s2, s3), spareNormal: spare) }
        set {
            (s0, s1, s2, s3) = newValue.words
            spare = newValue.spareNormal
        }
    }

    /// The state as an int64 array of 6 values (4 words, a flag for the cached normal and its bits), the form in
    /// which snapshots store it.
    public var stateArray: NDArray {
        get {
            let w = [s0, s1, s2, s3, spare == nil ? 0 : 1, spare?.bitPattern ?? 0]
            return NDArray(values: w.map { Int64(bitPattern: $0) }, shape: [6])
        }
        set {
            let v = newValue.astype(.int64).toArray(as: Int64.self).map { UInt64(bitPattern: $0) }
            if v.count != 6 { typeCheckFailure("RandomState: a state array has 6 values, got \(v.count)") }
            (s0, s1, s2, s3) = (v[0], v[1], v[2], v[3])
            spare = v[4] != 0 ? Double(bitPattern: v[5]) : nil
        }
    }

    // MARK: - Scalars

    /// The next 64 random bits.
    @inlinable
    public func nextUInt64() -> UInt64 { next() }

    @usableFromInline
    func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform double in `[0, 1)` with 53 random bits.
    public func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A uniform float in `[0, 1)` with 24 random bits.
    public func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A uniform integer in `0..<bound` without modulo bias.
    /// - Precondition: `bound > 0`.
    public func nextInt(below bound: Int) -> Int {
        if bound <= 0 { typeCheckFailure("RandomState: the bound (\(bound)) must be positive") }
        let b = UInt64(bound)
        // Lemire's multiply-and-reject method.
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// A standard normal variate (polar method).
    public func nextNormal() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        while true {
            let u = 2 * nextDouble() - 1, v = 2 * nextDouble() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let f = (-2 * RandomState.portableLog(s) / s).squareRoot()
                spare = v * f
                return u * f
            }
        }
    }

    /// Natural logarithm from IEEE arithmetic alone, so that normal variates are identical on every platform.
    /// Accurate to about 1 ulp for positive normal inputs.
    @usableFromInline
    static func portableLog(_ x: Double) -> Double {
        // x = m · 2^e with m in [√½, √2); log m = 2 atanh(s), s = (m - 1) / (m + 1).
        var e = Int(x.exponent)
        var m = x.significand  // in [1, 2)
        if m > 1.4142135623730951 {
            m *= 0.5
            e += 1
        }
        let s = (m - 1) / (m + 1), s2 = s * s
        var p = 1.0 / 25
        for k in stride(from: 23, through: 1, by: -2) { p = p * s2 + 1.0 / Double(k) }
        return Double(e) * 0.6931471805599453 + 2 * s * p
    }

    // MARK: - Arrays

    /// Uniform values in `[low, high)`.
    public func uniform(shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32) -> NDArray {
        fill(shape, dtype) { dtype == .float32 ? low + (high - low) * Double(nextFloat()) : low + (high - low) * nextDouble() }
    }

    /// Normal values with the given mean and standard deviation.
    public func normal(shape: [Int], mean: Double = 0, std: Double = 1, dtype: DType = .float32) -> NDArray {
        fill(shape, dtype) { mean + std * nextNormal() }
    }

    /// Uniform integers in `low..<high`.
    /// - Precondition: `low < high`.
    public func integers(_ low: Int, _ high: Int, shape: [Int], dtype: DType = .int32) -> NDArray {
        if low >= high { typeCheckFailure("RandomState.integers: low (\(low)) must be below high (\(high))") }
        return fill(shape, dtype) { Double(low + nextInt(below: high - low)) }
    }

    /// A random ordering of `0..<n` (Fisher–Yates), as int32.
    public func permutation(_ n: Int) -> NDArray {
        NDArray(values: permutationIndices(n).map { Int32($0) }, shape: [n])
    }

    /// A random ordering of `0..<n` as Swift integers.
    public func permutationIndices(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        var i = n - 1
        while i > 0 {
            p.swapAt(i, nextInt(below: i + 1))
            i -= 1
        }
        return p
    }

    /// `count` draws from `0..<n` (NumPy's `choice`), with or without replacement, uniform or with probabilities
    /// `p` (which must sum to 1 within 1e-8), as int32.
    /// - Precondition: without replacement, `count <= n`.
    public func choice(_ n: Int, count: Int, replace: Bool = true, p: [Double]? = nil) -> NDArray {
        if n <= 0 && count != 0 { typeCheckFailure("RandomState.choice: cannot choose from an empty range") }
        if let p {
            if p.count != n { typeCheckFailure("RandomState.choice: \(p.count) probabilities given for \(n) values") }
            if !(p.allSatisfy { $0 >= 0 } && Swift.abs(p.reduce(0, +) - 1) < 1e-8) { typeCheckFailure("RandomState.choice: probabilities must be non-negative and sum to 1") }
        }
        if !replace && count > n { typeCheckFailure("RandomState.choice: cannot take \(count) values from \(n) without replacement") }
        var out = [Int32]()
        out.reserveCapacity(count)
        var weights = p
        var available = Array(0..<n)
        for _ in 0..<count {
            let k: Int
            if let w = weights {
                let total = w.reduce(0, +)
                var u = nextDouble() * total
                var j = 0
                while j < w.count - 1 && u >= w[j] {
                    u -= w[j]
                    j += 1
                }
                while w[j] == 0 && j > 0 { j -= 1 }
                k = j
            } else {
                k = replace ? nextInt(below: n) : nextInt(below: available.count)
            }
            if replace {
                out.append(Int32(k))
            } else if weights != nil {
                out.append(Int32(k))
                weights![k] = 0
            } else {
                out.append(Int32(available[k]))
                available.swapAt(k, available.count - 1)
                available.removeLast()
            }
        }
        return NDArray(values: out, shape: [count])
    }

    private func fill(_ shape: [Int], _ dtype: DType, _ draw: () -> Double) -> NDArray {
        var values = [Double]()
        let n = shape.reduce(1, *)
        values.reserveCapacity(n)
        for _ in 0..<n { values.append(draw()) }
        return NDArray(values, shape: shape, dtype: dtype)
    }
}
