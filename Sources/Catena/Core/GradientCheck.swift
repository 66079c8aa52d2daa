import Foundation

/// A gradient computed by backward disagrees with the finite-difference estimate (or two ways of computing it
/// disagree with each other).
public struct GradientCheckError: Error, CustomStringConvertible {
    /// What disagreed: the input and element (or the random direction) with the two values, or a mismatch of
    /// shapes or counts.
    public let message: String
    public var description: String { message }
}

/// Checks a function's backward against central finite differences, in float64 (Chainer's `check_backward`; named
/// `gradientCheck` because `check` alone says nothing in Swift's global namespace, and the double-backward check keeps
/// Chainer's name, ``checkDoubleBackward(_:inputs:gradOutputs:gradGradInputs:eps:atol:rtol:seed:)``).
///
/// Floating-point inputs are converted to float64 and perturbed by `±eps`; integer inputs (labels, ids) are passed
/// through unchanged and not checked. The scalar `L = Σᵢ sum(yᵢ · gyᵢ)` — with `gyᵢ` from `gradOutputs` or drawn
/// from a normal distribution seeded by `seed` — is differentiated by `(L(x + eps·e) − L(x − eps·e)) / 2eps` and
/// by each of the three ways Catena computes gradients, which must all agree:
/// - ``grad(_:_:gradOutputs:)``, the plain pass that touches no variable's `grad`;
/// - ``Variable/backward(retainGrad:enableDoubleBackprop:)`` into the inputs as leaves, the pass training uses, with
///   the engine's shortcuts for leaf gradients (products gathered over a pass, rows added in place);
/// - ``grad(_:_:gradOutputs:enableDoubleBackprop:)`` with double backprop, the recorded pass.
///
/// Inputs with up to `elementwiseLimit` elements in total are checked element by element; larger ones along three
/// random directions.
///
/// ```swift
/// try gradientCheck({ xs in [F.tanh(xs[0]) * xs[1]] }, inputs: [x, y])
/// ```
/// - Parameters:
///   - f: the computation, from variables to outputs; it must be deterministic.
///   - inputs: the arrays `f` is checked at, one variable each; float ones are converted to float64.
///   - gradOutputs: the output gradients `gyᵢ`, one per output with its shape (converted to float64); nil draws them
///     from a normal distribution.
///   - eps: the finite-difference step.
///   - atol: the absolute tolerance of the comparison with finite differences.
///   - rtol: the relative tolerance of the comparison with finite differences.
///   - noGradInputs: positions of float inputs to leave out of the check (they still get float64 data).
///   - elementwiseLimit: the most elements, over all checked inputs, checked one by one; above it the check runs
///     along three random directions.
///   - seed: the seed of the random output gradients and directions.
/// - Throws: ``GradientCheckError`` naming the input, the element and both values at the first mismatch beyond
///   `atol + rtol · |numerical|`, or the two passes that disagree.
public func gradientCheck(
    _ f: ([Variable]) -> [Variable], inputs: [NDArray], gradOutputs: [NDArray]? = nil,
    eps: Double = 1e-3, atol: Double = 1e-5, rtol: Double = 1e-4, noGradInputs: Set<Int> = [],
    elementwiseLimit: Int = 2000, seed: UInt64 = 0
) throws {
    let rng = RandomState(seed: seed)
    let data = inputs.map { $0.dtype.isFloatingPoint ? $0.astype(.float64) : $0 }
    let checked = data.indices.filter { data[$0].dtype.isFloatingPoint && !noGradInputs.contains($0) }
    func variables(_ values: [NDArray]) -> [Variable] {
        values.enumerated().map { Variable($0.element, requiresGrad: checked.contains($0.offset)) }
    }
    let xs = variables(data)
    let ys = f(xs)
    let gys = gradOutputs?.map { $0.astype(.float64) } ?? ys.map { rng.normal(shape: $0.shape, dtype: .float64) }
    if gys.count != ys.count { throw GradientCheckError(message: "gradientCheck: \(gys.count) output gradients for \(ys.count) outputs") }
    for (y, g) in zip(ys, gys) where y.shape != g.shape {
        throw GradientCheckError(message: "gradientCheck: an output has shape \(y.shape) but its gradient has \(g.shape)")
    }
    let analytic = grad(ys, checked.map { xs[$0] }, gradOutputs: gys)

    // The same gradients by backward() into fresh leaves, and by a recorded pass.
    let leaves = variables(data)
    let outs = f(leaves)
    backward(outs, gradOutputs: gys)
    let recorded = forceBackpropMode { () -> [Variable?] in
        let vs = variables(data)
        return grad(f(vs), checked.map { vs[$0] }, gradOutputs: gys.map { Variable.constant($0) }, enableDoubleBackprop: true)
    }
    for (k, i) in checked.enumerated() {
        let reference = analytic[k]?.toDoubles() ?? [Double](repeating: 0, count: data[i].count)
        for (name, other) in [("backward()", leaves[i].grad), ("a recorded grad()", recorded[k]?.array)] {
            let values = other?.toDoubles() ?? [Double](repeating: 0, count: data[i].count)
            for j in values.indices where !(Swift.abs(values[j] - reference[j]) <= 1e-9 + 1e-7 * Swift.abs(reference[j])) {
                throw GradientCheckError(message: "gradientCheck: input \(i), element \(j) \(unravelIndex(j, data[i].shape)): grad() gives \(reference[j]), \(name) gives \(values[j])")
            }
        }
    }

    func objective(_ values: [NDArray]) -> Double {
        noBackpropMode {
            let out = f(variables(values))
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

/// Checks a function's second derivatives against finite differences of its first (Chainer's
/// `check_double_backward`), in float64.
///
/// The first-order gradient `g(x, gy) = ∂(Σ f(x)·gy)/∂x` is computed with double backprop
/// (``grad(_:_:gradOutputs:enableDoubleBackprop:)``), and its own gradient with respect to both `x` and `gy` —
/// along `gradGradInputs`, or random directions — is checked by
/// ``gradientCheck(_:inputs:gradOutputs:eps:atol:rtol:noGradInputs:elementwiseLimit:seed:)``. Use it for a
/// function of your own whose backward is written with differentiable `F` operations.
///
/// ```swift
/// try checkDoubleBackward({ [F.tanh($0[0]) * $0[1]] }, inputs: [x, y])
/// ```
/// - Throws: ``GradientCheckError`` at the first second derivative that disagrees.
public func checkDoubleBackward(
    _ f: ([Variable]) -> [Variable], inputs: [NDArray], gradOutputs: [NDArray]? = nil, gradGradInputs: [NDArray]? = nil,
    eps: Double = 1e-3, atol: Double = 1e-4, rtol: Double = 1e-3, seed: UInt64 = 1
) throws {
    let rng = RandomState(seed: seed)
    let data = inputs.map { $0.dtype.isFloatingPoint ? $0.astype(.float64) : $0 }
    let floats = data.indices.filter { data[$0].dtype.isFloatingPoint }
    let shapes = noBackpropMode { f(data.map { Variable($0, requiresGrad: false) }).map(\.shape) }
    let gys = gradOutputs?.map { $0.astype(.float64) } ?? shapes.map { rng.normal(shape: $0, dtype: .float64) }
    if gys.count != shapes.count { throw GradientCheckError(message: "checkDoubleBackward: \(gys.count) output gradients for \(shapes.count) outputs") }
    let n = data.count
    // The first-order gradient as a function of (inputs…, output gradients…).
    let firstOrder: ([Variable]) -> [Variable] = { vs in
        forceBackpropMode {
            let xs = Array(vs[..<n])
            let grads = grad(f(xs), floats.map { xs[$0] }, gradOutputs: Array(vs[n...]), enableDoubleBackprop: true)
            // An input the outputs do not depend on has a zero gradient.
            return zip(grads, floats).map { g, i in g ?? Variable.constant(NDArray.zerosLike(xs[i].array)) }
        }
    }
    let ggx = gradGradInputs?.map { $0.astype(.float64) } ?? floats.map { rng.normal(shape: data[$0].shape, dtype: .float64) }
    try gradientCheck(firstOrder, inputs: data + gys, gradOutputs: ggx, eps: eps, atol: atol, rtol: rtol, seed: seed)
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
