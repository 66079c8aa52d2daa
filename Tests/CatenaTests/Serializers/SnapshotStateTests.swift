import Foundation
import XCTest

@testable import Catena
import CatenaModels

/// Loading a snapshot checks what it loads: recurrent state against the model, optimizer state keys as Chainer
/// does, counters within range and consistent, extensions that come and go; and autoload never starts afresh over
/// a run it could not read.
final class SnapshotStateTests: TemporaryDirectoryTestCase {
    private func entries(_ object: Serializable) throws -> [String: SerializedValue] {
        Dictionary(uniqueKeysWithValues: try DictionarySerializer.serialize(object).map { ($0.key, $0.value) })
    }

    // MARK: - Recurrent state

    func testAnRNNStateOfAnotherBatchSizeOrWidthIsRefusedNamingTheKeyAndShapes() throws {
        let saved = LSTM(3, 4, rng: RandomState(seed: 1))
        saved.serializesState = true
        _ = saved(Variable(testArray([5, 3])))
        let values = try entries(saved)
        XCTAssertEqual(values["h"].flatMap { if case .array(let a) = $0 { a.shape } else { nil } }, [5, 4])

        // A link already holding a state of batch 2 refuses the batch-5 state, and keeps its own.
        let target = LSTM(3, 4, rng: RandomState(seed: 1))
        target.serializesState = true
        _ = target(Variable(testArray([2, 3])))
        let before = target.h!.array
        assertSerializationError(["key 'c'", "[5, 4]", "[2, 4]", "another batch size", "resetState()"]) {
            try DictionaryDeserializer.load(target, from: values)
        }
        XCTAssertEqual(SerializedValue.array(target.h!.array), .array(before))
        // A fresh link takes it (its batch is not known yet).
        let fresh = LSTM(3, 4, rng: RandomState(seed: 1))
        fresh.serializesState = true
        try DictionaryDeserializer.load(fresh, from: values)
        XCTAssertEqual(fresh.c?.shape, [5, 4])
        // A state of the wrong width is refused even then.
        var wide = values
        wide["h"] = .array(NDArray.zeros([5, 6]))
        wide["c"] = .array(NDArray.zeros([5, 6]))
        assertSerializationError(["key 'c'", "4 units", "[5, 6]"]) { try DictionaryDeserializer.load(fresh, from: wide) }
        var uneven = values
        uneven["h"] = .array(NDArray.zeros([3, 4]))
        let other = LSTM(3, 4, rng: RandomState(seed: 1))
        other.serializesState = true
        assertSerializationError(["different shapes", "[5, 4]", "[3, 4]"]) { try DictionaryDeserializer.load(other, from: uneven) }
        // Opting in drops the mismatched state instead, and the link starts afresh.
        target.discardsMismatchedState = true
        try DictionaryDeserializer.load(target, from: values)
        XCTAssertNil(target.h)
        XCTAssertNil(target.c)

        for link: any StatefulRNN in [SimpleRNN(3, 4), GRU(3, 4)] {
            link.serializesState = true
            _ = link(Variable(testArray([2, 3])))
            var bad = try entries(link)
            bad["h"] = .array(NDArray.zeros([2, 7]))
            assertSerializationError(["key 'h'", "4 units", "[2, 7]"]) { try DictionaryDeserializer.load(link, from: bad) }
        }
    }

    /// A truncated-BPTT run resumed with another batch size: refused when the snapshot is loaded, naming the link,
    /// rather than stopping at the first step.
    func testAResumeWithAnotherBatchSizeIsRefusedAtLoadTime() throws {
        func lmTrainer(batch: Int, discard: Bool = false) -> (Trainer, RNNLanguageModel) {
            let lm = RNNLanguageModel(vocabularySize: 10, units: 6, cell: .lstm, rng: RandomState(seed: 2))
            lm.serializesState = true
            lm.discardsMismatchedState = discard
            let optimizer = Adam()
            optimizer.setup(Classifier(lm))
            let updater = BPTTUpdater(iterator: ParallelSequentialIterator(repeatCountSequence(length: 200), batchSize: batch), optimizer: optimizer, bpropLen: 5)
            return (Trainer(updater: updater, stopTrigger: IntervalTrigger(4, .iteration), out: tempDir()), lm)
        }
        let (first, _) = lmTrainer(batch: 4)
        try first.run()
        let values = try entries(first)
        for batch in [3, 5] {
            let (second, lm) = lmTrainer(batch: batch)
            assertSerializationError(["model:main/predictor/l1", "batch 4", "batches of \(batch)"]) { try DictionaryDeserializer.load(second, from: values) }
            XCTAssertNil(lm.stateBatchSize)
        }
        let (tolerant, lm) = lmTrainer(batch: 3, discard: true)
        try DictionaryDeserializer.load(tolerant, from: values)
        XCTAssertNil(lm.stateBatchSize, "dropped: the first step starts from a fresh state")
        let (same, sameLM) = lmTrainer(batch: 4)
        try DictionaryDeserializer.load(same, from: values)
        XCTAssertEqual(sameLM.stateBatchSize, 4)
    }

    // MARK: - Optimizer state

    private func trainer(_ optimizer: Optimizer, out: String, stopAt: Int = 4) -> Trainer {
        let model = Classifier(Linear(2, 2, rng: RandomState(seed: 4)))
        optimizer.setup(model)
        let data = TupleDataset(testArray([6, 2]), NDArray(values: [Int32](arrayLiteral: 0, 1, 1, 0, 1, 0), shape: [6]))
        let updater = StandardUpdater(iterator: SerialIterator(data, batchSize: 2, rng: RandomState(seed: 3)), optimizer: optimizer)
        return Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(stopAt), .iteration), out: out)
    }

    func testAnSGDSnapshotIsRefusedByAdamAsChainerDoes() throws {
        let sgd = trainer(SGD(lr: 0.1), out: tempDir())
        try sgd.run()
        let values = try entries(sgd)
        let adam = trainer(Adam(), out: tempDir())
        assertSerializationError(["missing key 'updater/optimizer:main/predictor/W/m'"]) { try DictionaryDeserializer.load(adam, from: values) }
        // Without strictness (as Chainer's strict=False) the moments stay unset and are created on the first update.
        try DictionaryDeserializer.load(adam, from: values, strict: false)
        // An Adam snapshot into SGD has keys SGD does not use.
        let adamRun = trainer(Adam(), out: tempDir())
        try adamRun.run()
        assertSerializationError(["unexpected key", "/m"]) { try DictionaryDeserializer.load(trainer(SGD(), out: tempDir()), from: try entries(adamRun)) }
        // Before the first update the state is saved as None, and loads back as unset.
        let untouched = trainer(Adam(), out: tempDir())
        let early = try entries(untouched)
        XCTAssertEqual(early["updater/optimizer:main/predictor/W/m"], SerializedValue.none)
        try DictionaryDeserializer.load(trainer(Adam(), out: tempDir()), from: early)
        // Into an optimizer that has state, such a snapshot unsets it (Chainer's loader sets each state array to
        // None), and the next update creates it afresh.
        let trained = trainer(Adam(), out: tempDir())
        try trained.run()
        let adamOptimizer = trained.updater.optimizers[0].optimizer
        XCTAssertFalse(adamOptimizer.target!.params().allSatisfy { $0.updateRule!.state.isEmpty })
        try DictionaryDeserializer.load(trained, from: early)
        XCTAssertTrue(adamOptimizer.target!.params().allSatisfy { $0.updateRule!.state.isEmpty })
        try trained.updater.update()
        XCTAssertTrue(adamOptimizer.target!.params().allSatisfy { $0.updateRule!.state.keys.sorted() == ["m", "v"] })
    }

    // MARK: - Counters

    func testCountersOutOfRangeOrInconsistentAreRefused() throws {
        let t = trainer(SGD(lr: 0.1), out: tempDir())
        try t.run()
        let good = try entries(t)
        func refused(_ key: String, _ value: Int64, _ fragments: [String], line: UInt = #line) {
            var bad = good
            bad[key] = .array(NDArray(values: [value], shape: []))
            let target = trainer(SGD(lr: 0.1), out: tempDir())
            assertSerializationError(fragments, line: line) { try DictionaryDeserializer.load(target, from: bad) }
            XCTAssertEqual(target.updater.iteration, 0, line: line)
        }
        refused("updater/iteration", Int64.max, ["'iteration'", "outside 0...9007199254740992"])
        refused("updater/iteration", -1, ["'iteration'", "-1 is outside"])
        // In range but not what the iterator read (4 batches): a snapshot that would end the run at once.
        refused("updater/iteration", 1 << 40, ["iteration 1099511627776", "has read 4 batches", "inconsistent"])
        refused("updater/optimizer:main/t", -5, ["'t'", "-5 is outside"])
        refused("updater/optimizer:main/predictor/W/t", Int64.min, ["'t'", "outside"])
        refused("updater/iterator:main/current_position", 7, ["'current_position'", "7 is outside 0...6"])
        refused("stop_trigger/previous_iteration", -1, ["previous_iteration"])
        var zeroRNG = good
        zeroRNG["_global_rng/state"] = .array(NDArray(values: [Int64](repeating: 0, count: 6), shape: [6]))
        assertSerializationError(["all-zero generator state"]) { try DictionaryDeserializer.load(trainer(SGD(), out: tempDir()), from: zeroRNG) }
        var time = good
        time["_snapshot_elapsed_time"] = .array(NDArray(values: [-Double.infinity], shape: []))
        assertSerializationError(["_snapshot_elapsed_time"]) { try DictionaryDeserializer.load(trainer(SGD(), out: tempDir()), from: time) }
        // The good snapshot itself loads.
        let target = trainer(SGD(lr: 0.1), out: tempDir())
        try DictionaryDeserializer.load(target, from: good)
        XCTAssertEqual(target.updater.iteration, 4)
    }

    func testAParallelSequentialIteratorChecksItsEpochAgainstItsPosition() throws {
        let it = ParallelSequentialIterator(Array(Int32(0)..<100), batchSize: 10)
        for _ in 0..<25 { _ = it.next() }
        var values = try entries(it)
        XCTAssertEqual(values["epoch"], .array(NDArray(values: [Int64(2)], shape: [])))
        values["epoch"] = .array(NDArray(values: [Int64(7)], shape: []))
        assertSerializationError(["'epoch'", "7 does not match iteration 25"]) {
            try DictionaryDeserializer.load(ParallelSequentialIterator(Array(Int32(0)..<100), batchSize: 10), from: values)
        }
        values["iteration"] = .array(NDArray(values: [Int64.max / 2], shape: []))
        assertSerializationError(["'iteration'", "outside"]) {
            try DictionaryDeserializer.load(ParallelSequentialIterator(Array(Int32(0)..<100), batchSize: 10), from: values)
        }
    }

    // MARK: - Extensions that come and go

    func testAResumeMayHaveOneExtensionFewerOrOneMore() throws {
        let out = tempDir()
        let first = trainer(SGD(lr: 0.1), out: out)
        first.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
        first.extend(ProgressBar(out: TextSink(isTerminal: false) { _ in }))
        try first.run()
        let values = try entries(first)
        XCTAssertTrue(values.keys.contains { $0.hasPrefix("extension_triggers/ProgressBar/") })
        // --quiet: no progress bar; its saved trigger state is left unused.
        let quiet = trainer(SGD(lr: 0.1), out: out, stopAt: 6)
        quiet.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
        try DictionaryDeserializer.load(quiet, from: values)
        try quiet.run()
        XCTAssertEqual((quiet.getExtension("LogReport") as! LogReport).log.count, 6, "the restored log continues")
        // The other way round: an extension the snapshot does not have starts afresh.
        let louder = trainer(SGD(lr: 0.1), out: out, stopAt: 6)
        louder.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
        louder.extend(ProgressBar(out: TextSink(isTerminal: false) { _ in }))
        louder.extend(ExponentialShift("lr", rate: 0.5))
        try DictionaryDeserializer.load(louder, from: values)
        XCTAssertEqual(louder.updater.iteration, 4)
        // A missing key inside an extension that is in the snapshot is still an error.
        var damaged = values
        damaged["extensions/LogReport/_log"] = nil
        let strict = trainer(SGD(lr: 0.1), out: out)
        strict.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
        assertSerializationError(["missing key 'extensions/LogReport/_log'"]) { try DictionaryDeserializer.load(strict, from: damaged) }
    }

    // MARK: - Autoload and leftovers

    func testAutoloadNeverStartsAfreshOverSnapshotsItCannotReadAndNRetainsKeepsThem() throws {
        let out = tempDir()
        let first = trainer(SGD(lr: 0.1), out: out)
        first.extend(snapshot(), trigger: IntervalTrigger(2, .iteration))
        try first.run()
        // Every snapshot damaged: autoload throws instead of training over them from scratch.
        for name in ["snapshot_iter_2", "snapshot_iter_4"] {
            let bytes = Array(FileManager.default.contents(atPath: out + "/" + name)!)
            try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: out + "/" + name))
        }
        let second = trainer(SGD(lr: 0.1), out: out, stopAt: 8)
        second.extend(snapshot(autoload: true), trigger: IntervalTrigger(2, .iteration))
        XCTAssertThrowsError(try second.run()) { error in
            XCTAssertTrue("\(error)".contains("none of the 2 snapshots"), "\(error)")
        }
        XCTAssertEqual(second.updater.iteration, 0)

        // The newest damaged, an older one good: resume from the older one; nRetains never deletes the damaged one.
        let dir = tempDir()
        let run = trainer(SGD(lr: 0.1), out: dir)
        run.extend(snapshot(), trigger: IntervalTrigger(1, .iteration))
        try run.run()
        let newest = dir + "/snapshot_iter_4"
        let bytes = Array(FileManager.default.contents(atPath: newest)!)
        try Data(bytes.prefix(50)).write(to: URL(fileURLWithPath: newest))
        let resumed = trainer(SGD(lr: 0.1), out: dir, stopAt: 7)
        let ext = snapshot(nRetains: 1, autoload: true)
        resumed.extend(ext, trigger: IntervalTrigger(1, .iteration))
        try resumed.run()
        XCTAssertEqual(ext.autoloaded, dir + "/snapshot_iter_3")
        XCTAssertEqual(ext.unreadable, ["snapshot_iter_4"])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(files, ["snapshot_iter_4", "snapshot_iter_7"], "the unreadable snapshot is kept; of the others, the newest")
    }

    func testLeftoverTemporaryFilesOfDeadProcessesAreRemovedWhenTrainingStarts() throws {
        let out = tempDir()
        let dead = out + "/.tmp-snapshot_iter_8-2147483646-12345"
        let live = out + "/.tmp-snapshot_iter_9-\(getpid())-999"
        let other = out + "/.tmp-notes"
        for f in [dead, live, other] { _ = FileManager.default.createFile(atPath: f, contents: Data([1, 2, 3])) }
        try trainer(SGD(lr: 0.1), out: out, stopAt: 1).run()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "a live process may still be writing it")
        XCTAssertTrue(FileManager.default.fileExists(atPath: other), "not a file Catena made")
    }
}
