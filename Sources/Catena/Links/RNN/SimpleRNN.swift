import Foundation

/// The nonlinearity of a ``SimpleRNN``.
public enum RNNActivation: String, Sendable, CaseIterable {
    /// The hyperbolic tangent (Elman's network, Chainer's `n_step_rnn` default).
    case tanh
    /// `max(x, 0)` (the IRNN of Le, Jaitly & Hinton).
    case relu
    /// The logistic sigmoid `1 / (1 + e^-x)` (the classic recurrent network of the dot-product seed).
    case sigmoid

    /// Applies the nonlinearity.
    public func callAsFunction(_ x: Variable) -> Variable {
        switch self {
        case .tanh: return F.tanh(x)
        case .relu: return F.relu(x)
        case .sigmoid: return F.sigmoid(x)
        }
    }
}

/// A stateful Elman RNN layer: `h' = act(upward(x) + lateral(h))`, with `upward` a ``Linear`` with bias and
/// `lateral` one without (on the first step, with no state yet, `act(upward(x))`).
///
/// Chainer has no such link (its simple RNNs are `n_step_rnn`); this one follows its LSTM's naming: parameters
/// `upward/W (outSize, inSize)`, `upward/b (outSize,)` and `lateral/W (outSize, outSize)`. With `activation: .relu`,
/// `lateralInit: Identity()` and `upwardInit: Normal(scale: 0.001)` it is the IRNN of Le, Jaitly & Hinton (2015)
/// (``SimpleRNN/irnn(_:_:rng:)``).
///
/// ```swift
/// let rnn = SimpleRNN(2, 10, activation: .sigmoid)
/// for t in 0..<steps { h = rnn(x[t]) }        // x[t]: (batch, 2)
/// rnn.resetState()                             // the next sequence
/// ```
/// The state keeps the batch size of the first call; a later, smaller batch updates only its first rows (the rest
/// carry through), as for ``LSTM``. A larger batch needs ``resetState()`` first.
public final class SimpleRNN: Chain, UnaryLink {
    /// Input to hidden, with bias: `W (outSize, inSize)`, `b (outSize,)`.
    public let upward: Linear
    /// Hidden to hidden, without bias: `W (outSize, outSize)`.
    public let lateral: Linear
    /// The nonlinearity.
    public let activation: RNNActivation
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
        try serializeRecurrentState(s, &states, units: outSize, link: "SimpleRNN", discardMismatch: discardsMismatchedState)
        h = states[0].value
    }

    /// A layer from `inSize` (nil: inferred on the first call) to `outSize` units.
    /// - Parameters:
    ///   - inSize: the input size; nil infers it from the first input.
    ///   - outSize: the number of hidden units, the size of the state `h`.
    ///   - activation: the nonlinearity `act` (``RNNActivation/tanh`` by default).
    ///   - upwardInit: the input weights' initializer (LeCun normal by default).
    ///   - lateralInit: the recurrent weights' initializer (LeCun normal by default; ``Identity`` for an IRNN).
    ///   - biasInit: the bias's initializer (zeros by default).
    ///   - rng: the generator the initializers draw the weights from.
    public init(_ inSize: Int?, _ outSize: Int, activation: RNNActivation = .tanh, upwardInit: Initializer? = nil,
                lateralInit: Initializer? = nil, biasInit: Initializer? = nil, rng: RandomState = .global) {
        upward = Linear(inSize, outSize, initialW: upwardInit, initialBias: biasInit, rng: rng)
        lateral = Linear(outSize, outSize, nobias: true, initialW: lateralInit, rng: rng)
        self.activation = activation
        super.init()
    }

    /// The IRNN: ReLU units, identity recurrent weights, input weights from N(0, 0.001²).
    public static func irnn(_ inSize: Int?, _ outSize: Int, rng: RandomState = .global) -> SimpleRNN {
        SimpleRNN(inSize, outSize, activation: .relu, upwardInit: Normal(scale: 0.001), lateralInit: Identity(), rng: rng)
    }

    /// The number of units.
    public var outSize: Int { upward.outSize }

    /// Forgets the state.
    public func resetState() { h = nil }

    /// Sets the state explicitly.
    /// - Precondition: `h` has shape `(batch, outSize)`.
    public func setState(_ h: Variable) {
        if h.ndim != 2 || h.shape[1] != outSize { typeCheckFailure("SimpleRNN.setState: h must have shape (batch, \(outSize)), got \(h.shape)") }
        self.h = h
    }

    /// One time step: returns the new state (batch, outSize).
    public func callAsFunction(_ x: Variable) -> Variable {
        let (out, state) = recurrentStep(h, x, link: "SimpleRNN") { h in
            let z = upward(x)
            return activation(h.map { z + lateral($0) } ?? z)
        }
        h = state
        return out
    }

    public override func makeCopy() -> Link {
        SimpleRNN(upward.inSize, upward.outSize, activation: activation, upwardInit: upward.W.initializer,
                  lateralInit: lateral.W.initializer, biasInit: upward.b?.initializer, rng: upward.W.rng)
    }
}
