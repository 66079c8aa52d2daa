import Foundation
import XCTest

@testable import Catena

final class LossFunctionTests: XCTestCase {
    /// −log softmax(x)[t] per row, directly from the definition.
    func nll(_ x: NDArray, _ t: [Int]) -> [Double] {
        (0..<t.count).map { r in
            let row = (0..<x.shape[1]).map { x.item(r, $0) }
            return log(row.map { exp($0) }.reduce(0, +)) - row[t[r]]
        }
    }

    func testSoftmaxCrossEntropyValuesAndNormalisation() throws {
        let x = dbl([4, 3], scale: 2)
        let labels = [2, -1, 1, 0]
        let t = NDArray(labels.map(Double.init), dtype: .int32)
        let per = nll(x, labels.map { max($0, 0) })
        let kept = [per[0], per[2], per[3]].reduce(0, +)
        XCTAssertEqual(F.softmaxCrossEntropy(Variable(x), t).item(), kept / 3, accuracy: 1e-12)
        XCTAssertEqual(F.softmaxCrossEntropy(Variable(x), t, normalize: false).item(), kept / 4, accuracy: 1e-12)
        let none = F.softmaxCrossEntropy(Variable(x), t, reduce: .none).array.toDoubles()
        for (a, e) in zip(none, [per[0], 0, per[2], per[3]]) { XCTAssertEqual(a, e, accuracy: 1e-12) }
        let w = NDArray([1, 2, 3], dtype: .float64)
        XCTAssertEqual(F.softmaxCrossEntropy(Variable(x), t, classWeight: w).item(), (3 * per[0] + 2 * per[2] + per[3]) / 3, accuracy: 1e-12)
        let allIgnored = NDArray([-1, -1, -1, -1], dtype: .int32)
        XCTAssertEqual(F.softmaxCrossEntropy(Variable(x), allIgnored).item(), 0)

        try gradientCheck({ F.softmaxCrossEntropy($0[0], t) }, inputs: [x])
        try gradientCheck({ F.softmaxCrossEntropy($0[0], t, normalize: false) }, inputs: [x])
        try gradientCheck({ F.softmaxCrossEntropy($0[0], t, reduce: .none) }, inputs: [x])
        try gradientCheck({ F.softmaxCrossEntropy($0[0], t, classWeight: w) }, inputs: [x])
        // Scores with spatial axes: (N, C, d) against (N, d).
        let x3 = dbl([2, 3, 4]), t3 = NDArray([0, 1, 2, -1, 2, 2, 0, 1], shape: [2, 4], dtype: .int64)
        try gradientCheck({ F.softmaxCrossEntropy($0[0], t3) }, inputs: [x3])
        // Huge scores stay finite.
        let big = NDArray([[1000, 0], [0, -1000]], dtype: .float64)
        XCTAssertEqual(F.softmaxCrossEntropy(Variable(big), NDArray([0, 0], dtype: .int32)).item(), 0, accuracy: 1e-12)
    }

    /// Rows split across 2 and 3 threads (the split lowered to every size): the per-row losses, with ignored labels
    /// and class weights, and the gradient are the definition's, softmax(x) − onehot(t) scaled by the row's weight.
    func testSoftmaxCrossEntropySplitByRowsFollowsTheDefinition() {
        let x = dbl([7, 5], scale: 2)
        let labels = [4, -1, 0, 2, 2, -1, 1], kept = labels.filter { $0 >= 0 }.count
        let t = NDArray(labels.map(Double.init), dtype: .int32), w = NDArray([1, 2, 3, 0.5, 1.5], dtype: .float64)
        let weights = [1, 2, 3, 0.5, 1.5]
        let per = nll(x, labels.map { max($0, 0) })
        let saved = SoftmaxCrossEntropy.parallelElements
        defer { SoftmaxCrossEntropy.parallelElements = saved }
        SoftmaxCrossEntropy.parallelElements = 1
        forEachThreadCount([2, 3]) { threads in
            let none = F.softmaxCrossEntropy(Variable(x), t, reduce: .none, classWeight: w).array.toDoubles()
            for r in 0..<7 { XCTAssertEqual(none[r], labels[r] < 0 ? 0 : per[r] * weights[labels[r]], accuracy: 1e-12, "row \(r), \(threads) threads") }
            let xv = Variable(x)
            F.softmaxCrossEntropy(xv, t, classWeight: w).backward()
            let g = xv.grad!.toDoubles()
            for r in 0..<7 {
                let row = (0..<5).map { x.item(r, $0) }, total = row.map { exp($0) }.reduce(0, +)
                for c in 0..<5 {
                    let expected = labels[r] < 0 ? 0 : (exp(row[c]) / total - (c == labels[r] ? 1 : 0)) * weights[labels[r]] / Double(kept)
                    XCTAssertEqual(g[r * 5 + c], expected, accuracy: 1e-12, "gradient [\(r), \(c)], \(threads) threads")
                }
            }
        }
    }

    /// Float32 scores (exponentiated by the kernel library's vectorised exp, a block of rows at a time), on one thread
    /// and with the rows split across 2 and 3: the per-row losses and the gradient against the definition computed in
    /// float64 from the same float32 values, to float32 precision; an ignored row's are 0; scores of ±1000 stay finite.
    func testSoftmaxCrossEntropyFloat32FollowsTheDefinition() {
        let rows = 37, classes = 10
        var values = dbl([rows, classes], scale: 6).toDoubles()
        (values[3 * classes + 4], values[5 * classes]) = (1000, -1000)
        let x = NDArray(values, shape: [rows, classes], dtype: .float32)
        let labels = (0..<rows).map { $0 % 9 == 1 ? -1 : ($0 * 7) % classes }, kept = labels.filter { $0 >= 0 }.count
        let t = NDArray(labels.map(Double.init), dtype: .int32)
        let x64 = x.astype(.float64)
        let per = nll(x64, labels.map { max($0, 0) })
        let saved = SoftmaxCrossEntropy.parallelElements
        defer { SoftmaxCrossEntropy.parallelElements = saved }
        SoftmaxCrossEntropy.parallelElements = 1
        forEachThreadCount([1, 2, 3]) { threads in
            let none = F.softmaxCrossEntropy(Variable(x), t, reduce: .none).array
            XCTAssertEqual(none.dtype, .float32)
            let got = none.toDoubles()
            for r in 0..<rows {
                let expected = labels[r] < 0 ? 0 : per[r]
                XCTAssertEqual(got[r], expected, accuracy: 2e-6 * max(1, abs(expected)), "row \(r), \(threads) threads")
            }
            let xv = Variable(x)
            F.softmaxCrossEntropy(xv, t).backward()
            let g = xv.grad!.toDoubles()
            for r in 0..<rows {
                let row = (0..<classes).map { x64.item(r, $0) }, top = row.max()!
                let total = row.map { exp($0 - top) }.reduce(0, +)
                for c in 0..<classes {
                    let expected = labels[r] < 0 ? 0 : (exp(row[c] - top) / total - (c == labels[r] ? 1 : 0)) / Double(kept)
                    XCTAssertEqual(g[r * classes + c], expected, accuracy: 1e-7, "gradient [\(r), \(c)], \(threads) threads")
                }
            }
        }
    }

    func testSigmoidCrossEntropy() throws {
        let x = dbl([3, 2], scale: 3)
        let labels: [Double] = [1, 0, -1, 1, 0, 0]
        let t = NDArray(labels, shape: [3, 2], dtype: .int32)
        var total = 0.0
        for (k, l) in labels.enumerated() where l >= 0 {
            let p = 1 / (1 + exp(-x.toDoubles()[k]))
            total -= l == 1 ? log(p) : log(1 - p)
        }
        XCTAssertEqual(F.sigmoidCrossEntropy(Variable(x), .constant(t)).item(), total / 5, accuracy: 1e-12)
        XCTAssertEqual(F.sigmoidCrossEntropy(Variable(x), .constant(t), normalize: false).item(), total / 3, accuracy: 1e-12)
        try gradientCheck({ F.sigmoidCrossEntropy($0[0], .constant(t)) }, inputs: [x])
        try gradientCheck({ F.sigmoidCrossEntropy($0[0], .constant(t), reduce: .none) }, inputs: [x])
    }

    func testRegressionLosses() throws {
        let a = dbl([3, 4]), b = dbl([3, 4], scale: 0.5, offset: 0.2)
        let d = zip(a.toDoubles(), b.toDoubles()).map { $0 - $1 }
        XCTAssertEqual(F.meanSquaredError(Variable(a), Variable(b)).item(), d.map { $0 * $0 }.reduce(0, +) / 12, accuracy: 1e-12)
        XCTAssertEqual(F.meanAbsoluteError(Variable(a), Variable(b)).item(), d.map { abs($0) }.reduce(0, +) / 12, accuracy: 1e-12)
        try gradientCheck({ F.meanSquaredError($0[0], $0[1]) }, inputs: [a, b])
        try gradientCheck({ F.meanAbsoluteError($0[0], $0[1]) }, inputs: [a, b])
        // Huber with delta 1: [0.5, 2, -3] against 0 sums to 0.125 + 1.5 + 2.5 per row (Chainer gives [4.125, 1.5]
        // for rows [.5, 2, -3] and [1, 1, 1] against 0 and 1).
        let hx = NDArray([[0.5, 2, -3], [1, 1, 1]], dtype: .float64), ht = NDArray([[0, 0, 0], [1, 1, 1]], dtype: .float64)
        XCTAssertEqual(F.huberLoss(Variable(hx), Variable(ht), delta: 1).array.toDoubles(), [4.125, 0])
        try gradientCheck({ F.huberLoss($0[0], $0[1], delta: 0.7) }, inputs: [a, b])
        try gradientCheck({ F.huberLoss($0[0], $0[1], delta: 0.7, reduce: .none) }, inputs: [a, b])
    }

    func testAccuracy() {
        let y = NDArray([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
        let t = NDArray([1, 1, 1, -1], dtype: .int32)
        XCTAssertEqual(F.accuracy(Variable(y), t).item(), 0.5)
        XCTAssertEqual(F.accuracy(Variable(y), t, ignoreLabel: -1).item(), 2.0 / 3, accuracy: 1e-7)
        XCTAssertEqual(F.accuracy(Variable(y), NDArray([-1, -1, -1, -1], dtype: .int32), ignoreLabel: -1).item(), 0)
        XCTAssertEqual(F.accuracy(Variable(y), t).dtype, .float32)
    }
}
