import Foundation
import XCTest

@testable import Catena

final class LinkForwardTests: XCTestCase {
    /// Runs `link` in float64 by converting its parameters, so gradient checks through links are precise.
    func toFloat64(_ link: Link) {
        for p in link.params(includeUninitialized: false) { p.array = p.array.astype(.float64) }
    }

    func testLinearAgainstAFormulaAndThroughTheGradientCheck() throws {
        let l = Linear(3, 2, rng: RandomState(seed: 1))
        toFloat64(l)
        let x = dbl([4, 3])
        let y = l(Variable(x)).array
        for i in 0..<4 { for o in 0..<2 {
            var s = l.b!.array.item(o)
            for k in 0..<3 { s += x.item(i, k) * l.W.array.item(o, k) }
            XCTAssertEqual(y.item(i, o), s, accuracy: 1e-12)
        } }
        // gradient with respect to the input and to both parameters
        try gradientCheck({ xs in
            l.W.array = xs[1].array
            l.b!.array = xs[2].array
            return F.linear(xs[0], xs[1], xs[2])
        }, inputs: [x, l.W.array, l.b!.array])
        XCTAssertEqual(Linear(3, 2).W.dtype, .float32)
    }

    func testEmbedIDDefaultsAndIgnoreLabel() {
        let e = EmbedID(1000, 20, ignoreLabel: -1, rng: RandomState(seed: 2))
        let w = e.W.array.toDoubles()
        let mean = w.reduce(0, +) / Double(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)).squareRoot()
        XCTAssertEqual(std, 1, accuracy: 0.02, "EmbedID draws from N(0, 1) by default, as Chainer")
        let y = e(NDArray(values: [Int32(5), -1], shape: [2]))
        XCTAssertEqual(y.array[0], e.W.array[5])
        XCTAssertEqual(y.array[1].toDoubles(), [Double](repeating: 0, count: 20))
    }

    func testLSTMBiasLayoutAndInitialState() {
        let lstm = LSTM(3, 2, rng: RandomState(seed: 3))
        XCTAssertEqual(lstm.upward.b!.array.toDoubles(), [0, 0, 1, 0, 0, 0, 1, 0], "forget gates (4j+2) start at 1")
        XCTAssertEqual(lstm.namedParams().map(\.path), ["/lateral/W", "/upward/W", "/upward/b"])
        XCTAssertEqual(lstm.lateral.W.shape, [8, 2])
        XCTAssertEqual(lstm.upward.W.shape, [8, 3])
        // First call: no lateral term, zero cell state.
        let x = Variable(NDArray([[0.1, -0.2, 0.3]]))
        let h = lstm(x)
        let expected = F.lstm(.constant(NDArray.zeros([1, 2])), lstm.upward(x)).h
        assertClose(h.array, expected.array, atol: 1e-7)
        // Lazy: lateral weights are zeros until the first call, then drawn.
        let lazy = LSTM(nil, 4, rng: RandomState(seed: 3))
        XCTAssertFalse(lazy.upward.W.isInitialized)
        _ = lazy(Variable(NDArray.ones([2, 5])))
        XCTAssertEqual(lazy.upward.W.shape, [16, 5])
        XCTAssertNotEqual(lazy.lateral.W.array.abs().sum().item(), 0)
    }

    func testLSTMUnrolledEqualsStatelessLSTMFedTheSameStates() throws {
        let lstm = LSTM(3, 4, rng: RandomState(seed: 4))
        let cell = StatelessLSTM(3, 4, rng: RandomState(seed: 99))
        cell.copyParams(from: lstm)
        let xs = (0..<5).map { Variable(testArray([2, 3], scale: 1, offset: Double($0) * 0.1)) }
        var c: Variable? = nil, h: Variable? = nil
        for x in xs {
            let y = lstm(x)
            (c, h) = cell(c: c, h: h, x)
            assertClose(y.array, h!.array, atol: 1e-6)
        }
        assertClose(lstm.c!.array, c!.array, atol: 1e-6)
        // Gradients flow through all steps to the weights: check against finite differences in float64.
        toFloat64(cell)
        try gradientCheck({ v in
            var c: Variable? = nil, h: Variable? = nil
            for t in 0..<3 { (c, h) = cell(c: c, h: h, v[t]) }
            return h!
        }, inputs: (0..<3).map { dbl([2, 3], offset: Double($0) * 0.2) })
    }

    func testLSTMSmallerBatchCarriesTheRestAndResetState() {
        let lstm = LSTM(2, 3, rng: RandomState(seed: 5))
        _ = lstm(Variable(NDArray.ones([4, 2])))
        let h = lstm(Variable(NDArray.ones([2, 2])))
        XCTAssertEqual(h.shape, [2, 3])
        XCTAssertEqual(lstm.h!.shape, [4, 3])
        lstm.resetState()
        XCTAssertNil(lstm.h)
        XCTAssertNil(lstm.c)
    }

    func testGRUsMatchTheirFormulas() throws {
        let g = StatelessGRU(3, 2, rng: RandomState(seed: 6))
        toFloat64(g)
        let h = dbl([2, 2]), x = dbl([2, 3], offset: 0.3)
        func lin(_ l: Linear, _ v: NDArray) -> NDArray { NDArray.matmul(v, l.W.array, transposeB: true) + l.b!.array }
        let r = (lin(g.W_r, x) + lin(g.U_r, h)).sigmoid()
        let z = (lin(g.W_z, x) + lin(g.U_z, h)).sigmoid()
        let hb = (lin(g.W, x) + lin(g.U, r * h)).tanh()
        assertClose(g(Variable(h), Variable(x)).array, z * hb + (1 - z) * h, atol: 1e-12)
        try gradientCheck({ g($0[0], $0[1]) }, inputs: [h, x])
        XCTAssertEqual(g.namedParams().map(\.path), ["/U/W", "/U/b", "/U_r/W", "/U_r/b", "/U_z/W", "/U_z/b", "/W/W", "/W/b", "/W_r/W", "/W_r/b", "/W_z/W", "/W_z/b"])
        // The stateful GRU's first step is z·h̄ without the reset gate.
        let s = GRU(3, 2, rng: RandomState(seed: 7))
        toFloat64(s)
        let first = s(Variable(x)).array
        assertClose(first, lin(s.W_z, x).sigmoid() * lin(s.W, x).tanh(), atol: 1e-12)
        let second = s(Variable(x)).array
        let r2 = (lin(s.W_r, x) + lin(s.U_r, first)).sigmoid(), z2 = (lin(s.W_z, x) + lin(s.U_z, first)).sigmoid()
        let hb2 = (lin(s.W, x) + lin(s.U, r2 * first)).tanh()
        assertClose(second, z2 * hb2 + (1 - z2) * first, atol: 1e-12)
    }

    func testSimpleRNNAndIRNN() throws {
        let rnn = SimpleRNN.irnn(1, 3, rng: RandomState(seed: 8))
        XCTAssertEqual(rnn.lateral.W.array, NDArray.eye(3))
        let w = rnn.upward.W.array.toDoubles()
        XCTAssertTrue(w.allSatisfy { Swift.abs($0) < 0.005 })
        toFloat64(rnn)
        let xs = [dbl([2, 1], offset: 1), dbl([2, 1], offset: 2)]
        var h = (NDArray.matmul(xs[0], rnn.upward.W.array, transposeB: true) + rnn.upward.b!.array).relu()
        XCTAssertEqual(rnn(Variable(xs[0])).array, h)
        h = (NDArray.matmul(xs[1], rnn.upward.W.array, transposeB: true) + rnn.upward.b!.array + NDArray.matmul(h, rnn.lateral.W.array, transposeB: true)).relu()
        assertClose(rnn(Variable(xs[1])).array, h, atol: 1e-12)
        let tanhRNN = SimpleRNN(2, 3, rng: RandomState(seed: 9))
        toFloat64(tanhRNN)
        try gradientCheck({ v in
            tanhRNN.resetState()
            _ = tanhRNN(v[0])
            return tanhRNN(v[1])
        }, inputs: [dbl([2, 2]), dbl([2, 2], offset: 0.5)])
    }

    func testLayerNormalizationLinkIsLazyAndUsesItsEps() {
        let ln = LayerNormalization()
        XCTAssertFalse(ln.gamma.isInitialized)
        let x = testArray([3, 4], dtype: .float64)
        let y = ln(Variable(x))
        XCTAssertEqual(ln.gamma.shape, [4])
        let expected = F.layerNormalization(Variable(x), Variable(NDArray.ones([4], dtype: .float64)), Variable(NDArray.zeros([4], dtype: .float64)), eps: 1e-6)
        assertClose(y.array, expected.array, atol: 1e-12)
    }

    func testClassifierReportsLossAndAccuracy() {
        let model = Classifier(Linear(3, 2, rng: RandomState(seed: 10)))
        XCTAssertEqual(model.namedParams().map(\.path), ["/predictor/W", "/predictor/b"])
        let reporter = Reporter()
        reporter.addObserver("main", model)
        let x = testArray([4, 3]), t = NDArray([0, 1, 1, 0], dtype: .int32)
        var loss: Variable!
        let obs = reporter.scope { loss = model(x, t) }
        XCTAssertEqual(obs["main/loss"]!, loss.item(), accuracy: 1e-6)
        XCTAssertEqual(obs["main/accuracy"]!, F.accuracy(model.predictor(Variable(x)), t).item(), accuracy: 1e-6)
        XCTAssertEqual(loss.item(), F.softmaxCrossEntropy(model.predictor(Variable(x)), t).item(), accuracy: 1e-6)
        model.computeAccuracy = false
        let obs2 = reporter.scope { _ = model(x, t) }
        XCTAssertNil(obs2["main/accuracy"])
    }
}
