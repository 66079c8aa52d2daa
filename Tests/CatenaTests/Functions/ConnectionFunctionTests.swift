import XCTest

@testable import Catena

final class ConnectionFunctionTests: XCTestCase {
    func testLinearForwardAndGradients() throws {
        let x = dbl([3, 4]), w = dbl([5, 4], scale: 0.5), b = dbl([5], offset: 0.1)
        try gradientCheck({ F.linear($0[0], $0[1], $0[2]) }, inputs: [x, w, b])
        try gradientCheck({ F.linear($0[0], $0[1]) }, inputs: [x, w])
        let y = F.linear(Variable(x), Variable(w), Variable(b)).array
        for i in 0..<3 {
            for o in 0..<5 {
                var s = b.item(o)
                for k in 0..<4 { s += x.item(i, k) * w.item(o, k) }
                XCTAssertEqual(y.item(i, o), s, accuracy: 1e-12)
            }
        }
        // Extra axes are flattened into features (nBatchAxes 1) or kept as batch axes (nBatchAxes 2).
        try gradientCheck({ F.linear($0[0], $0[1], $0[2]) }, inputs: [dbl([2, 2, 2]), w, b])
        XCTAssertEqual(F.linear(Variable(dbl([2, 3, 4])), Variable(w), nBatchAxes: 2).shape, [2, 3, 5])
        try gradientCheck({ F.linear($0[0], $0[1], $0[2], nBatchAxes: 2) }, inputs: [dbl([2, 3, 4]), w, b])
        // float32 path agrees with float64
        let y32 = F.linear(Variable(x.astype(.float32)), Variable(w.astype(.float32)), Variable(b.astype(.float32))).array
        assertClose(y32, y, atol: 1e-5)
    }

    func testEmbedIDWithIgnoreLabel() throws {
        let w = dbl([5, 3])
        let ids = NDArray(values: [Int32(0), -1, 0, 3], shape: [2, 2])
        let e = F.embedID(.constant(ids), Variable(w), ignoreLabel: -1)
        XCTAssertEqual(e.shape, [2, 2, 3])
        XCTAssertEqual(e.array[0, 0], w[0])
        XCTAssertEqual(e.array[0, 1].toDoubles(), [0, 0, 0])
        XCTAssertEqual(e.array[1, 1], w[3])
        try gradientCheck({ F.embedID(.constant(ids), $0[0], ignoreLabel: -1) }, inputs: [w])
        let wv = Variable(w)
        F.sum(F.embedID(.constant(ids), wv, ignoreLabel: -1)).backward()
        XCTAssertEqual(wv.grad!.sum(axis: 1).toDoubles(), [6, 0, 0, 3, 0], "row 0 twice, row 3 once, ignored id nowhere")
        // Without ignoreLabel, -1 is out of range (as in Chainer; it does not wrap to the last row): see the
        // "embed-negative" misuse scenario.
    }

    /// The gather and the table's gradient split across 2 and 3 threads (the split lowered to every size), in
    /// float32 and float64: each output row is its id's row of W (zeros for the ignored id), and each row of W's
    /// gradient is the sum of the output gradient's rows with its id (small integers, so the sums are exact).
    func testEmbedIDSplitAcrossThreadsFollowsTheDefinition() {
        let saved = NDArray.parallelElements
        defer { NDArray.parallelElements = saved }
        NDArray.parallelElements = 1
        let idList: [Int32] = [2, 0, -1, 2, 4, 2, 1, 0], width = 5
        let ids = NDArray(values: idList, shape: [2, 4])
        let wValues = (0..<(5 * width)).map { Double($0) - 7 }, gValues = (0..<(8 * width)).map { Double(($0 * 7) % 11) - 5 }
        for dtype in [DType.float32, .float64] {
            forEachThreadCount([2, 3]) { threads in
                let wv = Variable(NDArray(wValues, shape: [5, width], dtype: dtype))
                let e = F.embedID(.constant(ids), wv, ignoreLabel: -1)
                var expected: [Double] = []
                for i in idList { expected += i < 0 ? [Double](repeating: 0, count: width) : Array(wValues[Int(i) * width ..< (Int(i) + 1) * width]) }
                XCTAssertEqual(e.array.toDoubles(), expected, "forward, \(dtype), \(threads) threads")
                backward([e], gradOutputs: [NDArray(gValues, shape: [2, 4, width], dtype: dtype)])
                var grad = [Double](repeating: 0, count: 5 * width)
                for (k, i) in idList.enumerated() where i >= 0 { for j in 0..<width { grad[Int(i) * width + j] += gValues[k * width + j] } }
                XCTAssertEqual(wv.grad!.toDoubles(), grad, "W's gradient, \(dtype), \(threads) threads")
            }
        }
    }
}
