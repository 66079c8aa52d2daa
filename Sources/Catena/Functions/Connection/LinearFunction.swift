import Foundation

/// `y = x · Wᵀ + b`, with the bias written first and the product accumulated onto it by the GEMM (one pass over
/// the output).
final class LinearFunction: FunctionNode {
    private let nBatchAxes: Int
    @exclusivity(unchecked) private var x: NDArray!, w: NDArray!, inShape: [Int] = []
    init(nBatchAxes: Int) {
        self.nBatchAxes = nBatchAxes
        super.init()
        offersLeafGradientTerms = true
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
        // The common case, a matrix of rows, is used as it is.
        let flat = nBatchAxes == 1 && xIn.ndim == 2
        let rows = flat ? xIn.shape[0] : xIn.shape[..<nBatchAxes].reduce(1, *)
        x = flat ? xIn : xIn.reshaped(rows, xIn.count / Swift.max(rows, 1))
        if x.shape[1] != w.shape[1] {
            typeCheckFailure("linear: x.shape[\(nBatchAxes)...] flattens to \(x.shape[1]) features but W.shape[1] is \(w.shape[1]) (x.shape \(inShape), W.shape \(w.shape))")
        }
        let outSize = w.shape[0]
        var y: NDArray
        if let b {
            if b.ndim != 1 || b.shape[0] != outSize { typeCheckFailure("linear: b.shape \(b.shape) must equal [W.shape[0]] = [\(outSize)]") }
            xIn.checkSameDType(b, op: "linear")
            y = NDArray(uninitializedShape: [rows, outSize], dtype: x.dtype)
            NDArray.gemm(x, w, into: &y, transposeB: true, rowBias: b)
        } else {
            // The product writes every element (zeros when the input has no features).
            y = NDArray(uninitializedShape: [rows, outSize], dtype: x.dtype)
            NDArray.gemm(x, w, into: &y, transposeB: true)
        }
        return [nBatchAxes == 1 ? y : y.reshaped(Array(inShape[..<nBatchAxes]) + [outSize])]
    }

    /// W's gradient is `gyᵀ · x`: handed to the engine as a product, so that the steps of an unrolled RNN sharing W
    /// are summed in one GEMM.
    override func leafGradientTerm(_ index: Int, _ gys: GradSlots<NDArray>) -> LeafGradientTerm? {
        guard index == 1, let g = gys.first else { return nil }
        return .product(lhs: g.reshaped(x.shape[0], w.shape[0]), rhs: x)
    }

    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        guard let g = gys.first else { return GradSlots() }
        var out = GradSlots<NDArray>()
        for (k, i) in targets.enumerated() { out[k] = formula(i, g, x, w) }
        return out
    }

    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        var out = GradSlots<Variable>()
        for (k, g) in backward(targets, [gys.first]).enumerated() { out[k] = g }
        return out
    }

    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        guard let g = gradOutputs[0] else { return indexes.map { _ in nil } }
        let xv = Recorded(input(0)).reshapedTo(x.shape), wv = Recorded(input(1))
        return indexes.map { formula($0, Recorded(g), xv, wv).variable }
    }

    /// gx = gy · W, gW = gyᵀ · x, gb = Σ_rows gy (with x flattened to rows).
    private func formula<V: GradientValue>(_ i: Int, _ gy: V, _ x: V, _ w: V) -> V {
        let g = gy.reshapedTo([x.shape[0], w.shape[0]])
        switch i {
        case 0: return V.matmul(g, w, transA: false, transB: false).reshapedTo(inShape)
        case 1: return V.matmul(g, x, transA: true, transB: false)
        default: return g.summed(axes: [0], keepDims: false)
        }
    }
}

extension F {
    /// `x · Wᵀ + b` (Chainer's `linear`): W is `(out_size, in_size)`, b is `(out_size,)` or nil.
    ///
    /// The first `nBatchAxes` axes of `x` are batch axes; the rest are flattened into `in_size` features, and the
    /// result has shape `x.shape[..<nBatchAxes] + [out_size]`.
    /// - Precondition: the flattened feature count equals `W.shape[1]`; `b.shape == [W.shape[0]]`.
    public static func linear(_ x: Variable, _ w: Variable, _ b: Variable? = nil, nBatchAxes: Int = 1) -> Variable {
        LinearFunction(nBatchAxes: nBatchAxes).applySingle(b.map { [x, w, $0] } ?? [x, w])
    }
}
