import Foundation
import XCTest

@testable import Catena

/// ReduceLROnPlateau on scripted values (one check per iteration), against the rule worked out by hand.
final class ReduceLROnPlateauTests: TemporaryDirectoryTestCase {
    /// Runs a trainer whose updater reports `values` as "v", one per iteration, with `schedule` checking every
    /// iteration; returns the learning rate after each iteration.
    private func run(_ values: [Double], _ make: (SGD) -> ReduceLROnPlateau, iterations: Int? = nil,
                     restoring snapshot: [(key: String, value: SerializedValue)]? = nil) throws -> (lrs: [Double], trainer: Trainer, schedule: ReduceLROnPlateau) {
        let optimizer = SGD(lr: 1)
        let trainer = Trainer(updater: ScriptedUpdater(values: values), stopTrigger: IntervalTrigger(Double(iterations ?? values.count), .iteration), out: tempDir())
        let schedule = make(optimizer)
        trainer.extend(schedule)
        var lrs: [Double] = []
        trainer.extend(makeExtension(name: "record") { _ in lrs.append(optimizer.lr) })
        if let snapshot { try DictionaryDeserializer.load(trainer, from: Dictionary(uniqueKeysWithValues: snapshot.map { ($0.key, $0.value) })) }
        try trainer.run()
        return (lrs, trainer, schedule)
    }

    func testPreviousComparisonHalvesWheneverTheValueRises() throws {
        // 5 → 4 better; 4.5 rose; 3 better; 3.5 rose; 3.6 rose again.
        let (lrs, _, s) = try run([5, 4, 4.5, 3, 3.5, 3.6]) {
            ReduceLROnPlateau("v", factor: 0.5, comparison: .previous, trigger: IntervalTrigger(1, .iteration), optimizer: $0)
        }
        XCTAssertEqual(lrs, [1, 1, 0.5, 0.5, 0.25, 0.125])
        XCTAssertEqual(s.reductions, 3)
    }

    func testBestComparisonWithPatience() throws {
        // best 5, 4 (better), 4.5 (1 bad), 4.2 (2 bad > patience 1: ×0.1), 3 (better), 3.1, 3.2 (×0.1), 3.3.
        let (lrs, _, _) = try run([5, 4, 4.5, 4.2, 3, 3.1, 3.2, 3.3]) {
            ReduceLROnPlateau("v", factor: 0.1, patience: 1, trigger: IntervalTrigger(1, .iteration), optimizer: $0)
        }
        let expected = [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01]
        for (a, e) in zip(lrs, expected) { XCTAssertEqual(a, e, accuracy: 1e-15) }
        XCTAssertEqual(lrs.count, expected.count)
    }

    func testMaxModeThresholdCooldownAndMinimum() throws {
        // Improvements need 10% over the best: 0.52 and 0.53 are not improvements on 0.5; 0.6 is.
        let (lrs, _, s) = try run([0.5, 0.52, 0.53, 0.54, 0.6, 0.5]) {
            ReduceLROnPlateau("v", factor: 0.5, mode: .max, threshold: 0.1, cooldown: 1, minValue: 0.3, trigger: IntervalTrigger(1, .iteration), optimizer: $0)
        }
        // 0.52: reduce to 0.5, then one check of cooldown (0.53); 0.54: reduce, clamped at 0.3; 0.6: cooldown;
        // 0.5: would reduce, but 0.3 is the floor.
        XCTAssertEqual(lrs, [1, 0.5, 0.5, 0.3, 0.3, 0.3])
        XCTAssertEqual(s.reductions, 2)
    }

    func testNaNNeverImprovesAndDoesNotBecomeTheReference() throws {
        let (lrs, _, _) = try run([2, .nan, 1.9, 1.95]) {
            ReduceLROnPlateau("v", factor: 0.5, comparison: .previous, trigger: IntervalTrigger(1, .iteration), optimizer: $0)
        }
        // NaN reduces; 1.9 is compared with 2 (the NaN is skipped) and improves; 1.95 rose.
        XCTAssertEqual(lrs, [1, 0.5, 0.5, 0.25])
    }

    func testNothingFiresOnSteadyImprovementAndTheMeanOverAnIntervalIsUsed() throws {
        // Checked every 2 iterations: the means 4.5, 3.5, 2.5 keep improving although single values rise.
        let (lrs, _, s) = try run([4, 5, 3, 4, 2, 3]) {
            ReduceLROnPlateau("v", factor: 0.5, comparison: .previous, trigger: IntervalTrigger(2, .iteration), optimizer: $0)
        }
        XCTAssertEqual(lrs, [1, 1, 1, 1, 1, 1])
        XCTAssertEqual(s.reductions, 0)
    }

    func testASnapshotResumesTheSchedule() throws {
        let values: [Double] = [5, 4, 4.5, 3, 3.5, 3.6]
        let make: (SGD) -> ReduceLROnPlateau = { ReduceLROnPlateau("v", factor: 0.5, comparison: .previous, trigger: IntervalTrigger(1, .iteration), optimizer: $0) }
        let whole = try run(values, make).lrs
        let first = try run(values, make, iterations: 3)
        let saved = try DictionarySerializer.serialize(first.trainer)
        XCTAssertTrue(saved.contains { $0.key == "extensions/ReduceLROnPlateau/_last_value" })
        // A fresh optimizer starts at lr 1; the schedule's saved value (0.5) is put back before training continues.
        let second = try run(values, make, restoring: saved)
        XCTAssertEqual(first.lrs + second.lrs, whole)
        XCTAssertEqual(second.schedule.reductions, 3)
    }

    func testAMissingKeyStopsWithItsName() {
        XCTAssertThrowsError(try run([1, 2]) { ReduceLROnPlateau("validation/main/loss", trigger: IntervalTrigger(1, .iteration), optimizer: $0) }) { error in
            XCTAssertTrue("\(error)".contains("nothing was reported as 'validation/main/loss'"), "\(error)")
        }
        XCTAssertThrowsError(try run([1]) { _ in ReduceLROnPlateau("v", attribute: "momentum", trigger: IntervalTrigger(1, .iteration), optimizer: SGD()) }) { error in
            XCTAssertTrue("\(error)".contains("no hyperparameter 'momentum'"), "\(error)")
        }
    }
}
