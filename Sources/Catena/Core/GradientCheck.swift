import Foundation

/// A gradient computed by backward disagrees with the finite-difference estimate.
public struct GradientCheckError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Checks a function's backward against central finite differences, in float64 (Chainer's `check_backward`).
///
/// Floating-point inputs are converted to float64 and perturbed by `±eps`; integer inputs (labels, ids) are passed
/// through unchanged and not checked. The scalar `L = Σᵢ sum(yᵢ · gyᵢ)` — with `gyᵢ` from `gradOutputs` or drawn
/// from a normal distribution seeded by `seed` — is differentiated two ways: by ``grad(_:_:gradOutputs:)`` and by
/// `(L(x + eps·e) − L(x − eps·e)) / 2eps`. Inputs with up to `elementwiseLimit` elements in total are checked
/// element by element; larger ones along three random directions.
///
/// ```swift
/// try gradientCheck({ xs in F.tanh(xs[0]) * xs[1] }, inputs: [x, y])
/// ```
/// - Parameters:
///   - f: the computation, from variables to outputs; it must be deterministic.
///   - noGradInputs: positions of float inputs to leave out of the check (they still get float64 data).
/// - Throws: ``GradientCheckError`` naming the input, the element and both values at the first mismatch beyond
///   `atol + rtol · |numerical|`.
public func gradientCheck(
    _ f: ([Variable]) -> [Variable], inputs: [NDArray], gradOutputs: [NDArray]? = nil,
    eps: Double = 1e-3, atol: Double = 1e-5, rtol: Double = 1e-4, noGradInputs: Set<Int> = [],
    elementwiseLimit: Int = 2000, seed: UInt64 = 0
) throws {
    let rng = RandomState(seed: seed)
    let data = inputs.map { $0.dtype.isFloatingPoint ? $0.astype(.float64) : $0 }
    let checked = data.indices.filter { data[$0].dtype.isFloatingPoint && !noGradInputs.contains($0) }
    let xs = data.enumerated().map { Variable($0.element, requiresGrad: checked.contains($0.offset)) }
    let ys = f(xs)
    let gys = gradOutputs?.map { $0.astype(.float64) } ?? ys.map { rng.normal(shape: $0.shape, dtype: .float64) }
    if gys.count != ys.count { throw GradientCheckError(message: "gradientCheck: \(gys.count) output gradients for \(ys.count) outputs") }
    for (y, g) in zip(ys, gys) where y.shape != g.shape {
        throw GradientCheckError(message: "gradientCheck: an output has shape \(y.shape) but its gradient has \(g.shape)")
    }
    let analytic = grad(ys, checked.map { xs[$0] }, gradOutputs: gys)

    func objective(_ values: [NDArray]) -> Double {
        noBackpropMode {
            let out = f(values.enumerated().map { Variable($0.element, requiresGrad: checked.contains($0.offset)) })
            var total = 0.0
            for (y, g) in zip(out, gys) where y.dtype.isFloatingPoint { total += (y.array.astype(.float64) * g).sum().item() }
            return total
        }
    }

    let totalSize = checked.reduce(0) { $0 + data[$1].count }
    if totalSize <= elementwiseLimit {
        for (k, i) in checked.enumerated() {
            let a = analytic[k]?.toDoubles() ?? [Double](repeating: 0, count: data[i].count)
            for j in 0..<data[i].count {
                var plus = data, minus = data
                plus[i] = perturbed(data[i], at: j, by: eps)
                minus[i] = perturbed(data[i], at: j, by: -eps)
                let numeric = (objective(plus) - objective(minus)) / (2 * eps)
                if !(Swift.abs(a[j] - numeric) <= atol + rtol * Swift.abs(numeric)) {
                    throw GradientCheckError(message: "gradientCheck: input \(i) (shape \(data[i].shape)), element \(j) \(unravelIndex(j, data[i].shape)): backward gives \(a[j]), finite differences give \(numeric)")
                }
            }
        }
        return
    }
    for trial in 0..<3 {
        let directions = checked.map { rng.normal(shape: data[$0].shape, dtype: .float64) }
        var plus = data, minus = data
        var predicted = 0.0
        for (k, i) in checked.enumerated() {
            plus[i] = data[i] + directions[k] * eps
            minus[i] = data[i] - directions[k] * eps
            if let a = analytic[k] { predicted += (a.astype(.float64) * directions[k]).sum().item() }
        }
        let numeric = (objective(plus) - objective(minus)) / (2 * eps)
        if !(Swift.abs(predicted - numeric) <= atol + rtol * Swift.abs(numeric)) {
            throw GradientCheckError(message: "gradientCheck: along random direction \(trial), backward gives \(predicted), finite differences give \(numeric)")
        }
    }
}

/// Single-output form of ``gradientCheck(_:inputs:gradOutputs:eps:atol:rtol:noGradInputs:elementwiseLimit:seed:)``.
public func gradientCheck(
    _ f: ([Variable]) -> Variable, inputs: [NDArray], gradOutput: NDArray? = nil,
    eps: Double = 1e-3, atol: Double = 1e-5, rtol: Double = 1e-4, noGradInputs: Set<Int> = [],
    elementwiseLimit: Int = 2000, seed: UInt64 = 0
) throws {
    try gradientCheck({ [f($0)] }, inputs: inputs, gradOutputs: gradOutput.map { [$0] }, eps: eps, atol: atol, rtol: rtol,
                      noGradInputs: noGradInputs, elementwiseLimit: elementwiseLimit, seed: seed)
}

private func perturbed(_ a: NDArray, at flat: Int, by delta: Double) -> NDArray {
    var values = a.toDoubles()
    values[flat] += delta
    return NDArray(values, shape: a.shape, dtype: a.dtype)
}

private func unravelIndex(_ flat: Int, _ shape: [Int]) -> [Int] {
    var rest = flat
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        idx[d] = rest % shape[d]
        rest /= shape[d]
    }
    return idx
}
