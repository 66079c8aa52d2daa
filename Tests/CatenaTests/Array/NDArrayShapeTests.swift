import XCTest

@testable import Catena

final class NDArrayShapeTests: XCTestCase {
    func testReshapeInfersOneAxisAndIsAViewWhenContiguous() {
        let a = NDArray.arange(12)
        let b = a.reshaped(3, -1)
        XCTAssertEqual(b.shape, [3, 4])
        XCTAssertTrue(b.storage === a.storage)
        XCTAssertEqual(b.item(2, 1), 9)
        let t = b.transposed()  // non-contiguous: reshape must copy and keep C order of the view
        let r = t.reshaped(12)
        XCTAssertEqual(r.toDoubles(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
        XCTAssertFalse(r.storage === a.storage)
    }

    /// Reshaping a strided view gives a view wherever NumPy gives one (each group of merged or split axes C-ordered in
    /// memory, axes of size 1 anywhere) and a C-order copy otherwise; the values follow from a = 30i + 6j + k.
    func testReshapeOfAStridedViewIsAViewWhereTheStridesAllow() {
        let a = NDArray.arange(120).reshaped(4, 5, 6)
        let all = NDIndex.slice(start: nil, stop: nil, step: 1)
        func check(_ v: NDArray, _ shape: [Int], view: Bool, strides: [Int]? = nil, _ value: ([Int]) -> Double, _ what: String) {
            let r = v.reshaped(shape)
            XCTAssertEqual(r.shape, shape, what)
            XCTAssertEqual(r.storage === a.storage, view, what)
            if let strides { XCTAssertEqual(r.strides, strides, what) }
            let n = shape.reduce(1, *)
            XCTAssertEqual(r.toDoubles(), (0..<n).map { value(unravel($0, shape)) }, what)
        }
        // Every second block of rows: (2, 5, 6), strides (60, 6, 1).
        let rows = a.selection([.slice(start: nil, stop: nil, step: 2)])
        check(rows, [2, 30], view: true, strides: [60, 1], { Double(60 * $0[0] + $0[1]) }, "rows → (2, 30)")
        check(rows, [2, 5, 3, 2], view: true, { Double(60 * $0[0] + 6 * $0[1] + 2 * $0[2] + $0[3]) }, "rows → (2, 5, 3, 2)")
        check(rows, [60], view: false, { Double(60 * ($0[0] / 30) + $0[0] % 30) }, "rows → (60,)")
        // Three columns of each row: (4, 5, 3), strides (30, 6, 1).
        let cols = a.selection([all, all, .slice(start: 1, stop: 4, step: 1)])
        check(cols, [20, 3], view: true, strides: [6, 1], { Double(6 * $0[0] + 1 + $0[1]) }, "columns → (20, 3)")
        check(cols, [4, 15], view: false, { Double(30 * $0[0] + 6 * ($0[1] / 3) + 1 + $0[1] % 3) }, "columns → (4, 15)")
        // A column every second element of row 2: (4, 3), strides (30, 2); axes of size 1 added anywhere.
        let sparse = a.selection([all, .index(2), .slice(start: nil, stop: nil, step: 2)])
        check(sparse, [4, 1, 3, 1], view: true, { Double(30 * $0[0] + 12 + 2 * $0[2]) }, "sparse → (4, 1, 3, 1)")
        check(sparse, [1, 12], view: false, { Double(30 * ($0[1] / 3) + 12 + 2 * ($0[1] % 3)) }, "sparse → (1, 12)")
        check(sparse.reshaped(4, 1, 3), [4, 3], view: true, strides: [30, 2], { Double(30 * $0[0] + 12 + 2 * $0[1]) }, "sparse → (4, 1, 3) → (4, 3)")
    }

    func testTransposeAndPermuteAreViews() {
        let a = NDArray.arange(24).reshaped(2, 3, 4)
        let t = a.transposed(2, 0, 1)
        XCTAssertEqual(t.shape, [4, 2, 3])
        XCTAssertTrue(t.storage === a.storage)
        XCTAssertFalse(t.isContiguous)
        // t[i, j, k] = a[j, k, i] = 12 j + 4 k + i
        for i in 0..<4 { for j in 0..<2 { for k in 0..<3 { XCTAssertEqual(t.item(i, j, k), Double(12 * j + 4 * k + i)) } } }
        XCTAssertEqual(a.transposed().shape, [4, 3, 2])
        XCTAssertEqual(a.swappedAxes(0, 2).shape, [4, 3, 2])
        XCTAssertEqual(a.movedAxis(0, to: -1).shape, [3, 4, 2])
        XCTAssertEqual(t.contiguous().toDoubles(), (0..<24).map { f -> Double in let ix = unravel(f, [4, 2, 3]); return Double(12 * ix[1] + 4 * ix[2] + ix[0]) })
    }

    func testExpandSqueezeBroadcast() {
        let a = NDArray([1, 2, 3])
        XCTAssertEqual(a.expandedDims(axis: 0).shape, [1, 3])
        XCTAssertEqual(a.expandedDims(axis: -1).shape, [3, 1])
        XCTAssertEqual(NDArray.zeros([1, 3, 1]).squeezed().shape, [3])
        XCTAssertEqual(NDArray.zeros([1, 3, 1]).squeezed(axes: [0]).shape, [3, 1])
        let b = a.expandedDims(axis: 1).broadcast(to: [3, 2])
        XCTAssertEqual(b.toDoubles(), [1, 1, 2, 2, 3, 3])
        XCTAssertEqual(b.strides, [1, 0])
        XCTAssertEqual(a.broadcast(to: [2, 3]).toDoubles(), [1, 2, 3, 1, 2, 3])
    }

    func testConcatenateStackSplit() {
        let a = NDArray([[1, 2], [3, 4]]), b = NDArray([[5, 6]])
        XCTAssertEqual(NDArray.concatenate([a, b]).toDoubles(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(NDArray.concatenate([a, a.transposed()], axis: 1).toDoubles(), [1, 2, 1, 3, 3, 4, 2, 4])
        let s = NDArray.stack([NDArray([1, 2]), NDArray([3, 4])], axis: 1)
        XCTAssertEqual(s.shape, [2, 2])
        XCTAssertEqual(s.toDoubles(), [1, 3, 2, 4])
        let parts = NDArray.arange(10).reshaped(2, 5).split(indices: [1, 3], axis: 1)
        XCTAssertEqual(parts.map(\.shape), [[2, 1], [2, 2], [2, 2]])
        XCTAssertEqual(parts[1].toDoubles(), [1, 2, 6, 7])
        let eq = NDArray.arange(6).split(sections: 3)
        XCTAssertEqual(eq.map { $0.toDoubles() }, [[0, 1], [2, 3], [4, 5]])
    }

    /// Joins split across 2 and 3 threads (the split lowered to every size) write every piece where it belongs:
    /// pieces of different lengths, a transposed one and a stepped one, along the first and the last axis, and a
    /// stack of strided views; the values follow from the pieces' definitions.
    func testLargeJoinsCopyEveryPieceOnAnyThreadCount() {
        let saved = NDArray.parallelElements
        defer { NDArray.parallelElements = saved }
        NDArray.parallelElements = 1
        let a = NDArray.arange(12).reshaped(3, 4)                                    // a[i, j] = 4i + j
        let t = (NDArray.arange(8) + 100).reshaped(4, 2).transposed()                // t[i, j] = 100 + 2j + i, (2, 4)
        let s = (NDArray.arange(20) + 200).reshaped(5, 4)[.range(nil, nil, step: 2)] // s[i, j] = 200 + 8i + j, (3, 4)
        forEachThreadCount([2, 3]) { threads in
            let rows = NDArray.concatenate([a, t, s, a[1..<2]])
            var expected: [Double] = []
            for i in 0..<3 { for j in 0..<4 { expected.append(Double(4 * i + j)) } }
            for i in 0..<2 { for j in 0..<4 { expected.append(Double(100 + 2 * j + i)) } }
            for i in 0..<3 { for j in 0..<4 { expected.append(Double(200 + 8 * i + j)) } }
            for j in 0..<4 { expected.append(Double(4 + j)) }
            XCTAssertEqual(rows.shape, [9, 4])
            XCTAssertEqual(rows.toDoubles(), expected, "axis 0, \(threads) threads")
            let cols = NDArray.concatenate([a, s, a[.all, 1..<2]], axis: 1)
            XCTAssertEqual(cols.shape, [3, 9])
            var colValues: [Double] = [], stackValues: [Double] = []
            for i in 0..<3 {
                for j in 0..<4 { colValues.append(Double(4 * i + j)) }
                for j in 0..<4 { colValues.append(Double(200 + 8 * i + j)) }
                colValues.append(Double(4 * i + 1))
                stackValues += [Double(4 * i), Double(4 * i + 2), Double(200 + 8 * i + 3)]
            }
            XCTAssertEqual(cols.toDoubles(), colValues, "axis 1, \(threads) threads")
            let stacked = NDArray.stack([a[.all, 0], a[.all, 2], s[.all, 3]], axis: 1)   // (3, 3)
            XCTAssertEqual(stacked.toDoubles(), stackValues, "stack, \(threads) threads")
        }
    }

    /// Joins of contiguous pieces (copied block by block, without an iteration plan per piece): every item size
    /// (uint8, int32, float32, float64), along the first, a middle and the last axis, a piece with no extent on the
    /// axis, and stacks along every axis (negative too), on 1 to 3 threads; the values follow from the pieces'
    /// definitions (element (i, j, k) of piece p is 100p + 12i + 4j + k, below 256 so that uint8 holds it).
    func testJoinsOfContiguousPiecesAlongEveryAxis() {
        let saved = NDArray.parallelElements
        defer { NDArray.parallelElements = saved }
        NDArray.parallelElements = 1
        func piece(_ p: Int, _ shape: [Int], _ dtype: DType) -> NDArray {
            var v: [Double] = []
            for i in 0..<shape[0] { for j in 0..<shape[1] { for k in 0..<shape[2] { v.append(Double(100 * p + 12 * i + 4 * j + k)) } } }
            return NDArray(v, shape: shape).astype(dtype)
        }
        forEachThreadCount([1, 2, 3]) { threads in
            for dtype in [DType.uint8, .int32, .float32, .float64] {
                for axis in 0..<3 {
                    var shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
                    shapes[1][axis] = 1
                    shapes[2][axis] = 0
                    let pieces = (0..<3).map { piece($0, shapes[$0], dtype) }
                    let joined = NDArray.concatenate(pieces, axis: axis)
                    let base = [2, 3, 4][axis]
                    var outShape = [2, 3, 4]
                    outShape[axis] = base + 1
                    var expected: [Double] = []
                    for i in 0..<outShape[0] {
                        for j in 0..<outShape[1] {
                            for k in 0..<outShape[2] {
                                var idx = [i, j, k]
                                let p = idx[axis] < base ? 0 : 1
                                idx[axis] -= base * p
                                expected.append(Double(100 * p + 12 * idx[0] + 4 * idx[1] + idx[2]))
                            }
                        }
                    }
                    XCTAssertEqual(joined.shape, outShape)
                    XCTAssertEqual(joined.dtype, dtype)
                    XCTAssertEqual(joined.toDoubles(), expected, "concatenate \(dtype) axis \(axis), \(threads) threads")
                }
                let same = (0..<3).map { piece($0, [2, 3, 4], dtype) }
                for axis in [0, 1, 2, 3, -1, -4] {
                    let ax = axis < 0 ? axis + 4 : axis
                    let stacked = NDArray.stack(same, axis: axis)
                    var outShape = [2, 3, 4]
                    outShape.insert(3, at: ax)
                    var expected: [Double] = []
                    for a in 0..<outShape[0] {
                        for b in 0..<outShape[1] {
                            for c in 0..<outShape[2] {
                                for d in 0..<outShape[3] {
                                    var idx = [a, b, c, d]
                                    let p = idx.remove(at: ax)
                                    expected.append(Double(100 * p + 12 * idx[0] + 4 * idx[1] + idx[2]))
                                }
                            }
                        }
                    }
                    XCTAssertEqual(stacked.shape, outShape)
                    XCTAssertEqual(stacked.toDoubles(), expected, "stack \(dtype) axis \(axis), \(threads) threads")
                }
            }
        }
    }

    /// Pieces that lie one after another in one storage, in their order (the steps `separate` cuts from one array),
    /// join into a view of that stretch of it; pieces out of order, from different storages, or adjacent in memory
    /// but joined along an axis that interleaves them, are copied. Writing to a joined view copies first and leaves
    /// the array the pieces came from alone. Values by formula: element i of `arange` is i.
    func testJoinsOfAdjacentPiecesOfOneArrayAreViews() {
        let a = NDArray.arange(24).reshaped(4, 2, 3)
        let all = NDArray.stack((0..<4).map { a[$0] })
        XCTAssertEqual(all.shape, [4, 2, 3])
        XCTAssertEqual(all.toDoubles(), (0..<24).map(Double.init))
        XCTAssertTrue(all.storage === a.storage)
        let middle = NDArray.stack([a[1], a[2]])
        XCTAssertEqual(middle.toDoubles(), (6..<18).map(Double.init))
        XCTAssertTrue(middle.storage === a.storage)
        let halves = NDArray.concatenate(a.split(sections: 2, axis: 0), axis: 0)
        XCTAssertEqual(halves.toDoubles(), (0..<24).map(Double.init))
        XCTAssertTrue(halves.storage === a.storage)
        let rows = NDArray.concatenate([a[2][1..<2], a[3][0..<1]], axis: 0)   // (1, 3) each, elements 15…17 and 18…20
        XCTAssertEqual(rows.shape, [2, 3])
        XCTAssertEqual(rows.toDoubles(), (15..<21).map(Double.init))
        XCTAssertTrue(rows.storage === a.storage)

        let swapped = NDArray.stack([a[2], a[1]])
        XCTAssertEqual(swapped.toDoubles(), (12..<18).map(Double.init) + (6..<12).map(Double.init))
        XCTAssertFalse(swapped.storage === a.storage)
        let twice = NDArray.stack([a[1], a[1]])
        XCTAssertEqual(twice.toDoubles(), (6..<12).map(Double.init) + (6..<12).map(Double.init))
        // Two contiguous (2, 2) blocks, adjacent in memory, side by side along axis 1: rows interleave.
        let x = NDArray.arange(8)
        let side = NDArray.concatenate([x[0..<4].reshaped(2, 2), x[4..<8].reshaped(2, 2)], axis: 1)
        XCTAssertEqual(side.toDoubles(), [0, 1, 4, 5, 2, 3, 6, 7])
        let other = NDArray.arange(6).reshaped(2, 3)
        XCTAssertEqual(NDArray.stack([a[0], other]).toDoubles(), (0..<6).map(Double.init) + (0..<6).map(Double.init))

        var written = NDArray.stack([a[1], a[2]])
        written[0, 0, 0] = NDArray(scalar: 100)
        XCTAssertEqual(written.toDoubles(), [100] + (7..<18).map(Double.init))
        XCTAssertEqual(a.toDoubles(), (0..<24).map(Double.init))
    }

    func testSlicingWithRangesStepsAndIntegers() {
        let a = NDArray.arange(20).reshaped(4, 5)
        XCTAssertEqual(a[1].toDoubles(), [5, 6, 7, 8, 9])
        XCTAssertEqual(a[.all, 2].toDoubles(), [2, 7, 12, 17])
        XCTAssertEqual(a[1..<3, 3...].toDoubles(), [8, 9, 13, 14])
        XCTAssertEqual(a[..<2, ...1].toDoubles(), [0, 1, 5, 6])
        XCTAssertEqual(a[.range(nil, nil, step: 2), .range(4, nil, step: -2)].toDoubles(), [4, 2, 0, 14, 12, 10])
        XCTAssertEqual(a[-1, -2].item(), 18)
        XCTAssertEqual(a[.ellipsis, 0].toDoubles(), [0, 5, 10, 15])
        XCTAssertEqual(a[.newAxis, 0].shape, [1, 5])
        XCTAssertEqual(a[(-3)..<(-1), 0].toDoubles(), [5, 10])
        XCTAssertEqual(a[10..<20].shape, [0, 5])
        XCTAssertTrue(a[1..<3].storage === a.storage)
    }

    func testSliceAssignmentBroadcastsAndCopiesOnWrite() {
        let original = NDArray.zeros([3, 4])
        var a = original
        a[.all, 1] = NDArray([1, 2, 3])
        a[2] = NDArray(scalar: 9)
        XCTAssertEqual(a.toDoubles(), [0, 1, 0, 0, 0, 2, 0, 0, 9, 9, 9, 9])
        XCTAssertEqual(original.toDoubles(), [Double](repeating: 0, count: 12))
    }

    func testTakeAndScatterAdd() {
        let w = NDArray.arange(12).reshaped(4, 3)
        let ids = NDArray(values: [Int32(2), 0, 2, -1], shape: [2, 2])
        let e = w.take(ids)
        XCTAssertEqual(e.shape, [2, 2, 3])
        XCTAssertEqual(e.toDoubles(), [6, 7, 8, 0, 1, 2, 6, 7, 8, 9, 10, 11])
        let cols = w.take(NDArray(values: [Int64(2), 1], shape: [2]), axis: 1)
        XCTAssertEqual(cols.toDoubles(), [2, 1, 5, 4, 8, 7, 11, 10])
        let g = NDArray.ones([2, 2, 3])
        let back = NDArray.scatterAdd(g, indices: ids, shape: [4, 3])
        XCTAssertEqual(back.toDoubles(), [1, 1, 1, 0, 0, 0, 2, 2, 2, 1, 1, 1])
    }
}
