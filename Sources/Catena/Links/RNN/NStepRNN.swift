import Foundation

/// The weights of one layer and direction of an NStep link: `w0 … w(n−1)` `(outSize, in)` and `b0 … b(n−1)`
/// `(outSize,)`, named as in Chainer (its `NStepRNNBase` children are plain links holding exactly these), so that
/// the keys of `save_npz` files are `0/w0`, `0/b0`, …
public final class NStepRNNWeights: Link {
    /// `w0` and `w1`, present in every cell: `(outSize, in)` and `(outSize, outSize)` for the simple RNNs (input and
    /// state); for the LSTM and GRU the first two weights from the layer's input, `(outSize, in)` each.
    public let w0: Parameter, w1: Parameter
    /// `w2 … w7`, `nil` where the cell has fewer weights: the LSTM's `w2`, `w3` from the input and `w4 … w7` from the
    /// state; the GRU's `w2` from the input and `w3 … w5` from the state (`w6`, `w7` `nil`). See ``NStepCell`` for
    /// the gates each one feeds.
    public let w2: Parameter?, w3: Parameter?, w4: Parameter?, w5: Parameter?, w6: Parameter?, w7: Parameter?
    /// `b0` and `b1`, `(outSize,)`, present in every cell: the biases added with `w0` and `w1`.
    public let b0: Parameter, b1: Parameter
    /// `b2 … b7`, `(outSize,)`, `nil` where the cell has fewer weights: the biases added with `w2 … w7`.
    public let b2: Parameter?, b3: Parameter?, b4: Parameter?, b5: Parameter?, b6: Parameter?, b7: Parameter?

    /// `count` weights (2, 6 or 8): the first half read the layer's input (`inSize` wide), the rest the state.
    init(count: Int, inSize: Int, outSize: Int, initialW: Initializer, initialBias: Initializer, dtype: DType, rng: RandomState) {
        var w: [Parameter] = [], b: [Parameter] = []
        for j in 0..<count {
            w.append(Parameter(initializer: initialW, shape: [outSize, j < count / 2 ? inSize : outSize], dtype: dtype, rng: rng))
            b.append(Parameter(initializer: initialBias, shape: [outSize], dtype: dtype, rng: rng))
        }
        func at(_ list: [Parameter], _ j: Int) -> Parameter? { j < list.count ? list[j] : nil }
        (w0, w1, w2, w3, w4, w5, w6, w7) = (w[0], w[1], at(w, 2), at(w, 3), at(w, 4), at(w, 5), at(w, 6), at(w, 7))
        (b0, b1, b2, b3, b4, b5, b6, b7) = (b[0], b[1], at(b, 2), at(b, 3), at(b, 4), at(b, 5), at(b, 6), at(b, 7))
        super.init()
    }

    /// The weights in order, `w0 …`.
    public var ws: [Parameter] { [w0, w1] + [w2, w3, w4, w5, w6, w7].compactMap { $0 } }
    /// The biases in order, `b0 …`.
    public var bs: [Parameter] { [b0, b1] + [b2, b3, b4, b5, b6, b7].compactMap { $0 } }
}

/// The shared machinery of Chainer's NStep links (``NStepLSTM``, ``NStepGRU``, ``NStepRNNTanh``, ``NStepRNNReLU``
/// and their bidirectional forms): stacked recurrent layers over a batch of sequences of different lengths, fused.
///
/// The children are one ``NStepRNNWeights`` per layer and direction, named `0`, `1`, … (layer `l` forward at
/// `directions·l`, backward after it), each with Chainer's parameter names and shapes, so files written by
/// Chainer's `save_npz` for the same link load unchanged and Catena's load into Chainer. Weights are drawn from
/// `initialW` (LeCun normal by default, as Chainer) and biases from `initialBias` (zeros).
///
/// A call sorts the sequences by length, packs them time-major, runs every layer as one input product plus one
/// fused recurrence node per direction (see ``F/nStepLSTM(_:_:_:_:_:_:_:rng:)``) and returns the outputs in the
/// caller's order. Dropout (`dropout`, in training mode) applies to the inputs of every layer after the first.
public class NStepRNNBase: ChainList {
    /// The number of stacked layers.
    public let nLayers: Int
    /// The width of the first layer's input.
    public let inSize: Int
    /// The number of units of every layer and direction.
    public let outSize: Int
    /// The dropout ratio on the inputs of layers after the first.
    public var dropout: Double
    /// 1, or 2 for the bidirectional links.
    public let directions: Int
    /// The generator of the dropout masks (``RandomState/global`` unless set).
    public var dropoutRNG: RandomState?
    let cell: NStepCell
    private let initialW: Initializer, initialBias: Initializer, rng: RandomState

    /// The cell of this class of link (each NStep link overrides it).
    class var cellKind: NStepCell {
        typeCheckFailure("\(self): create one of the NStep links (NStepLSTM, NStepGRU, NStepRNNTanh, …), or override cellKind")
    }
    /// Whether this class of link runs both directions (the `NStepBi…` links override it).
    class var isBidirectional: Bool { false }

    /// Chainer's `(n_layers, in_size, out_size, dropout)`.
    /// - Parameters:
    ///   - nLayers: stacked layers (at least 1).
    ///   - inSize: the width of the first layer's input; later layers read `directions · outSize`.
    ///   - outSize: units per layer and direction.
    ///   - dropout: the ratio of dropout on the inputs of layers after the first (training mode only), in [0, 1).
    ///   - initialW: every weight's initializer (LeCun normal, as Chainer's default).
    ///   - initialBias: every bias's initializer (zeros).
    ///   - dtype: the parameters' dtype.
    ///   - rng: the generator the initializers draw from.
    public required init(_ nLayers: Int, _ inSize: Int, _ outSize: Int, _ dropout: Double, initialW: Initializer? = nil,
                         initialBias: Initializer? = nil, dtype: DType = .float32, rng: RandomState = .global) {
        let cell = Self.cellKind, bidirectional = Self.isBidirectional
        let name = Self.linkName(cell, bidirectional)
        if nLayers < 1 || inSize < 1 || outSize < 1 {
            typeCheckFailure("\(name): nLayers, inSize and outSize must be positive, got \(nLayers), \(inSize), \(outSize)")
        }
        if !(dropout >= 0 && dropout < 1) { typeCheckFailure("\(name): dropout must be in [0, 1), got \(dropout)") }
        self.cell = cell
        self.nLayers = nLayers
        self.inSize = inSize
        self.outSize = outSize
        self.dropout = dropout
        self.directions = bidirectional ? 2 : 1
        self.initialW = initialW ?? LeCunNormal()
        self.initialBias = initialBias ?? Zero()
        self.rng = rng
        var layers: [Link] = []
        for layer in 0..<nLayers {
            for _ in 0..<directions {
                layers.append(NStepRNNWeights(count: cell.weightCount, inSize: layer == 0 ? inSize : outSize * directions, outSize: outSize,
                                              initialW: self.initialW, initialBias: self.initialBias, dtype: dtype, rng: rng))
            }
        }
        super.init(layers)
    }

    static func linkName(_ cell: NStepCell, _ bidirectional: Bool) -> String {
        let base: String
        switch cell {
        case .lstm: base = "LSTM"
        case .gru: base = "GRU"
        case .rnnTanh: base = "RNNTanh"
        case .rnnReLU: base = "RNNReLU"
        }
        return "NStep" + (bidirectional ? "Bi" : "") + base
    }

    var linkName: String { Self.linkName(cell, directions == 2) }

    /// The weights of each layer and direction (Chainer's `ws`).
    public var ws: [[Parameter]] { items.map { ($0 as! NStepRNNWeights).ws } }
    /// The biases of each layer and direction (Chainer's `bs`).
    public var bs: [[Parameter]] { items.map { ($0 as! NStepRNNWeights).bs } }

    /// Zeros of the states' shape, `(nLayers · directions, batch, outSize)` (Chainer's `init_hx`).
    public func initialState(batch: Int, dtype: DType) -> Variable {
        Variable.constant(NDArray.zeros([nLayers * directions, batch, outSize], dtype: dtype))
    }

    /// Runs the network: `xs[i]` is sequence i, `(length_i, inSize)`; states `(nLayers · directions, xs.count,
    /// outSize)` or nil for zeros.
    func run(_ hx: Variable?, _ cx: Variable?, _ xs: [Variable]) -> (hy: Variable, cy: Variable?, ys: [Variable]) {
        let name = linkName
        if xs.isEmpty { typeCheckFailure("\(name): xs is empty; pass at least one sequence") }
        let dtype = xs[0].dtype
        for (i, x) in xs.enumerated() {
            if x.ndim != 2 || x.shape[1] != inSize {
                typeCheckFailure("\(name): xs[\(i)] must have shape (length, \(inSize)), got \(x.shape)")
            }
            if x.dtype != dtype { typeCheckFailure("\(name): xs[\(i)] has dtype \(x.dtype), xs[0] \(dtype)") }
        }
        let lengths = xs.map { $0.shape[0] }
        if lengths.allSatisfy({ $0 == 0 }) { typeCheckFailure("\(name): every sequence is empty") }
        let stateShape = [nLayers * directions, xs.count, outSize]
        for (v, what) in [(hx, "hx"), (cx, "cx")] {
            if let v, v.shape != stateShape { typeCheckFailure("\(name): \(what) must have shape \(stateShape) (nLayers × directions, sequences, outSize), got \(v.shape)") }
        }
        // Longest first (ties in the caller's order), as Chainer's links sort.
        let order = xs.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        let permuted = order != Array(xs.indices)
        let indices = NDArray(values: order.map { Int64($0) }, shape: [order.count])
        func sortStates(_ s: Variable?) -> Variable? { s.map { permuted ? F.take($0, indices, axis: 1) : $0 } }
        let h0 = sortStates(hx) ?? initialState(batch: xs.count, dtype: dtype)
        let c0: Variable? = cell == .lstm ? (sortStates(cx) ?? initialState(batch: xs.count, dtype: dtype)) : nil
        let layout = PackedLayout(lengths: order.map { lengths[$0] })
        let sorted = order.map { xs[$0] }
        let packed = sorted.count == 1 ? sorted[0] : PackSequences(layout).applySingle(sorted)
        let (hy, cy, y) = nStepNetwork(cell, nLayers: nLayers, dropoutRatio: dropout, hx: h0, cx: c0, ws: ws.map { $0.map { $0 as Variable } },
                                       bs: bs.map { $0.map { $0 as Variable } }, x: packed,
                                       layout: layout, directions: directions, rng: dropoutRNG)
        let outs = sorted.count == 1 ? [y] : UnpackSequences(layout).apply([y])
        guard permuted else { return (hy, cy, outs) }
        var inverse = [Int](repeating: 0, count: order.count)
        for (k, i) in order.enumerated() { inverse[i] = k }
        let back = NDArray(values: inverse.map { Int64($0) }, shape: [inverse.count])
        var ys = [Variable](repeating: outs[0], count: outs.count)
        for (k, i) in order.enumerated() { ys[i] = outs[k] }
        return (F.take(hy, back, axis: 1), cy.map { F.take($0, back, axis: 1) }, ys)
    }

    /// Runs the network from `hx` (nil: zeros): returns the final states `hy` `(nLayers · directions, xs.count,
    /// outSize)` and each sequence's outputs, `ys[i]` `(length_i, directions · outSize)` (Chainer's `forward(hx, xs)`).
    /// An LSTM started this way has a zero cell state, and its final cell state is not returned: use
    /// ``NStepLSTMBase/callAsFunction(_:_:_:)`` for it.
    public func callAsFunction(_ hx: Variable?, _ xs: [Variable]) -> (hy: Variable, ys: [Variable]) {
        let r = run(hx, nil, xs)
        return (r.hy, r.ys)
    }

    public override func makeCopy() -> Link {
        let copy = type(of: self).init(nLayers, inSize, outSize, dropout, initialW: initialW, initialBias: initialBias,
                                       dtype: (items[0] as! NStepRNNWeights).w0.dtype, rng: rng)
        copy.dropoutRNG = dropoutRNG
        return copy
    }
}

/// The LSTM forms, which also carry a cell state.
public class NStepLSTMBase: NStepRNNBase {
    /// Runs the network from `hx` and `cx` (nil: zeros): returns the final states `hy`, `cy` `(nLayers · directions,
    /// xs.count, outSize)` and each sequence's outputs, `ys[i]` `(length_i, directions · outSize)` (Chainer's
    /// `forward(hx, cx, xs)`).
    ///
    /// ```swift
    /// let lstm = NStepLSTM(2, 32, 64, 0.1)
    /// let (hy, cy, ys) = lstm(nil, nil, [a, b, c])     // a: (5, 32), b: (3, 32), c: (7, 32)
    /// ```
    public func callAsFunction(_ hx: Variable?, _ cx: Variable?, _ xs: [Variable]) -> (hy: Variable, cy: Variable, ys: [Variable]) {
        let r = run(hx, cx, xs)
        return (r.hy, r.cy!, r.ys)
    }
}

/// Chainer's `L.NStepLSTM(n_layers, in_size, out_size, dropout)`: a stacked LSTM over sequences of different lengths,
/// fused; parameters `l/w0 … l/w7`, `l/b0 … l/b7` per layer `l` (see ``NStepRNNBase``, ``F/nStepLSTM(_:_:_:_:_:_:_:rng:)``).
///
/// ```swift
/// let lstm = NStepLSTM(2, 3, 8, 0.1)            // 2 layers, 3 inputs, 8 units, dropout 0.1 between layers
/// let (hy, cy, ys) = lstm(nil, nil, [a, b])     // a: (5, 3), b: (2, 3) → ys: (5, 8), (2, 8); hy, cy: (2, 2, 8)
/// ```
/// Made with ``NStepRNNBase/init(_:_:_:_:initialW:initialBias:dtype:rng:)``, called with
/// ``NStepLSTMBase/callAsFunction(_:_:_:)`` (nil states start from zeros).
public final class NStepLSTM: NStepLSTMBase {
    override class var cellKind: NStepCell { .lstm }
}

/// Chainer's `L.NStepBiLSTM`: ``NStepLSTM`` in both directions; outputs `(length, 2·outSize)`, states `(2·nLayers, B, outSize)`.
public final class NStepBiLSTM: NStepLSTMBase {
    override class var cellKind: NStepCell { .lstm }
    override class var isBidirectional: Bool { true }
}

/// Chainer's `L.NStepGRU`: a stacked GRU over sequences, fused; six weights and biases per layer (``NStepCell/gru``).
///
/// ```swift
/// let gru = NStepGRU(1, 3, 8, 0)
/// let (hy, ys) = gru(nil, [a, b])               // a: (5, 3), b: (2, 3) → ys: (5, 8), (2, 8); hy: (1, 2, 8)
/// ```
/// Made with ``NStepRNNBase/init(_:_:_:_:initialW:initialBias:dtype:rng:)``, called with
/// ``NStepRNNBase/callAsFunction(_:_:)`` (a nil state starts from zeros). The simple RNNs are used the same way.
public final class NStepGRU: NStepRNNBase {
    override class var cellKind: NStepCell { .gru }
}

/// Chainer's `L.NStepBiGRU`: ``NStepGRU`` in both directions.
public final class NStepBiGRU: NStepRNNBase {
    override class var cellKind: NStepCell { .gru }
    override class var isBidirectional: Bool { true }
}

/// Chainer's `L.NStepRNNTanh`: stacked tanh RNNs over sequences, fused; `w0`/`b0` from the input, `w1`/`b1` from the state.
public final class NStepRNNTanh: NStepRNNBase {
    override class var cellKind: NStepCell { .rnnTanh }
}

/// Chainer's `L.NStepRNNReLU`: as ``NStepRNNTanh`` with ReLU units (with an ``Identity`` `w1`, an IRNN).
public final class NStepRNNReLU: NStepRNNBase {
    override class var cellKind: NStepCell { .rnnReLU }
}

/// Chainer's `L.NStepBiRNNTanh`: ``NStepRNNTanh`` in both directions.
public final class NStepBiRNNTanh: NStepRNNBase {
    override class var cellKind: NStepCell { .rnnTanh }
    override class var isBidirectional: Bool { true }
}

/// Chainer's `L.NStepBiRNNReLU`: ``NStepRNNReLU`` in both directions.
public final class NStepBiRNNReLU: NStepRNNBase {
    override class var cellKind: NStepCell { .rnnReLU }
    override class var isBidirectional: Bool { true }
}
