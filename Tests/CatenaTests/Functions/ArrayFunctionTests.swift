import XCTest

@testable import Catena

final class ArrayFunctionTests: XCTestCase {
    func testShapeFunctions() throws {
        let x = dbl([2, 3, 4])
        try gradientCheck({ F.reshape($0[0], [4, -1]) }, inputs: [x])
        try gradientCheck({ F.transpose($0[0]) }, inputs: [x])
        try gradientCheck({ F.transpose($0[0], axes: [1, 2, 0]) }, inputs: [x])
        try gradientCheck({ F.broadcastTo($0[0], [2, 3, 4]) }, inputs: [dbl([3, 1])])
        try gradientCheck({ F.expandDims($0[0], axis: 1) }, inputs: [x])
        try gradientCheck({ F.squeeze($0[0]) }, inputs: [dbl([1, 3, 1])])
        try gradientCheck({ F.identity($0[0]) }, inputs: [x])
        try gradientCheck({ F.cast(F.cast($0[0], .float32), .float64) * 1 }, inputs: [x], atol: 1e-4, rtol: 1e-3)
        let v = Variable(x)
        XCTAssertEqual(v.reshaped(6, 4).shape, [6, 4])
        XCTAssertEqual(v.T.shape, [4, 3, 2])
        XCTAssertEqual(F.transpose(v, axes: [1, 2, 0]).array, x.transposed(1, 2, 0))
        XCTAssertEqual(F.broadcastTo(Variable(dbl([3, 1])), [2, 3, 4]).shape, [2, 3, 4])
    }

    func testConcatStackSplitSeparate() throws {
        let a = dbl([2, 3]), b = dbl([2, 1], offset: 1), c = dbl([4, 3], scale: 2)
        try gradientCheck({ F.concat([$0[0], $0[1]]) }, inputs: [a, b])
        try gradientCheck({ F.concat([$0[0], $0[1]], axis: 0) }, inputs: [a, c])
        try gradientCheck({ F.stack([$0[0], $0[1]], axis: 1) }, inputs: [a, a * 2])
        try gradientCheck({ F.splitAxis($0[0], sections: 2, axis: 0) }, inputs: [c])
        try gradientCheck({ F.splitAxis($0[0], indices: [1, 2], axis: 1) }, inputs: [c])
        // An output nobody uses contributes zeros.
        try gradientCheck({ [F.splitAxis($0[0], indices: [1], axis: 1)[1]] }, inputs: [c])
        try gradientCheck({ F.separate($0[0], axis: 1) }, inputs: [c])
        let parts = F.separate(Variable(c), axis: 0)
        XCTAssertEqual(parts.count, 4)
        XCTAssertEqual(parts[2].array, c[2])
        XCTAssertEqual(F.concat([Variable(a), Variable(b)]).array.toDoubles()[0..<4].map { $0 }, [a.item(0, 0), a.item(0, 1), a.item(0, 2), b.item(0, 0)])
    }

    func testIndexingFunctions() throws {
        let x = dbl([4, 5])
        try gradientCheck({ $0[0][1..<3, .range(nil, nil, step: 2)] }, inputs: [x])
        try gradientCheck({ $0[0][2] }, inputs: [x])
        try gradientCheck({ $0[0][.all, -1] }, inputs: [x])
        // Repeated indices accumulate their gradients.
        let ids = NDArray(values: [Int32(0), 0, 2], shape: [3])
        try gradientCheck({ F.take($0[0], ids) }, inputs: [x])
        let v = Variable(NDArray([1, 2, 3], dtype: .float64))
        F.sum(F.take(v, ids)).backward()
        XCTAssertEqual(v.grad?.toDoubles(), [2, 0, 1])
        let t = NDArray(values: [Int32(4), 0, 2, 1], shape: [4])
        try gradientCheck({ F.selectItem($0[0], .constant(t)) }, inputs: [x])
        XCTAssertEqual(F.selectItem(Variable(x), .constant(t)).array.toDoubles(), [x.item(0, 4), x.item(1, 0), x.item(2, 2), x.item(3, 1)])
        let mask = (x .> 0)
        try gradientCheck({ F.where(.constant(mask), $0[0], $0[1]) }, inputs: [x, dbl([5])])
        XCTAssertEqual(F.where(.constant(mask), Variable(x), Variable(NDArray.zeros([5], dtype: .float64))).array, x.relu())
    }
}
