import Foundation
import XCTest

@testable import Catena

/// Replays every input the fuzzer found a crash with (Tests/CatenaTests/Fuzz/Regressions/<mode>/) through the same
/// fuzz target; each must now be refused with an error or handled, never crash the process.
final class FuzzRegressionTests: XCTestCase {
    func testEveryRecordedFuzzInputIsHandled() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")
        var replayed = 0
        for mode in FuzzTargets.Mode.allCases {
            let dir = root.appendingPathComponent(mode.rawValue)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            for f in files {
                let bytes = Array(try Data(contentsOf: dir.appendingPathComponent(f)))
                FuzzTargets.run(mode, bytes)
                replayed += 1
            }
        }
        // The directory always holds at least the hand-made cases of the issue that started the fuzzer.
        XCTAssertGreaterThan(replayed, 0)
    }

    func testTheSnapshotTargetLoadsAnUneditedSnapshotAndTrains() throws {
        // The control for the snapshot mode: with no edits the base snapshot loads and training continues.
        for kind in 0..<2 {
            let values = Dictionary(uniqueKeysWithValues: FuzzTargets.baseSnapshots[kind].map { ($0.key, $0.value) })
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("catena-fuzz-test-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let trainer = FuzzTargets.makeTrainer(kind: kind, out: out)
            try DictionaryDeserializer.load(trainer, from: values)
            XCTAssertEqual(trainer.updater.iteration, 3)
            trainer.stopTrigger = IntervalTrigger(5, .iteration)
            try trainer.run()
            XCTAssertEqual(trainer.updater.iteration, 5)
        }
    }
}
