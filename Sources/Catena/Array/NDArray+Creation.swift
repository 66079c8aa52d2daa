import Foundation

extension NDArray {
    // MARK: - From Swift values

    /// An array holding `values` in C order, with the given shape (1-D when `shape` is nil).
    ///
    /// Swift number literals are `Double` by default; they are converted to `dtype` (float32 unless asked),
    /// rounding to nearest for floats and toward zero for integers.
    /// - Precondition: the product of `shape` equals `values.count`.
    public init(_ values: [Double], shape: [Int]? = nil, dtype: DType = .float32) {
        let shape = shape ?? [values.count]
        self.init(uninitializedShape: shape, dtype: dtype)
        if count != values.count {
            typeCheckFailure("NDArray: \(values.count) values cannot fill shape \(shape) (\(count) elements)")
        }
        let raw = storage.raw
        values.withUnsafeBufferPointer { NDArray.fill(raw, dtype: dtype, from: $0) }
    }

    /// A 2-D array from rows of equal length, e.g. `NDArray([[1, 2], [3, 4]])`.
    public init(_ rows: [[Double]], dtype: DType = .float32) {
        let width = rows.first?.count ?? 0
        for (i, r) in rows.enumerated() where r.count != width {
            typeCheckFailure("NDArray: row \(i) has \(r.count) values, row 0 has \(width)")
        }
        self.init(rows.flatMap { $0 }, shape: [rows.count, width], dtype: dtype)
    }

    /// A 3-D array from nested rows of equal lengths.
    public init(_ planes: [[[Double]]], dtype: DType = .float32) {
        let h = planes.first?.count ?? 0
        let w = planes.first?.first?.count ?? 0
        for (i, p) in planes.enumerated() {
            if p.count != h { typeCheckFailure("NDArray: block \(i) has \(p.count) rows, block 0 has \(h)") }
            for (j, r) in p.enumerated() where r.count != w {
                typeCheckFailure("NDArray: row [\(i)][\(j)] has \(r.count) values, row [0][0] has \(w)")
            }
        }
        self.init(planes.flatMap { $0.flatMap { $0 } }, shape: [planes.count, h, w], dtype: dtype)
    }

    /// An array holding typed `values` in C order; the dtype follows the element type (`[Int32]` gives int32).
    /// - Precondition: the product of `shape` equals `values.count`.
    public init<T: NDArrayElement>(values: [T], shape: [Int]) {
        self.init(uninitializedShape: shape, dtype: T.dtype)
        if count != values.count {
            typeCheckFailure("NDArray: \(values.count) values cannot fill shape \(shape) (\(count) elements)")
        }
        let dst = pointer(T.self)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { dst.initialize(from: base, count: src.count) }
        }
    }

    /// A 0-d array holding one value.
    public init(scalar value: Double, dtype: DType = .float32) {
        self.init([value], shape: [], dtype: dtype)
    }

    // MARK: - Filled arrays

    /// An array of zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> NDArray {
        let a = NDArray(uninitializedShape: shape, dtype: dtype)
        a.storage.raw.initializeMemory(as: UInt8.self, repeating: 0, count: a.byteCount)
        return a
    }

    /// An array of ones.
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> NDArray { full(shape, 1, dtype: dtype) }

    /// An array with every element equal to `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> NDArray {
        var a = NDArray(uninitializedShape: shape, dtype: dtype)
        a.fillRaw(value)
        return a
    }

    /// Zeros with the shape and dtype of `other` (or the dtype given).
    public static func zerosLike(_ other: NDArray, dtype: DType? = nil) -> NDArray { zeros(other.shape, dtype: dtype ?? other.dtype) }
    /// Ones with the shape and dtype of `other` (or the dtype given).
    public static func onesLike(_ other: NDArray, dtype: DType? = nil) -> NDArray { ones(other.shape, dtype: dtype ?? other.dtype) }
    /// `value` everywhere, with the shape and dtype of `other` (or the dtype given).
    public static func fullLike(_ other: NDArray, _ value: Double, dtype: DType? = nil) -> NDArray {
        full(other.shape, value, dtype: dtype ?? other.dtype)
    }

    /// Evenly spaced values in `[start, stop)`: `start, start + step, …`, as NumPy's `arange`.
    /// - Precondition: `step != 0`.
    public static func arange(_ start: Double, _ stop: Double, step: Double = 1, dtype: DType = .float32) -> NDArray {
        if step == 0 { typeCheckFailure("arange: step must not be zero") }
        let n = Swift.max(0, Int(((stop - start) / step).rounded(.up)))
        return NDArray((0..<n).map { start + Double($0) * step }, shape: [n], dtype: dtype)
    }

    /// `0, 1, …, n - 1`.
    public static func arange(_ n: Int, dtype: DType = .float32) -> NDArray { arange(0, Double(n), dtype: dtype) }

    /// `count` evenly spaced values from `start` to `stop` (included unless `endpoint` is false), as NumPy's
    /// `linspace`.
    public static func linspace(_ start: Double, _ stop: Double, count: Int, endpoint: Bool = true, dtype: DType = .float32) -> NDArray {
        if count < 0 { typeCheckFailure("linspace: count (\(count)) must not be negative") }
        let div = Double(endpoint ? count - 1 : count)
        let step = div > 0 ? (stop - start) / div : 0
        var values = (0..<count).map { start + Double($0) * step }
        if endpoint && count > 1 { values[count - 1] = stop }
        return NDArray(values, shape: [count], dtype: dtype)
    }

    /// An `n × m` matrix with ones on the diagonal `k` (0: main, positive: above) and zeros elsewhere.
    public static func eye(_ n: Int, _ m: Int? = nil, k: Int = 0, dtype: DType = .float32) -> NDArray {
        let m = m ?? n
        var values = [Double](repeating: 0, count: n * m)
        for i in 0..<n where i + k >= 0 && i + k < m { values[i * m + i + k] = 1 }
        return NDArray(values, shape: [n, m], dtype: dtype)
    }

    // MARK: - Reading values out

    /// The elements in C order as Swift values of type `T`.
    /// - Precondition: `T.dtype == dtype`.
    public func toArray<T: NDArrayElement>(as type: T.Type) -> [T] {
        withUnsafeBufferPointer(as: T.self) { Array($0) }
    }

    /// The elements in C order, converted to `Double`.
    public func toDoubles() -> [Double] {
        if dtype == .float64 { return toArray(as: Double.self) }
        func go<T: NDArrayElement>(_: T.Type) -> [Double] { withUnsafeBufferPointer(as: T.self) { $0.map { $0._doubleValue } } }
        return dtype.withElementType { go($0) }
    }

    /// The only element of a one-element array as a `Double` (NumPy's `item()`).
    /// - Precondition: `count == 1`.
    public func item() -> Double {
        if count != 1 { typeCheckFailure("item: only one-element arrays can be converted to a scalar (shape \(shape))") }
        return elementAsDouble(atOffset: offset)
    }

    /// The element at a full index (negative indices count from the end) as a `Double`.
    /// - Precondition: one index per axis, each in range.
    public func item(_ indices: Int...) -> Double {
        if indices.count != ndim { typeCheckFailure("item: \(indices.count) indices given for an array of dimension \(ndim)") }
        var off = offset
        for (axis, i) in indices.enumerated() {
            let j = i < 0 ? i + shape[axis] : i
            if j < 0 || j >= shape[axis] { typeCheckFailure("item: index \(i) is out of bounds for axis \(axis) with size \(shape[axis])") }
            off += j * axisStride(axis)
        }
        return elementAsDouble(atOffset: off)
    }

    @usableFromInline
    func elementAsDouble(atOffset off: Int) -> Double {
        let raw = storage.raw
        func go<T: NDArrayElement>(_: T.Type) -> Double { raw.assumingMemoryBound(to: T.self)[off]._doubleValue }
        return dtype.withElementType { go($0) }
    }

    // MARK: - Filling

    /// Sets every element to `value` (converted to the dtype), copying first if the storage is shared.
    public mutating func fill(_ value: Double) {
        makeUniqueContiguous()
        fillRaw(value)
    }

    /// Writes `value` to every element of this contiguous array's storage.
    @usableFromInline
    mutating func fillRaw(_ value: Double) {
        let n = count, raw = rawBytes
        func go<T: NDArrayElement>(_: T.Type) { raw.assumingMemoryBound(to: T.self).update(repeating: T(_fromDouble: value), count: n) }
        dtype.withElementType { go($0) }
    }

    @usableFromInline
    static func fill(_ raw: UnsafeMutableRawPointer, dtype: DType, from src: UnsafeBufferPointer<Double>) {
        func go<T: NDArrayElement>(_: T.Type) {
            let p = raw.assumingMemoryBound(to: T.self)
            for i in 0..<src.count { p[i] = T(_fromDouble: src[i]) }
        }
        dtype.withElementType { go($0) }
    }

    // MARK: - Conversion

    /// A copy converted to `dtype` (floats to integers round toward zero; to bool, nonzero is true). Returns this
    /// array unchanged when the dtype already matches.
    public func astype(_ newType: DType) -> NDArray {
        if newType == dtype { return self }
        let src = contiguous()
        let out = NDArray(uninitializedShape: shape, dtype: newType)
        let n = count
        func convert<S: NDArrayElement, D: NDArrayElement>(_: S.Type, _: D.Type, _ f: (S) -> D) {
            let s = src.pointer(S.self), d = out.pointer(D.self)
            for i in 0..<n { d[i] = f(s[i]) }
        }
        func from<S: NDArrayElement>(_: S.Type) {
            switch newType {
            case .float32:
                if S.self == Double.self { convert(Double.self, Float.self) { Float($0) } } else { convert(S.self, Float.self) { Float($0._doubleValue) } }
            case .float64: convert(S.self, Double.self) { $0._doubleValue }
            case .int32: convert(S.self, Int32.self) { Int32(_fromDouble: $0._doubleValue) }
            case .int64:
                if S.self == Int32.self { convert(Int32.self, Int64.self) { Int64($0) } } else { convert(S.self, Int64.self) { Int64(_fromDouble: $0._doubleValue) } }
            case .uint8:
                // Wraps modulo 256 from integers, as NumPy's astype; floats are truncated toward zero and
                // saturated (NumPy leaves out-of-range float conversions undefined).
                if S.self == Int32.self { convert(Int32.self, UInt8.self) { UInt8(truncatingIfNeeded: $0) } }
                else if S.self == Int64.self { convert(Int64.self, UInt8.self) { UInt8(truncatingIfNeeded: $0) } }
                else { convert(S.self, UInt8.self) { UInt8(_fromDouble: $0._doubleValue) } }
            case .bool: convert(S.self, Bool.self) { $0._doubleValue != 0 }
            }
        }
        dtype.withElementType { from($0) }
        return out
    }
}
