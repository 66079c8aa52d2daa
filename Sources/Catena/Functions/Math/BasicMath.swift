import Foundation

// Chainer's basic_math: + - * / ** and negation, with NumPy broadcasting (gradients are summed back to each
// input's shape) and with constants (Swift numbers, or arrays that need no gradient).

/// `x0 + x1` with broadcasting.
final class Add: BinaryFunction {
    @exclusivity(unchecked) private var shapes: ([Int], [Int]) = ([], [])
    override func forward(_ a: NDArray, _ b: NDArray) -> NDArray {
        shapes = (a.shape, b.shape)
        return a + b
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        (needA ? g.sumTo(shapes.0) : nil, needB ? g.sumTo(shapes.1) : nil)
    }
}

/// `x0 - x1` with broadcasting.
final class Sub: BinaryFunction {
    @exclusivity(unchecked) private var shapes: ([Int], [Int]) = ([], [])
    override func forward(_ a: NDArray, _ b: NDArray) -> NDArray {
        shapes = (a.shape, b.shape)
        return a - b
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        (needA ? g.sumTo(shapes.0) : nil, needB ? (-g).sumTo(shapes.1) : nil)
    }
}

/// `x0 * x1` with broadcasting.
final class Mul: BinaryFunction {
    @exclusivity(unchecked) private var x0 = NDArray.zeros([]), x1 = NDArray.zeros([])
    override func forward(_ a: NDArray, _ b: NDArray) -> NDArray {
        x0 = a
        x1 = b
        return a * b
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        (needA ? (g * x1).sumTo(x0.shape) : nil, needB ? (g * x0).sumTo(x1.shape) : nil)
    }
}

/// `x0 / x1` with broadcasting.
final class Div: BinaryFunction {
    @exclusivity(unchecked) private var x0 = NDArray.zeros([]), x1 = NDArray.zeros([])
    override func forward(_ a: NDArray, _ b: NDArray) -> NDArray {
        x0 = a
        x1 = b
        return a / b
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        (needA ? (g / x1).sumTo(x0.shape) : nil,
         needB ? NDArray.map(g, x0, x1, DivRightGrad(), op: "div").sumTo(x1.shape) : nil)
    }
}

private struct DivRightGrad: TernaryFloatKernel {
    // d(a / b)/db = -a / b²
    func callAsFunction<T: NDFloatingPoint>(_ g: T, _ a: T, _ b: T) -> T { -g * a / (b * b) }
}

/// `-x`.
final class Neg: UnaryFunction {
    override func forward(_ x: NDArray) -> NDArray { -x }
    override func backward(_ g: NDArray) -> NDArray { -g }
}

/// `x0 ** x1` with broadcasting.
final class PowVarVar: BinaryFunction {
    @exclusivity(unchecked) private var x0 = NDArray.zeros([]), x1 = NDArray.zeros([]), y = NDArray.zeros([])
    override func forward(_ a: NDArray, _ b: NDArray) -> NDArray {
        x0 = a
        x1 = b
        y = NDArray.pow(a, b)
        return y
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) {
        // y · x1 / x0 would fail at x0 = 0, so x1 · x0^(x1 − 1) is computed directly.
        (needA ? (g * x1 * NDArray.pow(x0, x1 - 1)).sumTo(x0.shape) : nil,
         needB ? (g * y * x0.log()).sumTo(x1.shape) : nil)
    }
}

/// `x + c`, `x * c`, `c - x`, `c / x`, `x ** c`, `c ** x` for a constant `c`.
final class ScalarOp: UnaryFunction {
    enum Kind { case add, mul, rsub, rdiv, powVarConst, powConstVar }
    private let kind: Kind
    private let c: Double
    @exclusivity(unchecked) private var x = NDArray.zeros([]), y = NDArray.zeros([])

    init(_ kind: Kind, _ c: Double) {
        self.kind = kind
        self.c = c
    }

    override var label: String {
        switch kind {
        case .add: return "AddConstant"
        case .mul: return "MulConstant"
        case .rsub: return "SubFromConstant"
        case .rdiv: return "DivFromConstant"
        case .powVarConst: return "PowVarConst"
        case .powConstVar: return "PowConstVar"
        }
    }

    override func forward(_ input: NDArray) -> NDArray {
        x = input
        switch kind {
        case .add: return x + c
        case .mul: return x * c
        case .rsub: return c - x
        case .rdiv: y = c / x; return y
        case .powVarConst: return x.pow(c)
        case .powConstVar: y = NDArray.pow(NDArray.fullLike(x, c), x); return y
        }
    }

    override func backward(_ g: NDArray) -> NDArray {
        switch kind {
        case .add: return g
        case .mul: return g * c
        case .rsub: return -g
        case .rdiv: return -g * y / x                      // d(c/x)/dx = -c/x² = -y/x
        case .powVarConst: return g * c * x.pow(c - 1)
        case .powConstVar: return g * y * Foundation.log(c)
        }
    }
}

/// Precedence of `**`: binds tighter than `*`, groups to the right (`a ** b ** c` is `a ** (b ** c)`).
precedencegroup ExponentiationPrecedence {
    associativity: right
    higherThan: MultiplicationPrecedence
}

infix operator ** : ExponentiationPrecedence

extension F {
    /// `x0 + x1` with broadcasting.
    public static func add(_ x0: Variable, _ x1: Variable) -> Variable { Add().call(x0, x1) }
    /// `x0 - x1` with broadcasting.
    public static func sub(_ x0: Variable, _ x1: Variable) -> Variable { Sub().call(x0, x1) }
    /// `x0 * x1` element-wise with broadcasting.
    public static func mul(_ x0: Variable, _ x1: Variable) -> Variable { Mul().call(x0, x1) }
    /// `x0 / x1` element-wise with broadcasting.
    public static func div(_ x0: Variable, _ x1: Variable) -> Variable { Div().call(x0, x1) }
    /// `-x`.
    public static func neg(_ x: Variable) -> Variable { Neg().call(x) }
    /// `x0 ** x1` element-wise with broadcasting.
    public static func pow(_ x0: Variable, _ x1: Variable) -> Variable { PowVarVar().call(x0, x1) }
    /// `x ** c` for a constant exponent.
    public static func pow(_ x: Variable, _ c: Double) -> Variable { ScalarOp(.powVarConst, c).call(x) }
    /// `c ** x` for a constant base.
    public static func pow(_ c: Double, _ x: Variable) -> Variable { ScalarOp(.powConstVar, c).call(x) }
}

extension Variable {
    public static func + (lhs: Variable, rhs: Variable) -> Variable { F.add(lhs, rhs) }
    public static func - (lhs: Variable, rhs: Variable) -> Variable { F.sub(lhs, rhs) }
    public static func * (lhs: Variable, rhs: Variable) -> Variable { F.mul(lhs, rhs) }
    public static func / (lhs: Variable, rhs: Variable) -> Variable { F.div(lhs, rhs) }
    public static func ** (lhs: Variable, rhs: Variable) -> Variable { F.pow(lhs, rhs) }

    public static func + (lhs: Variable, rhs: NDArray) -> Variable { F.add(lhs, .constant(rhs)) }
    public static func - (lhs: Variable, rhs: NDArray) -> Variable { F.sub(lhs, .constant(rhs)) }
    public static func * (lhs: Variable, rhs: NDArray) -> Variable { F.mul(lhs, .constant(rhs)) }
    public static func / (lhs: Variable, rhs: NDArray) -> Variable { F.div(lhs, .constant(rhs)) }
    public static func + (lhs: NDArray, rhs: Variable) -> Variable { F.add(.constant(lhs), rhs) }
    public static func - (lhs: NDArray, rhs: Variable) -> Variable { F.sub(.constant(lhs), rhs) }
    public static func * (lhs: NDArray, rhs: Variable) -> Variable { F.mul(.constant(lhs), rhs) }
    public static func / (lhs: NDArray, rhs: Variable) -> Variable { F.div(.constant(lhs), rhs) }

    public static func + (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.add, rhs).call(lhs) }
    public static func - (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.add, -rhs).call(lhs) }
    public static func * (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.mul, rhs).call(lhs) }
    public static func / (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.mul, 1 / rhs).call(lhs) }
    public static func + (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.add, lhs).call(rhs) }
    public static func - (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.rsub, lhs).call(rhs) }
    public static func * (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.mul, lhs).call(rhs) }
    public static func / (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.rdiv, lhs).call(rhs) }
    public static func ** (lhs: Variable, rhs: Double) -> Variable { F.pow(lhs, rhs) }
    public static func ** (lhs: Double, rhs: Variable) -> Variable { F.pow(lhs, rhs) }

    public static prefix func - (x: Variable) -> Variable { F.neg(x) }
}
