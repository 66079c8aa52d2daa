#if !CATENA_FUZZ_HARNESS
import Catena
#endif

/// The model of the patch-RNN seed (MinPy's "RNN on MNIST"): a tanh RNN reads each image `patch` pixels at a time
/// and a linear layer names the digit from its last state. h_t = tanh(x_t·Wxᵀ + h_{t-1}·Whᵀ + b), h_0 = 0,
/// scores = h_T·Waᵀ + ba; the recurrent weights start as the identity with a zero bias, the others Xavier (Glorot).
public final class PatchRNN: Chain, UnaryLink {
    public let rnn: SimpleRNN
    public let out: Linear
    public let patch: Int

    public init(patch: Int, units: Int, rng: RandomState) {
        self.patch = patch
        rnn = SimpleRNN(patch, units, activation: .tanh, upwardInit: GlorotUniform(), lateralInit: Identity(), biasInit: Zero(), rng: rng)
        out = Linear(units, 10, initialW: GlorotUniform(), rng: rng)
        super.init()
    }

    /// Scores for 10 classes from `x`: (batch, 784) normalised pixels, read `patch` at a time.
    public func callAsFunction(_ x: Variable) -> Variable {
        let batch = x.shape[0], steps = x.shape[1] / patch
        let sequence = x.array.reshaped(batch, steps, patch).transposed([1, 0, 2]).contiguous()   // (steps, batch, patch)
        rnn.resetState()
        var h = x
        for t in 0..<steps { h = rnn(.constant(sequence[t])) }
        return out(h)
    }
}
