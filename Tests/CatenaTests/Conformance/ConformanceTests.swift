import Foundation
import XCTest

@testable import Catena

/// The checks every registered function must pass (see `conformanceRegistry`).
final class ConformanceTests: XCTestCase {
    func testBackwardGradAndTheRecordedPassAgreeWithFiniteDifferences() {
        for c in conformanceRegistry {
            XCTAssertNoThrow(try gradientCheck(c.f, inputs: c.inputs, atol: c.atol, rtol: c.rtol), c.name)
        }
    }

    func testSecondDerivativesAgreeWithFiniteDifferencesOfTheFirst() {
        for c in conformanceRegistry where c.twice {
            XCTAssertNoThrow(try checkDoubleBackward(c.f, inputs: c.inputs, atol: Swift.max(c.atol, 1e-4), rtol: Swift.max(c.rtol, 1e-3)), c.name)
        }
    }

    func testFloat32ResultsAreCloseToFloat64Ones() throws {
        for c in conformanceRegistry {
            func run(_ dtype: DType) -> (outputs: [NDArray], grads: [NDArray?]) {
                let xs = c.inputs.map { Variable($0.dtype.isFloatingPoint ? $0.astype(dtype) : $0, requiresGrad: $0.dtype.isFloatingPoint) }
                let ys = c.f(xs)
                let rng = RandomState(seed: 3)
                let gys = ys.map { rng.normal(shape: $0.shape, dtype: .float64).astype($0.dtype) }
                return (ys.map(\.array), grad(ys, xs.filter(\.requiresGrad), gradOutputs: gys))
            }
            let (y64, g64) = run(.float64), (y32, g32) = run(.float32)
            for (a, b) in zip(y32, y64) { assertClose(a, b.astype(a.dtype), atol: c.float32Tolerance, rtol: c.float32Tolerance, "\(c.name) output") }
            for (a, b) in zip(g32, g64) {
                guard let a, let b else { XCTAssertTrue(a == nil && b == nil, c.name); continue }
                XCTAssertEqual(a.dtype, .float32, c.name)
                assertClose(a, b.astype(.float32), atol: c.float32Tolerance, rtol: c.float32Tolerance, "\(c.name) gradient")
            }
        }
    }

    /// Second derivatives with closed forms.
    func testSecondDerivativesOfKnownFunctions() throws {
        // tanh'' = −2 tanh · (1 − tanh²), element-wise.
        let xs = NDArray([-1.5, -0.3, 0, 0.7, 2], dtype: .float64)
        let x = Variable(xs)
        let g = grad([F.sum(F.tanh(x))], [x], enableDoubleBackprop: true)[0]!
        let gg = grad([F.sum(g)], [x])[0]!
        let t = xs.toDoubles().map { Foundation.tanh($0) }
        assertClose(g.array, t.map { 1 - $0 * $0 }, atol: 1e-12)
        assertClose(gg, t.map { -2 * $0 * (1 - $0 * $0) }, atol: 1e-12)
        // The Hessian of Σ x³ is diag(6x): a Hessian-vector product gives 6 x ⊙ v.
        let v = NDArray([0.5, -1, 2, 0.25, 1], dtype: .float64)
        let y = Variable(xs)
        let gy = grad([F.sum(y * y * y)], [y], enableDoubleBackprop: true)[0]!
        let hv = grad([F.sum(gy * Variable.constant(v))], [y])[0]!
        assertClose(hv, zip(xs.toDoubles(), v.toDoubles()).map { 6 * $0 * $1 }, atol: 1e-12)
    }

    /// A Hessian-vector product of an MLP's loss with respect to its weights, against finite differences of the
    /// gradient along the same vector.
    func testAHessianVectorProductOfAnMLPMatchesFiniteDifferencesOfItsGradient() throws {
        let l1 = Linear(3, 4, rng: RandomState(seed: 1)), l2 = Linear(4, 2, rng: RandomState(seed: 2))
        for p in l1.params() + l2.params() { p.array = p.array.astype(.float64) }
        let x = Variable.constant(testArray([5, 3], dtype: .float64)), t = NDArray(values: [Int32(0), 1, 1, 0, 1], shape: [5])
        let params = l1.params() + l2.params()
        func loss() -> Variable { F.softmaxCrossEntropy(l2(F.tanh(l1(x))), t) }
        let rng = RandomState(seed: 5)
        let v = params.map { rng.normal(shape: $0.shape, dtype: .float64) }
        let g = grad([loss()], params, enableDoubleBackprop: true).map { $0! }
        var dot: Variable? = nil
        for (gi, vi) in zip(g, v) { dot = dot.map { $0 + F.sum(gi * Variable.constant(vi)) } ?? F.sum(gi * Variable.constant(vi)) }
        let hv = grad([dot!], params)
        // (∇L(θ + εv) − ∇L(θ − εv)) / 2ε
        let eps = 1e-5, original = params.map(\.array)
        func gradAt(_ sign: Double) -> [NDArray] {
            for (k, p) in params.enumerated() { p.array = original[k] + v[k] * (sign * eps) }
            defer { for (k, p) in params.enumerated() { p.array = original[k] } }
            return grad([loss()], params).map { $0! }
        }
        let plus = gradAt(1), minus = gradAt(-1)
        for k in params.indices { assertClose(hv[k]!, (plus[k] - minus[k]) / (2 * eps), atol: 1e-7, rtol: 1e-5, "parameter \(k)") }
    }

    /// The gradient-penalty pattern of WGAN-GP, word for word: the penalty ‖∂f/∂x‖² gives the parameters of f its
    /// gradient, for Linear, LSTM and GRU links.
    func testAGradientPenaltyTrainsTheLinksParameters() throws {
        func check(_ name: String, _ link: Link, _ f: @escaping (Variable) -> Variable, _ input: NDArray) throws {
            for p in link.params() { p.array = p.array.astype(.float64) }
            let params = link.params(includeUninitialized: false)
            func penalty() -> Double {
                let x = Variable(input)
                F.sum(f(x)).backward(enableDoubleBackprop: true)
                let gx = x.gradVar!
                link.clearGrads()
                return F.sum(gx * gx).item()
            }
            let x = Variable(input)
            F.sum(f(x)).backward(enableDoubleBackprop: true)
            let gx = x.gradVar!
            XCTAssertNotNil(gx.creator, "\(name): the input's gradient carries its graph")
            link.clearGrads()
            F.sum(gx * gx).backward()
            let analytic = params.map { p -> NDArray in
                guard let g = p.grad else {
                    XCTFail("\(name): the penalty gives \(p.name ?? "a parameter") no gradient")
                    return NDArray.zeros(p.shape, dtype: .float64)
                }
                return g
            }
            // Central differences of the penalty in each parameter element.
            for (p, a) in zip(params, analytic) {
                let original = p.array
                for j in 0..<Swift.min(p.count, 6) {
                    var values = original.toDoubles()
                    values[j] += 1e-5
                    p.array = NDArray(values, shape: original.shape, dtype: .float64)
                    let up = penalty()
                    values[j] -= 2e-5
                    p.array = NDArray(values, shape: original.shape, dtype: .float64)
                    let down = penalty()
                    p.array = original
                    XCTAssertEqual(a.toDoubles()[j], (up - down) / 2e-5, accuracy: 1e-6 + 1e-4 * Swift.abs(a.toDoubles()[j]), "\(name) \(p.name ?? "") element \(j)")
                }
            }
        }
        let linear = Linear(3, 2, rng: RandomState(seed: 1))
        try check("Linear", linear, { F.tanh(linear($0)) }, testArray([2, 3], dtype: .float64))
        let lstm = StatelessLSTM(3, 2, rng: RandomState(seed: 2))
        try check("LSTM", lstm, { x in
            let (c, h) = lstm(c: nil, h: nil, x)
            return lstm(c: c, h: h, x).h
        }, testArray([2, 3], dtype: .float64))
        let gru = StatelessGRU(3, 2, rng: RandomState(seed: 3))
        try check("GRU", gru, { x in gru(gru(Variable.constant(NDArray.zeros([2, 2], dtype: .float64)), x), x) }, testArray([2, 3], dtype: .float64, offset: 0.2))
    }
}
