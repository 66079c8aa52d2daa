import Foundation
import XCTest

@testable import Catena

/// The `snapshot` and `snapshotObject` extensions: file names, nRetains, autoload, atomic writes.
final class SnapshotExtensionTests: TemporaryDirectoryTestCase {
    private func makeTrainer(stopAt: Int, out: String) -> (Trainer, Classifier) {
        let model = Classifier(Linear(2, 2, rng: RandomState(seed: 4)))
        let optimizer = MomentumSGD(lr: 0.1)
        optimizer.setup(model)
        let x = testArray([6, 2])
        let t = NDArray(values: [Int32](arrayLiteral: 0, 1, 1, 0, 1, 0), shape: [6])
        let updater = StandardUpdater(iterator: SerialIterator(TupleDataset(x, t), batchSize: 2, shuffle: true, rng: RandomState(seed: 8)),
                                      optimizer: optimizer)
        return (Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(stopAt), .iteration), out: out), model)
    }

    private func files(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    func testFileNamesAndNRetainsKeepTheNewestOnly() throws {
        let out = dirs.make("retain")
        let (trainer, _) = makeTrainer(stopAt: 7, out: out)
        trainer.extend(snapshot(nRetains: 2), trigger: IntervalTrigger(1, .iteration))
        trainer.extend(Snapshot(filename: "epoch_{epoch}_of_{.updater.iteration}.npz"), trigger: IntervalTrigger(3, .iteration))
        try trainer.run()
        // No temporary files are left behind, and only the two newest iteration snapshots remain.
        XCTAssertEqual(files(out), ["epoch_1_of_3.npz", "epoch_2_of_6.npz", "snapshot_iter_6", "snapshot_iter_7"])
        let keys = try readNPZ(out + "/snapshot_iter_7").map(\.key)
        XCTAssertTrue(keys.contains("updater/model:main/predictor/W"))
        XCTAssertEqual(try npzDictionary(out + "/snapshot_iter_7")["updater/iteration"], .array(NDArray(values: [Int64(7)], shape: [])))
    }

    func testSnapshotObjectWritesTheBareModelKeys() throws {
        let out = dirs.make("object")
        let (trainer, model) = makeTrainer(stopAt: 4, out: out)
        trainer.extend(snapshotObject(model, filename: "model_{iteration}"), trigger: IntervalTrigger(2, .iteration))
        try trainer.run()
        XCTAssertEqual(files(out), ["model_2", "model_4"])
        XCTAssertEqual(try readNPZ(out + "/model_4").map(\.key).sorted(), ["predictor/W", "predictor/b"])
        let copy = Classifier(Linear(2, 2, rng: RandomState(seed: 99)))
        try loadNPZ(out + "/model_4", into: copy)
        XCTAssertEqual(copy.namedParams().map { SerializedValue.array($0.param.array) }, model.namedParams().map { SerializedValue.array($0.param.array) })
    }

    /// Autoload restores the newest snapshot that loads, passing over a damaged newer one and a temporary file an
    /// interrupted save left behind, then training continues from there.
    func testAutoloadSkipsADamagedNewestSnapshotAndLeftoverTemporaryFiles() throws {
        let out = dirs.make("autoload")
        let (first, _) = makeTrainer(stopAt: 4, out: out)
        first.extend(snapshot(), trigger: IntervalTrigger(2, .iteration))
        try first.run()
        XCTAssertEqual(files(out), ["snapshot_iter_2", "snapshot_iter_4"])
        // The newest snapshot gets damaged; a newer one is half written under its temporary name.
        let good = Array(FileManager.default.contents(atPath: out + "/snapshot_iter_4")!)
        try Data(good.prefix(good.count / 2)).write(to: URL(fileURLWithPath: out + "/snapshot_iter_6"))
        try Data(good.prefix(100)).write(to: URL(fileURLWithPath: out + "/.tmp-snapshot_iter_8-123-456"))
        let future = Date().addingTimeInterval(60)
        try FileManager.default.setAttributes([.modificationDate: future], ofItemAtPath: out + "/snapshot_iter_6")

        let (second, _) = makeTrainer(stopAt: 5, out: out)
        let ext = snapshot(autoload: true)
        second.extend(ext, trigger: IntervalTrigger(100, .iteration))
        try second.run()
        XCTAssertEqual(ext.autoloaded, out + "/snapshot_iter_4")
        XCTAssertEqual(second.updater.iteration, 5, "one more update after the restored 4")
    }

    /// A resumed trainer equals an uninterrupted one (parameters, optimizer state, iterator order): the same check
    /// as ResumeTests, here through autoload rather than an explicit loadNPZ.
    func testAutoloadResumesToTheUninterruptedResult() throws {
        let (whole, wholeModel) = makeTrainer(stopAt: 8, out: dirs.make("whole"))
        try whole.run()
        let out = dirs.make("halves")
        let (first, _) = makeTrainer(stopAt: 4, out: out)
        first.extend(snapshot(autoload: true), trigger: IntervalTrigger(4, .iteration))
        try first.run()
        let (second, secondModel) = makeTrainer(stopAt: 8, out: out)
        second.extend(snapshot(autoload: true), trigger: IntervalTrigger(4, .iteration))
        try second.run()
        XCTAssertEqual(secondModel.namedParams().map { SerializedValue.array($0.param.array) }, wholeModel.namedParams().map { SerializedValue.array($0.param.array) })
        let a = try DictionarySerializer.serialize(whole.updater), b = try DictionarySerializer.serialize(second.updater)
        XCTAssertEqual(a.map(\.key), b.map(\.key))
        for (x, y) in zip(a, b) { XCTAssertEqual(x.value, y.value, x.key) }
    }

    /// A save that fails (here: a key saved twice) leaves the previous file as it was.
    func testAFailedSaveLeavesThePreviousFileIntact() throws {
        let dir = dirs.make("failed-save")
        let file = dir + "/state.npz"
        try writeNPZ(file, [(key: "a", value: .array(testArray([3])))])
        let before = FileManager.default.contents(atPath: file)
        assertSerializationError([file, "'b' is saved twice"]) {
            try writeNPZ(file, [(key: "b", value: .array(testArray([2]))), (key: "b", value: .array(testArray([2])))])
        }
        XCTAssertEqual(FileManager.default.contents(atPath: file), before)
        XCTAssertEqual(files(dir), ["state.npz"])
    }
}
