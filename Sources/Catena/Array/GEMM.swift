import CCatenaKernels
import Dispatch
import Foundation

/// A floating-point type with a register-tile micro-kernel in the kernel library (and SIMD lanes): `Float` and
/// `Double`, the types `DType.withFloatType(orFail:_:)` dispatches to. (`Codable` because `SIMDScalar`'s storage
/// types need it; both types are.)
@usableFromInline
protocol GEMMScalar: NDFloatingPoint, SIMDScalar, Codable {
    /// Rows and columns of the register tile.
    static var mr: Int { get }
    static var nr: Int { get }
    /// `C[0..<mr, 0..<nr] (+)= alpha * A * B` over `k`; see `catena_sgemm_kernel`.
    static func microKernel(
        _ k: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ rsa: Int, _ csa: Int,
        _ b: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool)
    /// The row-tile height to use for a product with `m` rows (at most ``mr``).
    static func rowTile(_ m: Int) -> Int
    /// Computes an edge tile of `mr` × `nr` straight into C; false if this type has no edge kernel (the caller
    /// then computes a full tile into a temporary).
    static func edgeKernel(_ k: Int, _ mr: Int, _ nr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ rsa: Int, _ csa: Int,
                           _ b: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool) -> Bool
    /// Whether ``edgeKernel(_:_:_:_:_:_:_:_:_:_:_:_:)`` computes edge tiles in place (reading only their rows of A).
    static var hasEdgeKernel: Bool { get }
    /// The most columns ``narrowEdgeKernel(_:_:_:_:_:_:_:_:_:_:_:_:)`` takes on this CPU (0: none).
    static var narrowEdgeColumns: Int { get }
    /// ``edgeKernel(_:_:_:_:_:_:_:_:_:_:_:_:)`` for at most ``narrowEdgeColumns`` columns of a B read in place, whose
    /// rows hold only those columns (see `catena_sgemm_kernel_edge_narrow`); false, doing nothing, where unavailable.
    static func narrowEdgeKernel(_ k: Int, _ mr: Int, _ nr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ rsa: Int, _ csa: Int,
                                 _ b: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool) -> Bool
    /// Packs a transposed B block (element (p, j) at `b[p + j·cs]`) into nr-column panels; false if there is no
    /// specialised routine for this type.
    static func packTransposedB(_ b: UnsafePointer<Self>, _ cs: Int, _ depth: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool
    /// Packs a B block stored by rows (element (p, j) at `b[p·rs + j]`) into nr-column panels; false if there is no
    /// specialised routine for this type.
    static func packRowsB(_ b: UnsafePointer<Self>, _ rs: Int, _ depth: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool
    /// Packs a transposed A block (element (i, p) at `a[i + p·cs]`) into mr-row panels; false if there is no
    /// specialised routine for this type.
    static func packTransposedA(_ a: UnsafePointer<Self>, _ cs: Int, _ rows: Int, _ depth: Int, _ mr: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool
    /// Packs an A block stored by rows (element (i, p) at `a[i·rs + p]`) into mr-row panels; false if there is no
    /// specialised routine for this type.
    static func packRowsA(_ a: UnsafePointer<Self>, _ rs: Int, _ rows: Int, _ depth: Int, _ mr: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool
    /// Whether ``wideKernel(_:_:_:_:_:_:_:_:_:_:_:_:)`` has a kernel of its own on this CPU (then the tiles are two
    /// panels wide wherever two full panels remain).
    static var hasWideKernel: Bool { get }
    /// A tile of `mr` rows over two adjacent full `nr`-column panels of B (`b0`, `b1`, same row stride).
    static func wideKernel(_ k: Int, _ mr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ rsa: Int, _ csa: Int, _ b0: UnsafePointer<Self>,
                           _ b1: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool)
    /// The last `nr` (< a panel) columns of C over `rows` rows of A packed as `mr`-row panels `ps` apart, with C's
    /// rows along the vector lanes (see `catena_sgemm_kernel_columns`); false, doing nothing, where this type or
    /// CPU has no such kernel for `mr` and `nr` (the caller then runs the edge tiles).
    static func columnsKernel(_ k: Int, _ rows: Int, _ mr: Int, _ nr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ ps: Int,
                              _ b: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool) -> Bool
}

/// A type without C edge and packing routines (float64) packs in Swift and computes edge tiles through a
/// temporary.
extension GEMMScalar {
    @inline(__always) @usableFromInline
    static func edgeKernel(_ k: Int, _ mr: Int, _ nr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ rsa: Int, _ csa: Int,
                           _ b: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool) -> Bool { false }
    @inline(__always) @usableFromInline
    static var hasEdgeKernel: Bool { false }
    @inline(__always) @usableFromInline
    static var narrowEdgeColumns: Int { 0 }
    @inline(__always) @usableFromInline
    static func narrowEdgeKernel(_ k: Int, _ mr: Int, _ nr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ rsa: Int, _ csa: Int,
                                 _ b: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool) -> Bool { false }
    @inline(__always) @usableFromInline
    static func packTransposedB(_ b: UnsafePointer<Self>, _ cs: Int, _ depth: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool { false }
    @inline(__always) @usableFromInline
    static func packRowsB(_ b: UnsafePointer<Self>, _ rs: Int, _ depth: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool { false }
    @inline(__always) @usableFromInline
    static func packTransposedA(_ a: UnsafePointer<Self>, _ cs: Int, _ rows: Int, _ depth: Int, _ mr: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool { false }
    @inline(__always) @usableFromInline
    static func packRowsA(_ a: UnsafePointer<Self>, _ rs: Int, _ rows: Int, _ depth: Int, _ mr: Int, _ dst: UnsafeMutablePointer<Self>) -> Bool { false }
    @inline(__always) @usableFromInline
    static var hasWideKernel: Bool { false }
    @inline(__always) @usableFromInline
    static func wideKernel(_ k: Int, _ mr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ rsa: Int, _ csa: Int, _ b0: UnsafePointer<Self>,
                           _ b1: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool) {
        preconditionFailure("GEMM: no wide kernel for \(Self.self)")
    }
    @inline(__always) @usableFromInline
    static func columnsKernel(_ k: Int, _ rows: Int, _ mr: Int, _ nr: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ ps: Int,
                              _ b: UnsafePointer<Self>, _ rsb: Int, _ c: UnsafeMutablePointer<Self>, _ rsc: Int, _ accumulate: Bool) -> Bool { false }
}

extension Float: GEMMScalar {
    @usableFromInline static var mr: Int { Int(CATENA_SGEMM_MR) }
    @usableFromInline static var nr: Int { Int(CATENA_SGEMM_NR) }
    @inline(__always) @usableFromInline
    static func microKernel(_ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ rsa: Int, _ csa: Int,
                            _ b: UnsafePointer<Float>, _ rsb: Int, _ c: UnsafeMutablePointer<Float>, _ rsc: Int, _ accumulate: Bool) {
        catena_sgemm_kernel(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate ? 1 : 0)
    }
    /// With the AVX-512 tiles, 8 rows (16 accumulators: each loaded row of B feeds 8 FMAs per panel; the last tile
    /// runs at its own height). Otherwise 6 rows per tile unless that wastes more than 5% of the work on padding and
    /// 5 or 4 rows waste less (a batch of 20 takes four 5-row tiles instead of three 6-row tiles and a mostly empty
    /// one).
    @usableFromInline
    static func rowTile(_ m: Int) -> Int {
        if hasWideKernel { return 8 }
        func waste(_ r: Int) -> Double { Double((m + r - 1) / r * r - m) / Double(Swift.max(m, 1)) }
        if waste(6) <= 0.05 { return 6 }
        return [5, 4].min { waste($0) < waste($1) } ?? 6
    }
    @inline(__always) @usableFromInline
    static func edgeKernel(_ k: Int, _ mr: Int, _ nr: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ rsa: Int, _ csa: Int,
                           _ b: UnsafePointer<Float>, _ rsb: Int, _ c: UnsafeMutablePointer<Float>, _ rsc: Int, _ accumulate: Bool) -> Bool {
        catena_sgemm_kernel_edge(k, Int32(mr), Int32(nr), alpha, a, rsa, csa, b, rsb, c, rsc, accumulate ? 1 : 0)
        return true
    }
    @usableFromInline static var hasEdgeKernel: Bool { true }
    @inline(__always) @usableFromInline
    static var narrowEdgeColumns: Int { Int(catena_sgemm_narrow_edge_columns()) }
    @inline(__always) @usableFromInline
    static func narrowEdgeKernel(_ k: Int, _ mr: Int, _ nr: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ rsa: Int, _ csa: Int,
                                 _ b: UnsafePointer<Float>, _ rsb: Int, _ c: UnsafeMutablePointer<Float>, _ rsc: Int, _ accumulate: Bool) -> Bool {
        catena_sgemm_kernel_edge_narrow(k, Int32(mr), Int32(nr), alpha, a, rsa, csa, b, rsb, c, rsc, accumulate ? 1 : 0) != 0
    }
    @inline(__always) @usableFromInline
    static func packTransposedB(_ b: UnsafePointer<Float>, _ cs: Int, _ depth: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Float>) -> Bool {
        catena_pack_bt_f32(b, cs, depth, cols, dst)
        return true
    }
    @inline(__always) @usableFromInline
    static func packRowsB(_ b: UnsafePointer<Float>, _ rs: Int, _ depth: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Float>) -> Bool {
        catena_pack_b_f32(b, rs, depth, cols, dst)
        return true
    }
    @inline(__always) @usableFromInline
    static func packTransposedA(_ a: UnsafePointer<Float>, _ cs: Int, _ rows: Int, _ depth: Int, _ mr: Int, _ dst: UnsafeMutablePointer<Float>) -> Bool {
        catena_pack_at_f32(a, cs, rows, depth, mr, dst)
        return true
    }
    @inline(__always) @usableFromInline
    static func packRowsA(_ a: UnsafePointer<Float>, _ rs: Int, _ rows: Int, _ depth: Int, _ mr: Int, _ dst: UnsafeMutablePointer<Float>) -> Bool {
        catena_pack_a_f32(a, rs, rows, depth, mr, dst)
        return true
    }
    @inline(__always) @usableFromInline
    static var hasWideKernel: Bool { catena_sgemm_has_wide_kernel() != 0 }
    @inline(__always) @usableFromInline
    static func wideKernel(_ k: Int, _ mr: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ rsa: Int, _ csa: Int, _ b0: UnsafePointer<Float>,
                           _ b1: UnsafePointer<Float>, _ rsb: Int, _ c: UnsafeMutablePointer<Float>, _ rsc: Int, _ accumulate: Bool) {
        catena_sgemm_kernel_wide(k, Int32(mr), alpha, a, rsa, csa, b0, b1, rsb, c, rsc, accumulate ? 1 : 0)
    }
    @inline(__always) @usableFromInline
    static func columnsKernel(_ k: Int, _ rows: Int, _ mr: Int, _ nr: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ ps: Int,
                              _ b: UnsafePointer<Float>, _ rsb: Int, _ c: UnsafeMutablePointer<Float>, _ rsc: Int, _ accumulate: Bool) -> Bool {
        catena_sgemm_kernel_columns(k, rows, Int32(mr), Int32(nr), alpha, a, ps, b, rsb, c, rsc, accumulate ? 1 : 0) != 0
    }
}

extension Double: GEMMScalar {
    @usableFromInline static var mr: Int { Int(CATENA_DGEMM_MR) }
    @usableFromInline static var nr: Int { Int(CATENA_DGEMM_NR) }
    @inline(__always) @usableFromInline
    static func microKernel(_ k: Int, _ alpha: Double, _ a: UnsafePointer<Double>, _ rsa: Int, _ csa: Int,
                            _ b: UnsafePointer<Double>, _ rsb: Int, _ c: UnsafeMutablePointer<Double>, _ rsc: Int, _ accumulate: Bool) {
        catena_dgemm_kernel(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate ? 1 : 0)
    }
    @usableFromInline static func rowTile(_ m: Int) -> Int { mr }
}

/// Strided matrix operand: element (i, j) at `base[i * rowStride + j * colStride]`.
@usableFromInline
struct MatrixOperand<T> {
    @usableFromInline let base: UnsafePointer<T>
    @usableFromInline let rowStride: Int
    @usableFromInline let colStride: Int

    @inlinable init(_ base: UnsafePointer<T>, _ rowStride: Int, _ colStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.colStride = colStride
    }
}

/// Packed copies of transposed weight matrices, reused while the weights do not change: an unrolled RNN multiplies
/// by the same `Wᵀ` at every time step, and packing it each time cost about as much as the product.
@usableFromInline
final class PackedBCache: @unchecked Sendable {
    /// One packed panel set; freed when the last user lets go of it.
    @usableFromInline
    final class Panels: @unchecked Sendable {
        let buffer: UnsafeMutablePointer<Float>
        init(floats: Int) { buffer = .allocate(capacity: floats) }
        deinit { buffer.deallocate() }
    }
    struct Entry {
        weak var storage: NDStorage?
        let version: UInt64, offset: Int, cs: Int, depth: Int, cols: Int
        let panels: Panels
    }
    static let shared = PackedBCache()
    private var entries: [Entry] = []
    private var lock = pthread_mutex_t()
    /// Entries kept (least recently used dropped first) and the largest panel set cached.
    static let capacity = 8, maxFloats = 1 << 20

    init() { pthread_mutex_init(&lock, nil) }

    /// Drops every entry.
    func removeAll() {
        pthread_mutex_lock(&lock)
        entries.removeAll()
        pthread_mutex_unlock(&lock)
    }

    /// The packed panels of the transposed B stored at `storage` (+ `offset` elements, column stride `cs`), packed
    /// now if the cache has no current copy; nil if the panels would be too large to keep.
    func panels(storage: NDStorage, offset: Int, cs: Int, depth: Int, cols: Int) -> Panels? {
        let floats = (cols + 15) / 16 * 16 * depth
        if floats > PackedBCache.maxFloats { return nil }
        pthread_mutex_lock(&lock)
        entries.removeAll { $0.storage == nil }
        if let i = entries.firstIndex(where: { $0.storage === storage && $0.offset == offset && $0.cs == cs && $0.depth == depth && $0.cols == cols }) {
            let e = entries.remove(at: i)
            if e.version == storage.version {
                entries.append(e)
                pthread_mutex_unlock(&lock)
                return e.panels
            }
        }
        pthread_mutex_unlock(&lock)
        let version = storage.version
        let p = Panels(floats: floats)
        // Panels of 16 columns, in one contiguous range of panels per thread for a large operand.
        let source = (storage.raw + offset * 4).assumingMemoryBound(to: Float.self), panelCount = (cols + 15) / 16
        parallelForRanges(panelCount, work: floats, threshold: NDArray.parallelElements) { r in
            let lo = r.lowerBound * 16, hi = Swift.min(cols, r.upperBound * 16)
            if lo < hi { catena_pack_bt_f32(source + lo * cs, cs, depth, hi - lo, p.buffer + lo * depth) }
        }
        pthread_mutex_lock(&lock)
        entries.append(Entry(storage: storage, version: version, offset: offset, cs: cs, depth: depth, cols: cols, panels: p))
        if entries.count > PackedBCache.capacity { entries.removeFirst() }
        pthread_mutex_unlock(&lock)
        return p
    }
}

/// General matrix multiply `C = alpha * A * B + (accumulate ? C : 0)`.
///
/// A packed, blocked algorithm in the style of BLIS/GotoBLAS: the k extent is cut into blocks of `kc`, A into blocks
/// of `mc` rows packed as `mr`-row micro-panels, B into blocks of `nc` columns (packed as `nr`-column micro-panels
/// when it pays), and every `mr × nr` tile of C is computed by the kernel library's register-tile micro-kernel
/// (AVX2/FMA where available). Operands are read through their strides, so transposed views cost nothing. Large
/// problems are split by columns (or rows) over the machine's cores.
@usableFromInline
enum GEMM {
    @usableFromInline static let kc = 256
    @usableFromInline static let mc = 120
    @usableFromInline static let nc = 3072
    /// Work (m·n·k) from which a product is split across threads.
    @usableFromInline nonisolated(unsafe) static var parallelThreshold: Int = setting("CATENA_GEMM_PARALLEL_WORK", default: 1 << 18)

    /// B is packed when A has more rows than this (or when B's rows are not contiguous).
    nonisolated(unsafe) static var packBRows: Int = setting("CATENA_GEMM_PACKB_ROWS", default: 24)

    /// A tuning value from the environment variable `name` (for experiments), else `default`.
    static func setting(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
    }

    /// Threads used for large products (``CatenaRuntime/threads``).
    static var threadCount: Int { CatenaRuntime.threads }

    /// `rowBias` (n values), when given, is where every row of C starts instead of zeros or C itself (`accumulate`
    /// is then ignored): each thread fills its own part of C just before multiplying into it, so a layer's bias
    /// costs no separate pass over its output.
    @usableFromInline
    static func gemm<T: GEMMScalar>(
        m: Int, n: Int, k: Int, alpha: T, a: MatrixOperand<T>, b: MatrixOperand<T>,
        c: UnsafeMutablePointer<T>, rsc: Int, accumulate accumulateIn: Bool, bSource: (storage: NDStorage, offset: Int)? = nil,
        parallel: Bool = true, panels: PackedBCache.Panels? = nil, rowBias: UnsafePointer<T>? = nil
    ) {
        if m == 0 || n == 0 { return }
        /// Rows `rows` of C, columns `cols`, set to the bias.
        func fillBias(_ rows: Range<Int>, _ cols: Range<Int>) {
            guard let rowBias else { return }
            for i in rows { (c + i * rsc + cols.lowerBound).update(from: rowBias + cols.lowerBound, count: cols.count) }
        }
        let accumulate = accumulateIn || rowBias != nil
        if k == 0 {
            if rowBias != nil { fillBias(0..<m, 0..<n) } else if !accumulate { for i in 0..<m { (c + i * rsc).update(repeating: 0, count: n) } }
            return
        }
        let cached = panels ?? cachedPanels(b: b, k: k, n: n, bSource: bSource)
        let packed = cached.map { UnsafeRawPointer($0.buffer).assumingMemoryBound(to: T.self) }
        defer { withExtendedLifetime(cached) {} }
        let threads = threadCount
        let work = m * n * k
        if parallel && packed == nil && splitsDepth(m: m, n: n, k: k) {
            fillBias(0..<m, 0..<n)
            splitDepth(m: m, n: n, k: k, c: c, rsc: rsc, accumulate: accumulate) { lo, hi, c, rsc, accumulate in
                serial(m: m, n: n, k: hi - lo, alpha: alpha, a: MatrixOperand(a.base + lo * a.colStride, a.rowStride, a.colStride),
                       b: MatrixOperand(b.base + lo * b.rowStride, b.rowStride, b.colStride), c: c, rsc: rsc, accumulate: accumulate)
            }
            return
        }
        if parallel && threads > 1 && work >= parallelThreshold {
            // Split the longer side of C into one contiguous range per thread, on tile boundaries.
            let splitColumns = n >= m
            // Column ranges in pairs of panels where the wide tile runs, so that no thread is left an odd one.
            let tile = splitColumns ? (T.hasWideKernel ? 2 * T.nr : T.nr) : T.rowTile(m)
            let extent = splitColumns ? n : m
            let tiles = (extent + tile - 1) / tile
            let parts = Swift.min(threads, tiles)
            if parts > 1 {
                parallelFor(parts) { t in
                    let lo = tiles * t / parts * tile, hi = Swift.min(extent, tiles * (t + 1) / parts * tile)
                    if lo >= hi { return }
                    if splitColumns { fillBias(0..<m, lo..<hi) } else { fillBias(lo..<hi, 0..<n) }
                    if splitColumns {
                        let bSub = MatrixOperand(b.base + lo * b.colStride, b.rowStride, b.colStride)
                        serial(m: m, n: hi - lo, k: k, alpha: alpha, a: a, b: bSub, c: c + lo, rsc: rsc, accumulate: accumulate,
                               packedB: packed.map { $0 + lo * k })
                    } else {
                        let aSub = MatrixOperand(a.base + lo * a.rowStride, a.rowStride, a.colStride)
                        serial(m: hi - lo, n: n, k: k, alpha: alpha, a: aSub, b: b, c: c + lo * rsc, rsc: rsc, accumulate: accumulate,
                               packedB: packed)
                    }
                }
                return
            }
        }
        fillBias(0..<m, 0..<n)
        serial(m: m, n: n, k: k, alpha: alpha, a: a, b: b, c: c, rsc: rsc, accumulate: accumulate, packedB: packed)
    }

    /// Working memory of the blocked loops (packed panels, partial tiles, partial products), taken from this
    /// thread's ``BufferPool`` and given back when the loop ends. The products of a training step then reuse the
    /// memory the previous step's used: `malloc` serves blocks of this size (a panel of 400 columns × 256 deep is
    /// 400 KB) from fresh `mmap`s, and every page of those faulted in at its first write.
    struct Scratch<T> {
        let pointer: UnsafeMutablePointer<T>
        private let bytes: Int

        init(_ count: Int) {
            bytes = Swift.max(count, 1) * MemoryLayout<T>.stride
            pointer = BufferPool.take(bytes).bindMemory(to: T.self, capacity: Swift.max(count, 1))
        }

        /// Gives the memory back to the pool of the thread that runs this (the one that took it).
        func release() { BufferPool.give(UnsafeMutableRawPointer(pointer), bytes) }
    }

    /// A stored by rows is read in place, unpacked, when one depth block of it takes at most this many bytes.
    nonisolated(unsafe) static var aInPlaceBytes: Int = setting("CATENA_GEMM_A_IN_PLACE_BYTES", default: 32 << 10)

    /// Products whose depth is at least this many times their larger side are split along the depth.
    static let splitDepthFactor = 8

    /// Whether a product is split across threads along its depth (``splitDepth(m:n:k:c:rsc:accumulate:_:)``).
    static func splitsDepth(m: Int, n: Int, k: Int) -> Bool {
        threadCount > 1 && m * n * k >= parallelThreshold && k >= splitDepthFactor * Swift.max(m, n) && k >= 2 * kc
    }

    /// A deep, small product (the weight gradient of a recurrence summed over all its steps: `C` of 100 × 100 over a
    /// depth of 12,544) split along `k`: each thread multiplies its own range of depth with `partial(lo, hi, c, rsc,
    /// accumulate)` — the first into `C`, the others into a scratch `C` of their own — and the partial products are
    /// then added into `C`. Splitting rows or columns instead would leave each thread a thin strip of `C` and have
    /// every thread pack all of A or B.
    static func splitDepth<T: GEMMScalar>(m: Int, n: Int, k: Int, c: UnsafeMutablePointer<T>, rsc: Int, accumulate: Bool,
                                          _ partial: (_ lo: Int, _ hi: Int, _ c: UnsafeMutablePointer<T>, _ rsc: Int, _ accumulate: Bool) -> Void) {
        let parts = threadCount
        let partials = Scratch<T>((parts - 1) * m * n), scratch = partials.pointer
        defer { partials.release() }
        parallelFor(parts) { t in
            let lo = k * t / parts, hi = k * (t + 1) / parts
            if t == 0 {
                partial(lo, hi, c, rsc, accumulate)
            } else {
                partial(lo, hi, scratch + (t - 1) * m * n, n, false)
            }
        }
        for t in 1..<parts {
            let s = scratch + (t - 1) * m * n
            for i in 0..<m {
                let row = c + i * rsc, part = s + i * n
                for j in 0..<n { row[j] += part[j] }
            }
        }
    }

    /// The packed form of `b` kept by ``PackedBCache`` when `b` is a transposed weight block (from `bSource`) that
    /// fits one panel set, reused while the weights are unchanged; nil otherwise. A caller that makes many products
    /// with the same weights (on several threads) looks it up once and passes it to ``gemm(m:n:k:alpha:a:b:c:rsc:accumulate:bSource:parallel:panels:)``.
    static func cachedPanels<T: GEMMScalar>(b: MatrixOperand<T>, k: Int, n: Int, bSource: (storage: NDStorage, offset: Int)?) -> PackedBCache.Panels? {
        guard let src = bSource, T.self == Float.self, b.rowStride == 1, b.colStride != 1, k <= kc, n <= nc else { return nil }
        return PackedBCache.shared.panels(storage: src.storage, offset: src.offset, cs: b.colStride, depth: k, cols: n)
    }

    /// `C (+)= Σ_p aCols[p] ⊗ bRows[p]` in float32: A (`m × k`) given by its columns, each `m` contiguous values,
    /// and B (`k × n`) by its rows, each `n` contiguous values, wherever they lie. This is the weight gradient
    /// `Σ_t gy_tᵀ · x_t` of a layer applied at many steps, computed from every step's `gy_t` and `x_t` as they are
    /// instead of after copying them into one matrix each: the packing reads them in place. Split over C's rows, or
    /// along the depth when that is much the longest side.
    static func gemmOuterRows(m: Int, n: Int, aCols: [UnsafePointer<Float>?], bRows: [UnsafePointer<Float>?],
                              c: UnsafeMutablePointer<Float>, rsc: Int, accumulate: Bool) {
        precondition(aCols.count == bRows.count, "GEMM.gemmOuterRows: \(aCols.count) columns of A, \(bRows.count) rows of B")
        let k = aCols.count
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * rsc).update(repeating: 0, count: n) } }
            return
        }
        let nr = Float.nr, mr = Float.rowTile(m)
        aCols.withUnsafeBufferPointer { aPtrs in
            bRows.withUnsafeBufferPointer { bPtrs in
                let ap = aPtrs.baseAddress!, bp = bPtrs.baseAddress!
                /// Rows `lo ..< hi` of `c` (C's rows, `rsc` apart), from the depth `depth`.
                func part(_ lo: Int, _ hi: Int, depth: Range<Int>, c: UnsafeMutablePointer<Float>, rsc: Int, accumulate: Bool) {
                    let rows = hi - lo, k = depth.count, ap = ap + depth.lowerBound, bp = bp + depth.lowerBound
                    let kcMax = Swift.min(kc, k), mcMax = Swift.min(mc, (rows + mr - 1) / mr * mr), ncMax = Swift.min(nc, (n + nr - 1) / nr * nr)
                    let aScratch = Scratch<Float>(mcMax * kcMax), bScratch = Scratch<Float>(ncMax * kcMax), tmpScratch = Scratch<Float>(mr * nr)
                    let aBuf = aScratch.pointer, bBuf = bScratch.pointer, tmp = tmpScratch.pointer
                    defer {
                        aScratch.release()
                        bScratch.release()
                        tmpScratch.release()
                    }
                    forEachBlock(n: n, k: k) { jc, ncCur, pc, kcCur in
                        catena_pack_b_rows_f32(bp + pc, jc, kcCur, ncCur, bBuf)
                        macroKernel(m: rows, ncCur: ncCur, kcCur: kcCur, alpha: 1,
                                    packA: { catena_pack_at_rows_f32(ap + pc, lo + $0, $1, kcCur, mr, $2) },
                                    mr: mr, aBuf: aBuf, tmp: tmp, bPacked: UnsafePointer(bBuf), bBlock: nil, rsbUnpacked: 0,
                                    c: c + lo * rsc, jc: jc, rsc: rsc, acc: accumulate || pc > 0)
                    }
                }
                if splitsDepth(m: m, n: n, k: k) {
                    splitDepth(m: m, n: n, k: k, c: c, rsc: rsc, accumulate: accumulate) { lo, hi, c, rsc, accumulate in
                        part(0, m, depth: lo..<hi, c: c, rsc: rsc, accumulate: accumulate)
                    }
                    return
                }
                let tiles = (m + mr - 1) / mr
                let parts = m * n * k >= parallelThreshold ? Swift.min(threadCount, tiles) : 1
                parallelFor(parts) { t in
                    let lo = tiles * t / parts * mr, hi = Swift.min(m, tiles * (t + 1) / parts * mr)
                    if lo < hi { part(lo, hi, depth: 0..<k, c: c, rsc: rsc, accumulate: accumulate) }
                }
            }
        }
    }

    /// One thread's share: the blocked loops around the micro-kernel. `packedB`, when given, is B already packed
    /// as `nr`-column panels of depth `k` (one block: k ≤ kc, n ≤ nc).
    @usableFromInline
    static func serial<T: GEMMScalar>(
        m: Int, n: Int, k: Int, alpha: T, a: MatrixOperand<T>, b: MatrixOperand<T>,
        c: UnsafeMutablePointer<T>, rsc: Int, accumulate: Bool, packedB: UnsafePointer<T>? = nil
    ) {
        let nr = T.nr
        let mr = T.rowTile(m)
        let kcMax = Swift.min(kc, k)
        let mcMax = Swift.min(mc, (m + mr - 1) / mr * mr)
        let ncMax = Swift.min(nc, (n + nr - 1) / nr * nr)
        // A stored by rows whose depth block fits in the L1 cache (the few rows of a small batch) is read in place:
        // packing it would copy it once per column and depth block (on every thread of a split) for the same reads.
        let aInPlace = T.hasEdgeKernel && a.colStride == 1 && m * kcMax * MemoryLayout<T>.stride <= aInPlaceBytes
        let aScratch = Scratch<T>(aInPlace ? 0 : mcMax * kcMax), tmpScratch = Scratch<T>(mr * nr)
        let aBuf = aScratch.pointer, tmp = tmpScratch.pointer
        defer {
            aScratch.release()
            tmpScratch.release()
        }
        // B already packed whole (one k block, one column block): straight to the tiles.
        if let packedB {
            macroKernel(m: m, ncCur: n, kcCur: k, alpha: alpha, packA: { packPanels(A: a.base + $0 * a.rowStride, a.rowStride, a.colStride, $1, k, mr, into: $2) },
                        mr: mr, aBuf: aBuf, tmp: tmp, bPacked: packedB, bBlock: nil, rsbUnpacked: 0, c: c, jc: 0, rsc: rsc, acc: accumulate,
                        aInPlace: aInPlace ? MatrixOperand(a.base, a.rowStride, 1) : nil)
            return
        }
        // B is packed unless its rows are contiguous and few rows of A will reuse each panel.
        let packB = b.colStride != 1 || m > packBRows
        let bScratch = Scratch<T>((packB ? ncMax : nr) * kcMax), bBuf = bScratch.pointer
        defer { bScratch.release() }
        forEachBlock(n: n, k: k) { jc, ncCur, pc, kcCur in
            let bBlock = b.base + pc * b.rowStride + jc * b.colStride
            if packB { packPanels(B: bBlock, b.rowStride, b.colStride, kcCur, ncCur, nr, into: bBuf) }
            let aBlock = a.base + pc * a.colStride
            macroKernel(m: m, ncCur: ncCur, kcCur: kcCur, alpha: alpha,
                        packA: { packPanels(A: aBlock + $0 * a.rowStride, a.rowStride, a.colStride, $1, kcCur, mr, into: $2) },
                        mr: mr, aBuf: aBuf, tmp: tmp, bPacked: packB ? UnsafePointer(bBuf) : nil, bBlock: packB ? nil : (bBlock, bBuf),
                        rsbUnpacked: b.rowStride, c: c, jc: jc, rsc: rsc, acc: accumulate || pc > 0,
                        aInPlace: aInPlace ? MatrixOperand(aBlock, a.rowStride, 1) : nil)
        }
    }

    /// The column blocks of C (`nc` wide) and, within each, the depth blocks (`kc` deep), in the order the blocked
    /// loops visit them: `body(jc, ncCur, pc, kcCur)`.
    @inline(__always)
    static func forEachBlock(n: Int, k: Int, _ body: (_ jc: Int, _ ncCur: Int, _ pc: Int, _ kcCur: Int) -> Void) {
        var jc = 0
        while jc < n {
            let ncCur = Swift.min(nc, n - jc)
            var pc = 0
            while pc < k {
                body(jc, ncCur, pc, Swift.min(kc, k - pc))
                pc += kc
            }
            jc += nc
        }
    }

    /// The loops over row blocks and tiles for one (k block, column block) of B, packed (`bPacked`) or read in place
    /// (`bBlock`, with a scratch panel for a ragged last column panel).
    @inline(__always)
    static func macroKernel<T: GEMMScalar>(
        m: Int, ncCur: Int, kcCur: Int, alpha: T, packA: (_ row: Int, _ rows: Int, _ into: UnsafeMutablePointer<T>) -> Void, mr: Int,
        aBuf: UnsafeMutablePointer<T>, tmp: UnsafeMutablePointer<T>, bPacked: UnsafePointer<T>?, bBlock: (UnsafePointer<T>, UnsafeMutablePointer<T>)?,
        rsbUnpacked: Int, c: UnsafeMutablePointer<T>, jc: Int, rsc: Int, acc: Bool, aInPlace: MatrixOperand<T>? = nil
    ) {
        let nr = T.nr
        let wide = T.hasWideKernel
        var ic = 0
        while ic < m {
            let mcCur = Swift.min(mc, m - ic)
            // The tiles read A's rows where they lie (`aInPlace`: row-major, this depth block) or from the packed
            // panels; tile row `ir` starts `ir * rowStep` elements after `aRows`.
            let aRows: UnsafePointer<T>, rowStep: Int, rsa: Int, csa: Int
            if let d = aInPlace {
                (aRows, rowStep, rsa, csa) = (d.base + ic * d.rowStride, d.rowStride, d.rowStride, 1)
            } else {
                packA(ic, mcCur, aBuf)
                (aRows, rowStep, rsa, csa) = (UnsafePointer(aBuf), kcCur, 1, mr)
            }
            var jr = 0
            while jr < ncCur {
                // Two full panels left: one tile over both (each element of A loaded once for 2·nr columns).
                if wide && ncCur - jr >= 2 * nr {
                    let b0: UnsafePointer<T>, b1: UnsafePointer<T>, rsb: Int
                    if let bPacked {
                        (b0, b1, rsb) = (bPacked + jr * kcCur, bPacked + (jr + nr) * kcCur, nr)
                    } else {
                        (b0, b1, rsb) = (bBlock!.0 + jr, bBlock!.0 + jr + nr, rsbUnpacked)
                    }
                    forEachRowTile(mcCur, mr, balanced: aInPlace != nil) { ir, h in
                        T.wideKernel(kcCur, h, alpha, aRows + ir * rowStep, rsa, csa, b0, b1, rsb, c + (ic + ir) * rsc + jc + jr, rsc, acc)
                    }
                    jr += 2 * nr
                    continue
                }
                let nrCur = Swift.min(nr, ncCur - jr)
                let bPanel: UnsafePointer<T>
                let rsb: Int
                if let bPacked {
                    bPanel = bPacked + jr * kcCur
                    rsb = nr
                } else if nrCur == nr {
                    bPanel = bBlock!.0 + jr
                    rsb = rsbUnpacked
                } else {
                    // A ragged last panel of a few columns over A read in place: tiles that read only those columns of
                    // B where it lies (the same sums as the edge tiles over a padded copy), instead of a zero-padded
                    // copy of the panel at every call (the step products of a recurrence make one per step).
                    if aInPlace != nil && nrCur <= T.narrowEdgeColumns {
                        var done = true
                        forEachRowTile(mcCur, mr, balanced: true) { ir, h in
                            done = done && T.narrowEdgeKernel(kcCur, h, nrCur, alpha, aRows + ir * rowStep, rsa, csa, bBlock!.0 + jr,
                                                             rsbUnpacked, c + (ic + ir) * rsc + jc + jr, rsc, acc)
                        }
                        precondition(done, "GEMM: the narrow edge kernel refused a tile it had said it takes")
                        jr += nr
                        continue
                    }
                    packPanels(B: bBlock!.0 + jr, rsbUnpacked, 1, kcCur, nrCur, nr, into: bBlock!.1)
                    bPanel = UnsafePointer(bBlock!.1)
                    rsb = nr
                }
                // A ragged last panel over packed A: all the block's rows at once, with the rows along the lanes.
                if nrCur < nr && aInPlace == nil
                    && T.columnsKernel(kcCur, mcCur, mr, nrCur, alpha, aRows, mr * kcCur, bPanel, rsb, c + ic * rsc + jc + jr, rsc, acc) {
                    jr += nr
                    continue
                }
                forEachRowTile(mcCur, mr, balanced: aInPlace != nil) { ir, mrCur in
                    let aPanel = aRows + ir * rowStep
                    let cTile = c + (ic + ir) * rsc + jc + jr
                    if mrCur == T.mr && nrCur == nr {
                        T.microKernel(kcCur, alpha, aPanel, rsa, csa, bPanel, rsb, cTile, rsc, acc)
                    } else if T.edgeKernel(kcCur, mrCur, nrCur, alpha, aPanel, rsa, csa, bPanel, rsb, cTile, rsc, acc) {
                        // computed in place
                    } else {
                        T.microKernel(kcCur, alpha, aPanel, rsa, csa, bPanel, rsb, tmp, nr, false)
                        for i in 0..<mrCur {
                            let src = tmp + i * nr, dst = cTile + i * rsc
                            if acc { for j in 0..<nrCur { dst[j] += src[j] } } else { dst.update(from: src, count: nrCur) }
                        }
                    }
                }
                jr += nr
            }
            ic += mc
        }
    }

    /// The row tiles of a block of `rows` rows, `body(first row, height)`: `mr` rows each, the last at its own height.
    /// `balanced` (A read in place, where a tile may start at any row): a last tile of one to three rows shares the
    /// rows of the one before it evenly instead (10 rows as 5 + 5, not 8 + 2), because a tile of so few rows has too
    /// few independent sums to cover the latency of its multiply-adds and runs at half speed or less. Each element of
    /// C is the same sum in the same order whatever tile computes it.
    @inline(__always)
    static func forEachRowTile(_ rows: Int, _ mr: Int, balanced: Bool, _ body: (_ ir: Int, _ h: Int) -> Void) {
        let tail = rows % mr
        let split = balanced && rows > mr && tail > 0 && tail < 4
        let end = split ? rows - mr - tail : rows
        var ir = 0
        while ir < end {
            body(ir, Swift.min(mr, end - ir))
            ir += mr
        }
        if split {
            let first = (mr + tail + 1) / 2
            body(end, first)
            body(end + first, mr + tail - first)
        }
    }

    /// Packs an `rows × depth` block of A into `mr`-row micro-panels (each `depth × mr`, column-major within the
    /// panel), zero-padding the last panel.
    @inline(__always)
    static func packPanels<T: GEMMScalar>(A a: UnsafePointer<T>, _ rs: Int, _ cs: Int, _ rows: Int, _ depth: Int, _ mr: Int,
                                          into buf: UnsafeMutablePointer<T>) {
        if rs == 1 && cs != 1 && T.packTransposedA(a, cs, rows, depth, mr, buf) { return }
        if cs == 1 && rs != 1 && T.packRowsA(a, rs, rows, depth, mr, buf) { return }
        var i0 = 0
        var dst = buf
        while i0 < rows {
            let h = Swift.min(mr, rows - i0)
            if h < mr { dst.update(repeating: 0, count: mr * depth) }
            if rs == 1 {
                // A stored transposed (columns contiguous): each step p copies h neighbouring values.
                for p in 0..<depth { (dst + p * mr).update(from: a + i0 + p * cs, count: h) }
            } else {
                for i in 0..<h {
                    let src = a + (i0 + i) * rs
                    if cs == 1 {
                        for p in 0..<depth { dst[p * mr + i] = src[p] }
                    } else {
                        for p in 0..<depth { dst[p * mr + i] = src[p * cs] }
                    }
                }
            }
            dst += mr * depth
            i0 += mr
        }
    }

    /// Packs a `depth × cols` block of B into `nr`-column micro-panels (each `depth × nr`, row-major), zero-padding
    /// the last panel.
    @inline(__always)
    static func packPanels<T: GEMMScalar>(B b: UnsafePointer<T>, _ rs: Int, _ cs: Int, _ depth: Int, _ cols: Int, _ nr: Int,
                                          into buf: UnsafeMutablePointer<T>) {
        if rs == 1 && cs != 1 && T.packTransposedB(b, cs, depth, cols, buf) { return }
        if cs == 1 && nr == 16 && T.packRowsB(b, rs, depth, cols, buf) { return }
        var j0 = 0
        var dst = buf
        while j0 < cols {
            let w = Swift.min(nr, cols - j0)
            if w < nr { dst.update(repeating: 0, count: nr * depth) }
            if cs == 1 {
                // Short rows: an element loop beats a memmove call per row.
                for p in 0..<depth {
                    let d = dst + p * nr, s = b + p * rs + j0
                    for j in 0..<w { d[j] = s[j] }
                }
            } else {
                for j in 0..<w {
                    let src = b + (j0 + j) * cs
                    for p in 0..<depth { dst[p * nr + j] = src[p * rs] }
                }
            }
            dst += nr * depth
            j0 += nr
        }
    }

    /// A simple triple loop for integer matrices.
    @usableFromInline
    static func naive<T: NDNumeric>(m: Int, n: Int, k: Int, a: MatrixOperand<T>, b: MatrixOperand<T>,
                                     c: UnsafeMutablePointer<T>, rsc: Int, accumulate: Bool) {
        for i in 0..<m {
            let row = c + i * rsc
            if !accumulate { row.update(repeating: T._zero, count: n) }
            for p in 0..<k {
                let aip = a.base[i * a.rowStride + p * a.colStride]
                let brow = b.base + p * b.rowStride
                for j in 0..<n { row[j] = T._add(row[j], aip * brow[j * b.colStride]) }
            }
        }
    }
}
