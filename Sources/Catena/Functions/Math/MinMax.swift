import Foundation

// maximum, minimum, clip: element-wise comparisons with Chainer's gradients at ties and bounds.

/// maximum or minimum of two variables with broadcasting; on a tie the gradient goes to the first argument.
final class MaximumMinimum: BinaryFunction {
    private let isMax: Bool
    @exclusivity(unchecked) private var x0: NDArray!, x1: NDArray!
    init(isMax: Bool) { self.isMax = isMax }
    override var label: String { isMax ? "Maximum" : "Minimum" }
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        x0 = a
        x1 = b
        return isMax ? NDArray.maximum(x0, x1) : NDArray.minimum(x0, x1)
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) { formula(g, needA, needB) }
    private func formula<V: GradientValue>(_ g: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        let first = (isMax ? (x0 .>= x1) : (x0 .<= x1)).broadcast(to: g.shape).contiguous()
        return (needA ? V.maskedGrad(g, first, otherwise: 0).sumTo(x0.shape) : nil,
                needB ? V.maskedGrad(g, first.logicalNot(), otherwise: 0).sumTo(x1.shape) : nil)
    }
}

final class Clip: UnaryFunction {
    private let low: Double, high: Double
    @exclusivity(unchecked) private var x: NDArray!
    init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }
    override func forward(_ input: consuming NDArray) -> NDArray {
        x = input
        return x.clipped(low, high)
    }
    override func backward(_ g: NDArray) -> NDArray { formula(g) }
    override func backward(_ g: Recorded) -> Recorded { formula(g) }
    /// The gradient passes inside the interval and at the bounds themselves (Chainer's mask is low ≤ x ≤ high).
    private func formula<V: GradientValue>(_ g: V) -> V { V.maskedGrad(g, (x .>= low).logicalAnd(x .<= high), otherwise: 0) }
}

extension F {
    /// The larger of each pair, with broadcasting; on a tie the gradient goes to `x0`.
    public static func maximum(_ x0: Variable, _ x1: Variable) -> Variable { MaximumMinimum(isMax: true).call(x0, x1) }
    /// The smaller of each pair, with broadcasting; on a tie the gradient goes to `x0`.
    public static func minimum(_ x0: Variable, _ x1: Variable) -> Variable { MaximumMinimum(isMax: false).call(x0, x1) }
    /// Each element limited to `[low, high]`; the gradient passes inside the interval and at its ends.
    /// - Precondition: `low < high`.
    public static func clip(_ x: Variable, _ low: Double, _ high: Double) -> Variable {
        if !(low < high) { typeCheckFailure("clip: x_min (\(low)) must be less than x_max (\(high))") }
        return Clip(low: low, high: high).call(x)
    }
}
