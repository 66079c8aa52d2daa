import Foundation
import XCTest

@testable import Catena

/// Inputs in float64 (gradient checks run in float64).
func dbl(_ shape: [Int], scale: Double = 1, offset: Double = 0) -> NDArray {
    testArray(shape, dtype: .float64, scale: scale, offset: offset)
}

final class MathFunctionTests: XCTestCase {
    func testArithmeticWithBroadcastingGradients() throws {
        let shapes: [([Int], [Int])] = [([2, 3], [2, 3]), ([2, 3], [3]), ([2, 1], [1, 3]), ([2, 3], []), ([4, 1, 3], [2, 1])]
        for (sa, sb) in shapes {
            let a = dbl(sa, offset: 0.2), b = dbl(sb, scale: 0.5, offset: 2)
            try gradientCheck({ $0[0] + $0[1] }, inputs: [a, b])
            try gradientCheck({ $0[0] - $0[1] }, inputs: [a, b])
            try gradientCheck({ $0[0] * $0[1] }, inputs: [a, b])
            try gradientCheck({ $0[0] / $0[1] }, inputs: [a, b])
            try gradientCheck({ $0[0] ** $0[1] }, inputs: [a.abs() + 0.5, b])
        }
        let x = Variable(NDArray([1, 2, 3], dtype: .float64)), y = Variable(NDArray([4, 5, 6], dtype: .float64))
        XCTAssertEqual((x + y).array.toDoubles(), [5, 7, 9])
        XCTAssertEqual((x - y).array.toDoubles(), [-3, -3, -3])
        XCTAssertEqual((x * y).array.toDoubles(), [4, 10, 18])
        XCTAssertEqual((y / x).array.toDoubles(), [4, 2.5, 2])
        XCTAssertEqual((x ** y).array.toDoubles(), [1, 32, 729])
        XCTAssertEqual((-x).array.toDoubles(), [-1, -2, -3])
        XCTAssertEqual((x + NDArray([1, 1, 1], dtype: .float64)).array.toDoubles(), [2, 3, 4])
    }

    func testScalarOperationsAndTheirGradients() throws {
        let a = dbl([2, 3], offset: 1.5)  // positive
        try gradientCheck({ $0[0] + 2 }, inputs: [a])
        try gradientCheck({ 2 - $0[0] }, inputs: [a])
        try gradientCheck({ $0[0] - 2 }, inputs: [a])
        try gradientCheck({ $0[0] * 3 }, inputs: [a])
        try gradientCheck({ 3 / $0[0] }, inputs: [a])
        try gradientCheck({ $0[0] / 4 }, inputs: [a])
        try gradientCheck({ $0[0] ** 2.5 }, inputs: [a])
        try gradientCheck({ 2 ** $0[0] }, inputs: [a])
        try gradientCheck({ -$0[0] }, inputs: [a])
        let x = Variable(NDArray([1, 2], dtype: .float64))
        XCTAssertEqual((3 / x).array.toDoubles(), [3, 1.5])
        XCTAssertEqual((2 ** x).array.toDoubles(), [2, 4])
        XCTAssertEqual((x ** 2).array.toDoubles(), [1, 4])
        // 2**x at [2, 3] has gradient log(2)·2^x, as Chainer gives [2.773, 5.545]
        let z = Variable(NDArray([2, 3], dtype: .float64))
        F.sum(2 ** z).backward()
        XCTAssertEqual(z.grad!.toDoubles()[0], log(2) * 4, accuracy: 1e-12)
        XCTAssertEqual(z.grad!.toDoubles()[1], log(2) * 8, accuracy: 1e-12)
    }

    func testExponentialFamily() throws {
        let a = dbl([3, 4], offset: 1.5)
        try gradientCheck({ F.exp($0[0]) }, inputs: [a])
        try gradientCheck({ F.log($0[0]) }, inputs: [a])
        try gradientCheck({ F.sqrt($0[0]) }, inputs: [a])
        try gradientCheck({ F.square($0[0]) }, inputs: [a - 1.5])
        try gradientCheck({ F.absolute($0[0]) }, inputs: [NDArray([-2, -0.5, 0.7, 3], dtype: .float64)])
        let v = [0.5, 1.0, 2.25]
        let x = Variable(NDArray(v, dtype: .float64))
        XCTAssertEqual(F.exp(x).array.toDoubles(), v.map { Foundation.exp($0) })
        XCTAssertEqual(F.log(x).array.toDoubles(), v.map { Foundation.log($0) })
        XCTAssertEqual(F.sqrt(x).array.toDoubles(), v.map { $0.squareRoot() })
        XCTAssertEqual(F.square(x).array.toDoubles(), v.map { $0 * $0 })
        // |x| has gradient 0 at 0 (Chainer)
        let z = Variable(NDArray([0, -2], dtype: .float64))
        F.sum(F.abs(z)).backward()
        XCTAssertEqual(z.grad?.toDoubles(), [0, -1])
    }

    func testMaximumMinimumClipAndTheirTies() throws {
        let a = dbl([3, 4]), b = dbl([4], scale: 0.9, offset: 0.05)
        try gradientCheck({ F.maximum($0[0], $0[1]) }, inputs: [a, b])
        try gradientCheck({ F.minimum($0[0], $0[1]) }, inputs: [a, b])
        try gradientCheck({ F.clip($0[0], -0.5, 0.6) }, inputs: [NDArray([-1, -0.3, 0.2, 0.59, 0.9], dtype: .float64)])
        // On a tie maximum gives the gradient to the first argument; clip passes it at its bounds.
        let x = Variable(NDArray([1, 0], dtype: .float64)), y = Variable(NDArray([1, 1], dtype: .float64))
        F.sum(F.maximum(x, y)).backward()
        XCTAssertEqual(x.grad?.toDoubles(), [1, 0])
        XCTAssertEqual(y.grad?.toDoubles(), [0, 1])
        let c = Variable(NDArray([-1, 0, 1, 2], dtype: .float64))
        let clipped = F.clip(c, 0, 1)
        XCTAssertEqual(clipped.array.toDoubles(), [0, 0, 1, 1])
        F.sum(clipped).backward()
        XCTAssertEqual(c.grad?.toDoubles(), [0, 1, 1, 0])
    }

    func testReductions() throws {
        let a = dbl([2, 3, 4])
        for axes in [nil, [0], [1], [2], [0, 2], [1, 2]] as [[Int]?] {
            for keep in [false, true] {
                try gradientCheck({ F.sum($0[0], axes: axes, keepDims: keep) }, inputs: [a])
                try gradientCheck({ F.mean($0[0], axes: axes, keepDims: keep) }, inputs: [a])
                try gradientCheck({ F.max($0[0], axes: axes, keepDims: keep) }, inputs: [a])
                try gradientCheck({ F.min($0[0], axes: axes, keepDims: keep) }, inputs: [a])
                try gradientCheck({ F.logSumExp($0[0], axes: axes) }, inputs: [a])
            }
        }
        let x = Variable(NDArray([[1, 2], [3, 4]], dtype: .float64))
        XCTAssertEqual(F.sum(x, axis: 0).array.toDoubles(), [4, 6])
        XCTAssertEqual(F.mean(x).array.item(), 2.5)
        XCTAssertEqual(F.max(x, axis: 1).array.toDoubles(), [2, 4])
        XCTAssertEqual(F.logSumExp(x, axis: 1).array.toDoubles()[0], log(exp(1.0) + exp(2.0)), accuracy: 1e-12)
        XCTAssertEqual(F.argmax(x, axis: 1).array.toArray(as: Int32.self), [1, 1])
        // Every tied maximum gets the full gradient (Chainer).
        let t = Variable(NDArray([3, 1, 3], dtype: .float64))
        F.max(t).backward()
        XCTAssertEqual(t.grad?.toDoubles(), [1, 0, 1])
    }

    func testMatmulEveryTranspositionBatchedAndVectors() throws {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = ta ? dbl([4, 3]) : dbl([3, 4]), b = tb ? dbl([5, 4], scale: 0.5) : dbl([4, 5], scale: 0.5)
            try gradientCheck({ F.matmul($0[0], $0[1], transA: ta, transB: tb) }, inputs: [a, b])
            let y = F.matmul(Variable(a), Variable(b), transA: ta, transB: tb)
            assertClose(y.array, NDArray.matmul(ta ? a.transposed() : a, tb ? b.transposed() : b), atol: 1e-12)
        }
        try gradientCheck({ F.matmul($0[0], $0[1]) }, inputs: [dbl([2, 3, 4]), dbl([4, 2])])       // broadcast batch
        try gradientCheck({ F.matmul($0[0], $0[1], transB: true) }, inputs: [dbl([2, 1, 3, 4]), dbl([3, 2, 4])])
        try gradientCheck({ F.matmul($0[0], $0[1]) }, inputs: [dbl([4]), dbl([4, 3])])             // vector · matrix
        try gradientCheck({ F.matmul($0[0], $0[1]) }, inputs: [dbl([3, 4]), dbl([4])])
        try gradientCheck({ F.batchMatmul($0[0], $0[1], transA: true) }, inputs: [dbl([2, 4, 3]), dbl([2, 4, 5])])
        XCTAssertEqual(F.matmul(Variable(dbl([3, 4])), Variable(dbl([4]))).shape, [3])
    }

    func testVarianceAndStdAndTheirGradients() throws {
        let x = testArray([3, 4], dtype: .float64, scale: 2)
        let v = Variable(x)
        assertClose(F.variance(v, axis: 1, ddof: 1).array, x.variance(axis: 1, ddof: 1), atol: 1e-12)
        assertClose(F.std(v, axes: nil).array, x.std(), atol: 1e-12)
        try gradientCheck({ [F.variance($0[0], axis: 1, ddof: 1)] }, inputs: [x])
        try gradientCheck({ [F.variance($0[0], axes: [0, 1])] }, inputs: [x])
        try gradientCheck({ [F.std($0[0], axis: 0, keepDims: true)] }, inputs: [x])
        // d var / dx_i = 2 (x_i − mean) / (n − ddof), by hand for one row.
        let row = Variable(NDArray([1, 2, 6], dtype: .float64))
        F.variance(row, ddof: 1).backward()
        assertClose(row.grad!, [2 * (1 - 3) / 2.0, 2 * (2 - 3) / 2.0, 2 * (6 - 3) / 2.0], atol: 1e-12)
    }
}
