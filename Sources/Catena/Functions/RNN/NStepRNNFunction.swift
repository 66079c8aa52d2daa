import CCatenaKernels
import Foundation

/// The cell of a fused multi-step recurrent network (``F/nStepLSTM(_:_:_:_:_:_:_:rng:)`` and friends).
public enum NStepCell: Sendable, CaseIterable {
    /// Chainer's `n_step_lstm`: eight weights and biases per layer and direction (`w0…w3` from the input, `w4…w7`
    /// from the state, for the input, forget, cell-input and output gates in that order).
    case lstm
    /// Chainer's `n_step_gru`: six (`w0…w2` from the input for the reset gate, update gate and candidate, `w3…w5`
    /// from the state): `r = σ(W₀x + b₀ + W₃h + b₃)`, `z = σ(W₁x + b₁ + W₄h + b₄)`,
    /// `h̄ = tanh(W₂x + b₂ + r·(W₅h + b₅))`, `h' = (1 − z)·h̄ + z·h`.
    case gru
    /// Chainer's `n_step_rnn` with tanh: `h' = tanh(W₀x + b₀ + W₁h + b₁)`.
    case rnnTanh
    /// Chainer's `n_step_rnn` with ReLU: `h' = max(0, W₀x + b₀ + W₁h + b₁)`.
    case rnnReLU

    /// Weights (and biases) per layer and direction: 8, 6 or 2.
    public var weightCount: Int { gates * 2 }

    /// Pre-activation blocks of `outSize` per step.
    var gates: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh, .rnnReLU: return 1
        }
    }

    var name: String {
        switch self {
        case .lstm: return "n_step_lstm"
        case .gru: return "n_step_gru"
        case .rnnTanh, .rnnReLU: return "n_step_rnn"
        }
    }
}

/// One layer in one direction over every step of a packed batch (``PackedLayout``), as one node: inputs
/// `(x, wx, bx, h0, wh, bh[, c0])` — the layer's input `(N, I)` in the packed order, the input weights `(G·H, I)` and
/// bias `(G·H,)` (the gates in blocks of `H`, in the order of ``NStepCell``'s weights), the initial state `(B, H)`, the
/// state weights `(G·H, H)` and bias `(G·H,)` in the same layout, and the LSTM's initial cell state — and outputs
/// `(y, hN[, cN])`: every step's output `(N, H)` in the packed order and the final states.
///
/// The input projection of all steps is one product; the recurrence runs over the steps with the gate arithmetic
/// fused. Rows past a step's batch keep their state, as in Chainer (a sequence's final state is the one at its last
/// step). A reverse node walks the steps from the last one (the backward half of a bidirectional layer).
///
/// Plain backward runs the fused kernels over time; the input's gradient and each weight's are one product over all
/// steps, made only for the inputs asked for, and the two biases' gradients one sum (except the GRU's, whose state
/// term's candidate block is scaled by its reset gate). A recorded backward (double backprop) differentiates the
/// same layer written step by step with `F` operations, so the layer is differentiable to any order.
final class NStepRecurrence: FunctionNode {
    let cell: NStepCell
    let layout: PackedLayout
    let reverse: Bool
    // What backward needs, kept by forward.
    @exclusivity(unchecked) private var hPrev: NDArray!, act: NDArray!
    @exclusivity(unchecked) private var cPrev: NDArray!, tanhC: NDArray!, uN: NDArray!
    @exclusivity(unchecked) private var y: NDArray!

    init(_ cell: NStepCell, _ layout: PackedLayout, reverse: Bool) {
        self.cell = cell
        self.layout = layout
        self.reverse = reverse
    }

    override var label: String { "\(cell.name)\(reverse ? "_reverse" : "")" }

    /// The steps in the order the recurrence visits them.
    private var steps: [Int] { reverse ? Array(layout.batchSizes.indices.reversed()) : Array(layout.batchSizes.indices) }

    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        let x = inputs[0], wx = inputs[1], bx = inputs[2], h0 = inputs[3], wh = inputs[4], bh = inputs[5]
        let units = h0.shape[1], width = cell.gates * units
        precondition(x.ndim == 2 && x.shape[0] == layout.rowCount && wx.shape == [width, x.shape[1]] && bx.shape == [width]
                     && wh.shape == [width, units] && bh.shape == [width], "NStepRecurrence: internal shapes")
        return x.dtype.withFloatType(orFail: "\(cell.name): expected floating-point inputs, got \(x.dtype)") {
            run($0, x, wx, bx, h0, wh, bh, cell == .lstm ? inputs[6] : nil)
        }
    }

    private func run<T: GEMMScalar>(_: T.Type, _ x: NDArray, _ wx: NDArray, _ bx: NDArray, _ h0: NDArray, _ whIn: NDArray, _ bhIn: NDArray,
                                    _ c0: NDArray?) -> [NDArray] {
        let n = layout.rowCount, units = h0.shape[1], width = cell.gates * units
        // The input projection of every step: one product. The input bias is added in the step's activation kernel
        // (in the order a bias written first would be), which saves a pass over the projection.
        var xw = NDArray(uninitializedShape: [n, width], dtype: h0.dtype)
        NDArray.gemm(x, wx, into: &xw, transposeB: true)
        let wh = whIn.contiguous(), bh = bhIn.contiguous(), bxc = bx.contiguous()
        let h = h0.copied()
        let out = NDArray(uninitializedShape: [n, units], dtype: h0.dtype)
        hPrev = NDArray(uninitializedShape: [n, units], dtype: h0.dtype)
        let php = hPrev.pointer(T.self)
        let px = xw.pointer(T.self), pw = wh.pointer(T.self), pb = bh.pointer(T.self), pbx = bxc.pointer(T.self)
        let ph = h.pointer(T.self), py = out.pointer(T.self)
        let weightSource = (storage: wh.storage, offset: wh.offset)
        var outputs = [out, h]
        let blocks = rowBlocks(units: units), parallel = blocks.count == 1
        // The packed weights, looked up once for every step and block.
        let panels = GEMM.cachedPanels(b: MatrixOperand(pw, 1, units), k: units, n: width, bSource: weightSource)
        /// `c[0 ..< b, :] (+)= hPrev[o ..< o+b] · whᵀ` (into rows of width `width`).
        func stateProduct(_ b: Int, _ o: Int, into c: UnsafeMutablePointer<T>, accumulate: Bool) {
            GEMM.gemm(m: b, n: width, k: units, alpha: 1, a: MatrixOperand(php + o * units, units, 1), b: MatrixOperand(pw, 1, units),
                      c: c, rsc: width, accumulate: accumulate, parallel: parallel, panels: panels)
        }
        // The LSTM and the simple cells put a step's state term in a scratch block of the block's rows, which stays
        // in cache, and add it to the input term and the bias inside their activation kernel.
        // Each block of sequences runs the whole recurrence on its own rows: at step t, the block's first packed row
        // is `o` and `b` of its rows are still running; `hs` (and `cs`, `us`) are the block's rows of the state.
        let run: (Range<Int>) -> Void
        var scratch: NDArray? = nil   // the GRU's state term of one step
        switch cell {
        case .lstm:
            let c = c0!.copied()
            act = NDArray(uninitializedShape: [n, width], dtype: h0.dtype)
            cPrev = NDArray(uninitializedShape: [n, units], dtype: h0.dtype)
            tanhC = NDArray(uninitializedShape: [n, units], dtype: h0.dtype)
            let pc = c.pointer(T.self), pa = act.pointer(T.self), pcp = cPrev.pointer(T.self), ptc = tanhC.pointer(T.self)
            run = { rows in
                let hs = ph + rows.lowerBound * units, cs = pc + rows.lowerBound * units
                let term = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, rows.count * width))
                defer { term.deallocate() }
                for (b, o) in self.blockSteps(rows) {
                    let cells = b * units
                    (php + o * units).update(from: hs, count: cells)
                    (pcp + o * units).update(from: cs, count: cells)
                    stateProduct(b, o, into: term, accumulate: false)
                    let g = pa + o * width
                    RecurrentKernels.activationSum(.lstmGateBlocks, px + o * width, term, pbx, pb, g, rows: b, width: width)
                    RecurrentKernels.lstmBlocksForward(g, pcp + o * units, cs, ptc + o * units, py + o * units, rows: b, units: units)
                    hs.update(from: py + o * units, count: cells)
                }
            }
            outputs.append(c)
        case .gru:
            act = NDArray(uninitializedShape: [n, width], dtype: h0.dtype)
            uN = NDArray(uninitializedShape: [n, units], dtype: h0.dtype)
            let u = NDArray(uninitializedShape: [layout.batchSizes.first ?? 0, width], dtype: h0.dtype)
            scratch = u
            let pa = act.pointer(T.self), pu = u.pointer(T.self), pun = uN.pointer(T.self)
            run = { rows in
                let hs = ph + rows.lowerBound * units, us = pu + rows.lowerBound * width
                for (b, o) in self.blockSteps(rows) {
                    (php + o * units).update(from: hs, count: b * units)
                    for r in 0..<b { (us + r * width).update(from: pb, count: width) }
                    stateProduct(b, o, into: us, accumulate: true)
                    for r in 0..<b {
                        let a = pa + (o + r) * width, x = px + (o + r) * width, ur = us + r * width
                        for k in 0..<(2 * units) { a[k] = (x[k] + pbx[k]) + ur[k] }
                        RecurrentKernels.sigmoid(a, a, 2 * units)
                        let row = (o + r) * units
                        for k in 0..<units {
                            pun[row + k] = ur[2 * units + k]
                            a[2 * units + k] = (x[2 * units + k] + pbx[2 * units + k]) + a[k] * ur[2 * units + k]
                        }
                        RecurrentKernels.tanh(a + 2 * units, a + 2 * units, units)
                        for k in 0..<units {
                            let z = a[units + k], cand = a[2 * units + k]
                            let v = (1 - z) * cand + z * php[row + k]
                            py[row + k] = v
                            hs[r * units + k] = v
                        }
                    }
                }
            }
        case .rnnTanh, .rnnReLU:
            let relu = cell == .rnnReLU
            run = { rows in
                let hs = ph + rows.lowerBound * units
                let term = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, rows.count * width))
                defer { term.deallocate() }
                for (b, o) in self.blockSteps(rows) {
                    let cells = b * units
                    (php + o * units).update(from: hs, count: cells)
                    stateProduct(b, o, into: term, accumulate: false)
                    let yt = py + o * units
                    RecurrentKernels.activationSum(relu ? .relu : .tanh, px + o * units, term, pbx, pb, yt, rows: b, width: units)
                    hs.update(from: yt, count: cells)
                }
            }
            y = out
        }
        // The blocks write through pointers: every array they point into lives until they are done.
        withExtendedLifetime((xw, wh, bh, bxc, scratch, outputs, panels)) {
            parallelFor(blocks.count) { run(blocks[$0]) }
        }
        return outputs
    }

    /// The sequences (rows of the state) in one contiguous block per thread, balanced by their steps, when the
    /// recurrence is large enough to pay for it; otherwise one block. Rows never mix in a recurrence (the weights
    /// are only read), so each block runs every step on its own rows, single-threaded products included, and the
    /// threads meet once per node instead of once per step.
    private func rowBlocks(units: Int) -> [Range<Int>] {
        let work = layout.rowCount * cell.gates * units * units
        return balancedRanges(layout.lengths, parts: work < GEMM.parallelThreshold ? 1 : CatenaRuntime.threads)
    }

    /// For the sequences `rows`, the steps in the order the recurrence visits them, each as the number of the block's
    /// sequences still running `b` and the packed row `o` of the first of them; steps none of them reaches are left out.
    private func blockSteps(_ rows: Range<Int>) -> [(b: Int, o: Int)] {
        steps.compactMap { t in
            let b = Swift.min(layout.batchSizes[t], rows.upperBound) - rows.lowerBound
            return b > 0 ? (b, layout.offsets[t] + rows.lowerBound) : nil
        }
    }

    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        let h0 = input(3).array
        return h0.dtype.withFloatType(orFail: "\(cell.name): expected floating-point inputs, got \(h0.dtype)") { gradients($0, targets, gys) }
    }

    /// The gradients of the inputs `targets` (of `(x, wx, bx, h0, wh, bh[, c0])`).
    private func gradients<T: GEMMScalar>(_: T.Type, _ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        let x = input(0).array, wx = input(1).array, h0 = input(3).array, wh = input(4).array.contiguous()
        let n = layout.rowCount, units = h0.shape[1], width = cell.gates * units, inSize = x.shape[1]
        let gy = gys[0]?.contiguous()
        let dh = gys[1].map { $0.copied() } ?? NDArray.zeros(h0.shape, dtype: h0.dtype)
        let gPre = NDArray(uninitializedShape: [n, width], dtype: h0.dtype)
        // The gradient of the state term's pre-activation (the GRU's differs from gPre in its candidate block).
        let gU = cell == .gru ? NDArray(uninitializedShape: [n, width], dtype: h0.dtype) : gPre
        let pgy = gy?.pointer(T.self), pdh = dh.pointer(T.self), pg = gPre.pointer(T.self), pgu = gU.pointer(T.self)
        let pw = wh.pointer(T.self), php = hPrev.pointer(T.self)
        let dc: NDArray? = cell == .lstm ? (gys[2].map { $0.copied() } ?? NDArray.zeros(h0.shape, dtype: h0.dtype)) : nil
        let pdc = dc?.pointer(T.self), pa = act?.pointer(T.self), pcp = cPrev?.pointer(T.self), ptc = tanhC?.pointer(T.self)
        let pun = uN?.pointer(T.self), pyOut = y?.pointer(T.self)
        let blocks = rowBlocks(units: units), parallel = blocks.count == 1
        /// `dh[0 ..< b] (+)= gU[o ..< o+b] · wh`, into the block's rows `dhs` of the state gradient.
        func intoState(_ b: Int, _ o: Int, _ dhs: UnsafeMutablePointer<T>, accumulate: Bool) {
            GEMM.gemm(m: b, n: units, k: width, alpha: 1, a: MatrixOperand(pgu + o * width, width, 1), b: MatrixOperand(pw, units, 1),
                      c: dhs, rsc: units, accumulate: accumulate, parallel: parallel)
        }
        // Backwards over time, each block of sequences on its own rows of the state gradients (as forward).
        withExtendedLifetime((gy, wh, dh, gPre, gU, dc)) {
            parallelFor(blocks.count) { i in
                let rows = blocks[i], dhs = pdh + rows.lowerBound * units, dcs = pdc.map { $0 + rows.lowerBound * units }
                for (b, o) in self.blockSteps(rows).reversed() {
                    let cells = b * units
                    // (The LSTM and the simple cells add the output's gradient inside their kernels.)
                    if let pgy, self.cell == .gru { for k in 0..<cells { dhs[k] += pgy[o * units + k] } }
                    switch self.cell {
                    case .lstm:
                        RecurrentKernels.lstmBlocksBackward(pa! + o * width, pcp! + o * units, ptc! + o * units, gh: dhs, gy: pgy.map { $0 + o * units },
                                                            gc: dcs!, gx: pg + o * width, gcPrev: dcs!, rows: b, units: units)
                        intoState(b, o, dhs, accumulate: false)
                    case .gru:
                        for r in 0..<b {
                            let a = pa! + (o + r) * width, gx = pg + (o + r) * width, gu = pgu + (o + r) * width, row = (o + r) * units
                            for k in 0..<units {
                                let g = dhs[r * units + k], rg = a[k], z = a[units + k], cand = a[2 * units + k]
                                let dnPre = g * (1 - z) * (1 - cand * cand)
                                let drPre = dnPre * pun![row + k] * rg * (1 - rg)
                                let dzPre = g * (php[row + k] - cand) * z * (1 - z)
                                gx[k] = drPre
                                gx[units + k] = dzPre
                                gx[2 * units + k] = dnPre
                                gu[k] = drPre
                                gu[units + k] = dzPre
                                gu[2 * units + k] = dnPre * rg
                                dhs[r * units + k] = g * z
                            }
                        }
                        intoState(b, o, dhs, accumulate: true)
                    case .rnnTanh, .rnnReLU:
                        RecurrentKernels.activationBackward(relu: self.cell == .rnnReLU, pyOut! + o * units, gy: pgy.map { $0 + o * units },
                                                            dhs, pg + o * units, cells)
                        intoState(b, o, dhs, accumulate: false)
                    }
                }
            }
        }
        // The products and sums over all steps, for the inputs asked for.
        var all = [NDArray?](repeating: nil, count: inputCount)
        all[3] = dh
        if let dc { all[6] = dc }
        let wanted = Set(targets)
        if wanted.contains(0) {
            var gx = NDArray(uninitializedShape: [n, inSize], dtype: h0.dtype)
            NDArray.gemm(gPre, wx, into: &gx)
            all[0] = gx
        }
        if wanted.contains(1) {
            var gwx = NDArray(uninitializedShape: [width, inSize], dtype: h0.dtype)
            NDArray.gemm(gPre, x, into: &gwx, transposeA: true)
            all[1] = gwx
        }
        if wanted.contains(4) {
            let gwh = NDArray(uninitializedShape: [width, units], dtype: h0.dtype)
            withExtendedLifetime(gU) {
                GEMM.gemm(m: width, n: units, k: n, alpha: 1, a: MatrixOperand(pgu, 1, width), b: MatrixOperand(php, units, 1),
                          c: gwh.pointer(T.self), rsc: units, accumulate: false)
            }
            all[4] = gwh
        }
        if wanted.contains(2) || wanted.contains(5) {
            let gb = gPre.sum(axis: 0)
            (all[2], all[5]) = (gb, cell == .gru ? gU.sum(axis: 0) : gb)
        }
        var out = GradSlots<NDArray>()
        for (k, i) in targets.enumerated() { out[k] = all[i] }
        return out
    }

    /// The recorded backward: the same recurrence step by step with `F` operations, differentiated by the engine.
    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        let ins = inputs
        let g = partialGrad(ins, gradOutputs: gradOutputs) { self.steppedForward(ins) }
        return indexes.map { g[$0] }
    }

    /// `(y, hN[, cN])` from `(x, wx, bx, h0, wh, bh[, c0])`, one step at a time.
    func steppedForward(_ ins: [Variable]) -> [Variable] {
        let xw = F.linear(ins[0], ins[1], ins[2]), wh = ins[4], bh = ins[5]
        var h = ins[3], c: Variable? = cell == .lstm ? ins[6] : nil
        let parts = F.splitAxis(xw, indices: Array(layout.offsets.dropFirst()), axis: 0)
        var ys = [Variable?](repeating: nil, count: parts.count)
        for t in steps {
            let b = layout.batchSizes[t]
            let (head, rest) = splitRecurrentState(h, batch: b, link: cell.name)
            let hHead = head!
            let u = F.linear(hHead, wh, bh)
            let hNew: Variable
            switch cell {
            case .lstm:
                // F.lstm reads the gates interleaved per unit as (a, i, f, o); these are blocks (i, f, a, o).
                let g = F.splitAxis(parts[t] + u, sections: 4, axis: 1)
                let out = F.lstm(c!, F.reshape(F.stack([g[2], g[0], g[1], g[3]], axis: 2), [b, cell.gates * g[0].shape[1]]))
                c = out.c
                hNew = out.h
            case .gru:
                let xg = F.splitAxis(parts[t], sections: 3, axis: 1), ug = F.splitAxis(u, sections: 3, axis: 1)
                let r = F.sigmoid(xg[0] + ug[0]), z = F.sigmoid(xg[1] + ug[1])
                let cand = F.tanh(xg[2] + r * ug[2])
                hNew = (1 - z) * cand + z * hHead
            case .rnnTanh: hNew = F.tanh(parts[t] + u)
            case .rnnReLU: hNew = F.relu(parts[t] + u)
            }
            ys[t] = hNew
            h = rest.map { F.concat([hNew, $0], axis: 0) } ?? hNew
        }
        let y = ys.count == 1 ? ys[0]! : F.concat(ys.map { $0! }, axis: 0)
        return c.map { [y, h, $0] } ?? [y, h]
    }
}

/// The element-wise activations of the fused recurrent cells (``LSTMState`` and ``NStepRecurrence``): the kernel
/// library's vectorised float32 loops, plain loops for float64. Each takes `dst == src` or non-overlapping buffers.
enum RecurrentKernels {
    @inline(__always)
    static func sigmoid<T: NDFloatingPoint>(_ src: UnsafeMutablePointer<T>, _ dst: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self {
            catena_vsigmoid_f32(UnsafeRawPointer(src).assumingMemoryBound(to: Float.self), UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self), n)
        } else {
            for k in 0..<n { dst[k] = logistic(src[k]) }
        }
    }

    @inline(__always)
    static func tanh<T: NDFloatingPoint>(_ src: UnsafeMutablePointer<T>, _ dst: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self {
            catena_vtanh_f32(UnsafeRawPointer(src).assumingMemoryBound(to: Float.self), UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self), n)
        } else {
            for k in 0..<n { dst[k] = T._tanh(src[k]) }
        }
    }

    /// The activation of a recurrent step (``activationSum(_:_:_:_:_:_:rows:width:)``), numbered as the kernel
    /// library's `catena_step_sum_f32`.
    /// `lstmGateBlocks`: the LSTM gates as four blocks of a quarter of the row each, (i, f, a, o), tanh on the third
    /// (the layout of Chainer's NStep weights, which the fused recurrence keeps).
    enum StepActivation: Int32 { case tanh = 1, relu = 2, lstmGateBlocks = 3 }

    /// `dst[r][k] = act(((x[r][k] + bias[k]) + bias2[k]) + y[r][k])` over `rows` rows of `width`: the input term,
    /// the input's and the state's biases and the state term summed as the activation reads them.
    @inline(__always)
    static func activationSum<T: NDFloatingPoint>(_ activation: StepActivation, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>,
                                                  _ bias: UnsafePointer<T>, _ bias2: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>,
                                                  rows: Int, width: Int) {
        if T.self == Float.self {
            func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            catena_step_sum_f32(activation.rawValue, f(x), f(y), f(bias), f(bias2), UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self),
                                rows, width)
            return
        }
        for r in 0..<rows {
            let xr = x + r * width, yr = y + r * width, dr = dst + r * width
            for k in 0..<width { dr[k] = ((xr[k] + bias[k]) + bias2[k]) + yr[k] }
            switch activation {
            case .lstmGateBlocks:
                let u = width / 4
                sigmoid(dr, dr, 2 * u)
                tanh(dr + 2 * u, dr + 2 * u, u)
                sigmoid(dr + 3 * u, dr + 3 * u, u)
            case .tanh: tanh(dr, dr, width)
            case .relu: for k in 0..<width { dr[k] = dr[k] > 0 ? dr[k] : 0 }
            }
        }
    }

    /// The simple cells' gradient (``activationSum(_:_:_:_:_:_:rows:width:)`` with tanh or ReLU) from the step's output `y`: `dh += gy` (when
    /// given), then `gx = y > 0 ? dh : 0` (ReLU) or `dh·(1 − y²)` (tanh), over `n` values.
    @inline(__always)
    static func activationBackward<T: NDFloatingPoint>(relu: Bool, _ y: UnsafePointer<T>, gy: UnsafePointer<T>?, _ dh: UnsafeMutablePointer<T>,
                                                       _ gx: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self {
            func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            func f(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
            catena_rnn_backward_f32(relu ? 1 : 0, f(y), gy.map { f($0) }, f(dh), f(gx), n)
            return
        }
        if let gy { for k in 0..<n { dh[k] += gy[k] } }
        if relu {
            for k in 0..<n { gx[k] = y[k] > 0 ? dh[k] : 0 }
        } else {
            for k in 0..<n { gx[k] = dh[k] * (1 - y[k] * y[k]) }
        }
    }

    /// The LSTM cell update (``LSTMState/cellForward(_:_:_:_:_:_:)``'s formula and roundings) over `rows` rows of
    /// `units`, from activated gates in the block layout (row `r` of `g` is `i`, `f`, `a`, `o`, `units` each): `cn =
    /// a·i + f·cp`, `tc = tanh(cn)`, `h = o·tc`. `cn` may be `cp`.
    @inline(__always)
    static func lstmBlocksForward<T: NDFloatingPoint>(_ g: UnsafePointer<T>, _ cp: UnsafePointer<T>, _ cn: UnsafeMutablePointer<T>,
                                                      _ tc: UnsafeMutablePointer<T>, _ h: UnsafeMutablePointer<T>, rows: Int, units: Int) {
        if T.self == Float.self {
            func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            func f(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
            catena_lstm_blocks_forward_f32(f(g), f(cp), f(cn), f(tc), f(h), rows, units)
            return
        }
        for r in 0..<rows {
            let gr = g + r * 4 * units, o = r * units
            LSTMState.cellForwardLoop(a: gr + 2 * units, i: gr, f: gr + units, o: gr + 3 * units, stride: 1, cp + o, cn + o, tc + o, h + o, units)
        }
    }

    /// The gradient of ``lstmBlocksForward(_:_:_:_:_:rows:units:)`` (``LSTMState/cellBackward(_:_:_:gh:gc:gx:gcPrev:_:)``'s
    /// formula): from the gradients of `h` and of the new cell state, the gate pre-activations' `gx` (in the layout
    /// of `g`) and the previous cell state's `gcPrev`, which may be `gc`. With `gy`, the gradient of `h` is `gh + gy`
    /// (the state's gradient from the next step and the output's own).
    @inline(__always)
    static func lstmBlocksBackward<T: NDFloatingPoint>(_ g: UnsafePointer<T>, _ cp: UnsafePointer<T>, _ tc: UnsafePointer<T>, gh: UnsafePointer<T>,
                                                       gy: UnsafePointer<T>?, gc: UnsafePointer<T>, gx: UnsafeMutablePointer<T>,
                                                       gcPrev: UnsafeMutablePointer<T>, rows: Int, units: Int) {
        if T.self == Float.self {
            func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            func f(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
            catena_lstm_blocks_backward_f32(f(g), f(cp), f(tc), f(gh), gy.map { f($0) }, f(gc), f(gx), f(gcPrev), rows, units)
            return
        }
        for r in 0..<rows {
            let gr = g + r * 4 * units, gxr = gx + r * 4 * units, o = r * units
            for k in 0..<units {
                let u = LSTMState.unitBackward(a: gr[2 * units + k], i: gr[k], f: gr[units + k], o: gr[3 * units + k], cp: cp[o + k], co: tc[o + k],
                                               gh: gy.map { gh[o + k] + $0[o + k] } ?? gh[o + k], gc: gc[o + k])
                (gxr[k], gxr[units + k], gxr[2 * units + k], gxr[3 * units + k], gcPrev[o + k]) = (u.gi, u.gf, u.ga, u.go, u.gcPrev)
            }
        }
    }

    /// Tanh at positions `4j` (cell input), the sigmoid elsewhere (Chainer's interleaved gates).
    @inline(__always)
    static func lstmGates<T: NDFloatingPoint>(_ src: UnsafeMutablePointer<T>, _ dst: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self {
            catena_lstm_gates_f32(UnsafeRawPointer(src).assumingMemoryBound(to: Float.self), UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self), n)
        } else {
            for k in 0..<n { dst[k] = k & 3 == 0 ? T._tanh(src[k]) : logistic(src[k]) }
        }
    }

    @inline(__always)
    private static func logistic<T: NDFloatingPoint>(_ v: T) -> T {
        v >= 0 ? 1 / (1 + T._exp(-v)) : T._exp(v) / (1 + T._exp(v))
    }
}

// MARK: - Layers of a multi-step network

/// The weights of one layer and direction joined as one input product and one state product, in the layout the
/// fused recurrence expects: the gates' blocks one after the other in Chainer's order (the LSTM's i, f, a, o; the
/// GRU's r, z, candidate), so that each weight's gradient is a contiguous block of the joined one.
private func stackedWeights(_ cell: NStepCell, _ w: [Variable], _ b: [Variable]) -> (wx: Variable, bx: Variable, wh: Variable, bh: Variable) {
    let g = cell.gates
    if g == 1 { return (w[0], b[0], w[1], b[1]) }
    return (F.concat(Array(w[0..<g]), axis: 0), F.concat(Array(b[0..<g]), axis: 0),
            F.concat(Array(w[g...]), axis: 0), F.concat(Array(b[g...]), axis: 0))
}

/// The whole network on packed rows: `x` `(N, I)` laid out by `layout`, `hx` (and `cx`) `(layers · directions, B, H)`.
/// Returns the final states and the last layer's outputs `(N, directions · H)`, packed the same way.
func nStepNetwork(_ cell: NStepCell, nLayers: Int, dropoutRatio: Double, hx: Variable, cx: Variable?, ws: [[Variable]], bs: [[Variable]],
                  x: Variable, layout: PackedLayout, directions: Int, rng: RandomState?) -> (hy: Variable, cy: Variable?, y: Variable) {
    let op = cell.name + (directions == 2 ? " (bidirectional)" : "")
    checkNStepArguments(cell, op: op, nLayers: nLayers, dropoutRatio: dropoutRatio, hx: hx, cx: cx, ws: ws, bs: bs,
                        inSize: x.shape[1], dtype: x.dtype, batch: layout.batchSizes.first ?? 0, directions: directions)
    let h0s = F.separate(hx, axis: 0), c0s = cx.map { F.separate($0, axis: 0) }
    var hys: [Variable] = [], cys: [Variable] = []
    var next = x
    for layer in 0..<nLayers {
        var outs: [Variable] = []
        for d in 0..<directions {
            let idx = layer * directions + d
            let input = layer == 0 ? next : F.dropout(next, ratio: dropoutRatio, rng: rng)
            let (wx, bx, wh, bh) = stackedWeights(cell, ws[idx], bs[idx])
            var args = [input, wx, bx, h0s[idx], wh, bh]
            if let c0s { args.append(c0s[idx]) }
            let r = NStepRecurrence(cell, layout, reverse: d == 1).apply(args)
            outs.append(r[0])
            hys.append(r[1])
            if cell == .lstm { cys.append(r[2]) }
        }
        next = outs.count == 1 ? outs[0] : F.concat(outs, axis: 1)
    }
    return (F.stack(hys, axis: 0), cell == .lstm ? F.stack(cys, axis: 0) : nil, next)
}

/// Stops with a message naming what does not fit Chainer's shapes for the network.
func checkNStepArguments(_ cell: NStepCell, op: String, nLayers: Int, dropoutRatio: Double, hx: Variable, cx: Variable?, ws: [[Variable]],
                         bs: [[Variable]], inSize: Int, dtype: DType, batch: Int, directions: Int) {
    if nLayers < 1 { typeCheckFailure("\(op): nLayers must be at least 1, got \(nLayers)") }
    if !(dropoutRatio >= 0 && dropoutRatio < 1) { typeCheckFailure("\(op): dropoutRatio must be in [0, 1), got \(dropoutRatio)") }
    if !dtype.isFloatingPoint { typeCheckFailure("\(op): expected floating-point inputs, got \(dtype)") }
    let cells = nLayers * directions
    if ws.count != cells || bs.count != cells {
        typeCheckFailure("\(op): expected \(cells) lists of weights and of biases (nLayers \(nLayers) × directions \(directions)), got \(ws.count) and \(bs.count)")
    }
    if hx.ndim != 3 || hx.shape[0] != cells || hx.shape[1] < batch {
        typeCheckFailure("\(op): hx must have shape (nLayers × directions, batch, units) = (\(cells), \(batch), units), got \(hx.shape)")
    }
    let units = hx.shape[2]
    if let cx, cx.shape != hx.shape { typeCheckFailure("\(op): cx must have hx's shape \(hx.shape), got \(cx.shape)") }
    for (v, what) in [(hx, "hx"), (cx, "cx")] { if let v, v.dtype != dtype { typeCheckFailure("\(op): \(what) has dtype \(v.dtype), the inputs \(dtype)") } }
    for i in 0..<cells {
        if ws[i].count != cell.weightCount || bs[i].count != cell.weightCount {
            typeCheckFailure("\(op): layer \(i) needs \(cell.weightCount) weights and \(cell.weightCount) biases, got \(ws[i].count) and \(bs[i].count)")
        }
        let layerIn = i < directions ? inSize : units * directions
        for j in 0..<cell.weightCount {
            let expected = j < cell.gates ? [units, layerIn] : [units, units]
            if ws[i][j].shape != expected {
                typeCheckFailure("\(op): ws[\(i)][\(j)] must have shape \(expected) (units \(units), \(j < cell.gates ? (i < directions ? "input size" : "units × directions") : "units")), got \(ws[i][j].shape)")
            }
            if bs[i][j].shape != [units] { typeCheckFailure("\(op): bs[\(i)][\(j)] must have shape [\(units)], got \(bs[i][j].shape)") }
            if ws[i][j].dtype != dtype || bs[i][j].dtype != dtype {
                typeCheckFailure("\(op): ws[\(i)][\(j)] and bs[\(i)][\(j)] must have the inputs' dtype \(dtype), got \(ws[i][j].dtype) and \(bs[i][j].dtype)")
            }
        }
    }
}

/// The functional forms on time-major inputs, as Chainer's: `xs[t]` holds step `t` of every sequence still running,
/// `(B_t, inSize)` with `B_0 ≥ B_1 ≥ …` (sequences sorted by length, longest first; `hx.shape[1] == B_0`).
private func nStepTimeMajor(_ cell: NStepCell, _ nLayers: Int, _ dropoutRatio: Double, _ hx: Variable, _ cx: Variable?, _ ws: [[Variable]],
                            _ bs: [[Variable]], _ xs: [Variable], directions: Int, rng: RandomState?) -> (hy: Variable, cy: Variable?, ys: [Variable]) {
    let op = cell.name + (directions == 2 ? " (bidirectional)" : "")
    if xs.isEmpty { typeCheckFailure("\(op): xs is empty; pass at least one time step") }
    for (t, x) in xs.enumerated() {
        if x.ndim != 2 || x.shape[1] != xs[0].shape[1] {
            typeCheckFailure("\(op): xs[\(t)] must have shape (batch, \(xs[0].shape.last ?? 0)), got \(x.shape)")
        }
        if t > 0 && x.shape[0] > xs[t - 1].shape[0] {
            typeCheckFailure("\(op): the batch sizes of xs must not increase (xs[\(t - 1)] has \(xs[t - 1].shape[0]) rows, xs[\(t)] \(x.shape[0])); sort the sequences by length, longest first")
        }
        if x.shape[0] == 0 { typeCheckFailure("\(op): xs[\(t)] has no rows; leave out empty time steps") }
    }
    if hx.ndim == 3 && hx.shape[1] != xs[0].shape[0] {
        typeCheckFailure("\(op): hx must have shape (nLayers × directions, \(xs[0].shape[0]), units) for a first step of \(xs[0].shape[0]) rows, got \(hx.shape)")
    }
    let layout = PackedLayout(batchSizes: xs.map { $0.shape[0] })
    let x = xs.count == 1 ? xs[0] : F.concat(xs, axis: 0)
    let (hy, cy, y) = nStepNetwork(cell, nLayers: nLayers, dropoutRatio: dropoutRatio, hx: hx, cx: cx, ws: ws, bs: bs, x: x, layout: layout,
                                   directions: directions, rng: rng)
    let ys = xs.count == 1 ? [y] : F.splitAxis(y, indices: Array(layout.offsets.dropFirst()), axis: 0)
    return (hy, cy, ys)
}

extension F {
    /// Chainer's `n_step_lstm`: a stacked LSTM over a batch of sequences in time-major order, fused (see
    /// ``NStepLSTM`` for the link, which sorts and transposes sequences itself).
    ///
    /// - Parameters:
    ///   - nLayers: the number of layers S.
    ///   - dropoutRatio: dropout on the input of every layer after the first, in training mode (``Config/train``).
    ///   - hx: the initial hidden states `(S, B, N)`.
    ///   - cx: the initial cell states `(S, B, N)`.
    ///   - ws: per layer, eight weights `w0…w7` (Chainer's order; `w0…w3` are `(N, I)` for the first layer and
    ///     `(N, N)` after it, `w4…w7` are `(N, N)`).
    ///   - bs: per layer, eight biases `b0…b7` `(N,)`, in the order of `ws`.
    ///   - xs: the time steps: `xs[t]` is `(B_t, I)` with `B_0 ≥ B_1 ≥ …`, where `B_0 = B`.
    ///   - rng: the source of the dropout masks (``RandomState/global`` when nil).
    /// - Returns: the final states `hy`, `cy` `(S, B, N)` (row `i` from the last step of sequence `i`) and the last
    ///   layer's output at every step, `ys[t]` `(B_t, N)`.
    ///
    /// The input projection of every step is one matrix product per layer; the recurrence over time, forward and
    /// backward, runs inside one node per layer with the gate arithmetic fused. Differentiable twice and more: a
    /// recorded backward (``Variable/backward(retainGrad:enableDoubleBackprop:)``) differentiates the layer written step
    /// by step.
    public static func nStepLSTM(_ nLayers: Int, _ dropoutRatio: Double, _ hx: Variable, _ cx: Variable, _ ws: [[Variable]], _ bs: [[Variable]],
                                 _ xs: [Variable], rng: RandomState? = nil) -> (hy: Variable, cy: Variable, ys: [Variable]) {
        let r = nStepTimeMajor(.lstm, nLayers, dropoutRatio, hx, cx, ws, bs, xs, directions: 1, rng: rng)
        return (r.hy, r.cy!, r.ys)
    }

    /// Chainer's `n_step_bilstm`: ``nStepLSTM(_:_:_:_:_:_:_:rng:)`` in both directions. `hx`, `cx`, `ws` and `bs` have
    /// `2S` entries (layer `l` forward at `2l`, backward at `2l + 1`); layers after the first take `2N` inputs, and
    /// `ys[t]` is `(B_t, 2N)`: the forward output, then the backward one.
    public static func nStepBiLSTM(_ nLayers: Int, _ dropoutRatio: Double, _ hx: Variable, _ cx: Variable, _ ws: [[Variable]], _ bs: [[Variable]],
                                   _ xs: [Variable], rng: RandomState? = nil) -> (hy: Variable, cy: Variable, ys: [Variable]) {
        let r = nStepTimeMajor(.lstm, nLayers, dropoutRatio, hx, cx, ws, bs, xs, directions: 2, rng: rng)
        return (r.hy, r.cy!, r.ys)
    }

    /// Chainer's `n_step_gru`: a stacked GRU over time-major sequences (shapes as ``nStepLSTM(_:_:_:_:_:_:_:rng:)``),
    /// with six weights and biases per layer (``NStepCell/gru`` has the formula).
    public static func nStepGRU(_ nLayers: Int, _ dropoutRatio: Double, _ hx: Variable, _ ws: [[Variable]], _ bs: [[Variable]],
                                _ xs: [Variable], rng: RandomState? = nil) -> (hy: Variable, ys: [Variable]) {
        let r = nStepTimeMajor(.gru, nLayers, dropoutRatio, hx, nil, ws, bs, xs, directions: 1, rng: rng)
        return (r.hy, r.ys)
    }

    /// Chainer's `n_step_bigru`: ``nStepGRU(_:_:_:_:_:_:rng:)`` in both directions (layout as ``nStepBiLSTM(_:_:_:_:_:_:_:rng:)``).
    public static func nStepBiGRU(_ nLayers: Int, _ dropoutRatio: Double, _ hx: Variable, _ ws: [[Variable]], _ bs: [[Variable]],
                                  _ xs: [Variable], rng: RandomState? = nil) -> (hy: Variable, ys: [Variable]) {
        let r = nStepTimeMajor(.gru, nLayers, dropoutRatio, hx, nil, ws, bs, xs, directions: 2, rng: rng)
        return (r.hy, r.ys)
    }

    /// Chainer's `n_step_rnn`: a stacked Elman network over time-major sequences, `h' = act(W₀x + b₀ + W₁h + b₁)`
    /// with two weights and biases per layer; `activation` is `.tanh` (the default) or `.relu`.
    public static func nStepRNN(_ nLayers: Int, _ dropoutRatio: Double, _ hx: Variable, _ ws: [[Variable]], _ bs: [[Variable]],
                                _ xs: [Variable], activation: RNNActivation = .tanh, rng: RandomState? = nil) -> (hy: Variable, ys: [Variable]) {
        let r = nStepTimeMajor(nStepSimpleCell(activation), nLayers, dropoutRatio, hx, nil, ws, bs, xs, directions: 1, rng: rng)
        return (r.hy, r.ys)
    }

    /// Chainer's `n_step_birnn`: ``nStepRNN(_:_:_:_:_:_:activation:rng:)`` in both directions.
    public static func nStepBiRNN(_ nLayers: Int, _ dropoutRatio: Double, _ hx: Variable, _ ws: [[Variable]], _ bs: [[Variable]],
                                  _ xs: [Variable], activation: RNNActivation = .tanh, rng: RandomState? = nil) -> (hy: Variable, ys: [Variable]) {
        let r = nStepTimeMajor(nStepSimpleCell(activation), nLayers, dropoutRatio, hx, nil, ws, bs, xs, directions: 2, rng: rng)
        return (r.hy, r.ys)
    }
}

/// The simple cell for an activation (Chainer's `n_step_rnn` has tanh and ReLU only).
func nStepSimpleCell(_ activation: RNNActivation) -> NStepCell {
    switch activation {
    case .tanh: return .rnnTanh
    case .relu: return .rnnReLU
    case .sigmoid: typeCheckFailure("n_step_rnn: activation must be .tanh or .relu (as Chainer's), got .sigmoid")
    }
}
