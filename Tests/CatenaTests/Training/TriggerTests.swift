import Catena
import Foundation
import XCTest

/// An updater over a 5-item SerialIterator in batches of 2 (Chainer's trigger experiments use this set-up), which
/// reports a scripted value `v` at each iteration and trains nothing.
final class ScriptedUpdater: Updater {
    let iterator = SerialIterator(Array(0..<5), batchSize: 2, shuffle: false)
    var iteration = 0
    let values: [Double]
    var failAt: Int?
    init(values: [Double] = [], failAt: Int? = nil) {
        self.values = values
        self.failAt = failAt
    }
    var epoch: Int { iterator.epoch }
    var epochDetail: Double { iterator.epochDetail }
    var previousEpochDetail: Double? { iterator.previousEpochDetail }
    var isNewEpoch: Bool { iterator.isNewEpoch }
    var optimizers: [(name: String, optimizer: Optimizer)] { [] }
    var finalized = false
    func update() throws {
        if let failAt, iteration + 1 == failAt { throw TrainingError("scripted failure at iteration \(failAt)") }
        _ = iterator.next()
        iteration += 1
        if iteration <= values.count { report(["v": values[iteration - 1]]) }
    }
    func finalize() { finalized = true }
    func serialize(_ s: Serializer) throws {
        try iterator.serialize(s["iterator:main"])
        try s("iteration", &iteration)
    }
}

/// Records the iterations at which its trigger fired.
final class Probe: Extension {
    var fired: [Int] = []
    override func callAsFunction(_ trainer: Trainer) throws { fired.append(trainer.updater.iteration) }
}

final class TriggerTests: XCTestCase {
    /// Runs `iterations` scripted iterations and returns when `trigger` fired.
    private func firings(_ trigger: Trigger, iterations: Int = 10, values: [Double] = []) throws -> [Int] {
        let trainer = Trainer(updater: ScriptedUpdater(values: values), stopTrigger: IntervalTrigger(Double(iterations), .iteration),
                              out: FileManager.default.temporaryDirectory.path)
        let probe = Probe()
        trainer.extend(probe, trigger: trigger)
        try trainer.run()
        return probe.fired
    }

    func testIntervalTriggerInEpochsAndIterations() throws {
        // Chainer, 5 items in batches of 2: (1, 'epoch') fires at 3, 5, 8, 10; (0.5, 'epoch') at 2, 3, 4, 5, 7, 8,
        // 9, 10; (3, 'iteration') at 3, 6, 9.
        XCTAssertEqual(try firings(IntervalTrigger(1, .epoch)), [3, 5, 8, 10])
        XCTAssertEqual(try firings(IntervalTrigger(0.5, .epoch)), [2, 3, 4, 5, 7, 8, 9, 10])
        XCTAssertEqual(try firings(IntervalTrigger(3, .iteration)), [3, 6, 9])
    }

    func testStopTriggerEndsTrainingAtItsInterval() throws {
        let updater = ScriptedUpdater()
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(2, .epoch), out: FileManager.default.temporaryDirectory.path)
        try trainer.run()
        XCTAssertEqual(updater.iteration, 5)          // epoch detail 2.0 after 5 batches of 2 over 5 items
        XCTAssertTrue(updater.finalized)
    }

    func testManualScheduleTrigger() throws {
        // Chainer: points [2, 5] in iterations fire at 2 and 5; [1, 2] in epochs at 3 and 5, then finished.
        XCTAssertEqual(try firings(ManualScheduleTrigger([2, 5], .iteration)), [2, 5])
        let epochs = ManualScheduleTrigger([1, 2], .epoch)
        XCTAssertEqual(try firings(epochs), [3, 5])
        XCTAssertTrue(epochs.finished)
    }

    func testMinAndMaxValueTriggers() throws {
        // Chainer, values 5,4,6,3,3,7,1,2,2,2: Min per iteration fires at 1, 2, 4, 7; Max over 2-iteration means
        // (4.5, 4.5, 5, 1.5, 2) fires at 2 and 6.
        let values: [Double] = [5, 4, 6, 3, 3, 7, 1, 2, 2, 2]
        let minimum = MinValueTrigger("v", trigger: IntervalTrigger(1, .iteration))
        XCTAssertEqual(try firings(minimum, values: values), [1, 2, 4, 7])
        XCTAssertEqual(minimum.bestValue, 1)
        let maximum = MaxValueTrigger("v", trigger: IntervalTrigger(2, .iteration))
        XCTAssertEqual(try firings(maximum, values: values), [2, 6])
        XCTAssertEqual(maximum.bestValue, 5)
    }

    func testEarlyStoppingStopsAfterPatienceChecksWithoutImprovement() throws {
        // Checked every iteration on main/loss-like "v": best 5, 4 (improves), 6 (1), 3 (improves), 3 (1, not strictly
        // better), 7 (2), 1 (improves), 2 (1), 2 (2), 2 (3 → stop). As a stop trigger it sees the previous iteration's
        // observation, so the trainer stops after iteration 10 is observed, i.e. before iteration 11.
        let values: [Double] = [5, 4, 6, 3, 3, 7, 1, 2, 2, 2, 9, 9, 9]
        let updater = ScriptedUpdater(values: values)
        let stop = EarlyStoppingTrigger(checkTrigger: IntervalTrigger(1, .iteration), monitor: "v", patience: 3,
                                        maxTrigger: IntervalTrigger(100, .iteration))
        let trainer = Trainer(updater: updater, stopTrigger: stop, out: FileManager.default.temporaryDirectory.path)
        try trainer.run()
        XCTAssertEqual(updater.iteration, 10)

        // The max trigger ends training even while the value improves.
        let improving = ScriptedUpdater(values: (0..<20).map { Double(20 - $0) })
        let capped = Trainer(updater: improving, stopTrigger: EarlyStoppingTrigger(checkTrigger: IntervalTrigger(1, .iteration), monitor: "v",
                                                                                   maxTrigger: IntervalTrigger(6, .iteration)),
                             out: FileManager.default.temporaryDirectory.path)
        try capped.run()
        XCTAssertEqual(improving.iteration, 6)
    }

    func testOnceTrigger() throws {
        let once = OnceTrigger()
        XCTAssertEqual(try firings(once, iterations: 4), [1])
        XCTAssertTrue(once.finished)
    }

    func testIntervalTriggerStateSurvivesASnapshot() throws {
        // A trigger restored from a snapshot taken at iteration 4 (epoch detail 1.6) fires where an uninterrupted
        // one would: at iteration 5 (detail 2.0) for a 1-epoch interval.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("catena-trigger-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = Trainer(updater: ScriptedUpdater(), stopTrigger: IntervalTrigger(4, .iteration), out: dir)
        first.extend(Probe(), trigger: IntervalTrigger(1, .epoch))
        try first.run()
        try saveNPZ(dir + "/snap", first)
        let second = Trainer(updater: ScriptedUpdater(), stopTrigger: IntervalTrigger(10, .iteration), out: dir)
        let probe = Probe()
        second.extend(probe, trigger: IntervalTrigger(1, .epoch))
        try loadNPZ(dir + "/snap", into: second)
        try second.run()
        XCTAssertEqual(probe.fired, [5, 8, 10])
    }
}
