import Foundation

/// Rows of W picked by integer ids; rows for `ignoreLabel` are zeros and receive no gradient.
final class EmbedIDFunction: BinaryFunction {
    private let ignoreLabel: Int?
    /// The row picked for each id (-1 for an ignored one).
    @exclusivity(unchecked) private(set) var ids: [Int] = []
    @exclusivity(unchecked) private var wShape: [Int] = [], dtype = DType.float32
    /// Which data W held when the rows were picked (its storage, offset and version), so that a function reading
    /// this output can use W's rows directly only while they are still the ones picked.
    @exclusivity(unchecked) private(set) var source: (storage: ObjectIdentifier, offset: Int, version: UInt64)?
    init(ignoreLabel: Int?) { self.ignoreLabel = ignoreLabel }

    override var label: String { "EmbedIDFunction" }

    override func forward(_ x: NDArray, _ wIn: NDArray) -> NDArray {
        let w = wIn.contiguous()
        if !x.dtype.isInteger { typeCheckFailure("embed_id: x must hold integer ids (int32 or int64), got \(x.dtype)") }
        if w.ndim != 2 { typeCheckFailure("embed_id: W must be 2-D (vocabulary, units), got shape \(w.shape)") }
        let vocab = w.shape[0], width = w.shape[1]
        wShape = w.shape
        dtype = w.dtype
        let raw = x.astype(.int64).toArray(as: Int64.self)
        ids = raw.map { v -> Int in
            let i = Int(v)
            if let ignoreLabel, i == ignoreLabel { return -1 }
            if i < -vocab || i >= vocab { typeCheckFailure("embed_id: id \(i) is out of range for a vocabulary of \(vocab) (W.shape \(w.shape))") }
            return i < 0 ? i + vocab : i
        }
        source = (ObjectIdentifier(w.storage), w.offset, w.storage.version)
        let out = NDArray(uninitializedShape: x.shape + [width], dtype: w.dtype)
        let size = w.dtype.itemSize * width
        let src = w.storage.raw + w.offset * w.dtype.itemSize, dst = out.storage.raw
        for (k, i) in ids.enumerated() {
            if i < 0 {
                (dst + k * size).initializeMemory(as: UInt8.self, repeating: 0, count: size)
            } else {
                (dst + k * size).copyMemory(from: src + i * size, byteCount: size)
            }
        }
        return out
    }

    /// Adds the rows of `gy` straight into W's existing gradient.
    override func accumulateGrad(_ index: Int, _ gy: NDArray, into grad: inout NDArray) -> Bool {
        guard index == 1 else { return false }
        grad.makeUniqueContiguous()
        scatter(gy.contiguous(), into: grad)
        return true
    }

    private func scatter(_ g: NDArray, into gw: NDArray) {
        let width = wShape[1]
        func go<T: NDFloatingPoint>(_: T.Type) {
            let d = gw.pointer(T.self), s = g.pointer(T.self)
            for (k, i) in ids.enumerated() where i >= 0 {
                let row = d + i * width, src = s + k * width
                for j in 0..<width { row[j] += src[j] }
            }
        }
        switch dtype {
        case .float32: go(Float.self)
        case .float64: go(Double.self)
        default: typeCheckFailure("embed_id: W must be a floating-point array, got \(dtype)")
        }
    }

    override func backward(_ gIn: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        guard needB else { return (nil, nil) }
        let gw = NDArray.zeros(wShape, dtype: dtype)
        scatter(gIn.contiguous(), into: gw)
        return (nil, gw)
    }
}

extension F {
    /// The rows of `W` (vocabulary × units) for each integer id in `x`; the result has shape `x.shape + [units]`.
    ///
    /// With `ignoreLabel`, ids equal to it give rows of zeros and no gradient (Chainer's `embed_id`).
    /// - Precondition: `x` is int32 or int64; every other id is within `-vocabulary..<vocabulary`.
    public static func embedID(_ x: Variable, _ w: Variable, ignoreLabel: Int? = nil) -> Variable {
        EmbedIDFunction(ignoreLabel: ignoreLabel).call(x, w)
    }
}
