import Foundation

/// Rows of W picked by integer ids; rows for `ignoreLabel` are zeros and receive no gradient.
final class EmbedIDFunction: BinaryFunction {
    private let ignoreLabel: Int?
    /// The row picked for each id (-1 for an ignored one).
    @exclusivity(unchecked) private(set) var ids: [Int] = []
    @exclusivity(unchecked) private var wShape: [Int] = [], outShape: [Int] = []
    init(ignoreLabel: Int?) {
        self.ignoreLabel = ignoreLabel
        super.init()
        offersLeafGradientTerms = true
    }

    override var label: String { "EmbedIDFunction" }

    override func forward(_ x: consuming NDArray, _ w: consuming NDArray) -> NDArray {
        if !x.dtype.isInteger { typeCheckFailure("embed_id: x must hold integer ids (int32, int64 or uint8), got \(x.dtype)") }
        if w.ndim != 2 { typeCheckFailure("embed_id: W must be 2-D (vocabulary, units), got shape \(w.shape)") }
        if !w.dtype.isFloatingPoint { typeCheckFailure("embed_id: W must be a floating-point array, got \(w.dtype)") }
        let vocab = w.shape[0]
        wShape = w.shape
        ids = x.astype(.int64).toArray(as: Int64.self).map { v -> Int in
            let i = Int(v)
            if let ignoreLabel, i == ignoreLabel { return -1 }
            // As Chainer: ids are in 0..<vocabulary (negative ids do not count from the end).
            if i < 0 || i >= vocab {
                typeCheckFailure("embed_id: id \(i) is out of range for a vocabulary of \(vocab) (W.shape \(w.shape))\(ignoreLabel.map { "; ignore_label is \($0)" } ?? "")")
            }
            return i
        }
        outShape = x.shape + [w.shape[1]]
        return w.gatherRows(ids: ids, shape: outShape)
    }

    /// The table's gradient as rows added in place into its existing gradient.
    override func leafGradientTerm(_ index: Int, _ gys: GradSlots<NDArray>) -> LeafGradientTerm? {
        guard index == 1, let g = gys.first else { return nil }
        return .rows(ids: ids, values: g)
    }

    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { (nil, needB ? formula(g) : nil) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) { (nil, needB ? formula(g) : nil) }
    /// gW: each output row added into the row of its id (no gradient for the ids).
    private func formula<V: GradientValue>(_ g: V) -> V { V.scatterRows(g, ids: ids, rows: wShape[0]) }
}

extension F {
    /// The rows of `W` (vocabulary × units) for each integer id in `x`; the result has shape `x.shape + [units]`.
    ///
    /// With `ignoreLabel`, ids equal to it give rows of zeros and no gradient (Chainer's `embed_id`).
    /// - Precondition: `x` is int32, int64 or uint8; every other id is in `0..<vocabulary`.
    public static func embedID(_ x: Variable, _ w: Variable, ignoreLabel: Int? = nil) -> Variable {
        EmbedIDFunction(ignoreLabel: ignoreLabel).call(x, w)
    }
}
