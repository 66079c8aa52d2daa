import Foundation
import XCTest

@testable import Catena

/// Cutting, reusing and changing the graph gives the gradients of the graph as it stands, on every path the engine
/// takes (leaf-gradient shortcuts included).
final class GraphSurgeryTests: XCTestCase {
    /// The bug of the fused embedding-linear path: after `x.unchain()`, E gets no gradient.
    func testUnchainingAnEmbeddingsOutputCutsTheTablesGradient() {
        let e = Parameter(testArray([4, 3])), w = Parameter(testArray([2, 3], offset: 0.5)), b = Parameter(NDArray.zeros([2]))
        let ids = Variable.constant(NDArray(values: [Int32(0), 3, 1, 0, 2, 1], shape: [6]))
        let x = F.embedID(ids, e)
        let y = F.linear(x, w, b)
        x.unchain()
        F.sum(y).backward()
        XCTAssertNil(e.grad, "E is behind the cut")
        XCTAssertNotNil(w.grad)
        // The gradient of W is the one of the cut graph: Σ gyᵀ·x with gy = 1.
        assertClose(w.grad!, NDArray.matmul(NDArray.ones([6, 2]), x.array, transposeA: true))
    }

    /// A small model as a list of steps, each a function of the previous result.
    private struct Model {
        let params: [Parameter]
        let input: Variable
        let steps: [(Variable) -> Variable]
        /// Cuts the other outputs of the function whose output step `k` returns: `unchainBackward()` releases that
        /// function, so its other outputs lose their graph too (as in Chainer, where `FunctionNode.unchain()`
        /// unchains every output).
        var cutSiblings: (Int) -> Void = { _ in }
    }

    private func models() -> [(String, Model)] {
        let rng = RandomState(seed: 4)
        let e = Parameter(rng.normal(shape: [5, 4], dtype: .float64)), w = Parameter(rng.normal(shape: [3, 4], dtype: .float64))
        let b = Parameter(rng.normal(shape: [3], dtype: .float64))
        let ids = Variable.constant(NDArray(values: [Int32(1), 4, 4, 0], shape: [4]))
        let embedLinear = Model(params: [e, w, b], input: ids, steps: [{ F.embedID($0, e) }, { F.linear($0, w, b) }, { F.tanh($0) }, { F.sum($0) }])
        let lstm = StatelessLSTM(4, 3, rng: RandomState(seed: 5))
        for p in lstm.params() { p.array = p.array.astype(.float64) }
        let x = Variable.constant(rng.normal(shape: [2, 4], dtype: .float64))
        var c: Variable?, h: Variable?
        let lstmStep = Model(params: lstm.params(), input: x, steps: [
            { v in (c, h) = lstm(c: nil, h: nil, v); return h! },                              // step 1
            { v in let out = lstm(c: c, h: v, x); c = out.c; return out.h },                    // step 2, through h
            { F.sum($0 * $0) },
        ], cutSiblings: { k in if k == 0 { c = Variable(c!.array) } })
        let gru = StatelessGRU(4, 3, rng: RandomState(seed: 6))
        for p in gru.params() { p.array = p.array.astype(.float64) }
        let h0 = Variable.constant(NDArray.zeros([2, 3], dtype: .float64))
        let gruStep = Model(params: gru.params(), input: x, steps: [{ gru(h0, $0) }, { gru($0, x) }, { F.sum(F.tanh($0)) }])
        return [("embed→linear", embedLinear), ("LSTM", lstmStep), ("GRU", gruStep)]
    }

    func testUnchainBetweenAnyTwoStepsGivesTheCutGraphsGradients() {
        for unchainWhole in [false, true] {
            for (name, _) in models() {
                let stepCount = models().first { $0.0 == name }!.1.steps.count
                for cut in 0..<(stepCount - 1) {
                    // The graph with the cut.
                    let m = models().first { $0.0 == name }!.1
                    var v = m.input
                    for (k, step) in m.steps.enumerated() {
                        v = step(v)
                        if k == cut { if unchainWhole { v.unchainBackward() } else { v.unchain() } }
                    }
                    v.backward()
                    // The reference: the steps after the cut on a fresh leaf holding the cut value.
                    let r = models().first { $0.0 == name }!.1
                    var u = r.input
                    for step in r.steps[...cut] { u = step(u) }
                    u = Variable(u.array)
                    if unchainWhole { r.cutSiblings(cut) }
                    for step in r.steps[(cut + 1)...] { u = step(u) }
                    u.backward()
                    for (p, q) in zip(m.params, r.params) {
                        switch (p.grad, q.grad) {
                        case (nil, nil): break
                        case (let a?, let b?): assertClose(a, b, atol: 1e-12, "\(name), cut after step \(cut), \(unchainWhole ? "unchainBackward" : "unchain")")
                        default: XCTFail("\(name), cut after step \(cut): \(p.grad == nil ? "no" : "a") gradient, expected \(q.grad == nil ? "none" : "one")")
                        }
                    }
                }
            }
        }
    }

    func testAParameterChangedInPlaceIsReadAfresh() throws {
        let l = Linear(3, 2, rng: RandomState(seed: 1))
        let e = EmbedID(4, 3, rng: RandomState(seed: 2))
        let x = Variable.constant(testArray([5, 3]))
        func expected() -> NDArray { NDArray.matmul(x.array, l.W.array, transposeB: true) + l.b!.array }
        _ = l(x)
        // In place through the data (the packed-panel cache must see the new version).
        l.W.data.array += 0.5
        assertClose(l(x).array, expected(), atol: 1e-6)
        // Through an optimizer update.
        let optimizer = SGD(lr: 0.1)
        optimizer.setup(l)
        optimizer.update { F.sum(l(x)) }
        assertClose(l(x).array, expected(), atol: 1e-6)
        // Through a load.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("catena-inplace-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let other = Linear(3, 2, rng: RandomState(seed: 9))
        try saveNPZ(dir + "/l.npz", other)
        try loadNPZ(dir + "/l.npz", into: l)
        assertClose(l(x).array, NDArray.matmul(x.array, other.W.array, transposeB: true) + other.b!.array, atol: 1e-6)
        // An embedding table changed in place.
        let ids = NDArray(values: [Int32(2)], shape: [1])
        _ = e(ids)
        e.W.data.array += 1
        assertClose(e(ids).array, e.W.array[2..<3], atol: 0)
    }

    func testTwoBackwardPassesAccumulateAndADiamondSumsBothPaths() {
        let w = Parameter(NDArray([1, 2], dtype: .float64))
        F.sum(w * 3).backward()
        F.sum(w * 3).backward()
        assertClose(w.grad!, [6, 6], atol: 0)
        // y = a·a + a·2 with a = w·w: dy/dw = (2a + 2)·2w.
        w.clearGrad()
        let a = w * w
        F.sum(a * a + a * 2).backward()
        assertClose(w.grad!, [(2 * 1 + 2) * 2 * 1, (2 * 4 + 2) * 2 * 2], atol: 1e-12)
        // The leaf shortcuts too: a weight used twice, through Linear (deferred products) and EmbedID (rows).
        let wl = Parameter(testArray([2, 3], dtype: .float64)), e = Parameter(testArray([4, 3], dtype: .float64, offset: 1))
        let x = Variable.constant(testArray([2, 3], dtype: .float64, offset: 2))
        let ids = Variable.constant(NDArray(values: [Int32(1), 1], shape: [2]))
        let h = F.embedID(ids, e)
        F.sum(F.linear(x, wl) + F.linear(h, wl) + F.linear(F.tanh(h), wl)).backward()
        let reference = grad([F.sum(F.linear(x, wl) + F.linear(F.embedID(ids, e), wl) + F.linear(F.tanh(F.embedID(ids, e)), wl))], [wl, e])
        assertClose(wl.grad!, reference[0]!, atol: 1e-12)
        assertClose(e.grad!, reference[1]!, atol: 1e-12)
    }
}
