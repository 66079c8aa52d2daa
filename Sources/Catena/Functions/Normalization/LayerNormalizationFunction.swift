import Foundation

/// Layer normalisation over axis 1 of a 2-D input: `(x − μ) / √(σ² + eps) · γ + β` with the biased variance.
final class LayerNormalizationFunction: FunctionNode {
    private let eps: Double
    @exclusivity(unchecked) private var xhat: NDArray!, invStd: NDArray!, gamma: NDArray!
    init(eps: Double) { self.eps = eps }
    override var label: String { "LayerNormalization" }
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        let x = inputs[0]
        gamma = inputs[1]
        let beta = inputs[2]
        if x.ndim != 2 { typeCheckFailure("layer_normalization: x must be 2-D (batch, features), got shape \(x.shape)") }
        if gamma.shape != [x.shape[1]] || beta.shape != [x.shape[1]] {
            typeCheckFailure("layer_normalization: gamma.shape \(gamma.shape) and beta.shape \(beta.shape) must both be [x.shape[1]] = [\(x.shape[1])]")
        }
        let mu = x.mean(axis: 1, keepDims: true)
        let centered = x - mu
        let variance = centered.squared().mean(axis: 1, keepDims: true)
        invStd = 1 / (variance + eps).sqrt()
        xhat = centered * invStd
        return [xhat * gamma + beta]
    }
    override func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        formula(targets, gys, xhat: xhat, invStd: invStd, gamma: gamma)
    }
    override func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        recording(gys) { g in
            // x̂ and 1/σ as functions of x, so that the gradient is differentiable again.
            let x = Recorded(input(0))
            let centered = x - x.summed(axes: [1], keepDims: true) * (1 / Double(x.shape[1]))
            let variance = (centered * centered).summed(axes: [1], keepDims: true) * (1 / Double(x.shape[1]))
            let inv = Recorded.pow(variance + eps, -0.5)
            return formula(targets, g, xhat: centered * inv, invStd: inv, gamma: Recorded(input(1)))
        }
    }
    /// gx = invStd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) with ĝ = gy · γ (means over the features); gγ = Σ gy·x̂;
    /// gβ = Σ gy.
    private func formula<V: GradientValue>(_ targets: [Int], _ gys: GradSlots<V>, xhat: V, invStd: V, gamma: V) -> GradSlots<V> {
        guard let g = gys.first else { return GradSlots() }
        let n = 1 / Double(xhat.shape[1])
        var out = GradSlots<V>()
        for (k, i) in targets.enumerated() {
            switch i {
            case 0:
                let gh = g * gamma
                out[k] = invStd * (gh - gh.summed(axes: [1], keepDims: true) * n - xhat * (gh * xhat).summed(axes: [1], keepDims: true) * n)
            case 1: out[k] = (g * xhat).summed(axes: [0], keepDims: false)
            default: out[k] = g.summed(axes: [0], keepDims: false)
            }
        }
        return out
    }
}

extension F {
    /// Layer normalisation of a 2-D input over its features (axis 1), then scale `gamma` and shift `beta`.
    /// `eps` defaults to 1e-5 as in Chainer's function (the link's default is 1e-6).
    /// - Precondition: `x` is 2-D; `gamma` and `beta` have shape `[x.shape[1]]`.
    public static func layerNormalization(_ x: Variable, _ gamma: Variable, _ beta: Variable, eps: Double = 1e-5) -> Variable {
        LayerNormalizationFunction(eps: eps).applySingle([x, gamma, beta])
    }
}
