import Foundation

/// The fields of an ``NDStorage``, kept in the object's header.
@usableFromInline
struct NDStorageHeader {
    /// The first byte of the elements.
    @usableFromInline var raw: UnsafeMutableRawPointer
    @usableFromInline var byteCount: Int
    /// Advanced on every write into existing storage (not into a fresh array), so caches derived from the data
    /// (packed GEMM panels) can tell they are stale.
    @usableFromInline var version: UInt64 = 0
    /// Makes the header 32 bytes, so that elements stored after it start 16-byte aligned (as `malloc`'s blocks).
    @usableFromInline var padding: Int = 0

    @usableFromInline
    init(raw: UnsafeMutableRawPointer, byteCount: Int) {
        self.raw = raw
        self.byteCount = byteCount
    }
}

/// The memory behind one or more ``NDArray`` values, freed when the last array using it goes away.
///
/// Arrays of fewer than ``inlineBytes`` bytes keep their elements inside this object, after its fields (16-byte
/// aligned): the many tiny arrays of a step-by-step RNN or of per-op bookkeeping then cost one allocation each, not
/// two. Blocks of 256 bytes or more start on a cache line (64 bytes); those of 1 KiB or more are reused through
/// ``BufferPool``. The fields live in the object's header and are read through a pointer, so reading them costs no
/// run-time exclusivity check.
@usableFromInline
final class NDStorage: ManagedBuffer<NDStorageHeader, UInt8> {
    /// Arrays smaller than this keep their elements inside the storage object.
    @usableFromInline static let inlineBytes = 256

    /// The first byte of the elements.
    @inlinable var raw: UnsafeMutableRawPointer { withUnsafeMutablePointerToHeader { $0.pointee.raw } }
    @inlinable var byteCount: Int { withUnsafeMutablePointerToHeader { $0.pointee.byteCount } }
    /// Advanced on every write into existing storage (see ``NDStorageHeader/version``).
    @inlinable var version: UInt64 {
        get { withUnsafeMutablePointerToHeader { $0.pointee.version } }
        set { withUnsafeMutablePointerToHeader { $0.pointee.version = newValue } }
    }

    @inlinable
    static func make(byteCount: Int) -> NDStorage {
        if byteCount < inlineBytes {
            let object = create(minimumCapacity: byteCount) { buffer in
                NDStorageHeader(raw: buffer.withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) }, byteCount: byteCount)
            }
            return unsafeDowncast(object, to: NDStorage.self)
        }
        let raw = outOfLine(byteCount)
        return unsafeDowncast(create(minimumCapacity: 0) { _ in NDStorageHeader(raw: raw, byteCount: byteCount) }, to: NDStorage.self)
    }

    /// Memory for the elements of an array too large to keep inside the object.
    @usableFromInline
    static func outOfLine(_ byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount >= BufferPool.minimumBytes { return BufferPool.take(byteCount) }
        var p: UnsafeMutableRawPointer?
        if posix_memalign(&p, 64, byteCount) != 0 || p == nil {
            fatalError("NDArray: out of memory allocating \(byteCount) bytes")
        }
        return p!
    }

    deinit {
        let (raw, byteCount) = withUnsafeMutablePointerToHeader { ($0.pointee.raw, $0.pointee.byteCount) }
        if byteCount >= BufferPool.minimumBytes { BufferPool.give(raw, byteCount) } else if byteCount >= NDStorage.inlineBytes { free(raw) }
    }
}

/// Element buffers of arrays that were freed, kept per thread and handed out again to new arrays of the same size.
///
/// A training loop allocates the same sizes at every step — the gates, states and gradients of one time step, the
/// weight gradients of one update — and frees them together when the graph goes. Taking them back from here skips
/// `malloc`'s search and `free`'s coalescing of mid-sized blocks (sizes from 1 KiB up: smaller ones are served by
/// malloc's own per-thread cache). The pool holds at most ``capacityBytes`` per thread and ``maximumSizes`` distinct
/// sizes; a buffer that would exceed them, or one of more than ``maximumBytes``, is freed as before. Buffers are
/// 64-byte aligned.
enum BufferPool {
    static let minimumBytes = 1024
    static let maximumBytes = 16 << 20
    static let capacityBytes = 64 << 20
    /// Sizes are rounded up to this, so that arrays of nearly the same size share buffers.
    static let granule = 64
    /// How many distinct sizes are kept (each looked up by a linear scan).
    static let maximumSizes = 48

    final class Store {
        /// The contiguous strides of the shapes used last (see ``StridesCache``).
        var strides = StridesCache()
        /// Distinct rounded sizes, and the free buffers of each.
        var sizes: [Int] = []
        var lists: [[UnsafeMutableRawPointer]] = []
        var heldBytes = 0

        deinit {
            for list in lists { for p in list { free(p) } }
        }
    }

    private static let stores = ThreadLocal { Store() }

    @inline(__always)
    private static var store: Store { stores.value }

    /// This thread's cache of contiguous strides.
    @inline(__always)
    static var stridesCache: StridesCacheRef { StridesCacheRef(store: store) }

    /// The bytes this thread's pool holds (for tests).
    static var heldBytesOnThisThread: Int { store.heldBytes }

    @inline(__always)
    private static func rounded(_ bytes: Int) -> Int { (bytes + granule - 1) & ~(granule - 1) }

    /// A buffer of at least `bytes` bytes: a pooled one of the same rounded size, or a new one.
    static func take(_ bytes: Int) -> UnsafeMutableRawPointer {
        let size = rounded(bytes)
        if size <= maximumBytes {
            let s = store
            for i in s.sizes.indices where s.sizes[i] == size {
                if let p = s.lists[i].popLast() {
                    s.heldBytes -= size
                    return p
                }
                break
            }
        }
        var p: UnsafeMutableRawPointer?
        if posix_memalign(&p, 64, size) != 0 || p == nil {
            fatalError("NDArray: out of memory allocating \(bytes) bytes")
        }
        return p!
    }

    /// Returns a buffer that ``take(_:)`` handed out for `bytes` bytes.
    static func give(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
        let size = rounded(bytes)
        let s = store
        if size > maximumBytes || s.heldBytes + size > capacityBytes {
            free(p)
            return
        }
        for i in s.sizes.indices where s.sizes[i] == size {
            s.lists[i].append(p)
            s.heldBytes += size
            return
        }
        if s.sizes.count < maximumSizes {
            s.sizes.append(size)
            s.lists.append([p])
        } else if let i = s.lists.firstIndex(where: { $0.isEmpty }) {
            // A size no longer in use makes room for this one.
            s.sizes[i] = size
            s.lists[i].append(p)
        } else {
            free(p)
            return
        }
        s.heldBytes += size
    }
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
    /// The distance between neighbours along each axis, in elements (not bytes as in NumPy). A C-contiguous array
    /// reports the row-major strides of its shape.
    public var strides: [Int] { viewStrides ?? NDArray.contiguousStrides(shape) }
    /// The strides of a view that is not C-contiguous; nil for a C-contiguous array, whose strides follow from its
    /// shape. Most arrays are contiguous, so they carry no strides array of their own: making one costs no lookup,
    /// and copying one retains two references (storage and shape) instead of three.
    @usableFromInline var viewStrides: [Int]?
    /// The position of element `[0, 0, …]` in the storage, in elements.
    @usableFromInline var offset: Int
    /// The number of elements (the product of `shape`; 1 for a 0-d array).
    public let count: Int
    /// True when the elements lie in C (row-major) order with no gaps, so one flat loop visits them all.
    @inlinable public var isContiguous: Bool { viewStrides == nil }

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
        self.offset = offset
        count = NDArray.elementCount(shape)
        viewStrides = NDArray.isCContiguous(shape: shape, strides: strides) ? nil : strides
    }

    /// A C-contiguous view of `storage` from `offset` in `shape` (a reshape), without computing strides to check.
    @usableFromInline
    init(storage: NDStorage, dtype: DType, contiguousShape shape: [Int], offset: Int) {
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.offset = offset
        count = NDArray.elementCount(shape)
        viewStrides = nil
    }

    /// The product of `shape` (1 for a 0-d array).
    @inline(__always) @usableFromInline
    static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for s in shape { n &*= s }
        return n
    }

    /// A new contiguous array whose elements are not initialised. Every caller writes all of them.
    @usableFromInline
    init(uninitializedShape shape: [Int], dtype: DType) {
        let n = NDArray.elementCount(shape, op: "NDArray")
        storage = NDStorage.make(byteCount: NDArray.checkedByteCount(n, dtype, shape: shape))
        self.dtype = dtype
        self.shape = shape
        viewStrides = nil
        offset = 0
        count = n
    }

    /// A new contiguous array with the given shape and strides copied from an existing contiguous layout, so that
    /// element-wise results of same-shaped operands allocate nothing but their storage.
    @usableFromInline
    init(uninitializedLike other: NDArray, dtype: DType) {
        if !other.isContiguous { typeCheckFailure("NDArray(uninitializedLike:): the template must be contiguous") }
        storage = NDStorage.make(byteCount: other.count * dtype.itemSize)
        self.dtype = dtype
        shape = other.shape
        viewStrides = nil
        offset = 0
        count = other.count
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
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        let n = shape.count
        switch n {
        case 0: return []
        case 1: return NDArray.unitStride
        case 2, 3: return BufferPool.stridesCache.strides(for: shape)
        default:
            var strides = smallInts(n) { _ in 1 }
            var acc = 1
            for i in stride(from: n - 1, through: 0, by: -1) {
                strides[i] = acc
                acc &*= Swift.max(shape[i], 1)
            }
            return strides
        }
    }

    /// The stride of axis `axis` (in elements), without building the ``strides`` array.
    @inlinable @inline(__always)
    func axisStride(_ axis: Int) -> Int {
        if let viewStrides { return viewStrides[axis] }
        var acc = 1
        var i = shape.count - 1
        while i > axis {
            acc &*= Swift.max(shape[i], 1)
            i -= 1
        }
        return acc
    }

    /// The strides of every contiguous 1-D array (one shared array).
    static let unitStride = [1]

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

    /// The first byte of element `[0, 0, …]`, for copies that do not depend on the element type.
    var rawBytes: UnsafeMutableRawPointer { storage.raw + offset * dtype.itemSize }

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
        return smallInts(n) { i in
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { return da }
            if da == 1 { return db }
            typeCheckFailure("\(op): shapes \(a) and \(b) cannot be broadcast together (axis \(i - n) has \(da) and \(db))")
        }
    }

    /// Strides that read this array as if broadcast to `target` (0 along broadcast axes).
    @usableFromInline
    func broadcastStrides(to target: [Int], op: String) -> [Int] {
        let n = target.count
        if ndim > n { typeCheckFailure("\(op): cannot broadcast shape \(shape) to \(target)") }
        let lead = n - ndim
        return smallInts(n) { j in
            if j < lead { return 0 }
            let i = j - lead
            let d = shape[i], t = target[j]
            if d == t { return d == 1 ? 0 : axisStride(i) }
            if d == 1 { return 0 }
            typeCheckFailure("\(op): cannot broadcast shape \(shape) to \(target)")
        }
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
            strides = smallArray(operandStrides.count) { _ in [0] }
            return
        }
        // Sized once (appending would grow each array by reallocation).
        var dims = smallInts(full.count) { _ in 0 }
        var strides: [[Int]] = smallArray(operandStrides.count) { _ in smallInts(full.count) { _ in 0 } }
        var count = 0
        for i in 0..<full.count where full[i] != 1 {
            if count > 0 {
                var merge = true
                for k in 0..<operandStrides.count where strides[k][count - 1] != operandStrides[k][i] * full[i] {
                    merge = false
                    break
                }
                if merge {
                    dims[count - 1] *= full[i]
                    for k in 0..<operandStrides.count { strides[k][count - 1] = operandStrides[k][i] }
                    continue
                }
            }
            dims[count] = full[i]
            for k in 0..<operandStrides.count { strides[k][count] = operandStrides[k][i] }
            count += 1
        }
        if count < full.count {
            dims.removeLast(full.count - count)
            for k in 0..<operandStrides.count { strides[k].removeLast(full.count - count) }
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
            let zeros = smallInts(k) { _ in 0 }
            body(zeros, 1, zeros)
            return
        }
        let nd = shape.count
        let n = shape[nd - 1]
        let inner = smallInts(k) { j in strides[j][nd - 1] }
        var offsets = smallInts(k) { _ in 0 }
        if nd == 1 {
            body(offsets, n, inner)
            return
        }
        var index = smallInts(nd - 1) { _ in 0 }
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

/// The C-order strides of the 2-D and 3-D shapes a thread used last, shared by the arrays of those shapes: a training
/// step makes arrays of the same few shapes over and over, and each would otherwise allocate its strides.
struct StridesCache {
    private var shapes: [[Int]] = [[], [], [], [], [], [], [], []]
    private var strides: [[Int]] = [[], [], [], [], [], [], [], []]
    private var next = 0

    /// The strides of `shape` (2 or 3 axes), from the cache or computed and cached.
    mutating func strides(for shape: [Int]) -> [Int] {
        for i in 0..<8 where shapes[i] == shape { return strides[i] }
        let s: [Int]
        if shape.count == 2 {
            s = [Swift.max(shape[1], 1), 1]
        } else {
            let s2 = Swift.max(shape[2], 1)
            s = [s2 &* Swift.max(shape[1], 1), s2, 1]
        }
        shapes[next] = shape
        strides[next] = s
        next = (next + 1) & 7
        return s
    }
}

/// The calling thread's ``StridesCache``.
struct StridesCacheRef {
    let store: BufferPool.Store
    @inline(__always) func strides(for shape: [Int]) -> [Int] { store.strides.strides(for: shape) }
}

/// A short `[Int]` (a shape, strides, offsets) whose element `i` is `element(i)`: see ``smallArray(_:_:)``.
@inlinable @inline(__always)
func smallInts(_ n: Int, _ element: (Int) -> Int) -> [Int] { smallArray(n, element) }

/// A short array whose element `i` is `element(i)`, built through array literals up to four elements.
///
/// The standard library's `Array(repeating:count:)` and its other sized initialisers go through an unspecialised
/// entry point that looks the storage class's metadata up in the runtime's cache at every call (on Linux about 700
/// instructions, against about 130 for a literal) — and shapes, strides and per-node slots are made at every
/// operation.
@inlinable @inline(__always)
func smallArray<T>(_ n: Int, _ element: (Int) -> T) -> [T] {
    switch n {
    case 0: return []
    case 1: return [element(0)]
    case 2: return [element(0), element(1)]
    case 3: return [element(0), element(1), element(2)]
    case 4: return [element(0), element(1), element(2), element(3)]
    default:
        var a = [element(0), element(1), element(2), element(3)]
        a.reserveCapacity(n)
        for i in 4..<n { a.append(element(i)) }
        return a
    }
}
