import XCTest

@testable import Catena

final class TwoLayer: Chain {
    let l2 = Linear(4, 2)
    let l1 = Linear(3, 4)
    let scale = Parameter(NDArray([1.5]))
    var extra: Linear? = nil
    func callAsFunction(_ x: Variable) -> Variable { l2(F.relu(l1(x))) * scale }
}

/// A lazy property, and members declared in a user's base class as well as in the subclass.
final class LazyHolder: Chain {
    lazy var head = Linear(2, 3)
    let w = Parameter(NDArray([0, 0]))
    var maybe: Parameter? = nil
}
class BaseModel: Chain {
    let a = Linear(1, 1)
    let shared = Parameter(NDArray([1]))
}
final class DerivedModel: BaseModel {
    let b2 = Linear(1, 1, nobias: true)
    let own = Parameter(NDArray([2]))
}

final class Outer: Chain {
    let zeta = TwoLayer()
    let alpha = Linear(2, 2, nobias: true)
    let list = ChainList([Linear(2, 3), Linear(3, 1)])
    let seq = Sequential(Linear(2, 2), F.relu, Linear(2, 5))
    let p = Parameter(NDArray([0]))
    let notAChild = Unowned(Linear(1, 1))
}

final class TestDefaultChain: Chain, DefaultInitializableLink {
    let fc = Linear(2, 3)
    required override init() {}
}

final class LinkStructureTests: XCTestCase {
    func testNamedParamsFollowChainersOrder() {
        let m = Outer()
        XCTAssertEqual(m.namedParams().map(\.path), [
            "/p", "/alpha/W", "/list/0/W", "/list/0/b", "/list/1/W", "/list/1/b",
            "/seq/0/W", "/seq/0/b", "/seq/1/W", "/seq/1/b",
            "/zeta/scale", "/zeta/l1/W", "/zeta/l1/b", "/zeta/l2/W", "/zeta/l2/b",
        ])
        XCTAssertEqual(m.namedLinks().map(\.path), ["/", "/alpha", "/list", "/list/0", "/list/1", "/seq", "/seq/0", "/seq/1", "/zeta", "/zeta/l1", "/zeta/l2"])
        XCTAssertEqual(m.namedLinks(skipSelf: true).count, 10)
        XCTAssertEqual(m.children().count, 4)
        XCTAssertEqual(m.countParams(), 1 + 4 + (6 + 3) + (3 + 1) + (4 + 2) + (10 + 5) + 1 + (12 + 4) + (8 + 2))
        // An optional child counts once it is set.
        let t = TwoLayer()
        XCTAssertEqual(t.namedParams().count, 5)
        t.extra = Linear(1, 1)
        XCTAssertEqual(t.namedParams().map(\.path).filter { $0.hasPrefix("/extra") }, ["/extra/W", "/extra/b"])
    }

    func testMembersInLazyOptionalAndInheritedProperties() {
        let holder = LazyHolder()
        XCTAssertEqual(holder.namedParams().map(\.path), ["/w"], "a lazy property not yet used holds nothing; a nil optional neither")
        _ = holder.head
        holder.maybe = Parameter(NDArray([3]))
        XCTAssertEqual(holder.namedParams().map(\.path), ["/maybe", "/w", "/head/W", "/head/b"])
        XCTAssertEqual(holder.namedChildren().map(\.name), ["head"])
        let derived = DerivedModel()
        XCTAssertEqual(derived.namedParams().map(\.path), ["/own", "/shared", "/a/W", "/a/b", "/b2/W"],
                       "the base class's members count, sorted with the subclass's")
        XCTAssertEqual(derived.namedChildren().map(\.name), ["a", "b2"])
    }

    func testLazyLinearInitialisesFromTheFirstInput() {
        let l = Linear(nil, 5)
        XCTAssertFalse(l.W.isInitialized)
        XCTAssertTrue(l.b!.isInitialized, "the bias is created at once, as in Chainer")
        XCTAssertEqual(l.countParams(), 5)
        XCTAssertEqual(l.namedParams(includeUninitialized: false).map(\.path), ["/b"])
        let y = l(Variable(NDArray.ones([2, 3, 2])))
        XCTAssertEqual(y.shape, [2, 5])
        XCTAssertEqual(l.W.shape, [5, 6])
        XCTAssertEqual(l.inSize, 6)
    }

    func testClearGradsCopyParamsAddGrads() {
        let a = TwoLayer(), b = TwoLayer()
        F.sum(a(Variable(NDArray.ones([1, 3])))).backward()
        XCTAssertNotNil(a.l1.W.grad)
        b.copyParams(from: a)
        XCTAssertEqual(b.l1.W.array, a.l1.W.array)
        XCTAssertFalse(b.l1.W.array.storage === a.l1.W.array.storage, "copyParams copies the data")
        b.addGrads(from: a)
        XCTAssertEqual(b.l1.W.grad, a.l1.W.grad)
        b.addGrads(from: a)
        assertClose(b.l1.W.grad!, a.l1.W.grad! * 2)
        a.clearGrads()
        XCTAssertTrue(a.params().allSatisfy { $0.grad == nil })
        a.zeroGrads()
        XCTAssertEqual(a.l2.b!.grad?.toDoubles(), [0, 0])
        a.addPersistent("count", NDArray([3]))
        b.copyParams(from: a)
        XCTAssertEqual(b.persistents["count"], NDArray([3]))
    }

    func testCopyModes() {
        let m = TestDefaultChain()
        m.fc.W.grad = NDArray.ones([3, 2])
        let shared = m.copy(mode: .share) as! TestDefaultChain
        XCTAssertFalse(shared === m)
        XCTAssertTrue(shared.fc.W.data === m.fc.W.data, "share: the same data")
        XCTAssertNil(shared.fc.W.grad, "share: separate gradients")
        m.fc.W.array = NDArray.full([3, 2], 7)
        XCTAssertEqual(shared.fc.W.array, m.fc.W.array, "updates to the original show in the shared copy")
        let copied = m.copy(mode: .copy) as! TestDefaultChain
        XCTAssertEqual(copied.fc.W.array, m.fc.W.array)
        XCTAssertEqual(copied.fc.W.grad, m.fc.W.grad)
        m.fc.W.array = NDArray.zeros([3, 2])
        XCTAssertEqual(copied.fc.W.array, NDArray.full([3, 2], 7), "copy: independent data")
        let fresh = m.copy(mode: .initialize) as! TestDefaultChain
        XCTAssertNotEqual(fresh.fc.W.array, m.fc.W.array)
        XCTAssertEqual(fresh.fc.W.shape, [3, 2])
        // Built-in links copy without help; a shared LSTM has its own state.
        let lstm = LSTM(3, 2)
        let twin = lstm.copy(mode: .share) as! LSTM
        _ = lstm(Variable(NDArray.ones([1, 3])))
        XCTAssertNotNil(lstm.h)
        XCTAssertNil(twin.h)
        XCTAssertTrue(twin.upward.W.data === lstm.upward.W.data)
    }

    func testEnableAndDisableUpdate() {
        let m = TwoLayer()
        let opt = SGD(lr: 0.1)
        opt.setup(m)
        m.l1.disableUpdate()
        XCTAssertTrue(m.updateEnabled)
        let before = m.l1.W.array, beforeL2 = m.l2.W.array
        opt.update { F.sum(m(Variable(NDArray.ones([2, 3])))) }
        XCTAssertEqual(m.l1.W.array, before, "a disabled link is not updated")
        XCTAssertNotEqual(m.l2.W.array, beforeL2)
        XCTAssertEqual(m.l1.W.updateRule?.t, 0, "nor does its step counter advance")
        m.enableUpdate()
        opt.update { F.sum(m(Variable(NDArray.ones([2, 3])))) }
        XCTAssertNotEqual(m.l1.W.array, before)
    }

    func testSequentialRunsLinksAndFunctionsInOrder() {
        let a = Linear(2, 3), b = Linear(3, 1)
        let s = Sequential(a, F.tanh, b)
        let x = Variable(NDArray([[0.5, -1]]))
        XCTAssertEqual(s(x).array, b(F.tanh(a(x))).array)
        XCTAssertEqual(s.namedParams().map(\.path), ["/0/W", "/0/b", "/1/W", "/1/b"])
    }
}
