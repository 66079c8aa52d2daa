import Foundation

/// An array in the computational graph (Chainer's `Variable`).
///
/// Calling a function on variables computes its result and, when ``Config/enableBackprop`` is on and some input
/// requires a gradient, records the call: the result's ``creator`` is the function, which holds its inputs. Calling
/// ``backward(retainGrad:enableDoubleBackprop:)`` on a scalar result then fills the ``grad`` of every leaf variable
/// that requires one.
///
/// ```swift
/// let x = Variable(NDArray([[1, 2, 3]]))
/// let w = Variable(NDArray([[0.5], [0.25], [2]]))
/// let loss = F.sum(F.matmul(x, w) * 2)
/// loss.backward()
/// print(w.grad!)      // [[2.] [4.] [6.]]
/// ```
///
/// Ownership runs result → creator → inputs; a function refers to its outputs only weakly, so the graph behind a
/// value is freed as soon as nothing refers to that value (or ``unchainBackward()`` cuts it).
public class Variable {
    /// The data.
    public final var array: NDArray {
        @inlinable get {
            if let shared = parameterData { return shared.array }
            return ownArray
        }
        set {
            if let shared = parameterData {
                shared.array = newValue
                if !shared.isInitialized {
                    shared.isInitialized = true
                    isUninitializedParameter = false
                }
            } else {
                ownArray = newValue
            }
        }
    }
    /// The data of a plain variable. (A final property over stored fields rather than an override in
    /// ``Parameter``: every function reads its inputs' arrays, and a dynamically dispatched getter costs each read
    /// a call and a copy.)
    @exclusivity(unchecked) @usableFromInline var ownArray: NDArray
    /// A parameter's data, held in common with its `.share` copies (nil for other variables).
    @exclusivity(unchecked) @usableFromInline var parameterData: ParameterData?
    /// The gradient, if computed (same shape as `array`). Leaves accumulate into it across backward passes until
    /// ``clearGrad()``.
    public var grad: NDArray? {
        get { _grad }
        set {
            if let g = newValue, g.shape != array.shape || g.dtype != array.dtype {
                typeCheckFailure("Variable\(name.map { " \($0)" } ?? ""): grad of shape \(g.shape) (\(g.dtype)) does not match the data's shape \(array.shape) (\(array.dtype))")
            }
            _grad = newValue
            _gradVar = nil
        }
    }
    @exclusivity(unchecked) @usableFromInline var _grad: NDArray?

    /// Sets the gradient to zeros of the data's shape (Chainer's `zerograd`).
    public func zeroGrad() { grad = NDArray.zerosLike(array) }

    /// The gradient as a variable (Chainer's `grad_var`). After `backward(enableDoubleBackprop: true)` it carries
    /// the graph of the backward computation, so it can be differentiated again; otherwise it is a variable over
    /// ``grad`` without a creator. Setting it sets ``grad`` to its data.
    public var gradVar: Variable? {
        get {
            if let v = _gradVar, let g = _grad, v.array.storage === g.storage { return v }
            return _grad.map { Variable($0) }
        }
        set {
            if let g = newValue, g.shape != array.shape || g.dtype != array.dtype {
                typeCheckFailure("Variable\(name.map { " \($0)" } ?? ""): gradVar of shape \(g.shape) (\(g.dtype)) does not match the data's shape \(array.shape) (\(array.dtype))")
            }
            _gradVar = newValue
            _grad = newValue?.array
        }
    }
    /// The recorded gradient of the last double-backprop pass (kept in step with `_grad`).
    @exclusivity(unchecked) var _gradVar: Variable?
    /// The function that produced this variable, or nil for a leaf (an input, a parameter, or a variable that
    /// was ``unchain()``ed).
    @exclusivity(unchecked) public internal(set) var creator: FunctionNode?
    /// Which of its creator's outputs this is.
    @exclusivity(unchecked) @usableFromInline var outputIndex = 0
    /// The depth in the graph: 0 for a leaf, one more than its creator's rank otherwise. Backward visits
    /// functions from the highest rank down, so every contribution to a gradient is summed before it is used.
    @exclusivity(unchecked) public internal(set) var rank = 0
    /// Whether gradients flow to this variable. Parameters and variables made with `Variable(_:)` require them;
    /// arrays passed as data (``Variable/init(_:requiresGrad:name:)`` with `requiresGrad: false`) do not.
    public let requiresGrad: Bool
    /// An optional name, used in messages and graph dumps.
    public var name: String?
    /// Set by ``Parameter`` while it has no data yet.
    @exclusivity(unchecked) @usableFromInline var isUninitializedParameter = false

    /// A leaf variable holding `array`.
    public init(_ array: NDArray, requiresGrad: Bool = true, name: String? = nil) {
        ownArray = array
        self.requiresGrad = requiresGrad
        self.name = name
    }

    /// An output of a recorded function.
    @usableFromInline
    init(output array: NDArray, creator: FunctionNode, index: Int, rank: Int) {
        ownArray = array
        self.requiresGrad = true
        self.creator = creator
        self.outputIndex = index
        self.rank = rank
    }

    deinit {
        creator?.outputDied(outputIndex)
    }

    // MARK: - Shape

    /// The data's shape.
    @inlinable public var shape: [Int] { array.shape }
    /// The data's dtype.
    @inlinable public var dtype: DType { array.dtype }
    /// The number of axes.
    @inlinable public var ndim: Int { array.ndim }
    /// The number of elements.
    @inlinable public var count: Int { array.count }

    /// Whether the data has `shape` and `dtype`, read in place (``array`` returns a copy, which retains its
    /// storage and shape: the backward engine checks every gradient it delivers).
    @inline(__always)
    func hasLayout(_ shape: [Int], _ dtype: DType) -> Bool {
        if let shared = parameterData { return shared.array.dtype == dtype && shared.array.shape == shape }
        return ownArray.dtype == dtype && ownArray.shape == shape
    }

    /// The single element of a one-element variable as a `Double`.
    public func item() -> Double { array.item() }

    // MARK: - Graph editing

    /// Sets the gradient to nil (Chainer's `cleargrad`).
    public func clearGrad() {
        _grad = nil
        _gradVar = nil
    }

    /// Cuts this variable from its creator: it becomes a leaf, and backward stops here (Chainer's `unchain`).
    public func unchain() {
        if let c = creator {
            c.outputDied(outputIndex)
            creator = nil
        }
    }

    /// Cuts the graph behind this variable (Chainer's `unchain_backward`): every function this variable depends
    /// on releases its inputs, and every variable those functions produced — this one included — loses its
    /// creator and becomes a leaf. Variables computed *from* this one keep their creators. In truncated BPTT,
    /// call it on the loss after `backward()`: the carried hidden state keeps its values and drops its past, and
    /// the old graph is freed.
    public func unchainBackward() {
        guard let first = creator else { return }
        let pass = Config.current.nextPass()
        var stack = [first]
        first.visitMark = pass
        while let f = stack.popLast() {
            for i in 0..<f.outputCount {
                f.outputRef(i)?.takeUnretainedValue().unchain()
            }
            for i in 0..<f.inputCount {
                if let c = f.input(i).creator, c.visitMark != pass {
                    c.visitMark = pass
                    stack.append(c)
                }
            }
            f.releaseInputs()
        }
    }
}

extension Variable: CustomStringConvertible {
    /// `variable(...)` around the data, as Chainer prints it.
    public var description: String {
        let body = array.description.replacingOccurrences(of: "\n", with: "\n         ")
        return "variable\(name.map { " \($0)" } ?? "")(\(body))"
    }
}
