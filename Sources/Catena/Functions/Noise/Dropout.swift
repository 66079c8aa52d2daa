import Foundation

final class Dropout: UnaryFunction {
    private let ratio: Double
    private let rng: RandomState
    @exclusivity(unchecked) private var mask: NDArray!
    init(ratio: Double, rng: RandomState) {
        self.ratio = ratio
        self.rng = rng
    }
    override func forward(_ input: consuming NDArray) -> NDArray {
        let x = input
        if !x.dtype.isFloatingPoint { typeCheckFailure("dropout: expected a floating-point input, got \(x.dtype)") }
        // Keep an element with probability 1 - ratio and scale it by 1 / (1 - ratio); one uniform draw per element,
        // in C order, from `rng`.
        let m = NDArray(uninitializedShape: x.shape, dtype: x.dtype)
        let scale = 1 / (1 - ratio)
        func fill<T: NDFloatingPoint>(_: T.Type) {
            let p = m.pointer(T.self)
            let r = Float(ratio), s = T(scale)
            for i in 0..<m.count { p[i] = rng.nextFloat() >= r ? s : 0 }
        }
        x.dtype.withFloatType(orFail: "dropout: expected a floating-point input, got \(x.dtype)") { fill($0) }
        mask = m
        return x * mask
    }
    override func backward(_ g: NDArray) -> NDArray { g * mask }
    override func backward(_ g: Recorded) -> Recorded { g * Recorded.constantValue(mask) }
}

extension F {
    /// Zeroes each element with probability `ratio` and scales the rest by `1 / (1 - ratio)` during training
    /// (``Config/train``); returns `x` itself otherwise. The mask is drawn from `rng` (``RandomState/global`` by
    /// default), so runs are reproducible and snapshots can restore the stream.
    /// - Precondition: `0 <= ratio < 1`.
    public static func dropout(_ x: Variable, ratio: Double = 0.5, rng: RandomState? = nil) -> Variable {
        if !(ratio >= 0 && ratio < 1) { typeCheckFailure("dropout: ratio must be in [0, 1), got \(ratio)") }
        if !Config.train || ratio == 0 { return x }
        return Dropout(ratio: ratio, rng: rng ?? .global).call(x)
    }
}
