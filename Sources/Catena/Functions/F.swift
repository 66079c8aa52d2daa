import Foundation

/// The differentiable functions, under Chainer's names camelCased (`chainer.functions` as `F`).
///
/// Each takes and returns ``Variable``s and records itself in the graph when backprop is on:
///
/// ```swift
/// let h = F.relu(F.linear(x, w, b))
/// let loss = F.softmaxCrossEntropy(h, t)
/// ```
///
/// Variables also support `+ - * /`, unary `-`, `**` and `matmul(_:)` directly, with NumPy broadcasting.
public enum F {}

extension Variable {
    /// A variable that does not require a gradient, for data passed to functions (labels, masks, inputs).
    @inlinable
    public static func constant(_ array: NDArray) -> Variable { Variable(array, requiresGrad: false) }
}
