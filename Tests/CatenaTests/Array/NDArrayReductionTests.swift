import CCatenaKernels
import Foundation
import XCTest

@testable import Catena

final class NDArrayReductionTests: XCTestCase {
    /// The squared norm GradientClipping uses: float32 data summed in float64 by the kernel library (sixteen running
    /// sums), the same bits on every instruction-set level, within float64 rounding of a plain sum of the squares;
    /// strided views, float64 and integer arrays too.
    func testSumOfSquaresInFloat64OnEveryKernelLevel() {
        let values = (0..<1001).map { (i: Int) -> Double in Double(Float(Foundation.sin(Double(i) * 0.37) * Double(i % 7 + 1))) }
        let expected = values.reduce(0) { $0 + $1 * $1 }
        let a = NDArray(values, dtype: .float32)
        var results: [Double] = []
        forEachKernelLevel { level in
            results.append(a.sumOfSquares())
            XCTAssertEqual(results.last!, expected, accuracy: 1e-13 * expected, "level \(level)")
        }
        XCTAssertEqual(Set(results).count, 1, "every level gives the same bits: \(results)")
        for n in [0, 1, 15, 16, 17] {
            let v = Array(values.prefix(n))
            XCTAssertEqual(NDArray(v, dtype: .float32).sumOfSquares(), v.reduce(0) { $0 + $1 * $1 }, accuracy: 1e-13 * (expected + 1), "n = \(n)")
        }
        let m = a[0..<1000].reshaped(25, 40), t = m.transposed()
        XCTAssertEqual(t.sumOfSquares(), m.sumOfSquares(), accuracy: 1e-13 * expected, "a transposed view")
        XCTAssertEqual(NDArray(values, dtype: .float64).sumOfSquares(), expected, accuracy: 1e-13 * expected)
        XCTAssertEqual(NDArray([3, -4, 12], dtype: .int32).sumOfSquares(), 169)
    }

    /// Reduction computed by visiting every element and its output cell directly.
    func reference(_ a: NDArray, axes: [Int], keepDims: Bool, initial: Double, _ f: (Double, Double) -> Double) -> ([Int], [Double]) {
        let v = a.contiguous().toDoubles()
        var outShape = [Int]()
        for d in 0..<a.ndim { if axes.contains(d) { if keepDims { outShape.append(1) } } else { outShape.append(a.shape[d]) } }
        let keptShape = (0..<a.ndim).map { axes.contains($0) ? 1 : a.shape[$0] }
        var out = [Double](repeating: initial, count: keptShape.reduce(1, *))
        let ks = NDArray.contiguousStrides(keptShape)
        for flat in 0..<v.count {
            let ix = unravel(flat, a.shape)
            var o = 0
            for d in 0..<a.ndim where !axes.contains(d) { o += ix[d] * ks[d] }
            out[o] = f(out[o], v[flat])
        }
        return (outShape, out)
    }

    func testSumMeanMaxMinOverAxesAndAll() {
        let a = testArray([3, 4, 5], dtype: .float64, scale: 3)
        let axesList: [[Int]] = [[0], [1], [2], [0, 1], [1, 2], [0, 2], [0, 1, 2]]
        for axes in axesList {
            for keep in [false, true] {
                let rs = reference(a, axes: axes, keepDims: keep, initial: 0, +)
                assertClose(a.sum(axes: axes, keepDims: keep), rs.1, shape: rs.0, atol: 1e-12, "sum \(axes)")
                let n = Double(axes.reduce(1) { $0 * a.shape[$1] })
                assertClose(a.mean(axes: axes, keepDims: keep), rs.1.map { $0 / n }, shape: rs.0, atol: 1e-12, "mean \(axes)")
                let rmax = reference(a, axes: axes, keepDims: keep, initial: -.infinity, max)
                assertClose(a.max(axes: axes, keepDims: keep), rmax.1, shape: rmax.0, atol: 0, rtol: 0, "max \(axes)")
                let rmin = reference(a, axes: axes, keepDims: keep, initial: .infinity, min)
                assertClose(a.min(axes: axes, keepDims: keep), rmin.1, shape: rmin.0, atol: 0, rtol: 0, "min \(axes)")
            }
        }
        XCTAssertEqual(a.sum().shape, [])
        XCTAssertEqual(a.sum(axis: -1).shape, [3, 4])
        // a transposed view reduces to the same values as its contiguous copy
        let t = a.transposed(1, 2, 0)
        assertClose(t.sum(axis: 1), t.contiguous().sum(axis: 1), atol: 1e-12)
    }

    func testFloat32SumOfManyElementsIsAccurate() {
        let n = 1 << 20
        let a = NDArray.full([n], 0.1)
        let exact = Double(Float(0.1)) * Double(n)
        XCTAssertEqual(a.sum().item(), exact, accuracy: exact * 1e-6)
        XCTAssertEqual(a.mean().item(), Double(Float(0.1)), accuracy: 1e-7)
    }

    /// Float32 sums over rows (the inner axis kept, as a bias's gradient): every element is its column's values added
    /// one by one in row order in float32 (a loop here), with the columns split across 1, 2 and 3 threads, on every
    /// kernel level (411 columns: blocks of 64 and of 16 and single columns, in every thread's range), for several
    /// outer rows, one row, and zeros when no row is summed.
    func testFloat32SumsOverRowsAddInOrderOnAnyThreadCount() {
        let outer = 2, reduced = 97, inner = 411
        let values = (0..<(outer * reduced * inner)).map { (j: Int) -> Float in Float(sin(Double(j) * 0.37) * 1000) + 0.001 * Float(j % 7) }
        let a = NDArray(values: values, shape: [outer, reduced, inner])
        var expected = [Float](repeating: 0, count: outer * inner)
        for r in 0..<outer {
            for j in 0..<inner {
                var s = values[r * reduced * inner + j]
                for k in 1..<reduced { s = s + values[(r * reduced + k) * inner + j] }
                expected[r * inner + j] = s
            }
        }
        let saved = NDArray.parallelElements
        defer { NDArray.parallelElements = saved }
        NDArray.parallelElements = 1
        forEachKernelLevel { level in
            forEachThreadCount([1, 2, 3]) { threads in
                XCTAssertEqual(a.sum(axis: 1).toArray(as: Float.self).map(\.bitPattern), expected.map(\.bitPattern), "\(threads) threads, level \(level)")
            }
        }
        var row5: [Float] = []
        for r in 0..<outer {
            let start: Int = (r * reduced + 5) * inner
            row5 += values[start..<(start + inner)]
        }
        XCTAssertEqual(a[.all, 5..<6].contiguous().sum(axis: 1).toArray(as: Float.self), row5, "one row")
        XCTAssertEqual(NDArray.zeros([3, 0, 5], dtype: .float32).sum(axis: 1).toArray(as: Float.self), [Float](repeating: 0, count: 15))
    }

    func testIntegerAndBoolReductions() {
        let i = NDArray([[1, 2, 3], [4, 5, 6]], dtype: .int32)
        XCTAssertEqual(i.sum(axis: 0).toArray(as: Int32.self), [5, 7, 9])
        XCTAssertEqual(i.max().item(), 6)
        XCTAssertEqual(i.mean().dtype, .float64)
        XCTAssertEqual(i.mean(axis: 1).toDoubles(), [2, 5])
        let m = NDArray([1, 0, 1, 1]).astype(.bool)
        XCTAssertEqual(m.sum().dtype, .int64)
        XCTAssertEqual(m.sum().item(), 3)
    }

    func testArgmaxArgminFirstOccurrence() {
        let a = NDArray([[1, 7, 7, 0], [5, 2, 9, 9]])
        XCTAssertEqual(a.argmax(axis: 1).toArray(as: Int32.self), [1, 2])
        XCTAssertEqual(a.argmin(axis: 1).toArray(as: Int32.self), [3, 1])
        XCTAssertEqual(a.argmax(axis: 0).toArray(as: Int32.self), [1, 0, 1, 1])
        XCTAssertEqual(a.argmax().item(), 6)
        XCTAssertEqual(a.transposed().argmax(axis: 0).toArray(as: Int32.self), [1, 2])
        XCTAssertEqual(NDArray([1, .nan, 3]).argmax().item(), 1)
    }

    func testLogSumExpIsStable() {
        let a = NDArray([[1000, 1000], [-1000, -1001], [1, 2]], dtype: .float64)
        let expected = [1000 + log(2.0), -1000 + log(1 + exp(-1.0)), log(exp(1.0) + exp(2.0))]
        assertClose(a.logSumExp(axis: 1), expected, shape: [3], atol: 1e-12)
        assertClose(a.logSumExp(axis: 1, keepDims: true), expected, shape: [3, 1], atol: 1e-12)
        let inf = NDArray([-.infinity, -.infinity])
        XCTAssertEqual(inf.logSumExp().item(), -.infinity)
    }

    func testVarianceAndStdFollowTheirFormulasWithDdof() {
        // Rows [1, 2, 4] and [3, 3, 9]: means 7/3 and 5; squared deviations summed 42/9 = 14/3 and 24.
        let a = NDArray([[1, 2, 4], [3, 3, 9]], dtype: .float64)
        assertClose(a.variance(axis: 1), [14.0 / 9, 8], shape: [2], atol: 1e-12)
        assertClose(a.variance(axis: 1, ddof: 1), [7.0 / 3, 12], shape: [2], atol: 1e-12)
        assertClose(a.std(axis: 1, ddof: 1, keepDims: true), [sqrt(7.0 / 3), sqrt(12)], shape: [2, 1], atol: 1e-12)
        // Columns: [1, 3] → 1, [2, 3] → 0.25, [4, 9] → 6.25.
        assertClose(a.variance(axis: 0), [1, 0.25, 6.25], atol: 1e-12)
        // All six elements, against the formula evaluated directly.
        let values = [1.0, 2, 4, 3, 3, 9], mean = values.reduce(0, +) / 6
        let ss = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
        XCTAssertEqual(a.variance().item(), ss / 6, accuracy: 1e-12)
        XCTAssertEqual(a.std(ddof: 1).item(), sqrt(ss / 5), accuracy: 1e-12)
        XCTAssertEqual(a.variance(axes: [0, 1], ddof: 2).item(), ss / 4, accuracy: 1e-12)
        // Integers give float64; n − ddof ≤ 0 gives NaN.
        let i = NDArray(values: [Int32(1), 3], shape: [2])
        XCTAssertEqual(i.variance().dtype, .float64)
        XCTAssertEqual(i.variance().item(), 1)
        XCTAssertTrue(i.variance(ddof: 2).item().isNaN)
        // float32 stays float32, and a constant array has variance 0 exactly.
        XCTAssertEqual(NDArray.full([5], 0.1).variance().item(), 0)
        XCTAssertEqual(NDArray([1, 2]).std().dtype, .float32)
    }
}
