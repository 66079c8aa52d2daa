import Foundation

/// A differentiable function: a node of the graph (Chainer's `FunctionNode`).
///
/// Subclass it with the forward computation on arrays and the backward computation on variables, side by side.
/// Because backward is written with ``Variable``s and `F` functions, the same code serves an ordinary backward pass
/// (nothing is recorded: the `F` calls just compute) and a recorded one, `backward(enableDoubleBackprop: true)` or
/// ``grad(_:_:gradOutputs:enableDoubleBackprop:)``, whose gradients can be differentiated again.
///
/// ```swift
/// /// y = x³, with dy/dx = 3x².
/// final class Cube: FunctionNode {
///     override func forward(_ inputs: [NDArray]) -> [NDArray] {
///         retainInputs([0])                          // backward needs x
///         return [inputs[0] * inputs[0] * inputs[0]]
///     }
///     override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
///         let x = retainedInputs()[0]
///         return [gradOutputs[0].map { $0 * 3 * x * x }]
///     }
/// }
/// func cube(_ x: Variable) -> Variable { Cube().apply(x) }
/// ```
///
/// Check a new function with ``gradientCheck(_:inputs:gradOutputs:eps:atol:rtol:noGradInputs:elementwiseLimit:seed:)``
/// and, when it is twice differentiable, ``checkDoubleBackward(_:inputs:gradOutputs:gradGradInputs:eps:atol:rtol:seed:)``.
/// Catena's own functions are also listed in the conformance registry of the tests
/// (`Tests/CatenaTests/Conformance/ConformanceRegistry.swift`): adding a built-in function means adding one entry
/// there, which checks `backward()`, `grad()`, finite differences, double backprop, float32 against float64, graph
/// surgery and gradient accumulation for it.
///
/// Catena's built-in functions also have an array-level backward that the engine calls when nothing is recorded; it
/// runs the same formula (written once, generically over ``NDArray`` and ``Variable``) without building variables.
open class FunctionNode {
    // Inputs, held strongly: the first two inline (most functions have one or two), the rest in an array.
    @exclusivity(unchecked) @usableFromInline var input0: Variable?
    @exclusivity(unchecked) @usableFromInline var input1: Variable?
    @exclusivity(unchecked) @usableFromInline var moreInputs: [Variable] = []
    @exclusivity(unchecked) @usableFromInline var inputCount = 0
    /// The first output, referenced weakly (nil once that variable is freed or unchained); the others follow in
    /// `moreOutputRefs`.
    @exclusivity(unchecked) @usableFromInline var outputRef0: Unmanaged<Variable>?
    @exclusivity(unchecked) @usableFromInline var moreOutputRefs: [Unmanaged<Variable>?] = []
    /// How many outputs the recorded call produced.
    @exclusivity(unchecked) @usableFromInline var outputCount = 0
    /// Gradients being accumulated for each output during a plain backward pass (the first inline, as above)…
    @exclusivity(unchecked) @usableFromInline var outputGrad0: NDArray?
    @exclusivity(unchecked) @usableFromInline var moreOutputGrads: [NDArray?] = []
    /// The highest rank among the inputs.
    @exclusivity(unchecked) public internal(set) var rank = 0
    /// Marks the traversal that last visited this node.
    @exclusivity(unchecked) @usableFromInline var visitMark = 0
    /// Whether ``leafGradientTerm(_:_:)`` may return a term (set by the functions that override it), so that the
    /// engine asks only those.
    @exclusivity(unchecked) final var offersLeafGradientTerms = false
    /// What only some nodes need (retained inputs and outputs, a recorded pass's gradients), allocated on first use
    /// so that the built-in functions' nodes stay small.
    @exclusivity(unchecked) var extras: NodeExtras?
    final var ensuredExtras: NodeExtras {
        if let e = extras { return e }
        let e = NodeExtras()
        extras = e
        return e
    }

    /// A node not yet in the graph; `apply(_:)` runs it on its inputs and records the call (a node is applied once).
    public init() {}

    deinit {
        // Releasing the inputs may free their creators, whose deinit releases their inputs, and so on: a deep graph
        // would recurse once per node. Shallow chains are released directly; past a bounded depth the inputs are
        // handed to the thread's release queue, which the outermost release drains in a loop.
        if inputCount == 0 { return }
        let config = Config.current
        if config.releaseDepth < 64 && !config.draining {
            config.releaseDepth += 1
            dropInputs()
            config.releaseDepth -= 1
        } else {
            config.deferRelease(self)
        }
    }

    /// The function's name in messages and graph dumps (the class name unless overridden).
    open var label: String { String(describing: type(of: self)) }

    /// Computes the outputs from the input arrays. Call ``retainInputs(_:)`` and ``retainOutputs(_:)`` for what
    /// ``backward(_:_:)`` will need.
    open func forward(_ inputs: [NDArray]) -> [NDArray] {
        fatalError("\(label) must override forward(_:)")
    }

    /// Computes the gradients of the inputs at `indexes` (those that require one) from the gradients of the
    /// outputs, with variables and `F` functions (Chainer's `FunctionNode.backward`).
    ///
    /// An output nobody used has a nil gradient, meaning zero. Return one entry per index in `indexes` (or one per
    /// input); nil means zero. Write it as ordinary code on variables: when the pass is recorded (double backprop)
    /// every `F` call you make is recorded with it; otherwise they only compute.
    open func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
        fatalError("\(label) must override backward(_:_:)")
    }

    // MARK: - Retained inputs and outputs (Chainer's retain_inputs / retain_outputs)

    /// Keeps the inputs at `indexes` for ``backward(_:_:)`` (call it in `forward`). The node holds its inputs anyway;
    /// this records which ones ``retainedInputs()`` returns.
    public final func retainInputs(_ indexes: [Int]) { ensuredExtras.retainedInputIndexes = indexes }

    /// Keeps the outputs at `indexes` for ``backward(_:_:)`` (call it in `forward`).
    public final func retainOutputs(_ indexes: [Int]) { ensuredExtras.pendingRetainOutputs = indexes }

    /// The inputs kept by ``retainInputs(_:)``, in that order.
    public final func retainedInputs() -> [Variable] {
        guard let kept = extras?.retainedInputIndexes, !kept.isEmpty else { return [] }
        if inputCount == 0 {
            typeCheckFailure("\(label).retainedInputs(): the graph behind this node was released (unchainBackward)")
        }
        return kept.map { input($0) }
    }

    /// The outputs kept by ``retainOutputs(_:)``, in that order: the output variables themselves while they live, or
    /// new variables with this node as their creator (so that a recorded backward still connects to it).
    public final func retainedOutputs() -> [Variable] {
        guard let e = extras else { return [] }
        return e.retainedOutputIndexes.indices.map { k in outputVariable(e.retainedOutputIndexes[k], data: e.retainedOutputData[k]) }
    }

    /// Output `i` as a variable: the live output, or a new one over `data` created by this node.
    final func outputVariable(_ i: Int, data: NDArray) -> Variable {
        if let v = outputRef(i)?.takeUnretainedValue() { return v }
        let v = Variable(output: data, creator: self, index: i, rank: rank + 1)
        if i == 0 { outputRef0 = Unmanaged.passUnretained(v) } else { moreOutputRefs[i - 1] = Unmanaged.passUnretained(v) }
        return v
    }

    // MARK: - The engine's interface (internal)

    /// The gradients of the inputs at `targets` as arrays, for a backward pass that records nothing. Built-in
    /// functions run their formula on arrays; a user's function gets its output gradients as constant variables.
    /// Entry k of the result is the gradient of input `targets[k]`.
    func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        let wrapped = (0..<outputCount).map { gys[$0].map { Variable.constant($0) } }
        let gxs = noBackpropMode { backward(targets, wrapped) }
        return GradSlots(checked: gxs.map { $0?.array }, targets: targets, inputCount: inputCount, label: label)
    }

    /// The gradients of the inputs at `targets` as variables, for a recorded backward pass.
    func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        let gxs = backward(targets, (0..<outputCount).map { gys[$0] })
        return GradSlots(checked: gxs, targets: targets, inputCount: inputCount, label: label)
    }

    /// Runs a generic backward formula on the recorded path: the slots' variables wrapped as ``Recorded`` and back.
    final func recording(_ gys: GradSlots<Variable>, _ formula: (GradSlots<Recorded>) -> GradSlots<Recorded>) -> GradSlots<Variable> {
        var wrapped = GradSlots<Recorded>(gys.first.map(Recorded.init), gys.second.map(Recorded.init))
        wrapped.rest = gys.rest.map { $0.map(Recorded.init) }
        let out = formula(wrapped)
        var back = GradSlots<Variable>(out.first?.variable, out.second?.variable)
        back.rest = out.rest.map { $0?.variable }
        return back
    }

    /// The gradient of input `index` — a leaf parameter — in a form the engine can add without computing it as a
    /// dense array first (see ``LeafGradientTerm``); nil (the default) to compute it with `backwardArrays`.
    /// Asked only in plain backward passes that write leaves' gradients, and only of nodes that set
    /// ``offersLeafGradientTerms``.
    func leafGradientTerm(_ index: Int, _ gys: GradSlots<NDArray>) -> LeafGradientTerm? { nil }

    // MARK: - Inputs and outputs

    /// The input variables of the recorded call (empty once released by ``Variable/unchainBackward()``).
    public var inputs: [Variable] { (0..<inputCount).map { input($0) } }

    @inlinable @inline(__always)
    func input(_ i: Int) -> Variable {
        i == 0 ? input0.unsafelyUnwrapped : (i == 1 ? input1.unsafelyUnwrapped : moreInputs[i - 2])
    }

    /// The output variables that are still alive.
    public var outputs: [Variable?] { (0..<outputCount).map { outputRef($0)?.takeUnretainedValue() } }

    @inlinable @inline(__always)
    func outputRef(_ i: Int) -> Unmanaged<Variable>? { i == 0 ? outputRef0 : moreOutputRefs[i - 1] }

    private func dropInputs() {
        input0 = nil
        input1 = nil
        if !moreInputs.isEmpty { moreInputs = [] }
        inputCount = 0
    }

    /// Moves the inputs out (not copies) onto `queue`, so this node no longer keeps them alive.
    func moveInputs(into queue: inout [Variable]) {
        if let x = input0.take() { queue.append(x) }
        if let x = input1.take() { queue.append(x) }
        if !moreInputs.isEmpty {
            var rest: [Variable] = []
            swap(&rest, &moreInputs)
            queue.append(contentsOf: rest)
        }
        inputCount = 0
    }

    /// Drops the references to the inputs (after `unchainBackward()`), letting the graph behind them go.
    func releaseInputs() {
        if inputCount > 0 { Config.current.deferRelease(self) }
    }

    // MARK: - Applying

    /// Checks that an input has data, before any forward computation.
    @inline(__always)
    final func checkInitialized(_ x: Variable) {
        if x.isUninitializedParameter {
            if let p = x as? Parameter {
                p.refreshInitialized()  // a `.share` copy may have initialised the data since
                if !p.isUninitializedParameter { return }
            }
            typeCheckFailure("\(label): parameter \(x.name ?? "") has no data yet; a link initialises its lazy parameters on its first call")
        }
    }

    /// Records the call: the inputs, the rank, and the outputs as new variables created by this node.
    @usableFromInline
    final func record(_ inputs: [Variable], rank maxRank: Int, outputs ys: [NDArray]) -> [Variable] {
        if outputCount != 0 {
            typeCheckFailure("\(label): a function node can be applied only once; create a new one for each call")
        }
        inputCount = inputs.count
        if inputs.count > 0 { input0 = inputs[0] }
        if inputs.count > 1 { input1 = inputs[1] }
        if inputs.count > 2 { moreInputs = Array(inputs[2...]) }
        rank = maxRank
        outputCount = ys.count
        if ys.count > 1 { moreOutputRefs = smallArray(ys.count - 1) { _ in nil } }
        if let e = extras {
            if let keep = e.pendingRetainOutputs.take() {
                for i in keep where i < 0 || i >= ys.count { typeCheckFailure("\(label).retainOutputs: no output \(i) among \(ys.count)") }
                e.retainedOutputIndexes = keep
                e.retainedOutputData = keep.map { ys[$0] }
            }
            for i in e.retainedInputIndexes where i < 0 || i >= inputs.count {
                typeCheckFailure("\(label).retainInputs: no input \(i) among \(inputs.count)")
            }
        }
        var outs = [Variable]()
        outs.reserveCapacity(ys.count)
        for (i, y) in ys.enumerated() {
            let v = Variable(output: y, creator: self, index: i, rank: maxRank + 1)
            outs.append(v)
            if i == 0 { outputRef0 = Unmanaged.passUnretained(v) } else { moreOutputRefs[i - 1] = Unmanaged.passUnretained(v) }
        }
        return outs
    }

    /// Records a call with one output (the fast paths of the built-in functions).
    @usableFromInline @inline(__always)
    final func recordSingle(_ x0: Variable, _ x1: Variable?, rank maxRank: Int, output y: NDArray) -> Variable {
        if outputCount != 0 {
            typeCheckFailure("\(label): a function node can be applied only once; create a new one for each call")
        }
        input0 = x0
        input1 = x1
        inputCount = x1 == nil ? 1 : 2
        rank = maxRank
        outputCount = 1
        let v = Variable(output: y, creator: self, index: 0, rank: maxRank + 1)
        outputRef0 = Unmanaged.passUnretained(v)
        return v
    }

    /// Runs the function on `inputs` and returns its outputs, recording the call when backprop is enabled and an
    /// input requires a gradient. A function object is applied once.
    public final func apply(_ inputs: [Variable]) -> [Variable] {
        var requiresGrad = false
        var maxRank = 0
        var arrays = [NDArray]()
        arrays.reserveCapacity(inputs.count)
        for x in inputs {
            checkInitialized(x)
            requiresGrad = requiresGrad || x.requiresGrad
            maxRank = Swift.max(maxRank, x.rank)
            arrays.append(x.array)
        }
        let ys = forward(arrays)
        if !(requiresGrad && Config.current.enableBackprop) {
            extras?.pendingRetainOutputs = nil
            return ys.map { Variable($0, requiresGrad: requiresGrad) }
        }
        return record(inputs, rank: maxRank, outputs: ys)
    }

    /// Runs a single-output function on `inputs` and returns its output.
    public final func applySingle(_ inputs: [Variable]) -> Variable {
        let ys = apply(inputs)
        if ys.count != 1 { typeCheckFailure("\(label): expected one output, forward returned \(ys.count)") }
        return ys[0]
    }

    /// Single-input, single-output form of ``apply(_:)``.
    public final func apply(_ x: Variable) -> Variable { applySingle([x]) }

    // MARK: - Backward bookkeeping

    @usableFromInline
    func outputDied(_ index: Int) {
        if index == 0 { outputRef0 = nil } else if index - 1 < moreOutputRefs.count { moreOutputRefs[index - 1] = nil }
    }
}

/// Up to two values inline and the rest in an array: the output or input gradients of one node during one
/// backward step, without allocating for the common one- and two-value cases.
struct GradSlots<V> {
    var first: V?
    var second: V?
    var rest: [V?] = []

    @inline(__always)
    init(_ first: V? = nil, _ second: V? = nil) {
        self.first = first
        self.second = second
    }

    /// The gradients a user's backward returned, for `targets`: one per target, or one per input.
    init(checked gxs: [V?], targets: [Int], inputCount: Int, label: String) {
        if gxs.count == targets.count {
            for (k, g) in gxs.enumerated() { self[k] = g }
        } else if gxs.count == inputCount {
            for (k, i) in targets.enumerated() { self[k] = gxs[i] }
        } else {
            typeCheckFailure("\(label).backward returned \(gxs.count) gradients for \(targets.count) requested inputs")
        }
    }

    subscript(i: Int) -> V? {
        @inline(__always) get { i == 0 ? first : i == 1 ? second : (i - 2 < rest.count ? rest[i - 2] : nil) }
        set {
            switch i {
            case 0: first = newValue
            case 1: second = newValue
            default:
                while rest.count <= i - 2 { rest.append(nil) }
                rest[i - 2] = newValue
            }
        }
    }

    /// Slot `i`'s value, moved out (the slot becomes nil).
    @inline(__always)
    mutating func take(_ i: Int) -> V? {
        switch i {
        case 0: return first.take()
        case 1: return second.take()
        default: return i - 2 < rest.count ? rest[i - 2].take() : nil
        }
    }

    @inline(__always)
    var isEmpty: Bool { first == nil && second == nil && rest.allSatisfy { $0 == nil } }
}

/// A built-in function of one input and one output, without the arrays of the general interface.
///
/// Subclasses implement `forward(_: NDArray)`, and the backward formula twice thinly: `backward(_: NDArray)` and
/// `backward(_: Recorded)` both call one generic function over ``GradientValue``.
class UnaryFunction: FunctionNode {
    func forward(_ x: consuming NDArray) -> NDArray { fatalError("\(label) must override forward(_: NDArray)") }
    func backward(_ gy: NDArray) -> NDArray { fatalError("\(label) must override backward(_: NDArray)") }
    func backward(_ gy: Recorded) -> Recorded { fatalError("\(label) must override backward(_: Recorded)") }

    override final func forward(_ inputs: [NDArray]) -> [NDArray] { [forward(inputs[0])] }
    override final func backward(_ indexes: [Int], _ gy: [Variable?]) -> [Variable?] { [gy[0].map { backward(Recorded($0)).variable }] }
    override final func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        // Read in place (no copy of the gradient's array).
        if gys.first == nil { return GradSlots() }
        return GradSlots(backward(gys.first.unsafelyUnwrapped))
    }
    override final func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        GradSlots(gys.first.map { backward(Recorded($0)).variable })
    }

    /// The input as a variable, for the recorded form of backward.
    final var inputVariable: Recorded { Recorded(input(0)) }
    /// The output as a variable over `data` (the output itself while it lives), for the recorded form of backward.
    final func outputVariable(_ data: NDArray) -> Recorded { Recorded(outputVariable(0, data: data)) }

    /// Runs the function on `x`, recording the call when needed.
    @inline(__always)
    final func call(_ x: Variable) -> Variable {
        checkInitialized(x)
        let y = forward(x.array)
        if !(x.requiresGrad && Config.current.enableBackprop) { return Variable(y, requiresGrad: x.requiresGrad) }
        return recordSingle(x, nil, rank: x.rank, output: y)
    }
}

/// A built-in function of two inputs and one output, without the arrays of the general interface.
class BinaryFunction: FunctionNode {
    func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray { fatalError("\(label) must override forward(_:_:)") }
    /// The gradients of the two inputs; `needA`/`needB` say which are wanted (the other may be nil).
    func backward(_ gy: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        fatalError("\(label) must override backward(_:needA:needB:)")
    }
    func backward(_ gy: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        fatalError("\(label) must override backward(_: Recorded, needA:needB:)")
    }

    override final func forward(_ inputs: [NDArray]) -> [NDArray] { [forward(inputs[0], inputs[1])] }
    override final func backward(_ indexes: [Int], _ gy: [Variable?]) -> [Variable?] {
        guard let g = gy[0] else { return indexes.map { _ in nil } }
        let (ga, gb) = backward(Recorded(g), needA: indexes.contains(0), needB: indexes.contains(1))
        return indexes.map { $0 == 0 ? ga?.variable : gb?.variable }
    }
    override final func backwardArrays(_ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        if gys.first == nil { return GradSlots() }
        let needA = targets.first == 0, needB = targets.last == 1
        let (ga, gb) = backward(gys.first.unsafelyUnwrapped, needA: needA, needB: needB)
        return needA ? GradSlots(ga, gb) : GradSlots(gb)
    }
    override final func backwardVariables(_ targets: [Int], _ gys: GradSlots<Variable>) -> GradSlots<Variable> {
        guard let g = gys.first else { return GradSlots() }
        let needA = targets.first == 0, needB = targets.last == 1
        let (ga, gb) = backward(Recorded(g), needA: needA, needB: needB)
        return needA ? GradSlots(ga?.variable, gb?.variable) : GradSlots(gb?.variable)
    }

    /// The inputs as variables, for the recorded form of backward.
    final var inputVariables: (Recorded, Recorded) { (Recorded(input(0)), Recorded(input(1))) }
    /// The output as a variable over `data`, for the recorded form of backward.
    final func outputVariable(_ data: NDArray) -> Recorded { Recorded(outputVariable(0, data: data)) }

    /// Runs the function on `a` and `b`, recording the call when needed.
    @inline(__always)
    final func call(_ a: Variable, _ b: Variable) -> Variable {
        checkInitialized(a)
        checkInitialized(b)
        let y = forward(a.array, b.array)
        let requiresGrad = a.requiresGrad || b.requiresGrad
        if !(requiresGrad && Config.current.enableBackprop) { return Variable(y, requiresGrad: requiresGrad) }
        return recordSingle(a, b, rank: Swift.max(a.rank, b.rank), output: y)
    }
}

/// The rarely used state of a ``FunctionNode``.
final class NodeExtras {
    /// The outputs kept by ``FunctionNode/retainOutputs(_:)``: their indexes and data.
    var retainedOutputIndexes: [Int] = []
    var retainedOutputData: [NDArray] = []
    var retainedInputIndexes: [Int] = []
    /// Set during `forward` by ``FunctionNode/retainOutputs(_:)``, read when the call is recorded.
    var pendingRetainOutputs: [Int]?
    /// The gradients of the outputs being accumulated during a recorded backward pass (one slot per output, or empty).
    var outputGradVars: [Variable?] = []
}
