import Foundation

/// Saves the trainer (or another object) as an `.npz` file (Chainer's `snapshot` / `snapshot_object`).
///
/// The file name is a pattern: `{iteration}` and `{epoch}` (or Chainer's `{.updater.iteration}` and
/// `{.updater.epoch}`) are replaced by the updater's values. Files are written to a temporary name, flushed and
/// renamed, so a crash or Ctrl-C never leaves a broken snapshot in place of a good one. With `nRetains`, only that
/// many of the newest snapshots are kept. With `autoload`, the newest snapshot in the output directory is restored
/// before training starts (and before any other extension initialises, so schedules resume where they were).
///
/// If the newest snapshot cannot be loaded (damaged, or made by a different model), autoload says so on standard
/// error and loads the newest one that can; if none can, it throws rather than start afresh over an old run. A
/// snapshot that failed to load is never deleted by `nRetains`, so one damaged file cannot cost the run's history.
///
/// A trainer snapshot holds everything needed to continue bit for bit: the model, the optimizer's state, the
/// iterator's position and order, every random generator the training uses, extension and trigger states, and the
/// log.
public final class Snapshot: Extension {
    /// The file name pattern, relative to the trainer's output directory (`snapshot_iter_{iteration}` by default).
    public let filename: String
    /// The object saved; nil saves the trainer itself.
    public let target: Serializable?
    /// How many of the newest snapshots to keep; zero or negative (the default, -1) keeps them all.
    public let nRetains: Int
    /// Whether to restore the newest loadable snapshot in the output directory before training starts.
    public let autoload: Bool
    /// Whether the `.npz` entries are deflated, as by `numpy.savez_compressed` (on by default).
    public let compression: Bool
    /// Whether to save a snapshot, best effort, when training stops with an error.
    public let snapshotOnError: Bool
    /// An extra test made each time the trigger fires; the snapshot is skipped when it returns false.
    public let condition: ((Trainer) -> Bool)?
    /// The file loaded by `autoload`, if any.
    public private(set) var autoloaded: String?
    /// Snapshots that `autoload` could not read: kept, and not counted by `nRetains`.
    public private(set) var unreadable: Set<String> = []

    /// A snapshot extension, triggered every epoch unless given another trigger (Chainer's `snapshot` with its
    /// `target`, `condition` and `snapshot_on_error`).
    /// - Parameters:
    ///   - target: the object to save; nil saves the trainer.
    ///   - filename: the file name pattern, with `{iteration}` and `{epoch}` replaced.
    ///   - nRetains: how many of the newest snapshots to keep (all when not positive).
    ///   - autoload: restore the newest loadable snapshot before training starts.
    ///   - compression: deflate the `.npz` entries.
    ///   - snapshotOnError: also save when training stops with an error.
    ///   - condition: save only when this returns true.
    public init(target: Serializable? = nil, filename: String = "snapshot_iter_{iteration}", nRetains: Int = -1,
                autoload: Bool = false, compression: Bool = true, snapshotOnError: Bool = false, condition: ((Trainer) -> Bool)? = nil) {
        self.target = target
        self.filename = filename
        self.nRetains = nRetains
        self.autoload = autoload
        self.compression = compression
        self.snapshotOnError = snapshotOnError
        self.condition = condition
    }

    public override var defaultName: String { "_Snapshot" }
    public override func makeDefaultTrigger() -> Trigger { IntervalTrigger(1, .epoch) }
    public override var defaultPriority: Int { -100 }
    override public var initializesFirst: Bool { autoload }

    /// The file name for the trainer's current state.
    public func name(for trainer: Trainer) -> String {
        var n = filename
        for (token, value) in [("{.updater.iteration}", trainer.updater.iteration), ("{iteration}", trainer.updater.iteration),
                               ("{.updater.epoch}", trainer.updater.epoch), ("{epoch}", trainer.updater.epoch)] {
            n = n.replacingOccurrences(of: token, with: String(value))
        }
        return n
    }

    public override func callAsFunction(_ trainer: Trainer) throws {
        if let condition, !condition(trainer) { return }
        try save(trainer)
    }

    private func save(_ trainer: Trainer) throws {
        let path = trainer.out + "/" + name(for: trainer)
        try saveNPZ(path, target ?? trainer, compression: compression)
        if nRetains > 0 {
            let old = candidates(in: trainer.out).filter { !unreadable.contains($0.name) }
            for f in old.dropLast(nRetains) { try? FileManager.default.removeItem(atPath: trainer.out + "/" + f.name) }
        }
    }

    /// The files in `dir` that match the file name pattern, oldest first (by modification time, then name): the
    /// snapshots `autoload` chooses from, newest first, and `nRetains` prunes.
    public func candidates(in dir: String) -> [(name: String, date: Date)] {
        let prefix = String(filename.prefix { $0 != "{" })
        let suffix = filename.contains("}") ? String(filename[filename.index(after: filename.lastIndex(of: "}")!)...]) : ""
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) && $0.count >= prefix.count + suffix.count }
            .map { n in (name: n, date: (try? FileManager.default.attributesOfItem(atPath: dir + "/" + n)[.modificationDate] as? Date) ?? .distantPast) }
            .sorted { ($0.date, $0.name) < ($1.date, $1.name) }
    }

    public override func initialize(_ trainer: Trainer) throws {
        guard autoload else { return }
        var problems: [String] = []
        for c in candidates(in: trainer.out).reversed() {
            let path = trainer.out + "/" + c.name
            do {
                try loadNPZ(path, into: target ?? trainer)
                autoloaded = path
                if !problems.isEmpty { printWarning("snapshot: resumed from \(path), the newest snapshot that loads") }
                return
            } catch {
                unreadable.insert(c.name)
                problems.append("\(error)")
                printWarning("snapshot: cannot resume from \(path) (\(error)); trying an older one")
            }
        }
        if !problems.isEmpty {
            throw TrainingError("snapshot: none of the \(problems.count) snapshots in \(trainer.out) could be loaded, so the run does not start afresh over them; move them away or fix the trainer (\(problems.joined(separator: "; ")))")
        }
    }

    public override func onError(_ trainer: Trainer, _ error: Error) {
        if snapshotOnError { try? save(trainer) }
    }
}

/// A snapshot of the whole trainer every epoch (Chainer's `extensions.snapshot()`); resume from it with
/// `loadNPZ(file, into: trainer)` before `run()`, or with `autoload`.
public func snapshot(filename: String = "snapshot_iter_{iteration}", nRetains: Int = -1, autoload: Bool = false,
                     compression: Bool = true) -> Snapshot {
    Snapshot(filename: filename, nRetains: nRetains, autoload: autoload, compression: compression)
}

/// A snapshot of one object, such as the model alone (Chainer's `extensions.snapshot_object`).
public func snapshotObject(_ target: Serializable, filename: String, nRetains: Int = -1) -> Snapshot {
    Snapshot(target: target, filename: filename, nRetains: nRetains)
}
