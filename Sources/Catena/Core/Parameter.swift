import Foundation

/// A trainable variable owned by a link (Chainer's `Parameter`).
///
/// A parameter always requires a gradient. It may be created without data, from an initializer alone; it then
/// gets its data from ``initialize(shape:)`` — links do this on their first call, once the input size is known
/// (`Linear(nil, 100)`).
///
/// ```swift
/// let w = Parameter(NDArray.zeros([3, 4]))
/// let lazy = Parameter(initializer: Constant(0.5))   // no data yet
/// lazy.initialize(shape: [10])
/// ```
public final class Parameter: Variable {
    /// How the data is made when the parameter is initialised (or re-initialised by `copy(mode: .initialize)`).
    @exclusivity(unchecked) public var initializer: Initializer?
    /// The dtype the data gets when it is initialised lazily.
    @exclusivity(unchecked) public var initialDType: DType
    /// The generator the initializer draws from (``RandomState/global`` unless the link was given one).
    @exclusivity(unchecked) public var rng: RandomState

    /// A parameter holding `array`.
    public init(_ array: NDArray, name: String? = nil) {
        initialDType = array.dtype
        rng = .global
        super.init(array, requiresGrad: true, name: name)
    }

    /// A parameter with no data yet (or initialised now when `shape` is given), filled by `initializer` from `rng`.
    public init(initializer: Initializer, shape: [Int]? = nil, dtype: DType = .float32, rng: RandomState = .global, name: String? = nil) {
        self.initializer = initializer
        initialDType = dtype
        self.rng = rng
        super.init(NDArray.zeros([0], dtype: dtype), requiresGrad: true, name: name)
        if let shape {
            initialize(shape: shape)
        } else {
            isUninitializedParameter = true
        }
    }

    /// True once the parameter has data.
    public var isInitialized: Bool { !isUninitializedParameter }

    /// Gives the parameter data of `shape` from its initializer (zeros without one), and clears its gradient.
    public func initialize(shape: [Int]) {
        array = initializer?.makeArray(shape: shape, dtype: initialDType, rng: rng) ?? .zeros(shape, dtype: initialDType)
        isUninitializedParameter = false
        _grad = nil
    }

    /// Sets the gradient to zeros of the data's shape (Chainer's `zerograd`).
    public func zeroGrad() { _grad = NDArray.zerosLike(array) }
}
