import Catena
import Foundation

/// A trainer snapshot for a data-parallel run (ChainerMN's `multi_node_snapshot`): rank 0 writes one file, atomically
/// as ``Snapshot`` does, and every rank resumes from it.
///
/// The processes' states are mostly the same (the model and the optimizer's state, kept equal by the multi-node
/// optimizer), but not all of it: each rank's iterator reads its own part of the data in its own order, and may
/// draw from its own generators. So at every snapshot each rank sends its state to rank 0, which stores, besides
/// its own state in Chainer's usual layout, every value in which another rank differs, under
/// `_catenamn/rank<r>/<key>` (and the keys a rank lacks, such as those of a log extension added on rank 0 only).
/// Loading gives each rank its own values back, so a resumed `N`-rank run continues bit for bit as the
/// uninterrupted one would have. (The transfer is one message per rank per snapshot, of that rank's
/// whole state.)
///
/// ```swift
/// trainer.extend(multiNodeSnapshot(comm, snapshot(autoload: true)), trigger: IntervalTrigger(1, .epoch))
/// ```
/// With `autoload`, rank 0 picks the newest snapshot it can load (falling back to older ones, as ``Snapshot``
/// does) and every rank loads that file. A snapshot written by a job with a different number of processes is
/// refused with a message saying how many it needs. Every rank must add the extension with the same trigger.
/// `snapshotOnError` is not supported (it would need every rank to join a collective after an error on one) and is
/// refused when training starts.
public final class MultiNodeSnapshot: Extension {
    /// The snapshot whose file name pattern, target, retention and autoload rank 0 follows.
    public let snapshot: Snapshot
    public let comm: Communicator
    /// The file every rank resumed from, if any.
    public private(set) var autoloaded: String?

    public init(_ comm: Communicator, _ snapshot: Snapshot) {
        self.comm = comm
        self.snapshot = snapshot
    }

    public override var defaultName: String { snapshot.defaultName }
    public override func makeDefaultTrigger() -> Trigger { snapshot.makeDefaultTrigger() }
    public override var defaultPriority: Int { snapshot.defaultPriority }
    public override var initializesFirst: Bool { snapshot.autoload }

    public override func callAsFunction(_ trainer: Trainer) throws {
        if let condition = snapshot.condition, !condition(trainer) { return }
        let path = trainer.out + "/" + snapshot.name(for: trainer)
        let target = snapshot.target ?? trainer
        var failure: String?
        do {
            try saveMultiNodeState(target, comm, to: path, compression: snapshot.compression)
        } catch {
            failure = "\(error)"
        }
        // Rank 0 alone writes; all ranks learn whether it could, so that none goes on while the others stop.
        if !comm.all(failure == nil) {
            throw TrainingError(failure.map { "multi-node snapshot \(path): \($0)" } ?? "multi-node snapshot \(path): another rank failed (see its message)")
        }
        if comm.rank == 0, snapshot.nRetains > 0 {
            for f in snapshot.candidates(in: trainer.out).dropLast(snapshot.nRetains) {
                try? FileManager.default.removeItem(atPath: trainer.out + "/" + f.name)
            }
        }
    }

    public override func initialize(_ trainer: Trainer) throws {
        if snapshot.snapshotOnError {
            throw TrainingError("multiNodeSnapshot: snapshotOnError is not supported in a multi-node run (the other ranks cannot join a snapshot after one rank fails)")
        }
        guard snapshot.autoload else { return }
        let target = snapshot.target ?? trainer
        // Rank 0 chooses the newest file it can load; every rank then loads that one.
        var chosen: [UInt8] = []
        var problems: [String] = []
        if comm.rank == 0 {
            for c in snapshot.candidates(in: trainer.out).reversed() {
                let path = trainer.out + "/" + c.name
                do {
                    try loadMultiNodeState(path, into: target, rank: 0, size: comm.size)
                    chosen = Array(path.utf8)
                    break
                } catch {
                    problems.append("\(error)")
                    FileHandle.standardError.write(Data("warning: multi-node snapshot: cannot resume from \(path) (\(error)); trying an older one\n".utf8))
                }
            }
            if chosen.isEmpty && !problems.isEmpty { chosen = [0] }
        }
        comm.bcast(&chosen, root: 0)
        if chosen == [0] {
            throw TrainingError(problems.isEmpty
                ? "multi-node snapshot: rank 0 could load none of the snapshots in \(trainer.out) (see its messages)"
                : "multi-node snapshot: none of the \(problems.count) snapshots in \(trainer.out) could be loaded, so the run does not start afresh over them (\(problems.joined(separator: "; ")))")
        }
        guard !chosen.isEmpty else { return }
        let path = String(decoding: chosen, as: UTF8.self)
        var failure: String?
        if comm.rank != 0 {
            do { try loadMultiNodeState(path, into: target, rank: comm.rank, size: comm.size) } catch { failure = "\(error)" }
        }
        if !comm.all(failure == nil) {
            throw TrainingError(failure.map { "multi-node snapshot: rank \(comm.rank) cannot resume from \(path): \($0)" }
                                ?? "multi-node snapshot: another rank cannot resume from \(path) (see its message)")
        }
        autoloaded = path
    }
}

/// ``Snapshot`` made multi-node (ChainerMN's `multi_node_snapshot`).
public func multiNodeSnapshot(_ comm: Communicator, _ snapshot: Snapshot) -> MultiNodeSnapshot {
    MultiNodeSnapshot(comm, snapshot)
}

private let rankPrefix = "_catenamn/rank"
private let sizeKey = "_catenamn/size"
private let absentSuffix = "/_catenamn_absent"

/// Saves `object`'s state on every rank into one file written by rank 0 (the layout of ``MultiNodeSnapshot``). A
/// collective: every rank calls it. Rank 0 throws if another rank's state cannot be read or the file cannot be
/// written; the other ranks return once they have sent their state.
public func saveMultiNodeState(_ object: Serializable, _ comm: Communicator, to path: String, compression: Bool = true) throws {
    let entries = try DictionarySerializer.serialize(object)
    // A rank that cannot encode its state sends nothing, which rank 0 reports (a throw here would leave it waiting).
    let all = comm.gather(comm.rank == 0 ? [] : (try? encodeNPZ(entries, source: "rank \(comm.rank)'s state")) ?? [])
    guard comm.rank == 0 else { return }
    let own = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    var out = entries
    for r in 1..<comm.size {
        if all[r].isEmpty { throw SerializationError("rank \(r) could not encode its state") }
        let theirs = try decodeNPZ(all[r], source: "rank \(r)'s state")
        // What rank r holds differently or alone, and what it lacks (extensions added on rank 0 only, such as the
        // log and the printed report, as ChainerMN's examples do).
        for e in theirs where own[e.key] != e.value { out.append((key: rankPrefix + "\(r)/" + e.key, value: e.value)) }
        let keys = Set(theirs.map(\.key))
        let absent = entries.map(\.key).filter { !keys.contains($0) }
        if !absent.isEmpty { out.append((key: rankPrefix + "\(r)" + absentSuffix, value: .string(absent.joined(separator: "\n")))) }
    }
    out.append((key: sizeKey, value: .array(NDArray(values: [Int64(comm.size)], shape: []))))
    try writeNPZ(path, out, compression: compression)
}

/// Loads rank `rank`'s state from a file written by ``saveMultiNodeState(_:_:to:compression:)``: rank 0's values,
/// with this rank's own where they differ. Not a collective: each rank reads the file itself (from a shared file
/// system, or a copy on each machine).
/// - Throws: ``SerializationError`` if the file cannot be read, was written by a job of another size, or does not
///   fit `object` (checked as `loadNPZ` checks; the object is left as it was).
public func loadMultiNodeState(_ path: String, into object: Serializable, rank: Int, size: Int) throws {
    let entries = try readNPZ(path)
    guard let sizeEntry = entries.first(where: { $0.key == sizeKey }) else {
        throw SerializationError("\(path): not a multi-node snapshot (no '\(sizeKey)'); load it with loadNPZ")
    }
    guard case .array(let sizeArray) = sizeEntry.value, sizeArray.count == 1, let saved = sizeArray.toDoubles().first, saved == saved.rounded(), saved >= 1 else {
        throw SerializationError("\(path): key '\(sizeKey)' does not hold a process count")
    }
    if Int(saved) != size {
        throw SerializationError("\(path): written by a job of \(Int(saved)) processes; resume it with \(Int(saved)) (mpirun -np \(Int(saved))), not \(size)")
    }
    var values: [String: SerializedValue] = [:]
    let mine = rankPrefix + "\(rank)/"
    for e in entries where !e.key.hasPrefix("_catenamn/") { values[e.key] = e.value }
    for e in entries where e.key.hasPrefix(mine) && e.key != rankPrefix + "\(rank)" + absentSuffix {
        values[String(e.key.dropFirst(mine.count))] = e.value
    }
    if let absent = entries.first(where: { $0.key == rankPrefix + "\(rank)" + absentSuffix }) {
        guard case .string(let list) = absent.value else { throw SerializationError("\(path): key '\(absent.key)' is not a list of keys") }
        for key in list.split(separator: "\n") { values[String(key)] = nil }
    }
    try DictionaryDeserializer.load(object, from: values, strict: true, source: path)
}
