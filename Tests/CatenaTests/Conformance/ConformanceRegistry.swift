import Foundation

@testable import Catena

/// One function under test: sample inputs (float64; integer inputs such as labels pass through unchecked) and the
/// computation on them.
struct ConformanceCase {
    let name: String
    let inputs: [NDArray]
    let f: ([Variable]) -> [Variable]
    /// Whether the double-backward check applies (the function has second derivatives; piecewise-linear ones
    /// have zero second derivatives away from their kinks, which the inputs avoid).
    var twice = true
    /// Tolerances for comparing float32 results with float64 ones.
    var float32Tolerance = 2e-4
    /// Tolerances of the finite-difference checks.
    var atol = 1e-5, rtol = 1e-4
}

/// Arrays with distinct values for the registry, without the library's generator.
private func r(_ shape: [Int], scale: Double = 1, offset: Double = 0, phase: Double = 0) -> NDArray {
    let n = shape.reduce(1, *)
    return NDArray((0..<n).map { sin(Double($0) * 1.37 + 0.3 + phase) * scale + offset }, shape: shape, dtype: .float64)
}

/// Values kept at least `gap` away from 0 (and from each other's kinks), for piecewise functions.
private func away(_ shape: [Int], gap: Double = 0.2, phase: Double = 0) -> NDArray {
    let n = shape.reduce(1, *)
    return NDArray((0..<n).map { i -> Double in
        let v = sin(Double(i) * 1.37 + 0.3 + phase)
        return v >= 0 ? v + gap : v - gap
    }, shape: shape, dtype: .float64)
}

private func ints(_ values: [Int32], _ shape: [Int]) -> NDArray { NDArray(values: values, shape: shape) }

/// Inputs of a one-layer multi-step network: steps of 2 and 1 rows of width 2, states (directions, 2, 2), then per
/// direction the weights and the biases of `cell` (2 units).
private func nStepInputs(_ cell: NStepCell, directions: Int = 1) -> [NDArray] {
    var inputs = [r([2, 2]), r([1, 2], phase: 1), r([directions, 2, 2], scale: 0.5, phase: 2)]
    if cell == .lstm { inputs.append(r([directions, 2, 2], scale: 0.5, phase: 3)) }
    for d in 0..<directions {
        for j in 0..<cell.weightCount { inputs.append(r([2, 2], scale: 0.7, phase: 4 + Double(j) + 10 * Double(d))) }
        for j in 0..<cell.weightCount { inputs.append(r([2], scale: 0.3, phase: 20 + Double(j) + 10 * Double(d))) }
    }
    return inputs
}

private func one(_ body: @escaping ([Variable]) -> Variable) -> ([Variable]) -> [Variable] { { [body($0)] } }

/// Every differentiable `F` function, with inputs of several shapes, broadcasting, and the ignore-label paths of the
/// losses. **A new function is added here** (one entry or a few): `ConformanceTests` then checks, for each entry,
/// `backward()` into leaves against `grad()`, the recorded pass and central finite differences; the second
/// derivatives against finite differences of the first (``checkDoubleBackward``); and float32 against float64.
nonisolated(unsafe) let conformanceRegistry: [ConformanceCase] = [
    // Arithmetic, with broadcasting and constants.
    ConformanceCase(name: "add", inputs: [r([2, 3]), r([3], phase: 1)], f: one { $0[0] + $0[1] }),
    ConformanceCase(name: "add broadcast both", inputs: [r([2, 1]), r([1, 3], phase: 1)], f: one { $0[0] + $0[1] }),
    ConformanceCase(name: "sub", inputs: [r([2, 3]), r([2, 1], phase: 2)], f: one { $0[0] - $0[1] }),
    ConformanceCase(name: "mul", inputs: [r([2, 3]), r([3], phase: 1)], f: one { $0[0] * $0[1] }),
    ConformanceCase(name: "mul scalar array", inputs: [r([2, 2]), r([], phase: 1)], f: one { $0[0] * $0[1] }),
    ConformanceCase(name: "div", inputs: [r([2, 3]), r([2, 3], scale: 0.5, offset: 2)], f: one { $0[0] / $0[1] }),
    ConformanceCase(name: "neg", inputs: [r([4])], f: one { -$0[0] }),
    ConformanceCase(name: "pow var var", inputs: [r([3], scale: 0.5, offset: 1.5), r([3], phase: 1)], f: one { F.pow($0[0], $0[1]) }),
    ConformanceCase(name: "x + c, x * c, c - x", inputs: [r([2, 2])], f: one { (2 - ($0[0] + 1.5) * 3) }),
    ConformanceCase(name: "c / x", inputs: [r([3], scale: 0.5, offset: 2)], f: one { 2 / $0[0] }),
    ConformanceCase(name: "x ** c", inputs: [r([3], scale: 0.5, offset: 2)], f: one { $0[0] ** 2.5 }),
    ConformanceCase(name: "c ** x", inputs: [r([3])], f: one { 1.7 ** $0[0] }),
    // Elementary functions.
    ConformanceCase(name: "exp", inputs: [r([2, 3])], f: one { F.exp($0[0]) }),
    ConformanceCase(name: "log", inputs: [r([2, 3], scale: 0.5, offset: 2)], f: one { F.log($0[0]) }),
    ConformanceCase(name: "sqrt", inputs: [r([2, 3], scale: 0.5, offset: 2)], f: one { F.sqrt($0[0]) }),
    ConformanceCase(name: "square", inputs: [r([2, 3])], f: one { F.square($0[0]) }),
    ConformanceCase(name: "absolute", inputs: [away([2, 3])], f: one { F.absolute($0[0]) }),
    ConformanceCase(name: "maximum", inputs: [away([2, 3]), away([3], phase: 2)], f: one { F.maximum($0[0], $0[1]) }),
    ConformanceCase(name: "minimum", inputs: [away([2, 3]), away([2, 3], phase: 2)], f: one { F.minimum($0[0], $0[1]) }),
    ConformanceCase(name: "clip", inputs: [away([2, 3], gap: 0.1)], f: one { F.clip($0[0], -0.5, 0.6) }),
    // Activations.
    ConformanceCase(name: "relu", inputs: [away([2, 3])], f: one { F.relu($0[0]) }),
    ConformanceCase(name: "leakyRelu", inputs: [away([2, 3])], f: one { F.leakyRelu($0[0], slope: 0.3) }),
    ConformanceCase(name: "sigmoid", inputs: [r([2, 3], scale: 2)], f: one { F.sigmoid($0[0]) }),
    ConformanceCase(name: "tanh", inputs: [r([2, 3], scale: 2)], f: one { F.tanh($0[0]) }),
    ConformanceCase(name: "softplus", inputs: [r([2, 3], scale: 2)], f: one { F.softplus($0[0], beta: 1.5) }),
    ConformanceCase(name: "softmax", inputs: [r([2, 4])], f: one { F.softmax($0[0]) }),
    ConformanceCase(name: "softmax axis 0", inputs: [r([3, 2])], f: one { F.softmax($0[0], axis: 0) }),
    ConformanceCase(name: "logSoftmax", inputs: [r([2, 4])], f: one { F.logSoftmax($0[0]) }),
    ConformanceCase(name: "logSumExp", inputs: [r([2, 3, 2])], f: one { F.logSumExp($0[0], axes: [1, 2]) }),
    ConformanceCase(name: "logSumExp all", inputs: [r([2, 3])], f: one { F.logSumExp($0[0]) }),
    // Reductions.
    ConformanceCase(name: "sum", inputs: [r([2, 3])], f: one { F.sum($0[0]) }),
    ConformanceCase(name: "sum axes keepDims", inputs: [r([2, 3, 2])], f: one { F.sum($0[0], axes: [0, 2], keepDims: true) }),
    ConformanceCase(name: "mean", inputs: [r([2, 3])], f: one { F.mean($0[0], axis: 1) }),
    ConformanceCase(name: "max", inputs: [r([2, 3])], f: one { F.max($0[0], axis: 1) }),
    ConformanceCase(name: "min", inputs: [r([3, 2])], f: one { F.min($0[0], axes: nil) }),
    ConformanceCase(name: "variance", inputs: [r([2, 4])], f: one { F.variance($0[0], axis: 1, ddof: 1) }),
    ConformanceCase(name: "std", inputs: [r([3, 3])], f: one { F.std($0[0], axis: 0) }),
    ConformanceCase(name: "sumTo", inputs: [r([2, 3, 2])], f: one { F.sumTo($0[0], [3, 1]) }),
    // Shapes and selection.
    ConformanceCase(name: "identity", inputs: [r([2, 2])], f: one { F.identity($0[0]) }),
    ConformanceCase(name: "reshape", inputs: [r([2, 3])], f: one { F.reshape($0[0], [3, -1]) }),
    ConformanceCase(name: "transpose", inputs: [r([2, 3, 2])], f: one { F.transpose($0[0], axes: [2, 0, 1]) }),
    ConformanceCase(name: "broadcastTo", inputs: [r([3, 1])], f: one { F.broadcastTo($0[0], [2, 3, 4]) }),
    ConformanceCase(name: "expandDims", inputs: [r([2, 3])], f: one { F.expandDims($0[0], axis: 1) }),
    ConformanceCase(name: "squeeze", inputs: [r([2, 1, 3])], f: one { F.squeeze($0[0]) }),
    ConformanceCase(name: "cast", inputs: [r([2, 3])], f: one { F.cast(F.cast($0[0], .float32), .float64) * 2 }, atol: 1e-3, rtol: 1e-3),
    ConformanceCase(name: "getItem", inputs: [r([3, 4])], f: one { F.getItem($0[0], [.range(0, 3, step: 2), .index(1)]) }),
    ConformanceCase(name: "take", inputs: [r([4, 2])], f: one { F.take($0[0], ints([2, 0, 2], [3]), axis: 0) }),
    ConformanceCase(name: "selectItem", inputs: [r([3, 4]), ints([1, 3, 0], [3])], f: one { F.selectItem($0[0], $0[1]) }),
    ConformanceCase(name: "where", inputs: [r([2, 3]), r([3], phase: 1)],
                    f: one { F.where(.constant(NDArray(values: [true, false, true, false, false, true], shape: [2, 3])), $0[0], $0[1]) }),
    ConformanceCase(name: "concat", inputs: [r([2, 3]), r([2, 1], phase: 1)], f: one { F.concat([$0[0], $0[1]], axis: 1) }),
    ConformanceCase(name: "stack", inputs: [r([2, 3]), r([2, 3], phase: 1)], f: one { F.stack([$0[0], $0[1]], axis: 1) }),
    ConformanceCase(name: "splitAxis (one part unused)", inputs: [r([2, 5])], f: { [F.splitAxis($0[0], indices: [2, 3], axis: 1)[0], F.splitAxis($0[0], indices: [1], axis: 1)[1]] }),
    ConformanceCase(name: "separate", inputs: [r([3, 2])], f: { F.separate($0[0]) }),
    // Connections and products.
    ConformanceCase(name: "linear", inputs: [r([3, 4]), r([2, 4], phase: 1), r([2], phase: 2)], f: one { F.linear($0[0], $0[1], $0[2]) }),
    ConformanceCase(name: "linear nobias, batch axes", inputs: [r([2, 2, 3]), r([4, 3], phase: 1)], f: one { F.linear($0[0], $0[1], nBatchAxes: 2) }),
    ConformanceCase(name: "linear flattened features", inputs: [r([2, 2, 3]), r([4, 6], phase: 1)], f: one { F.linear($0[0], $0[1]) }),
    ConformanceCase(name: "matmul", inputs: [r([2, 3]), r([3, 4], phase: 1)], f: one { F.matmul($0[0], $0[1]) }),
    ConformanceCase(name: "matmul transposed", inputs: [r([3, 2]), r([4, 3], phase: 1)], f: one { F.matmul($0[0], $0[1], transA: true, transB: true) }),
    ConformanceCase(name: "matmul vector", inputs: [r([3]), r([3, 2], phase: 1)], f: one { F.matmul($0[0], $0[1]) }),
    ConformanceCase(name: "batchMatmul", inputs: [r([2, 2, 3]), r([2, 3, 2], phase: 1)], f: one { F.batchMatmul($0[0], $0[1]) }),
    ConformanceCase(name: "embedID", inputs: [ints([0, 3, 3, 1], [2, 2]), r([4, 3])], f: one { F.embedID($0[0], $0[1]) }),
    ConformanceCase(name: "embedID ignoreLabel", inputs: [ints([0, -1, 2], [3]), r([4, 2])], f: one { F.embedID($0[0], $0[1], ignoreLabel: -1) }),
    ConformanceCase(name: "lstm", inputs: [r([2, 3], phase: 1), r([2, 12], scale: 1.5)], f: { let o = F.lstm($0[0], $0[1]); return [o.c, o.h] }),
    ConformanceCase(name: "lstm smaller batch", inputs: [r([3, 2], phase: 1), r([2, 8], scale: 1.5)], f: { let o = F.lstm($0[0], $0[1]); return [o.c, o.h] }),
    ConformanceCase(name: "lstm output only", inputs: [r([2, 2], phase: 1), r([2, 8])], f: one { F.lstm($0[0], $0[1]).h }),
    // The fused multi-step networks: two time steps of batch 2 then 1, one layer (inputs: x0, x1, hx[, cx], w…, b…).
    ConformanceCase(name: "nStepLSTM", inputs: nStepInputs(.lstm), f: { v in
        let r = F.nStepLSTM(1, 0, v[2], v[3], [Array(v[4..<12])], [Array(v[12..<20])], [v[0], v[1]])
        return [r.hy, r.cy] + r.ys
    }),
    ConformanceCase(name: "nStepGRU", inputs: nStepInputs(.gru), f: { v in
        let r = F.nStepGRU(1, 0, v[2], [Array(v[3..<9])], [Array(v[9..<15])], [v[0], v[1]])
        return [r.hy] + r.ys
    }),
    ConformanceCase(name: "nStepRNN tanh", inputs: nStepInputs(.rnnTanh), f: { v in
        let r = F.nStepRNN(1, 0, v[2], [Array(v[3..<5])], [Array(v[5..<7])], [v[0], v[1]])
        return [r.hy] + r.ys
    }),
    ConformanceCase(name: "nStepBiRNN relu", inputs: nStepInputs(.rnnReLU, directions: 2), f: { v in
        let r = F.nStepBiRNN(1, 0, v[2], [Array(v[3..<5]), Array(v[7..<9])], [Array(v[5..<7]), Array(v[9..<11])], [v[0], v[1]], activation: .relu)
        return [r.hy] + r.ys
    }, twice: false),
    ConformanceCase(name: "layerNormalization", inputs: [r([3, 4], scale: 2), r([4], offset: 1), r([4], phase: 1)],
                    f: one { F.layerNormalization($0[0], $0[1], $0[2]) }),
    ConformanceCase(name: "dropout", inputs: [r([3, 4])], f: one { x in usingConfig(\.train, true) { F.dropout(x[0], ratio: 0.4, rng: RandomState(seed: 7)) } }),
    // Losses, the ignore-label paths included.
    ConformanceCase(name: "softmaxCrossEntropy", inputs: [r([3, 4]), ints([1, 0, 3], [3])], f: one { F.softmaxCrossEntropy($0[0], $0[1]) }),
    ConformanceCase(name: "softmaxCrossEntropy ignore", inputs: [r([3, 4]), ints([1, -1, 3], [3])], f: one { F.softmaxCrossEntropy($0[0], $0[1]) }),
    ConformanceCase(name: "softmaxCrossEntropy none, weights", inputs: [r([3, 4]), ints([2, -1, 0], [3])],
                    f: one { F.softmaxCrossEntropy($0[0], $0[1], reduce: .none, classWeight: NDArray([0.5, 1, 2, 1.5], dtype: .float64)) }),
    ConformanceCase(name: "softmaxCrossEntropy (N, C, d)", inputs: [r([2, 3, 2]), ints([0, 2, 1, 1], [2, 2])],
                    f: one { F.softmaxCrossEntropy($0[0], $0[1], normalize: false) }),
    ConformanceCase(name: "sigmoidCrossEntropy", inputs: [r([2, 3], scale: 2), ints([1, 0, -1, 1, 1, 0], [2, 3])], f: one { F.sigmoidCrossEntropy($0[0], $0[1]) }),
    ConformanceCase(name: "sigmoidCrossEntropy none", inputs: [r([2, 2], scale: 2), ints([1, 0, 0, 1], [2, 2])],
                    f: one { F.sigmoidCrossEntropy($0[0], $0[1], reduce: .none) }),
    ConformanceCase(name: "meanSquaredError", inputs: [r([2, 3]), r([2, 3], phase: 1)], f: one { F.meanSquaredError($0[0], $0[1]) }),
    ConformanceCase(name: "meanAbsoluteError", inputs: [away([2, 3]), NDArray.zeros([2, 3], dtype: .float64)], f: one { F.meanAbsoluteError($0[0], $0[1]) }),
    ConformanceCase(name: "huberLoss", inputs: [away([2, 3], gap: 0.1), r([2, 3], scale: 0.05)], f: one { F.huberLoss($0[0], $0[1], delta: 0.6) }),
]
