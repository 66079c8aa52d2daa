import Foundation

/// A table of vectors indexed by integer ids (Chainer's `L.EmbedID`): `W` is `(inSize, outSize)`, drawn from
/// `initialW` (N(0, 1) by default, as in Chainer). Ids equal to `ignoreLabel` give zero vectors.
public final class EmbedID: Link, UnaryLink {
    /// The table, one row per id.
    public let W: Parameter
    /// Ids that map to zeros and receive no gradient.
    public let ignoreLabel: Int?

    /// A table of `inSize` ids, each an `outSize`-wide vector: `x`: ids of any shape → `x.shape + [outSize]`.
    /// - Parameters:
    ///   - inSize: the number of ids (the vocabulary size); ids run over `0..<inSize`.
    ///   - outSize: the width of each vector.
    ///   - initialW: the table's initializer (N(0, 1) by default, as in Chainer).
    ///   - ignoreLabel: an id that gives a zero vector and no gradient (nil: none).
    ///   - rng: the generator the initializer draws from.
    public init(_ inSize: Int, _ outSize: Int, initialW: Initializer? = nil, ignoreLabel: Int? = nil, rng: RandomState = .global) {
        W = Parameter(initializer: initialW ?? Normal(scale: 1), shape: [inSize, outSize], rng: rng, name: "W")
        self.ignoreLabel = ignoreLabel
        super.init()
    }

    /// The rows for the ids in `x` (int32 or int64), shape `x.shape + [outSize]`.
    public func callAsFunction(_ x: Variable) -> Variable { F.embedID(x, W, ignoreLabel: ignoreLabel) }

    /// The rows for the ids in an array.
    public func callAsFunction(_ x: NDArray) -> Variable { F.embedID(.constant(x), W, ignoreLabel: ignoreLabel) }

    public override func makeCopy() -> Link {
        EmbedID(W.shape[0], W.shape[1], initialW: W.initializer, ignoreLabel: ignoreLabel, rng: W.rng)
    }
}
