import CMPI
import Catena
import Foundation

extension Communicator {
    /// Gives every process `root`'s parameter values (ChainerMN's `bcast_data`): one broadcast per dtype of all
    /// initialised parameters, packed. Call it after building the model and before training, so that every rank
    /// starts from the same weights whatever its random seed.
    ///
    /// Every rank must hold the same model: the same parameter paths, shapes and dtypes, initialised alike. If they
    /// differ, the job ends with a message naming the first parameter that differs (checked with one small message
    /// before the data moves).
    public func bcastData(_ model: Link, root: Int = 0) {
        checkRoot(root, "bcastData")
        let params = model.namedParams(includeUninitialized: false)
        checkSameLayout(params, operation: "bcastData")
        for group in dtypeGroups(params) {
            switch group.dtype {
            case .float32: bcastValues(group.params, Float.self, root: root)
            case .float64: bcastValues(group.params, Double.self, root: root)
            default: abort("bcastData: parameter \(group.params[0].path) has dtype \(group.dtype); parameters are float32 or float64")
            }
        }
    }

    private func bcastValues<T: BinaryFloatingPoint & NDArrayElement>(_ params: [(path: String, param: Parameter)], _: T.Type, root: Int) {
        let total = params.reduce(0) { $0 + $1.param.array.count }
        var buffer = [T](repeating: 0, count: total)
        buffer.withUnsafeMutableBufferPointer { buf in
            if rank == root { pack(params.map { $0.param.array }, into: buf) }
            bcastRaw(UnsafeMutableRawPointer(buf.baseAddress), byteCount: total * MemoryLayout<T>.stride, root: root)
            if rank != root {
                var offset = 0
                for (_, p) in params {
                    var a = p.array
                    p.array = NDArray.zeros([0], dtype: a.dtype)   // drop the parameter's reference, so `a` is unique
                    let n = a.count
                    a.withUnsafeMutableBufferPointer(as: T.self) { dst in
                        dst.baseAddress!.update(from: buf.baseAddress! + offset, count: n)
                    }
                    p.array = a
                    offset += n
                }
            }
        }
    }

    /// Averages every parameter's gradient over all processes (ChainerMN's `allreduce_grad` /
    /// `multi_node_mean_grad`): all gradients of one dtype are packed into one buffer and reduced with one
    /// `MPI_Allreduce`, then each becomes the sum divided by ``size``.
    ///
    /// A parameter without a gradient on every rank keeps none (it is skipped consistently). One that has a
    /// gradient on some ranks only counts as zeros on the others and gets the mean on all. With `zeroFill`, every
    /// initialised parameter ends with a gradient, zeros where no rank had one.
    ///
    /// Every rank must hold the same model; if the ranks' parameters differ (paths, shapes, dtypes, which are
    /// initialised), the job ends with a message naming the first that differs.
    public func allreduceGrad(_ model: Link, zeroFill: Bool = false) {
        allreduceGrad(parameters: model.namedParams(includeUninitialized: false), zeroFill: zeroFill)
    }

    /// ``allreduceGrad(_:zeroFill:)`` for a list of parameters already found (as ``Link/namedParams(includeUninitialized:)``
    /// gives them, initialised ones only): what the multi-node optimizer calls with the list it keeps from `setup`,
    /// saving the search through the link's properties on every step.
    /// - Precondition: every parameter is initialised, and every rank passes the same list.
    public func allreduceGrad(parameters params: [(path: String, param: Parameter)], zeroFill: Bool = false) {
        if let lazy = params.first(where: { !$0.param.isInitialized }) {
            abort("allreduceGrad(parameters:): parameter \(lazy.path) has no data yet; pass initialised parameters only")
        }
        checkSameLayout(params, operation: "allreduceGrad")
        for group in dtypeGroups(params) {
            switch group.dtype {
            case .float32: reduceGradients(group.params, Float.self, zeroFill: zeroFill)
            case .float64: reduceGradients(group.params, Double.self, zeroFill: zeroFill)
            default: abort("allreduceGrad: parameter \(group.params[0].path) has dtype \(group.dtype); parameters are float32 or float64")
            }
        }
    }

    private func reduceGradients<T: BinaryFloatingPoint & NDArrayElement>(_ params: [(path: String, param: Parameter)], _: T.Type, zeroFill: Bool) {
        // Gradients of fewer than `inPlaceElements` elements are packed (tensor fusion) into one buffer that starts
        // with one presence count per parameter; larger ones are reduced where they lie, needing no copy. Both go
        // through MPI a segment at a time, each segment divided by the size right after its reduction, while it
        // is still in cache, so that the exchange costs little beyond MPI's own reduction.
        let type: MPI_Datatype = T.self == Float.self ? cmn_float() : cmn_double()
        let width = MemoryLayout<T>.stride
        let ranks = size
        func mean(_ s: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>, _ n: Int) {
            if T.self == Float.self {
                divide(UnsafeRawPointer(s).assumingMemoryBound(to: Float.self), UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self), n, by: ranks)
            } else {
                divide(UnsafeRawPointer(s).assumingMemoryBound(to: Double.self), UnsafeMutableRawPointer(d).assumingMemoryBound(to: Double.self), n, by: ranks)
            }
        }
        // The gradients, taken out of the parameters so that each is uniquely held and written in place; a rank
        // without one for a large parameter takes part with zeros.
        var grads: [NDArray?] = params.map { entry in
            let g = entry.param.grad
            entry.param.grad = nil
            return g
        }
        let inPlaceElements = exchangeSettings.inPlaceElements, segmentElements = exchangeSettings.segmentElements
        let large = params.indices.filter { params[$0].param.array.count >= inPlaceElements }
        let small = params.indices.filter { params[$0].param.array.count < inPlaceElements }
        let flags = params.count
        let packed = flags + small.reduce(0) { $0 + params[$1].param.array.count }
        var present = [Bool](repeating: false, count: params.count)

        buffers.ensure(T.self, count: packed)
        buffers.withBuffer(T.self) { buf in
            for i in 0..<flags { buf[i] = grads[i] == nil ? 0 : 1 }
            var at = flags
            for i in small {
                let n = params[i].param.array.count
                if let g = grads[i] {
                    g.withUnsafeBufferPointer(as: T.self) { src in (buf.baseAddress! + at).update(from: src.baseAddress!, count: n) }
                } else {
                    (buf.baseAddress! + at).update(repeating: 0, count: n)
                }
                at += n
            }
            var start = 0
            while start < packed {
                let n = min(packed - start, segmentElements)
                allreduceInPlace(UnsafeMutableRawPointer(buf.baseAddress! + start), count: n, elementSize: width, type, .sum)
                start += n
            }
            for i in 0..<flags { present[i] = buf[i] > 0 }
            at = flags
            for i in small {
                let n = params[i].param.array.count
                defer { at += n }
                guard present[i] || zeroFill else { continue }
                if grads[i] == nil { grads[i] = NDArray.zeros(params[i].param.array.shape, dtype: params[i].param.array.dtype) }
                grads[i]!.withUnsafeMutableBufferPointer(as: T.self) { dst in mean(buf.baseAddress! + at, dst.baseAddress!, n) }
            }
        }
        for i in large {
            if grads[i] == nil { grads[i] = NDArray.zeros(params[i].param.array.shape, dtype: params[i].param.array.dtype) }
            grads[i]!.withUnsafeMutableBufferPointer(as: T.self) { g in
                var start = 0
                while start < g.count {
                    let n = min(g.count - start, segmentElements)
                    let s = g.baseAddress! + start
                    allreduceInPlace(UnsafeMutableRawPointer(s), count: n, elementSize: width, type, .sum)
                    mean(s, s, n)
                    start += n
                }
            }
        }
        for (i, entry) in params.enumerated() where present[i] || zeroFill { entry.param.grad = grads[i] }
    }

    // MARK: - Agreement between ranks

    /// True on every rank when all ranks hold bit-identical values in `params` (a hash of the bytes, compared with one
    /// small message), after checking that they hold the same parameters.
    func parametersAgree(_ params: [(path: String, param: Parameter)]) -> Bool {
        checkSameLayout(params, operation: "multi-node optimizer")
        var hash = FNV1a()
        for (_, p) in params {
            let a = p.array
            func mix<T: NDArrayElement>(_: T.Type) { a.withUnsafeBufferPointer(as: T.self) { hash.add(UnsafeRawBufferPointer($0)) } }
            if a.dtype == .float64 { mix(Double.self) } else if a.dtype == .float32 { mix(Float.self) }
        }
        return allAgree(on: hash.value)
    }

    /// True on every rank when every rank passed the same `hash`: one message of two integers, the hash and its
    /// complement reduced with max, which both come back unchanged exactly when no rank sent another value.
    func allAgree(on hash: UInt64) -> Bool {
        let mine = Int64(bitPattern: hash)
        var check: [Int64] = [mine, ~mine]
        allreduce(&check, .max)
        return check[0] == mine && check[1] == ~mine
    }

    /// Stops the job unless every rank holds parameters with the same paths, dtypes and shapes, in the same order,
    /// and cuts its messages alike (the same ``exchangeSettings``).
    func checkSameLayout(_ params: [(path: String, param: Parameter)], operation: String) {
        let settings = "exchange settings: in place from \(exchangeSettings.inPlaceElements), segments of \(exchangeSettings.segmentElements)"
        requireAgreement(params.map { "\($0.path) \($0.param.array.dtype) \($0.param.array.shape)" }, also: settings, operation: operation, subject: "models",
                         item: "initialised parameter",
                         hint: "build the same model on every rank, and initialise lazy parameters, for example with one forward pass, before training")
    }

    /// Stops the job unless `lines` (and `also`) are the same on every rank: one small message when they agree
    /// (``allAgree(on:)`` of their hash); when they differ, rank 0 gathers them and ends the job naming the first
    /// difference.
    func requireAgreement(_ lines: [String], also: String = "", operation: String, subject: String, item: String, hint: String) {
        var hash = FNV1a()
        for line in lines + [also] {
            hash.add(line.utf8)
            hash.add([0x0a])
        }
        if allAgree(on: hash.value) { return }
        // They differ, so every rank is here.
        let all = gather(Array((lines + [also]).joined(separator: "\n").utf8))
        if rank == 0 {
            let split = all.map { String(decoding: $0, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
            for r in 1..<size where split[r].last != split[0].last {
                abort("\(operation): the ranks differ in \(split[0].last ?? ""): rank \(r) has \(split[r].last ?? "")")
            }
            for r in 1..<size where split[r] != split[0] {
                let a = Array(split[0].dropLast()), b = Array(split[r].dropLast())
                let first = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                let onRoot = first < a.count ? "'\(a[first])'" : "nothing"
                let onOther = first < b.count ? "'\(b[first])'" : "nothing"
                abort("\(operation): the ranks hold different \(subject): rank 0 has \(a.count) \(item)s, rank \(r) has \(b.count); \(item) \(first) is \(onRoot) on rank 0 but \(onOther) on rank \(r) (\(hint))")
            }
            abort("\(operation): the ranks hold different \(subject)")
        }
        barrier()   // rank 0 ends the job
        abort("\(operation): the ranks hold different \(subject) (see rank 0's message)")
    }

    func dtypeGroups(_ params: [(path: String, param: Parameter)]) -> [(dtype: DType, params: [(path: String, param: Parameter)])] {
        var groups: [(dtype: DType, params: [(path: String, param: Parameter)])] = []
        for entry in params {
            let d = entry.param.array.dtype
            if let i = groups.firstIndex(where: { $0.dtype == d }) { groups[i].params.append(entry) } else { groups.append((d, [entry])) }
        }
        return groups
    }
}

/// `d[i] = s[i] / divisor` for `n` elements (`s` may be `d`), eight lanes at a time. A power-of-two divisor is
/// applied as a product with its exact reciprocal, which gives the same values several times faster.
private func divide<T: BinaryFloatingPoint & SIMDScalar>(_ s: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>, _ n: Int, by divisor: Int) {
    let exact = divisor & (divisor - 1) == 0
    let k = exact ? 1 / T(divisor) : T(divisor)
    let lanes = SIMD8<T>(repeating: k)
    let source = UnsafeRawPointer(s), destination = UnsafeMutableRawPointer(d)
    var i = 0
    while i + 8 <= n {
        let v = source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: SIMD8<T>.self)
        destination.storeBytes(of: exact ? v * lanes : v / lanes, toByteOffset: i * MemoryLayout<T>.stride, as: SIMD8<T>.self)
        i += 8
    }
    while i < n {
        d[i] = exact ? s[i] * k : s[i] / k
        i += 1
    }
}

/// The 64-bit FNV-1a hash of bytes added in turn (to compare what the ranks hold with one small message).
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
}

private func pack<T: NDArrayElement>(_ arrays: [NDArray], into buf: UnsafeMutableBufferPointer<T>) {
    var offset = 0
    for a in arrays {
        a.withUnsafeBufferPointer(as: T.self) { src in (buf.baseAddress! + offset).update(from: src.baseAddress!, count: src.count) }
        offset += a.count
    }
}

/// The packing buffers of one communicator (one per float dtype), grown as needed.
final class GradientBuffers {
    private var float32: [Float] = []
    private var float64: [Double] = []

    func ensure<T>(_: T.Type, count: Int) {
        if T.self == Float.self, float32.count < count { float32 = [Float](repeating: 0, count: count) }
        if T.self == Double.self, float64.count < count { float64 = [Double](repeating: 0, count: count) }
    }

    func withBuffer<T, R>(_: T.Type, _ body: (UnsafeMutableBufferPointer<T>) -> R) -> R {
        if T.self == Float.self {
            return float32.withUnsafeMutableBufferPointer { body(UnsafeMutableRawBufferPointer($0).bindMemory(to: T.self)) }
        }
        return float64.withUnsafeMutableBufferPointer { body(UnsafeMutableRawBufferPointer($0).bindMemory(to: T.self)) }
    }
}
