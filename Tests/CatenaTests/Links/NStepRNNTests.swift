import Foundation
import XCTest

@testable import Catena

/// The NStep links against the same networks written step by step, one sequence at a time, from Chainer's gate
/// formulas (independent of the packing, the fused kernels and the weight stacking), against the stepped links on
/// the same weights, and through gradient checks in float64.
final class NStepRNNTests: XCTestCase {
    // MARK: - The reference: one sequence at a time, one step at a time, from the formulas

    /// One step of a cell from Chainer's formulas, with each weight applied on its own.
    static func referenceStep(_ cell: NStepCell, _ x: Variable, _ h: Variable, _ c: Variable?, _ w: [Variable], _ b: [Variable]) -> (h: Variable, c: Variable?) {
        func lin(_ v: Variable, _ j: Int) -> Variable { F.linear(v, w[j], b[j]) }
        switch cell {
        case .lstm:
            let i = F.sigmoid(lin(x, 0) + lin(h, 4)), f = F.sigmoid(lin(x, 1) + lin(h, 5))
            let a = F.tanh(lin(x, 2) + lin(h, 6)), o = F.sigmoid(lin(x, 3) + lin(h, 7))
            let cNew = a * i + f * c!
            return (o * F.tanh(cNew), cNew)
        case .gru:
            let r = F.sigmoid(lin(x, 0) + lin(h, 3)), z = F.sigmoid(lin(x, 1) + lin(h, 4))
            let cand = F.tanh(lin(x, 2) + r * lin(h, 5))
            return ((1 - z) * cand + z * h, nil)
        case .rnnTanh: return (F.tanh(lin(x, 0) + lin(h, 1)), nil)
        case .rnnReLU: return (F.relu(lin(x, 0) + lin(h, 1)), nil)
        }
    }

    /// The whole network on each sequence separately (batch 1), as Chainer's `n_step_rnn_impl` defines it.
    static func reference(_ cell: NStepCell, layers: Int, directions: Int, hx: Variable, cx: Variable?, ws: [[Variable]], bs: [[Variable]],
                          xs: [Variable]) -> (hy: Variable, cy: Variable?, ys: [Variable]) {
        let h0 = F.separate(hx, axis: 0), c0 = cx.map { F.separate($0, axis: 0) }
        var hyRows = [[Variable]](repeating: [], count: layers * directions), cyRows = hyRows
        var ys: [Variable] = []
        for (s, seq) in xs.enumerated() {
            if seq.shape[0] == 0 {
                // No step: the initial state is the final one, and there is no output.
                for idx in 0..<(layers * directions) {
                    hyRows[idx].append(F.getItem(h0[idx], [.range(s, s + 1)]))
                    if let c0 { cyRows[idx].append(F.getItem(c0[idx], [.range(s, s + 1)])) }
                }
                ys.append(Variable.constant(NDArray.zeros([0, directions * hx.shape[2]], dtype: seq.dtype)))
                continue
            }
            var input = F.separate(seq, axis: 0).map { F.reshape($0, [1, seq.shape[1]]) }
            for layer in 0..<layers {
                var outs: [[Variable]] = []
                for d in 0..<directions {
                    let idx = layer * directions + d
                    var h = F.getItem(h0[idx], [.range(s, s + 1)]), c = c0.map { F.getItem($0[idx], [.range(s, s + 1)]) }
                    var out = [Variable?](repeating: nil, count: input.count)
                    let order = d == 0 ? Array(input.indices) : Array(input.indices.reversed())
                    for t in order {
                        (h, c) = referenceStep(cell, input[t], h, c, ws[idx], bs[idx])
                        out[t] = h
                    }
                    hyRows[idx].append(h)
                    if let c { cyRows[idx].append(c) }
                    outs.append(out.map { $0! })
                }
                input = input.indices.map { t in directions == 1 ? outs[0][t] : F.concat([outs[0][t], outs[1][t]], axis: 1) }
            }
            ys.append(F.concat(input, axis: 0))
        }
        let hy = F.stack(hyRows.map { F.concat($0, axis: 0) }, axis: 0)
        let cy = cx == nil ? nil : F.stack(cyRows.map { F.concat($0, axis: 0) }, axis: 0)
        return (hy, cy, ys)
    }

    // MARK: - Links against the reference

    func makeLink(_ cell: NStepCell, bidirectional: Bool, layers: Int, inSize: Int, outSize: Int, dtype: DType) -> NStepRNNBase {
        let rng = RandomState(seed: 7)
        // Non-zero biases everywhere, so that a bias in the wrong gate cannot go unnoticed.
        let bias = Uniform(scale: 0.5)
        switch (cell, bidirectional) {
        case (.lstm, false): return NStepLSTM(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        case (.lstm, true): return NStepBiLSTM(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        case (.gru, false): return NStepGRU(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        case (.gru, true): return NStepBiGRU(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        case (.rnnTanh, false): return NStepRNNTanh(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        case (.rnnTanh, true): return NStepBiRNNTanh(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        case (.rnnReLU, false): return NStepRNNReLU(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        case (.rnnReLU, true): return NStepBiRNNReLU(layers, inSize, outSize, 0, initialBias: bias, dtype: dtype, rng: rng)
        }
    }

    /// Outputs and every gradient (inputs, initial states, weights) of a link equal the reference's, for sequences of
    /// different lengths given out of order, with a weighted loss over every output and final state.
    func checkAgainstReference(_ cell: NStepCell, bidirectional: Bool, layers: Int, dtype: DType = .float64, lengths: [Int] = [3, 5, 1, 5],
                               tolerance: Double = 1e-10, file: StaticString = #filePath, line: UInt = #line) {
        let inSize = 3, outSize = 4, dirs = bidirectional ? 2 : 1
        let link = makeLink(cell, bidirectional: bidirectional, layers: layers, inSize: inSize, outSize: outSize, dtype: dtype)
        let xs = lengths.enumerated().map { Variable(testArray([$0.element, inSize], dtype: dtype, scale: 1.2, offset: 0.1 * Double($0.offset))) }
        let hx = Variable(testArray([layers * dirs, lengths.count, outSize], dtype: dtype, scale: 0.5))
        let cx = Variable(testArray([layers * dirs, lengths.count, outSize], dtype: dtype, scale: 0.7, offset: 0.2))
        let useCell = cell == .lstm
        // The loss weights every element differently so that a swapped row or step changes it.
        func loss(_ hy: Variable, _ cy: Variable?, _ ys: [Variable]) -> Variable {
            var total = F.sum(hy * Variable.constant(testArray(hy.shape, dtype: dtype, scale: 0.9)))
            if let cy { total = total + F.sum(cy * Variable.constant(testArray(cy.shape, dtype: dtype, scale: 0.4, offset: 0.3))) }
            for (k, y) in ys.enumerated() { total = total + F.sum(y * Variable.constant(testArray(y.shape, dtype: dtype, scale: 1.1, offset: Double(k) * 0.05))) }
            return total
        }
        let params = link.params()
        func gradients(_ run: () -> (Variable, Variable?, [Variable])) -> (outs: [NDArray], grads: [NDArray]) {
            link.clearGrads()
            for v in xs + [hx, cx] { v.clearGrad() }
            let (hy, cy, ys) = run()
            loss(hy, cy, ys).backward()
            let outs = [hy.array] + (cy.map { [$0.array] } ?? []) + ys.map(\.array)
            let grads = (xs + [hx] + (useCell ? [cx] : [])).map { $0.grad ?? NDArray.zeros($0.shape, dtype: dtype) } + params.map { $0.grad ?? NDArray.zeros($0.shape, dtype: dtype) }
            return (outs, grads)
        }
        let fused = gradients {
            if let lstm = link as? NStepLSTMBase {
                let r = lstm(hx, cx, xs)
                return (r.hy, r.cy, r.ys)
            }
            let r = link(hx, xs)
            return (r.hy, nil, r.ys)
        }
        let expected = gradients {
            let r = Self.reference(cell, layers: layers, directions: dirs, hx: hx, cx: useCell ? cx : nil,
                                   ws: link.ws.map { $0.map { $0 as Variable } }, bs: link.bs.map { $0.map { $0 as Variable } }, xs: xs)
            return (r.hy, r.cy, r.ys)
        }
        let what = "\(link.linkName) layers \(layers) \(dtype)"
        XCTAssertEqual(fused.outs.count, expected.outs.count, what, file: file, line: line)
        for (k, (a, e)) in zip(fused.outs, expected.outs).enumerated() {
            assertClose(a, e, atol: tolerance, rtol: tolerance, "\(what): output \(k)", file: file, line: line)
        }
        let names = xs.indices.map { "gx[\($0)]" } + ["ghx"] + (useCell ? ["gcx"] : []) + link.namedParams().map { "g" + $0.path }
        for (k, (a, e)) in zip(fused.grads, expected.grads).enumerated() {
            assertClose(a, e, atol: tolerance, rtol: tolerance, "\(what): \(names[k])", file: file, line: line)
        }
        // The gradients are not trivially zero.
        XCTAssertGreaterThan(fused.grads.filter { $0.count > 0 }.map { $0.toDoubles().map(Swift.abs).max() ?? 0 }.min() ?? 0, 0, what, file: file, line: line)
    }

    func testEveryCellOneToThreeLayersBothDirectionsMatchesTheStepByStepReference() {
        for cell in NStepCell.allCases {
            for bidirectional in [false, true] {
                for layers in 1...3 where !(layers == 3 && bidirectional && cell != .lstm) {
                    checkAgainstReference(cell, bidirectional: bidirectional, layers: layers)
                }
            }
        }
    }

    func testFloat32MatchesTheReference() {
        for cell in NStepCell.allCases {
            checkAgainstReference(cell, bidirectional: true, layers: 2, dtype: .float32, tolerance: 2e-5)
        }
    }

    func testEqualLengthsAndASingleSequence() {
        checkAgainstReference(.lstm, bidirectional: false, layers: 2, lengths: [4, 4, 4])
        checkAgainstReference(.gru, bidirectional: true, layers: 1, lengths: [6])
        checkAgainstReference(.rnnTanh, bidirectional: false, layers: 1, lengths: [1, 1])
    }

    /// The recurrence's sequences cut into one block per thread, balanced by their steps (``balancedRanges``, which the
    /// optimizer's and the joins' groups use too).
    func testSequenceBlocksAreBalancedByLength() {
        XCTAssertEqual(balancedRanges([35, 35, 35, 35], parts: 2), [0..<2, 2..<4])
        XCTAssertEqual(balancedRanges([5, 5, 4, 3, 1], parts: 2), [0..<2, 2..<5])   // 10 and 8 steps
        XCTAssertEqual(balancedRanges([9, 1, 1, 1], parts: 2), [0..<1, 1..<4])
        XCTAssertEqual(balancedRanges([4, 4, 4], parts: 3), [0..<1, 1..<2, 2..<3])
        XCTAssertEqual(balancedRanges([4, 4], parts: 3), [0..<1, 1..<2])           // no empty block
        XCTAssertEqual(balancedRanges([6, 2, 2, 2, 0], parts: 3), [0..<1, 1..<2, 2..<5])   // shares end at 4 and 8
        XCTAssertEqual(balancedRanges([3, 3], parts: 1), [0..<2])
        XCTAssertEqual(balancedRanges([], parts: 2), [0..<0])
    }

    /// With the split threshold lowered, the recurrence runs as one block of sequences per thread (two or three),
    /// and every output and gradient is still the step-by-step reference's, for every cell.
    func testSequencesSplitAcrossThreadsMatchTheReference() {
        let savedThreshold = GEMM.parallelThreshold, savedElements = NDArray.parallelElements
        defer { (GEMM.parallelThreshold, NDArray.parallelElements) = (savedThreshold, savedElements) }
        (GEMM.parallelThreshold, NDArray.parallelElements) = (1, 1)
        forEachThreadCount([2, 3]) { _ in
            for cell in NStepCell.allCases {
                checkAgainstReference(cell, bidirectional: true, layers: 2, lengths: [3, 5, 1, 5, 2, 4, 0])
                checkAgainstReference(cell, bidirectional: false, layers: 1, dtype: .float32, lengths: [6, 6, 6, 6], tolerance: 2e-5)
            }
        }
    }

    /// Packing split across 2 and 3 threads (the split lowered to every size) puts row `t` of sequence `i` at row
    /// `offsets[t] + i`, for sequences of different lengths (one empty, one a strided view), and unpacking gives
    /// them back.
    func testPackingSplitAcrossThreadsPutsEveryRowInPlace() {
        let saved = NDArray.parallelElements
        defer { NDArray.parallelElements = saved }
        NDArray.parallelElements = 1
        let lengths = [5, 4, 4, 2, 0]
        let layout = PackedLayout(lengths: lengths)
        // Sequence i, row t, feature f: 100i + 10t + f; the second sequence read through a stride (every other column).
        func value(_ i: Int, _ t: Int, _ f: Int) -> Double { Double(100 * i + 10 * t + f) }
        var xs: [NDArray] = []
        for (i, n) in lengths.enumerated() {
            let values: [Double] = (0..<(3 * n)).map { value(i, $0 / 3, $0 % 3) }
            xs.append(NDArray(values, shape: [n, 3], dtype: .float64))
        }
        let wide: [Double] = (0..<24).map { $0 % 2 == 0 ? value(1, $0 / 6, $0 % 6 / 2) : -1 }
        xs[1] = NDArray(wide, shape: [4, 6], dtype: .float64)[.all, .range(nil, nil, step: 2)]
        forEachThreadCount([2, 3]) { threads in
            let packed = layout.pack(xs)
            XCTAssertEqual(packed.shape, [15, 3])
            for (i, n) in lengths.enumerated() {
                for t in 0..<n {
                    let want = (0..<3).map { value(i, t, $0) }
                    XCTAssertEqual((0..<3).map { packed.item(layout.offsets[t] + i, $0) }, want, "sequence \(i), step \(t), \(threads) threads")
                }
            }
            XCTAssertEqual(layout.unpack(packed).map { $0.toDoubles() }, xs.map { $0.toDoubles() }, "\(threads) threads")
        }
    }

    /// With constant inputs the layer is not asked for their gradient (the node leaves that product out) and the
    /// weights' gradients are the same bits as with variable inputs; a link applied twice in one loss sums its
    /// gradients (the LSTM's and the simple cells' input and state biases get one array as their gradient, which must
    /// not be added into twice). For every cell, on one thread and split across two.
    func testConstantInputsAndALinkAppliedTwiceInOneLoss() {
        let savedThreshold = GEMM.parallelThreshold, savedElements = NDArray.parallelElements
        defer { (GEMM.parallelThreshold, NDArray.parallelElements) = (savedThreshold, savedElements) }
        (GEMM.parallelThreshold, NDArray.parallelElements) = (1, 1)
        forEachThreadCount([1, 2]) { threads in
            for cell in NStepCell.allCases {
                let link = makeLink(cell, bidirectional: cell == .gru, layers: 2, inSize: 3, outSize: 4, dtype: .float64)
                let dirs = cell == .gru ? 2 : 1
                let arrays = [[3, 5, 1], [2, 4]].map { lengths in
                    lengths.enumerated().map { testArray([$0.element, 3], dtype: .float64, scale: 1.3, offset: 0.1 * Double($0.offset + lengths.count)) }
                }
                func loss(_ xs: [Variable]) -> Variable {
                    let ys: [Variable]
                    if let lstm = link as? NStepLSTMBase { ys = lstm(nil, nil, xs).ys } else { ys = link(nil, xs).ys }
                    return ys.enumerated().map { F.sum(F.tanh($0.element) * Double($0.offset + 1)) }.reduce(Variable.constant(NDArray.zeros([], dtype: .float64)), +)
                }
                func weightGrads(_ build: () -> Variable) -> [NDArray] {
                    link.clearGrads()
                    build().backward()
                    return link.params().map { $0.grad ?? NDArray.zeros($0.shape, dtype: .float64) }
                }
                let what = "\(link.linkName), \(threads) threads, \(dirs) directions"
                for xs in arrays {
                    let variables = xs.map { Variable($0) }, constants = xs.map { Variable.constant($0) }
                    let withInputs = weightGrads { loss(variables) }, withoutInputs = weightGrads { loss(constants) }
                    XCTAssertNotNil(variables[0].grad, what)
                    XCTAssertNil(constants[0].grad, what)
                    XCTAssertEqual(withInputs.map { $0.toDoubles() }, withoutInputs.map { $0.toDoubles() }, what)
                }
                let first = weightGrads { loss(arrays[0].map { Variable.constant($0) }) }
                let second = weightGrads { loss(arrays[1].map { Variable.constant($0) }) }
                let both = weightGrads { loss(arrays[0].map { Variable.constant($0) }) + loss(arrays[1].map { Variable.constant($0) }) }
                for (k, g) in both.enumerated() {
                    assertClose(g, first[k] + second[k], atol: 1e-12, rtol: 1e-12, "\(what): parameter \(k)")
                }
            }
        }
    }

    /// A sequence of length zero keeps its initial state and has an empty output, as in Chainer's loop.
    func testAnEmptySequenceKeepsItsInitialState() {
        checkAgainstReference(.lstm, bidirectional: true, layers: 1, lengths: [2, 0, 3])
    }

    // MARK: - The stepped links on the same weights

    func testNStepLSTMEqualsTheSteppedLSTMLinkOnTheSameWeights() {
        let nstep = NStepLSTM(1, 3, 4, 0, initialBias: Uniform(scale: 0.5), rng: RandomState(seed: 3))
        let stepped = StatelessLSTM(3, 4)
        let w = nstep.ws[0].map(\.array), b = nstep.bs[0].map(\.array)
        // Catena's (and Chainer's) LSTM link interleaves the gates per unit as (a, i, f, o) = (w2, w0, w1, w3).
        func interleaved(_ parts: [NDArray]) -> NDArray { NDArray.stack(parts, axis: 1).reshaped([4 * parts[0].shape[0]] + Array(parts[0].shape.dropFirst())) }
        stepped.upward.W.array = interleaved([w[2], w[0], w[1], w[3]])
        stepped.lateral.W.array = interleaved([w[6], w[4], w[5], w[7]])
        stepped.upward.b!.array = interleaved([b[2] + b[6], b[0] + b[4], b[1] + b[5], b[3] + b[7]])
        let a = Variable(testArray([5, 3])), c = Variable(testArray([2, 3], offset: 0.3))
        let (hy, cy, ys) = nstep(nil, nil, [a, c])
        // Both sequences through the stepped link, batch 2 while both run, then the longer one alone.
        var state: (c: Variable, h: Variable)? = nil
        var outs: [NDArray] = []
        for t in 0..<5 {
            let rows = t < 2 ? [a.array[t], c.array[t]] : [a.array[t]]
            let x = Variable(NDArray.stack(rows, axis: 0))
            let prev = state.map { s -> (c: Variable, h: Variable) in
                rows.count == 2 ? s : (F.getItem(s.c, [.range(0, 1)]), F.getItem(s.h, [.range(0, 1)]))
            }
            let next = stepped(c: prev?.c, h: prev?.h, x)
            if t == 1 {
                assertClose(hy.array[0, 1], next.h.array[1], atol: 1e-6, "the shorter sequence's final h")
                assertClose(cy.array[0, 1], next.c.array[1], atol: 1e-6, "the shorter sequence's final c")
                assertClose(ys[1].array, NDArray.stack([outs[1], next.h.array[1]], axis: 0), atol: 1e-6, "the shorter sequence's outputs")
            }
            outs.append(next.h.array[0])
            if t == 0 { outs.append(next.h.array[1]) }
            state = next
        }
        assertClose(hy.array[0, 0], state!.h.array[0], atol: 1e-6, "the longer sequence's final h")
        assertClose(ys[0].array, NDArray.stack([outs[0], outs[2], outs[3], outs[4], outs[5]], axis: 0), atol: 1e-6)
    }

    func testNStepRNNEqualsTheSimpleRNNLinkOnTheSameWeights() {
        for (activation, make) in [(RNNActivation.tanh, { NStepRNNTanh(1, 2, 3, 0, initialBias: Uniform(scale: 0.5), rng: RandomState(seed: 4)) as NStepRNNBase }),
                                   (.relu, { NStepRNNReLU(1, 2, 3, 0, initialBias: Uniform(scale: 0.5), rng: RandomState(seed: 4)) })] {
            let nstep = make()
            let stepped = SimpleRNN(2, 3, activation: activation)
            stepped.upward.W.array = nstep.ws[0][0].array
            stepped.upward.b!.array = nstep.bs[0][0].array + nstep.bs[0][1].array
            stepped.lateral.W.array = nstep.ws[0][1].array
            let x = testArray([6, 2], scale: 2)
            // The stepped link starts without a state: the NStep link's zero state gives the same first step.
            let (hy, ys) = nstep(nil, [Variable(x)])
            var h: Variable? = nil
            for t in 0..<6 { h = stepped(Variable(x[t ..< t + 1])) }
            assertClose(hy.array.reshaped([1, 3]), h!.array, atol: 1e-6, "\(activation)")
            assertClose(ys[0].array[5 ..< 6], h!.array, atol: 1e-6, "\(activation)")
        }
    }

    // MARK: - Gradient checks in float64, first and second order

    /// The functional form's inputs as one list: xs (time-major), hx, cx, then every w and b.
    func functionalCase(_ cell: NStepCell, directions: Int, layers: Int = 2) -> (inputs: [NDArray], run: ([Variable]) -> [Variable]) {
        let inSize = 2, units = 2, batchSizes = [3, 2, 2, 1]
        var inputs = batchSizes.enumerated().map { testArray([$0.element, inSize], dtype: .float64, scale: 0.9, offset: 0.1 * Double($0.offset)) }
        inputs.append(testArray([layers * directions, 3, units], dtype: .float64, scale: 0.5))
        if cell == .lstm { inputs.append(testArray([layers * directions, 3, units], dtype: .float64, scale: 0.4, offset: 0.1)) }
        let rng = RandomState(seed: 11)
        for i in 0..<(layers * directions) {
            for j in 0..<cell.weightCount {
                let width = j < cell.gates ? (i < directions ? inSize : units * directions) : units
                inputs.append(rng.normal(shape: [units, width], std: 0.6, dtype: .float64))
            }
            for _ in 0..<cell.weightCount { inputs.append(rng.normal(shape: [units], std: 0.3, dtype: .float64)) }
        }
        let steps = batchSizes.count
        let run: ([Variable]) -> [Variable] = { v in
            let xs = Array(v[0..<steps]), hx = v[steps]
            var k = steps + (cell == .lstm ? 2 : 1)
            var ws: [[Variable]] = [], bs: [[Variable]] = []
            for _ in 0..<(layers * directions) {
                ws.append(Array(v[k ..< k + cell.weightCount]))
                bs.append(Array(v[k + cell.weightCount ..< k + 2 * cell.weightCount]))
                k += 2 * cell.weightCount
            }
            switch (cell, directions) {
            case (.lstm, 1):
                let r = F.nStepLSTM(layers, 0, hx, v[steps + 1], ws, bs, xs)
                return [r.hy, r.cy] + r.ys
            case (.lstm, _):
                let r = F.nStepBiLSTM(layers, 0, hx, v[steps + 1], ws, bs, xs)
                return [r.hy, r.cy] + r.ys
            case (.gru, 1):
                let r = F.nStepGRU(layers, 0, hx, ws, bs, xs)
                return [r.hy] + r.ys
            case (.gru, _):
                let r = F.nStepBiGRU(layers, 0, hx, ws, bs, xs)
                return [r.hy] + r.ys
            case (_, 1):
                let r = F.nStepRNN(layers, 0, hx, ws, bs, xs, activation: cell == .rnnTanh ? .tanh : .relu)
                return [r.hy] + r.ys
            default:
                let r = F.nStepBiRNN(layers, 0, hx, ws, bs, xs, activation: cell == .rnnTanh ? .tanh : .relu)
                return [r.hy] + r.ys
            }
        }
        return (inputs, run)
    }

    func testGradientCheckOfEveryFunctionalForm() throws {
        for cell in NStepCell.allCases {
            for directions in [1, 2] {
                let (inputs, run) = functionalCase(cell, directions: directions)
                try gradientCheck(run, inputs: inputs, eps: 1e-6, atol: 1e-7, rtol: 1e-6)
            }
        }
    }

    func testDoubleBackwardOfLSTMAndGRU() throws {
        for (cell, directions) in [(NStepCell.lstm, 2), (.gru, 1), (.rnnTanh, 1)] {
            let (inputs, run) = functionalCase(cell, directions: directions, layers: 1)
            try checkDoubleBackward(run, inputs: inputs, eps: 1e-5, atol: 1e-6, rtol: 1e-5)
        }
    }

    /// `backward(enableDoubleBackprop: true)` gives the same first gradients as a plain backward, and a penalty on
    /// them reaches the weights (the WGAN-GP pattern through a fused layer).
    func testAGradientPenaltyThroughNStepLSTM() {
        let lstm = NStepLSTM(1, 2, 3, 0, dtype: .float64, rng: RandomState(seed: 2))
        let x = Variable(testArray([4, 2], dtype: .float64))
        F.sum(lstm(nil, nil, [x]).ys[0]).backward()
        let plain = x.grad!
        x.clearGrad()
        lstm.clearGrads()
        F.sum(lstm(nil, nil, [x]).ys[0]).backward(enableDoubleBackprop: true)
        let gx = x.gradVar!
        assertClose(gx.array, plain, atol: 1e-12)
        lstm.clearGrads()
        F.sum(gx * gx).backward()
        XCTAssertGreaterThan(lstm.ws[0][0].grad!.toDoubles().map(Swift.abs).max()!, 0)
    }

    // MARK: - Structure, dropout and misuse

    func testParametersAreNamedAndShapedAsChainers() {
        let lstm = NStepBiLSTM(2, 5, 3, 0)
        let paths = lstm.namedParams().map(\.path)
        XCTAssertEqual(paths.count, 4 * 16)
        XCTAssertEqual(Array(paths.prefix(16)), (0..<8).map { "/0/b\($0)" } + (0..<8).map { "/0/w\($0)" })
        let shapes = Dictionary(uniqueKeysWithValues: lstm.namedParams().map { ($0.path, $0.param.shape) })
        XCTAssertEqual(shapes["/0/w0"], [3, 5])
        XCTAssertEqual(shapes["/1/w3"], [3, 5])
        XCTAssertEqual(shapes["/0/w4"], [3, 3])
        XCTAssertEqual(shapes["/2/w0"], [3, 6], "layers after the first read both directions")
        XCTAssertEqual(shapes["/3/w7"], [3, 3])
        XCTAssertEqual(shapes["/3/b7"], [3])
        XCTAssertEqual(NStepGRU(1, 2, 2, 0).namedParams().count, 12)
        XCTAssertEqual(NStepRNNReLU(3, 2, 2, 0).namedParams().count, 12)
        // Biases start at zero, weights from LeCun normal (std 1/√fan-in).
        XCTAssertEqual(lstm.bs[0][0].array.toDoubles(), [0, 0, 0])
        let big = NStepRNNTanh(1, 400, 300, 0, rng: RandomState(seed: 1)).ws[0][0].array.toDoubles()
        let std = (big.map { $0 * $0 }.reduce(0, +) / Double(big.count)).squareRoot()
        XCTAssertEqual(std, (1.0 / 400).squareRoot(), accuracy: 0.002)
        // A copy has the same class and structure.
        let copy = lstm.copy(mode: .copy)
        XCTAssertTrue(copy is NStepBiLSTM)
        XCTAssertEqual(copy.namedParams().map(\.path), paths)
    }

    func testDropoutAppliesBetweenLayersInTrainingOnly() {
        let link = NStepRNNTanh(2, 3, 4, 0.5, rng: RandomState(seed: 1))
        link.dropoutRNG = RandomState(seed: 9)
        let xs = [Variable(testArray([3, 3]))]
        let evaluation = usingConfig(\.train, false) { link(nil, xs).ys[0].array }
        let first = link(nil, xs).ys[0].array
        link.dropoutRNG = RandomState(seed: 9)
        let again = link(nil, xs).ys[0].array
        XCTAssertEqual(first, again, "the masks come from dropoutRNG")
        XCTAssertNotEqual(first, evaluation)
        // One layer has no dropout at all.
        let one = NStepRNNTanh(1, 3, 4, 0.5, rng: RandomState(seed: 1))
        XCTAssertEqual(one(nil, xs).ys[0].array, usingConfig(\.train, false) { one(nil, xs).ys[0].array })
    }
}
