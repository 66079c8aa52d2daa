import CCatenaKernels
import Foundation

/// One entry of an ``NDArray`` subscript, as in NumPy's basic indexing.
///
/// Integers pick one position and drop the axis; ranges (`1..<3`, `2...`, `..<4`) and ``range(_:_:step:)`` keep
/// the axis; ``all`` is NumPy's `:`, ``newAxis`` its `None`, ``ellipsis`` its `...`.
public enum NDIndex: Sendable, Equatable {
    /// One position; the axis is dropped.
    case index(Int)
    /// NumPy's `start:stop:step`; nil bounds mean "from the beginning / to the end" in the direction of `step`,
    /// negative bounds count from the end. Written `.range(start, stop, step:)`.
    case slice(start: Int?, stop: Int?, step: Int)
    /// A new axis of size 1; written `.newAxis`.
    case insertAxis
    /// As many `.all` as needed; written `.ellipsis`.
    case fillAxes
}

/// Anything that can appear in an ``NDArray`` subscript: `Int`, Swift ranges, and ``NDIndex``.
public protocol NDIndexExpression {
    /// The index this expression stands for.
    var ndIndex: NDIndex { get }
}

extension NDIndex: NDIndexExpression {
    /// The index itself.
    public var ndIndex: NDIndex { self }
}
extension Int: NDIndexExpression {
    /// One position, ``NDIndex/index(_:)``: the axis is dropped; negative values count from the end.
    public var ndIndex: NDIndex { .index(self) }
}
extension Range: NDIndexExpression where Bound == Int {
    /// `a..<b` is NumPy's `a:b`.
    public var ndIndex: NDIndex { .slice(start: lowerBound, stop: upperBound, step: 1) }
}
extension ClosedRange: NDIndexExpression where Bound == Int {
    /// `a...b` is NumPy's `a:b+1`; `a...(-1)` runs to the end.
    public var ndIndex: NDIndex { .slice(start: lowerBound, stop: upperBound == -1 ? nil : upperBound + 1, step: 1) }
}
extension PartialRangeFrom: NDIndexExpression where Bound == Int {
    /// `a...` is NumPy's `a:`.
    public var ndIndex: NDIndex { .slice(start: lowerBound, stop: nil, step: 1) }
}
extension PartialRangeUpTo: NDIndexExpression where Bound == Int {
    /// `..<b` is NumPy's `:b`.
    public var ndIndex: NDIndex { .slice(start: nil, stop: upperBound, step: 1) }
}
extension PartialRangeThrough: NDIndexExpression where Bound == Int {
    /// `...b` is NumPy's `:b+1`; `...(-1)` runs to the end.
    public var ndIndex: NDIndex { .slice(start: nil, stop: upperBound == -1 ? nil : upperBound + 1, step: 1) }
}

extension NDArray {
    /// The view selected by NumPy-style basic indices; assigning writes a value broadcast to the selection.
    ///
    /// ```swift
    /// a[0]                      // first row (axis dropped)
    /// a[.all, 1..<3]            // columns 1 and 2
    /// a[.range(nil, nil, step: -1)]   // rows reversed
    /// a[.ellipsis, 0]           // first element of the last axis
    /// a[1, .all] = NDArray.zeros([a.shape[1]])
    /// ```
    /// - Precondition: at most `ndim` indexing entries (plus new axes), integers within range, nonzero steps.
    public subscript(_ indices: any NDIndexExpression...) -> NDArray {
        get { selection(indices.map(\.ndIndex)) }
        set { assign(newValue, to: indices.map(\.ndIndex)) }
    }

    /// The view selected by a list of indices (the array form of the variadic subscript).
    public subscript(indices indices: [NDIndex]) -> NDArray {
        get { selection(indices) }
        set { assign(newValue, to: indices) }
    }

    /// Writes `value` (broadcast, same dtype) into the selection made by `indices`, copying the storage first if
    /// it is shared.
    public mutating func assign(_ value: NDArray, to indices: [NDIndex]) {
        checkSameDType(value, op: "setitem")
        makeUniqueContiguous()
        var region = selection(indices)
        region.writeElements(from: value)
    }

    /// Applies basic indices, returning a view.
    public func selection(_ indices: [NDIndex]) -> NDArray {
        var consumed = 0
        var ellipsisCount = 0
        for ix in indices {
            switch ix {
            case .index, .slice: consumed += 1
            case .fillAxes: ellipsisCount += 1
            case .insertAxis: break
            }
        }
        if ellipsisCount > 1 { typeCheckFailure("getitem: an index can only have a single ellipsis") }
        if consumed > ndim { typeCheckFailure("getitem: too many indices (\(consumed)) for an array of dimension \(ndim) (shape \(shape))") }
        var expanded = [NDIndex]()
        for ix in indices {
            if ix == .fillAxes {
                expanded.append(contentsOf: [NDIndex](repeating: .all, count: ndim - consumed))
            } else {
                expanded.append(ix)
            }
        }
        var newShape = [Int](), newStrides = [Int]()
        var off = offset
        var axis = 0
        for ix in expanded {
            switch ix {
            case .insertAxis:
                newShape.append(1)
                newStrides.append(0)
            case .index(let i):
                let n = shape[axis]
                let j = i < 0 ? i + n : i
                if j < 0 || j >= n { typeCheckFailure("getitem: index \(i) is out of bounds for axis \(axis) with size \(n) (shape \(shape))") }
                off += j * axisStride(axis)
                axis += 1
            case .slice(let start, let stop, let step):
                let (s, len) = NDArray.sliceBounds(start: start, stop: stop, step: step, size: shape[axis])
                off += len > 0 ? s * axisStride(axis) : 0
                newShape.append(len)
                newStrides.append(axisStride(axis) * step)
                axis += 1
            case .fillAxes:
                break
            }
        }
        while axis < ndim {
            newShape.append(shape[axis])
            newStrides.append(axisStride(axis))
            axis += 1
        }
        return view(shape: newShape, strides: newStrides, offset: off)
    }

    /// NumPy's slice normalisation: the first position and the number of positions selected.
    @usableFromInline
    static func sliceBounds(start: Int?, stop: Int?, step: Int, size n: Int) -> (Int, Int) {
        if step == 0 { typeCheckFailure("getitem: slice step cannot be zero") }
        func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { Swift.min(Swift.max(v, lo), hi) }
        if step > 0 {
            let s = clamp(start.map { $0 < 0 ? $0 + n : $0 } ?? 0, 0, n)
            let e = clamp(stop.map { $0 < 0 ? $0 + n : $0 } ?? n, 0, n)
            return (s, e > s ? (e - s + step - 1) / step : 0)
        } else {
            let s = clamp(start.map { $0 < 0 ? $0 + n : $0 } ?? n - 1, -1, n - 1)
            let e = clamp(stop.map { $0 < 0 ? $0 + n : $0 } ?? -1, -1, n - 1)
            return (s, s > e ? (s - e - step - 1) / (-step) : 0)
        }
    }

    // MARK: - Gather and scatter along an axis

    /// The slices at `indices` along `axis` (NumPy's `take`): the result's shape is
    /// `shape[..<axis] + indices.shape + shape[(axis + 1)...]`. Negative indices count from the end.
    /// - Precondition: `indices` is int32 or int64 and every index is within `-shape[axis]..<shape[axis]`.
    public func take(_ indices: NDArray, axis: Int = 0) -> NDArray {
        let ax = normalizedAxis(axis, op: "take")
        let idx = NDArray.checkedIndices(indices, size: shape[ax], op: "take")
        return take(checked: idx, indexShape: indices.shape, axis: ax)
    }

    /// ``take(_:axis:)`` with indices already checked and wrapped (each in `0..<shape[axis]`), `axis` normalised.
    func take(checked idx: [Int], indexShape: [Int], axis ax: Int) -> NDArray {
        let src = contiguous()
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        let out = NDArray(uninitializedShape: Array(shape[..<ax]) + indexShape + Array(shape[(ax + 1)...]), dtype: dtype)
        let size = dtype.itemSize
        let s = src.storage.raw + src.offset * size, d = out.storage.raw
        let block = inner * size
        var w = 0
        for o in 0..<outer {
            for i in idx {
                (d + w).copyMemory(from: s + (o * n + i) * block, byteCount: block)
                w += block
            }
        }
        return out
    }

    /// The reverse of ``take(_:axis:)``: a `shape`-shaped array of zeros into which each slice of `values` is added
    /// at its index along `axis` (repeated indices accumulate). This is the gradient of `take`.
    /// - Precondition: `values.shape == shape[..<axis] + indices.shape + shape[(axis + 1)...]`; numeric dtype.
    public static func scatterAdd(_ values: NDArray, indices: NDArray, axis: Int = 0, shape: [Int]) -> NDArray {
        var out = NDArray.zeros(shape, dtype: values.dtype)
        out.scatterAddInPlace(values, indices: indices, axis: axis)
        return out
    }

    /// Adds each slice of `values` into this array at its index along `axis`, in place.
    public mutating func scatterAddInPlace(_ values: NDArray, indices: NDArray, axis: Int = 0) {
        let ax = normalizedAxis(axis, op: "scatter_add")
        let expected = Array(shape[..<ax]) + indices.shape + Array(shape[(ax + 1)...])
        if values.shape != expected { typeCheckFailure("scatter_add: values have shape \(values.shape), expected \(expected) for indices of shape \(indices.shape) into \(shape)") }
        checkSameDType(values, op: "scatter_add")
        scatterAddInPlace(values, checked: NDArray.checkedIndices(indices, size: shape[ax], op: "scatter_add"), axis: ax)
    }

    /// ``scatterAddInPlace(_:indices:axis:)`` with indices already checked and wrapped, `axis` normalised, and
    /// `values` of the matching shape and dtype.
    mutating func scatterAddInPlace(_ values: NDArray, checked idx: [Int], axis ax: Int) {
        makeUniqueContiguous()
        let v = values.contiguous()
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        func go<T: NDNumeric>(_: T.Type) {
            let d = pointer(T.self), s = v.pointer(T.self)
            var r = 0
            for o in 0..<outer {
                for i in idx {
                    let dst = d + (o * n + i) * inner, src = s + r
                    for k in 0..<inner { dst[k] += src[k] }
                    r += inner
                }
            }
        }
        dtype.withNumericType(orFail: "scatter_add: bool arrays cannot be added") { go($0) }
    }

    /// The rows `ids` of this 2-D array (an id of −1 gives a row of zeros), as an array of `shape` (the ids'
    /// shape followed by the row length): an embedding lookup. The ids must be in range.
    func gatherRows(ids: [Int], shape: [Int]) -> NDArray {
        let src = contiguous()
        let width = src.shape[1], size = dtype.itemSize * width
        let out = NDArray(uninitializedShape: shape, dtype: dtype)
        if out.count != ids.count * width { typeCheckFailure("gather_rows: \(ids.count) rows of \(width) do not fill shape \(shape)") }
        let s = src.storage.raw + src.offset * dtype.itemSize, d = out.storage.raw
        // A large gather copies one block of rows per thread.
        withExtendedLifetime((src, out)) {
            parallelForRanges(ids.count, work: out.count, threshold: NDArray.parallelElements) { rows in
                for k in rows {
                    let i = ids[k]
                    if i < 0 {
                        (d + k * size).initializeMemory(as: UInt8.self, repeating: 0, count: size)
                    } else {
                        (d + k * size).copyMemory(from: s + i * size, byteCount: size)
                    }
                }
            }
        }
        return out
    }

    /// Adds row `r` of `values` (any shape whose last axis is this 2-D array's row length) into row `ids[r]`, in
    /// place; ids of −1 are skipped: the gradient of ``gatherRows(ids:shape:)``.
    mutating func scatterAddRows(_ values: NDArray, ids: [Int]) {
        makeUniqueContiguous()
        let v = values.contiguous()
        let width = shape[1]
        if v.count != ids.count * width { typeCheckFailure("scatter_rows: \(v.count) values are not \(ids.count) rows of \(width)") }
        // Rows with the same id add into the same row, so a large scatter splits the columns across the threads
        // instead (every element still gets its values in the rows' order); float32 rows add with the kernel
        // library's vectorised add.
        func go<T: NDFloatingPoint>(_: T.Type) {
            let d = pointer(T.self), src = v.pointer(T.self)
            parallelForRanges(width, work: v.count, threshold: NDArray.parallelElements) { cols in
                let lo = cols.lowerBound, n = cols.count
                for (k, i) in ids.enumerated() where i >= 0 {
                    let row = d + i * width + lo, from = src + k * width + lo
                    if T.self == Float.self {
                        func f(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
                        catena_binary_f32(0, f(row), f(from), f(row), n, 0)
                    } else {
                        for j in 0..<n { row[j] += from[j] }
                    }
                }
            }
        }
        withExtendedLifetime(v) { dtype.withFloatType(orFail: "scatter_rows: expected a floating-point array, got \(dtype)") { go($0) } }
    }

    /// Integer indices as Swift `Int`s with negatives wrapped, stopping on any out of range.
    @usableFromInline
    static func checkedIndices(_ indices: NDArray, size n: Int, op: String) -> [Int] {
        var raw: [Int]
        if indices.dtype == .uint8 { typeCheckFailure("\(op): indices must be int32 or int64, got \(indices.dtype)") }
        func read<T: NDNumeric & FixedWidthInteger>(_: T.Type) -> [Int] { indices.toArray(as: T.self).map { Int($0) } }
        raw = indices.dtype.withIntegerType(orFail: "\(op): indices must be int32 or int64, got \(indices.dtype)") { read($0) }
        for k in 0..<raw.count {
            let i = raw[k]
            if i < -n || i >= n { typeCheckFailure("\(op): index \(i) is out of bounds for axis with size \(n)") }
            if i < 0 { raw[k] = i + n }
        }
        return raw
    }
}

// Lets `.all`, `.newAxis`, `.ellipsis` and `.range(…)` be written directly in an NDArray subscript.
extension NDIndexExpression where Self == NDIndex {
    /// Every position along the axis (NumPy's `:`).
    public static var all: NDIndex { NDIndex.slice(start: nil, stop: nil, step: 1) }
    /// A new axis of size 1 (NumPy's `None`).
    public static var newAxis: NDIndex { NDIndex.insertAxis }
    /// As many `.all` as needed to index every remaining axis (NumPy's `...`).
    public static var ellipsis: NDIndex { NDIndex.fillAxes }
    /// NumPy's `start:stop:step`; nil bounds mean "from the beginning / to the end" in the direction of `step`,
    /// negative bounds count from the end.
    public static func range(_ start: Int? = nil, _ stop: Int? = nil, step: Int = 1) -> NDIndex {
        NDIndex.slice(start: start, stop: stop, step: step)
    }
}
