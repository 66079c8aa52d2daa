import CCatenaKernels
import Foundation
import XCTest

@testable import Catena

final class MatMulTests: XCTestCase {
    /// Triple loop in Double over the C-ordered values.
    func naive(_ a: NDArray, _ b: NDArray) -> [Double] {
        let av = a.contiguous().toDoubles(), bv = b.contiguous().toDoubles()
        let m = a.shape[0], k = a.shape[1], n = b.shape[1]
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { var s = 0.0; for p in 0..<k { s += av[i * k + p] * bv[p * n + j] }; c[i * n + j] = s } }
        return c
    }

    func checkShapes(_ shapes: [(Int, Int, Int)], dtype: DType, file: StaticString = #filePath, line: UInt = #line) {
        for (m, k, n) in shapes {
            let a = testArray([m, k], dtype: dtype), b = testArray([k, n], dtype: dtype, scale: 0.7, offset: 0.1)
            let tol = dtype == .float32 ? 1e-5 * Double(k) : 1e-12 * Double(k)
            assertClose(NDArray.matmul(a, b), naive(a, b), shape: [m, n], atol: tol, rtol: 1e-5, "\(m)x\(k)x\(n)", file: file, line: line)
            // Transposed operands read in place: pass aᵀ and bᵀ stored transposed.
            let at = a.transposed().contiguous(), bt = b.transposed().contiguous()
            assertClose(NDArray.matmul(at, bt, transposeA: true, transposeB: true), naive(a, b), shape: [m, n], atol: tol, rtol: 1e-5,
                        "transposed \(m)x\(k)x\(n)", file: file, line: line)
            assertClose(NDArray.matmul(a, bt.transposed()), naive(a, b), shape: [m, n], atol: tol, rtol: 1e-5, file: file, line: line)
        }
    }

    func testShapesAroundTheTileSizesFloat32() {
        checkShapes([(1, 1, 1), (6, 4, 16), (7, 3, 17), (5, 300, 15), (20, 100, 40), (13, 257, 33), (130, 20, 50), (1, 5, 70)], dtype: .float32)
        // Row tiles of 4 (8 and 28 rows) and 5 (20 and 25 rows), full and partial.
        checkShapes([(8, 33, 20), (28, 50, 17), (25, 9, 16), (20, 400, 100)], dtype: .float32)
        // Row-major B packed (more rows of A than packBRows): full and ragged panels, depth past one k block.
        checkShapes([(40, 300, 37), (30, 7, 16), (100, 513, 100)], dtype: .float32)
    }

    /// A stored by rows is read in place when a depth block of it is small (`GEMM.aInPlaceBytes`) and packed
    /// otherwise: both ways give the product, for every row-tile height, row blocks past `mc` (130 rows), depths past
    /// one k block, split across threads or not, on the AVX-512, AVX2 and portable tiles.
    func testRowMajorAReadInPlaceOrPacked() {
        let saved = GEMM.aInPlaceBytes
        defer { GEMM.aInPlaceBytes = saved }
        let shapes = [(1, 5, 70), (7, 3, 17), (13, 257, 33), (20, 400, 100), (25, 9, 16), (130, 20, 50), (130, 300, 50), (9, 40, 48)]
        for bytes in [0, Int.max] {
            GEMM.aInPlaceBytes = bytes
            checkShapes(shapes, dtype: .float32)
            checkShapes([(7, 3, 9), (20, 260, 12)], dtype: .float64)
            catena_kernels_limit(1)
            checkShapes(shapes, dtype: .float32)
            catena_kernels_limit(2)
            catena_kernels_force_portable(1)
            checkShapes(shapes, dtype: .float32)
            catena_kernels_force_portable(0)
        }
    }

    func testShapesFloat64() {
        checkShapes([(1, 1, 1), (6, 5, 8), (7, 3, 9), (20, 260, 12), (130, 7, 20)], dtype: .float64)
    }

    func testPortableKernelsGiveTheSameProducts() {
        catena_kernels_force_portable(1)
        defer { catena_kernels_force_portable(0) }
        XCTAssertEqual(catena_kernels_use_avx2(), 0)
        checkShapes([(7, 3, 17), (13, 40, 33)], dtype: .float32)
        checkShapes([(7, 3, 9)], dtype: .float64)
    }

    /// float32 has its C edge and packing routines (a signature drifting from the protocol's would silently select
    /// the slower defaults that float64 uses).
    func testFloat32UsesItsCRoutinesAndFloat64TheDefaults() {
        let src = UnsafeMutablePointer<Float>.allocate(capacity: 16 * 16), dst = UnsafeMutablePointer<Float>.allocate(capacity: 16 * 16)
        defer { src.deallocate(); dst.deallocate() }
        src.initialize(repeating: 1, count: 256)
        dst.initialize(repeating: 0, count: 256)
        XCTAssertTrue(Float.packTransposedB(src, 16, 4, 16, dst))
        XCTAssertTrue(Float.packTransposedA(src, 16, 6, 4, 6, dst))
        XCTAssertTrue(Float.packRowsA(src, 16, 6, 4, 6, dst))
        XCTAssertTrue(Float.packRowsB(src, 16, 4, 16, dst))
        XCTAssertTrue(Float.edgeKernel(4, 5, 16, 1, src, 1, 6, src, 16, dst, 16, false))
        XCTAssertTrue(Float.hasEdgeKernel)
        XCTAssertFalse(Double.hasEdgeKernel)
        let d = UnsafeMutablePointer<Double>.allocate(capacity: 64)
        defer { d.deallocate() }
        d.initialize(repeating: 0, count: 64)
        XCTAssertFalse(Double.packRowsA(d, 8, 2, 2, 6, d))
    }

    /// On a CPU with AVX-512 the single-precision tiles use it; the AVX2 ones must give the same products.
    func testAVX2KernelsGiveTheSameProductsWhereAVX512IsUsed() {
        catena_kernels_limit(1)
        defer { catena_kernels_limit(2) }
        XCTAssertLessThanOrEqual(catena_kernels_level(), 1)
        checkShapes([(7, 3, 17), (13, 40, 33), (20, 100, 40), (6, 4, 16)], dtype: .float32)
    }

    /// The 32-column, 8-row tiles (two panels at once, on AVX-512): every tile height 1…8 (m up to 8, and the
    /// remainders of m = 9, 15, 17, 20, 130), 8-row tiles over a single panel and a narrow column edge (n = 16, 10),
    /// a panel left over beside pairs (n = 48, 100), depths past one k block (k = 300 > kc), B read in place (few
    /// rows) and packed (many rows, or transposed), and accumulation with alpha.
    func testTwoPanelTilesOverEveryRowHeight() {
        XCTAssertEqual(catena_sgemm_has_wide_kernel() != 0, catena_kernels_level() >= 2)
        checkShapes([(1, 5, 32), (2, 7, 64), (3, 1, 48), (4, 300, 32), (5, 17, 100), (6, 33, 96), (7, 9, 80), (8, 20, 64),
                     (9, 5, 33), (15, 40, 48), (16, 100, 100), (17, 3, 16), (8, 7, 10), (20, 300, 64), (130, 40, 65)], dtype: .float32)
        // A last row tile of one to three rows shares the rows of the one before it when A is read in place: 10, 11,
        // 19 and 27 rows, the per-thread blocks of a recurrence's step products among them.
        checkShapes([(10, 100, 400), (10, 400, 100), (11, 64, 70), (19, 33, 100), (27, 300, 48)], dtype: .float32)
        let a = testArray([5, 300]), b = testArray([300, 100], scale: 0.3)
        var c = NDArray.full([5, 100], 0.5)
        NDArray.gemm(a, b, into: &c, alpha: -2, accumulate: true)
        assertClose(c, naive(a, b).map { 0.5 - 2 * $0 }, shape: [5, 100], atol: 1e-3, rtol: 1e-5)
    }

    /// Row tiles cover every row once, in order, at most `mr` high; balanced, no tile after the first full one has
    /// fewer than 4 rows (10 rows: 5 + 5; 17: 8 + 5 + 4; 20: 8 + 8 + 4 as before).
    func testRowTilesPartitionTheRows() {
        func tiles(_ rows: Int, _ balanced: Bool) -> [Int] {
            var hs: [Int] = [], next = 0
            GEMM.forEachRowTile(rows, 8, balanced: balanced) { ir, h in
                XCTAssertEqual(ir, next, "\(rows) rows")
                hs.append(h)
                next = ir + h
            }
            XCTAssertEqual(next, rows, "\(rows) rows")
            return hs
        }
        XCTAssertEqual(tiles(10, true), [5, 5])
        XCTAssertEqual(tiles(10, false), [8, 2])
        XCTAssertEqual(tiles(17, true), [8, 5, 4])
        XCTAssertEqual(tiles(20, true), [8, 8, 4])
        XCTAssertEqual(tiles(3, true), [3])
        XCTAssertEqual(tiles(0, true), [])
        for rows in 1...40 {
            let hs = tiles(rows, true)
            XCTAssertTrue(hs.allSatisfy { $0 >= 1 && $0 <= 8 })
            if rows > 8 { XCTAssertTrue(hs.allSatisfy { $0 >= 4 }, "\(rows) rows: \(hs)") }
        }
    }

    /// The column-edge kernel (C's rows along the vector lanes) for every width it takes (1…12) over 1 to 5 packed
    /// 8-row panels (every grouping of panels it uses, a partial last panel among them), with alpha and with and
    /// without accumulation: small integers, so each sum is exact whatever the order. It declines (and writes
    /// nothing) for 13 columns or panels of 6 rows.
    func testColumnEdgeKernelOverPackedPanels() {
        guard catena_kernels_use_avx2() != 0 else { return }
        for nr in 1...12 {
            for rows in [1, 7, 8, 9, 17, 24, 25, 33] {
                for k in [1, 5] {
                    let panels = (rows + 7) / 8
                    // A packed: element (i, p) at (i / 8)·8k + 8p + i % 8, zero past `rows`; B: k rows of 16.
                    var a = [Float](repeating: 0, count: panels * 8 * k)
                    for i in 0..<rows {
                        for p in 0..<k {
                            let v: Int = (i * 3 + p * 5) % 7 - 3
                            a[(i / 8) * 8 * k + 8 * p + i % 8] = Float(v)
                        }
                    }
                    let b: [Float] = (0..<(16 * k)).map { (j: Int) -> Float in Float((j * 5) % 9 - 4) }
                    for accumulate in [false, true] {
                        let rsc = nr + 3
                        var c: [Float] = (0..<(rows * rsc)).map { (j: Int) -> Float in Float(j % 5) }
                        var expected = c
                        for i in 0..<rows {
                            for j in 0..<nr {
                                var s: Float = 0
                                for p in 0..<k { s += a[(i / 8) * 8 * k + 8 * p + i % 8] * b[p * 16 + j] }
                                let before: Float = accumulate ? c[i * rsc + j] : 0
                                expected[i * rsc + j] = 2 * s + before
                            }
                        }
                        let done = catena_sgemm_kernel_columns(k, rows, 8, Int32(nr), 2, a, 8 * k, b, 16, &c, rsc, accumulate ? 1 : 0)
                        XCTAssertEqual(done, 1)
                        XCTAssertEqual(c, expected, "nr \(nr), rows \(rows), k \(k), accumulate \(accumulate)")
                    }
                }
            }
        }
        var c = [Float](repeating: 7, count: 8 * 16)
        let a = [Float](repeating: 1, count: 8 * 2), b = [Float](repeating: 1, count: 16 * 2)
        XCTAssertEqual(catena_sgemm_kernel_columns(2, 8, 8, 13, 1, a, 16, b, 16, &c, 16, 0), 0)
        XCTAssertEqual(catena_sgemm_kernel_columns(2, 6, 6, 4, 1, a, 12, b, 16, &c, 16, 0), 0)
        XCTAssertEqual(c, [Float](repeating: 7, count: 8 * 16))
    }

    /// Products whose last column panel is ragged (96 + 1…12 columns, and 10 alone) with A packed: the column-edge
    /// kernel computes those columns, on every row-block size, depths past one k block, split across threads or not.
    func testRaggedColumnEdgesOverPackedA() {
        let saved = GEMM.aInPlaceBytes
        defer { GEMM.aInPlaceBytes = saved }
        GEMM.aInPlaceBytes = 0
        var shapes: [(Int, Int, Int)] = [(700, 20, 10), (130, 300, 100), (41, 260, 4)]
        for c in 1...12 { shapes.append((8 * c + 1, 3 + c, 96 + c)) }
        checkShapes(shapes, dtype: .float32)
    }

    /// The narrow edge kernel reads a ragged last panel of B where it lies: for every width it takes (1…8) and every
    /// row-tile height (up to 8 with AVX-512, 6 with AVX2), with alpha and with and without accumulation, B's last
    /// row ending exactly at a page that cannot be read (a read past its columns would crash), the result equals,
    /// bit for bit, the edge kernel's over a zero-padded 16-column copy. It declines (and writes nothing) for 9
    /// columns, for 7 rows on the AVX2 tiles, and without AVX2.
    func testNarrowEdgeTilesReadOnlyTheirColumnsOfB() throws {
        // Readable pages for B (up to 300 × 8 floats), then one that is not.
        let page = Int(sysconf(Int32(_SC_PAGESIZE))), readable = (300 * 8 * 4 + page - 1) / page * page
        guard let region = mmap(nil, readable + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), region != MAP_FAILED else {
            throw XCTSkip("mmap failed")
        }
        defer { munmap(region, readable + page) }
        XCTAssertEqual(mprotect(region + readable, page, PROT_NONE), 0)
        defer { catena_kernels_limit(2) }
        for level in [2, 1, 0] where level <= Int(catena_kernels_level()) {
            catena_kernels_limit(Int32(level))
            XCTAssertEqual(Float.narrowEdgeColumns, level == 0 ? 0 : 8)
            let maxRows = level == 2 ? 8 : 6
            for nr in 1...8 {
                for k in [1, 2, 5, 300] {
                    // B (k × nr, rows nr apart) ends at the unreadable page.
                    let b = (region + readable).assumingMemoryBound(to: Float.self) - k * nr
                    for i in 0..<(k * nr) { b[i] = Float((i * 5) % 9 - 4) * 0.5 }
                    var padded = [Float](repeating: 0, count: k * 16)
                    for p in 0..<k { for j in 0..<nr { padded[p * 16 + j] = b[p * nr + j] } }
                    for rows in 1...maxRows {
                        let rsa = k + 1
                        let a = (0..<(rows * rsa)).map { Float(($0 * 7) % 11 - 5) * 0.25 }
                        for accumulate in [false, true] {
                            let rsc = nr + 3
                            var c = (0..<(rows * rsc)).map { Float($0 % 5) }, expected = c
                            let done = catena_sgemm_kernel_edge_narrow(k, Int32(rows), Int32(nr), 1.5, a, rsa, 1, b, nr, &c, rsc,
                                                                      accumulate ? 1 : 0)
                            if level == 0 {
                                XCTAssertEqual(done, 0)
                                XCTAssertEqual(c, expected)
                                continue
                            }
                            XCTAssertEqual(done, 1)
                            catena_sgemm_kernel_edge(k, Int32(rows), Int32(nr), 1.5, a, rsa, 1, padded, 16, &expected, rsc, accumulate ? 1 : 0)
                            XCTAssertEqual(c, expected, "level \(level), nr \(nr), k \(k), rows \(rows), accumulate \(accumulate)")
                        }
                    }
                }
            }
            var c = [Float](repeating: 7, count: 8 * 16)
            let a = [Float](repeating: 1, count: 8 * 2), b = [Float](repeating: 1, count: 16 * 2)
            XCTAssertEqual(catena_sgemm_kernel_edge_narrow(2, 4, 9, 1, a, 2, 1, b, 16, &c, 16, 0), 0)
            if level == 1 { XCTAssertEqual(catena_sgemm_kernel_edge_narrow(2, 7, 4, 1, a, 2, 1, b, 16, &c, 16, 0), 0) }
            XCTAssertEqual(c, [Float](repeating: 7, count: 8 * 16))
        }
    }

    /// Products of a few rows (A read in place) by a row-major B read in place whose last panel is 1…8 columns (96 +
    /// 1…8, and 4 alone; 10 and 20 rows: tiles of 5 and 8): the narrow edge tiles give the product, and the same bits
    /// as the edge tiles over B packed (B passed as a transposed view), on the AVX-512 and AVX2 tiles.
    func testRaggedColumnEdgesOfBInPlace() {
        defer { catena_kernels_limit(2) }
        var shapes: [(Int, Int, Int)] = [(10, 400, 4), (20, 300, 100), (3, 7, 5)]
        for c in 1...8 { shapes.append((10 + c, 3 + 37 * c, 96 + c)) }
        for level in [2, 1] where level <= Int(catena_kernels_level()) {
            catena_kernels_limit(Int32(level))
            checkShapes(shapes, dtype: .float32)
            for (m, k, n) in shapes {
                let a = testArray([m, k], dtype: .float32), b = testArray([k, n], dtype: .float32, scale: 0.7, offset: 0.1)
                let packed = NDArray.matmul(a, b.transposed().contiguous(), transposeB: true)
                XCTAssertEqual(NDArray.matmul(a, b).toDoubles(), packed.toDoubles(), "level \(level), \(m)x\(k)x\(n)")
            }
        }
    }

    /// Without AVX-512 the wide entry point runs the edge kernel on each panel in row groups of at most 6: the same
    /// tile, computed in narrower pieces.
    func testWideKernelEntryPointWithoutAVX512MatchesTheReference() {
        let k = 9, rows = 8
        let a = (0..<(8 * k)).map { Float(($0 * 7) % 11) - 5 }, b = (0..<(k * 32)).map { Float(($0 * 5) % 13) * 0.25 - 1 }
        func run() -> [Float] {
            var c = [Float](repeating: 1, count: rows * 32)
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    // A packed as one 8-row panel (element (i, p) at i + 8p); B as two 16-column panels of k rows each.
                    catena_sgemm_kernel_wide(k, Int32(rows), 2, pa.baseAddress!, 1, 8, pb.baseAddress!, pb.baseAddress! + 16 * k, 16, &c, 32, 1)
                }
            }
            return c
        }
        var expected = [Float](repeating: 1, count: rows * 32)
        for i in 0..<rows {
            for j in 0..<32 {
                var s: Float = 0
                for p in 0..<k { s += a[i + 8 * p] * b[(j / 16) * 16 * k + p * 16 + j % 16] }
                expected[i * 32 + j] += 2 * s
            }
        }
        XCTAssertEqual(run(), expected)
        catena_kernels_limit(1)
        defer { catena_kernels_limit(2) }
        XCTAssertEqual(catena_sgemm_has_wide_kernel(), 0)
        XCTAssertEqual(run(), expected)
    }

    func testParallelSplitMatchesSerial() {
        let saved = GEMM.parallelThreshold
        GEMM.parallelThreshold = 1
        defer { GEMM.parallelThreshold = saved }
        checkShapes([(40, 30, 70), (70, 30, 40), (3, 8, 100)], dtype: .float32)
        // Deep products split along k (each thread its own range of depth, the partial products added), into C and
        // accumulated onto it, with two and three threads.
        let savedThreads = CatenaRuntime.threads
        defer { CatenaRuntime.threads = savedThreads }
        for threads in [2, 3] {
            CatenaRuntime.threads = threads
            checkShapes([(9, 600, 20), (20, 1100, 3)], dtype: .float32)
            checkShapes([(5, 700, 12)], dtype: .float64)
            let a = testArray([600, 9]), b = testArray([600, 20], scale: 0.3)
            var c = testArray([9, 20], scale: 2)
            let expected = naive(a.transposed().contiguous(), b).enumerated().map { $0.element + c.toDoubles()[$0.offset] }
            NDArray.gemm(a, b, into: &c, transposeA: true, accumulate: true)
            assertClose(c, expected, shape: [9, 20], atol: 1e-3, rtol: 1e-5, "accumulated, \(threads) threads")
        }
    }

    /// `Σ_p aCols[p] ⊗ bRows[p]` with the columns of A and rows of B in separate arrays (the engine's summed weight
    /// gradients): against the product of the concatenated matrices, into C and accumulated onto it, in one part and
    /// split over threads, with ragged row tiles and column panels and a depth past one k block.
    func testOuterProductsOfRowsInPlaceMatchTheConcatenatedProduct() {
        let savedThreshold = GEMM.parallelThreshold
        defer { GEMM.parallelThreshold = savedThreshold }
        // The last two are deep enough to be split along the depth.
        for (m, n, steps, rows) in [(13, 37, 3, 5), (40, 100, 35, 20), (9, 16, 1, 1), (400, 18, 14, 20), (9, 20, 60, 20), (30, 7, 40, 16)] {
            let gys = (0..<steps).map { testArray([rows, m], offset: 0.1 * Double($0)) }
            let xs = (0..<steps).map { testArray([rows, n], scale: 0.6, offset: -0.05 * Double($0)) }
            let a = NDArray.concatenate(gys, axis: 0), b = NDArray.concatenate(xs, axis: 0)
            let product = naive(a.transposed().contiguous(), b)
            for threshold in [1 << 30, 1] {
                GEMM.parallelThreshold = threshold
                for accumulate in [false, true] {
                    var c = accumulate ? testArray([m, n], scale: 3) : NDArray.full([m, n], .nan)
                    let expected = accumulate ? zip(product, c.toDoubles()).map { $0 + $1 } : product
                    var aCols: [UnsafePointer<Float>?] = [], bRows: [UnsafePointer<Float>?] = []
                    for (g, x) in zip(gys, xs) {
                        for i in 0..<rows {
                            aCols.append(UnsafePointer(g.pointer(Float.self)) + i * m)
                            bRows.append(UnsafePointer(x.pointer(Float.self)) + i * n)
                        }
                    }
                    c.makeUniqueContiguous()
                    withExtendedLifetime((gys, xs)) {
                        GEMM.gemmOuterRows(m: m, n: n, aCols: aCols, bRows: bRows, c: c.pointer(Float.self), rsc: n, accumulate: accumulate)
                    }
                    assertClose(c, expected, shape: [m, n], atol: 1e-5 * Double(steps * rows), rtol: 1e-5,
                                "\(m)x\(n), \(steps) steps of \(rows), accumulate \(accumulate), threshold \(threshold)")
                }
            }
        }
    }

    /// A product whose rows of C start from a bias vector (as a layer's forward computes it): serial, split by rows,
    /// split by columns, split along the depth, and with no depth at all, on 2 and 3 threads, against the triple
    /// loop plus the bias.
    func testProductsStartingFromARowBias() {
        forEachThreadCount([2, 3]) { threads in
            for (m, k, n) in [(5, 7, 9), (130, 40, 65), (20, 100, 400), (16, 4096, 16), (3, 0, 4)] {
                let a = testArray([m, k]), b = testArray([k, n], scale: 0.5, offset: 0.1), bias = testArray([n], scale: 2, offset: -0.3)
                var c = NDArray.full([m, n], .nan)
                NDArray.gemm(a, b, into: &c, rowBias: bias)
                let product = naive(a, b), bv = bias.toDoubles()
                let expected = (0..<(m * n)).map { product[$0] + bv[$0 % n] }
                assertClose(c, expected, shape: [m, n], atol: 1e-5 * Double(k + 1), rtol: 1e-5, "\(m)x\(k)x\(n), \(threads) threads")
            }
        }
    }

    func testIntegerMatmul() {
        let a = NDArray([[1, 2], [3, 4]], dtype: .int32), b = NDArray([[5, 6, 7], [8, 9, 10]], dtype: .int32)
        XCTAssertEqual(NDArray.matmul(a, b).toArray(as: Int32.self), [21, 24, 27, 47, 54, 61])
    }

    func testBatchedBroadcastAndVectors() {
        let a = testArray([2, 1, 3, 4]), b = testArray([3, 4, 5], scale: 0.5)
        let c = NDArray.matmul(a, b)
        XCTAssertEqual(c.shape, [2, 3, 3, 5])
        for i in 0..<2 {
            for j in 0..<3 {
                assertClose(c[i, j], naive(a[i, 0], b[j]), shape: [3, 5], atol: 1e-5)
            }
        }
        let v = NDArray([1, 2, 3, 4])
        let mv = NDArray.matmul(a[0, 0], v)
        XCTAssertEqual(mv.shape, [3])
        assertClose(mv, naive(a[0, 0], v.reshaped(4, 1)), atol: 1e-5)
        let vm = NDArray.matmul(NDArray([1, 2, 3]), a[0, 0])
        XCTAssertEqual(vm.shape, [4])
        assertClose(vm, naive(NDArray([[1, 2, 3]]), a[0, 0]), atol: 1e-5)
        XCTAssertEqual(NDArray.matmul(v, v).shape, [])
        XCTAssertEqual(NDArray.matmul(v, v).item(), 30)
        // batched with transposition of the last two axes only
        let bt = b.swappedAxes(1, 2).contiguous()
        assertClose(NDArray.matmul(a, bt, transposeB: true), c, atol: 1e-5)
    }

    func testGemmAccumulatesIntoAnExistingArray() {
        let a = testArray([5, 7]), b = testArray([5, 9], scale: 0.3)
        var c = NDArray.ones([7, 9])
        NDArray.gemm(a, b, into: &c, transposeA: true, alpha: 2, accumulate: true)
        let expected = naive(a.transposed(), b).map { 1 + 2 * $0 }
        assertClose(c, expected, shape: [7, 9], atol: 1e-5)
        NDArray.gemm(a, b, into: &c, transposeA: true)
        assertClose(c, naive(a.transposed(), b), shape: [7, 9], atol: 1e-5)
    }

    func testSteppedViewsAsOperands() {
        let base = testArray([12, 10])
        let a = base[.range(nil, nil, step: 2), .range(1, nil, step: 3)]  // [6, 3], odd strides
        let b = testArray([3, 20])[.all, .range(nil, nil, step: -1)]     // negative column stride
        assertClose(NDArray.matmul(a, b), naive(a, b), shape: [6, 20], atol: 1e-5)
        // Every other row of a matrix: rows contiguous, the row stride twice the width.
        let rows = testArray([40, 30])[.range(nil, nil, step: 2), .all]
        let c = testArray([30, 20], scale: 0.3)
        assertClose(NDArray.matmul(rows, c), naive(rows, c), shape: [20, 20], atol: 1e-4)
    }

    /// x · Wᵀ with W's packed panels cached between calls: the cache must serve the same product while W is
    /// unchanged, and repack after W changes in place (the optimizer's update) or when another view is used.
    func testCachedTransposedWeightsFollowInPlaceUpdates() {
        // Serial; split over threads (each part a slice of the panels); and with the panels themselves packed by 2
        // and 3 threads, each a range of them (the size of a split lowered to every operand).
        for (threshold, threads, elements) in [(Int.max, 1, Int.max), (1, 2, Int.max), (1, 2, 1), (1, 3, 1)] {
            let saved = (GEMM.parallelThreshold, CatenaRuntime.threads, NDArray.parallelElements)
            (GEMM.parallelThreshold, CatenaRuntime.threads, NDArray.parallelElements) = (threshold, threads, elements)
            defer { (GEMM.parallelThreshold, CatenaRuntime.threads, NDArray.parallelElements) = saved }
            let x = testArray([20, 37])
            var w = testArray([45, 37], scale: 0.5, offset: -0.2)
            for round in 0..<3 {
                let y = NDArray.matmul(x, w, transposeB: true)
                assertClose(y, naive(x, w.transposed()), shape: [20, 45], atol: 1e-4, rtol: 1e-5, "round \(round), threshold \(threshold)")
                let again = NDArray.matmul(x, w, transposeB: true)
                assertClose(again, naive(x, w.transposed()), shape: [20, 45], atol: 1e-4, rtol: 1e-5)
                // NDArray.gemm names W's storage, so its packed panels are cached (as a linear layer's): packed on
                // the first product, read from the cache on the second.
                for pass in 0..<2 {
                    var c = NDArray(uninitializedShape: [20, 45], dtype: .float32)
                    NDArray.gemm(x, w, into: &c, transposeB: true)
                    assertClose(c, naive(x, w.transposed()), shape: [20, 45], atol: 1e-4, rtol: 1e-5, "gemm pass \(pass), round \(round), \(threads) threads")
                }
                w *= 1.5          // in place: the storage is unique, its version changes
                w[3, 5] = NDArray(scalar: Double(round) + 7)
            }
            // A row slice of W shares the storage but starts elsewhere: a different cache entry.
            let part = w[10..<30]
            assertClose(NDArray.matmul(x, part, transposeB: true), naive(x, part.transposed()), shape: [20, 20], atol: 1e-4, rtol: 1e-5)
        }
    }
}
