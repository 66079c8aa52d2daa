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
}
