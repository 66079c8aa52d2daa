import Foundation
import XCTest

@testable import Catena

final class InitializerTests: XCTestCase {
    func moments(_ a: NDArray) -> (mean: Double, std: Double, maxAbs: Double) {
        let v = a.toDoubles()
        let m = v.reduce(0, +) / Double(v.count)
        let s = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
        return (m, s, v.map { Swift.abs($0) }.max() ?? 0)
    }

    func testFanBasedInitializersHaveChainersScales() {
        let rng = RandomState(seed: 0)
        let shape = [400, 250]   // fan_in 250, fan_out 400
        let cases: [(Initializer, Double)] = [
            (LeCunNormal(), (1.0 / 250).squareRoot()),
            (GlorotNormal(), (2.0 / 650).squareRoot()),
            (HeNormal(), (2.0 / 250).squareRoot()),
            (HeNormal(fanOption: .fanOut), (2.0 / 400).squareRoot()),
            (Normal(), 0.05),
            (LeCunNormal(scale: 2), 2 * (1.0 / 250).squareRoot()),
        ]
        for (ini, std) in cases {
            let m = moments(ini.makeArray(shape: shape, dtype: .float32, rng: rng))
            XCTAssertEqual(m.mean, 0, accuracy: std * 0.02, "\(ini)")
            XCTAssertEqual(m.std, std, accuracy: std * 0.02, "\(ini)")
        }
        let uniforms: [(Initializer, Double)] = [
            (Uniform(), 0.05), (LeCunUniform(), (3.0 / 250).squareRoot()), (GlorotUniform(), (6.0 / 650).squareRoot()),
            (HeUniform(), (6.0 / 250).squareRoot()),
        ]
        for (ini, bound) in uniforms {
            let m = moments(ini.makeArray(shape: shape, dtype: .float32, rng: rng))
            XCTAssertLessThanOrEqual(m.maxAbs, bound)
            XCTAssertEqual(m.maxAbs, bound, accuracy: bound * 0.01)
            XCTAssertEqual(m.std, bound / 3.0.squareRoot(), accuracy: bound * 0.01)
        }
        XCTAssertEqual(fans(of: [4, 3, 2, 2]).fanIn, 12)
        XCTAssertEqual(fans(of: [4, 3, 2, 2]).fanOut, 16)
    }

    func testConstantsIdentityAndOrthogonal() {
        let rng = RandomState(seed: 1)
        XCTAssertEqual(Constant(2.5).makeArray(shape: [2], dtype: .float64, rng: rng).toDoubles(), [2.5, 2.5])
        XCTAssertEqual(Zero().makeArray(shape: [2], dtype: .float32, rng: rng).toDoubles(), [0, 0])
        XCTAssertEqual(One().makeArray(shape: [1], dtype: .int32, rng: rng).toDoubles(), [1])
        XCTAssertEqual(Identity(scale: 2).makeArray(shape: [2, 2], dtype: .float32, rng: rng).toDoubles(), [2, 0, 0, 2])
        for shape in [[5, 5], [3, 7], [8, 3], [4, 2, 3]] {
            let q = Orthogonal().makeArray(shape: shape, dtype: .float64, rng: rng)
            let m = q.reshaped(shape[0], -1)
            let rows = m.shape[0], cols = m.shape[1]
            // The shorter side's vectors are orthogonal with squared norm 1.1² (Chainer's default scale).
            let gram = rows <= cols ? NDArray.matmul(m, m, transposeB: true) : NDArray.matmul(m, m, transposeA: true)
            assertClose(gram, NDArray.eye(min(rows, cols), dtype: .float64) * 1.21, atol: 1e-12)
        }
    }

    func testSameSeedSameModel() {
        let a = LSTM(3, 4, rng: RandomState(seed: 42)), b = LSTM(3, 4, rng: RandomState(seed: 42))
        for (p, q) in zip(a.params(), b.params()) { XCTAssertEqual(p.array, q.array) }
        let c = LSTM(3, 4, rng: RandomState(seed: 43))
        XCTAssertNotEqual(a.upward.W.array, c.upward.W.array)
    }
}
