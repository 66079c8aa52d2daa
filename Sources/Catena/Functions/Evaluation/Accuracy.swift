import Foundation

extension F {
    /// The fraction of rows whose highest score (argmax along axis 1) equals the label (Chainer's `accuracy`),
    /// in `y`'s dtype. Labels equal to `ignoreLabel` are left out of both counts; if all are, the result is 0.
    /// Not differentiable.
    /// - Precondition: `t.shape` equals `y.shape` without axis 1.
    public static func accuracy(_ y: Variable, _ t: Variable, ignoreLabel: Int? = nil) -> Variable {
        var expected = y.shape
        if expected.count < 2 { typeCheckFailure("accuracy: y must have a batch and a class axis, got shape \(y.shape)") }
        expected.remove(at: 1)
        if t.shape != expected { typeCheckFailure("accuracy: t.shape \(t.shape) must equal y.shape without axis 1 (\(expected))") }
        if !t.dtype.isInteger { typeCheckFailure("accuracy: t must hold integer labels, got \(t.dtype)") }
        let pred = y.array.argmax(axis: 1).astype(.int64).toArray(as: Int64.self)
        let labels = t.array.astype(.int64).toArray(as: Int64.self)
        var correct = 0, counted = 0
        for (p, l) in zip(pred, labels) {
            if let ignoreLabel, l == Int64(ignoreLabel) { continue }
            counted += 1
            if p == l { correct += 1 }
        }
        let acc = counted == 0 ? 0 : Double(correct) / Double(counted)
        return .constant(NDArray(scalar: acc, dtype: y.dtype.isFloatingPoint ? y.dtype : .float32))
    }

    /// ``accuracy(_:_:ignoreLabel:)`` with labels given as an array.
    public static func accuracy(_ y: Variable, _ t: NDArray, ignoreLabel: Int? = nil) -> Variable {
        accuracy(y, .constant(t), ignoreLabel: ignoreLabel)
    }
}
