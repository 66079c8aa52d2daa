import Catena
import CatenaModels
import Foundation
import XCTest

/// The trainer, the reporter and the extensions, against Chainer's documented behaviour.
final class TrainerExtensionTests: TemporaryDirectoryTestCase {
    // MARK: - A small classification set-up with known weights

    /// 5 examples of 2 features, 2 classes; W = [[1, -1], [0.5, 2]], b = [0.1, -0.2].
    private let xs: [[Double]] = [[1, 2], [0, 1], [-1, 0.5], [2, -1], [0.5, 0.5]]
    private let ts: [Int32] = [1, 0, 1, 0, 1]
    private let w: [[Double]] = [[1, -1], [0.5, 2]]
    private let b: [Double] = [0.1, -0.2]

    private func makeModel() -> Classifier {
        let linear = Linear(2, 2)
        linear.W.array = NDArray(w.flatMap { $0 }, shape: [2, 2])
        linear.b!.array = NDArray(b)
        return Classifier(linear)
    }

    private func dataset() -> TupleDataset {
        TupleDataset(NDArray(xs.flatMap { $0 }, shape: [5, 2]), NDArray(values: ts, shape: [5]))
    }

    /// Softmax cross entropy and accuracy of one example under the fixed weights, in Double.
    private func lossAndHit(_ i: Int) -> (loss: Double, hit: Double) {
        let z = (0..<2).map { r in w[r][0] * xs[i][0] + w[r][1] * xs[i][1] + b[r] }
        let m = z.max()!
        let lse = m + log(z.map { exp($0 - m) }.reduce(0, +))
        let predicted = z[1] > z[0] ? 1 : 0
        return (lse - z[Int(ts[i])], predicted == Int(ts[i]) ? 1 : 0)
    }

    // MARK: - Reporter

    func testReporterPrefixesAndSummaries() {
        let model = makeModel()
        let reporter = Reporter()
        reporter.addObserver("main", model)
        reporter.addObservers("main", model.namedLinks(skipSelf: true))
        let observed = reporter.scope {
            report(["loss": 2.5], observer: model)
            report(["norm": 3], observer: model.predictor)
            report(["plain": 1])
        }
        XCTAssertEqual(observed, ["main/loss": 2.5, "main/predictor/norm": 3, "plain": 1])
        // Outside a scope, report goes nowhere.
        report(["ignored": 1])
        XCTAssertTrue(reporter.observation.isEmpty)

        var summary = DictSummary()
        summary.add(["a": 1, "b": 2])
        summary.add(["a": 3])
        summary.add(["a": 5, "b": 6])
        XCTAssertEqual(summary.names, ["a", "b"])
        XCTAssertEqual(summary.mean["a"], 3)
        XCTAssertEqual(summary.mean["b"], 4)
        var s = Summary()
        for v in [1.0, 2, 3, 4] { s.add(v) }
        XCTAssertEqual(s.mean, 2.5)
        XCTAssertEqual(s.std, sqrt(1.25), accuracy: 1e-12)
    }

    func testReportedVariablesDoNotKeepTheGraph() {
        let reporter = Reporter()
        weak var node: FunctionNode?
        let observed = reporter.scope {
            let x = Parameter(NDArray([1, 2, 3]))
            let loss = F.sum(x * x)
            node = loss.creator
            XCTAssertNotNil(node)
            report(["loss": loss])
        }
        XCTAssertEqual(observed["loss"], 14)
        XCTAssertNil(node, "the reported loss kept its graph alive")
    }

    // MARK: - Trainer

    func testExtensionsRunInPriorityOrderWithUniqueNames() throws {
        var calls: [String] = []
        let trainer = Trainer(updater: ScriptedUpdater(), stopTrigger: IntervalTrigger(2, .iteration), out: tempDir())
        func ext(_ tag: String, _ priority: Int) -> Extension {
            makeExtension(name: "x", priority: priority) { t in calls.append("\(tag)@\(t.updater.iteration)") }
        }
        trainer.extend(ext("a", 100))
        trainer.extend(ext("b", 300))
        trainer.extend(ext("c", 200))
        trainer.extend(ext("d", 100))
        trainer.extend(makeExtension(name: "before") { t in calls.append("before@\(t.updater.iteration)") }, trigger: IntervalTrigger(100, .iteration),
                       callBeforeTraining: true)
        XCTAssertEqual(trainer.extensionNames, ["x", "x_1", "x_2", "x_3", "before"])
        try trainer.run()
        XCTAssertEqual(calls, ["before@0", "b@1", "c@1", "a@1", "d@1", "b@2", "c@2", "a@2", "d@2"])
        XCTAssertGreaterThanOrEqual(trainer.elapsedTime, 0)
        XCTAssertThrowsError(try trainer.run())      // a trainer runs once
    }

    final class Recorder: Extension {
        var log: [String] = []
        override func initialize(_ trainer: Trainer) throws { log.append("initialize") }
        override func callAsFunction(_ trainer: Trainer) throws { log.append("call@\(trainer.updater.iteration)") }
        override func onError(_ trainer: Trainer, _ error: Error) { log.append("onError: \(error)") }
        override func finalize(_ trainer: Trainer) { log.append("finalize") }
    }

    func testAFailingUpdatePropagatesAfterOnErrorAndFinalize() {
        let updater = ScriptedUpdater(failAt: 3)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(10, .iteration), out: tempDir())
        let recorder = Recorder()
        trainer.extend(recorder)
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertEqual("\(error)", "scripted failure at iteration 3")
        }
        XCTAssertEqual(recorder.log, ["initialize", "call@1", "call@2", "onError: scripted failure at iteration 3", "finalize"])
        XCTAssertTrue(updater.finalized)
    }

    // MARK: - LogReport, PrintReport, ProgressBar

    func testLogReportAveragesOverItsIntervalAndWritesChainersJSON() throws {
        let dir = tempDir()
        let trainer = Trainer(updater: ScriptedUpdater(values: (1...10).map(Double.init)), stopTrigger: IntervalTrigger(10, .iteration), out: dir)
        let logReport = LogReport(trigger: IntervalTrigger(5, .iteration))
        trainer.extend(logReport)
        var printed = ""
        trainer.extend(PrintReport(["epoch", "iteration", "v"], out: TextSink(isTerminal: false) { printed += $0 }))
        var progress = ""
        trainer.extend(ProgressBar(updateInterval: 5, out: TextSink(isTerminal: false) { progress += $0 }))
        try trainer.run()

        // Means over iterations 1–5 and 6–10; 5 batches of 2 over 5 examples are 2 epochs.
        XCTAssertEqual(logReport.log.count, 2)
        XCTAssertEqual(logReport.log[0].items.map(\.key), ["v", "epoch", "iteration", "elapsed_time"])
        XCTAssertEqual(logReport.log[0]["v"], 3)
        XCTAssertEqual(logReport.log[0]["epoch"], 2)
        XCTAssertEqual(logReport.log[0]["iteration"], 5)
        XCTAssertEqual(logReport.log[1]["v"], 8)
        XCTAssertEqual(logReport.log[1]["epoch"], 4)
        XCTAssertEqual(logReport.log[1]["iteration"], 10)

        // The file is a JSON list of objects, indented by 4 as Python's json.dump(indent=4), keys in order.
        let text = try String(contentsOfFile: dir + "/log", encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("[\n    {\n        \"v\": 3.0,\n        \"epoch\": 2,\n        \"iteration\": 5,\n        \"elapsed_time\": "), text)
        let rows = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[1]["v"] as? Double, 8)
        XCTAssertEqual(rows[1]["iteration"] as? Int, 10)
        XCTAssertNotNil(rows[1]["elapsed_time"] as? Double)

        // Chainer's PrintReport: a header of the entries in columns of at least 10, then '{:<10g}  ' per value.
        let lines = printed.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "epoch       iteration   v         ")
        XCTAssertEqual(lines[1], "2           5           3           ")
        XCTAssertEqual(lines[2], "4           10          8           ")
        XCTAssertFalse(printed.contains("\u{1B}"))

        // Off a terminal the progress bar prints plain lines, no escape codes.
        let progressLines = progress.split(separator: "\n").map(String.init)
        XCTAssertEqual(progressLines.count, 2)
        XCTAssertTrue(progressLines[0].hasPrefix("         5 iter, 2 epoch / 10 iterations ( 50.00%)"), progressLines[0])
        XCTAssertTrue(progressLines[1].hasPrefix("        10 iter, 4 epoch / 10 iterations (100.00%)"), progressLines[1])
        XCTAssertFalse(progress.contains("\u{1B}"))
    }

    // MARK: - Evaluator

    func testEvaluatorAveragesPerBatchInTestModeAndRestoresTrainMode() throws {
        let model = makeModel()
        var modes: [(train: Bool, backprop: Bool)] = []
        var hooks = 0
        let iterator = SerialIterator(dataset(), batchSize: 2, repeats: false, shuffle: false)
        let evaluator = Evaluator(iterator, model, evalHook: { _ in hooks += 1 }, evalFunction: { arrays in
            modes.append((Config.current.train, Config.current.enableBackprop))
            _ = model(.constant(arrays[0]), .constant(arrays[1]))
        })
        let optimizer = SGD(lr: 0)
        optimizer.setup(model)
        let trainer = Trainer(updater: StandardUpdater(iterator: SerialIterator(dataset(), batchSize: 5, shuffle: false), optimizer: optimizer),
                              stopTrigger: IntervalTrigger(2, .iteration), out: tempDir())
        trainer.extend(evaluator, trigger: IntervalTrigger(1, .iteration))
        let log = LogReport(trigger: IntervalTrigger(1, .iteration))
        trainer.extend(log)
        XCTAssertTrue(Config.current.train)
        try trainer.run()
        XCTAssertTrue(Config.current.train)
        XCTAssertTrue(Config.current.enableBackprop)

        // Batches [0,1], [2,3], [4]: Chainer averages the batch means, unweighted.
        let batches = [[0, 1], [2, 3], [4]]
        let loss = batches.map { bt in bt.map { lossAndHit($0).loss }.reduce(0, +) / Double(bt.count) }.reduce(0, +) / 3
        let accuracy = batches.map { bt in bt.map { lossAndHit($0).hit }.reduce(0, +) / Double(bt.count) }.reduce(0, +) / 3
        XCTAssertEqual(evaluator.name, "validation")
        for row in log.log {   // evaluated twice (the iterator is reset each time), same weights (lr 0)
            XCTAssertEqual(row["validation/main/loss"]!, loss, accuracy: 1e-6)
            XCTAssertEqual(row["validation/main/accuracy"]!, accuracy, accuracy: 1e-6)
        }
        XCTAssertEqual(log.log.count, 2)
        XCTAssertEqual(hooks, 2)
        XCTAssertEqual(modes.count, 6)
        XCTAssertTrue(modes.allSatisfy { !$0.train && !$0.backprop })
        // The training loss was reported under main/ at the same time.
        XCTAssertEqual(log.log[0]["main/loss"]!, (0..<5).map { lossAndHit($0).loss }.reduce(0, +) / 5, accuracy: 1e-6)
    }

    // MARK: - Learning-rate schedules, observers, FailOnNonNumber

    private func sgdTrainer(lr: Double, iterations: Int) -> (Trainer, Optimizer) {
        let model = makeModel()
        let optimizer = SGD(lr: lr)
        optimizer.setup(model)
        let trainer = Trainer(updater: StandardUpdater(iterator: SerialIterator(dataset(), batchSize: 2, shuffle: false), optimizer: optimizer),
                              stopTrigger: IntervalTrigger(Double(iterations), .iteration), out: tempDir())
        return (trainer, optimizer)
    }

    private func observedLR(_ trainer: Trainer) -> [Double] {
        (trainer.getExtension("LogReport") as! LogReport).log.map { $0["lr"]! }
    }

    func testExponentialShiftAndObserveLR() throws {
        let (trainer, optimizer) = sgdTrainer(lr: 0.1, iterations: 5)
        trainer.extend(ExponentialShift("lr", rate: 0.5, target: 0.02))
        trainer.extend(observeLR(trigger: IntervalTrigger(1, .iteration)))
        trainer.extend(LogReport(trigger: IntervalTrigger(1, .iteration)))
        XCTAssertEqual(trainer.extensionNames, ["ExponentialShift", "_observe_value", "LogReport"])
        try trainer.run()
        // observe_lr runs first (priority 300), so iteration k sees 0.1 · 0.5^(k-1), clamped at the target 0.02.
        let expected = [0.1, 0.05, 0.025, 0.02, 0.02]
        for (a, e) in zip(observedLR(trainer), expected) { XCTAssertEqual(a, e, accuracy: 1e-12) }
        XCTAssertEqual(optimizer.lr, 0.02, accuracy: 1e-12)
    }

    func testLinearShift() throws {
        let (trainer, optimizer) = sgdTrainer(lr: 1, iterations: 8)
        trainer.extend(LinearShift("lr", valueRange: (0.1, 0.3), timeRange: (2, 6)))
        trainer.extend(observeLR(trigger: IntervalTrigger(1, .iteration)))
        trainer.extend(LogReport(trigger: IntervalTrigger(1, .iteration)))
        try trainer.run()
        // Initialised to the value at t = 0; after the k-th call the value is at t = k: 0.1 up to t = 2, then
        // linear to 0.3 at t = 6.
        let expected = [0.1, 0.1, 0.1, 0.15, 0.2, 0.25, 0.3, 0.3]
        let got = observedLR(trainer)
        XCTAssertEqual(got.count, 8)
        for (a, e) in zip(got, expected) { XCTAssertEqual(a, e, accuracy: 1e-12) }
        XCTAssertEqual(optimizer.lr, 0.3, accuracy: 1e-12)
    }

    func testFailOnNonNumberStopsTraining() {
        let (trainer, optimizer) = sgdTrainer(lr: 0.1, iterations: 10)
        let recorder = Recorder()
        trainer.extend(recorder)
        trainer.extend(makeExtension(name: "poison", priority: Extension.priorityWriter) { t in
            if t.updater.iteration == 3 {
                let p = optimizer.target!.namedParams()[0].param
                var a = p.array
                a[0, 0] = NDArray(scalar: .nan)
                p.array = a
            }
        })
        trainer.extend(FailOnNonNumber())
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertTrue("\(error)".contains("diverge"), "\(error)")
            XCTAssertTrue("\(error)".contains("/predictor/W"), "\(error)")
        }
        XCTAssertEqual(trainer.updater.iteration, 3)
        XCTAssertEqual(recorder.log.last, "finalize")
    }

    // MARK: - PlotReport and DumpGraph

    func testPlotReportAndDumpGraphWriteTheirFiles() throws {
        let (trainer, _) = sgdTrainer(lr: 0.1, iterations: 6)
        let trainerOut = trainer.out
        trainer.extend(PlotReport(["main/loss", "main/accuracy"], xKey: "iteration", trigger: IntervalTrigger(2, .iteration), filename: "loss.svg"))
        trainer.extend(DumpGraph("main/loss"))
        try trainer.run()
        let svg = try String(contentsOfFile: trainerOut + "/loss.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"), String(svg.prefix(80)))
        XCTAssertTrue(svg.contains("main/loss"))
        XCTAssertTrue(svg.contains("main/accuracy"))
        XCTAssertTrue(svg.contains("</svg>"))
        let plot = trainer.getExtension("PlotReport") as! PlotReport
        XCTAssertEqual(plot.data["main/loss"]?.map(\.0), [2, 4, 6])

        let dot = try String(contentsOfFile: trainerOut + "/cg.dot", encoding: .utf8)
        XCTAssertTrue(dot.hasPrefix("digraph"))
        XCTAssertTrue(dot.contains("LinearFunction"), dot)
        XCTAssertTrue(dot.contains("SoftmaxCrossEntropy"), dot)
        XCTAssertTrue(dot.contains("predictor/W") || dot.contains("W:"), dot)
        XCTAssertFalse(Config.current.keepGraphOnReport)
    }

    // MARK: - Updaters

    func testStandardUpdaterCountsEpochsOnTheOptimizer() throws {
        let (trainer, optimizer) = sgdTrainer(lr: 0.1, iterations: 5)
        try trainer.run()
        // 5 batches of 2 over 5 examples: new epochs at batches 3 and 5.
        XCTAssertEqual(optimizer.epoch, 2)
        XCTAssertEqual(optimizer.t, 5)
        XCTAssertEqual(trainer.updater.epoch, 2)
    }

    func testBPTTUpdaterSumsBpropLenStepsAndCutsTheGraph() throws {
        final class Weak { weak var node: FunctionNode?; init(_ n: FunctionNode?) { node = n } }
        let sequence = repeatCountSequence(length: 60)
        func make() -> (RNNLanguageModel, Classifier, SGD, ParallelSequentialIterator<[Int32]>) {
            let rnn = RNNLanguageModel(vocabularySize: 10, units: 4, rng: RandomState(seed: 9))
            let model = Classifier(rnn)
            let optimizer = SGD(lr: 1)
            optimizer.setup(model)
            return (rnn, model, optimizer, ParallelSequentialIterator(sequence, batchSize: 2))
        }
        let (rnn, model, optimizer, iterator) = make()
        var nodes: [Weak] = []
        var aliveDuringUpdate: [Bool] = []
        let updater = BPTTUpdater(iterator: iterator, optimizer: optimizer, bpropLen: 3, lossFunction: { arrays in
            aliveDuringUpdate.append(nodes.allSatisfy { $0.node != nil })
            let loss = model(.constant(arrays[0]), .constant(arrays[1]))
            nodes.append(Weak((rnn.l1 as! LSTM).h?.creator))
            return loss
        })
        let before = model.namedParams().map { $0.param.array.toDoubles() }
        try updater.update()
        XCTAssertEqual(nodes.count, 3)
        XCTAssertEqual(aliveDuringUpdate, [true, true, true])   // the graph of the three steps lives until backward
        XCTAssertTrue(nodes.allSatisfy { $0.node == nil }, "unchainBackward should release the steps' graph")
        XCTAssertNil((rnn.l1 as! LSTM).h?.creator)               // the state keeps its value, not its history
        XCTAssertNotNil((rnn.l1 as! LSTM).h)
        XCTAssertEqual(updater.iteration, 1)
        XCTAssertEqual(iterator.iteration, 3)

        // The update is SGD(lr 1) on the gradient of the sum of the three steps' losses, computed here by hand.
        let (rnn2, model2, _, iterator2) = make()
        var total: Variable? = nil
        for _ in 0..<3 {
            let (x, t) = ParallelSequentialIterator<[Int32]>.arrays(iterator2.next()!)
            let l = model2(.constant(x), .constant(t))
            total = total.map { $0 + l } ?? l
        }
        total!.backward()
        XCTAssertNotNil((rnn2.l1 as! LSTM).h?.creator)        // no updater here: the graph is still attached
        for ((p0, after), (path, p2)) in zip(zip(before, model.namedParams().map { $0.param }), model2.namedParams()) {
            let expected = zip(p0, p2.grad!.toDoubles()).map { $0 - $1 }
            let got = after.array.toDoubles()
            for (g, e) in zip(got, expected) { XCTAssertEqual(g, e, accuracy: 1e-5, path) }
        }
    }

    func testAShortRepeatCountRunLearns() throws {
        RandomState.global.seed(0)
        let rnn = RNNLanguageModel(vocabularySize: 10, units: 16, rng: RandomState(seed: 2))
        let model = Classifier(rnn)
        let optimizer = Adam(alpha: 0.02)
        optimizer.setup(model)
        optimizer.addHook(GradientClipping(threshold: 5))
        let iterator = ParallelSequentialIterator(repeatCountSequence(length: 450), batchSize: 5)
        let updater = BPTTUpdater(iterator: iterator, optimizer: optimizer, bpropLen: 10)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(60, .iteration), out: tempDir())
        let log = LogReport(trigger: IntervalTrigger(10, .iteration))
        trainer.extend(log)
        try trainer.run()
        let losses = log.log.map { $0["main/loss"]! }
        XCTAssertEqual(losses.count, 6)
        XCTAssertLessThan(losses.last!, losses.first! * 0.5, "\(losses)")
        XCTAssertGreaterThan(log.log.last!["main/accuracy"]!, 0.6)
    }
}
