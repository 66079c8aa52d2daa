import Catena
import XCTest

/// `backward()` gathers a weight's gradient from every use before adding it to `grad`: Linear defers its
/// `gyᵀ·x` terms and sums all steps in one product, EmbedID scatters straight into an existing gradient. These
/// tests check the results against finite differences of the loss (Float64), through `backward()`, which takes
/// those paths (`grad(_:_:)` and `gradientCheck` do not).
final class LeafGradientTests: XCTestCase {
    /// A three-step recurrence that uses `W` (and `U`, `E`) once per step, `W` also element-wise, and `b` per step.
    private func loss(_ w: Variable, _ u: Variable, _ b: Variable, _ e: Variable, _ xs: [NDArray], _ ids: [NDArray]) -> Variable {
        var h: Variable? = nil
        var total: Variable? = nil
        for (x, id) in zip(xs, ids) {
            var a = F.linear(.constant(x), w, b) + F.embedID(.constant(id), e)
            if let h { a = a + F.linear(h, u) }
            let next = F.tanh(a)
            let term = F.sum(next * next * 0.5 + next)
            total = total.map { $0 + term } ?? term
            h = next
        }
        return total! + F.sum(w * w) * 0.1
    }

    private struct Problem {
        var w: NDArray, u: NDArray, b: NDArray, e: NDArray
        let xs: [NDArray], ids: [NDArray]
    }

    private func problem() -> Problem {
        let rng = RandomState(seed: 21)
        return Problem(w: rng.normal(shape: [4, 3], std: 0.5, dtype: .float64),
                       u: rng.normal(shape: [4, 4], std: 0.5, dtype: .float64),
                       b: rng.normal(shape: [4], std: 0.5, dtype: .float64),
                       e: rng.normal(shape: [5, 4], std: 0.5, dtype: .float64),
                       xs: (0..<3).map { _ in rng.normal(shape: [2, 3], dtype: .float64) },
                       ids: [NDArray(values: [Int32(1), 3], shape: [2]), NDArray(values: [Int32(3), 3], shape: [2]),
                             NDArray(values: [Int32(0), 4], shape: [2])])
    }

    private func value(_ p: Problem) -> Double {
        noBackpropMode {
            loss(.constant(p.w), .constant(p.u), .constant(p.b), .constant(p.e), p.xs, p.ids).array.item()
        }
    }

    /// Central differences of the loss with respect to each element of one parameter.
    private func numeric(_ p: Problem, _ which: WritableKeyPath<Problem, NDArray>) -> [Double] {
        let eps = 1e-6
        let n = p[keyPath: which].count
        return (0..<n).map { j in
            var plus = p, minus = p
            var vp = p[keyPath: which].toDoubles(), vm = vp
            vp[j] += eps
            vm[j] -= eps
            plus[keyPath: which] = NDArray(vp, shape: p[keyPath: which].shape, dtype: .float64)
            minus[keyPath: which] = NDArray(vm, shape: p[keyPath: which].shape, dtype: .float64)
            return (value(plus) - value(minus)) / (2 * eps)
        }
    }

    func testBackwardAccumulatesEveryUseOfAWeight() {
        let p = problem()
        let w = Parameter(p.w), u = Parameter(p.u), b = Parameter(p.b), e = Parameter(p.e)
        loss(w, u, b, e, p.xs, p.ids).backward()
        for (param, path, name) in [(w, \Problem.w, "W"), (u, \Problem.u, "U"), (b, \Problem.b, "b"), (e, \Problem.e, "E")] {
            let got = param.grad!.toDoubles()
            let want = numeric(p, path)
            for (g, n) in zip(got, want) { XCTAssertEqual(g, n, accuracy: 1e-6 + 1e-6 * abs(n), name) }
        }
    }

    func testASecondBackwardAddsToTheExistingGradient() {
        let p = problem()
        let w = Parameter(p.w), u = Parameter(p.u), b = Parameter(p.b), e = Parameter(p.e)
        loss(w, u, b, e, p.xs, p.ids).backward()
        loss(w, u, b, e, p.xs, p.ids).backward()
        for (param, path, name) in [(w, \Problem.w, "W"), (u, \Problem.u, "U"), (b, \Problem.b, "b"), (e, \Problem.e, "E")] {
            let got = param.grad!.toDoubles()
            let want = numeric(p, path).map { 2 * $0 }
            for (g, n) in zip(got, want) { XCTAssertEqual(g, n, accuracy: 1e-6 + 1e-6 * abs(n), name) }
        }
    }

    func testBackwardAgreesWithGradInFloat32() {
        // The same graph in float32: the deferred product and the direct path must agree to rounding.
        let p = problem()
        let w = Parameter(p.w.astype(.float32)), u = Parameter(p.u.astype(.float32))
        let b = Parameter(p.b.astype(.float32)), e = Parameter(p.e.astype(.float32))
        let xs = p.xs.map { $0.astype(.float32) }
        let viaGrad = grad([loss(w, u, b, e, xs, p.ids)], [w, u, b, e])
        loss(w, u, b, e, xs, p.ids).backward()
        for (k, param) in [w, u, b, e].enumerated() {
            let a = param.grad!.toDoubles(), c = viaGrad[k]!.toDoubles()
            for (x, y) in zip(a, c) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y))) }
        }
        // A second float32 backward adds the summed products onto the gradients already there.
        loss(w, u, b, e, xs, p.ids).backward()
        for (k, param) in [w, u, b, e].enumerated() {
            let a = param.grad!.toDoubles(), c = viaGrad[k]!.toDoubles()
            for (x, y) in zip(a, c) { XCTAssertEqual(x, 2 * y, accuracy: 2e-5 * max(1, abs(y))) }
        }
    }
}
