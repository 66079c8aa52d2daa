import Foundation

extension Variable {
    /// Computes the gradients of this variable with respect to every leaf behind it that requires one,
    /// accumulating them into the leaves' ``grad`` (Chainer's `backward`).
    ///
    /// The seed is this variable's ``grad``, or 1 when it has one element and no gradient; as in Chainer the seed
    /// is consumed (``grad`` is nil afterwards) unless `retainGrad` is true. Functions are visited from the highest
    /// rank down, so each gradient is complete before it is used; gradients of intermediate variables are freed
    /// as soon as they have been used, unless `retainGrad` is true, in which case they are kept in those
    /// variables' ``grad``. A leaf's gradient accumulates across calls until ``clearGrad()`` (parameters start
    /// with no gradient, which counts as zero).
    ///
    /// With `enableDoubleBackprop`, the backward computation is itself recorded (Chainer's
    /// `enable_double_backprop`): each leaf's ``gradVar`` is then a variable with a graph, which can be
    /// differentiated again — for a gradient penalty, a Hessian-vector product:
    ///
    /// ```swift
    /// F.sum(model(x)).backward(enableDoubleBackprop: true)
    /// let gx = x.gradVar!
    /// F.sum(gx * gx).backward()          // the model's parameters get the gradient of ‖∂f/∂x‖²
    /// ```
    /// - Precondition: a variable with more than one element has its ``grad`` set.
    public func backward(retainGrad: Bool = false, enableDoubleBackprop: Bool = false) {
        Catena.backward([self], retainGrad: retainGrad, enableDoubleBackprop: enableDoubleBackprop)
    }
}

/// Backpropagates from several outputs at once (Chainer's `chainer.backward`): `gradOutputs[i]` (or the output's
/// own ``Variable/grad``, or 1 for a one-element output) seeds output i. `enableDoubleBackprop` records the
/// backward computation, as for ``Variable/backward(retainGrad:enableDoubleBackprop:)``.
public func backward(_ outputs: [Variable], gradOutputs: [NDArray?]? = nil, retainGrad: Bool = false, enableDoubleBackprop: Bool = false) {
    if enableDoubleBackprop {
        var engine = BackwardEngine<Recorded>(capture: nil, retainGrad: retainGrad)
        forceBackpropMode { engine.run(outputs, seeds: gradOutputs.map { $0.map { $0.map(Recorded.constantValue) } }) }
    } else {
        var engine = BackwardEngine<NDArray>(capture: nil, retainGrad: retainGrad)
        engine.run(outputs, seeds: gradOutputs)
    }
}

/// The gradients of the outputs with respect to `inputs`, as arrays, without touching any variable's
/// ``Variable/grad`` (Chainer's `chainer.grad` without double backprop). An input the outputs do not depend on
/// gets nil.
/// - Parameters:
///   - outputs: the variables to differentiate.
///   - inputs: the variables to differentiate with respect to; the result has one gradient for each.
///   - gradOutputs: seeds for the outputs (default: 1 for one-element outputs; required otherwise).
public func grad(_ outputs: [Variable], _ inputs: [Variable], gradOutputs: [NDArray?]? = nil) -> [NDArray?] {
    var engine = BackwardEngine<NDArray>(capture: inputs, retainGrad: false)
    engine.run(outputs, seeds: gradOutputs, seedIntoVariables: false)
    return inputs.map { engine.captured[ObjectIdentifier($0)] ?? nil }
}

/// The gradients of the outputs with respect to `inputs`, as variables (Chainer's `chainer.grad`). With
/// `enableDoubleBackprop` the computation is recorded, so the results can be differentiated again:
/// `grad([F.sum(f(x))], [x], enableDoubleBackprop: true)[0]` is ∂f/∂x as a function of x. No variable's
/// ``Variable/grad`` is touched. An input the outputs do not depend on gets nil.
public func grad(_ outputs: [Variable], _ inputs: [Variable], gradOutputs: [Variable?]? = nil, enableDoubleBackprop: Bool) -> [Variable?] {
    if !enableDoubleBackprop {
        return grad(outputs, inputs, gradOutputs: gradOutputs.map { $0.map { $0?.array } }).map { $0.map { Variable($0, requiresGrad: false) } }
    }
    var engine = BackwardEngine<Recorded>(capture: inputs, retainGrad: false)
    forceBackpropMode { engine.run(outputs, seeds: gradOutputs.map { $0.map { $0.map(Recorded.init) } }, seedIntoVariables: false) }
    return inputs.map { (engine.captured[ObjectIdentifier($0)] ?? nil)?.variable }
}

/// The partial derivatives of the outputs `build` computes from `inputs`, along `gradOutputs`, recorded: `build` runs
/// with recording forced on (a plain backward pass runs backward formulas with it off), and the backward pass
/// stops at `inputs`, even when they have creators, so the result is the vector–Jacobian product of the
/// computation between them. Fused functions use it to differentiate their reference formula a second time.
func partialGrad(_ inputs: [Variable], gradOutputs: [Variable?], _ build: () -> [Variable]) -> [Variable?] {
    forceBackpropMode {
        let outputs = build()
        // An output without a gradient contributes nothing.
        let seeded = zip(outputs, gradOutputs).filter { $0.1 != nil }
        if seeded.isEmpty { return inputs.map { _ in nil } }
        var engine = BackwardEngine<Recorded>(capture: inputs, retainGrad: false, stopAtCapture: true)
        engine.run(seeded.map(\.0), seeds: seeded.map { $0.1.map(Recorded.init) }, seedIntoVariables: false)
        return inputs.map { (engine.captured[ObjectIdentifier($0)] ?? nil)?.variable }
    }
}

/// How a function gives the gradient of a leaf parameter without computing a dense array for it at each call
/// (``FunctionNode/leafGradientTerm(_:_:)``); the engine accumulates it.
///
/// The engine asks for these only in plain backward passes that write leaves' gradients — never under
/// ``grad(_:_:gradOutputs:)``, `retainGrad` or double backprop, which take every function's ordinary backward.
enum LeafGradientTerm {
    /// `lhsᵀ · rhs` (lhs `(k, m)`, rhs `(k, n)`, the leaf `(m, n)`). The terms of one leaf are gathered over the whole
    /// pass and evaluated at its end as one product over their stacked rows: for a weight used at every step of an
    /// unrolled RNN, one large GEMM instead of one small one per step. Memory: every term's arrays (the steps'
    /// inputs and output gradients) stay alive until the end of the pass — for a layer of `in` inputs and `out`
    /// outputs over `steps` steps of `batch` rows, about `steps · batch · (in + out)` elements.
    case product(lhs: NDArray, rhs: NDArray)
    /// Row `r` of `values` added into row `ids[r]` of the gradient (−1 skipped): an embedding table's gradient,
    /// added in place without a zero array of the table's size per call.
    case rows(ids: [Int], values: NDArray)
}

/// The operations the backward engine needs on the values it propagates: arrays in a plain pass, variables in a
/// recorded one. Each node keeps the gradients of its outputs in slots of both kinds.
protocol BackwardValue: GradientValue {
    static func takeOutputGrads(_ f: FunctionNode) -> GradSlots<Self>
    static func addOutputGrad(_ f: FunctionNode, _ index: Int, _ g: consuming Self)
    static func backward(_ f: FunctionNode, _ targets: [Int], _ gys: GradSlots<Self>) -> GradSlots<Self>
    /// `a + b` (in place for an array whose storage `a` alone holds).
    static func sum(_ a: Self?, _ b: Self) -> Self
    /// Adds `g` into the leaf `x`'s gradient.
    static func accumulateLeaf(_ x: Variable, _ g: consuming Self)
    /// Keeps `g` as the gradient of the intermediate variable `v` (`retainGrad`).
    static func retain(_ g: Self, in v: Variable)
    /// The gradient a variable already holds, as the seed of a pass.
    static func seed(of v: Variable) -> Self?
    /// `g` as the seed kept by an output (`retainGrad`, or a leaf output).
    static func keepSeed(_ g: Self?, in v: Variable)
    static func ones(like v: Variable) -> Self
    /// The function's leaf-gradient term for input `index` (plain passes only; nil in recorded ones).
    static func leafTerm(_ f: FunctionNode, _ index: Int, _ gys: GradSlots<Self>) -> LeafGradientTerm?
}

extension NDArray: BackwardValue {
    @inline(__always)
    static func takeOutputGrads(_ f: FunctionNode) -> GradSlots<NDArray> {
        if f.outputCount == 1 || f.moreOutputGrads.isEmpty { return GradSlots(f.outputGrad0.take()) }
        var g = GradSlots(f.outputGrad0.take(), f.moreOutputGrads[0])
        if f.outputCount > 2 { g.rest = Array(f.moreOutputGrads[1...]) }
        f.moreOutputGrads = []
        return g
    }

    @inline(__always)
    static func leafTerm(_ f: FunctionNode, _ index: Int, _ gys: GradSlots<NDArray>) -> LeafGradientTerm? {
        f.leafGradientTerm(index, gys)
    }

    static func addOutputGrad(_ f: FunctionNode, _ index: Int, _ g: consuming NDArray) {
        if index == 0 {
            NDArray.accumulate(&f.outputGrad0, consume g)
            return
        }
        if f.moreOutputGrads.isEmpty { f.moreOutputGrads = smallArray(f.outputCount - 1) { _ in nil } }
        NDArray.accumulate(&f.moreOutputGrads[index - 1], consume g)
    }

    @inline(__always)
    static func backward(_ f: FunctionNode, _ targets: [Int], _ gys: GradSlots<NDArray>) -> GradSlots<NDArray> {
        f.backwardArrays(targets, gys)
    }

    static func sum(_ a: NDArray?, _ b: NDArray) -> NDArray {
        var slot = a
        NDArray.accumulate(&slot, b)
        return slot!
    }

    static func accumulateLeaf(_ x: Variable, _ g: consuming NDArray) {
        x._gradVar = nil
        NDArray.accumulate(&x._grad, consume g)
    }

    static func retain(_ g: NDArray, in v: Variable) {
        v._grad = g
        v._gradVar = nil
    }

    static func seed(of v: Variable) -> NDArray? { v._grad }

    static func keepSeed(_ g: NDArray?, in v: Variable) {
        v._grad = g
        v._gradVar = nil
    }

    static func ones(like v: Variable) -> NDArray { NDArray.onesLike(v.array) }
}

extension Recorded: BackwardValue {
    static func takeOutputGrads(_ f: FunctionNode) -> GradSlots<Recorded> {
        guard let e = f.extras, !e.outputGradVars.isEmpty else { return GradSlots() }
        let gs = e.outputGradVars
        e.outputGradVars = []
        var g = GradSlots(gs[0].map(Recorded.init), gs.count > 1 ? gs[1].map(Recorded.init) : nil)
        if gs.count > 2 { g.rest = gs[2...].map { $0.map(Recorded.init) } }
        return g
    }

    static func addOutputGrad(_ f: FunctionNode, _ index: Int, _ g: consuming Recorded) {
        let e = f.ensuredExtras
        if e.outputGradVars.isEmpty { e.outputGradVars = smallArray(f.outputCount) { _ in nil } }
        e.outputGradVars[index] = sum(e.outputGradVars[index].map(Recorded.init), g).variable
    }

    static func backward(_ f: FunctionNode, _ targets: [Int], _ gys: GradSlots<Recorded>) -> GradSlots<Recorded> {
        var slots = GradSlots<Variable>(gys.first?.variable, gys.second?.variable)
        slots.rest = gys.rest.map { $0?.variable }
        let gxs = f.backwardVariables(targets, slots)
        var out = GradSlots<Recorded>(gxs.first.map(Recorded.init), gxs.second.map(Recorded.init))
        out.rest = gxs.rest.map { $0.map(Recorded.init) }
        return out
    }

    static func sum(_ a: Recorded?, _ b: Recorded) -> Recorded { a.map { $0 + b } ?? b }

    static func accumulateLeaf(_ x: Variable, _ g: consuming Recorded) {
        let total = sum(x.gradVar.map(Recorded.init), g)
        x._gradVar = total.variable
        x._grad = total.variable.array
    }

    static func retain(_ g: Recorded, in v: Variable) {
        v._gradVar = g.variable
        v._grad = g.variable.array
    }

    static func seed(of v: Variable) -> Recorded? { v.gradVar.map(Recorded.init) }

    static func keepSeed(_ g: Recorded?, in v: Variable) {
        v._gradVar = g?.variable
        v._grad = g?.variable.array
    }

    static func ones(like v: Variable) -> Recorded { Recorded(Variable.constant(NDArray.onesLike(v.array))) }

    static func leafTerm(_ f: FunctionNode, _ index: Int, _ gys: GradSlots<Recorded>) -> LeafGradientTerm? { nil }
}

/// One backward traversal, over arrays (a plain pass) or over variables (a recorded pass).
struct BackwardEngine<V: BackwardValue> {
    /// When set, gradients of these variables are collected in `captured` instead of their `grad`, and no leaf's
    /// `grad` is written.
    let capture: [Variable]?
    let retainGrad: Bool
    /// Treat the captured variables as the ends of the graph (`partialGrad`).
    let stopAtCapture: Bool
    var captured: [ObjectIdentifier: V?] = [:]
    private var captureSet: Set<ObjectIdentifier> = []
    private var heap = FunctionHeap()
    /// Whether functions may hand leaf gradients over as ``LeafGradientTerm``s.
    private let leafTerms: Bool
    /// Deferred `lhsᵀ · rhs` terms for each leaf, evaluated together when the pass ends.
    private var products: [(leaf: Variable, lhs: [NDArray], rhs: [NDArray])] = []
    private var productIndex: [ObjectIdentifier: Int] = [:]

    init(capture: [Variable]?, retainGrad: Bool, stopAtCapture: Bool = false) {
        self.capture = capture
        self.retainGrad = retainGrad
        self.stopAtCapture = stopAtCapture
        leafTerms = V.self == NDArray.self && capture == nil && !retainGrad
        if let capture {
            captureSet = Set(capture.map { ObjectIdentifier($0) })
            for v in capture { captured[ObjectIdentifier(v)] = .some(nil) }
        }
    }

    mutating func run(_ outputs: [Variable], seeds: [V?]?, seedIntoVariables: Bool = true) {
        if let seeds, seeds.count != outputs.count {
            typeCheckFailure("backward: \(seeds.count) output gradients given for \(outputs.count) outputs")
        }
        let config = Config.current
        let pass = config.nextPass()
        // The thread's spare heap buffer (nil while an enclosing pass holds it: a nested pass allocates its own).
        if let spare = config.spareHeapItems.take() { heap.items = spare }
        defer {
            heap.items.removeAll(keepingCapacity: true)
            if heap.items.capacity <= 4096 { config.spareHeapItems = heap.items }
            heap.items = []
        }
        for (i, y) in outputs.enumerated() {
            var seed = seeds?[i] ?? nil
            if seed == nil { seed = V.seed(of: y) }
            if seed == nil {
                if y.count != 1 {
                    typeCheckFailure("backward: the output\(y.name.map { " \($0)" } ?? "") has shape \(y.shape); only one-element outputs get an initial gradient of 1, so set its grad (or pass gradOutputs) first")
                }
                seed = V.ones(like: y)
            }
            guard let g = seed else { continue }
            // The seed is consumed, as in Chainer; a leaf output, or retainGrad, keeps it.
            if seedIntoVariables { V.keepSeed((retainGrad || y.creator == nil) ? g : nil, in: y) }
            if g.shape != y.shape || g.dtype != y.dtype {
                typeCheckFailure("backward: the gradient for output \(i) has shape \(g.shape) (\(g.dtype)), the output has \(y.shape) (\(y.dtype))")
            }
            if y.creator == nil && capture == nil { continue }
            deliver(g, to: y, pass: pass)
        }
        while let f = heap.pop() { step(f, pass: pass) }
        flushProducts()
    }

    /// One node: its output gradients in, its inputs' gradients out to their creators or into the leaves.
    private mutating func step(_ f: FunctionNode, pass: Int) {
        let gys = V.takeOutputGrads(f)
        if f.inputCount == 0 || gys.isEmpty { return }   // released by unchainBackward(), or nothing arrived
        if retainGrad {
            for i in 0..<f.outputCount {
                if let v = f.outputRef(i)?.takeUnretainedValue(), let g = gys[i] { V.retain(g, in: v) }
            }
        }
        var targets = BackwardEngine.targets(f)
        if targets.isEmpty { return }
        if leafTerms && f.offersLeafGradientTerms {
            targets = takeLeafTerms(f, targets, gys)
            if targets.isEmpty { return }
        }
        var gxs = V.backward(f, targets, gys)
        // Each gradient is moved out of its slot, so that an array accumulated in place later is not shared with
        // it. The two inline slots are taken by name: a loop over `take(k)` would make the (usually empty) `rest`
        // array unique first, which allocates a buffer at every step.
        if let gx = gxs.first.take() { deliverChecked(gx, f, targets[0], pass) }
        if targets.count > 1, let gx = gxs.second.take() { deliverChecked(gx, f, targets[1], pass) }
        if targets.count > 2 {
            var rest: [V?] = []
            swap(&rest, &gxs.rest)
            for k in 2..<targets.count where k - 2 < rest.count {
                if let gx = rest[k - 2].take() { deliverChecked(gx, f, targets[k], pass) }
            }
        }
    }

    /// Delivers the gradient `f`'s backward returned for its input `i`, after checking its shape and dtype.
    @inline(__always)
    private mutating func deliverChecked(_ gx: consuming V, _ f: FunctionNode, _ i: Int, _ pass: Int) {
        let x = f.input(i)
        if !x.hasLayout(gx.shape, gx.dtype) {
            typeCheckFailure("\(f.label).backward: the gradient of input \(i) has shape \(gx.shape) (\(gx.dtype)), the input has \(x.shape) (\(x.dtype))")
        }
        deliver(consume gx, to: x, pass: pass)
    }

    /// Lets `f` hand over the gradients of its leaf inputs as terms the engine accumulates; returns the targets
    /// left for its ordinary backward.
    private mutating func takeLeafTerms(_ f: FunctionNode, _ targets: [Int], _ gys: GradSlots<V>) -> [Int] {
        var left = targets
        for i in targets {
            let x = f.input(i)
            guard x.creator == nil, let term = V.leafTerm(f, i, gys) else { continue }
            switch term {
            case .product(let lhs, let rhs):
                if lhs.ndim != 2 || rhs.ndim != 2 || lhs.shape[0] != rhs.shape[0] || [lhs.shape[1], rhs.shape[1]] != x.shape || lhs.dtype != x.dtype {
                    typeCheckFailure("\(f.label).leafGradientTerm: terms of shapes \(lhs.shape) and \(rhs.shape) do not give the gradient of shape \(x.shape)")
                }
                let id = ObjectIdentifier(x)
                if let k = productIndex[id] {
                    products[k].lhs.append(lhs)
                    products[k].rhs.append(rhs)
                } else {
                    productIndex[id] = products.count
                    products.append((leaf: x, lhs: [lhs], rhs: [rhs]))
                }
            case .rows(let ids, let values):
                x._gradVar = nil
                if x._grad == nil { x._grad = NDArray.zeros(x.shape, dtype: x.dtype) }
                x._grad!.scatterAddRows(values, ids: ids)
            }
            left.removeAll { $0 == i }
        }
        return left
    }

    /// Evaluates each leaf's deferred product terms as one GEMM over the stacked rows, added to its gradient.
    private mutating func flushProducts() {
        for (leaf, lhs, rhs) in products {
            leaf._gradVar = nil
            if lhs.count > 1 && leaf.dtype == .float32 {
                // The terms' rows read where they lie (no copy of every step's arrays into one matrix each).
                let ls = lhs.map { $0.contiguous() }, rs = rhs.map { $0.contiguous() }
                let m = leaf.shape[0], n = leaf.shape[1]
                var aCols: [UnsafePointer<Float>?] = [], bRows: [UnsafePointer<Float>?] = []
                aCols.reserveCapacity(ls.reduce(0) { $0 + $1.shape[0] })
                bRows.reserveCapacity(aCols.capacity)
                for (l, r) in zip(ls, rs) {
                    let pl = UnsafePointer(l.pointer(Float.self)), pr = UnsafePointer(r.pointer(Float.self))
                    for i in 0..<l.shape[0] {
                        aCols.append(pl + i * m)
                        bRows.append(pr + i * n)
                    }
                }
                let accumulate = leaf._grad != nil
                var g = leaf._grad.take() ?? NDArray(uninitializedShape: leaf.shape, dtype: .float32)
                g.makeUniqueContiguous()
                withExtendedLifetime((ls, rs)) {
                    GEMM.gemmOuterRows(m: m, n: n, aCols: aCols, bRows: bRows, c: g.pointer(Float.self), rsc: n, accumulate: accumulate)
                }
                leaf._grad = g
                continue
            }
            let a = lhs.count == 1 ? lhs[0] : NDArray.concatenate(lhs, axis: 0)
            let b = rhs.count == 1 ? rhs[0] : NDArray.concatenate(rhs, axis: 0)
            if var g = leaf._grad.take() {
                NDArray.gemm(a, b, into: &g, transposeA: true, accumulate: true)
                leaf._grad = g
            } else {
                var g = NDArray(uninitializedShape: leaf.shape, dtype: leaf.dtype)
                NDArray.gemm(a, b, into: &g, transposeA: true)
                leaf._grad = g
            }
        }
        products = []
        productIndex = [:]
    }

    /// The positions of the inputs that require a gradient (shared arrays for up to three inputs).
    @inline(__always)
    static func targets(_ f: FunctionNode) -> [Int] {
        let n = f.inputCount
        if n <= 3 {
            var mask = 0
            for i in 0..<n where f.input(i).requiresGrad { mask |= 1 << i }
            return smallTargetTable[n][mask]
        }
        return (0..<n).filter { f.input($0).requiresGrad }
    }

    /// Adds a gradient contribution for `x`: into its creator's pending output gradient (scheduling the creator),
    /// or into the leaf's `grad`.
    private mutating func deliver(_ g: consuming V, to x: Variable, pass: Int) {
        if capture != nil {
            let id = ObjectIdentifier(x)
            if captureSet.contains(id) {
                captured[id] = V.sum(captured[id] ?? nil, g)
                if stopAtCapture { return }
            }
        }
        if let c = x.creator {
            V.addOutputGrad(c, x.outputIndex, consume g)
            if c.visitMark != pass {
                c.visitMark = pass
                heap.push(c)
            }
        } else if capture == nil && x.requiresGrad {
            V.accumulateLeaf(x, consume g)
        }
    }
}

/// The subsets of up to three inputs, by bit mask, as shared arrays.
private let smallTargetTable: [[[Int]]] = [[[]], [[], [0]], [[], [0], [1], [0, 1]], [[], [0], [1], [0, 1], [2], [0, 2], [1, 2], [0, 1, 2]]]

/// A max-heap of functions by rank; among equal ranks, the one pushed first comes out first.
struct FunctionHeap {
    typealias Items = [(rank: Int, order: Int, node: FunctionNode)]
    /// Empty until the pass starts: ``BackwardEngine/run(_:seeds:seedIntoVariables:)`` lends it the thread's spare
    /// buffer (`Configuration.spareHeapItems`) and gives it back at the end, so a pass allocates no heap storage.
    fileprivate var items: Items = []
    private var counter = 0

    mutating func push(_ f: FunctionNode) {
        counter += 1
        items.append((f.rank, -counter, f))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(items[p], items[i]) {
                items.swapAt(p, i)
                i = p
            } else {
                break
            }
        }
    }

    mutating func pop() -> FunctionNode? {
        guard !items.isEmpty else { return nil }
        let top = items[0].node
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && less(items[m], items[l]) { m = l }
                if r < items.count && less(items[m], items[r]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    private func less(_ a: (rank: Int, order: Int, node: FunctionNode), _ b: (rank: Int, order: Int, node: FunctionNode)) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.order < b.order
    }
}
