import CCatenaKernels
import Foundation

/// Chainer's fused LSTM cell. `x` holds the gate pre-activations interleaved per unit — unit j's cell input,
/// input, forget and output gates are `x[:, 4j]`, `x[:, 4j+1]`, `x[:, 4j+2]`, `x[:, 4j+3]` — so weights trained in
/// Chainer load unchanged. One pass activates all gates (the float32 path uses the kernel library's vectorised
/// sigmoid/tanh), a second computes `c` and `h`; backward reuses the activated gates.
final class LSTMFunction: FunctionNode {
    @exclusivity(unchecked) private var gates = NDArray.zeros([]), cPrev = NDArray.zeros([]), tanhC = NDArray.zeros([])
    @exclusivity(unchecked) private var batch = 0, units = 0, fullBatch = 0

    override var label: String { "LSTM" }

    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        let c = inputs[0], x = inputs[1]
        if c.ndim != 2 || x.ndim != 2 { typeCheckFailure("lstm: c and x must be 2-D, got shapes \(c.shape) and \(x.shape)") }
        c.checkSameDType(x, op: "lstm")
        if !x.dtype.isFloatingPoint { typeCheckFailure("lstm: expected floating-point inputs, got \(x.dtype)") }
        if x.shape[1] != 4 * c.shape[1] { typeCheckFailure("lstm: x.shape[1] (\(x.shape[1])) must equal 4 * c.shape[1] (4 * \(c.shape[1]))") }
        if x.shape[0] > c.shape[0] { typeCheckFailure("lstm: x.shape[0] (\(x.shape[0])) must not exceed c.shape[0] (\(c.shape[0]))") }
        batch = x.shape[0]
        units = c.shape[1]
        fullBatch = c.shape[0]
        let xc = x.contiguous()
        cPrev = c.contiguous()
        gates = NDArray(uninitializedShape: xc.shape, dtype: x.dtype)
        let cNew = NDArray(uninitializedShape: c.shape, dtype: c.dtype)
        tanhC = NDArray(uninitializedShape: [batch, units], dtype: c.dtype)
        let h = NDArray(uninitializedShape: [batch, units], dtype: c.dtype)
        let n = batch * units
        func go<T: NDFloatingPoint>(_: T.Type, activate: (UnsafeMutablePointer<T>, UnsafeMutablePointer<T>, Int) -> Void,
                                     tanh: (UnsafeMutablePointer<T>, UnsafeMutablePointer<T>, Int) -> Void) {
            let g = gates.pointer(T.self), cp = cPrev.pointer(T.self), cn = cNew.pointer(T.self)
            let tc = tanhC.pointer(T.self), ph = h.pointer(T.self)
            activate(xc.pointer(T.self), g, 4 * n)
            for k in 0..<n {
                let a = g[4 * k], i = g[4 * k + 1], f = g[4 * k + 2]
                cn[k] = a * i + f * cp[k]
            }
            tanh(cn, tc, n)
            for k in 0..<n { ph[k] = g[4 * k + 3] * tc[k] }
            if fullBatch > batch { (cn + n).update(from: cp + n, count: (fullBatch - batch) * units) }
        }
        if x.dtype == .float32 {
            go(Float.self, activate: { catena_lstm_gates_f32($0, $1, $2) }, tanh: { catena_vtanh_f32($0, $1, $2) })
        } else {
            go(Double.self, activate: { src, dst, count in
                for k in 0..<count {
                    let v = src[k]
                    dst[k] = k & 3 == 0 ? Foundation.tanh(v) : (v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v)))
                }
            }, tanh: { src, dst, count in for k in 0..<count { dst[k] = Foundation.tanh(src[k]) } })
        }
        return [cNew, h]
    }

    override func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        let gcIn = gy[0]?.contiguous(), ghIn = gy[1]?.contiguous()
        let n = batch * units
        let gx = NDArray(uninitializedShape: [batch, 4 * units], dtype: gates.dtype)
        let gcPrev = NDArray(uninitializedShape: [fullBatch, units], dtype: gates.dtype)
        func go<T: NDFloatingPoint>(_: T.Type) {
            let g = gates.pointer(T.self), cp = cPrev.pointer(T.self), tc = tanhC.pointer(T.self)
            let gc = gcIn?.pointer(T.self), gh = ghIn?.pointer(T.self)
            let px = gx.pointer(T.self), pcp = gcPrev.pointer(T.self)
            for k in 0..<n {
                let a = g[4 * k], i = g[4 * k + 1], f = g[4 * k + 2], o = g[4 * k + 3]
                let co = tc[k]
                let ghk: T = gh?[k] ?? 0
                let total = ghk * o * (1 - co * co) + (gc?[k] ?? 0)
                px[4 * k] = total * i * (1 - a * a)
                px[4 * k + 1] = total * a * i * (1 - i)
                px[4 * k + 2] = total * cp[k] * f * (1 - f)
                px[4 * k + 3] = ghk * co * o * (1 - o)
                pcp[k] = total * f
            }
            let rest = (fullBatch - batch) * units
            if rest > 0 {
                if let gc { (pcp + n).update(from: gc + n, count: rest) } else { (pcp + n).update(repeating: 0, count: rest) }
            }
        }
        if gates.dtype == .float32 { go(Float.self) } else { go(Double.self) }
        return indexes.map { $0 == 0 ? gcPrev : gx }
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
