import Foundation

extension NDArray {
    @inlinable
    func view(shape: [Int], strides: [Int], offset: Int) -> NDArray {
        NDArray(storage: storage, dtype: dtype, shape: shape, strides: strides, offset: offset)
    }

    // MARK: - Reshaping

    /// The same elements in a new shape; one entry may be -1 and is then inferred. A view whenever the elements'
    /// strides allow one (always for a contiguous array; for a strided view when each group of axes that merges or
    /// splits is itself laid out in C order, as NumPy decides), a contiguous copy otherwise.
    /// - Precondition: the element counts match.
    public func reshaped(_ newShape: [Int]) -> NDArray {
        let target = NDArray.resolveShape(newShape, count: count, from: shape)
        if target == shape { return self }
        if !isContiguous && count > 0, let st = NDArray.reshapedStrides(shape, strides, to: target) {
            return view(shape: target, strides: st, offset: offset)
        }
        let base = contiguous()
        return NDArray(storage: base.storage, dtype: dtype, contiguousShape: target, offset: base.offset)
    }

    /// The strides that show elements laid out with `strides` in `shape` as `target` (same count, no zero size) in C
    /// order without moving them, or nil when there are none (NumPy's no-copy reshape): axes of size 1 are dropped,
    /// then the old and new axes are matched in the smallest groups of equal size; each old group must be C-ordered in
    /// memory, and its new axes get strides chained from the group's last stride.
    static func reshapedStrides(_ shape: [Int], _ strides: [Int], to target: [Int]) -> [Int]? {
        var dims: [Int] = [], steps: [Int] = []
        for (d, s) in zip(shape, strides) where d != 1 {
            dims.append(d)
            steps.append(s)
        }
        var out = [Int](repeating: 0, count: target.count)
        var oi = 0, oj = 1, ni = 0, nj = 1
        while ni < target.count && oi < dims.count {
            var np = target[ni], op = dims[oi]
            while np != op {
                if np < op {
                    np *= target[nj]
                    nj += 1
                } else {
                    op *= dims[oj]
                    oj += 1
                }
            }
            for k in oi..<(oj - 1) where steps[k] != dims[k + 1] * steps[k + 1] { return nil }
            out[nj - 1] = steps[oj - 1]
            var k = nj - 1
            while k > ni {
                out[k - 1] = out[k] * target[k]
                k -= 1
            }
            ni = nj
            nj += 1
            oi = oj
            oj += 1
        }
        // Trailing axes of size 1.
        let last = ni > 0 ? out[ni - 1] : 1
        for k in ni..<target.count { out[k] = last }
        return out
    }

    /// Variadic form of ``reshaped(_:)-([Int])``: `a.reshaped(2, -1)`.
    public func reshaped(_ newShape: Int...) -> NDArray { reshaped(newShape) }

    /// A 1-D view (or copy) of all elements in C order.
    public func flattened() -> NDArray { reshaped([count]) }

    @usableFromInline
    static func resolveShape(_ newShape: [Int], count: Int, from old: [Int]) -> [Int] {
        var known = 1
        var inferred: Int? = nil
        for (i, d) in newShape.enumerated() {
            if d == -1 {
                if inferred != nil { typeCheckFailure("reshape: can only specify one unknown dimension (shape \(newShape))") }
                inferred = i
            } else if d < 0 {
                typeCheckFailure("reshape: negative dimension \(d) in shape \(newShape)")
            } else {
                known *= d
            }
        }
        var target = newShape
        if let i = inferred {
            if known == 0 || count % known != 0 {
                typeCheckFailure("reshape: cannot reshape array of size \(count) (shape \(old)) into shape \(newShape)")
            }
            target[i] = count / known
        } else if known != count {
            typeCheckFailure("reshape: cannot reshape array of size \(count) (shape \(old)) into shape \(newShape)")
        }
        return target
    }

    // MARK: - Axis order

    /// The axes reversed (the matrix transpose for 2-D arrays). Always a view.
    public func transposed() -> NDArray {
        view(shape: shape.reversed(), strides: strides.reversed(), offset: offset)
    }

    /// The axes permuted: axis `i` of the result is axis `axes[i]` of this array (NumPy's `transpose(axes)`).
    /// Negative axes count from the end. Always a view.
    /// - Precondition: `axes` is a permutation of `0..<ndim`.
    public func transposed(_ axes: [Int]) -> NDArray {
        if axes.count != ndim { typeCheckFailure("transpose: axes \(axes) do not match an array of dimension \(ndim)") }
        var seen = [Bool](repeating: false, count: ndim)
        var newShape = [Int](), newStrides = [Int]()
        newShape.reserveCapacity(ndim)
        newStrides.reserveCapacity(ndim)
        for a in axes {
            let ax = normalizedAxis(a, op: "transpose")
            if seen[ax] { typeCheckFailure("transpose: repeated axis in \(axes)") }
            seen[ax] = true
            newShape.append(shape[ax])
            newStrides.append(axisStride(ax))
        }
        return view(shape: newShape, strides: newStrides, offset: offset)
    }

    /// Variadic form of ``transposed(_:)``.
    public func transposed(_ axes: Int...) -> NDArray { axes.isEmpty ? transposed() : transposed(axes) }

    /// Two axes exchanged. A view.
    public func swappedAxes(_ a: Int, _ b: Int) -> NDArray {
        var perm = Array(0..<ndim)
        perm.swapAt(normalizedAxis(a, op: "swapaxes"), normalizedAxis(b, op: "swapaxes"))
        return transposed(perm)
    }

    /// Moves axis `source` to position `destination`, keeping the order of the others. A view.
    public func movedAxis(_ source: Int, to destination: Int) -> NDArray {
        let s = normalizedAxis(source, op: "moveaxis"), d = normalizedAxis(destination, op: "moveaxis")
        var perm = Array(0..<ndim)
        perm.remove(at: s)
        perm.insert(s, at: d)
        return transposed(perm)
    }

    /// A new axis of size 1 inserted at `axis` (which may be `ndim`, or negative counting from `ndim + 1`). A view.
    public func expandedDims(axis: Int) -> NDArray {
        let a = axis < 0 ? axis + ndim + 1 : axis
        if a < 0 || a > ndim { typeCheckFailure("expand_dims: axis \(axis) is out of bounds for the result of dimension \(ndim + 1)") }
        var s = shape, st = strides
        s.insert(1, at: a)
        st.insert(a < ndim ? axisStride(a) * shape[a] : 1, at: a)
        return view(shape: s, strides: st, offset: offset)
    }

    /// The axes of size 1 removed (all of them, or the ones named). A view.
    /// - Precondition: every named axis has size 1.
    public func squeezed(axes: [Int]? = nil) -> NDArray {
        var drop = [Bool](repeating: false, count: ndim)
        if let axes {
            for a in axes {
                let ax = normalizedAxis(a, op: "squeeze")
                if shape[ax] != 1 { typeCheckFailure("squeeze: cannot select axis \(a) of size \(shape[ax]) (shape \(shape)); only axes of size 1 can be removed") }
                drop[ax] = true
            }
        } else {
            for i in 0..<ndim where shape[i] == 1 { drop[i] = true }
        }
        var s = [Int](), st = [Int]()
        for i in 0..<ndim where !drop[i] {
            s.append(shape[i])
            st.append(axisStride(i))
        }
        return view(shape: s, strides: st, offset: offset)
    }

    /// A read-only-by-value view of this array repeated along new or size-1 axes to `target` (NumPy's
    /// `broadcast_to`). The result shares storage, so writing to it copies first.
    /// - Precondition: the shapes are compatible under broadcasting.
    public func broadcast(to target: [Int]) -> NDArray {
        if target == shape { return self }
        return view(shape: target, strides: broadcastStrides(to: target, op: "broadcast_to"), offset: offset)
    }

    // MARK: - Joining and splitting

    /// Arrays joined along an existing axis.
    /// - Precondition: at least one array; same dtype and ndim; equal sizes on every other axis.
    public static func concatenate(_ arrays: [NDArray], axis: Int = 0) -> NDArray {
        guard let first = arrays.first else { typeCheckFailure("concat: needs at least one array") }
        let ax = first.normalizedAxis(axis, op: "concat")
        var total = 0
        for (i, a) in arrays.enumerated() {
            first.checkSameDType(a, op: "concat")
            if a.ndim != first.ndim { typeCheckFailure("concat: array \(i) has dimension \(a.ndim) (shape \(a.shape)), array 0 has \(first.ndim) (shape \(first.shape))") }
            for d in 0..<a.ndim where d != ax && a.shape[d] != first.shape[d] {
                typeCheckFailure("concat: array \(i) has shape \(a.shape), array 0 has \(first.shape); they must match except on axis \(ax)")
            }
            total += a.shape[ax]
        }
        var outShape = first.shape
        outShape[ax] = total
        if let joined = adjacentJoin(arrays, shape: outShape, axis: ax) { return joined }
        let out = NDArray(uninitializedShape: outShape, dtype: first.dtype)
        var starts = [0]
        for a in arrays.dropLast() { starts.append(starts.last! + a.shape[ax]) }
        if arrays.allSatisfy(\.isContiguous) {
            joinContiguous(arrays, into: out, axis: ax, starts: starts, extents: arrays.map { $0.shape[ax] })
            return out
        }
        // Large joins copy their pieces on every thread, in groups of nearly equal size.
        let stride = out.axisStride(ax), outStrides = out.strides
        parallelForEach(weights: arrays.map(\.count), work: out.count, threshold: NDArray.parallelElements) { i in
            var region = out.view(shape: arrays[i].shape, strides: outStrides, offset: starts[i] * stride)
            region.writeElements(from: arrays[i])
        }
        return out
    }

    /// Arrays of one shape joined along a new axis.
    /// - Precondition: at least one array; same dtype and shape.
    public static func stack(_ arrays: [NDArray], axis: Int = 0) -> NDArray {
        guard let first = arrays.first else { typeCheckFailure("stack: needs at least one array") }
        for (i, a) in arrays.enumerated() where a.shape != first.shape {
            typeCheckFailure("stack: array \(i) has shape \(a.shape), array 0 has \(first.shape); all must match")
        }
        if arrays.allSatisfy(\.isContiguous) {
            var outShape = first.expandedDims(axis: axis).shape   // (checks the axis)
            let ax = axis < 0 ? axis + first.ndim + 1 : axis
            outShape[ax] = arrays.count
            for a in arrays.dropFirst() { first.checkSameDType(a, op: "stack") }
            if let joined = adjacentJoin(arrays, shape: outShape, axis: ax) { return joined }
            let out = NDArray(uninitializedShape: outShape, dtype: first.dtype)
            joinContiguous(arrays, into: out, axis: ax, starts: Array(arrays.indices), extents: [Int](repeating: 1, count: arrays.count))
            return out
        }
        return concatenate(arrays.map { $0.expandedDims(axis: axis) }, axis: axis)
    }

    /// The join of `pieces` (into `shape`, along `axis`) as a view of their storage, when they are contiguous and lie
    /// one after another in one storage in their order, and every axis before `axis` has size 1: the join is then that
    /// stretch of the storage, and nothing is copied (the steps `F.separate` cut from one time-major array, joined
    /// back by `F.concat` or `F.stack`, and their gradients). Nil otherwise. The view shares storage as any view does:
    /// writing to it, or to a piece, copies first.
    private static func adjacentJoin(_ pieces: [NDArray], shape: [Int], axis ax: Int) -> NDArray? {
        let first = pieces[0]
        guard pieces.count > 1, shape[..<ax].allSatisfy({ $0 == 1 }) else { return nil }
        var end = first.offset
        for p in pieces {
            guard p.storage === first.storage, p.isContiguous, p.offset == end else { return nil }
            end += p.count
        }
        return NDArray(storage: first.storage, dtype: first.dtype, contiguousShape: shape, offset: first.offset)
    }

    /// Copies contiguous `pieces` into the contiguous `out` along `axis`: piece `i` spans `extents[i]` positions of
    /// that axis from `starts[i]`, and is `outer` (the product of `out`'s sizes before `axis`) blocks of
    /// `extents[i] · rest` values, each copied to its row of `out`. Large joins copy on every thread, in groups of
    /// nearly equal size; a join of many small pieces (the token ids of every step of a batch) costs a loop over
    /// those blocks instead of an iteration plan per piece.
    private static func joinContiguous(_ pieces: [NDArray], into out: NDArray, axis ax: Int, starts: [Int], extents: [Int]) {
        let size = out.dtype.itemSize
        let outer = out.shape[..<ax].reduce(1, *), rest = out.shape[(ax + 1)...].reduce(1, *)
        let rowBytes = out.shape[ax] * rest * size, base = out.rawBytes
        withExtendedLifetime(out) {
            parallelForEach(weights: pieces.map(\.count), work: out.count, threshold: NDArray.parallelElements) { i in
                let chunk = extents[i] * rest * size
                if chunk == 0 || outer == 0 { return }
                let piece = pieces[i]
                withExtendedLifetime(piece) {
                    let src = UnsafeRawPointer(piece.rawBytes), dst = base + starts[i] * rest * size
                    switch chunk {
                    case 4:
                        for o in 0..<outer { (dst + o * rowBytes).storeBytes(of: src.load(fromByteOffset: o * 4, as: UInt32.self), as: UInt32.self) }
                    case 8:
                        for o in 0..<outer { (dst + o * rowBytes).storeBytes(of: src.load(fromByteOffset: o * 8, as: UInt64.self), as: UInt64.self) }
                    default:
                        for o in 0..<outer { (dst + o * rowBytes).copyMemory(from: src + o * chunk, byteCount: chunk) }
                    }
                }
            }
        }
    }

    /// Views of consecutive pieces along `axis`, cut before each index in `indices` (NumPy's `split` with
    /// indices).
    public func split(indices: [Int], axis: Int = 0) -> [NDArray] {
        let ax = normalizedAxis(axis, op: "split_axis")
        var pieces = [NDArray]()
        var start = 0
        for cut in indices + [shape[ax]] {
            let c = Swift.min(Swift.max(cut, start), shape[ax])
            var s = shape
            s[ax] = c - start
            pieces.append(view(shape: s, strides: strides, offset: offset + start * axisStride(ax)))
            start = c
        }
        return pieces
    }

    /// Views of `sections` equal pieces along `axis`.
    /// - Precondition: `shape[axis]` is divisible by `sections`.
    public func split(sections: Int, axis: Int = 0) -> [NDArray] {
        let ax = normalizedAxis(axis, op: "split_axis")
        if sections <= 0 || shape[ax] % sections != 0 {
            typeCheckFailure("split_axis: axis \(axis) of size \(shape[ax]) (shape \(shape)) cannot be split into \(sections) equal sections")
        }
        let step = shape[ax] / sections
        return split(indices: (1..<sections).map { $0 * step }, axis: axis)
    }

    /// Writes `source` (broadcast to this view's shape) into the elements this view covers. The storage must
    /// already be unique to the caller (as for a freshly allocated result).
    @usableFromInline
    mutating func writeElements(from source: NDArray) {
        checkSameDType(source, op: "assign")
        let size = dtype.itemSize
        if isContiguous && source.isContiguous && source.count == count {
            (storage.raw + offset * size).copyMemory(from: source.storage.raw + source.offset * size, byteCount: count * size)
            return
        }
        let srcStrides = source.broadcastStrides(to: shape, op: "assign")
        func go<W>(_: W.Type) {
            let dst = (storage.raw + offset * size).assumingMemoryBound(to: W.self)
            let src = (source.storage.raw + source.offset * size).assumingMemoryBound(to: W.self)
            var plan = LoopPlan(shape: shape, operandStrides: [strides, srcStrides])
            plan.forEachRun { off, n, inner in
                let d = dst + off[0], s = src + off[1], sd = inner[0], ss = inner[1]
                if sd == 1 && ss == 1 { d.update(from: s, count: n) } else { for i in 0..<n { d[i * sd] = s[i * ss] } }
            }
        }
        switch size {
        case 1: go(UInt8.self)
        case 4: go(UInt32.self)
        default: go(UInt64.self)
        }
    }
}
