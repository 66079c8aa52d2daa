import Foundation

/// `y = x · Wᵀ + b`, with the bias written first and the product accumulated onto it by the GEMM (one pass over
/// the output).
final class LinearFunction: FunctionNode {
    private let nBatchAxes: Int
    @exclusivity(unchecked) private var x = NDArray.zeros([]), w = NDArray.zeros([]), inShape: [Int] = []
    /// Set when x is an embedding's output and the call may use the table `E·Wᵀ + b` (see EmbedLinear.swift).
    @exclusivity(unchecked) private(set) var embed: EmbedSource?
    init(nBatchAxes: Int, embed: EmbedSource? = nil) {
        self.nBatchAxes = nBatchAxes
        self.embed = embed
    }

    override var label: String { "LinearFunction" }

    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        let xIn = inputs[0]
        w = inputs[1]
        let b = inputs.count > 2 ? inputs[2] : nil
        if nBatchAxes < 1 || xIn.ndim <= nBatchAxes {
            typeCheckFailure("linear: x must have more than n_batch_axes (\(nBatchAxes)) axes, got shape \(xIn.shape)")
        }
        if w.ndim != 2 { typeCheckFailure("linear: W must be 2-D (out_size, in_size), got shape \(w.shape)") }
        xIn.checkSameDType(w, op: "linear")
        if !xIn.dtype.isFloatingPoint { typeCheckFailure("linear: expected floating-point inputs, got \(xIn.dtype)") }
        inShape = xIn.shape
        let batchShape = Array(xIn.shape[..<nBatchAxes])
        let rows = batchShape.reduce(1, *)
        x = xIn.reshaped(rows, xIn.count / Swift.max(rows, 1))
        if x.shape[1] != w.shape[1] {
            typeCheckFailure("linear: x.shape[\(nBatchAxes)...] flattens to \(x.shape[1]) features but W.shape[1] is \(w.shape[1]) (x.shape \(inShape), W.shape \(w.shape))")
        }
        let outSize = w.shape[0]
        var y: NDArray
        if let embed {
            y = EmbedLinearTables.shared.table(e: embed.eArray, w: w, b: b).take(checked: embed.ids, indexShape: [rows], axis: 0)
        } else if let b {
            if b.shape != [outSize] { typeCheckFailure("linear: b.shape \(b.shape) must equal [W.shape[0]] = [\(outSize)]") }
            xIn.checkSameDType(b, op: "linear")
            y = b.broadcast(to: [rows, outSize]).contiguous()
            NDArray.gemm(x, w, into: &y, transposeB: true, accumulate: true)
        } else {
            y = NDArray.zeros([rows, outSize], dtype: x.dtype)
            NDArray.gemm(x, w, into: &y, transposeB: true)
        }
        return [nBatchAxes == 1 ? y : y.reshaped(batchShape + [outSize])]
    }

    /// W's gradient is `gyᵀ · x`: handed to the backward pass as a product, so that the steps of an unrolled RNN
    /// sharing W are summed in one GEMM.
    override func gradAsProduct(_ index: Int, _ gy: [NDArray?]) -> (lhs: NDArray, rhs: NDArray)? {
        guard index == 1, let g = gy[0] else { return nil }
        return (g.reshaped(x.shape[0], w.shape[0]), x)
    }

    /// For a call computed from the table: add the output gradient to the pass's accumulator for (E, W, b), when
    /// W and b are leaves (they were when the call was made; unchainBackward() may have released them since).
    override func deferBackward(_ gy: [NDArray?], into accumulators: inout [AnyHashable: DeferredGradient]) -> Bool {
        guard let embed, let g = gy[0], inputCount >= 2 else { return false }
        let wVar = input(1), bVar: Variable? = inputCount > 2 ? input(2) : nil
        // One accumulator per weight variable; a call that used other operand data than the accumulator's (the
        // parameters changed between two calls of one pass) takes the ordinary backward instead.
        let key = AnyHashable(ObjectIdentifier(wVar))
        guard let existing = accumulators[key] else {
            let acc = EmbedLinearGradient(e: embed.e, w: wVar, b: bVar, eArray: embed.eArray, wArray: w)
            acc.add(g, ids: embed.ids)
            accumulators[key] = acc
            return true
        }
        guard let acc = existing as? EmbedLinearGradient, acc.accepts(e: embed.e, b: bVar, eArray: embed.eArray, wArray: w) else { return false }
        acc.add(g, ids: embed.ids)
        return true
    }

    override func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        let g = gy[0]!.reshaped(x.shape[0], w.shape[0])
        return indexes.map { i -> NDArray in
            switch i {
            case 0:
                var gx = NDArray(uninitializedShape: x.shape, dtype: x.dtype)
                NDArray.gemm(g, w, into: &gx)                             // gx = gy · W
                return gx.reshaped(inShape)
            case 1:
                var gw = NDArray(uninitializedShape: w.shape, dtype: w.dtype)
                NDArray.gemm(g, x, into: &gw, transposeA: true)           // gW = gyᵀ · x
                return gw
            default:
                return g.sum(axis: 0)                                     // gb = Σ_rows gy
            }
        }
    }
}

extension F {
    /// `x · Wᵀ + b` (Chainer's `linear`): W is `(out_size, in_size)`, b is `(out_size,)` or nil.
    ///
    /// The first `nBatchAxes` axes of `x` are batch axes; the rest are flattened into `in_size` features, and the
    /// result has shape `x.shape[..<nBatchAxes] + [out_size]`.
    ///
    /// When `x` is the recorded output of ``embedID(_:_:ignoreLabel:)`` over a parameter (a language model's first
    /// layer) and the vocabulary is no larger than the batch, the result is taken from a table `E·Wᵀ + b` kept while
    /// the parameters are unchanged, and the gradients of all such calls in one backward pass are summed by
    /// vocabulary row before three small products: the same values, fewer multiplications per time step.
    /// - Precondition: the flattened feature count equals `W.shape[1]`; `b.shape == [W.shape[0]]`.
    public static func linear(_ x: Variable, _ w: Variable, _ b: Variable? = nil, nBatchAxes: Int = 1) -> Variable {
        let embed = nBatchAxes == 1 ? EmbedSource.behind(x, w: w, b: b) : nil
        return LinearFunction(nBatchAxes: nBatchAxes, embed: embed).applySingle(b.map { [x, w, $0] } ?? [x, w])
    }
}
