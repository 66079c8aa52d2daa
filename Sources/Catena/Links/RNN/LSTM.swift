import Foundation

/// The parameters of Chainer's LSTM links: `upward` (input to gates, with bias) and `lateral` (state to gates,
/// without bias), both producing `4·outSize` pre-activations in the interleaved gate layout of ``F/lstm(_:_:)``.
///
/// As in Chainer, each of the four `outSize`-row blocks of the weights is initialised separately (alternating
/// lateral and upward), and the bias is `biasInit` except at the forget gates (`b[4j+2]`), which get
/// `forgetBiasInit` (1 by default).
public class LSTMBase: Chain {
    /// Input to gates: `W (4·outSize, inSize)`, `b (4·outSize,)`.
    public let upward: Linear
    /// Hidden state to gates: `W (4·outSize, outSize)`.
    public let lateral: Linear
    /// The number of units (the width of `c` and `h`).
    public let outSize: Int
    let lateralInit: Initializer, upwardInit: Initializer, biasInit: Initializer, forgetBiasInit: Initializer
    let rng: RandomState

    init(_ inSize: Int?, _ outSize: Int, lateralInit: Initializer?, upwardInit: Initializer?, biasInit: Initializer?,
         forgetBiasInit: Initializer?, rng: RandomState) {
        self.outSize = outSize
        self.lateralInit = lateralInit ?? LeCunNormal()
        self.upwardInit = upwardInit ?? LeCunNormal()
        self.biasInit = biasInit ?? Zero()
        self.forgetBiasInit = forgetBiasInit ?? One()
        self.rng = rng
        upward = Linear(inSize, 4 * outSize, initialW: Zero(), rng: rng)
        lateral = Linear(outSize, 4 * outSize, nobias: true, initialW: Zero(), rng: rng)
        super.init()
        upward.W.initializer = self.upwardInit
        lateral.W.initializer = self.lateralInit
        if let inSize { initializeParams(inSize: inSize) }
    }

    /// Draws the weights block by block and sets the bias with the forget gates' own initial value.
    func initializeParams(inSize: Int, dtype: DType = .float32) {
        let h = outSize
        var lw = NDArray.zeros([4 * h, h], dtype: dtype), uw = NDArray.zeros([4 * h, inSize], dtype: dtype)
        for i in stride(from: 0, to: 4 * h, by: h) {
            lw[i..<(i + h)] = lateralInit.makeArray(shape: [h, h], dtype: dtype, rng: rng)
            uw[i..<(i + h)] = upwardInit.makeArray(shape: [h, inSize], dtype: dtype, rng: rng)
        }
        lateral.W.array = lw
        upward.W.array = uw
        let a = biasInit.makeArray(shape: [h], dtype: dtype, rng: rng), f = forgetBiasInit.makeArray(shape: [h], dtype: dtype, rng: rng)
        var bias = NDArray.zeros([h, 4], dtype: dtype)
        bias[.all, 0] = a
        bias[.all, 1] = a
        bias[.all, 2] = f
        bias[.all, 3] = a
        upward.b!.array = bias.reshaped(4 * h)
        upward.W.clearGrad()
        lateral.W.clearGrad()
    }

    /// Gate pre-activations for `x` (initialising lazy weights from its width on the first call).
    func upwardTerm(_ x: Variable) -> Variable {
        if !upward.W.isInitialized { initializeParams(inSize: x.shape[1...].reduce(1, *), dtype: x.dtype.isFloatingPoint ? x.dtype : .float32) }
        return upward(x)
    }
}

/// A stateful LSTM layer (Chainer's `L.LSTM`): each call consumes one time step and updates the cell state `c` and
/// output `h`, which the next call uses.
///
/// ```swift
/// let lstm = LSTM(100, 100)
/// for x in sequence { h = lstm(x) }
/// lstm.resetState()            // a new sequence
/// ```
/// The state keeps the batch size of the first call; a later, smaller batch updates only its first rows (the rest
/// carry through), as Chainer does. In truncated BPTT, `loss.unchainBackward()` cuts the state's history while
/// keeping its values.
public final class LSTM: LSTMBase, UnaryLink {
    /// The cell state, or nil before the first call.
    public private(set) var c: Variable?
    /// The output of the last call, or nil before the first call.
    public private(set) var h: Variable?
    /// Whether snapshots include the state `c` and `h` (off by default, as in Chainer). Turn it on for a resumed
    /// truncated-BPTT run to continue exactly where it stopped.
    public var serializesState = false
    /// When a loaded state does not fit (another batch size), drop it with a warning instead of throwing.
    public var discardsMismatchedState = false

    /// An LSTM from `inSize` (nil: inferred on the first call) to `outSize` units.
    public override init(_ inSize: Int?, _ outSize: Int, lateralInit: Initializer? = nil, upwardInit: Initializer? = nil,
                         biasInit: Initializer? = nil, forgetBiasInit: Initializer? = nil, rng: RandomState = .global) {
        super.init(inSize, outSize, lateralInit: lateralInit, upwardInit: upwardInit, biasInit: biasInit,
                   forgetBiasInit: forgetBiasInit, rng: rng)
    }

    /// An LSTM to `outSize` units whose input size is inferred (Chainer's `LSTM(n)`).
    public convenience init(_ outSize: Int) { self.init(nil, outSize) }

    /// Forgets the state (a new sequence starts).
    public func resetState() {
        c = nil
        h = nil
    }

    /// Sets the state explicitly.
    /// - Precondition: both have shape `(batch, outSize)`.
    public func setState(c: Variable, h: Variable) {
        if c.ndim != 2 || c.shape[1] != outSize || h.shape != c.shape {
            typeCheckFailure("LSTM.setState: c and h must both have shape (batch, \(outSize)), got \(c.shape) and \(h.shape)")
        }
        self.c = c
        self.h = h
    }

    /// One time step: returns the new output `h` (batch, outSize).
    public func callAsFunction(_ x: Variable) -> Variable {
        checkRecurrentInput(x, link: "LSTM")
        let batch = x.shape[0]
        var z = upwardTerm(x)
        let (hHead, rest) = splitRecurrentState(h, batch: batch, link: "LSTM")
        if let hHead { z = z + lateral(hHead) }
        let cPrev = c ?? Variable.constant(NDArray.zeros([batch, outSize], dtype: x.dtype))
        let out = F.lstm(cPrev, z)
        c = out.c
        h = rest.map { F.concat([out.h, $0], axis: 0) } ?? out.h
        return out.h
    }

    public override func serialize(_ s: Serializer) throws {
        try serializeParametersAndChildren(s)
        guard serializesState else { return }
        var states = [(key: "c", value: c), (key: "h", value: h)]
        try serializeRecurrentState(s, &states, units: outSize, link: "LSTM", discardMismatch: discardsMismatchedState)
        (c, h) = (states[0].value, states[1].value)
    }

    public override func makeCopy() -> Link {
        LSTM(upward.W.isInitialized ? upward.W.shape[1] : nil, outSize, lateralInit: lateralInit, upwardInit: upwardInit,
             biasInit: biasInit, forgetBiasInit: forgetBiasInit, rng: rng)
    }
}

/// An LSTM layer without internal state (Chainer's `L.StatelessLSTM`): the caller passes and keeps `c` and `h`.
public final class StatelessLSTM: LSTMBase {
    /// A stateless LSTM from `inSize` (nil: inferred on the first call) to `outSize` units: `x`: (batch, inSize),
    /// `c`, `h`: (batch, outSize) → new `c`, `h`: (batch, outSize).
    /// - Parameters:
    ///   - inSize: the number of input features; nil creates `upward`'s weight on the first call.
    ///   - outSize: the number of units.
    ///   - lateralInit: the state weights' initializer (LeCun normal by default).
    ///   - upwardInit: the input weights' initializer (LeCun normal by default).
    ///   - biasInit: the bias's initializer except at the forget gates (zeros by default).
    ///   - forgetBiasInit: the forget gates' bias initializer (ones by default).
    ///   - rng: the generator the initializers draw from.
    public override init(_ inSize: Int?, _ outSize: Int, lateralInit: Initializer? = nil, upwardInit: Initializer? = nil,
                         biasInit: Initializer? = nil, forgetBiasInit: Initializer? = nil, rng: RandomState = .global) {
        super.init(inSize, outSize, lateralInit: lateralInit, upwardInit: upwardInit, biasInit: biasInit,
                   forgetBiasInit: forgetBiasInit, rng: rng)
    }

    /// One time step from state `(c, h)` (nil for zeros / no lateral term); returns the new `(c, h)`.
    public func callAsFunction(c: Variable?, h: Variable?, _ x: Variable) -> (c: Variable, h: Variable) {
        var z = upwardTerm(x)
        if let h { z = z + lateral(h) }
        let cPrev = c ?? Variable.constant(NDArray.zeros([x.shape[0], outSize], dtype: x.dtype))
        return F.lstm(cPrev, z)
    }

    public override func makeCopy() -> Link {
        StatelessLSTM(upward.W.isInitialized ? upward.W.shape[1] : nil, outSize, lateralInit: lateralInit, upwardInit: upwardInit,
                      biasInit: biasInit, forgetBiasInit: forgetBiasInit, rng: rng)
    }
}
