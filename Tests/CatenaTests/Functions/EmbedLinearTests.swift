import XCTest

@testable import Catena

/// `linear(embedID(ids, E), W, b)` computed from the cached table `E·Wᵀ + b`, with its backward gathered over all
/// calls of a pass (EmbedLinear.swift): the values and gradients must be those of the two functions applied in turn.
final class EmbedLinearTests: XCTestCase {
    let vocab = 4, inSize = 3, outSize = 5, batch = 6
    /// Ids of three steps, with repeats and one row never used.
    let steps: [[Int32]] = [[0, 1, 1, 3, 0, 0], [3, 3, 1, 0, 1, 1], [1, 0, 0, 0, 3, 1]]

    private func ids(_ t: Int) -> NDArray { NDArray(values: steps[t], shape: [batch]) }
    /// Fixed output weights per step: the loss is Σ_t Σ coef_t ⊙ y_t.
    private func coef(_ t: Int) -> NDArray { dbl([batch, outSize], scale: 0.7, offset: 0.1 * Double(t)) }

    private func isFused(_ y: Variable) -> Bool { (y.creator as? LinearFunction)?.embed != nil }

    /// The loss of the three steps and whether each step used the table.
    private func loss(_ e: Variable, _ w: Variable, _ b: Variable?) -> (Variable, [Bool]) {
        var total: Variable? = nil
        var fused: [Bool] = []
        for t in 0..<steps.count {
            let y = F.linear(F.embedID(.constant(ids(t)), e), w, b)
            fused.append(isFused(y))
            let l = F.sum(y * .constant(coef(t)))
            total = total.map { $0 + l } ?? l
        }
        return (total!, fused)
    }

    /// The gradients by their formulas, in Double: gE[v] = Σ_{t,i: id=v} coef_t[i]·W, gW = Σ_t coef_tᵀ·E[ids_t],
    /// gb = Σ_t Σ_i coef_t[i].
    private func expected(e: NDArray, w: NDArray) -> (ge: [Double], gw: [Double], gb: [Double]) {
        var ge = [Double](repeating: 0, count: vocab * inSize), gw = [Double](repeating: 0, count: outSize * inSize)
        var gb = [Double](repeating: 0, count: outSize)
        for t in 0..<steps.count {
            let c = coef(t)
            for i in 0..<batch {
                let v = Int(steps[t][i])
                for o in 0..<outSize {
                    gb[o] += c.item(i, o)
                    for k in 0..<inSize {
                        ge[v * inSize + k] += c.item(i, o) * w.item(o, k)
                        gw[o * inSize + k] += c.item(i, o) * e.item(v, k)
                    }
                }
            }
        }
        return (ge, gw, gb)
    }

    func testValuesAndGradientsAreThoseOfEmbedThenLinear() {
        let eArray = dbl([vocab, inSize]), wArray = dbl([outSize, inSize], scale: 0.5), bArray = dbl([outSize], offset: 0.2)
        let e = Variable(eArray), w = Variable(wArray), b = Variable(bArray)
        let y = F.linear(F.embedID(.constant(ids(0)), e), w, b)
        XCTAssertTrue(isFused(y))
        for i in 0..<batch {
            for o in 0..<outSize {
                var s = bArray.item(o)
                for k in 0..<inSize { s += eArray.item(Int(steps[0][i]), k) * wArray.item(o, k) }
                XCTAssertEqual(y.array.item(i, o), s, accuracy: 1e-12)
            }
        }
        // Bit for bit what the product gives for the same rows, in float64 and float32 (a batch of 20 as in B1).
        for dtype in [DType.float64, .float32] {
            let e2 = Variable(testArray([10, 7], dtype: dtype)), w2 = Variable(testArray([9, 7], dtype: dtype, scale: 0.3))
            let b2 = Variable(testArray([9], dtype: dtype, offset: 0.5))
            let tokens = NDArray(values: (0..<20).map { Int32(($0 * 7) % 10) }, shape: [20])
            let x = F.embedID(.constant(tokens), e2)
            let fusedY = F.linear(x, w2, b2), plainY = F.linear(.constant(x.array), w2, b2)
            XCTAssertTrue(isFused(fusedY))
            XCTAssertFalse(isFused(plainY))
            XCTAssertEqual(fusedY.array.toDoubles().map(\.bitPattern), plainY.array.toDoubles().map(\.bitPattern), "\(dtype)")
        }
        let (l, fused) = loss(e, w, b)
        XCTAssertEqual(fused, [true, true, true])
        l.backward()
        let want = expected(e: eArray, w: wArray)
        assertClose(e.grad!, want.ge, shape: [vocab, inSize], atol: 1e-12)
        assertClose(w.grad!, want.gw, shape: [outSize, inSize], atol: 1e-12)
        assertClose(b.grad!, want.gb, shape: [outSize], atol: 1e-12)

        // A second backward adds to the gradients, as for any leaf.
        let (l2, _) = loss(e, w, b)
        l2.backward()
        assertClose(e.grad!, want.ge.map { 2 * $0 }, atol: 1e-12)
        assertClose(w.grad!, want.gw.map { 2 * $0 }, atol: 1e-12)
        assertClose(b.grad!, want.gb.map { 2 * $0 }, atol: 1e-12)
    }

    func testWithoutBiasAFrozenEmbeddingAndGradGiveTheOrdinaryResults() throws {
        let eArray = dbl([vocab, inSize]), wArray = dbl([outSize, inSize], scale: 0.5)
        let want = expected(e: eArray, w: wArray)
        // No bias.
        let e0 = Variable(eArray), w0 = Variable(wArray)
        let (l0, fused0) = loss(e0, w0, nil)
        XCTAssertEqual(fused0, [true, true, true])
        l0.backward()
        assertClose(e0.grad!, want.ge, atol: 1e-12)
        assertClose(w0.grad!, want.gw, atol: 1e-12)
        // E does not require a gradient: the embedding records nothing, so the ordinary path runs.
        let e = Variable(eArray, requiresGrad: false), w = Variable(wArray)
        let (l, fused) = loss(e, w, nil)
        XCTAssertEqual(fused, [false, false, false])
        l.backward()
        XCTAssertNil(e.grad)
        assertClose(w.grad!, want.gw, atol: 1e-12)
        // grad(_:_:) takes the ordinary path and agrees.
        let e2 = Variable(eArray), w2 = Variable(wArray), b2 = Variable(dbl([outSize]))
        let (l2, _) = loss(e2, w2, b2)
        let g = grad([l2], [e2, w2, b2])
        assertClose(g[0]!, want.ge, atol: 1e-12)
        assertClose(g[1]!, want.gw, atol: 1e-12)
        assertClose(g[2]!, want.gb, atol: 1e-12)
        XCTAssertNil(e2.grad)
        // And the composite passes the finite-difference check.
        let idArrays = (0..<steps.count).map(ids), coefs = (0..<steps.count).map(coef)
        try gradientCheck({ v in
            var total: Variable? = nil
            for t in 0..<idArrays.count {
                let s = F.sum(F.linear(F.embedID(.constant(idArrays[t]), v[0]), v[1], v[2]) * .constant(coefs[t]))
                total = total.map { $0 + s } ?? s
            }
            return total!
        }, inputs: [eArray, wArray, dbl([outSize])])
    }

    /// With retainGrad the embedding's output gets its gradient (coef·W), so that call takes the ordinary path; and
    /// an embedding output used twice sends both gradients to E.
    func testRetainGradAndASecondUseOfTheEmbedding() {
        let eArray = dbl([vocab, inSize]), wArray = dbl([outSize, inSize], scale: 0.5)
        let e = Variable(eArray), w = Variable(wArray)
        let x = F.embedID(.constant(ids(0)), e)
        let y = F.linear(x, w)
        XCTAssertTrue(isFused(y))
        let extra = dbl([batch, inSize], scale: 0.3)
        let l = F.sum(y * .constant(coef(0))) + F.sum(x * .constant(extra))
        l.backward(retainGrad: true)
        let c = coef(0)
        var gx = [Double](repeating: 0, count: batch * inSize), ge = [Double](repeating: 0, count: vocab * inSize)
        for i in 0..<batch {
            for k in 0..<inSize {
                var s = extra.item(i, k)
                for o in 0..<outSize { s += c.item(i, o) * wArray.item(o, k) }
                gx[i * inSize + k] = s
                ge[Int(steps[0][i]) * inSize + k] += s
            }
        }
        assertClose(x.grad!, gx, atol: 1e-12)
        assertClose(e.grad!, ge, atol: 1e-12)
        // Without retainGrad the two paths meet in E as well.
        e.clearGrad()
        let x2 = F.embedID(.constant(ids(0)), e)
        (F.sum(F.linear(x2, w) * .constant(c)) + F.sum(x2 * .constant(extra))).backward()
        assertClose(e.grad!, ge, atol: 1e-12)
    }

    /// The table follows the parameters: after they change in place (an optimizer step), the next call uses the
    /// new values. A vocabulary larger than the batch, a changed E, or an ignored id takes the ordinary path.
    func testTheTableFollowsParameterUpdatesAndFusionIsSkippedWhereItDoesNotPay() {
        let e = Parameter(dbl([vocab, inSize]).astype(.float32)), w = Parameter(dbl([outSize, inSize], scale: 0.5).astype(.float32))
        let b = Parameter(dbl([outSize]).astype(.float32))
        func direct() -> [Double] {
            (0..<batch).flatMap { i in (0..<outSize).map { o in
                var s = b.array.item(o)
                for k in 0..<inSize { s += e.array.item(Int(steps[1][i]), k) * w.array.item(o, k) }
                return s
            } }
        }
        let y1 = F.linear(F.embedID(.constant(ids(1)), e), w, b)
        XCTAssertTrue(isFused(y1))
        assertClose(y1.array, direct(), atol: 1e-5)
        final class Holder: Chain {
            let e: Parameter, w: Parameter, b: Parameter
            init(_ e: Parameter, _ w: Parameter, _ b: Parameter) {
                self.e = e
                self.w = w
                self.b = b
                super.init()
            }
        }
        let model = Holder(e, w, b)
        let opt = SGD(lr: 0.5)
        opt.setup(model)
        opt.update { F.sum(F.linear(F.embedID(.constant(ids(0)), e), w, b) * .constant(coef(0).astype(.float32))) }
        let y2 = F.linear(F.embedID(.constant(ids(1)), e), w, b)
        XCTAssertTrue(isFused(y2))
        XCTAssertNotEqual(y2.array.toDoubles(), y1.array.toDoubles(), "the parameters changed")
        assertClose(y2.array, direct(), atol: 1e-5)

        let short = NDArray(values: [Int32(1), 2], shape: [2])   // batch 2 < vocabulary 4
        XCTAssertFalse(isFused(F.linear(F.embedID(.constant(short), e), w, b)))
        let ignored = F.embedID(.constant(NDArray(values: [Int32(0), -1, 1, 2, 3, 0], shape: [6])), e, ignoreLabel: -1)
        XCTAssertFalse(isFused(F.linear(ignored, w, b)))
        let x = F.embedID(.constant(ids(0)), e)
        e.array += 1
        XCTAssertFalse(isFused(F.linear(x, w, b)), "E changed after the embedding was taken")
    }
}
