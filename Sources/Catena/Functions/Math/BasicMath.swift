import Foundation

// Chainer's basic_math: + - * / ** and negation, with NumPy broadcasting (gradients are summed back to each
// input's shape) and with constants (Swift numbers, or arrays that need no gradient).

/// `x0 + x1` with broadcasting.
final class Add: BinaryFunction {
    @exclusivity(unchecked) private var shapes: ([Int], [Int]) = ([], [])
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        shapes = (a.shape, b.shape)
        return a + b
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) { formula(g, needA, needB) }
    private func formula<V: GradientValue>(_ g: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        (needA ? g.sumTo(shapes.0) : nil, needB ? g.sumTo(shapes.1) : nil)
    }
}

/// `x0 - x1` with broadcasting.
final class Sub: BinaryFunction {
    @exclusivity(unchecked) private var shapes: ([Int], [Int]) = ([], [])
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        shapes = (a.shape, b.shape)
        return a - b
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) { formula(g, needA, needB) }
    private func formula<V: GradientValue>(_ g: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        (needA ? g.sumTo(shapes.0) : nil, needB ? (-g).sumTo(shapes.1) : nil)
    }
}

/// `x0 * x1` with broadcasting.
final class Mul: BinaryFunction {
    @exclusivity(unchecked) private var x0: NDArray!, x1: NDArray!
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        let y = a * b
        x0 = consume a
        x1 = consume b
        return y
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, x0, x1, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(g, inputVariables.0, inputVariables.1, needA, needB)
    }
    private func formula<V: GradientValue>(_ g: V, _ x0: V, _ x1: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        (needA ? (g * x1).sumTo(x0.shape) : nil, needB ? (g * x0).sumTo(x1.shape) : nil)
    }
}

/// `x0 / x1` with broadcasting.
final class Div: BinaryFunction {
    @exclusivity(unchecked) private var x0: NDArray!, x1: NDArray!
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        let y = a / b
        x0 = consume a
        x1 = consume b
        return y
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, x0, x1, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(g, inputVariables.0, inputVariables.1, needA, needB)
    }
    /// ∂/∂x0 = 1/x1, ∂/∂x1 = −x0/x1².
    private func formula<V: GradientValue>(_ g: V, _ x0: V, _ x1: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        let gx0 = g / x1
        return (needA ? gx0.sumTo(x0.shape) : nil, needB ? (-(gx0 * x0) / x1).sumTo(x1.shape) : nil)
    }
}

/// `-x`.
final class Neg: UnaryFunction {
    override func forward(_ x: consuming NDArray) -> NDArray { -x }
    override func backward(_ g: NDArray) -> NDArray { -g }
    override func backward(_ g: Recorded) -> Recorded { -g }
}

/// `x0 ** x1` with broadcasting.
final class PowVarVar: BinaryFunction {
    @exclusivity(unchecked) private var x0: NDArray!, x1: NDArray!, y: NDArray!
    override func forward(_ a: consuming NDArray, _ b: consuming NDArray) -> NDArray {
        y = NDArray.pow(a, b)
        x0 = consume a
        x1 = consume b
        return y
    }
    override func backward(_ g: NDArray, needA: Bool, needB: Bool) -> (NDArray?, NDArray?) { formula(g, x0, x1, y, needA, needB) }
    override func backward(_ g: Recorded, needA: Bool, needB: Bool) -> (Recorded?, Recorded?) {
        formula(g, inputVariables.0, inputVariables.1, outputVariable(y), needA, needB)
    }
    /// ∂/∂x0 = x1 · x0^(x1 − 1) (not y · x1 / x0, which fails at x0 = 0), ∂/∂x1 = y · log x0.
    private func formula<V: GradientValue>(_ g: V, _ x0: V, _ x1: V, _ y: V, _ needA: Bool, _ needB: Bool) -> (V?, V?) {
        (needA ? (g * x1 * V.pow(x0, x1 - 1)).sumTo(x0.shape) : nil, needB ? (g * y * x0.logValue()).sumTo(x1.shape) : nil)
    }
}

/// `x + c`, `x * c`, `c - x`, `c / x`, `x ** c`, `c ** x` for a constant `c`.
final class ScalarOp: UnaryFunction {
    enum Kind { case add, mul, rsub, rdiv, powVarConst, powConstVar }
    private let kind: Kind
    private let c: Double
    @exclusivity(unchecked) private var x: NDArray!, y: NDArray!

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

    override func forward(_ input: consuming NDArray) -> NDArray {
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

    override func backward(_ g: NDArray) -> NDArray { formula(g, x, y ?? x) }   // y is kept only by the kinds that read it
    override func backward(_ g: Recorded) -> Recorded {
        formula(g, inputVariable, kind == .rdiv || kind == .powConstVar ? outputVariable(y) : inputVariable)
    }

    private func formula<V: GradientValue>(_ g: V, _ x: V, _ y: V) -> V {
        switch kind {
        case .add: return g
        case .mul: return g * c
        case .rsub: return -g
        case .rdiv: return -(g * y) / x                        // d(c/x)/dx = -c/x² = -y/x
        case .powVarConst: return g * V.pow(x, c - 1) * c
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
    /// Element-wise sum with NumPy broadcasting (``F/add(_:_:)``); each gradient is summed back to its input's shape.
    public static func + (lhs: Variable, rhs: Variable) -> Variable { F.add(lhs, rhs) }
    /// Element-wise difference with NumPy broadcasting (``F/sub(_:_:)``).
    public static func - (lhs: Variable, rhs: Variable) -> Variable { F.sub(lhs, rhs) }
    /// Element-wise product with NumPy broadcasting (``F/mul(_:_:)``).
    public static func * (lhs: Variable, rhs: Variable) -> Variable { F.mul(lhs, rhs) }
    /// Element-wise quotient with NumPy broadcasting (``F/div(_:_:)``).
    public static func / (lhs: Variable, rhs: Variable) -> Variable { F.div(lhs, rhs) }
    /// Element-wise power `lhs ** rhs` with NumPy broadcasting (`F.pow`), differentiable in both operands.
    public static func ** (lhs: Variable, rhs: Variable) -> Variable { F.pow(lhs, rhs) }

    /// Element-wise sum with NumPy broadcasting; the array is a constant (no gradient flows to it).
    public static func + (lhs: Variable, rhs: NDArray) -> Variable { F.add(lhs, .constant(rhs)) }
    /// Element-wise difference with NumPy broadcasting; the array is a constant.
    public static func - (lhs: Variable, rhs: NDArray) -> Variable { F.sub(lhs, .constant(rhs)) }
    /// Element-wise product with NumPy broadcasting; the array is a constant (a mask, a weight).
    public static func * (lhs: Variable, rhs: NDArray) -> Variable { F.mul(lhs, .constant(rhs)) }
    /// Element-wise quotient with NumPy broadcasting; the array is a constant.
    public static func / (lhs: Variable, rhs: NDArray) -> Variable { F.div(lhs, .constant(rhs)) }
    /// Element-wise sum with NumPy broadcasting; the array is a constant (no gradient flows to it).
    public static func + (lhs: NDArray, rhs: Variable) -> Variable { F.add(.constant(lhs), rhs) }
    /// Element-wise difference with NumPy broadcasting; the array is a constant.
    public static func - (lhs: NDArray, rhs: Variable) -> Variable { F.sub(.constant(lhs), rhs) }
    /// Element-wise product with NumPy broadcasting; the array is a constant (a mask, a weight).
    public static func * (lhs: NDArray, rhs: Variable) -> Variable { F.mul(.constant(lhs), rhs) }
    /// Element-wise quotient with NumPy broadcasting; the array is a constant.
    public static func / (lhs: NDArray, rhs: Variable) -> Variable { F.div(.constant(lhs), rhs) }

    /// Adds a constant to every element (Chainer's `AddConstant`).
    public static func + (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.add, rhs).call(lhs) }
    /// Subtracts a constant from every element (Chainer's `AddConstant` with `-rhs`).
    public static func - (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.add, -rhs).call(lhs) }
    /// Multiplies every element by a constant (Chainer's `MulConstant`).
    public static func * (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.mul, rhs).call(lhs) }
    /// Divides every element by a constant (a multiplication by `1 / rhs`).
    public static func / (lhs: Variable, rhs: Double) -> Variable { ScalarOp(.mul, 1 / rhs).call(lhs) }
    /// Adds a constant to every element (Chainer's `AddConstant`).
    public static func + (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.add, lhs).call(rhs) }
    /// A constant minus each element (Chainer's `SubFromConstant`).
    public static func - (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.rsub, lhs).call(rhs) }
    /// Multiplies every element by a constant (Chainer's `MulConstant`).
    public static func * (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.mul, lhs).call(rhs) }
    /// A constant divided by each element (Chainer's `DivFromConstant`).
    public static func / (lhs: Double, rhs: Variable) -> Variable { ScalarOp(.rdiv, lhs).call(rhs) }
    /// Each element to a constant power (Chainer's `PowVarConst`).
    public static func ** (lhs: Variable, rhs: Double) -> Variable { F.pow(lhs, rhs) }
    /// A constant base to the power of each element (Chainer's `PowConstVar`).
    public static func ** (lhs: Double, rhs: Variable) -> Variable { F.pow(lhs, rhs) }

    /// Element-wise negation (``F/neg(_:)``).
    public static prefix func - (x: Variable) -> Variable { F.neg(x) }
}
