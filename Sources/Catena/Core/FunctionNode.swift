import Foundation

/// A differentiable function: a node of the graph (Chainer's `FunctionNode`).
///
/// Subclass it with the forward and backward computations side by side, on arrays; keep in stored properties only
/// what backward needs. Call ``apply(_:)`` to run it on variables; when recording is on it becomes the outputs'
/// ``Variable/creator``.
///
/// ```swift
/// /// y = x³, with dy/dx = 3x².
/// final class Cube: FunctionNode {
///     private var x: NDArray?
///     override func forward(_ inputs: [NDArray]) -> [NDArray] {
///         x = inputs[0]                       // retained for backward
///         return [inputs[0] * inputs[0] * inputs[0]]
///     }
///     override func backward(_ indexes: [Int], _ gradOutputs: [NDArray?]) -> [NDArray?] {
///         guard let gy = gradOutputs[0], let x else { return [nil] }
///         return [gy * 3 * x * x]
///     }
/// }
/// func cube(_ x: Variable) -> Variable { Cube().apply(x) }
/// ```
///
/// Check a new function with ``gradientCheck(_:inputs:gradOutputs:eps:atol:rtol:noGradInputs:elementwiseLimit:seed:)``.
///
/// Catena's built-in one- and two-input functions derive from ``UnaryFunction`` and ``BinaryFunction``, which skip
/// the arrays of this general interface; they also mark their stored properties `@exclusivity(unchecked)` (the
/// graph is single-threaded, and the run-time exclusivity check on each property write cost about a fifth of the
/// per-operation time in the B4b benchmark). User-written functions work the same without either.
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
    /// Gradients being accumulated for each output during a backward pass (the first inline, as above).
    @exclusivity(unchecked) @usableFromInline var outputGrad0: NDArray?
    @exclusivity(unchecked) @usableFromInline var moreOutputGrads: [NDArray?] = []
    /// The highest rank among the inputs.
    @exclusivity(unchecked) public internal(set) var rank = 0
    /// Marks the traversal that last visited this node.
    @exclusivity(unchecked) @usableFromInline var visitMark = 0
    /// 1 for ``UnaryFunction``, 2 for ``BinaryFunction``, 0 for the general interface.
    @exclusivity(unchecked) @usableFromInline var arity: UInt8 = 0

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
            config.deferRelease(takeInputs())
        }
    }

    /// The function's name in messages and graph dumps (the class name unless overridden).
    open var label: String { String(describing: type(of: self)) }

    /// Computes the outputs from the input arrays. Store what ``backward(_:_:)`` will need.
    open func forward(_ inputs: [NDArray]) -> [NDArray] {
        fatalError("\(label) must override forward(_:)")
    }

    /// Computes the gradients of the inputs at `indexes` (those that require one) from the gradients of the
    /// outputs. An output nobody used has a nil gradient, meaning zero. Return one entry per index in `indexes`
    /// (or one per input); nil means zero.
    open func backward(_ indexes: [Int], _ gradOutputs: [NDArray?]) -> [NDArray?] {
        fatalError("\(label) must override backward(_:_:)")
    }

    /// Optionally adds the gradient of input `index` straight into `grad`, the existing gradient of a leaf (a
    /// parameter), instead of returning it from ``backward(_:_:)`` to be added afterwards — saving a temporary the
    /// size of the parameter. Return false (the default) to use `backward`.
    open func accumulateGrad(_ index: Int, _ gradOutputs: [NDArray?], into grad: inout NDArray) -> Bool { false }

    /// Optionally gives the gradient of input `index`, when it is a leaf (a parameter), as a matrix product
    /// `lhsᵀ · rhs` (lhs `(k, m)`, rhs `(k, n)`) instead of computing it. The backward pass collects such terms for
    /// each parameter and evaluates them together at the end as one product over the stacked rows — for a weight
    /// used at every step of an unrolled RNN, one large GEMM instead of one small one per step. Return nil (the
    /// default) to use ``backward(_:_:)``.
    open func gradAsProduct(_ index: Int, _ gradOutputs: [NDArray?]) -> (lhs: NDArray, rhs: NDArray)? { nil }

    /// Optionally hands this call's whole backward to an accumulator shared by calls of the same kind, which the
    /// backward pass finishes once at its end (adding into the parameters' gradients), instead of running
    /// ``backward(_:_:)`` now. Only asked when the pass writes ordinary gradients (not `grad(_:_:)`, not
    /// `retainGrad`). Return false (the default) to run `backward`.
    func deferBackward(_ gradOutputs: [NDArray?], into accumulators: inout [AnyHashable: DeferredGradient]) -> Bool { false }

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

    /// Moves the inputs out (not copies), so this node no longer keeps them alive.
    private func takeInputs() -> [Variable] {
        var out = [Variable]()
        out.reserveCapacity(inputCount)
        if let x = input0.take() { out.append(x) }
        if let x = input1.take() { out.append(x) }
        if !moreInputs.isEmpty {
            var rest: [Variable] = []
            swap(&rest, &moreInputs)
            out.append(contentsOf: rest)
        }
        inputCount = 0
        return out
    }

    /// Drops the references to the inputs (after `unchainBackward()`), letting the graph behind them go.
    func releaseInputs() {
        if inputCount > 0 { Config.current.deferRelease(takeInputs()) }
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
        if ys.count > 1 { moreOutputRefs = [Unmanaged<Variable>?](repeating: nil, count: ys.count - 1) }
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
    @usableFromInline
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
        if !(requiresGrad && Config.current.enableBackprop) { return ys.map { Variable($0, requiresGrad: requiresGrad) } }
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

    /// Adds `g` to the gradient being accumulated for output `index`.
    @usableFromInline
    func accumulateOutputGrad(_ index: Int, _ g: NDArray) {
        if index == 0 {
            NDArray.accumulate(&outputGrad0, g)
            return
        }
        if moreOutputGrads.isEmpty { moreOutputGrads = [NDArray?](repeating: nil, count: outputCount - 1) }
        NDArray.accumulate(&moreOutputGrads[index - 1], g)
    }

    /// Takes the accumulated output gradients, leaving the slots empty.
    @usableFromInline
    func takeOutputGrads() -> [NDArray?] {
        var g = [NDArray?]()
        g.reserveCapacity(outputCount)
        g.append(outputGrad0.take())
        if outputCount > 1 {
            if moreOutputGrads.isEmpty {
                for _ in 1..<outputCount { g.append(nil) }
            } else {
                g.append(contentsOf: moreOutputGrads)
                moreOutputGrads = []
            }
        }
        return g
    }
}

extension NDArray {
    /// `slot = slot + g`, in place when the slot's storage is unique (it is taken out of the slot first, so the
    /// slot itself does not count as a second owner).
    @inlinable
    static func accumulate(_ slot: inout NDArray?, _ g: NDArray) {
        if var existing = slot.take() {
            existing += g
            slot = existing
        } else {
            slot = g
        }
    }
}

/// A built-in function of one input and one output, without the arrays of the general interface.
///
/// Subclasses implement ``forward(_:)-(NDArray)`` and ``backward(_:)-(NDArray)``; the general `forward(_:)` and
/// `backward(_:_:)` forward to them, so the node also works wherever a ``FunctionNode`` is expected.
class UnaryFunction: FunctionNode {
    override init() {
        super.init()
        arity = 1
    }

    func forward(_ x: NDArray) -> NDArray { fatalError("\(label) must override forward(_: NDArray)") }
    func backward(_ gy: NDArray) -> NDArray { fatalError("\(label) must override backward(_: NDArray)") }

    override final func forward(_ inputs: [NDArray]) -> [NDArray] { [forward(inputs[0])] }
    override final func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] { [gy[0].map { backward($0) }] }

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
    override init() {
        super.init()
        arity = 2
    }

    func forward(_ a: NDArray, _ b: NDArray) -> NDArray { fatalError("\(label) must override forward(_:_:)") }
    /// The gradients of the two inputs; `needA`/`needB` say which are wanted (the other may be nil).
    func backward(_ gy: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        fatalError("\(label) must override backward(_:needA:needB:)")
    }
    /// ``FunctionNode/accumulateGrad(_:_:into:)`` with the single output gradient.
    func accumulateGrad(_ index: Int, _ gy: NDArray, into grad: inout NDArray) -> Bool { false }
    override final func accumulateGrad(_ index: Int, _ gradOutputs: [NDArray?], into grad: inout NDArray) -> Bool {
        guard let g = gradOutputs[0] else { return false }
        return accumulateGrad(index, g, into: &grad)
    }

    override final func forward(_ inputs: [NDArray]) -> [NDArray] { [forward(inputs[0], inputs[1])] }
    override final func backward(_ indexes: [Int], _ gy: [NDArray?]) -> [NDArray?] {
        guard let g = gy[0] else { return indexes.map { _ in nil } }
        let (ga, gb) = backward(g, needA: indexes.contains(0), needB: indexes.contains(1))
        return indexes.map { $0 == 0 ? ga : gb }
    }

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
