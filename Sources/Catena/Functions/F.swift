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
///
/// **Higher derivatives.** Every function here that has a gradient can be differentiated again
/// (`backward(enableDoubleBackprop: true)`, `grad(_:_:gradOutputs:enableDoubleBackprop:)`), the fused ones
/// (`lstm`, `softmaxCrossEntropy`, `linear`, `embedID`, `layerNormalization`) included. As in Chainer, the
/// piecewise-linear ones — `relu`, `leakyRelu`, `absolute`, `clip`, `maximum`, `minimum`, `max`, `min`,
/// `meanAbsoluteError`, and `huberLoss` beyond `delta` — have a second derivative of zero wherever they are
/// differentiable (their kinks have none). `argmax`, `argmin` and `accuracy` return integers or counts and have no
/// gradient; `dropout` differentiates through the mask drawn in the forward pass.
public enum F {}

extension Variable {
    /// A variable that does not require a gradient, for data passed to functions (labels, masks, inputs).
    @inlinable
    public static func constant(_ array: NDArray) -> Variable { Variable(array, requiresGrad: false) }
}
