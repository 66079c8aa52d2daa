import Foundation

/// The parameters of Chainer's GRU links: `W_r`, `W_z`, `W` (input to reset gate, update gate and candidate) and
/// `U_r`, `U_z`, `U` (state to the same), all ``Linear`` layers with biases.
///
/// The initializer arguments are Chainer's `init`, `inner_init` and `bias_init`, with `init` spelled `initialW`
/// (as in ``Linear``) because `init` is a Swift keyword.
public class GRUBase: Chain {
    /// The six projections, each a ``Linear`` with bias: `W_r`, `W_z`, `W` `(outSize, inSize)` from the input to the
    /// reset gate, the update gate and the candidate; `U_r`, `U_z`, `U` `(outSize, outSize)` from the state to the
    /// same.
    public let W_r: Linear, U_r: Linear, W_z: Linear, U_z: Linear, W: Linear, U: Linear
    /// The number of units (the width of the state).
    public let outSize: Int
    let initW: Initializer?, innerInit: Initializer?, biasInit: Initializer?

    init(_ inSize: Int, _ outSize: Int, initialW: Initializer?, innerInit: Initializer?, biasInit: Initializer?, rng: RandomState) {
        self.outSize = outSize
        initW = initialW
        self.innerInit = innerInit
        self.biasInit = biasInit
        W_r = Linear(inSize, outSize, initialW: initialW, initialBias: biasInit, rng: rng)
        U_r = Linear(outSize, outSize, initialW: innerInit, initialBias: biasInit, rng: rng)
        W_z = Linear(inSize, outSize, initialW: initialW, initialBias: biasInit, rng: rng)
        U_z = Linear(outSize, outSize, initialW: innerInit, initialBias: biasInit, rng: rng)
        W = Linear(inSize, outSize, initialW: initialW, initialBias: biasInit, rng: rng)
        U = Linear(outSize, outSize, initialW: innerInit, initialBias: biasInit, rng: rng)
        super.init()
    }

    var inSize: Int { W.W.shape[1] }
}

/// A GRU step without internal state (Chainer's `L.StatelessGRU`; note the state comes first):
/// `r = σ(W_r x + U_r h)`, `z = σ(W_z x + U_z h)`, `h̄ = tanh(W x + U(r·h))`, `h' = z·h̄ + (1 − z)·h`.
public final class StatelessGRU: GRUBase {
    /// A GRU step from `inSize` input features to `outSize` units: `h`: (batch, outSize), `x`: (batch, inSize) →
    /// (batch, outSize).
    /// - Parameters:
    ///   - inSize: the number of input features.
    ///   - outSize: the number of units.
    ///   - initialW: the input weights' initializer (Chainer's `init`; LeCun normal by default).
    ///   - innerInit: the state weights' initializer (Chainer's `inner_init`; LeCun normal by default).
    ///   - biasInit: every bias's initializer (Chainer's `bias_init`; zeros by default).
    ///   - rng: the generator the initializers draw from.
    public override init(_ inSize: Int, _ outSize: Int, initialW: Initializer? = nil, innerInit: Initializer? = nil, biasInit: Initializer? = nil,
                         rng: RandomState = .global) {
        super.init(inSize, outSize, initialW: initialW, innerInit: innerInit, biasInit: biasInit, rng: rng)
    }

    /// One step from state `h` with input `x`; returns the new state.
    public func callAsFunction(_ h: Variable, _ x: Variable) -> Variable {
        let r = F.sigmoid(W_r(x) + U_r(h))
        let z = F.sigmoid(W_z(x) + U_z(h))
        let hBar = F.tanh(W(x) + U(r * h))
        return z * hBar + (1 - z) * h
    }

    public override func makeCopy() -> Link {
        StatelessGRU(inSize, outSize, initialW: initW, innerInit: innerInit, biasInit: biasInit, rng: W.W.rng)
    }
}

/// A stateful GRU layer (Chainer's `L.GRU` / `StatefulGRU`). The first step (no state yet) computes
/// `z·h̄` with `z = σ(W_z x)` and `h̄ = tanh(W x)`, as Chainer does.
public final class StatefulGRU: GRUBase, UnaryLink {
    /// The state, or nil before the first call.
    public private(set) var h: Variable?
    /// Whether snapshots include the state `h` (off by default).
    public var serializesState = false
    /// When a loaded state does not fit (another batch size), drop it with a warning instead of throwing.
    public var discardsMismatchedState = false

    public override func serialize(_ s: Serializer) throws {
        try serializeParametersAndChildren(s)
        guard serializesState else { return }
        var states = [(key: "h", value: h)]
        try serializeRecurrentState(s, &states, units: outSize, link: "GRU", discardMismatch: discardsMismatchedState)
        h = states[0].value
    }

    /// A stateful GRU layer from `inSize` input features to `outSize` units: `x`: (batch, inSize) → (batch, outSize).
    /// - Parameters:
    ///   - inSize: the number of input features.
    ///   - outSize: the number of units.
    ///   - initialW: the input weights' initializer (Chainer's `init`; LeCun normal by default).
    ///   - innerInit: the state weights' initializer (Chainer's `inner_init`; LeCun normal by default).
    ///   - biasInit: every bias's initializer (Chainer's `bias_init`; zeros by default).
    ///   - rng: the generator the initializers draw from.
    public override init(_ inSize: Int, _ outSize: Int, initialW: Initializer? = nil, innerInit: Initializer? = nil, biasInit: Initializer? = nil,
                         rng: RandomState = .global) {
        super.init(inSize, outSize, initialW: initialW, innerInit: innerInit, biasInit: biasInit, rng: rng)
    }

    /// Forgets the state.
    public func resetState() { h = nil }

    /// Sets the state explicitly.
    public func setState(_ h: Variable) {
        if h.ndim != 2 || h.shape[1] != outSize { typeCheckFailure("GRU.setState: h must have shape (batch, \(outSize)), got \(h.shape)") }
        self.h = h
    }

    /// One time step: returns the new state (batch, outSize).
    ///
    /// The state keeps the batch size of the first call; a later, smaller batch updates only its first rows (the
    /// rest carry through), as for ``LSTM``. A larger batch needs ``resetState()`` first.
    public func callAsFunction(_ x: Variable) -> Variable {
        let (out, state) = recurrentStep(h, x, link: "GRU") { h in
            var z = W_z(x)
            var hBar = W(x)
            if let h {
                let r = F.sigmoid(W_r(x) + U_r(h))
                z = z + U_z(h)
                hBar = hBar + U(r * h)
            }
            z = F.sigmoid(z)
            hBar = F.tanh(hBar)
            return h.map { z * hBar + (1 - z) * $0 } ?? z * hBar
        }
        h = state
        return out
    }

    public override func makeCopy() -> Link {
        StatefulGRU(inSize, outSize, initialW: initW, innerInit: innerInit, biasInit: biasInit, rng: W.W.rng)
    }
}

/// Chainer's `L.GRU` is the stateful GRU.
public typealias GRU = StatefulGRU
