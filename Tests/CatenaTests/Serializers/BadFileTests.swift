import Foundation
import XCTest

@testable import Catena

/// Every way a file can be wrong throws an error naming the file, the key and what differed, and leaves the object
/// it was loaded into exactly as it was: parameters, optimizer state, iterator position, log.
final class BadFileTests: TemporaryDirectoryTestCase {
    final class MLP: Chain, UnaryLink {
        let l1: Linear
        let l2: Linear
        init(seed: UInt64) {
            let rng = RandomState(seed: seed)
            l1 = Linear(3, 4, rng: rng)
            l2 = Linear(4, 2, rng: rng)
            super.init()
        }
        func callAsFunction(_ x: Variable) -> Variable { l2(F.tanh(l1(x))) }
    }

    private struct Setup {
        let trainer: Trainer
        let model: Classifier
        let optimizer: Adam
    }

    /// A trainer two updates in (so the optimizer has state), built from `seed`.
    private func makeTrainer(seed: UInt64, out: String) throws -> Setup {
        let model = Classifier(MLP(seed: seed))
        let optimizer = Adam(alpha: 0.01)
        optimizer.setup(model)
        let x = testArray([8, 3], offset: Double(seed))
        let t = NDArray(values: (0..<8).map { Int32($0 % 2) }, shape: [8])
        let iterator = SerialIterator(TupleDataset(x, t), batchSize: 3, shuffle: true, rng: RandomState(seed: seed))
        let trainer = Trainer(updater: StandardUpdater(iterator: iterator, optimizer: optimizer),
                              stopTrigger: IntervalTrigger(10, .iteration), out: out)
        trainer.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
        try trainer.updater.update()
        try trainer.updater.update()
        return Setup(trainer: trainer, model: model, optimizer: optimizer)
    }

    /// A good snapshot's entries (from a trainer built with another seed, so that loading it would change values).
    private func goodEntries(_ dir: String) throws -> [(key: String, value: SerializedValue)] {
        let other = try makeTrainer(seed: 9, out: dir)
        try other.trainer.updater.update()
        return try DictionarySerializer.serialize(other.trainer)
    }

    /// Loads `file` into a fresh trainer and checks the error names `fragments`, then that nothing changed.
    private func assertRejected(_ file: String, _ fragments: [String], strict: Bool = true, line: UInt = #line) throws {
        let target = try makeTrainer(seed: 1, out: dirs.make("target"))
        let before = try DictionarySerializer.serialize(target.trainer)
        let paramsBefore = target.model.namedParams().map { ($0.path, $0.param.array) }
        let message = assertSerializationError([file] + fragments, line: line) {
            try loadNPZ(file, into: target.trainer, strict: strict)
        }
        let after = try DictionarySerializer.serialize(target.trainer)
        XCTAssertEqual(after.map(\.key), before.map(\.key), "the same keys after the failed load", line: line)
        for (a, b) in zip(before, after) { XCTAssertEqual(a.value, b.value, "\(a.key) unchanged after: \(message ?? "")", line: line) }
        for ((path, array), p) in zip(paramsBefore, target.model.namedParams()) {
            XCTAssertEqual(SerializedValue.array(p.param.array), .array(array), "\(path) unchanged", line: line)
        }
        XCTAssertEqual(target.trainer.updater.iteration, 2, line: line)
        XCTAssertEqual(target.optimizer.t, 2, line: line)
    }

    func testAGoodFileLoadsIntoTheSameTarget() throws {
        // The control for the cases below: the unmodified entries load, and change the target.
        let dir = dirs.make("good")
        let file = dir + "/good.npz"
        try writeNPZ(file, try goodEntries(dir))
        let target = try makeTrainer(seed: 1, out: dirs.make("target"))
        try loadNPZ(file, into: target.trainer)
        XCTAssertEqual(target.trainer.updater.iteration, 3)
        XCTAssertEqual(target.optimizer.t, 3)
        let stored = try npzDictionary(file)
        XCTAssertEqual(SerializedValue.array((target.model.predictor as! MLP).l1.W.array), stored["updater/model:main/predictor/l1/W"])
    }

    func testMissingKey() throws {
        let dir = dirs.make("missing")
        let file = dir + "/f.npz"
        try writeNPZ(file, try goodEntries(dir).filter { $0.key != "updater/optimizer:main/predictor/l2/W/v" })
        try assertRejected(file, ["missing key", "updater/optimizer:main/predictor/l2/W/v"])
    }

    func testUnexpectedKeyUnderStrictButNotOtherwise() throws {
        let dir = dirs.make("unexpected")
        let file = dir + "/f.npz"
        try writeNPZ(file, try goodEntries(dir) + [(key: "updater/model:main/predictor/l3/W", value: .array(NDArray.zeros([2, 2])))])
        try assertRejected(file, ["unexpected key", "updater/model:main/predictor/l3/W"])
        let target = try makeTrainer(seed: 1, out: dirs.make("target"))
        try loadNPZ(file, into: target.trainer, strict: false)
        XCTAssertEqual(target.trainer.updater.iteration, 3)
    }

    func testShapeMismatch() throws {
        let dir = dirs.make("shape")
        let file = dir + "/f.npz"
        let entries = try goodEntries(dir).map { e in
            e.key == "updater/model:main/predictor/l2/W" ? (key: e.key, value: SerializedValue.array(NDArray.zeros([2, 5]))) : e
        }
        try writeNPZ(file, entries)
        try assertRejected(file, ["updater/model:main/predictor/l2/W", "[2, 5]", "[2, 4]"])
    }

    func testDTypeMismatch() throws {
        let dir = dirs.make("dtype")
        let file = dir + "/f.npz"
        let entries = try goodEntries(dir).map { e in
            e.key == "updater/optimizer:main/predictor/l1/b/m" ? (key: e.key, value: SerializedValue.array(NDArray.zeros([4], dtype: .float64))) : e
        }
        try writeNPZ(file, entries)
        try assertRejected(file, ["updater/optimizer:main/predictor/l1/b/m", "float64", "float32"])
    }

    func testAStringWhereANumberBelongs() throws {
        let dir = dirs.make("kind")
        let file = dir + "/f.npz"
        let entries = try goodEntries(dir).map { e in e.key == "updater/iteration" ? (key: e.key, value: SerializedValue.string("three")) : e }
        try writeNPZ(file, entries)
        try assertRejected(file, ["updater/iteration", "expected an integer", "a string"])
    }

    func testTruncatedArchive() throws {
        let dir = dirs.make("truncated")
        let good = dir + "/good.npz"
        try writeNPZ(good, try goodEntries(dir))
        let bytes = Array(FileManager.default.contents(atPath: good)!)
        for keep in [bytes.count - 1, bytes.count / 2, 100, 3] {
            let file = dir + "/cut\(keep).npz"
            try Data(bytes.prefix(keep)).write(to: URL(fileURLWithPath: file))
            try assertRejected(file, [keep == 3 ? "not a zip archive" : "truncated"])
        }
    }

    /// One flipped bit inside an entry's data, stored and deflated.
    func testDamagedDataFailsTheCRCCheck() throws {
        let dir = dirs.make("crc")
        for compression in [false, true] {
            let good = dir + "/good-\(compression).npz"
            try writeNPZ(good, try goodEntries(dir), compression: compression)
            var bytes = Array(FileManager.default.contents(atPath: good)!)
            // The first entry: its data starts after the 30-byte local header, the name and the extra field.
            let nameLength = Int(bytes[26]) | Int(bytes[27]) << 8, extraLength = Int(bytes[28]) | Int(bytes[29]) << 8
            let size = Int(bytes[18]) | Int(bytes[19]) << 8 | Int(bytes[20]) << 16 | Int(bytes[21]) << 24
            let name = String(decoding: bytes[30..<(30 + nameLength)], as: UTF8.self)
            bytes[30 + nameLength + extraLength + size - 2] ^= 0x10
            let file = dir + "/flipped-\(compression).npz"
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            let message = assertSerializationError([file, name]) { _ = try readNPZ(file) }
            XCTAssertTrue(message.map { $0.contains("CRC-32") || $0.contains("damaged") } ?? false, message ?? "")
            if !compression { XCTAssertTrue(message?.contains("CRC-32") ?? false, message ?? "") }
            try assertRejected(file, [name])
        }
    }

    func testNotAZipFileAnEmptyFileAndNoFile() throws {
        let dir = dirs.make("notzip")
        try Data("these are not the bytes of a zip archive\n".utf8).write(to: URL(fileURLWithPath: dir + "/text.npz"))
        try assertRejected(dir + "/text.npz", ["not a zip archive"])
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.npz"))
        try assertRejected(dir + "/empty.npz", ["not a zip archive"])
        try assertRejected(dir + "/absent.npz", ["no such file"])
        try assertRejected(dir, ["cannot read it", "directory"])
    }

    /// An `.npy` entry whose header promises more (or fewer) elements than its data holds.
    func testAnNPYHeaderThatLiesAboutItsSize() throws {
        let dir = dirs.make("lying")
        for (fake, label) in [("(5,)", "more"), ("(2,)", "fewer")] {
            var zipEntries: [Zip.Entry] = []
            for e in try goodEntries(dir) {
                var npy = NPY.encode(e.value)
                if e.key == "updater/model:main/predictor/l2/b" {
                    let header = String(decoding: npy, as: UTF8.self)
                    XCTAssertTrue(header.contains("'shape': (2,)"))
                    let bodyStart = npy.firstIndex(of: 0x0A)! + 1
                    var text = String(decoding: npy[10..<bodyStart], as: UTF8.self)
                    text = text.replacingOccurrences(of: "(2,)", with: fake)
                    npy = Array(npy[0..<10]) + Array(text.utf8) + Array(npy[bodyStart...])
                    if fake == "(2,)" { npy.append(contentsOf: [0, 0, 0, 0]) }   // 3 floats behind a header of 2
                }
                zipEntries.append(Zip.Entry(name: e.key + ".npy", data: npy))
            }
            let file = dir + "/\(label).npz"
            try Data(Zip.write(zipEntries, compress: true)).write(to: URL(fileURLWithPath: file))
            try assertRejected(file, ["updater/model:main/predictor/l2/b", "the header promises"])
        }
    }

    /// A bad file named on the command line of `loadNPZ` into a bare model (not a trainer) leaves the model alone
    /// too, including a lazy parameter that has not been initialised yet.
    func testAFailedLoadLeavesALazyModelUninitialised() throws {
        final class Lazy: Chain, UnaryLink {
            let l1 = Linear(nil, 3)
            let l2 = Linear(3, 2)
            func callAsFunction(_ x: Variable) -> Variable { l2(l1(x)) }
        }
        let dir = dirs.make("lazy")
        let file = dir + "/f.npz"
        try writeNPZ(file, [(key: "l1/W", value: .array(testArray([3, 7]))), (key: "l1/b", value: .array(testArray([3]))),
                            (key: "l2/W", value: .array(testArray([2, 4]))), (key: "l2/b", value: .array(testArray([2])))])
        let model = Lazy()
        let l2Before = model.l2.W.array
        assertSerializationError([file, "l2/W", "[2, 4]", "[2, 3]"]) { try loadNPZ(file, into: model) }
        XCTAssertFalse(model.l1.W.isInitialized, "the lazy W is still waiting for its first input")
        XCTAssertEqual(SerializedValue.array(model.l2.W.array), .array(l2Before))
    }
}
