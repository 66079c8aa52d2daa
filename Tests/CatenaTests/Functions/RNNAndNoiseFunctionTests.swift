import Foundation
import XCTest

@testable import Catena

final class RNNAndNoiseFunctionTests: XCTestCase {
    func sig(_ v: Double) -> Double { 1 / (1 + exp(-v)) }

    /// c and h from the interleaved-gate formula, computed element by element.
    func reference(_ c: NDArray, _ x: NDArray) -> ([Double], [Double]) {
        var cs = [Double](), hs = [Double]()
        for b in 0..<x.shape[0] {
            for j in 0..<c.shape[1] {
                let a = tanh(x.item(b, 4 * j)), i = sig(x.item(b, 4 * j + 1)), f = sig(x.item(b, 4 * j + 2)), o = sig(x.item(b, 4 * j + 3))
                let cn = a * i + f * c.item(b, j)
                cs.append(cn)
                hs.append(o * tanh(cn))
            }
        }
        return (cs, hs)
    }

    func testLSTMMatchesTheInterleavedFormula() throws {
        let c = dbl([3, 4], scale: 2), x = dbl([3, 16], scale: 3)
        let (cExp, hExp) = reference(c, x)
        let out = F.lstm(Variable(c), Variable(x))
        assertClose(out.c.array, cExp, shape: [3, 4], atol: 1e-14)
        assertClose(out.h.array, hExp, shape: [3, 4], atol: 1e-14)
        // Chainer's own numbers for H = 2, x = arange(8)·0.1 − 0.3, c = [0.5, −0.5].
        let small = F.lstm(Variable(NDArray([[0.5, -0.5]], dtype: .float64)), Variable(NDArray.arange(8, dtype: .float64).reshaped(1, 8) * 0.1 - 0.3))
        assertClose(small.c.array, [0.10637, -0.23242], atol: 1e-5)
        assertClose(small.h.array, [0.05299, -0.13669], atol: 1e-5)
        // float32 path (vectorised gates) agrees.
        let out32 = F.lstm(Variable(c.astype(.float32)), Variable(x.astype(.float32)))
        assertClose(out32.c.array, cExp, atol: 2e-6)
        assertClose(out32.h.array, hExp, atol: 2e-6)
        try gradientCheck({ let r = F.lstm($0[0], $0[1]); return [r.c, r.h] }, inputs: [c, x])
        try gradientCheck({ [F.lstm($0[0], $0[1]).h] }, inputs: [c, x])   // c's output unused
        try gradientCheck({ [F.lstm($0[0], $0[1]).c] }, inputs: [c, x])   // h's output unused
    }

    func testLSTMWithASmallerBatchPassesTheRestThrough() throws {
        let c = dbl([4, 2]), x = dbl([2, 8])
        let out = F.lstm(Variable(c), Variable(x))
        XCTAssertEqual(out.h.shape, [2, 2])
        XCTAssertEqual(out.c.shape, [4, 2])
        XCTAssertEqual(out.c.array[2..<4], c[2..<4])
        try gradientCheck({ let r = F.lstm($0[0], $0[1]); return [r.c, r.h] }, inputs: [c, x])
    }

    func testLayerNormalization() throws {
        let x = dbl([3, 5], scale: 2), g = dbl([5], offset: 1), b = dbl([5], scale: 0.3)
        try gradientCheck({ F.layerNormalization($0[0], $0[1], $0[2]) }, inputs: [x, g, b])
        let y = F.layerNormalization(Variable(x), Variable(g), Variable(b)).array
        for r in 0..<3 {
            let row = (0..<5).map { x.item(r, $0) }
            let mu = row.reduce(0, +) / 5
            let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 5
            for k in 0..<5 {
                XCTAssertEqual(y.item(r, k), (row[k] - mu) / (v + 1e-5).squareRoot() * g.item(k) + b.item(k), accuracy: 1e-12)
            }
        }
    }

    func testDropoutMasksScalesAndIsOffOutsideTraining() throws {
        let x = Variable(NDArray.ones([100, 100]))
        let y = F.dropout(x, ratio: 0.3, rng: RandomState(seed: 1)).array.toDoubles()
        XCTAssertTrue(y.allSatisfy { $0 == 0 || Swift.abs($0 - 1 / 0.7) < 1e-6 })
        XCTAssertEqual(Double(y.filter { $0 == 0 }.count) / 10_000, 0.3, accuracy: 0.02)
        let same = usingConfig(\.train, false) { F.dropout(x) }
        XCTAssertTrue(same === x, "outside training dropout returns its input")
        try gradientCheck({ F.dropout($0[0], ratio: 0.4, rng: RandomState(seed: 9)) }, inputs: [dbl([4, 5])])
        // The same seed gives the same mask.
        let a = F.dropout(x, rng: RandomState(seed: 4)).array, b = F.dropout(x, rng: RandomState(seed: 4)).array
        XCTAssertEqual(a, b)
    }
}
