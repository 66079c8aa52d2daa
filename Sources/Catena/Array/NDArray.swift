import Foundation

/// The memory behind one or more ``NDArray`` values, freed when the last array using it goes away.
///
/// Blocks of 256 bytes or more start on a cache line (64 bytes); smaller ones come straight from `malloc` (16-byte
/// aligned), which is what the many tiny arrays of a step-by-step RNN need to be cheap. The fields are constants, so
/// reading them costs no run-time exclusivity check.
@usableFromInline
final class NDStorage {
    /// The first byte of the elements.
    @usableFromInline let raw: UnsafeMutableRawPointer
    @usableFromInline let byteCount: Int
    /// Advanced on every write into existing storage (not into a fresh array), so caches derived from the data
    /// (packed GEMM panels) can tell they are stale.
    @exclusivity(unchecked) @usableFromInline var version: UInt64 = 0

    @usableFromInline
    init(byteCount: Int) {
        self.byteCount = byteCount
        if byteCount >= 256 {
            var p: UnsafeMutableRawPointer?
            if posix_memalign(&p, 64, byteCount) != 0 || p == nil {
                fatalError("NDArray: out of memory allocating \(byteCount) bytes")
            }
            raw = p!
        } else {
            guard let p = malloc(Swift.max(byteCount, 1)) else { fatalError("NDArray: out of memory allocating \(byteCount) bytes") }
            raw = p
        }
    }

    @inlinable
    static func make(byteCount: Int) -> NDStorage { NDStorage(byteCount: byteCount) }

    deinit { free(raw) }
}

/// An n-dimensional array with a run-time dtype, NumPy's broadcasting and copy-on-write value semantics.
///
/// `NDArray` is to Catena what NumPy's `ndarray` is to Chainer. It is a value type: assigning it or taking a view
/// (`reshaped`, `transposed`, slicing) shares memory until one side is mutated, and then only that side copies.
/// Views are free where the layout allows; ``contiguous()`` makes a C-ordered copy when one is needed.
///
/// ```swift
/// let a = NDArray([[1, 2, 3], [4, 5, 6]])           // float32, shape [2, 3]
/// let b = NDArray([10, 20, 30])                     // shape [3]
/// print(a + b)                                      // broadcasts b over the rows
/// print(a.sum(axis: 1), a.transposed().shape)       // [ 6. 15.] [3, 2]
/// ```
///
/// Misuse (adding shapes that do not broadcast, mixing dtypes, indexing out of range) stops the program with a
/// message that names the operation and both shapes, in debug and release builds alike.
public struct NDArray: @unchecked Sendable {
    @usableFromInline var storage: NDStorage
    /// The element type.
    public let dtype: DType
    /// The size of each axis.
    public private(set) var shape: [Int]
    /// The distance between neighbours along each axis, in elements (not bytes as in NumPy).
    public private(set) var strides: [Int]
    /// The position of element `[0, 0, …]` in the storage, in elements.
    @usableFromInline var offset: Int
    /// The number of elements (the product of `shape`; 1 for a 0-d array).
    public let count: Int
    /// True when the elements lie in C (row-major) order with no gaps, so one flat loop visits them all.
    public let isContiguous: Bool

    /// The number of axes.
    @inlinable public var ndim: Int { shape.count }

    /// The total size of the elements in bytes.
    @inlinable public var byteCount: Int { count * dtype.itemSize }

    // MARK: - Construction of the raw value

    @usableFromInline
    init(storage: NDStorage, dtype: DType, shape: [Int], strides: [Int], offset: Int) {
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
        var n = 1
        for s in shape { n &*= s }
        count = n
        isContiguous = NDArray.isCContiguous(shape: shape, strides: strides)
    }

    /// A new contiguous array whose elements are not initialised. Every caller writes all of them.
    @usableFromInline
    init(uninitializedShape shape: [Int], dtype: DType) {
        let n = NDArray.elementCount(shape, op: "NDArray")
        storage = NDStorage.make(byteCount: NDArray.checkedByteCount(n, dtype, shape: shape))
        self.dtype = dtype
        self.shape = shape
        strides = NDArray.contiguousStrides(shape)
        offset = 0
        count = n
        isContiguous = true
    }

    /// A new contiguous array with the given shape and strides copied from an existing contiguous layout, so that
    /// element-wise results of same-shaped operands allocate nothing but their storage.
    @usableFromInline
    init(uninitializedLike other: NDArray, dtype: DType) {
        if !other.isContiguous { typeCheckFailure("NDArray(uninitializedLike:): the template must be contiguous") }
        storage = NDStorage.make(byteCount: other.count * dtype.itemSize)
        self.dtype = dtype
        shape = other.shape
        strides = other.strides
        offset = 0
        count = other.count
        isContiguous = true
    }

    /// The number of elements of `shape`, stopping with a message naming `op` when a dimension is negative or the
    /// product does not fit in an `Int`.
    @inlinable
    static func elementCount(_ shape: [Int], op: String) -> Int {
        var n = 1
        for s in shape where s <= 0 {
            if s < 0 { typeCheckFailure("\(op): negative dimension in shape \(shape)") }
            return 0   // an empty array, however large its other dimensions
        }
        for s in shape {
            let (m, overflow) = n.multipliedReportingOverflow(by: s)
            if overflow { typeCheckFailure("\(op): shape \(shape) has more elements than an Int can count") }
            n = m
        }
        return n
    }

    /// `count · itemSize`, stopping with a message when it does not fit in an `Int`.
    @inlinable
    static func checkedByteCount(_ count: Int, _ dtype: DType, shape: [Int]) -> Int {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        if overflow { typeCheckFailure("NDArray: shape \(shape) of \(dtype) needs more bytes than an Int can count") }
        return bytes
    }

    /// Row-major strides (in elements) for `shape`.
    @inlinable
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc &*= Swift.max(shape[i], 1)
        }
        return strides
    }

    @usableFromInline
    static func isCContiguous(shape: [Int], strides: [Int]) -> Bool {
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let n = shape[i]
            if n == 0 { return true }
            if n != 1 && strides[i] != expected { return false }
            expected &*= n
        }
        return true
    }

    // MARK: - Raw access

    /// A typed pointer to element `[0, 0, …]`. The storage must be bound to `T` (it is when `T.dtype == dtype`).
    @inlinable @inline(__always)
    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        storage.raw.assumingMemoryBound(to: T.self) + offset
    }

    /// Makes the storage unique to this value (copying it if it is shared or if this is a view) before a write.
    @inlinable
    mutating func makeUniqueContiguous() {
        if !isKnownUniquelyReferenced(&storage) || !isContiguous {
            self = copied()
        }
        storage.version &+= 1
    }

    /// True when this value is the only user of its storage, so it may be written in place.
    @inlinable
    mutating func isUniquelyReferenced() -> Bool { isKnownUniquelyReferenced(&storage) }

    /// Calls `body` with a buffer over the elements in C order. Non-contiguous arrays are copied first.
    ///
    /// - Precondition: `T.dtype == dtype`.
    @inlinable
    public func withUnsafeBufferPointer<T: NDArrayElement, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        if T.dtype != dtype { typeCheckFailure("NDArray.withUnsafeBufferPointer: array dtype is \(dtype), requested \(T.dtype)") }
        let c = contiguous()
        return try withExtendedLifetime(c) { try body(UnsafeBufferPointer(start: c.pointer(T.self), count: c.count)) }
    }

    /// Calls `body` with a mutable buffer over the elements in C order, copying first if the storage is shared or
    /// the array is a non-contiguous view.
    ///
    /// - Precondition: `T.dtype == dtype`.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<T: NDArrayElement, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        if T.dtype != dtype { typeCheckFailure("NDArray.withUnsafeMutableBufferPointer: array dtype is \(dtype), requested \(T.dtype)") }
        makeUniqueContiguous()
        return try body(UnsafeMutableBufferPointer(start: pointer(T.self), count: count))
    }

    // MARK: - Copies

    /// A C-ordered copy of the elements with fresh storage.
    public func copied() -> NDArray {
        var out = NDArray(uninitializedShape: shape, dtype: dtype)
        out.writeElements(from: self)
        return out
    }

    /// This array if it is already C-contiguous, otherwise a C-ordered copy.
    @inlinable
    public func contiguous() -> NDArray { isContiguous ? self : copied() }
}

// MARK: - Checks shared by every operation

/// Stops with a message in Chainer's type-check style. Used for programming errors (shape, dtype, axis misuse).
///
/// The message is printed in every build configuration: `fatalError` keeps it under `-O`, where
/// `precondition`/`preconditionFailure` would print only "precondition failure" (their messages are compiled out
/// of release builds). Never use those two for a check whose message a user needs.
@usableFromInline
func typeCheckFailure(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message, file: file, line: line)
}

extension NDArray {
    /// Normalises a possibly negative axis against `ndim`, stopping with a message naming `op` when out of range.
    @inlinable
    func normalizedAxis(_ axis: Int, op: String, ndim n: Int? = nil) -> Int {
        let nd = n ?? ndim
        let a = axis < 0 ? axis + nd : axis
        if a < 0 || a >= nd { typeCheckFailure("\(op): axis \(axis) is out of bounds for an array of dimension \(nd) (shape \(shape))") }
        return a
    }

    /// Stops unless `other` has the same dtype.
    @inlinable
    func checkSameDType(_ other: NDArray, op: String) {
        if dtype != other.dtype {
            typeCheckFailure("\(op): dtypes differ (\(dtype) and \(other.dtype)); convert one with astype(_:)")
        }
    }

    /// The shape two shapes broadcast to under NumPy's rules, or a stop naming `op` and both shapes.
    @inlinable
    static func broadcastShapes(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        if a == b { return a }
        let n = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else {
                typeCheckFailure("\(op): shapes \(a) and \(b) cannot be broadcast together (axis \(i - n) has \(da) and \(db))")
            }
        }
        return out
    }

    /// Strides that read this array as if broadcast to `target` (0 along broadcast axes).
    @usableFromInline
    func broadcastStrides(to target: [Int], op: String) -> [Int] {
        let n = target.count
        if ndim > n { typeCheckFailure("\(op): cannot broadcast shape \(shape) to \(target)") }
        var out = [Int](repeating: 0, count: n)
        let lead = n - ndim
        for i in 0..<ndim {
            let d = shape[i], t = target[lead + i]
            if d == t { out[lead + i] = d == 1 ? 0 : strides[i] } else if d == 1 { out[lead + i] = 0 } else {
                typeCheckFailure("\(op): cannot broadcast shape \(shape) to \(target)")
            }
        }
        return out
    }
}

// MARK: - Iteration over strided layouts

/// A plan for visiting every element of several operands that share one (broadcast) shape.
///
/// Axes of size 1 are dropped and neighbouring axes that are laid out back to back in every operand are merged, so
/// a contiguous operand becomes one run and a row-broadcast becomes `rows` runs of `columns`.
@usableFromInline
struct LoopPlan {
    @usableFromInline var shape: [Int]
    @usableFromInline var strides: [[Int]]

    @usableFromInline
    init(shape full: [Int], operandStrides: [[Int]]) {
        if full.contains(0) {
            // Nothing to visit (and the other dimensions may be too large to merge without overflow).
            shape = [0]
            strides = operandStrides.map { _ in [0] }
            return
        }
        var dims: [Int] = []
        var strides = [[Int]](repeating: [], count: operandStrides.count)
        for i in 0..<full.count where full[i] != 1 {
            if let last = dims.last {
                var merge = true
                for k in 0..<operandStrides.count where strides[k].last! != operandStrides[k][i] * full[i] {
                    merge = false
                    break
                }
                if merge {
                    dims[dims.count - 1] = last * full[i]
                    for k in 0..<operandStrides.count { strides[k][strides[k].count - 1] = operandStrides[k][i] }
                    continue
                }
            }
            dims.append(full[i])
            for k in 0..<operandStrides.count { strides[k].append(operandStrides[k][i]) }
        }
        shape = dims
        self.strides = strides
    }

    /// Calls `body(offsets, n, innerStrides)` once per run along the innermost merged axis; `offsets[k]` is the
    /// element offset of operand k at the start of the run.
    @inlinable @inline(__always)
    mutating func forEachRun(_ body: (_ offsets: [Int], _ n: Int, _ inner: [Int]) -> Void) {
        let k = strides.count
        if shape.contains(0) { return }
        if shape.isEmpty {
            body([Int](repeating: 0, count: k), 1, [Int](repeating: 0, count: k))
            return
        }
        let nd = shape.count
        let n = shape[nd - 1]
        var inner = [Int](repeating: 0, count: k)
        for j in 0..<k { inner[j] = strides[j][nd - 1] }
        var offsets = [Int](repeating: 0, count: k)
        if nd == 1 {
            body(offsets, n, inner)
            return
        }
        var index = [Int](repeating: 0, count: nd - 1)
        while true {
            body(offsets, n, inner)
            var d = nd - 2
            while d >= 0 {
                index[d] += 1
                for j in 0..<k { offsets[j] += strides[j][d] }
                if index[d] < shape[d] { break }
                for j in 0..<k { offsets[j] -= strides[j][d] * shape[d] }
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}
