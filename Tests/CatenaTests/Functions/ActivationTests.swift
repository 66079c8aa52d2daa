import Foundation
import XCTest

@testable import Catena

final class ActivationTests: XCTestCase {
    let values: [Double] = [-2.5, -0.7, -0.1, 0.3, 1.2, 3.0]

    func testElementwiseActivationsAgainstFormulas() throws {
        let x = NDArray(values, shape: [2, 3], dtype: .float64)
        try gradientCheck({ F.relu($0[0]) }, inputs: [x])
        try gradientCheck({ F.leakyRelu($0[0]) }, inputs: [x])
        try gradientCheck({ F.leakyRelu($0[0], slope: 0.05) }, inputs: [x])
        try gradientCheck({ F.sigmoid($0[0]) }, inputs: [x])
        try gradientCheck({ F.tanh($0[0]) }, inputs: [x])
        try gradientCheck({ F.softplus($0[0]) }, inputs: [x])
        try gradientCheck({ F.softplus($0[0], beta: 2) }, inputs: [x])
        let v = Variable(x)
        assertClose(F.relu(v).array, values.map { max($0, 0) }, atol: 0)
        assertClose(F.leakyRelu(v).array, values.map { $0 > 0 ? $0 : 0.2 * $0 }, atol: 1e-15)
        assertClose(F.sigmoid(v).array, values.map { 1 / (1 + exp(-$0)) }, atol: 1e-15)
        assertClose(F.tanh(v).array, values.map { tanh($0) }, atol: 1e-15)
        assertClose(F.softplus(v, beta: 2).array, values.map { log(1 + exp(2 * $0)) / 2 }, atol: 1e-14)
        // Large inputs do not overflow.
        let big = Variable(NDArray([800, -800], dtype: .float64))
        XCTAssertEqual(F.softplus(big).array.toDoubles(), [800, 0])
        XCTAssertEqual(F.sigmoid(big).array.toDoubles(), [1, 0])
    }

    func testGradientsAtZero() {
        // relu'(0) = 0; leaky_relu'(0) = slope (Chainer).
        let x = Variable(NDArray([-1, 0, 2], dtype: .float64))
        F.sum(F.relu(x)).backward()
        XCTAssertEqual(x.grad?.toDoubles(), [0, 0, 1])
        x.clearGrad()
        F.sum(F.leakyRelu(x)).backward()
        XCTAssertEqual(x.grad?.toDoubles(), [0.2, 0.2, 1])
    }

    func testFloat32ActivationsMatchFloat64() {
        let x64 = testArray([7, 13], dtype: .float64, scale: 4)
        let x32 = x64.astype(.float32)
        for f in [F.sigmoid, F.tanh, F.relu, { F.softplus($0) }] as [(Variable) -> Variable] {
            assertClose(f(Variable(x32)).array, f(Variable(x32.astype(.float64))).array, atol: 2e-7, rtol: 1e-6)
        }
    }

    func testSoftmaxAndLogSoftmax() throws {
        let x = testArray([3, 4, 2], dtype: .float64, scale: 3)
        for axis in [0, 1, 2, -1] {
            try gradientCheck({ F.softmax($0[0], axis: axis) }, inputs: [x])
            try gradientCheck({ F.logSoftmax($0[0], axis: axis) }, inputs: [x])
        }
        let rows = NDArray([[1, 2, 3], [1000, 1000, 1001]], dtype: .float64)
        let s = F.softmax(Variable(rows)).array.toDoubles()
        let e = [exp(1.0), exp(2.0), exp(3.0)], z = e.reduce(0, +)
        for k in 0..<3 { XCTAssertEqual(s[k], e[k] / z, accuracy: 1e-15) }
        let z2 = 2 + exp(1.0)
        XCTAssertEqual(s[5], exp(1.0) / z2, accuracy: 1e-15)
        let ls = F.logSoftmax(Variable(rows)).array.toDoubles()
        XCTAssertEqual(ls[3], -log(z2), accuracy: 1e-12)
    }
}
