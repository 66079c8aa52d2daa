import Foundation

/// A fully connected layer, `y = x·Wᵀ + b` (Chainer's `L.Linear`).
///
/// `W` has shape `(outSize, inSize)` and is drawn from `initialW` (LeCun normal by default); `b` has shape
/// `(outSize,)` and starts at `initialBias` (zeros). With `inSize` nil (or `Linear(outSize)`), `W` is created on the
/// first call from the input's feature count; `b` is created at once, as in Chainer.
public final class Linear: Link, UnaryLink {
    /// The weight, `(outSize, inSize)`.
    public let W: Parameter
    /// The bias, `(outSize,)`, or nil with `nobias`.
    public let b: Parameter?
    /// The number of output features.
    public let outSize: Int

    /// A layer from `inSize` (nil: inferred on the first call) to `outSize` features.
    public init(_ inSize: Int?, _ outSize: Int, nobias: Bool = false, initialW: Initializer? = nil, initialBias: Initializer? = nil,
                rng: RandomState = .global) {
        self.outSize = outSize
        W = Parameter(initializer: initialW ?? LeCunNormal(), shape: inSize.map { [outSize, $0] }, rng: rng, name: "W")
        b = nobias ? nil : Parameter(initializer: initialBias ?? Zero(), shape: [outSize], rng: rng, name: "b")
        super.init()
    }

    /// A layer to `outSize` features whose input size is inferred on the first call (Chainer's `Linear(n)`).
    public convenience init(_ outSize: Int) { self.init(nil, outSize) }

    /// The number of input features, once known.
    public var inSize: Int? { W.isInitialized ? W.shape[1] : nil }

    /// `x·Wᵀ + b`, with the first `nBatchAxes` axes of `x` as batch axes and the rest flattened into features.
    public func callAsFunction(_ x: Variable, nBatchAxes: Int) -> Variable {
        if !W.isInitialized { W.initialize(shape: [outSize, x.shape[nBatchAxes...].reduce(1, *)], dtype: x.dtype) }
        return F.linear(x, W, b, nBatchAxes: nBatchAxes)
    }

    /// `x·Wᵀ + b` for a batch of rows (extra axes are flattened into features).
    public func callAsFunction(_ x: Variable) -> Variable { callAsFunction(x, nBatchAxes: 1) }

    public override func makeCopy() -> Link {
        let l = Linear(W.isInitialized ? W.shape[1] : nil, outSize, nobias: b == nil, initialW: W.initializer, initialBias: b?.initializer, rng: W.rng)
        return l
    }
}
