// The reporting, snapshot and resume set-up shared by the bundled examples.
import Catena
import Foundation

/// One SVG chart of a trainer's reports.
public struct Plot {
    public let keys: [String]
    public let filename: String
    public let scale: PlotScale
    public init(_ keys: [String], _ filename: String, scale: PlotScale = .linear) {
        self.keys = keys
        self.filename = filename
        self.scale = scale
    }
}

/// Adds what every example shows: a `LogReport` (written to `out/log`) made every `logEvery`, a `PrintReport`
/// table of `entries`, a `ProgressBar` unless `quiet`, the `plots` (x axis `xKey`, a point every `logEvery`), a
/// trainer snapshot every `snapshotEvery`, and `FailOnNonNumber`, so that a diverging run stops with a message
/// and a non-zero status instead of training on NaN. (Each extension gets its own trigger: a trigger keeps state,
/// so one instance shared by two extensions would fire for only one of them.)
public func addReporting(_ trainer: Trainer, entries: [String], plots: [Plot], xKey: String, logEvery: @escaping () -> Trigger,
                         snapshotEvery: (Double, TriggerUnit), quiet: Bool, progressInterval: Int) {
    trainer.extend(FailOnNonNumber())
    trainer.extend(LogReport(trigger: logEvery()))
    trainer.extend(PrintReport(entries))
    if !quiet { trainer.extend(ProgressBar(updateInterval: progressInterval)) }
    for p in plots {
        trainer.extend(PlotReport(p.keys, xKey: xKey, trigger: logEvery(), filename: p.filename, yScale: p.scale))
    }
    trainer.extend(snapshot(), trigger: IntervalTrigger(snapshotEvery.0, snapshotEvery.1))
}

/// Fires every `iterations` iterations and at the end of every epoch, so that a log made every N iterations also
/// has a row with each epoch's evaluation (which an ``Evaluator`` reports when the epoch ends).
public final class IterationsOrEpochTrigger: Trigger {
    private let interval: IntervalTrigger
    public init(_ iterations: Int) { interval = IntervalTrigger(Double(iterations), .iteration) }
    public func callAsFunction(_ trainer: Trainer) -> Bool {
        let due = interval(trainer)
        return due || trainer.updater.isNewEpoch
    }
    public func serialize(_ s: Serializer) throws { try interval.serialize(s) }
}

/// The last value of `key` in the trainer's log, if any.
public func lastLogged(_ trainer: Trainer, _ key: String) -> Double? {
    (trainer.getExtension("LogReport") as? LogReport)?.log.last { $0[key] != nil }?[key]
}

/// Loads a trainer snapshot (if `path` is given) and says where the run continues.
public func resume(_ trainer: Trainer, from path: String?) throws {
    guard let path else { return }
    try loadNPZ(path, into: trainer)
    print("Resumed from \(path) at iteration \(trainer.updater.iteration) (epoch \(String(format: "%.2f", trainer.updater.epochDetail))).")
}

/// The loss the run stopped at would not be worth reporting if it is not a number; FailOnNonNumber only looks at
/// parameters, so the examples also check the log's last loss.
public func requireFiniteLog(_ trainer: Trainer, _ keys: [String]) throws {
    guard let row = (trainer.getExtension("LogReport") as? LogReport)?.log.last else { return }
    for k in keys {
        if let v = row[k], !v.isFinite { throw TrainingError("\(k) became \(v) (at iteration \(trainer.updater.iteration)); lower the learning rate") }
    }
}

/// MNIST or Fashion-MNIST as the examples take them (`--fashion`, `--data DIR`), with a line saying which set
/// was read from where.
public func loadDigits(fashion: Bool, directory: String?, scale: Double, dtype: DType) throws -> (train: TupleDataset, test: TupleDataset, name: String) {
    let (name, key) = fashion ? ("Fashion-MNIST", "fashion-mnist") : ("MNIST", "mnist")
    let (train, test) = fashion
        ? try getFashionMnist(scale: scale, dtype: dtype, directory: directory)
        : try getMnist(scale: scale, dtype: dtype, directory: directory)
    let dir = DatasetLocation.find(key, directory: directory) ?? directory ?? "?"
    print("\(name) from \(dir): \(train.count) training and \(test.count) test images.")
    return (train, test, name)
}

/// The first `count` examples of `dataset` (all when `count` is 0 or more than there are).
public func firstExamples(_ dataset: TupleDataset, _ count: Int) -> TupleDataset {
    guard count > 0, count < dataset.count else { return dataset }
    return TupleDataset(arrays: dataset.arrays.map { $0[0..<count].contiguous() })
}
