import Foundation

/// Layer normalisation over axis 1 of a 2-D input: `(x − μ) / √(σ² + eps) · γ + β` with the biased variance.
final class LayerNormalizationFunction: FunctionNode {
    private let eps: Double
    @exclusivity(unchecked) private var xhat = NDArray.zeros([]), invStd = NDArray.zeros([]), gamma = NDArray.zeros([])
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
    override func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        let g = gy[0]!
        return indexes.map { i -> NDArray in
            switch i {
            case 0:
                // gx = invStd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) with ĝ = gy · γ, means over the features.
                let gh = g * gamma
                return invStd * (gh - gh.mean(axis: 1, keepDims: true) - xhat * (gh * xhat).mean(axis: 1, keepDims: true))
            case 1: return (g * xhat).sum(axis: 0)
            default: return g.sum(axis: 0)
            }
        }
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
