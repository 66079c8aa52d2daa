import XCTest

@testable import Catena

/// y = x³ written as a user would write a new function (the FunctionNode doc comment's example): forward on
/// arrays, backward on variables with `F` functions, so that it is differentiable twice.
final class Cube: FunctionNode {
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        retainInputs([0])
        return [inputs[0] * inputs[0] * inputs[0]]
    }
    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        let x = retainedInputs()[0]
        return [gradOutputs[0].map { $0 * 3 * x * x }]
    }
}

/// A deliberately wrong backward (missing the factor 3), to show that the gradient check can fail.
final class WrongCube: FunctionNode {
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        retainInputs([0])
        return [inputs[0] * inputs[0] * inputs[0]]
    }
    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        let x = retainedInputs()[0]
        return [gradOutputs[0]! * x * x]
    }
}

/// A backward that is right to first order but not differentiable: it uses the input's values as a constant, so the
/// second derivative it records is zero.
final class FirstOrderOnlyCube: FunctionNode {
    override func forward(_ inputs: [NDArray]) -> [NDArray] {
        retainInputs([0])
        return [inputs[0] * inputs[0] * inputs[0]]
    }
    override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        let x = retainedInputs()[0].array
        return [gradOutputs[0].map { $0 * Variable.constant(x * x * 3) }]
    }
}

final class GraphTests: XCTestCase {
    func testBackwardSeedsAScalarWithOneAndConsumesTheSeed() {
        let x = Variable(NDArray([1, 2, 3], dtype: .float64))
        let y = x * x
        let loss = F.sum(y)
        loss.backward()
        XCTAssertEqual(x.grad?.toDoubles(), [2, 4, 6])
        XCTAssertNil(loss.grad, "the seed is consumed, as in Chainer")
        XCTAssertNil(y.grad, "intermediate gradients are freed by default")
    }

    func testRetainGradKeepsIntermediateGradients() {
        let x = Variable(NDArray([1, 2], dtype: .float64))
        let y = x * 3
        let loss = F.sum(y * y)
        loss.backward(retainGrad: true)
        XCTAssertEqual(y.grad?.toDoubles(), [6, 12])       // d(Σy²)/dy = 2y
        XCTAssertEqual(loss.grad?.toDoubles(), [1])
        XCTAssertEqual(x.grad?.toDoubles(), [18, 36])
    }

    func testParameterGradsAccumulateAcrossTwoBackwardCallsUntilClearGrads() {
        let w = Parameter(NDArray([2], dtype: .float64))
        let x = Variable.constant(NDArray([3], dtype: .float64))
        F.sum(w * x).backward()
        XCTAssertEqual(w.grad?.toDoubles(), [3])
        F.sum(w * w).backward()
        XCTAssertEqual(w.grad?.toDoubles(), [7])           // 3 + 2w
        XCTAssertNil(x.grad, "a constant gets no gradient")
        w.clearGrad()
        F.sum(w * x).backward()
        XCTAssertEqual(w.grad?.toDoubles(), [3])
    }

    func testUserSetSeedForNonScalarOutput() {
        let x = Variable(NDArray([1, 2], dtype: .float64))
        let y = x * x
        y.grad = NDArray([10, 100], dtype: .float64)
        y.backward()
        XCTAssertEqual(x.grad?.toDoubles(), [20, 400])
    }

    func testDiamondGraphSumsBothPaths() {
        // z = a·b with a = 2x and b = x², so dz/dx = 2b + a·2x = 2x² + 4x² = 6x²
        let x = Variable(NDArray([1.5], dtype: .float64))
        let a = x * 2
        let b = x * x
        let z = F.sum(a * b)
        z.backward()
        XCTAssertEqual(x.grad!.item(), 6 * 1.5 * 1.5, accuracy: 1e-12)
        // The same variable used twice in one function.
        let x2 = Variable(NDArray([4], dtype: .float64))
        F.sum(x2 + x2).backward()
        XCTAssertEqual(x2.grad?.item(), 2)
    }

    func testRanksGrowAlongAChainAndBackwardFollowsThem() {
        let x = Variable(NDArray([0.5], dtype: .float64))
        var h = x
        for _ in 0..<10 { h = F.tanh(h) }
        XCTAssertEqual(h.rank, 10)
        XCTAssertEqual(h.creator?.rank, 9)
        // A shortcut from x to the end: the tanh chain must be summed before x's gradient is final.
        let out = F.sum(h + x * 2)
        out.backward()
        var v = 0.5, d = 1.0
        for _ in 0..<10 {
            v = Foundation.tanh(v)
            d *= 1 - v * v
        }
        XCTAssertEqual(x.grad!.item(), d + 2, accuracy: 1e-12)
    }

    func testTenThousandStepChainNeitherOverflowsTheStackForwardBackwardNorWhenFreed() {
        let x = Variable(NDArray([0.1]))
        var h = x
        for _ in 0..<10_000 { h = F.tanh(h) }
        F.sum(h).backward()
        XCTAssertNotNil(x.grad)
        weak var firstNode: FunctionNode?
        do {
            var g = x
            for i in 0..<100_000 {
                g = g * 1.0
                if i == 0 { firstNode = g.creator }
            }
            XCTAssertNotNil(firstNode)
        }
        XCTAssertNil(firstNode, "dropping the last variable frees the whole graph")
    }

    func testNoRecordingUnderNoBackpropModeAndScopesRestore() {
        let x = Variable(NDArray([1, 2]))
        let y = noBackpropMode { x * 2 }
        XCTAssertNil(y.creator)
        XCTAssertTrue(y.requiresGrad, "requiresGrad follows the inputs, as in Chainer")
        XCTAssertTrue(Config.enableBackprop)
        let z = noBackpropMode { forceBackpropMode { x * 2 } }
        XCTAssertNotNil(z.creator)
        usingConfig(\.train, false) { XCTAssertFalse(Config.train) }
        XCTAssertTrue(Config.train)
        let c = Variable.constant(NDArray([1]))
        XCTAssertNil((c * 2).creator, "nothing is recorded when no input requires a gradient")
    }

    func testUnchainMakesALeafThatReceivesTheGradient() {
        let x = Variable(NDArray([2], dtype: .float64))
        let h = x * x
        h.unchain()
        XCTAssertNil(h.creator)
        F.sum(h * 3).backward()
        XCTAssertEqual(h.grad?.item(), 3)
        XCTAssertNil(x.grad)
    }

    func testUnchainBackwardCutsHistoryAndFreesTheOldGraph() {
        let w = Parameter(NDArray([[0.5]], dtype: .float64))
        var state = Variable.constant(NDArray([[1]], dtype: .float64))
        weak var oldNode: FunctionNode?
        var loss: Variable! = nil
        for step in 0..<3 {
            state = F.tanh(F.matmul(state, w))
            if step == 0 { oldNode = state.creator }
            loss = F.sum(state)
        }
        loss.backward()
        XCTAssertNotNil(oldNode)
        loss.unchainBackward()
        XCTAssertNil(state.creator, "after unchainBackward() the carried state has no creator")
        XCTAssertNil(loss.creator)
        XCTAssertNil(oldNode, "the old graph is freed")
        // The carried state still holds its values and the next step builds a fresh graph.
        let next = F.sum(F.tanh(F.matmul(state, w)))
        w.clearGrad()
        next.backward()
        let s = state.item()
        let expected = s * (1 - Foundation.pow(Foundation.tanh(s * 0.5), 2))
        XCTAssertEqual(w.grad!.item(), expected, accuracy: 1e-12)
    }

    func testGradReturnsGradientsWithoutTouchingGrad() {
        let x = Variable(NDArray([1, 2], dtype: .float64)), unused = Variable(NDArray([5], dtype: .float64))
        let h = x * x
        let y = F.sum(h * 2)
        let g = grad([y], [x, h, unused])
        XCTAssertEqual(g[0]?.toDoubles(), [4, 8])
        XCTAssertEqual(g[1]?.toDoubles(), [2, 2])
        XCTAssertNil(g[2] as NDArray?)
        XCTAssertNil(x.grad)
    }

    func testMultiOutputBackwardWithSeeds() {
        let x = Variable(NDArray([1, 2], dtype: .float64))
        let a = x * 2, b = x * x
        backward([a, b], gradOutputs: [NDArray([1, 1], dtype: .float64), NDArray([1, 10], dtype: .float64)])
        XCTAssertEqual(x.grad?.toDoubles(), [4, 42])       // 2 + 2x·seed
    }

    func testCustomFunctionPassesTheGradientCheckAndAWrongOneFails() throws {
        try gradientCheck({ Cube().apply($0[0]) }, inputs: [NDArray([[0.5, -1.2], [2, 0.1]])])
        XCTAssertThrowsError(try gradientCheck({ WrongCube().apply($0[0]) }, inputs: [NDArray([0.5, -1.2])])) { error in
            XCTAssertTrue("\(error)".contains("backward gives"))
        }
        // The directional mode for large inputs also catches it.
        XCTAssertThrowsError(try gradientCheck({ WrongCube().apply($0[0]) }, inputs: [testArray([50]) + 2], elementwiseLimit: 10))
    }

    func testTheDoubleBackwardCheckPassesACorrectFunctionAndCatchesAFirstOrderOnlyOne() throws {
        let x = NDArray([0.5, -1.2, 2], dtype: .float64)
        try checkDoubleBackward({ [Cube().apply($0[0])] }, inputs: [x])
        // Right to first order…
        try gradientCheck({ FirstOrderOnlyCube().apply($0[0]) }, inputs: [x])
        // …but its recorded gradient does not depend on x, so the second derivative 6x·gy is missed.
        XCTAssertThrowsError(try checkDoubleBackward({ [FirstOrderOnlyCube().apply($0[0])] }, inputs: [x])) { error in
            XCTAssertTrue("\(error)".contains("backward gives"), "\(error)")
        }
    }

    func testOutputsAreHeldWeakly() {
        let x = Variable(NDArray([1]))
        var y: Variable? = x * 2
        let node = y!.creator!
        XCTAssertNotNil(node.outputs[0])
        y = nil
        XCTAssertNil(node.outputs[0] as Variable?)
    }
}
