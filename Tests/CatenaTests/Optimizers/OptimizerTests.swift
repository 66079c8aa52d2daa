import CCatenaKernels
import Foundation
import XCTest

@testable import Catena

/// A link holding one parameter (float64 unless told), for driving optimizers with chosen gradients.
final class OneParam: Chain {
    let w: Parameter
    init(_ values: [Double], dtype: DType = .float64) {
        w = Parameter(NDArray(values, dtype: dtype))
        super.init()
    }
}

final class OptimizerTests: XCTestCase {
    let start: [Double] = [0.5, -1.5, 2.0]
    let grads: [[Double]] = [[0.1, -0.2, 0.3], [0.4, 0.05, -0.6], [-0.3, 0.2, 0.1], [0.0, -0.1, 0.2]]

    /// Runs `optimizer` for the gradient sequence and compares with `reference`, which gets (p, g, step t) per
    /// element and returns the new p, keeping its own state.
    func check(_ optimizer: Optimizer, file: StaticString = #filePath, line: UInt = #line,
               _ reference: (inout [Double], [Double], Int) -> Void) {
        let link = OneParam(start)
        optimizer.setup(link)
        var p = start
        for (k, g) in grads.enumerated() {
            link.w.grad = NDArray(g, dtype: .float64)
            optimizer.update()
            reference(&p, g, k + 1)
            assertClose(link.w.array, p, atol: 1e-12, rtol: 1e-10, "step \(k + 1)", file: file, line: line)
        }
        XCTAssertEqual(optimizer.t, grads.count, file: file, line: line)
        XCTAssertEqual(link.w.updateRule?.t, grads.count, file: file, line: line)
    }

    func testSGDAndMomentumAndNesterov() {
        check(SGD(lr: 0.1)) { p, g, _ in for i in 0..<3 { p[i] -= 0.1 * g[i] } }
        var v = [Double](repeating: 0, count: 3)
        check(MomentumSGD(lr: 0.1, momentum: 0.8)) { p, g, _ in
            for i in 0..<3 { v[i] = 0.8 * v[i] - 0.1 * g[i]; p[i] += v[i] }
        }
        var u = [Double](repeating: 0, count: 3)
        check(NesterovAG(lr: 0.1, momentum: 0.8)) { p, g, _ in
            for i in 0..<3 { u[i] = 0.8 * u[i] - 0.1 * g[i]; p[i] += 0.64 * u[i] - 1.8 * 0.1 * g[i] }
        }
        XCTAssertEqual(SGD().lr, 0.01)
        XCTAssertEqual(MomentumSGD().momentum, 0.9)
    }

    func testAdaGradAdaDeltaRMSprop() {
        var h = [Double](repeating: 0, count: 3)
        check(AdaGrad(lr: 0.1)) { p, g, _ in
            for i in 0..<3 { h[i] += g[i] * g[i]; p[i] -= 0.1 * g[i] / (h[i].squareRoot() + 1e-8) }
        }
        var msg = [Double](repeating: 0, count: 3), msdx = [Double](repeating: 0, count: 3)
        check(AdaDelta()) { p, g, _ in
            for i in 0..<3 {
                msg[i] = 0.95 * msg[i] + 0.05 * g[i] * g[i]
                let dx = ((msdx[i] + 1e-6) / (msg[i] + 1e-6)).squareRoot() * g[i]
                msdx[i] = 0.95 * msdx[i] + 0.05 * dx * dx
                p[i] -= dx
            }
        }
        var ms = [Double](repeating: 0, count: 3)
        check(RMSprop(lr: 0.01)) { p, g, _ in
            for i in 0..<3 { ms[i] = 0.99 * ms[i] + 0.01 * g[i] * g[i]; p[i] -= 0.01 * g[i] / (ms[i].squareRoot() + 1e-8) }
        }
        var ms2 = [Double](repeating: 0, count: 3)
        check(RMSprop(lr: 0.01, epsInsideSqrt: true)) { p, g, _ in
            for i in 0..<3 { ms2[i] = 0.99 * ms2[i] + 0.01 * g[i] * g[i]; p[i] -= 0.01 * g[i] / (ms2[i] + 1e-8).squareRoot() }
        }
    }

    func testAdamAMSGradAndAdamW() {
        for (ams, wd, eta) in [(false, 0.0, 1.0), (true, 0.0, 1.0), (false, 0.01, 0.5)] {
            var m = [Double](repeating: 0, count: 3), v = [Double](repeating: 0, count: 3), vh = [Double](repeating: 0, count: 3)
            check(Adam(alpha: 0.01, eta: eta, weightDecayRate: wd, amsgrad: ams)) { p, g, t in
                let at = 0.01 * (1 - pow(0.999, Double(t))).squareRoot() / (1 - pow(0.9, Double(t)))
                for i in 0..<3 {
                    m[i] += 0.1 * (g[i] - m[i])
                    v[i] += 0.001 * (g[i] * g[i] - v[i])
                    vh[i] = ams ? max(vh[i], v[i]) : v[i]
                    p[i] = (1 - eta * wd) * p[i] - eta * at * m[i] / (vh[i].squareRoot() + 1e-8)
                }
            }
        }
        let adam = Adam()
        XCTAssertEqual(adam.lr, 0.001, "before the first update lr is alpha")
        adam.t = 1
        XCTAssertEqual(adam.lr, 0.001 * (1 - 0.999).squareRoot() / (1 - 0.9), accuracy: 1e-15)
        XCTAssertEqual(AdamRule(parent: adam.hyperparam).stateNames, ["m", "v"])
    }

    /// Float32 Adam runs in the kernel library's vectorised loop on each instruction-set level: every level must give
    /// the formula's float32 bits (each operation rounded on its own, as the reference below), with and without
    /// AMSGrad and weight decay, over a length that is no multiple of a vector width.
    func testFloat32AdamGivesTheFormulasBitsOnEveryKernelLevel() {
        let n = 37
        let start = (0..<n).map { Foundation.sin(Double($0) * 0.7) }
        let grads: [[Double]] = (0..<4).map { (s: Int) -> [Double] in
            let scale = s == 2 ? 1e-3 : 0.1
            return (0..<n).map { (i: Int) -> Double in Foundation.cos(Double(i * (s + 2)) * 0.3) * scale }
        }
        forEachKernelLevel { level in
            for (ams, wd, eta) in [(false, 0.0, 1.0), (true, 0.0, 1.0), (false, 0.01, 0.5)] {
                let link = OneParam(start, dtype: .float32)
                let adam = Adam(alpha: 0.01, eta: eta, weightDecayRate: wd, amsgrad: ams)
                adam.setup(link)
                var p = start.map { Float($0) }
                var m = [Float](repeating: 0, count: n), v = m, vh = m
                let c1: Float = 1 - 0.9, c2: Float = 1 - 0.999, eps: Float = 1e-8, decay = Float(1 - eta * wd)
                for (k, g) in grads.enumerated() {
                    link.w.grad = NDArray(g, dtype: .float32)
                    adam.update()
                    let t = Double(k + 1)
                    let alphaT: Double = 0.01 * (1 - Foundation.pow(0.999, t)).squareRoot() / (1 - Foundation.pow(0.9, t))
                    let step = Float(eta * alphaT)
                    for i in 0..<n {
                        let gi = Float(g[i])
                        m[i] = m[i] + c1 * (gi - m[i])
                        v[i] = v[i] + c2 * (gi * gi - v[i])
                        vh[i] = ams ? Swift.max(vh[i], v[i]) : v[i]
                        p[i] = decay * p[i] - step * m[i] / (vh[i].squareRoot() + eps)
                    }
                    XCTAssertEqual(link.w.array.toArray(as: Float.self), p, "level \(level), amsgrad \(ams), weight decay \(wd), step \(k + 1)")
                }
            }
        }
    }

    /// A parameter past `UpdateRule.parallelElements` is updated in one chunk per thread (of 1 and 2 elements
    /// here, with 2 threads; 1, 1 and 1 with 3): each chunk's state and offset must line up with its elements.
    func testUpdatesSplitAcrossThreadsFollowTheFormula() {
        let savedElements = UpdateRule.parallelElements
        defer { UpdateRule.parallelElements = savedElements }
        UpdateRule.parallelElements = 2
        forEachThreadCount([2, 3]) { _ in
            var m = [Double](repeating: 0, count: 3), v = [Double](repeating: 0, count: 3)
            check(Adam(alpha: 0.01)) { p, g, t in
                let at = 0.01 * (1 - pow(0.999, Double(t))).squareRoot() / (1 - pow(0.9, Double(t)))
                for i in 0..<3 {
                    m[i] += 0.1 * (g[i] - m[i])
                    v[i] += 0.001 * (g[i] * g[i] - v[i])
                    p[i] -= at * m[i] / (v[i].squareRoot() + 1e-8)
                }
            }
            var u = [Double](repeating: 0, count: 3)
            check(MomentumSGD(lr: 0.1, momentum: 0.8)) { p, g, _ in
                for i in 0..<3 { u[i] = 0.8 * u[i] - 0.1 * g[i]; p[i] += u[i] }
            }
        }
    }

    /// Parameters too small to split, together past `UpdateRule.parallelElements`, are updated side by side in
    /// groups (one per thread), and GradientClipping sums and scales them the same way: with 1, 2 and 3 threads each
    /// of five parameters follows clipping then Adam's formula (computed here in Double) at every step.
    func testSmallParametersUpdatedSideBySideFollowTheFormula() {
        final class Five: Chain {
            let a: Parameter, b: Parameter, c: Parameter, d: Parameter, e: Parameter
            init(_ values: [[Double]]) {
                let p = values.map { Parameter(NDArray($0, dtype: .float64)) }
                (a, b, c, d, e) = (p[0], p[1], p[2], p[3], p[4])
                super.init()
            }
            var all: [Parameter] { [a, b, c, d, e] }
        }
        let sizes = [3, 7, 2, 5, 4]
        let starts = sizes.enumerated().map { k, n in (0..<n).map { 0.3 * Double(k) - 0.1 * Double($0) } }
        func gradient(_ k: Int, _ step: Int) -> [Double] { (0..<sizes[k]).map { sin(Double(7 * k + 3 * $0 + step)) } }
        let savedElements = UpdateRule.parallelElements
        defer { UpdateRule.parallelElements = savedElements }
        UpdateRule.parallelElements = 8
        forEachThreadCount([1, 2, 3]) { threads in
            let link = Five(starts)
            let opt = Adam(alpha: 0.01)
            opt.setup(link)
            opt.addHook(GradientClipping(threshold: 1.5))
            var p = starts, m = starts.map { $0.map { _ in 0.0 } }, v = m
            for step in 1...3 {
                let g = (0..<5).map { gradient($0, step) }
                for (k, param) in link.all.enumerated() { param.grad = NDArray(g[k], dtype: .float64) }
                opt.update()
                let norm = g.flatMap { $0 }.map { $0 * $0 }.reduce(0, +).squareRoot()
                let rate = Swift.min(1, 1.5 / norm)
                let at = 0.01 * (1 - pow(0.999, Double(step))).squareRoot() / (1 - pow(0.9, Double(step)))
                for k in 0..<5 {
                    for i in 0..<sizes[k] {
                        let gi = g[k][i] * rate
                        m[k][i] += 0.1 * (gi - m[k][i])
                        v[k][i] += 0.001 * (gi * gi - v[k][i])
                        p[k][i] -= at * m[k][i] / (v[k][i].squareRoot() + 1e-8)
                    }
                    assertClose(link.all[k].array, p[k], atol: 1e-12, rtol: 1e-10, "parameter \(k), step \(step), \(threads) threads")
                    XCTAssertEqual(link.all[k].updateRule?.t, step)
                }
            }
        }
        // Only the library's rules without hooks run side by side.
        let rule = AdamRule(parent: nil)
        XCTAssertTrue(rule.updatesConcurrently)
        rule.addHook({ _, _ in }, name: "noop")
        XCTAssertFalse(rule.updatesConcurrently)
        final class Custom: UpdateRule {}
        XCTAssertFalse(Custom(parent: nil).updatesConcurrently)
    }

    func testMissingGradientsBecomeZerosSoMomentumStillMoves() {
        let link = OneParam([1, 1, 1])
        let opt = MomentumSGD(lr: 0.1, momentum: 0.5)
        opt.setup(link)
        link.w.grad = NDArray([1, 1, 1], dtype: .float64)
        opt.update()   // v = -0.1, p = 0.9
        link.w.clearGrad()
        opt.update()   // grad nil -> zeros: v = -0.05, p = 0.85
        assertClose(link.w.array, [0.85, 0.85, 0.85], atol: 1e-12)
    }

    func testGradientExchangeRunsFirstAndCanSkipTheUpdate() {
        let link = OneParam([1, 2, 3])
        let opt = SGD(lr: 0.5)
        opt.setup(link)
        var seen: [[Double]?] = []
        var allow = true
        // Stands in for a data-parallel mean: halves the gradient before the update and its hooks.
        opt.gradientExchange = { o in
            let w = (o.target as! OneParam).w
            seen.append(w.grad?.toDoubles())
            if let g = w.grad { w.grad = g * 0.5 }
            return allow
        }
        opt.addHook(GradientClipping(threshold: 1e9))
        link.w.grad = NDArray([2, 4, 6], dtype: .float64)
        opt.update()   // p -= 0.5 · (0.5 · g) = p - [0.5, 1, 1.5]
        assertClose(link.w.array, [0.5, 1, 1.5], atol: 1e-15)
        XCTAssertEqual(opt.t, 1)
        allow = false
        link.w.clearGrad()
        opt.update()   // skipped: the exchange sees no gradient (before zero-filling), nothing changes
        assertClose(link.w.array, [0.5, 1, 1.5], atol: 1e-15)
        XCTAssertEqual(opt.t, 1)
        XCTAssertEqual(link.w.updateRule?.t, 1)
        XCTAssertEqual(seen.count, 2)
        XCTAssertEqual(seen[0], [2, 4, 6])
        XCTAssertNil(seen[1] ?? nil)
    }

    func testHyperparametersFallBackOnTheOptimizer() {
        let link = OneParam([1, 1, 1])
        let opt = SGD(lr: 0.1)
        opt.setup(link)
        link.w.updateRule!.hyperparam["lr"] = 0.5
        opt.lr = 0.2
        XCTAssertEqual(link.w.updateRule!.hyperparam["lr"], 0.5, "a rule's own value survives")
        link.w.updateRule!.hyperparam.reset("lr")
        XCTAssertEqual(link.w.updateRule!.hyperparam["lr"], 0.2)
        opt.newEpoch()
        XCTAssertEqual(opt.epoch, 1)
    }

    func testUpdateWithALossFunctionClearsAfterTheForwardPass() {
        let link = OneParam([2, 0, 0])
        let opt = SGD(lr: 0.25)
        opt.setup(link)
        link.w.grad = NDArray([100, 100, 100], dtype: .float64)   // stale: must be discarded
        opt.update { F.sum(link.w * link.w) }                   // grad 2w
        assertClose(link.w.array, [1, 0, 0], atol: 1e-12)
    }

    func testHooks() {
        // WeightDecay and Lasso add to the gradient before the update.
        func run(_ hook: OptimizerHook, _ g: [Double]) -> [Double] {
            let link = OneParam([1, -2, 0.5])
            let opt = SGD(lr: 1)
            opt.setup(link)
            opt.addHook(hook)
            link.w.grad = NDArray(g, dtype: .float64)
            opt.update()
            return link.w.array.toDoubles()
        }
        let g = [0.3, 0.4, 0.0]
        assertClose(NDArray(run(WeightDecay(rate: 0.1), g), dtype: .float64), [1 - 0.3 - 0.1, -2 - 0.4 + 0.2, 0.5 - 0.05], atol: 1e-12)
        assertClose(NDArray(run(Lasso(rate: 0.1), g), dtype: .float64), [1 - 0.4, -2 - 0.3, 0.5 - 0.1], atol: 1e-12)
        assertClose(NDArray(run(GradientHardClipping(lowerBound: -0.1, upperBound: 0.35), g), dtype: .float64), [0.7, -2.35, 0.5], atol: 1e-12)
        // Global norm clipping: ‖(0.3, 0.4)‖ = 0.5 → scaled to 0.25; below the threshold nothing changes.
        assertClose(NDArray(run(GradientClipping(threshold: 0.25), g), dtype: .float64), [1 - 0.15, -2 - 0.2, 0.5], atol: 1e-12)
        assertClose(NDArray(run(GradientClipping(threshold: 1), g), dtype: .float64), [0.7, -2.4, 0.5], atol: 1e-12)
        // Gradient noise on the first update has std √eta (t = 0 when the hook runs).
        let noisy = OneParam([Double](repeating: 0, count: 20_000))
        let opt = SGD(lr: 1)
        opt.setup(noisy)
        opt.addHook(GradientNoise(eta: 0.04, rng: RandomState(seed: 3)))
        noisy.w.grad = NDArray.zeros([20_000], dtype: .float64)
        opt.update()
        let v = noisy.w.array.toDoubles()
        let std = (v.map { $0 * $0 }.reduce(0, +) / Double(v.count)).squareRoot()
        XCTAssertEqual(std, 0.2, accuracy: 0.005)
        XCTAssertEqual(opt.hookNames, ["GradientNoise"])
    }

    func testAnOptimizerTrainsAModelEndToEnd() {
        // y = 2x - 1 from noisy-free points with a Linear(1, 1): the loss must fall close to zero.
        let model = Linear(1, 1, rng: RandomState(seed: 0))
        let opt = Adam(alpha: 0.05)
        opt.setup(model)
        let x = NDArray([-1, 0, 1, 2], shape: [4, 1]), t = x * 2 - 1
        var loss = 0.0
        for _ in 0..<300 {
            opt.update {
                let l = F.meanSquaredError(model(Variable.constant(x)), Variable.constant(t))
                loss = l.item()
                return l
            }
        }
        XCTAssertLessThan(loss, 1e-4)
        XCTAssertEqual(model.W.array.item(), 2, accuracy: 0.02)
    }
}
