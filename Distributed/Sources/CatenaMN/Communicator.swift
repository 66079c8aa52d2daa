import CMPI
import Catena
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The processes of one MPI job and the collective operations CatenaMN trains with (ChainerMN's communicator).
///
/// Every process of a job started by `mpirun` makes one with ``createCommunicator(_:)``; each then trains the same
/// model on its own part of the data (``scatterDataset(_:_:shuffle:seed:root:forceEqualLength:)``), and
/// ``allreduceGrad(_:zeroFill:)`` averages the gradients after every backward pass, so that every process applies the
/// same update.
///
/// ```swift
/// let comm = try createCommunicator()
/// let model = Classifier(MLP())
/// comm.bcastData(model)                                   // every rank starts from rank 0's weights
/// let optimizer = createMultiNodeOptimizer(Adam(), comm)
/// optimizer.setup(model)
/// let train = try scatterDataset(comm.rank == 0 ? fullTrain : nil, comm, shuffle: true, seed: 0)
/// ```
///
/// Collectives must be called by every process of the communicator in the same order; an operation called on some
/// ranks only waits for the others. Errors that would leave the others waiting end the whole job instead (MPI's
/// default error handler, and ``abortingOnError(_:)`` for Swift errors).
public final class Communicator {
    /// This process's index in the job, `0..<size`.
    public let rank: Int
    /// The number of processes in the job.
    public let size: Int
    /// This process's index among the processes on its machine (ChainerMN's `intra_rank`).
    public let intraRank: Int
    /// The number of processes on this machine.
    public let intraSize: Int
    /// The index of this process's machine among the job's machines (ChainerMN's `inter_rank`).
    public let interRank: Int
    /// The number of machines the job runs on.
    public let interSize: Int
    /// The name of this machine as MPI reports it.
    public let hostName: String

    let comm: MPI_Comm
    /// The packing buffers of ``allreduceGrad(_:zeroFill:)``, kept between steps so that a step allocates nothing.
    let buffers = GradientBuffers()

    /// How ``allreduceGrad(_:zeroFill:)`` cuts its messages.
    public struct ExchangeSettings: Sendable {
        /// Gradients with at least this many elements are reduced where they lie; smaller ones are packed into
        /// one buffer (default 64 Ki, or CATENAMN_IN_PLACE_ELEMENTS).
        public var inPlaceElements: Int
        /// Elements per MPI call (default 128 Ki, or CATENAMN_SEGMENT_ELEMENTS): each segment is divided by the
        /// process count right after its reduction, while it is in cache. Between machines on a slow network,
        /// where each call costs a round trip, larger segments (a few Mi) cut the latency per step.
        public var segmentElements: Int

        public init(inPlaceElements: Int = 1 << 16, segmentElements: Int = 1 << 17) {
            self.inPlaceElements = max(1, inPlaceElements)
            self.segmentElements = max(1, segmentElements)
        }

        static func fromEnvironment() -> ExchangeSettings {
            let env = ProcessInfo.processInfo.environment
            var s = ExchangeSettings()
            if let v = env["CATENAMN_IN_PLACE_ELEMENTS"].flatMap(Int.init), v > 0 { s.inPlaceElements = v }
            if let v = env["CATENAMN_SEGMENT_ELEMENTS"].flatMap(Int.init), v > 0 { s.segmentElements = v }
            return s
        }
    }

    /// How gradient exchanges are cut into messages. Every rank must use the same settings.
    public var exchangeSettings = ExchangeSettings.fromEnvironment()

    init(comm: MPI_Comm) {
        self.comm = comm
        (rank, size) = rankAndSize(comm)

        // The processes sharing this machine's memory form the intra-node group; its rank-0 processes, one per
        // machine, number the machines.
        var node: MPI_Comm? = cmn_comm_null()
        MPI_Comm_split_type(comm, cmn_comm_type_shared(), Int32(rank), cmn_info_null(), &node)
        (intraRank, intraSize) = rankAndSize(node)
        var leaders: MPI_Comm? = cmn_comm_null()
        MPI_Comm_split(comm, intraRank == 0 ? 0 : cmn_undefined(), Int32(rank), &leaders)
        var machine: [Int64] = [0, 0]   // this machine's index and the number of machines
        if intraRank == 0 {
            let (index, count) = rankAndSize(leaders)
            machine = [Int64(index), Int64(count)]
            MPI_Comm_free(&leaders)
        }
        machine.withUnsafeMutableBytes { b in _ = MPI_Bcast(b.baseAddress, 2, cmn_int64(), 0, node) }
        MPI_Comm_free(&node)
        interRank = Int(machine[0])
        interSize = Int(machine[1])

        var name = [CChar](repeating: 0, count: Int(cmn_max_processor_name()) + 1)
        var length: Int32 = 0
        MPI_Get_processor_name(&name, &length)
        hostName = String(decoding: name.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Plain collectives

    /// Waits until every process has called it.
    public func barrier() { MPI_Barrier(comm) }

    /// Sums (or takes the maximum or minimum of) `values` element by element over all processes, in place.
    /// - Precondition: the same count on every rank.
    public func allreduce(_ values: inout [Double], _ op: ReduceOperation = .sum) {
        values.withUnsafeMutableBufferPointer { allreduceInPlace($0.baseAddress, count: $0.count, elementSize: 8, cmn_double(), op) }
    }

    /// ``allreduce(_:_:)-([Double],_)`` for 64-bit integers (exact).
    public func allreduce(_ values: inout [Int64], _ op: ReduceOperation = .sum) {
        values.withUnsafeMutableBufferPointer { allreduceInPlace($0.baseAddress, count: $0.count, elementSize: 8, cmn_int64(), op) }
    }

    /// The kinds of reduction ``allreduce(_:_:)-([Double],_)`` performs.
    public enum ReduceOperation: Sendable {
        case sum, max, min
        var handle: MPI_Op {
            switch self {
            case .sum: return cmn_op_sum()
            case .max: return cmn_op_max()
            case .min: return cmn_op_min()
            }
        }
    }

    func allreduceInPlace(_ pointer: UnsafeMutableRawPointer?, count: Int, elementSize width: Int, _ type: MPI_Datatype, _ op: ReduceOperation) {
        // MPI counts are 32-bit: reduce in chunks, so that any buffer an array can hold goes through.
        let chunk = Int(Int32.max)
        var done = 0
        repeat {
            let n = min(chunk, count - done)
            MPI_Allreduce(cmn_in_place(), pointer.map { $0 + done * width }, Int32(n), type, op.handle, comm)
            done += n
        } while done < count
    }

    /// Broadcasts `root`'s bytes to every process (ChainerMN's `bcast_obj`, for bytes): other ranks' `bytes` are
    /// replaced, whatever their length.
    public func bcast(_ bytes: inout [UInt8], root: Int = 0) {
        checkRoot(root, "bcast")
        var count: [Int64] = [Int64(bytes.count)]
        count.withUnsafeMutableBytes { _ = MPI_Bcast($0.baseAddress, 1, cmn_int64(), Int32(root), comm) }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count[0])) }
        bytes.withUnsafeMutableBytes { bcastRaw($0.baseAddress, byteCount: $0.count, root: root) }
    }

    func bcastRaw(_ pointer: UnsafeMutableRawPointer?, byteCount: Int, root: Int) {
        forEachPiece(byteCount) { start, n in _ = MPI_Bcast(pointer.map { $0 + start }, Int32(n), cmn_uint8(), Int32(root), comm) }
    }

    /// Every process's bytes, gathered on `root` in rank order (ChainerMN's `gather_obj`, for bytes); other ranks get
    /// an empty list.
    public func gather(_ bytes: [UInt8], root: Int = 0) -> [[UInt8]] {
        checkRoot(root, "gather")
        guard rank == root else {
            send(bytes, to: root)
            return []
        }
        return (0..<size).map { $0 == root ? bytes : receive(from: $0) }
    }

    /// Sends bytes to one rank, which must call ``receive(from:)`` (its length first, then the bytes, in pieces of at
    /// most 1 GiB, since MPI counts are 32-bit).
    public func send(_ bytes: [UInt8], to dest: Int) {
        checkRoot(dest, "send")
        var count: [Int64] = [Int64(bytes.count)]
        count.withUnsafeMutableBytes { _ = MPI_Send($0.baseAddress, 1, cmn_int64(), Int32(dest), messageTag, comm) }
        bytes.withUnsafeBytes { b in
            forEachPiece(b.count) { start, n in _ = MPI_Send(b.baseAddress.map { $0 + start }, Int32(n), cmn_uint8(), Int32(dest), messageTag, comm) }
        }
    }

    /// The bytes one rank sent with ``send(_:to:)``.
    public func receive(from source: Int) -> [UInt8] {
        checkRoot(source, "receive")
        var count: [Int64] = [0]
        count.withUnsafeMutableBytes { _ = MPI_Recv($0.baseAddress, 1, cmn_int64(), Int32(source), messageTag, comm, cmn_status_ignore()) }
        var bytes = [UInt8](repeating: 0, count: Int(count[0]))
        bytes.withUnsafeMutableBytes { b in
            forEachPiece(b.count) { start, n in
                _ = MPI_Recv(b.baseAddress.map { $0 + start }, Int32(n), cmn_uint8(), Int32(source), messageTag, comm, cmn_status_ignore())
            }
        }
        return bytes
    }

    private var messageTag: Int32 { 17 }

    func checkRoot(_ root: Int, _ op: String) {
        if root < 0 || root >= size { abort("\(op): root \(root) is not a rank of this \(size)-process job") }
    }

    /// True on every rank when `flag` is true on every rank (one small collective).
    public func all(_ flag: Bool) -> Bool {
        var v: [Int64] = [flag ? 1 : 0]
        allreduce(&v, .min)
        return v[0] == 1
    }

    // MARK: - Failure

    /// Ends the whole job (MPI_Abort), after printing `rank R/N: message` on standard error: what a process does when
    /// it cannot go on, so that the others are not left waiting in a collective.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("catenamn: rank \(rank)/\(size): \(message)\n".utf8))
        MPI_Abort(comm, code)
        exit(code)
    }

    /// Runs `body`; an error it throws ends the whole job with this rank's message and a non-zero status
    /// (ChainerMN's global except hook). Wrap each process's work in it, so that one failing rank never leaves the
    /// others waiting.
    public func abortingOnError<T>(_ body: () throws -> T) -> T {
        do {
            return try body()
        } catch {
            abort("\(error)")
        }
    }
}

/// This process's rank in `comm` and the number of processes in it.
private func rankAndSize(_ comm: MPI_Comm?) -> (Int, Int) {
    var r: Int32 = 0, s: Int32 = 0
    MPI_Comm_rank(comm, &r)
    MPI_Comm_size(comm, &s)
    return (Int(r), Int(s))
}

/// Calls `body(start, count)` for consecutive pieces of at most 1 GiB covering `0..<byteCount` (MPI counts are 32-bit).
private func forEachPiece(_ byteCount: Int, _ body: (Int, Int) -> Void) {
    var start = 0
    while start < byteCount {
        let n = min(1 << 30, byteCount - start)
        body(start, n)
        start += n
    }
}

// MARK: - Set-up

nonisolated(unsafe) private var world: Communicator?

/// The communicator of every process in the job (ChainerMN's `create_communicator`), initialising MPI on first use
/// and finalising it when the process exits with status 0. A process that exits with another status (after printing
/// its error) ends the whole job with that status (`MPI_Abort`), so that the others, which may be waiting for it in
/// a collective, do not hang; errors thrown inside ``Communicator/abortingOnError(_:)`` do the same with the
/// rank's message.
///
/// CatenaMN has one CPU implementation, which packs all gradients of a step into one buffer per dtype and reduces it
/// with one `MPI_Allreduce`; `"naive"` and `"flat"` (ChainerMN's CPU-capable names) both select it.
/// - Throws: ``CatenaMNError`` for a communicator name that needs GPUs (`pure_nccl`, `hierarchical`, …) or is
///   unknown.
public func createCommunicator(_ communicatorName: String = "naive") throws -> Communicator {
    guard ["naive", "flat"].contains(communicatorName) else {
        throw CatenaMNError("createCommunicator: '\(communicatorName)' is not available; CatenaMN runs on CPUs and offers 'naive' (the default) and 'flat', which are the same packed allreduce")
    }
    if let world { return world }
    var initialised: Int32 = 0
    MPI_Initialized(&initialised)
    if initialised == 0 {
        var provided: Int32 = 0
        // Catena's worker threads never call MPI: only the thread that trains does.
        MPI_Init_thread(nil, nil, cmn_thread_funneled(), &provided)
        // Finalised at a successful exit; a failing exit aborts the job rather than wait for the others (shim.h).
        cmn_install_exit_handler()
    }
    let c = Communicator(comm: cmn_comm_world())
    world = c
    return c
}

/// A problem CatenaMN reports: a bad argument, or processes that disagree (different models, datasets of different
/// sizes).
public struct CatenaMNError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
