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
    private let classWeight: NDArray?
    @exclusivity(unchecked) private var x2 = NDArray.zeros([]), lse = NDArray.zeros([]), labels: [Int] = []
    @exclusivity(unchecked) private var inShape: [Int] = [], tShape: [Int] = [], coeff = 0.0

    init(normalize: Bool, ignoreLabel: Int, reduce: LossReduction, classWeight: NDArray?) {
        self.normalize = normalize
        self.ignoreLabel = ignoreLabel
        self.reduce = reduce
        self.classWeight = classWeight
    }

    override func forward(_ x: NDArray, _ t: NDArray) -> NDArray {
        if !x.dtype.isFloatingPoint { typeCheckFailure("softmax_cross_entropy: x must be floating-point, got \(x.dtype)") }
        if !t.dtype.isInteger { typeCheckFailure("softmax_cross_entropy: t must hold integer labels (int32 or int64), got \(t.dtype)") }
        if x.ndim < 2 { typeCheckFailure("softmax_cross_entropy: x must have a batch and a class axis, got shape \(x.shape)") }
        var expectedT = x.shape
        expectedT.remove(at: 1)
        if t.shape != expectedT {
            typeCheckFailure("softmax_cross_entropy: t.shape \(t.shape) must equal x.shape without axis 1 (\(expectedT)); x.shape is \(x.shape)")
        }
        let classes = x.shape[1]
        if let w = classWeight, w.shape != [classes] || w.dtype != x.dtype {
            typeCheckFailure("softmax_cross_entropy: class_weight must have shape [\(classes)] and dtype \(x.dtype), got \(w.shape) \(w.dtype)")
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
        func go<T: NDFloatingPoint>(_: T.Type) {
            let px = x2.pointer(T.self), pl = lse.pointer(T.self), po = perRow.pointer(T.self)
            let pw = classWeight?.contiguous().pointer(T.self)
            for r in 0..<rows {
                let row = px + r * classes
                var m = row[0]
                for c in 1..<Swift.max(classes, 1) where row[c] > m { m = row[c] }
                if !m.isFinite { m = 0 }
                var s: T = 0
                for c in 0..<classes { s += T._exp(row[c] - m) }
                let l = T._log(s) + m
                pl[r] = l
                let t = labels[r]
                if t == ignoreLabel {
                    po[r] = 0
                } else {
                    po[r] = (l - row[t]) * (pw?[t] ?? 1)
                }
            }
        }
        if x.dtype == .float32 { go(Float.self) } else { go(Double.self) }
        if reduce == .none { return perRow.reshaped(tShape) }
        return perRow.sum() * coeff
    }

    override func backward(_ gIn: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        guard needA else { return (nil, nil) }
        let g = gIn.contiguous()
        let classes = inShape[1], rows = labels.count
        let gx2 = NDArray(uninitializedShape: x2.shape, dtype: x2.dtype)
        func go<T: NDFloatingPoint>(_: T.Type) {
            let px = x2.pointer(T.self), pl = lse.pointer(T.self), pg = g.pointer(T.self), po = gx2.pointer(T.self)
            let pw = classWeight?.contiguous().pointer(T.self)
            for r in 0..<rows {
                let t = labels[r]
                let out = po + r * classes
                if t == ignoreLabel {
                    out.update(repeating: 0, count: classes)
                    continue
                }
                // (softmax − onehot) · weight[t] · upstream gradient
                let scale = (reduce == .none ? pg[r] : pg[0] * T(coeff)) * (pw?[t] ?? 1)
                let row = px + r * classes
                for c in 0..<classes { out[c] = T._exp(row[c] - pl[r]) * scale }
                out[t] -= scale
            }
        }
        if x2.dtype == .float32 { go(Float.self) } else { go(Double.self) }
        var gx = gx2
        if inShape.count > 2 {
            var moved = inShape
            moved.remove(at: 1)
            moved.append(classes)
            gx = gx2.reshaped(moved).movedAxis(-1, to: 1).contiguous()
        }
        return (gx, nil)
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
    ///   - classWeight: an optional weight per class, multiplying each label's loss (not the count).
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
