import Foundation

// Layering: Parameter is Core, yet it holds an `Initializer` (Initializers) and an `UpdateRule` (Optimizers). The
// link is deliberate and matches Chainer's `Parameter` (`initializer`, `update_rule`, `update()`): a lazy parameter
// must draw its data on first use wherever that happens, and links copied with `copy(mode: .share)` must share one
// update rule through `ParameterData`. Core uses only the two types' interfaces (`makeArray`, `update`); neither
// reaches back into Core's engine.

/// The data behind a ``Parameter``, which links copied with `copy(mode: .share)` hold in common (Chainer shares
/// the data array and the update rule between such copies, but not the gradient).
@usableFromInline final class ParameterData {
    // Read on every use of the parameter in a graph: no run-time exclusivity checks (as for Variable's fields).
    /// The parameter's values.
    @exclusivity(unchecked) @usableFromInline var array: NDArray
    /// Whether `array` holds real data yet (false for a lazy parameter before its first use).
    @exclusivity(unchecked) var isInitialized: Bool
    /// The optimizer's per-parameter state and hyperparameters, set by `Optimizer.setup(_:)`.
    @exclusivity(unchecked) var updateRule: UpdateRule?

    init(array: NDArray, isInitialized: Bool) {
        self.array = array
        self.isInitialized = isInitialized
    }
}

/// A trainable variable owned by a link (Chainer's `Parameter`).
///
/// A parameter always requires a gradient. It may be created without data, from an initializer alone; it then
/// gets its data from ``initialize(shape:dtype:)`` — links do this on their first call, once the input size is known
/// (`Linear(nil, 100)`).
///
/// ```swift
/// let w = Parameter(NDArray.zeros([3, 4]))
/// let lazy = Parameter(initializer: Constant(0.5))   // no data yet
/// lazy.initialize(shape: [10])
/// ```
///
/// Unlike Chainer, a new parameter's gradient is nil (treated as zero), not NaN, so forgetting `clearGrads()`
/// accumulates gradients instead of poisoning them.
public final class Parameter: Variable {
    /// How the data is made when the parameter is initialised (or re-initialised by `copy(mode: .initialize)`).
    public var initializer: Initializer?
    /// The dtype the data gets when it is initialised lazily.
    public var initialDType: DType
    /// The generator the initializer draws from (``RandomState/global`` unless the link was given one).
    public var rng: RandomState
    /// The data, shared with copies made by `copy(mode: .share)`.
    var data: ParameterData {
        get { parameterData.unsafelyUnwrapped }
        set { parameterData = newValue }
    }

    /// A parameter holding `array`.
    public init(_ array: NDArray, name: String? = nil) {
        initialDType = array.dtype
        rng = .global
        super.init(NDArray.zeros([0], dtype: array.dtype), requiresGrad: true, name: name)
        parameterData = ParameterData(array: array, isInitialized: true)
    }

    /// A parameter with no data yet (or initialised now when `shape` is given), filled by `initializer` from `rng`.
    public init(initializer: Initializer, shape: [Int]? = nil, dtype: DType = .float32, rng: RandomState = .global, name: String? = nil) {
        self.initializer = initializer
        initialDType = dtype
        self.rng = rng
        super.init(NDArray.zeros([0], dtype: dtype), requiresGrad: true, name: name)
        parameterData = ParameterData(array: NDArray.zeros([0], dtype: dtype), isInitialized: false)
        if let shape {
            initialize(shape: shape)
        } else {
            isUninitializedParameter = true
        }
    }

    /// True once the parameter has data.
    public var isInitialized: Bool { data.isInitialized }

    /// The optimizer's rule for this parameter (shared with `.share` copies).
    public var updateRule: UpdateRule? {
        get { data.updateRule }
        set { data.updateRule = newValue }
    }

    /// Gives the parameter data of `shape` from its initializer (zeros without one), and clears its gradient.
    /// Links initialising lazily on their first call pass the input's float dtype.
    public func initialize(shape: [Int], dtype: DType? = nil) {
        if let dtype, dtype.isFloatingPoint { initialDType = dtype }
        data.array = initializer?.makeArray(shape: shape, dtype: initialDType, rng: rng) ?? .zeros(shape, dtype: initialDType)
        data.isInitialized = true
        isUninitializedParameter = false
        _grad = nil
    }

    /// Makes this parameter use `other`'s data and update rule (the `.share` copy mode).
    func share(_ other: Parameter) {
        data = other.data
        isUninitializedParameter = !other.data.isInitialized
        initializer = other.initializer
        initialDType = other.initialDType
        _grad = nil
    }

    /// Re-reads the initialisation state after another parameter sharing this data initialised it.
    func refreshInitialized() { isUninitializedParameter = !data.isInitialized }

    /// Runs the update rule on this parameter, if it has one (Chainer's `Parameter.update`).
    public func update() { updateRule?.update(self) }
}
