import Foundation

// exp, log, sqrt, square, abs: element-wise functions with their derivatives.

/// Which element-wise function a ``UnaryMathFunction`` computes.
enum UnaryMathKind {
    case exp, log, sqrt, square, abs

    var label: String {
        switch self {
        case .exp: return "Exp"
        case .log: return "Log"
        case .sqrt: return "Sqrt"
        case .square: return "Square"
        case .abs: return "Absolute"
        }
    }
}

/// exp, log, sqrt, square and abs, each retaining the one array its derivative needs.
final class UnaryMathFunction: UnaryFunction {
    private let kind: UnaryMathKind
    @exclusivity(unchecked) private var kept: NDArray!

    init(_ kind: UnaryMathKind) { self.kind = kind }

    override var label: String { kind.label }

    override func forward(_ input: consuming NDArray) -> NDArray {
        let x = input
        if !x.dtype.isFloatingPoint { typeCheckFailure("\(kind.label.lowercased()): expected a floating-point input, got \(x.dtype)") }
        switch kind {
        case .exp: kept = x.exp(); return kept
        case .log: kept = x; return x.log()
        case .sqrt: kept = x.sqrt(); return kept
        case .square: kept = x; return x.squared()
        case .abs: kept = x; return x.abs()
        }
    }

    override func backward(_ g: NDArray) -> NDArray { formula(g, kept) }
    override func backward(_ g: Recorded) -> Recorded {
        formula(g, kind == .exp || kind == .sqrt ? outputVariable(kept) : inputVariable)
    }

    /// `kept` is the output for exp and sqrt, the input otherwise.
    private func formula<V: GradientValue>(_ g: V, _ kept: V) -> V {
        switch kind {
        case .exp: return g * kept                                 // d e^x = e^x
        case .log: return g / kept                                 // d log x = 1/x
        case .sqrt: return V.sqrtGrad(g, kept)                     // d √x = 1 / (2√x)
        case .square: return g * kept * 2
        case .abs: return g * V.constantValue(kept.values.sign())       // 0 at x = 0, as Chainer
        }
    }
}

extension F {
    /// `e^x` element-wise.
    public static func exp(_ x: Variable) -> Variable { UnaryMathFunction(.exp).call(x) }
    /// The natural logarithm element-wise.
    public static func log(_ x: Variable) -> Variable { UnaryMathFunction(.log).call(x) }
    /// The square root element-wise.
    public static func sqrt(_ x: Variable) -> Variable { UnaryMathFunction(.sqrt).call(x) }
    /// `x * x` element-wise.
    public static func square(_ x: Variable) -> Variable { UnaryMathFunction(.square).call(x) }
    /// `|x|` element-wise (its gradient at 0 is 0).
    public static func absolute(_ x: Variable) -> Variable { UnaryMathFunction(.abs).call(x) }
    /// `|x|` element-wise; Chainer's `F.absolute`, also reachable as `abs(x)` on a variable.
    public static func abs(_ x: Variable) -> Variable { absolute(x) }
}
