import Foundation

// Element-wise arithmetic with NumPy broadcasting. Both operands must have the same dtype (convert with
// `astype(_:)`); a Swift number combines with any numeric array and takes the array's dtype.

extension NDArray {
    /// Element-wise sum with broadcasting.
    public static func + (lhs: NDArray, rhs: NDArray) -> NDArray { arithmetic(lhs, rhs, .add) }
    /// Element-wise difference with broadcasting.
    public static func - (lhs: NDArray, rhs: NDArray) -> NDArray { arithmetic(lhs, rhs, .sub) }
    /// Element-wise product with broadcasting.
    public static func * (lhs: NDArray, rhs: NDArray) -> NDArray { arithmetic(lhs, rhs, .mul) }
    /// Element-wise quotient with broadcasting. Integer division truncates toward zero; dividing an integer by
    /// zero gives 0 (NumPy gives 0 with a warning).
    public static func / (lhs: NDArray, rhs: NDArray) -> NDArray { arithmetic(lhs, rhs, .div) }

    /// Adds `rhs` to every element; the scalar takes the array's dtype (integer arrays take only integral scalars).
    public static func + (lhs: NDArray, rhs: Double) -> NDArray { arithmetic(lhs, lhs.scalarOperand(rhs, op: "add"), .add) }
    /// Subtracts `rhs` from every element; the scalar takes the array's dtype (integral for integer arrays).
    public static func - (lhs: NDArray, rhs: Double) -> NDArray { arithmetic(lhs, lhs.scalarOperand(rhs, op: "sub"), .sub) }
    /// Multiplies every element by `rhs`; the scalar takes the array's dtype (integral for integer arrays).
    public static func * (lhs: NDArray, rhs: Double) -> NDArray { arithmetic(lhs, lhs.scalarOperand(rhs, op: "mul"), .mul) }
    /// Divides every element by `rhs`; the scalar takes the array's dtype (integral for integer arrays, whose
    /// division truncates toward zero).
    public static func / (lhs: NDArray, rhs: Double) -> NDArray { arithmetic(lhs, lhs.scalarOperand(rhs, op: "div"), .div) }
    /// Adds `lhs` to every element; the scalar takes the array's dtype (integral for integer arrays).
    public static func + (lhs: Double, rhs: NDArray) -> NDArray { arithmetic(rhs.scalarOperand(lhs, op: "add"), rhs, .add) }
    /// `lhs` minus each element; the scalar takes the array's dtype (integral for integer arrays).
    public static func - (lhs: Double, rhs: NDArray) -> NDArray { arithmetic(rhs.scalarOperand(lhs, op: "sub"), rhs, .sub) }
    /// Multiplies every element by `lhs`; the scalar takes the array's dtype (integral for integer arrays).
    public static func * (lhs: Double, rhs: NDArray) -> NDArray { arithmetic(rhs.scalarOperand(lhs, op: "mul"), rhs, .mul) }
    /// `lhs` divided by each element; the scalar takes the array's dtype (integral for integer arrays, whose division
    /// truncates toward zero).
    public static func / (lhs: Double, rhs: NDArray) -> NDArray { arithmetic(rhs.scalarOperand(lhs, op: "div"), rhs, .div) }

    /// Element-wise negation.
    public static prefix func - (x: NDArray) -> NDArray {
        func float<T: NDFloatingPoint>(_: T.Type) -> NDArray { Elementwise.unary(x) { (v: T) in -v } }
        func integer<T: NDNumeric & FixedWidthInteger>(_: T.Type) -> NDArray { Elementwise.unary(x) { (v: T) in 0 &- v } }   // wraps, as NumPy
        return x.dtype.withFloatOrIntegerType(orFail: "neg: bool arrays cannot be negated", float: { float($0) }, integer: { integer($0) })
    }

    // MARK: - In place

    /// Applies `op` writing into this array's own storage when it is unique and contiguous; otherwise allocates
    /// (so other values sharing the storage never see the change).
    @usableFromInline
    mutating func updateInPlace(_ rhs: NDArray, _ op: BinaryOp) {
        checkSameDType(rhs, op: op.name)
        if rhs.shape != shape && NDArray.broadcastShapes(shape, rhs.shape, op: op.name) != shape {
            typeCheckFailure("\(op.name) (in place): the result would have shape \(NDArray.broadcastShapes(shape, rhs.shape, op: op.name)), but the array being updated has shape \(shape)")
        }
        if isContiguous && isKnownUniquelyReferenced(&storage) {
            storage.version &+= 1
            _ = NDArray.arithmetic(self, rhs, op, into: self)
        } else {
            self = NDArray.arithmetic(self, rhs, op)
        }
    }

    /// Adds in place; does not allocate when the storage is unique. The shape must not change by broadcasting.
    public static func += (lhs: inout NDArray, rhs: NDArray) { lhs.updateInPlace(rhs, .add) }
    /// Subtracts in place; does not allocate when the storage is unique.
    public static func -= (lhs: inout NDArray, rhs: NDArray) { lhs.updateInPlace(rhs, .sub) }
    /// Multiplies in place; does not allocate when the storage is unique.
    public static func *= (lhs: inout NDArray, rhs: NDArray) { lhs.updateInPlace(rhs, .mul) }
    /// Divides in place; does not allocate when the storage is unique.
    public static func /= (lhs: inout NDArray, rhs: NDArray) { lhs.updateInPlace(rhs, .div) }
    /// Adds `rhs` to every element in place; does not allocate when the storage is unique.
    public static func += (lhs: inout NDArray, rhs: Double) { lhs.updateInPlace(lhs.scalarOperand(rhs, op: "add"), .add) }
    /// Subtracts `rhs` from every element in place; does not allocate when the storage is unique.
    public static func -= (lhs: inout NDArray, rhs: Double) { lhs.updateInPlace(lhs.scalarOperand(rhs, op: "sub"), .sub) }
    /// Multiplies every element by `rhs` in place; does not allocate when the storage is unique.
    public static func *= (lhs: inout NDArray, rhs: Double) { lhs.updateInPlace(lhs.scalarOperand(rhs, op: "mul"), .mul) }
    /// Divides every element by `rhs` in place; does not allocate when the storage is unique.
    public static func /= (lhs: inout NDArray, rhs: Double) { lhs.updateInPlace(lhs.scalarOperand(rhs, op: "div"), .div) }

    // MARK: - Named binary operations

    /// `base ** exponent` element-wise with broadcasting (integer powers for integer arrays).
    public static func pow(_ base: NDArray, _ exponent: NDArray) -> NDArray { arithmetic(base, exponent, .pow) }
    /// `self ** exponent` element-wise.
    public func pow(_ exponent: Double) -> NDArray { NDArray.arithmetic(self, scalarOperand(exponent, op: "pow"), .pow) }
    /// The larger of each pair (NaN wins, as in NumPy).
    public static func maximum(_ a: NDArray, _ b: NDArray) -> NDArray { arithmetic(a, b, .maximum) }
    /// The smaller of each pair (NaN wins, as in NumPy).
    public static func minimum(_ a: NDArray, _ b: NDArray) -> NDArray { arithmetic(a, b, .minimum) }
    /// Each element compared with a number, keeping the larger.
    public func maximum(_ value: Double) -> NDArray { NDArray.arithmetic(self, scalarOperand(value, op: "maximum"), .maximum) }
    /// Each element compared with a number, keeping the smaller.
    public func minimum(_ value: Double) -> NDArray { NDArray.arithmetic(self, scalarOperand(value, op: "minimum"), .minimum) }

    /// Each element limited to `[low, high]`.
    /// - Precondition: `low <= high`.
    public func clipped(_ low: Double, _ high: Double) -> NDArray {
        if !(low <= high) { typeCheckFailure("clip: low (\(low)) must not exceed high (\(high))") }
        return maximum(low).minimum(high)
    }

    // MARK: - Comparisons and selection

    /// Element-wise `==`, a bool mask. (Named, because `==` compares whole arrays.)
    public func equal(_ other: NDArray) -> NDArray { NDArray.compare(self, other, .equal) }
    /// Element-wise `!=`, a bool mask.
    public func notEqual(_ other: NDArray) -> NDArray { NDArray.compare(self, other, .notEqual) }
    /// Element-wise `<`, a bool mask.
    public func less(_ other: NDArray) -> NDArray { NDArray.compare(self, other, .less) }
    /// Element-wise `<=`, a bool mask.
    public func lessEqual(_ other: NDArray) -> NDArray { NDArray.compare(self, other, .lessEqual) }
    /// Element-wise `>`, a bool mask.
    public func greater(_ other: NDArray) -> NDArray { NDArray.compare(self, other, .greater) }
    /// Element-wise `>=`, a bool mask.
    public func greaterEqual(_ other: NDArray) -> NDArray { NDArray.compare(self, other, .greaterEqual) }

    /// Element-wise `==` with broadcasting, a bool mask (the same as ``equal(_:)``).
    public static func .== (lhs: NDArray, rhs: NDArray) -> NDArray { compare(lhs, rhs, .equal) }
    /// Element-wise `!=` with broadcasting, a bool mask (the same as ``notEqual(_:)``).
    public static func .!= (lhs: NDArray, rhs: NDArray) -> NDArray { compare(lhs, rhs, .notEqual) }
    /// Element-wise `<` with broadcasting, a bool mask (the same as ``less(_:)``).
    public static func .< (lhs: NDArray, rhs: NDArray) -> NDArray { compare(lhs, rhs, .less) }
    /// Element-wise `<=` with broadcasting, a bool mask (the same as ``lessEqual(_:)``).
    public static func .<= (lhs: NDArray, rhs: NDArray) -> NDArray { compare(lhs, rhs, .lessEqual) }
    /// Element-wise `>` with broadcasting, a bool mask (the same as ``greater(_:)``).
    public static func .> (lhs: NDArray, rhs: NDArray) -> NDArray { compare(lhs, rhs, .greater) }
    /// Element-wise `>=` with broadcasting, a bool mask (the same as ``greaterEqual(_:)``).
    public static func .>= (lhs: NDArray, rhs: NDArray) -> NDArray { compare(lhs, rhs, .greaterEqual) }
    /// Each element `==` a number, a bool mask; integer arrays take only integral numbers.
    public static func .== (lhs: NDArray, rhs: Double) -> NDArray { compare(lhs, lhs.comparisonScalar(rhs), .equal) }
    /// Each element `!=` a number, a bool mask; integer arrays take only integral numbers.
    public static func .!= (lhs: NDArray, rhs: Double) -> NDArray { compare(lhs, lhs.comparisonScalar(rhs), .notEqual) }
    /// Each element `<` a number, a bool mask; integer arrays take only integral numbers.
    public static func .< (lhs: NDArray, rhs: Double) -> NDArray { compare(lhs, lhs.comparisonScalar(rhs), .less) }
    /// Each element `<=` a number, a bool mask; integer arrays take only integral numbers.
    public static func .<= (lhs: NDArray, rhs: Double) -> NDArray { compare(lhs, lhs.comparisonScalar(rhs), .lessEqual) }
    /// Each element `>` a number, a bool mask; integer arrays take only integral numbers.
    public static func .> (lhs: NDArray, rhs: Double) -> NDArray { compare(lhs, lhs.comparisonScalar(rhs), .greater) }
    /// Each element `>=` a number, a bool mask; integer arrays take only integral numbers.
    public static func .>= (lhs: NDArray, rhs: Double) -> NDArray { compare(lhs, lhs.comparisonScalar(rhs), .greaterEqual) }

    private func comparisonScalar(_ value: Double) -> NDArray {
        // Compare integers against a fractional bound exactly by comparing in float64.
        if dtype.isInteger && value.rounded(.towardZero) != value { typeCheckFailure("compare: use astype(.float64) to compare an \(dtype) array with the fractional value \(value)") }
        return NDArray(scalar: value, dtype: dtype)
    }

    /// `a` where `mask` is true and `b` elsewhere, all three broadcast together (NumPy's `where`).
    /// - Precondition: `mask` is bool; `a` and `b` share a dtype.
    public static func `where`(_ mask: NDArray, _ a: NDArray, _ b: NDArray) -> NDArray {
        if mask.dtype != .bool { typeCheckFailure("where: the condition must be a bool array, got \(mask.dtype)") }
        a.checkSameDType(b, op: "where")
        func go<T: NDArrayElement>(_: T.Type) -> NDArray {
            Elementwise.ternary(mask, a, b, op: "where") { (m: Bool, x: T, y: T) in m ? x : y }
        }
        return a.dtype.withElementType { go($0) }
    }

    /// Element-wise logical and of two bool masks.
    public func logicalAnd(_ other: NDArray) -> NDArray { logical(other, "logical_and") { $0 && $1 } }
    /// Element-wise logical or of two bool masks.
    public func logicalOr(_ other: NDArray) -> NDArray { logical(other, "logical_or") { $0 || $1 } }
    /// Element-wise logical not of a bool mask.
    public func logicalNot() -> NDArray {
        if dtype != .bool { typeCheckFailure("logical_not: expected a bool array, got \(dtype)") }
        return Elementwise.unary(self) { (v: Bool) in !v }
    }

    private func logical(_ other: NDArray, _ name: String, _ f: (Bool, Bool) -> Bool) -> NDArray {
        if dtype != .bool || other.dtype != .bool { typeCheckFailure("\(name): expected bool arrays, got \(dtype) and \(other.dtype)") }
        return Elementwise.binary(self, other, op: name, f)
    }
}

extension NDArray: Equatable {
    /// True when the shapes, dtypes and all elements are equal (NaN never equals NaN).
    public static func == (lhs: NDArray, rhs: NDArray) -> Bool {
        guard lhs.shape == rhs.shape, lhs.dtype == rhs.dtype else { return false }
        return lhs.toDoubles() == rhs.toDoubles()
    }
}

extension NDArray {
    /// `slot = slot + g`, in place when the slot's storage is unique (it is taken out of the slot first, so the
    /// slot itself does not count as a second owner). Used by the backward engine and `Link.addGrads`.
    @inlinable
    static func accumulate(_ slot: inout NDArray?, _ g: consuming NDArray) {
        if var existing = slot.take() {
            existing += g
            slot = existing
        } else {
            slot = consume g
        }
    }
}
