import Foundation
import XCTest

@testable import Catena

final class SimpleRNNTests: XCTestCase {
    func testSigmoidStepsFollowTheFormula() {
        // One unit, two inputs: h1 = σ(u·x1 + b), h2 = σ(u·x2 + w·h1 + b), with known weights.
        let rnn = SimpleRNN(2, 1, activation: .sigmoid)
        rnn.upward.W.array = NDArray([[0.5, -1]])
        rnn.upward.b!.array = NDArray([0.25])
        rnn.lateral.W.array = NDArray([[2]])
        let x1 = [1.0, 0.5], x2 = [-1.0, 2.0]
        func sigma(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
        let h1 = sigma(0.5 * x1[0] - x1[1] + 0.25)
        let h2 = sigma(0.5 * x2[0] - x2[1] + 2 * h1 + 0.25)
        assertClose(rnn(Variable(NDArray([x1]))).array, [h1])
        assertClose(rnn(Variable(NDArray([x2]))).array, [h2])
        rnn.resetState()
        assertClose(rnn(Variable(NDArray([x1]))).array, [h1])
        XCTAssertEqual(RNNActivation.allCases.map(\.rawValue), ["tanh", "relu", "sigmoid"])
    }

    func testGradientsThroughThreeStepsMatchFiniteDifferences() throws {
        for activation in RNNActivation.allCases {
            let rng = RandomState(seed: 3)
            let inputs = [rng.normal(shape: [2, 3], dtype: .float64), rng.normal(shape: [4, 3], std: 0.5, dtype: .float64),
                          rng.normal(shape: [4], std: 0.3, dtype: .float64), rng.normal(shape: [4, 4], std: 0.5, dtype: .float64),
                          rng.normal(shape: [2, 3], dtype: .float64), rng.normal(shape: [2, 3], dtype: .float64)]
            // inputs: x1, W, b, U, x2, x3 — the link's parameters replaced by the checked variables.
            try gradientCheck({ v in
                let rnn = SimpleRNN(3, 4, activation: activation)
                var h = activation(F.linear(v[0], v[1], v[2]))
                for x in [v[4], v[5]] { h = activation(F.linear(x, v[1], v[2]) + F.linear(h, v[3])) }
                // The same computation through the link, with its parameters set to the same values.
                rnn.upward.W.array = v[1].array
                rnn.upward.b!.array = v[2].array
                rnn.lateral.W.array = v[3].array
                var hl = rnn(v[0])
                for x in [v[4], v[5]] { hl = rnn(x) }
                XCTAssertEqual(SerializedValue.array(hl.array), .array(h.array), "\(activation)")
                return [h]
            }, inputs: inputs)
            // And the link's own backward against finite differences of its output.
            let rnn = SimpleRNN(3, 4, activation: activation)
            for p in rnn.params() { p.array = p.array.astype(.float64) }
            try gradientCheck({ v in
                rnn.resetState()
                _ = rnn(v[0])
                _ = rnn(v[1])
                return [rnn(v[2])]
            }, inputs: [inputs[0], inputs[4], inputs[5]])
        }
    }

    func testASmallerBatchUpdatesItsRowsAndCarriesTheRest() {
        for link: any StatefulRNN in [SimpleRNN(2, 3), GRU(2, 3), LSTM(2, 3)] {
            let x3 = Variable(testArray([3, 2])), x2 = Variable(testArray([2, 2], offset: 0.5))
            let first = link(x3).array
            let second = link(x2)
            XCTAssertEqual(second.shape, [2, 3], "\(type(of: link))")
            // The carried third row is the first step's, untouched; the first two rows are a fresh step from them.
            let state: Variable? = (link as? SimpleRNN)?.h ?? (link as? GRU)?.h ?? (link as? LSTM)?.h
            XCTAssertEqual(state?.shape, [3, 3])
            assertClose(state!.array[2..<3], first[2..<3], atol: 0, rtol: 0, "\(type(of: link))")
            assertClose(state!.array[0..<2], second.array, atol: 0, rtol: 0)
        }
    }
}
