import Foundation

/// Layer normalisation with a learned scale and shift (Chainer's `L.LayerNormalization`): parameters `gamma`
/// (ones) and `beta` (zeros) of shape `(size,)`, created on the first call when `size` is nil. Note the link's `eps`
/// default is 1e-6, the function's 1e-5, as in Chainer.
public final class LayerNormalization: Link, UnaryLink {
    /// The scale, `(size,)`, initialised to ones unless `initialGamma` is given.
    public let gamma: Parameter
    /// The shift, `(size,)`, initialised to zeros unless `initialBeta` is given.
    public let beta: Parameter
    /// The constant added to the variance for numerical stability (1e-6 by default, Chainer's link default).
    public let eps: Double

    /// A layer normalisation over `size` features (nil: inferred on the first call):
    /// `x`: (batch, size) → (batch, size).
    /// - Parameters:
    ///   - size: the number of features per row; nil creates `gamma` and `beta` on the first call.
    ///   - eps: the constant added to the variance.
    ///   - initialGamma: the scale's initializer (ones by default).
    ///   - initialBeta: the shift's initializer (zeros by default).
    public init(_ size: Int? = nil, eps: Double = 1e-6, initialGamma: Initializer? = nil, initialBeta: Initializer? = nil) {
        gamma = Parameter(initializer: initialGamma ?? One(), shape: size.map { [$0] }, name: "gamma")
        beta = Parameter(initializer: initialBeta ?? Zero(), shape: size.map { [$0] }, name: "beta")
        self.eps = eps
        super.init()
    }

    /// Normalises each row of a 2-D input over its features.
    public func callAsFunction(_ x: Variable) -> Variable {
        let size = x.shape[1...].reduce(1, *)
        if !gamma.isInitialized { gamma.initialize(shape: [size], dtype: x.dtype) }
        if !beta.isInitialized { beta.initialize(shape: [size], dtype: x.dtype) }
        return F.layerNormalization(x.ndim == 2 ? x : x.reshaped(x.shape[0], -1), gamma, beta, eps: eps)
    }

    public override func makeCopy() -> Link {
        LayerNormalization(gamma.isInitialized ? gamma.shape[0] : nil, eps: eps, initialGamma: gamma.initializer, initialBeta: beta.initializer)
    }
}
