import Catena
import CatenaModels
import Foundation
import XCTest

/// Training N iterations, snapshotting, and resuming into freshly built objects for N more must give the same bits
/// as 2N iterations uninterrupted: parameters, optimizer state and log (elapsed time aside).
final class ResumeTests: TemporaryDirectoryTestCase {
    // MARK: - The repeat-count model: BPTT over parallel streams, dropout, carried RNN state

    private struct RepeatCountRun {
        let trainer: Trainer
        let model: Classifier
        let rnn: RNNLanguageModel
        let optimizer: Optimizer
    }

    /// Builds the whole training set-up from `seed` (weights, dropout generator, global generator).
    private func makeRepeatCount(seed: UInt64, stopAt: Int, out: String, cell: RNNCellKind) -> RepeatCountRun {
        RandomState.global.seed(seed)
        let rnn = RNNLanguageModel(vocabularySize: 10, units: 8, cell: cell, dropout: 0.3, rng: RandomState(seed: seed))
        rnn.serializesState = true
        let model = Classifier(rnn)
        let optimizer = Adam(alpha: 0.01)
        optimizer.setup(model)
        optimizer.addHook(GradientClipping(threshold: 5))
        let iterator = ParallelSequentialIterator(repeatCountSequence(length: 200), batchSize: 4)
        let updater = BPTTUpdater(iterator: iterator, optimizer: optimizer, bpropLen: 5)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(stopAt), .iteration), out: out)
        trainer.extend(LogReport(trigger: IntervalTrigger(3, .iteration), filename: nil))
        trainer.extend(ExponentialShift("alpha", rate: 0.9), trigger: IntervalTrigger(4, .iteration))
        return RepeatCountRun(trainer: trainer, model: model, rnn: rnn, optimizer: optimizer)
    }

    func testRepeatCountLSTMWithDropoutResumesBitForBit() throws {
        try checkRepeatCountResume(cell: .lstm)
    }

    func testRepeatCountGRUResumesBitForBit() throws {
        try checkRepeatCountResume(cell: .gru)
    }

    private func checkRepeatCountResume(cell: RNNCellKind) throws {
        let n = 7   // 7 iterations of 5 steps × 4 streams: crosses the 50-token epoch boundary of each stream
        let whole = makeRepeatCount(seed: 3, stopAt: 2 * n, out: tempDir(), cell: cell)
        try whole.trainer.run()

        let dir = tempDir()
        let first = makeRepeatCount(seed: 3, stopAt: n, out: dir, cell: cell)
        try first.trainer.run()
        let file = dir + "/snapshot"
        try saveNPZ(file, first.trainer)

        // Built from another seed: whatever the snapshot failed to restore would show up as a difference.
        let resumed = makeRepeatCount(seed: 99, stopAt: 2 * n, out: dir, cell: cell)
        try loadNPZ(file, into: resumed.trainer)
        XCTAssertEqual(resumed.trainer.updater.iteration, n)
        try resumed.trainer.run()

        XCTAssertEqual(resumed.trainer.updater.iteration, 2 * n)
        assertSameParameters(whole.model, resumed.model)
        assertSameOptimizerState(whole.optimizer, resumed.optimizer)
        assertSameLog(whole.trainer, resumed.trainer, rows: 2 * n / 3)
        XCTAssertEqual((whole.optimizer as! Adam).alpha, (resumed.optimizer as! Adam).alpha)
        XCTAssertEqual(whole.rnn.dropoutRNG.stateArray.toArray(as: Int64.self), resumed.rnn.dropoutRNG.stateArray.toArray(as: Int64.self))

        // And a sanity check that the comparison can fail: a run without the snapshot differs.
        let fresh = makeRepeatCount(seed: 99, stopAt: 2 * n, out: tempDir(), cell: cell)
        try fresh.trainer.run()
        XCTAssertNotEqual(flatParameters(whole.model), flatParameters(fresh.model))
    }

    func testWithoutSerializedStateTheResumedRunDiffers() throws {
        // The RNN state is opt-in: without it the resumed run starts its streams from zero state, so it cannot be
        // bit-identical. This guards against the comparison above passing for the wrong reason.
        let n = 4
        let whole = makeRepeatCount(seed: 5, stopAt: 2 * n, out: tempDir(), cell: .lstm)
        try whole.trainer.run()
        let dir = tempDir()
        let first = makeRepeatCount(seed: 5, stopAt: n, out: dir, cell: .lstm)
        first.rnn.serializesState = false
        try first.trainer.run()
        try saveNPZ(dir + "/snapshot", first.trainer)
        let resumed = makeRepeatCount(seed: 5, stopAt: 2 * n, out: dir, cell: .lstm)
        resumed.rnn.serializesState = false
        try loadNPZ(dir + "/snapshot", into: resumed.trainer)
        try resumed.trainer.run()
        XCTAssertNotEqual(flatParameters(whole.model), flatParameters(resumed.model))
    }

    // MARK: - A feed-forward model: shuffling SerialIterator, dropout from the global generator, momentum

    private final class DropoutMLP: Chain, UnaryLink {
        let l1: Linear
        let l2: Linear
        init(rng: RandomState) {
            l1 = Linear(nil, 12, rng: rng)     // lazy: initialized on the first batch
            l2 = Linear(12, 3, rng: rng)
            super.init()
        }
        func callAsFunction(_ x: Variable) -> Variable {
            l2(F.dropout(F.relu(l1(x)), ratio: 0.25))   // masks from RandomState.global
        }
    }

    private struct MLPRun {
        let trainer: Trainer
        let model: Classifier
        let optimizer: Optimizer
        let iterator: SerialIterator<TupleDataset>
    }

    private func makeMLP(seed: UInt64, stopAt: Int, out: String) -> MLPRun {
        // The data is the same in every run; only the generators come from `seed`.
        let data = RandomState(seed: 42)
        let x = data.normal(shape: [23, 5])
        let t = data.integers(0, 3, shape: [23], dtype: .int32)
        RandomState.global.seed(seed)
        let model = Classifier(DropoutMLP(rng: RandomState(seed: seed)))
        let optimizer = MomentumSGD(lr: 0.05)
        optimizer.setup(model)
        optimizer.addHook(WeightDecay(rate: 1e-3))
        let iterator = SerialIterator(TupleDataset(x, t), batchSize: 4, shuffle: true, rng: RandomState(seed: seed + 1))
        let updater = StandardUpdater(iterator: iterator, optimizer: optimizer)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(stopAt), .iteration), out: out)
        trainer.extend(LogReport(trigger: IntervalTrigger(2, .iteration), filename: nil))
        return MLPRun(trainer: trainer, model: model, optimizer: optimizer, iterator: iterator)
    }

    func testShufflingSerialIteratorWithGlobalDropoutResumesBitForBit() throws {
        let n = 9   // 23 examples in batches of 4: the first half ends inside the second epoch
        let whole = makeMLP(seed: 7, stopAt: 2 * n, out: tempDir())
        try whole.trainer.run()

        let dir = tempDir()
        let first = makeMLP(seed: 7, stopAt: n, out: dir)
        try first.trainer.run()
        XCTAssertEqual(first.iterator.epoch, 1)
        try saveNPZ(dir + "/snapshot", first.trainer)
        RandomState.global.seed(12345)   // whatever happens between the runs

        let resumed = makeMLP(seed: 8, stopAt: 2 * n, out: dir)
        try loadNPZ(dir + "/snapshot", into: resumed.trainer)
        XCTAssertEqual(resumed.iterator.epoch, 1)
        XCTAssertEqual(resumed.iterator.order, first.iterator.order)
        try resumed.trainer.run()

        assertSameParameters(whole.model, resumed.model)
        assertSameOptimizerState(whole.optimizer, resumed.optimizer)
        assertSameLog(whole.trainer, resumed.trainer, rows: n)
        XCTAssertEqual(whole.iterator.order, resumed.iterator.order)
        XCTAssertEqual(whole.iterator.epochDetail, resumed.iterator.epochDetail)
        XCTAssertEqual(whole.optimizer.epoch, resumed.optimizer.epoch)
        XCTAssertEqual(whole.optimizer.epoch, 3)   // 18 batches of 4 over 23 examples end the third epoch at 72 > 69
    }

    func testSnapshotExtensionAutoloadResumesWhereTheLastRunStopped() throws {
        let dir = tempDir()
        let whole = makeMLP(seed: 11, stopAt: 12, out: tempDir())
        try whole.trainer.run()

        let first = makeMLP(seed: 11, stopAt: 6, out: dir)
        first.trainer.extend(snapshot(autoload: true), trigger: IntervalTrigger(3, .iteration))
        try first.trainer.run()
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/snapshot_iter_6"))

        let second = makeMLP(seed: 0, stopAt: 12, out: dir)
        let ext = snapshot(autoload: true)
        second.trainer.extend(ext, trigger: IntervalTrigger(3, .iteration))
        try second.trainer.run()
        XCTAssertEqual(ext.autoloaded, dir + "/snapshot_iter_6")
        assertSameParameters(whole.model, second.model)
        assertSameLog(whole.trainer, second.trainer, rows: 6)
    }

    // MARK: - Comparisons

    private func flatParameters(_ link: Link) -> [String: [Double]] {
        Dictionary(uniqueKeysWithValues: link.namedParams().map { ($0.path, $0.param.array.toDoubles()) })
    }

    private func assertSameParameters(_ a: Link, _ b: Link, file: StaticString = #filePath, line: UInt = #line) {
        let pa = a.namedParams(), pb = b.namedParams()
        XCTAssertEqual(pa.map(\.path), pb.map(\.path), file: file, line: line)
        for (x, y) in zip(pa, pb) {
            XCTAssertEqual(x.param.shape, y.param.shape, x.path, file: file, line: line)
            XCTAssertEqual(x.param.array.toDoubles(), y.param.array.toDoubles(), "\(x.path) differs", file: file, line: line)
        }
    }

    private func assertSameOptimizerState(_ a: Optimizer, _ b: Optimizer, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.t, b.t, file: file, line: line)
        let pa = a.target!.namedParams(), pb = b.target!.namedParams()
        for (x, y) in zip(pa, pb) {
            let ra = x.param.updateRule!, rb = y.param.updateRule!
            XCTAssertEqual(ra.t, rb.t, x.path, file: file, line: line)
            XCTAssertFalse(ra.state.isEmpty, "\(x.path) has no optimizer state to compare", file: file, line: line)
            XCTAssertEqual(ra.state.keys.sorted(), rb.state.keys.sorted(), x.path, file: file, line: line)
            for (k, v) in ra.state {
                XCTAssertEqual(v.toDoubles(), rb.state[k]?.toDoubles(), "\(x.path)/\(k) differs", file: file, line: line)
            }
        }
    }

    private func assertSameLog(_ a: Trainer, _ b: Trainer, rows: Int, file: StaticString = #filePath, line: UInt = #line) {
        let la = (a.getExtension("LogReport") as! LogReport).log
        let lb = (b.getExtension("LogReport") as! LogReport).log
        XCTAssertEqual(la.count, rows, file: file, line: line)
        XCTAssertEqual(lb.count, rows, file: file, line: line)
        for (ra, rb) in zip(la, lb) {
            let ea = ra.items.filter { $0.key != "elapsed_time" }, eb = rb.items.filter { $0.key != "elapsed_time" }
            XCTAssertEqual(ea.map(\.key), eb.map(\.key), file: file, line: line)
            XCTAssertEqual(ea.map(\.value), eb.map(\.value), "log row at iteration \(ra["iteration"] ?? -1)", file: file, line: line)
        }
    }
}
