import Foundation

/// How a loss reduces over examples.
public enum LossReduction: Sendable {
    /// One scalar: the mean over the (counted) examples.
    case mean
    /// One loss per example, unreduced.
    case none
}

/// Log-softmax and the negative log-likelihood of the labels in one pass over each row: the row maximum is
/// subtracted before exponentiating, and backward rebuilds the softmax from the saved log-normaliser.
final class SoftmaxCrossEntropy: BinaryFunction {
    private let normalize: Bool
    private let ignoreLabel: Int
    private let reduce: LossReduction
    private var classWeight: NDArray?
    @exclusivity(unchecked) private var x2: NDArray!, lse: NDArray!, labels: [Int] = []
    @exclusivity(unchecked) private var inShape: [Int] = [], tShape: [Int] = [], coeff = 0.0

    init(normalize: Bool, ignoreLabel: Int, reduce: LossReduction, classWeight: NDArray?) {
        self.normalize = normalize
        self.ignoreLabel = ignoreLabel
        self.reduce = reduce
        self.classWeight = classWeight
    }

    override func forward(_ x: consuming NDArray, _ t: consuming NDArray) -> NDArray {
        if !x.dtype.isFloatingPoint { typeCheckFailure("softmax_cross_entropy: x must be floating-point, got \(x.dtype)") }
        if !t.dtype.isInteger { typeCheckFailure("softmax_cross_entropy: t must hold integer labels (int32 or int64), got \(t.dtype)") }
        if x.ndim < 2 { typeCheckFailure("softmax_cross_entropy: x must have a batch and a class axis, got shape \(x.shape)") }
        var expectedT = x.shape
        expectedT.remove(at: 1)
        if t.shape != expectedT {
            typeCheckFailure("softmax_cross_entropy: t.shape \(t.shape) must equal x.shape without axis 1 (\(expectedT)); x.shape is \(x.shape)")
        }
        let classes = x.shape[1]
        if let w = classWeight {
            if w.shape != [classes] || !w.dtype.isFloatingPoint {
                typeCheckFailure("softmax_cross_entropy: class_weight must be a floating-point array of shape [\(classes)], got \(w.shape) \(w.dtype)")
            }
            // As in Chainer, the weights are applied in x's precision.
            if w.dtype != x.dtype { classWeight = w.astype(x.dtype) }
        }
        inShape = x.shape
        tShape = t.shape
        // Rows of class scores: (N, C) as is; (N, C, d…) with the class axis moved last.
        x2 = x.ndim == 2 ? x.contiguous() : x.movedAxis(1, to: -1).reshaped(-1, classes).contiguous()
        labels = t.astype(.int64).toArray(as: Int64.self).map { Int($0) }
        for l in labels where l != ignoreLabel && (l < 0 || l >= classes) {
            typeCheckFailure("softmax_cross_entropy: label \(l) is out of range for \(classes) classes (ignore_label is \(ignoreLabel))")
        }
        let valid = labels.reduce(0) { $0 + ($1 == ignoreLabel ? 0 : 1) }
        coeff = 1 / Double(Swift.max(normalize ? valid : inShape[0], 1))
        let rows = labels.count
        lse = NDArray(uninitializedShape: [rows], dtype: x.dtype)
        let perRow = NDArray(uninitializedShape: [rows], dtype: x.dtype)
        // Each block of rows: the shifted scores, exponentiated in one vectorised pass, then each row's sum in class order.
        let e = NDArray(uninitializedShape: [rows, classes], dtype: x.dtype)
        func go<T: NDFloatingPoint>(_: T.Type) {
            let px = x2.pointer(T.self), pl = lse.pointer(T.self), po = perRow.pointer(T.self), pe = e.pointer(T.self)
            let pw = classWeight?.contiguous().pointer(T.self)
            let labels = self.labels, ignoreLabel = self.ignoreLabel
            SoftmaxCrossEntropy.forEachRowBlock(rows, classes) { block in
                for r in block {
                    let row = px + r * classes, er = pe + r * classes
                    var m = row[0]
                    for c in 1..<Swift.max(classes, 1) where row[c] > m { m = row[c] }
                    if !m.isFinite { m = 0 }
                    pl[r] = m
                    for c in 0..<classes { er[c] = row[c] - m }
                }
                SoftmaxCrossEntropy.expInPlace(pe + block.lowerBound * classes, block.count * classes)
                for r in block {
                    let row = px + r * classes, er = pe + r * classes
                    var s: T = 0
                    for c in 0..<classes { s += er[c] }
                    let l = T._log(s) + pl[r]
                    pl[r] = l
                    let t = labels[r]
                    if t == ignoreLabel {
                        po[r] = 0
                    } else {
                        po[r] = (l - row[t]) * (pw?[t] ?? 1)
                    }
                }
            }
        }
        x.dtype.withFloatType(orFail: "softmax_cross_entropy: expected a floating-point input, got \(x.dtype)") { go($0) }
        if reduce == .none { return perRow.reshaped(tShape) }
        return perRow.sum() * coeff
    }

    /// Rows × classes from which the rows are split across the threads (each row is computed on its own, so the
    /// values do not depend on the split).
    nonisolated(unsafe) static var parallelElements = 4096

    /// `body(block)` over the rows, in one block of rows per thread when there are ``parallelElements`` values or more.
    static func forEachRowBlock(_ rows: Int, _ classes: Int, _ body: (Range<Int>) -> Void) {
        parallelForRanges(rows, work: rows * classes, threshold: parallelElements, body)
    }

    /// `p[i] = exp(p[i])` for `n` values: float32 through `F.exp`'s vectorised loop (`NDArray.vectorKernel(.exp)`),
    /// other types one value at a time.
    static func expInPlace<T: NDFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self, let exp = NDArray.vectorKernel(.exp) {
            let f = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
            exp(f, f, n)
        } else {
            for i in 0..<n { p[i] = T._exp(p[i]) }
        }
    }

    /// The labels, weights and normaliser a gradient needs (shared with ``SoftmaxCrossEntropyGrad``).
    private var context: SoftmaxCrossEntropyContext {
        SoftmaxCrossEntropyContext(labels: labels, ignoreLabel: ignoreLabel, classWeight: classWeight, coeff: coeff, reduce: reduce)
    }

    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        guard needA else { return (nil, nil) }
        return (unrows(SoftmaxCrossEntropyGrad.kernel(x2, g, lse: lse, context)), nil)
    }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        guard needA else { return (nil, nil) }
        return (unrows(Recorded(SoftmaxCrossEntropyGrad(context).call(rows(inputVariables.0).variable, g.variable))), nil)
    }

    /// The scores as rows of classes: (N, C) as is; (N, C, d…) with the class axis moved last.
    private func rows<V: GradientValue>(_ x: V) -> V {
        guard inShape.count > 2 else { return x }
        var axes = Array(0..<inShape.count)
        axes.remove(at: 1)
        axes.append(1)
        return x.transposedBy(axes).reshapedTo([-1, inShape[1]])
    }

    /// Rows of classes back in the scores' layout.
    private func unrows<V: GradientValue>(_ g: V) -> V {
        guard inShape.count > 2 else { return g }
        var moved = inShape
        moved.remove(at: 1)
        moved.append(inShape[1])
        var axes = Array(0..<(inShape.count - 1))
        axes.insert(inShape.count - 1, at: 1)
        return g.reshapedTo(moved).transposedBy(axes)
    }
}

/// What the gradient of a softmax cross entropy needs besides the scores: the labels, the class weights, the
/// normaliser and the reduction.
struct SoftmaxCrossEntropyContext {
    let labels: [Int], ignoreLabel: Int, classWeight: NDArray?, coeff: Double, reduce: LossReduction

    /// Each row's factor, `weight[t] · coeff` (a mean) or `weight[t]` (per label), 0 for an ignored label, as an
    /// (R, 1) array.
    func rowFactors(dtype: DType) -> NDArray {
        let w = classWeight?.toDoubles()
        let scale = reduce == .none ? 1 : coeff
        return NDArray(labels.map { $0 == ignoreLabel ? 0 : (w?[$0] ?? 1) * scale }, shape: [labels.count, 1], dtype: dtype)
    }

    /// The one-hot labels (zeros for ignored ones) as an (R, C) array.
    func oneHot(classes: Int, dtype: DType) -> NDArray {
        var values = [Double](repeating: 0, count: labels.count * classes)
        for (r, t) in labels.enumerated() where t != ignoreLabel { values[r * classes + t] = 1 }
        return NDArray(values, shape: [labels.count, classes], dtype: dtype)
    }
}

/// The gradient of ``F/softmaxCrossEntropy(_:_:normalize:ignoreLabel:reduce:classWeight:)`` with respect to its
/// scores, `(softmax(x) − onehot(t)) · weight[t] · scale(gy)` for rows of classes `x`, as a function of `x` and the
/// upstream `gy` — fused in one pass over each row, and differentiable again.
final class SoftmaxCrossEntropyGrad: BinaryFunction {
    private let context: SoftmaxCrossEntropyContext
    @exclusivity(unchecked) private var x: NDArray!, gy: NDArray!
    init(_ context: SoftmaxCrossEntropyContext) { self.context = context }

    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        (x, gy) = (a, b)
        return SoftmaxCrossEntropyGrad.kernel(a, b, lse: a.logSumExp(axis: 1), context)
    }

    /// The fused gradient: for each row, `exp(x − lse)·scale`, minus `scale` at the label.
    static func kernel(_ x2: NDArray, _ gIn: NDArray, lse: NDArray, _ c: SoftmaxCrossEntropyContext) -> NDArray {
        let g = gIn.contiguous(), x = x2.contiguous(), l = lse.contiguous()
        let rows = c.labels.count, classes = x.shape[1]
        let gx = NDArray(uninitializedShape: x.shape, dtype: x.dtype)
        func go<T: NDFloatingPoint>(_: T.Type) {
            let px = x.pointer(T.self), pl = l.pointer(T.self), pg = g.pointer(T.self), po = gx.pointer(T.self)
            let pw = c.classWeight?.contiguous().pointer(T.self)
            // Each block of rows: the shifted scores exponentiated in one vectorised pass, then scaled row by row.
            SoftmaxCrossEntropy.forEachRowBlock(rows, classes) { block in
                for r in block {
                    let row = px + r * classes, out = po + r * classes
                    for k in 0..<classes { out[k] = row[k] - pl[r] }
                }
                SoftmaxCrossEntropy.expInPlace(po + block.lowerBound * classes, block.count * classes)
                for r in block {
                    let t = c.labels[r]
                    let out = po + r * classes
                    if t == c.ignoreLabel {
                        out.update(repeating: 0, count: classes)
                        continue
                    }
                    let scale = (c.reduce == .none ? pg[r] : pg[0] * T(c.coeff)) * (pw?[t] ?? 1)
                    for k in 0..<classes { out[k] *= scale }
                    out[t] -= scale
                }
            }
        }
        x.dtype.withFloatType(orFail: "softmax_cross_entropy: expected a floating-point input, got \(x.dtype)") { go($0) }
        return gx
    }

    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, x, gy, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(g, inputVariables.0, inputVariables.1, needA, needB)
    }

    /// With s = softmax(x) and f the row factors: ∂/∂x = scale·s·(ggx − Σ s·ggx) (the softmax Jacobian), and
    /// ∂/∂gy = Σ ggx·(s − onehot)·f (summed over everything for a mean, over each row's classes otherwise).
    private func formula<V: GradientValue>(_ g: V, _ x: V, _ gy: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        let s = x.softmaxValue(axis: 1)
        let f = V.constantValue(context.rowFactors(dtype: x.dtype))
        let scale = (context.reduce == .none ? gy.reshapedTo([context.labels.count, 1]) : gy) * f
        let gx = needA ? scale * s * (g - (s * g).summed(axes: [1], keepDims: true)) : nil
        var ggy: V?
        if needB {
            let terms = g * (s - V.constantValue(context.oneHot(classes: x.shape[1], dtype: x.dtype))) * f
            ggy = context.reduce == .none ? terms.summed(axes: [1], keepDims: false).reshapedTo(gy.shape) : terms.summed(axes: [0, 1], keepDims: false)
        }
        return (gx, ggy)
    }
}

extension F {
    /// The cross entropy of `softmax(x)` along axis 1 against integer labels `t` (Chainer's
    /// `softmax_cross_entropy`), fused and stable.
    ///
    /// - Parameters:
    ///   - x: scores of shape `(N, C)` or `(N, C, d…)`.
    ///   - t: labels of shape `(N)` or `(N, d…)`, int32 or int64.
    ///   - normalize: divide the summed loss by the number of labels not ignored (true) or by N (false).
    ///   - ignoreLabel: labels equal to this contribute no loss and no gradient (default -1).
    ///   - reduce: `.mean` for a scalar, `.none` for one loss per label (0 where ignored).
    ///   - classWeight: an optional weight per class (floating-point, shape `(C)`, applied in x's dtype), multiplying
    ///     each label's loss (not the count).
    /// - Precondition: labels other than `ignoreLabel` are in `0..<C`.
    public static func softmaxCrossEntropy(
        _ x: Variable, _ t: Variable, normalize: Bool = true, ignoreLabel: Int = -1, reduce: LossReduction = .mean,
        classWeight: NDArray? = nil
    ) -> Variable {
        SoftmaxCrossEntropy(normalize: normalize, ignoreLabel: ignoreLabel, reduce: reduce, classWeight: classWeight).call(x, t)
    }

    /// ``softmaxCrossEntropy(_:_:normalize:ignoreLabel:reduce:classWeight:)`` with labels given as an array.
    public static func softmaxCrossEntropy(
        _ x: Variable, _ t: NDArray, normalize: Bool = true, ignoreLabel: Int = -1, reduce: LossReduction = .mean,
        classWeight: NDArray? = nil
    ) -> Variable {
        softmaxCrossEntropy(x, .constant(t), normalize: normalize, ignoreLabel: ignoreLabel, reduce: reduce, classWeight: classWeight)
    }
}
