import CCatenaKernels
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

    /// The float32 backward (a C loop, AVX2 or portable) gives the float64 gradients (the generic Swift loop, which
    /// the gradient checks above pin to finite differences), with both output gradients, only h's, only c's, and a
    /// cell state with rows past the batch.
    func testLSTMFloat32BackwardMatchesFloat64OnEveryKernel() {
        let c = dbl([5, 37], scale: 2), x = dbl([3, 148], scale: 3)
        let gc = dbl([5, 37], scale: 0.7, offset: 0.1), gh = dbl([3, 37], scale: 0.9, offset: -0.2)
        func grads(_ dtype: DType, useC: Bool, useH: Bool) -> [NDArray] {
            let cv = Variable(c.astype(dtype)), xv = Variable(x.astype(dtype))
            let r = F.lstm(cv, xv)
            var outs: [Variable] = [], seeds: [NDArray?] = []
            if useC { outs.append(r.c); seeds.append(gc.astype(dtype)) }
            if useH { outs.append(r.h); seeds.append(gh.astype(dtype)) }
            backward(outs, gradOutputs: seeds)
            return [cv.grad!, xv.grad!]
        }
        for portable in [false, true] {
            catena_kernels_force_portable(portable ? 1 : 0)
            defer { catena_kernels_force_portable(0) }
            for (useC, useH) in [(true, true), (false, true), (true, false)] {
                let expected = grads(.float64, useC: useC, useH: useH), got = grads(.float32, useC: useC, useH: useH)
                for (g, e) in zip(got, expected) {
                    XCTAssertEqual(g.dtype, .float32)
                    assertClose(g, e.toDoubles(), shape: e.shape, atol: 1e-5, rtol: 1e-5, "portable \(portable), c \(useC), h \(useH)")
                }
            }
        }
    }

    /// The C cell-gradient loop in place (`gc_prev == gc`, as the NStep recurrence calls it) and out of place, on
    /// both kernels, against the formula in Double.
    func testLSTMCellBackwardKernelInPlaceAndOutOfPlace() {
        let n = 37
        func values(_ count: Int, _ seed: Double, _ lo: Double, _ hi: Double) -> [Float] {
            (0..<count).map { (j: Int) -> Float in
                let t: Double = 0.5 + 0.5 * sin(Double(j) * 1.7 + seed)
                return Float(lo + (hi - lo) * t)
            }
        }
        let g = values(4 * n, 0.3, 0.05, 0.95), cp = values(n, 1.1, -1, 1), tc = values(n, 2.3, -0.9, 0.9)
        let gh = values(n, 0.7, -1, 1), gc = values(n, 1.9, -1, 1)
        var expectedGx = [Double](repeating: 0, count: 4 * n), expectedGc = [Double](repeating: 0, count: n)
        for k in 0..<n {
            let a = Double(g[4 * k]), i = Double(g[4 * k + 1]), f = Double(g[4 * k + 2]), o = Double(g[4 * k + 3])
            let co = Double(tc[k]), h = Double(gh[k]), c = Double(cp[k])
            let total: Double = h * o * (1 - co * co) + Double(gc[k])
            expectedGx[4 * k] = total * i * (1 - a * a)
            expectedGx[4 * k + 1] = total * a * i * (1 - i)
            expectedGx[4 * k + 2] = total * c * f * (1 - f)
            expectedGx[4 * k + 3] = h * co * o * (1 - o)
            expectedGc[k] = total * f
        }
        for portable in [false, true] {
            catena_kernels_force_portable(portable ? 1 : 0)
            defer { catena_kernels_force_portable(0) }
            for inPlace in [false, true] {
                var gx = [Float](repeating: .nan, count: 4 * n), gcOut = inPlace ? gc : [Float](repeating: .nan, count: n)
                if inPlace {
                    gcOut.withUnsafeMutableBufferPointer { io in
                        catena_lstm_cell_backward_f32(g, cp, tc, gh, io.baseAddress, &gx, io.baseAddress, n)
                    }
                } else {
                    catena_lstm_cell_backward_f32(g, cp, tc, gh, gc, &gx, &gcOut, n)
                }
                for k in 0..<(4 * n) { XCTAssertEqual(Double(gx[k]), expectedGx[k], accuracy: 1e-6, "gx[\(k)], portable \(portable), in place \(inPlace)") }
                for k in 0..<n { XCTAssertEqual(Double(gcOut[k]), expectedGc[k], accuracy: 1e-6, "gc[\(k)], portable \(portable), in place \(inPlace)") }
            }
        }
    }

    /// The simple recurrence's kernels on each instruction-set level: the step is ReLU (NaN to 0) or the library's
    /// tanh of `(x + bias) + y`, bit for bit as those passes one after the other; the gradient adds the output's
    /// gradient (or not) and gives `y > 0 ? dh : 0` or `dh·(1 − y²)` exactly as the formula in float32.
    func testSimpleRecurrenceKernelsOnEveryLevel() {
        let rows = 3, width = 37
        let x = (0..<(rows * width)).map { (j: Int) -> Float in j == 5 ? .nan : Float(2 * sin(Double(j) * 0.77)) }
        let y = (0..<(rows * width)).map { (j: Int) -> Float in Float(1.5 * cos(Double(j) * 1.31)) }
        let bias = (0..<width).map { (j: Int) -> Float in Float(0.5 * sin(Double(j) * 2.1)) }
        let bias2 = (0..<width).map { (j: Int) -> Float in Float(0.3 * cos(Double(j) * 1.7)) }
        var sums = [Float](repeating: 0, count: rows * width)
        for r in 0..<rows { for k in 0..<width { sums[r * width + k] = ((x[r * width + k] + bias[k]) + bias2[k]) + y[r * width + k] } }
        let n = rows * width
        let out = (0..<n).map { (j: Int) -> Float in Float(Foundation.tanh(Double(j) * 0.05 - 2)) }
        let dh = (0..<n).map { (j: Int) -> Float in Float(sin(Double(j) * 0.3)) }, gy = (0..<n).map { (j: Int) -> Float in Float(cos(Double(j) * 0.4)) }
        forEachKernelLevel { level in
            var tanhs = [Float](repeating: .nan, count: n), got = tanhs
            catena_vtanh_f32(sums, &tanhs, n)
            catena_step_sum_f32(1, x, y, bias, bias2, &got, rows, width)
            XCTAssertEqual(got.map(\.bitPattern), tanhs.map(\.bitPattern), "tanh, level \(level)")
            catena_step_sum_f32(2, x, y, bias, bias2, &got, rows, width)
            XCTAssertEqual(got, sums.map { $0 > 0 ? $0 : 0 }, "relu, level \(level)")
            for (relu, withGy) in [(false, false), (false, true), (true, false), (true, true)] {
                var h = dh, gx = [Float](repeating: .nan, count: n)
                if withGy { catena_rnn_backward_f32(relu ? 1 : 0, out, gy, &h, &gx, n) } else { catena_rnn_backward_f32(relu ? 1 : 0, out, nil, &h, &gx, n) }
                let total = withGy ? zip(dh, gy).map { $0 + $1 } : dh
                XCTAssertEqual(h, total, "dh, relu \(relu), gy \(withGy), level \(level)")
                let want = (0..<n).map { (k: Int) -> Float in relu ? (out[k] > 0 ? total[k] : 0) : total[k] * (1 - out[k] * out[k]) }
                XCTAssertEqual(gx, want, "gx, relu \(relu), gy \(withGy), level \(level)")
            }
        }
    }

    /// A step with enough gate values (``LSTMState/parallelGateValues``) runs its element-wise work in one block of
    /// batch rows per thread: forward and backward — with both output gradients, only h's, only c's, and rows of
    /// the cell state past the batch — give the values of the single block bit for bit, with 2 and 3 threads.
    func testLSTMStepSplitByRowsGivesTheSameValues() {
        let c = dbl([7, 9], scale: 2), x = dbl([5, 36], scale: 3)
        let gc = dbl([7, 9], scale: 0.7, offset: 0.1), gh = dbl([5, 9], scale: 0.9, offset: -0.2)
        let cases = [(true, true), (false, true), (true, false)]
        func run(_ useC: Bool, _ useH: Bool) -> [[Float]] {
            let cv = Variable(c.astype(.float32)), xv = Variable(x.astype(.float32))
            let r = F.lstm(cv, xv)
            var outs: [Variable] = [], seeds: [NDArray?] = []
            if useC { outs.append(r.c); seeds.append(gc.astype(.float32)) }
            if useH { outs.append(r.h); seeds.append(gh.astype(.float32)) }
            backward(outs, gradOutputs: seeds)
            return [r.c.array, r.h.array, cv.grad!, xv.grad!].map { $0.toArray(as: Float.self) }
        }
        let saved = LSTMState.parallelGateValues
        defer { LSTMState.parallelGateValues = saved }
        LSTMState.parallelGateValues = Int.max
        let expected = cases.map { run($0.0, $0.1) }
        LSTMState.parallelGateValues = 1
        forEachThreadCount([2, 3]) { threads in
            for (k, (useC, useH)) in cases.enumerated() {
                XCTAssertEqual(run(useC, useH), expected[k], "\(threads) threads, c \(useC), h \(useH)")
            }
        }
    }

    /// The C cell-update loop on each instruction-set level, in place (`cn == cp`) and out of place: the cell state
    /// is the formula's float32 bits (two products and a sum, each rounded), tanh is within float32 rounding of
    /// Foundation's, and `h` is the output gate times that tanh, exactly.
    func testLSTMCellForwardKernelOnEveryLevel() {
        let n = 37
        let g = (0..<(4 * n)).map { (j: Int) -> Float in Float(0.05 + 0.9 * (0.5 + 0.5 * sin(Double(j) * 1.3))) }
        let cp = (0..<n).map { (j: Int) -> Float in Float(3 * sin(Double(j) * 0.9 + 0.4)) }
        forEachKernelLevel { level in
            for inPlace in [false, true] {
                var cn = inPlace ? cp : [Float](repeating: .nan, count: n)
                var tc = [Float](repeating: .nan, count: n), h = [Float](repeating: .nan, count: n)
                if inPlace {
                    cn.withUnsafeMutableBufferPointer { io in catena_lstm_cell_forward_f32(g, io.baseAddress, io.baseAddress, &tc, &h, n) }
                } else {
                    catena_lstm_cell_forward_f32(g, cp, &cn, &tc, &h, n)
                }
                for k in 0..<n {
                    let product1: Float = g[4 * k] * g[4 * k + 1], product2: Float = g[4 * k + 2] * cp[k]
                    XCTAssertEqual(cn[k], product1 + product2, "cn[\(k)], level \(level), in place \(inPlace)")
                    XCTAssertEqual(Double(tc[k]), Foundation.tanh(Double(cn[k])), accuracy: 4e-7 * Swift.abs(Foundation.tanh(Double(cn[k]))) + 1e-37, "tc[\(k)], level \(level)")
                    XCTAssertEqual(h[k], g[4 * k + 3] * tc[k], "h[\(k)], level \(level), in place \(inPlace)")
                }
            }
        }
    }

    /// The NStep recurrence's kernels in the gate-block layout (each row: blocks i, f, a, o of `units`) on every
    /// instruction-set level give, bit for bit, what the interleaved kernels (pinned to the formula by the tests
    /// above) give on the same values permuted per unit to (a, i, f, o): the gates of `(x + bias) + y` (the kernel
    /// adds the three terms as it reads them, over rows of a width that is no multiple of a vector's), the cell update
    /// in and out of place, and its gradient with the cell state's gradient in and out of place.
    func testLSTMGateBlockKernelsEqualTheInterleavedOnesOnEveryLevel() {
        let rows = 3, units = 21, width = 4 * units, n = rows * units
        func values(_ count: Int, _ seed: Double, _ scale: Double) -> [Float] {
            (0..<count).map { (j: Int) -> Float in Float(scale * sin(Double(j) * 0.91 + seed)) }
        }
        /// Block layout → interleaved: unit k's (a, i, f, o) from blocks 2, 0, 1, 3 of its row.
        func interleaved(_ v: [Float], rowWidth: Int = width) -> [Float] {
            var out = [Float](repeating: .nan, count: v.count)
            for r in 0..<(v.count / rowWidth) {
                for k in 0..<units { for (slot, block) in [2, 0, 1, 3].enumerated() { out[r * rowWidth + 4 * k + slot] = v[r * rowWidth + block * units + k] } }
            }
            return out
        }
        let x = values(n * 4, 0.2, 4), y = values(n * 4, 1.3, 3), bias = values(width, 2.1, 0.6), bias2 = values(width, 0.9, 0.5)
        let sums = (0..<(n * 4)).map { (j: Int) -> Float in ((x[j] + bias[j % width]) + bias2[j % width]) + y[j] }
        let gates = values(n * 4, 0.7, 0.45).map { $0 + 0.5 }, cp = values(n, 1.7, 2), tc = values(n, 2.9, 0.9)
        let gh = values(n, 0.4, 1), gc = values(n, 3.3, 1), gy = values(n, 1.9, 0.8)
        forEachKernelLevel { level in
            // The gates of ((x + bias) + bias2) + y, summed in that order as the kernel reads them.
            var blocks = [Float](repeating: .nan, count: n * 4), reference = blocks
            catena_step_sum_f32(3, x, y, bias, bias2, &blocks, rows, width)
            catena_lstm_gates_f32(interleaved(sums), &reference, n * 4)
            XCTAssertEqual(interleaved(blocks).map(\.bitPattern), reference.map(\.bitPattern), "gates, level \(level)")
            // The cell update.
            for inPlace in [false, true] {
                var cn = inPlace ? cp : [Float](repeating: .nan, count: n), t = [Float](repeating: .nan, count: n), h = t
                var cnRef = [Float](repeating: .nan, count: n), tRef = cnRef, hRef = cnRef
                if inPlace {
                    cn.withUnsafeMutableBufferPointer { io in catena_lstm_blocks_forward_f32(gates, io.baseAddress, io.baseAddress, &t, &h, rows, units) }
                } else {
                    catena_lstm_blocks_forward_f32(gates, cp, &cn, &t, &h, rows, units)
                }
                catena_lstm_cell_forward_f32(interleaved(gates), cp, &cnRef, &tRef, &hRef, n)
                XCTAssertEqual([cn, t, h].map { $0.map(\.bitPattern) }, [cnRef, tRef, hRef].map { $0.map(\.bitPattern) }, "forward, level \(level), in place \(inPlace)")
                // The gradient, with and without the output's own gradient gy (the reference gets gh + gy summed here).
                for withGy in [false, true] {
                    var gx = [Float](repeating: .nan, count: n * 4), gxRef = gx
                    var gcOut = inPlace ? gc : [Float](repeating: .nan, count: n), gcRef = [Float](repeating: .nan, count: n)
                    let gyArg: [Float]? = withGy ? gy : nil
                    if inPlace {
                        gcOut.withUnsafeMutableBufferPointer { io in
                            catena_lstm_blocks_backward_f32(gates, cp, tc, gh, gyArg, io.baseAddress, &gx, io.baseAddress, rows, units)
                        }
                    } else {
                        catena_lstm_blocks_backward_f32(gates, cp, tc, gh, gyArg, gc, &gx, &gcOut, rows, units)
                    }
                    catena_lstm_cell_backward_f32(interleaved(gates), cp, tc, withGy ? zip(gh, gy).map { $0 + $1 } : gh, gc, &gxRef, &gcRef, n)
                    XCTAssertEqual(interleaved(gx).map(\.bitPattern), gxRef.map(\.bitPattern), "gx, level \(level), in place \(inPlace), gy \(withGy)")
                    XCTAssertEqual(gcOut.map(\.bitPattern), gcRef.map(\.bitPattern), "gc, level \(level), in place \(inPlace), gy \(withGy)")
                }
            }
        }
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
