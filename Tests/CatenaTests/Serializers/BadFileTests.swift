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

    /// A trainer `updates` updates in (two by default, so the optimizer has state), built from `seed`.
    private func makeTrainer(seed: UInt64, out: String, updates: Int = 2) throws -> Setup {
        let model = Classifier(MLP(seed: seed))
        let optimizer = Adam(alpha: 0.01)
        optimizer.setup(model)
        let x = testArray([8, 3], offset: Double(seed))
        let t = NDArray(values: (0..<8).map { Int32($0 % 2) }, shape: [8])
        let iterator = SerialIterator(TupleDataset(x, t), batchSize: 3, shuffle: true, rng: RandomState(seed: seed))
        let trainer = Trainer(updater: StandardUpdater(iterator: iterator, optimizer: optimizer),
                              stopTrigger: IntervalTrigger(10, .iteration), out: out)
        trainer.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
        for _ in 0..<updates { try trainer.updater.update() }
        return Setup(trainer: trainer, model: model, optimizer: optimizer)
    }

    /// A good snapshot's entries (from a trainer built with another seed, so that loading it would change values).
    private func goodEntries(_ dir: String) throws -> [(key: String, value: SerializedValue)] {
        let other = try makeTrainer(seed: 9, out: dir)
        try other.trainer.updater.update()
        return try DictionarySerializer.serialize(other.trainer)
    }

    /// Loads `file` into a fresh trainer and checks the error names `fragments`, then that nothing changed.
    private func assertRejected(_ file: String, _ fragments: [String], strict: Bool = true, targetUpdates: Int = 2,
                                line: UInt = #line) throws {
        let target = try makeTrainer(seed: 1, out: dirs.make("target"), updates: targetUpdates)
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
        XCTAssertEqual(target.trainer.updater.iteration, targetUpdates, line: line)
        XCTAssertEqual(target.optimizer.t, targetUpdates, line: line)
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

    /// An optimizer state of another shape than its parameter's, loaded into an optimizer that has no state yet (a
    /// resumed run before its first update), names the state's full key, the file and both shapes (it once said only
    /// "key 'm'"). Into an optimizer with state, the same file fails on the same key.
    func testOptimizerStateShapeMismatch() throws {
        let dir = dirs.make("state-shape")
        let file = dir + "/f.npz"
        let entries = try goodEntries(dir).map { e in
            e.key == "updater/optimizer:main/predictor/l1/b/m" ? (key: e.key, value: SerializedValue.array(NDArray.zeros([7]))) : e
        }
        try writeNPZ(file, entries)
        try assertRejected(file, ["f.npz", "updater/optimizer:main/predictor/l1/b/m", "[7]", "[4]"], targetUpdates: 0)
        try assertRejected(file, ["f.npz", "updater/optimizer:main/predictor/l1/b/m", "[7]", "[4]"])
    }

    /// None for one state array and arrays for the others (which no saved optimizer writes) is refused, naming the
    /// key; None for all of them loads as unset state, as in Chainer (see OptimizerTests).
    func testOptimizerStatePartlyNone() throws {
        let dir = dirs.make("state-none")
        let file = dir + "/f.npz"
        let entries = try goodEntries(dir).map { e in
            e.key == "updater/optimizer:main/predictor/l1/b/m" ? (key: e.key, value: SerializedValue.none) : e
        }
        try writeNPZ(file, entries)
        try assertRejected(file, ["updater/optimizer:main/predictor/l1/b/m", "None"])
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

// MARK: - Hostile files: every size, count and offset a file declares is checked before it is used

extension BadFileTests {
    /// An `.npy` file with the given header dictionary and body.
    private func npy(_ header: String, _ body: [UInt8]) -> [UInt8] { NPY.preamble(header) + body }

    /// Offsets in an archive written by `Zip.write` with one entry (no ZIP64): the central directory entry.
    private func centralDirectory(_ zip: [UInt8]) -> Int {
        let eocd = zip.count - 22
        return Int(zip[eocd + 16]) | Int(zip[eocd + 17]) << 8 | Int(zip[eocd + 18]) << 16 | Int(zip[eocd + 19]) << 24
    }

    private func put32(_ v: UInt32, _ bytes: inout [UInt8], at o: Int) {
        for i in 0..<4 { bytes[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }

    func testHostileNPYHeadersAreRefused() throws {
        let dir = dirs.make("hostile-npy")
        let cases: [(String, [UInt8], [String])] = [
            ("empty-descr", npy("{'descr': '', 'fortran_order': False, 'shape': (2,), }", [0, 0, 0, 0, 0, 0, 0, 0]), ["dtype descriptor", "empty"]),
            ("one-char-descr", npy("{'descr': '<', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0]), ["empty or incomplete"]),
            ("overflow", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", []), ["overflows"]),
            ("huge", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", [1, 2, 3, 4]), ["overflows"]),
            ("claims", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1152921504606846976,), }", [1, 2, 3, 4]), ["header promises", "has 4 bytes"]),
            ("negative", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", []), ["bad shape"]),
            ("string", npy("{'descr': '<U99999999999999999', 'fortran_order': False, 'shape': (), }", [65, 0, 0, 0]), ["a string of 99999999999999999 characters"]),
            ("fortran", npy("{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,), }", [0, 0, 0, 0]), ["fortran_order"]),
            ("header-len", [0x93] + Array("NUMPY".utf8) + [2, 0, 0xFF, 0xFF, 0xFF, 0x7F], ["header is truncated"]),
        ]
        for (name, bytes, fragments) in cases {
            let path = dir + "/" + name + ".npy"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            assertSerializationError([path] + fragments) { _ = try loadNPY(path) }
            // The same bytes as an entry of a snapshot: refused, and the trainer is left as it was.
            var entries = try goodEntries(dirs.make("good"))
            entries.removeAll { $0.key == "updater/model:main/predictor/l2/b" }
            var zipEntries = entries.map { Zip.Entry(name: $0.key + ".npy", data: NPY.encode($0.value)) }
            zipEntries.append(Zip.Entry(name: "updater/model:main/predictor/l2/b.npy", data: bytes))
            let file = dir + "/" + name + ".npz"
            try Data(Zip.write(zipEntries, compress: true)).write(to: URL(fileURLWithPath: file))
            try assertRejected(file, ["entry 'updater/model:main/predictor/l2/b.npy'"] + fragments)
        }
    }

    func testHostileZipDirectoriesAreRefused() throws {
        let dir = dirs.make("hostile-zip")
        let base = Zip.write([Zip.Entry(name: "a.npy", data: NPY.encode(.array(testArray([4]))))], compress: false)
        let cd = centralDirectory(base), eocd = base.count - 22
        func variant(_ name: String, _ edit: (inout [UInt8]) -> Void) throws -> String {
            var b = base
            edit(&b)
            let path = dir + "/" + name + ".npz"
            try Data(b).write(to: URL(fileURLWithPath: path))
            return path
        }
        // Sizes and offsets past the end of the file.
        let bigSize = try variant("csize") { put32(0xFFFF_FFF0, &$0, at: cd + 20) }
        assertSerializationError([bigSize, "entry 'a.npy'", "truncated"]) { _ = try readNPZ(bigSize) }
        let badLocal = try variant("local") { put32(0x7FFF_FFFF, &$0, at: cd + 42) }
        assertSerializationError([badLocal, "truncated"]) { _ = try readNPZ(badLocal) }
        let badDir = try variant("dir") { put32(0x7FFF_FFF0, &$0, at: eocd + 16) }
        assertSerializationError([badDir, "central directory"]) { _ = try readNPZ(badDir) }
        // A count no directory of this size can hold.
        let many = try variant("count") { $0[eocd + 10] = 0xF0; $0[eocd + 11] = 0xFF }
        assertSerializationError([many, "claims 65520 entries"]) { _ = try readNPZ(many) }
        // ZIP64: a locator and record whose 64-bit fields have the top bit set (negative as Int).
        var zip64 = Array(base[..<eocd])
        let record = zip64.count
        zip64 += [0x50, 0x4B, 0x06, 0x06] + [UInt8](repeating: 0, count: 52)
        for i in 0..<8 { zip64[record + 32 + i] = 0xFF }   // entry count 2^64 - 1
        zip64 += [0x50, 0x4B, 0x06, 0x07, 0, 0, 0, 0] + (0..<8).map { UInt8(truncatingIfNeeded: record >> (8 * $0)) } + [1, 0, 0, 0]
        zip64 += Array(base[eocd...])
        for i in 0..<2 { zip64[zip64.count - 22 + 10 + i] = 0xFF }
        let negative = dir + "/zip64.npz"
        try Data(zip64).write(to: URL(fileURLWithPath: negative))
        assertSerializationError([negative, "ZIP64 entry count", "too large"]) { _ = try readNPZ(negative) }
        // A declared size DEFLATE could never expand to from the compressed size.
        let deflated = Zip.write([Zip.Entry(name: "a.npy", data: NPY.encode(.array(NDArray.zeros([4000]))))], compress: true)
        var inflated = deflated
        put32(0xFFFF_FFF0, &inflated, at: centralDirectory(deflated) + 24)
        let claims = dir + "/claims.npz"
        try Data(inflated).write(to: URL(fileURLWithPath: claims))
        assertSerializationError([claims, "more than DEFLATE can expand to"]) { _ = try readNPZ(claims) }
        // A key stored twice.
        let twice = dir + "/twice.npz"
        let e = Zip.Entry(name: "a.npy", data: NPY.encode(.array(testArray([2]))))
        try Data(Zip.write([e, e], compress: false)).write(to: URL(fileURLWithPath: twice))
        assertSerializationError([twice, "'a' twice"]) { _ = try readNPZ(twice) }
    }

    /// A decompression bomb: 64 MiB of zeros in about 420 KB, behind a directory that says 1000 bytes. Inflation
    /// stops at 1000 bytes, so memory stays flat (checked in a child process by its peak resident size).
    func testADecompressionBombIsStoppedAtTheDeclaredSize() throws {
        let dir = dirs.make("bomb")
        let path = dir + "/bomb.npz"
        try Data(BadFileTests.bombArchive(size: 64 << 20, declared: 1000)).write(to: URL(fileURLWithPath: path))
        XCTAssertLessThan(FileManager.default.contents(atPath: path)!.count, 450_000)
        assertSerializationError([path, "entry 'a.npy'", "inflates to more than the 1000 bytes"]) { _ = try readNPZ(path) }
        let (stderr, status) = runChildScenario("bomb-rss", env: ["CATENA_BOMB": path])
        XCTAssertEqual(status, 0, stderr)
        guard let growth = stderr.split(separator: "\n").first(where: { $0.hasPrefix("rss-growth-kb=") }).flatMap({ Int($0.dropFirst(14)) }) else {
            return XCTFail("no measurement: \(stderr)")
        }
        XCTAssertLessThan(growth, 16 << 10, "peak memory grew by \(growth) KB while refusing a 64 MiB bomb")
        // The control: the same data declared truthfully is inflated, and the measurement sees its 64 MiB.
        let honest = dir + "/honest.npz"
        try Data(BadFileTests.bombArchive(size: 64 << 20, declared: 64 << 20)).write(to: URL(fileURLWithPath: honest))
        let control = runChildScenario("bomb-rss", env: ["CATENA_BOMB": honest]).stderr
        let controlGrowth = control.split(separator: "\n").first(where: { $0.hasPrefix("rss-growth-kb=") }).flatMap { Int($0.dropFirst(14)) } ?? 0
        XCTAssertGreaterThan(controlGrowth, 32 << 10, control)
    }

    /// A one-entry archive whose DEFLATE data expands to `size` zero bytes, with `declared` as its uncompressed size.
    static func bombArchive(size: Int, declared: Int) -> [UInt8] {
        var w = Deflater.BitWriter()
        w.write(1, 1)
        w.write(1, 2)
        w.writeLiteral(0)
        var produced = 1
        while produced + 258 <= size {
            w.writeLength(258)
            w.writeDistance(1)
            produced += 258
        }
        while produced < size { w.writeLiteral(0); produced += 1 }
        w.writeLiteral(256)
        w.flush()
        var zip = Zip.write([Zip.Entry(name: "a.npy", data: [UInt8](repeating: 0, count: 8))], compress: false)
        // Replace the stored payload with the bomb, as a deflated entry declaring `declared` bytes.
        let name = Array("a.npy".utf8)
        var local: [UInt8] = [0x50, 0x4B, 0x03, 0x04, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        local += le32(0) + le32(w.bytes.count) + le32(declared) + [UInt8(name.count), 0, 0, 0] + name + w.bytes
        var central: [UInt8] = [0x50, 0x4B, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]
        central += le32(0) + le32(w.bytes.count) + le32(declared) + [UInt8(name.count), 0, 0, 0, 0, 0, 0, 0, 0, 0] + le32(0) + le32(0) + name
        zip = local + central + [0x50, 0x4B, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0] + le32(central.count) + le32(local.count) + [0, 0]
        return zip
    }

    func testAMissingKeyNamesThePathThatWouldLoadIt() throws {
        let dir = dirs.make("hint")
        let file = dir + "/classifier.npz"
        try saveNPZ(file, Classifier(MLP(seed: 1)))
        assertSerializationError([file, "missing key 'l1/W'", "'predictor/l1/W'", "pass path: \"predictor/\""]) { try loadNPZ(file, into: MLP(seed: 2)) }
        try loadNPZ(file, into: MLP(seed: 2), path: "predictor/")
    }
}

/// Scenarios run in a child copy of the test binary (for measurements that need a fresh process).
final class ChildScenarioRunner: XCTestCase {
    func testRunChildScenario() {
        guard let name = ProcessInfo.processInfo.environment["CATENA_CHILD_SCENARIO"] else { return }
        switch name {
        case "bomb-rss":
            let path = ProcessInfo.processInfo.environment["CATENA_BOMB"]!
            let before = peakResidentKB()
            _ = try? readNPZ(path)
            FileHandle.standardError.write("rss-growth-kb=\(peakResidentKB() - before)\n".data(using: .utf8)!)
            exit(0)
        default:
            exit(3)
        }
    }

    private func peakResidentKB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }
}

/// Runs `ChildScenarioRunner`'s scenario `name` in a child process; returns its standard error and exit status.
func runChildScenario(_ name: String, env extra: [String: String]) -> (stderr: String, status: Int32) {
    runInChildProcess(test: "CatenaTests.ChildScenarioRunner/testRunChildScenario", env: extra.merging(["CATENA_CHILD_SCENARIO": name]) { a, _ in a })
}
