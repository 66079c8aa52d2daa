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
    /// - Precondition: a variable with more than one element has its ``grad`` set.
    public func backward(retainGrad: Bool = false) {
        Catena.backward([self], retainGrad: retainGrad)
    }
}

/// Backpropagates from several outputs at once (Chainer's `chainer.backward`): `gradOutputs[i]` (or the output's
/// own ``Variable/grad``, or 1 for a one-element output) seeds output i.
public func backward(_ outputs: [Variable], gradOutputs: [NDArray?]? = nil, retainGrad: Bool = false) {
    var engine = BackwardEngine(capture: nil, retainGrad: retainGrad)
    engine.run(outputs, gradOutputs: gradOutputs)
}

/// The gradients of the outputs with respect to `inputs`, without touching any variable's ``Variable/grad``
/// (Chainer's `chainer.grad`). An input the outputs do not depend on gets nil.
/// - Parameters:
///   - gradOutputs: seeds for the outputs (default: 1 for one-element outputs; required otherwise).
public func grad(_ outputs: [Variable], _ inputs: [Variable], gradOutputs: [NDArray?]? = nil) -> [NDArray?] {
    var engine = BackwardEngine(capture: inputs, retainGrad: false)
    engine.run(outputs, gradOutputs: gradOutputs, seedIntoVariables: false)
    return inputs.map { engine.captured[ObjectIdentifier($0)] ?? nil }
}

/// A backward step collected over several function calls and finished once when the backward pass ends (see
/// ``FunctionNode/deferBackward(_:into:)``).
protocol DeferredGradient: AnyObject {
    /// Adds the collected gradients into the leaves' `grad`.
    func finish()
}

/// One backward traversal.
struct BackwardEngine {
    /// When set, gradients of these variables are collected in `captured` instead of their `grad`, and no leaf's
    /// `grad` is written.
    let capture: [Variable]?
    let retainGrad: Bool
    var captured: [ObjectIdentifier: NDArray?] = [:]
    private var captureSet: Set<ObjectIdentifier> = []
    private var heap = FunctionHeap()
    /// Gradient terms `lhsᵀ · rhs` deferred for each leaf, evaluated together when the pass ends.
    private var products: [(leaf: Variable, lhs: [NDArray], rhs: [NDArray])] = []
    private var productIndex: [ObjectIdentifier: Int] = [:]
    /// Whole backward steps handed over by functions (``FunctionNode/deferBackward(_:into:)``), finished at the end.
    private var deferred: [AnyHashable: DeferredGradient] = [:]

    init(capture: [Variable]?, retainGrad: Bool) {
        self.capture = capture
        self.retainGrad = retainGrad
        if let capture {
            captureSet = Set(capture.map { ObjectIdentifier($0) })
            for v in capture { captured[ObjectIdentifier(v)] = .some(nil) }
        }
    }

    mutating func run(_ outputs: [Variable], gradOutputs: [NDArray?]?, seedIntoVariables: Bool = true) {
        if let gradOutputs, gradOutputs.count != outputs.count {
            typeCheckFailure("backward: \(gradOutputs.count) output gradients given for \(outputs.count) outputs")
        }
        let pass = Config.current.nextPass()
        for (i, y) in outputs.enumerated() {
            var seed = gradOutputs?[i] ?? nil
            if seed == nil { seed = y._grad }
            if seed == nil {
                if y.count != 1 {
                    typeCheckFailure("backward: the output\(y.name.map { " \($0)" } ?? "") has shape \(y.shape); only one-element outputs get an initial gradient of 1, so set its grad (or pass gradOutputs) first")
                }
                seed = NDArray.onesLike(y.array)
            }
            guard let g = seed else { continue }
            // The seed is consumed, as in Chainer; a leaf output, or retainGrad, keeps it.
            if seedIntoVariables { y._grad = (retainGrad || y.creator == nil) ? g : nil }
            if y.creator == nil && capture == nil { continue }
            if g.shape != y.shape || g.dtype != y.dtype {
                typeCheckFailure("backward: the gradient for output \(i) has shape \(g.shape) (\(g.dtype)), the output has \(y.shape) (\(y.dtype))")
            }
            deliver(g, to: y, pass: pass)
        }
        while let f = heap.pop() {
            if f.inputCount == 0 {  // released by unchainBackward(): nothing behind it
                _ = f.takeOutputGrads()
                continue
            }
            switch f.arity {
            case 1:
                guard let g = f.outputGrad0.take() else { continue }
                if retainGrad, let v = f.outputRef0?.takeUnretainedValue() { v._grad = g }
                let x = f.input(0)
                if !x.requiresGrad { continue }
                let gx = unsafeDowncast(f, to: UnaryFunction.self).backward(g)
                check(gx, for: x, index: 0, of: f)
                deliver(gx, to: x, pass: pass)
            case 2:
                guard let g = f.outputGrad0.take() else { continue }
                if retainGrad, let v = f.outputRef0?.takeUnretainedValue() { v._grad = g }
                let a = f.input(0), b = f.input(1)
                let needB = b.requiresGrad && !(b.creator == nil && accumulateIntoLeaf(f, 1, b, [g]))
                if !a.requiresGrad && !needB { continue }
                let (ga, gb) = unsafeDowncast(f, to: BinaryFunction.self).backward(g, needA: a.requiresGrad, needB: needB)
                if a.requiresGrad, let ga {
                    check(ga, for: a, index: 0, of: f)
                    deliver(ga, to: a, pass: pass)
                }
                if needB, let gb {
                    check(gb, for: b, index: 1, of: f)
                    deliver(gb, to: b, pass: pass)
                }
            default:
                runGeneral(f, pass: pass)
            }
        }
        flushProducts()
        if !deferred.isEmpty {
            for d in deferred.values { d.finish() }
            deferred = [:]
        }
    }

    /// Evaluates each leaf's deferred product terms as one GEMM over the stacked rows, added to its gradient.
    private mutating func flushProducts() {
        for (leaf, lhs, rhs) in products {
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

    /// One step of the general interface: arrays of output gradients in, arrays of input gradients out.
    private mutating func runGeneral(_ f: FunctionNode, pass: Int) {
        let gys = f.takeOutputGrads()
        if retainGrad {
            for i in 0..<f.outputCount {
                if let v = f.outputRef(i)?.takeUnretainedValue(), let g = gys[i] { v._grad = g }
            }
        }
        var any = false
        for g in gys where g != nil {
            any = true
            break
        }
        if !any { return }
        if capture == nil && !retainGrad && f.deferBackward(gys, into: &deferred) { return }
        let inputs = f.inputs
        var targets = BackwardEngine.targets(inputs)
        if capture == nil && targets.contains(where: { inputs[$0].creator == nil }) {
            targets = targets.filter { !accumulateIntoLeaf(f, $0, inputs[$0], gys) }
        }
        if targets.isEmpty { return }
        let gxs = f.backward(targets, gys)
        let byIndex: Bool
        if gxs.count == targets.count {
            byIndex = false
        } else if gxs.count == inputs.count {
            byIndex = true
        } else {
            typeCheckFailure("\(f.label).backward returned \(gxs.count) gradients for \(targets.count) requested inputs")
        }
        for (k, i) in targets.enumerated() {
            guard let gx = byIndex ? gxs[i] : gxs[k] else { continue }
            check(gx, for: inputs[i], index: i, of: f)
            deliver(gx, to: inputs[i], pass: pass)
        }
    }

    /// Lets `f` hand over input `i`'s gradient for the leaf `x` as a deferred product, or add it straight into the
    /// leaf's existing gradient, if it can.
    private mutating func accumulateIntoLeaf(_ f: FunctionNode, _ i: Int, _ x: Variable, _ gys: [NDArray?]) -> Bool {
        guard capture == nil, x.creator == nil, x.requiresGrad, x.ndim == 2 || x._grad != nil else { return false }
        if x.ndim == 2, let (lhs, rhs) = f.gradAsProduct(i, gys) {
            if lhs.ndim != 2 || rhs.ndim != 2 || lhs.shape[0] != rhs.shape[0] || [lhs.shape[1], rhs.shape[1]] != x.shape || lhs.dtype != x.dtype {
                typeCheckFailure("\(f.label).gradAsProduct: terms of shapes \(lhs.shape) and \(rhs.shape) do not give the gradient of shape \(x.shape)")
            }
            let id = ObjectIdentifier(x)
            if let k = productIndex[id] {
                products[k].lhs.append(lhs)
                products[k].rhs.append(rhs)
            } else {
                productIndex[id] = products.count
                products.append((leaf: x, lhs: [lhs], rhs: [rhs]))
            }
            return true
        }
        guard var g = x._grad.take() else { return false }
        let done = productIndex[ObjectIdentifier(x)] == nil && g.shape == x.shape && g.dtype == x.dtype && f.accumulateGrad(i, gys, into: &g)
        x._grad = g
        return done
    }

    @inline(__always)
    private func check(_ gx: NDArray, for x: Variable, index i: Int, of f: FunctionNode) {
        if gx.shape != x.shape || gx.dtype != x.dtype {
            typeCheckFailure("\(f.label).backward: the gradient of input \(i) has shape \(gx.shape) (\(gx.dtype)), the input has \(x.shape) (\(x.dtype))")
        }
    }

    private static let smallTargets: [[[Int]]] = [
        [[]],
        [[], [0]],
        [[], [0], [1], [0, 1]],
        [[], [0], [1], [0, 1], [2], [0, 2], [1, 2], [0, 1, 2]],
    ]

    /// The positions of the inputs that require a gradient (shared arrays for up to three inputs).
    @inline(__always)
    static func targets(_ inputs: [Variable]) -> [Int] {
        if inputs.count <= 3 {
            var mask = 0
            for (i, x) in inputs.enumerated() where x.requiresGrad { mask |= 1 << i }
            return smallTargets[inputs.count][mask]
        }
        return inputs.indices.filter { inputs[$0].requiresGrad }
    }

    /// Adds a gradient contribution for `x`: into its creator's pending output gradient (scheduling the creator),
    /// or into the leaf's `grad`.
    private mutating func deliver(_ g: NDArray, to x: Variable, pass: Int) {
        if capture != nil {
            let id = ObjectIdentifier(x)
            if captureSet.contains(id) {
                if let existing = captured[id] ?? nil { captured[id] = existing + g } else { captured[id] = g }
            }
        }
        if let c = x.creator {
            c.accumulateOutputGrad(x.outputIndex, g)
            if c.visitMark != pass {
                c.visitMark = pass
                heap.push(c)
            }
        } else if capture == nil && x.requiresGrad {
            NDArray.accumulate(&x._grad, g)
        }
    }
}

/// A max-heap of functions by rank; among equal ranks, the one pushed first comes out first.
struct FunctionHeap {
    private var items: [(rank: Int, order: Int, node: FunctionNode)] = {
        var a = [(rank: Int, order: Int, node: FunctionNode)]()
        a.reserveCapacity(16)
        return a
    }()
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
