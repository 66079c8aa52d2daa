import CCatenaKernels
import Foundation

/// Chainer's fused LSTM cell. `x` holds the gate pre-activations interleaved per unit — unit j's cell input,
/// input, forget and output gates are `x[:, 4j]`, `x[:, 4j+1]`, `x[:, 4j+2]`, `x[:, 4j+3]` — so weights trained in
/// Chainer load unchanged. One pass activates all gates (the float32 path uses the kernel library's vectorised
/// sigmoid/tanh), a second computes `c` and `h`; backward reuses the activated gates in ``LSTMGrad``'s kernel.
final class LSTMFunction: FunctionNode {
    @exclusivity(unchecked) private var state = LSTMState()

    override var label: String { "LSTM" }

    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        let c = inputs[0], x = inputs[1]
        if c.ndim != 2 || x.ndim != 2 { typeCheckFailure("lstm: c and x must be 2-D, got shapes \(c.shape) and \(x.shape)") }
        c.checkSameDType(x, op: "lstm")
        if !x.dtype.isFloatingPoint { typeCheckFailure("lstm: expected floating-point inputs, got \(x.dtype)") }
        if x.shape[1] != 4 * c.shape[1] { typeCheckFailure("lstm: x.shape[1] (\(x.shape[1])) must equal 4 * c.shape[1] (4 * \(c.shape[1]))") }
        if x.shape[0] > c.shape[0] { typeCheckFailure("lstm: x.shape[0] (\(x.shape[0])) must not exceed c.shape[0] (\(c.shape[0]))") }
        let (s, cNew, h) = LSTMState.forward(c, x)
        state = s
        return [cNew, h]
    }

    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        let (gcPrev, gx) = state.gradients(gc: gys[0], gh: gys[1])
        return GradSlots(targets.first == 0 ? gcPrev : gx, targets.count == 2 ? gx : nil)
    }

    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        let g = backward(targets, [gys[0], gys[1]])
        return GradSlots(g[0], g.count > 1 ? g[1] : nil)
    }

    /// The gradients through ``LSTMGrad``, so that they can be differentiated again.
    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        let c = input(0), x = input(1)
        let zeros: (Variable) -> Variable = { Variable.constant(NDArray.zerosLike($0.array)) }
        let gc = gradOutputs[0] ?? zeros(c)
        let gh = gradOutputs[1] ?? Variable.constant(NDArray.zeros([state.batch, state.units], dtype: c.dtype))
        let out = LSTMGrad().apply([c, x, gc, gh])
        return indexes.map { out[$0] }
    }
}

/// What an LSTM step keeps for its gradient: the activated gates, the previous cell state and tanh of the new one.
struct LSTMState {
    var gates: NDArray!, cPrev: NDArray!, tanhC: NDArray!
    var batch = 0, units = 0, fullBatch = 0

    /// The step: the new cell state, the output, and what the gradient needs.
    static func forward(_ c: NDArray, _ x: NDArray) -> (LSTMState, NDArray, NDArray) {
        var s = LSTMState()
        s.batch = x.shape[0]
        s.units = c.shape[1]
        s.fullBatch = c.shape[0]
        let xc = x.contiguous()
        s.cPrev = c.contiguous()
        s.gates = NDArray(uninitializedShape: xc.shape, dtype: x.dtype)
        let cNew = NDArray(uninitializedShape: c.shape, dtype: c.dtype)
        s.tanhC = NDArray(uninitializedShape: [s.batch, s.units], dtype: c.dtype)
        let h = NDArray(uninitializedShape: [s.batch, s.units], dtype: c.dtype)
        let n = s.batch * s.units
        func go<T: NDFloatingPoint>(_: T.Type) {
            let g = s.gates.pointer(T.self), cp = s.cPrev.pointer(T.self), cn = cNew.pointer(T.self)
            let px = xc.pointer(T.self), tc = s.tanhC.pointer(T.self), ph = h.pointer(T.self), units = s.units
            withExtendedLifetime((xc, s.gates, s.cPrev, cNew, s.tanhC, h)) {
                LSTMState.forEachRowBlock(s.batch, units: units) { lo, hi in
                    let o = lo * units, m = (hi - lo) * units
                    RecurrentKernels.lstmGates(px + 4 * o, g + 4 * o, 4 * m)
                    cellForward(g + 4 * o, cp + o, cn + o, tc + o, ph + o, m)
                }
            }
            if s.fullBatch > s.batch { (cn + n).update(from: cp + n, count: (s.fullBatch - s.batch) * s.units) }
        }
        x.dtype.withFloatType(orFail: "lstm: expected a floating-point input, got \(x.dtype)") { go($0) }
        return (s, cNew, h)
    }

    /// The fused gradient: `(gcPrev, gx)` from the gradients of the new cell state and the output (nil: zero).
    func gradients(gc gcIn: NDArray?, gh ghIn: NDArray?) -> (NDArray, NDArray) {
        let gc = gcIn?.contiguous(), gh = ghIn?.contiguous()
        let n = batch * units
        let gx = NDArray(uninitializedShape: [batch, 4 * units], dtype: gates.dtype)
        let gcPrev = NDArray(uninitializedShape: [fullBatch, units], dtype: gates.dtype)
        func go<T: NDFloatingPoint>(_: T.Type) {
            let pgc = gc?.pointer(T.self), pcp = gcPrev.pointer(T.self), pgh = gh?.pointer(T.self)
            let pg = gates.pointer(T.self), pc = cPrev.pointer(T.self), ptc = tanhC.pointer(T.self), pgx = gx.pointer(T.self)
            withExtendedLifetime((gc, gh, gx, gcPrev, gates, cPrev, tanhC)) {
                LSTMState.forEachRowBlock(batch, units: units) { lo, hi in
                    let o: Int = lo * units, m: Int = (hi - lo) * units
                    let ghBlock: UnsafeMutablePointer<T>? = pgh.map { $0 + o }, gcBlock: UnsafeMutablePointer<T>? = pgc.map { $0 + o }
                    LSTMState.cellBackward(pg + 4 * o, pc + o, ptc + o, gh: ghBlock, gc: gcBlock, gx: pgx + 4 * o, gcPrev: pcp + o, m)
                }
            }
            let rest = (fullBatch - batch) * units
            if rest > 0 {
                if let pgc { (pcp + n).update(from: pgc + n, count: rest) } else { (pcp + n).update(repeating: 0, count: rest) }
            }
        }
        gates.dtype.withFloatType(orFail: "lstm: expected floating-point gates, got \(gates.dtype)") { go($0) }
        return (gcPrev, gx)
    }

    /// Steps with at least this many gate values (a batch of 20 with 100 units has 8,000) split their element-wise
    /// work by rows of the batch, one block per thread: the cell's loops then take longer than handing a block to
    /// the pool.
    nonisolated(unsafe) static var parallelGateValues = 1 << 12

    /// Runs `body(lo, hi)` over the rows `0 ..< rows` of a step: in one block per thread when the step has
    /// ``parallelGateValues`` gate values or more, else in one call.
    static func forEachRowBlock(_ rows: Int, units: Int, _ body: (Int, Int) -> Void) {
        parallelForRanges(rows, work: 4 * rows * units, threshold: parallelGateValues) { body($0.lowerBound, $0.upperBound) }
    }

    /// One LSTM cell update of `n` units from the activated, interleaved gates `g` (a, i, f, o per unit) and the
    /// previous cell state `cp`: `cn = a·i + f·cp`, `tc = tanh(cn)`, `h = o·tc`. `cn` may be `cp` (in place).
    /// One vectorised C loop for float32 (the same roundings as the loops below), Swift loops otherwise.
    @inline(__always)
    static func cellForward<T: NDFloatingPoint>(_ g: UnsafePointer<T>, _ cp: UnsafePointer<T>, _ cn: UnsafeMutablePointer<T>,
                                                _ tc: UnsafeMutablePointer<T>, _ h: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self {
            func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            func f(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
            catena_lstm_cell_forward_f32(f(g), f(cp), f(cn), f(tc), f(h), n)
            return
        }
        cellForwardLoop(a: g, i: g + 1, f: g + 2, o: g + 3, stride: 4, cp, cn, tc, h, n)
    }

    /// The Swift loops of the cell update over `n` units whose activated gates lie `stride` apart from `a`, `i`, `f`
    /// and `o` (4 in the interleaved layout, 1 in a row of the NStep gate blocks).
    @inline(__always)
    static func cellForwardLoop<T: NDFloatingPoint>(a: UnsafePointer<T>, i: UnsafePointer<T>, f: UnsafePointer<T>, o: UnsafePointer<T>, stride s: Int,
                                                    _ cp: UnsafePointer<T>, _ cn: UnsafeMutablePointer<T>, _ tc: UnsafeMutablePointer<T>,
                                                    _ h: UnsafeMutablePointer<T>, _ n: Int) {
        for k in 0..<n { cn[k] = a[s * k] * i[s * k] + f[s * k] * cp[k] }
        RecurrentKernels.tanh(cn, tc, n)
        for k in 0..<n { h[k] = o[s * k] * tc[k] }
    }

    /// One unit's cell gradient from its activated gates, previous cell state `cp`, `co = tanh(c)` and the gradients
    /// `gh`, `gc`: the gate pre-activations' gradients and the previous cell state's (the C kernels' formula).
    @inline(__always)
    static func unitBackward<T: NDFloatingPoint>(a: T, i: T, f: T, o: T, cp: T, co: T, gh: T, gc: T) -> (ga: T, gi: T, gf: T, go: T, gcPrev: T) {
        let total = gh * o * (1 - co * co) + gc
        return (total * i * (1 - a * a), total * a * i * (1 - i), total * cp * f * (1 - f), gh * co * o * (1 - o), total * f)
    }

    /// The fused gradient of ``cellForward(_:_:_:_:_:_:)``: from the gradients of `h` and of the new cell state (nil:
    /// zero), the gradient of the gate pre-activations `gx` (4n) and of the previous cell state `gcPrev` (n).
    /// `gcPrev` may be `gc` (in place).
    @inline(__always)
    static func cellBackward<T: NDFloatingPoint>(_ g: UnsafePointer<T>, _ cp: UnsafePointer<T>, _ tc: UnsafePointer<T>, gh: UnsafePointer<T>?,
                                                 gc: UnsafePointer<T>?, gx: UnsafeMutablePointer<T>, gcPrev: UnsafeMutablePointer<T>, _ n: Int) {
        // One loop over plain pointers (a missing gradient reads zeros): in C for float32 (vectorised for the CPU's
        // AVX-512 or AVX2), in Swift otherwise.
        @inline(__always)
        func loop(_ gh: UnsafePointer<T>, _ gc: UnsafePointer<T>) {
            if T.self == Float.self {
                func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
                func f(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
                catena_lstm_cell_backward_f32(f(g), f(cp), f(tc), f(gh), f(gc), f(gx), f(gcPrev), n)
                return
            }
            for k in 0..<n {
                let u = unitBackward(a: g[4 * k], i: g[4 * k + 1], f: g[4 * k + 2], o: g[4 * k + 3], cp: cp[k], co: tc[k], gh: gh[k], gc: gc[k])
                (gx[4 * k], gx[4 * k + 1], gx[4 * k + 2], gx[4 * k + 3], gcPrev[k]) = (u.ga, u.gi, u.gf, u.go, u.gcPrev)
            }
        }
        if let gh, let gc {
            loop(gh, gc)
            return
        }
        let zeros = UnsafeMutablePointer<T>.allocate(capacity: n)
        defer { zeros.deallocate() }
        zeros.initialize(repeating: 0, count: n)
        loop(gh ?? UnsafePointer(zeros), gc ?? UnsafePointer(zeros))
    }

    /// The same gradient written with differentiable operations (its reference formula): `c = tanh(a)·σ(i) +
    /// σ(f)·c_prev`, `h = σ(o)·tanh(c)` differentiated by hand. ``LSTMGrad`` differentiates this a second time.
    static func referenceGradients<V: GradientValue>(_ cPrev: V, _ x: V, _ gc: V, _ gh: V) -> (V, V) {
        let batch = x.shape[0], units = cPrev.shape[1], fullBatch = cPrev.shape[0]
        let xr = x.reshapedTo([batch, units, 4])
        func gate(_ k: Int) -> V { xr.selected([.all, .all, .index(k)]) }
        let a = gate(0).tanhValue(), i = gate(1).sigmoidValue(), f = gate(2).sigmoidValue(), o = gate(3).sigmoidValue()
        let head: (V) -> V = { fullBatch == batch ? $0 : $0.selected([.range(0, batch)]) }
        let cp = head(cPrev)
        let tc = (a * i + f * cp).tanhValue()
        let total = gh * o * (1 - tc * tc) + head(gc)
        let parts = [total * i * (1 - a * a), total * a * i * (1 - i), total * cp * f * (1 - f), gh * tc * o * (1 - o)]
        let gx = V.concatenated(parts.map { $0.reshapedTo([batch, units, 1]) }, axis: 2).reshapedTo([batch, 4 * units])
        var gcPrev = total * f
        if fullBatch > batch { gcPrev = V.concatenated([gcPrev, gc.selected([.range(batch, fullBatch)])], axis: 0) }
        return (gcPrev, gx)
    }
}

/// The gradient of an LSTM step, `(gcPrev, gx)` as a function of `(c_prev, x, gc, gh)`: forward is the fused
/// kernel, backward differentiates the reference formula (``LSTMState/referenceGradients(_:_:_:_:)``), so that an
/// LSTM is twice (and more) differentiable.
final class LSTMGrad: FunctionNode {
    override var label: String { "LSTMGrad" }

    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        let (state, _, _) = LSTMState.forward(inputs[0], inputs[1])
        let (gcPrev, gx) = state.gradients(gc: inputs[2], gh: inputs[3])
        return [gcPrev, gx]
    }

    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        let ins = inputs
        let g = partialGrad(ins, gradOutputs: gradOutputs) {
            let (gcPrev, gx) = LSTMState.referenceGradients(Recorded(ins[0]), Recorded(ins[1]), Recorded(ins[2]), Recorded(ins[3]))
            return [gcPrev.variable, gx.variable]
        }
        return indexes.map { g[$0] }
    }
}

extension F {
    /// Chainer's LSTM cell: from the previous cell state `c` `(B₀, H)` and gate pre-activations `x` `(B, 4H)`
    /// returns the new cell state and the output, `(c, h)`.
    ///
    /// Gates are interleaved per unit (`x[:, 4j ..< 4j+4]` = cell input a, input i, forget f, output o of unit j):
    /// `c = tanh(a)·σ(i) + σ(f)·c_prev`, `h = σ(o)·tanh(c)`. If `B < B₀`, only the first B rows are updated; the
    /// other rows of `c` pass through unchanged and `h` has B rows.
    /// - Precondition: `x.shape[1] == 4 * c.shape[1]` and `x.shape[0] <= c.shape[0]`.
    public static func lstm(_ c: Variable, _ x: Variable) -> (c: Variable, h: Variable) {
        let out = LSTMFunction().apply([c, x])
        return (out[0], out[1])
    }
}
