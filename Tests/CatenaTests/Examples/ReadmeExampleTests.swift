import Catena
import CatenaModels
import Foundation
import XCTest

/// The README's code, run as written (with small sizes), so that the documented API stays real.
final class ReadmeExampleTests: XCTestCase {
    final class MLP: Chain, UnaryLink {
        let l1 = Linear(nil, 16)          // input size inferred on the first call
        let l2 = Linear(16, 3)
        func callAsFunction(_ x: Variable) -> Variable { l2(F.relu(l1(x))) }
    }

    /// The README's custom function (``FunctionNode`` as in Chainer).
    final class Cube: FunctionNode {
        override func forward(_ inputs: [NDArray]) -> [NDArray] {
            retainInputs([0])
            return [inputs[0] * inputs[0] * inputs[0]]
        }
        override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
            let x = retainedInputs()[0]
            return [gradOutputs[0].map { $0 * 3 * x * x }]
        }
    }

    /// "The graph": gradients, a gradient penalty and a custom function, checked against hand-derived formulas.
    func testTheGraphTourGivesTheHandDerivedGradients() throws {
        let x = Variable(NDArray([[1, 2, 3]]))
        let w = Parameter(NDArray([[0.5], [0.25], [2]]))
        let loss = F.sum(F.tanh(x.matmul(w)) * 2)
        loss.backward()
        // d/dw Σ 2 tanh(x·w) = 2 (1 − tanh²(x·w)) xᵀ, with x·w = 7.
        let t = Foundation.tanh(7.0)
        let d: Double = 1 - t * t
        assertClose(w.grad!, [2 * d, 4 * d, 6 * d], atol: 1e-6)
        XCTAssertNil(noBackpropMode { x * 2 }.creator)

        let critic = Linear(3, 1)
        F.sum(F.tanh(critic(x))).backward(enableDoubleBackprop: true)
        let gx = x.gradVar!
        critic.clearGrads()
        F.sum(gx * gx).backward()
        let hx = grad([F.sum(gx * gx)], [x])[0]!
        // y = tanh(W·x + b); ∂y/∂x = (1 − y²) W, so P = (1 − y²)² ‖W‖² and
        // ∂P/∂W = 2 (1 − y²)² W − 4 y (1 − y²)² ‖W‖² x,   ∂P/∂x = −4 y (1 − y²)² ‖W‖² W.
        let wv = critic.W.array.toDoubles(), xv = [1.0, 2, 3]
        let z: Double = zip(wv, xv).map { $0 * $1 }.reduce(0, +) + critic.b!.array.toDoubles()[0]
        let y = Foundation.tanh(z)
        let s: Double = 1 - y * y
        let norm: Double = wv.map { $0 * $0 }.reduce(0, +)
        let k: Double = -4 * y * s * s * norm
        let expectedW: [Double] = zip(wv, xv).map { wi, xi in 2 * s * s * wi + k * xi }
        assertClose(critic.W.grad!, expectedW, atol: 1e-5, rtol: 1e-4)
        assertClose(critic.b!.grad!, [k], atol: 1e-5, rtol: 1e-4)
        assertClose(hx, wv.map { k * $0 }, atol: 1e-5, rtol: 1e-4)

        try gradientCheck({ Cube().apply($0[0]) }, inputs: [NDArray([0.5, -1.2])])
        try checkDoubleBackward({ [Cube().apply($0[0])] }, inputs: [NDArray([0.5, -1.2])])
    }

    func testTheTrainingTourRunsAndLearns() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("catena-readme-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        // Three well-separated classes in 4 dimensions.
        let rng = RandomState(seed: 1)
        let t = rng.integers(0, 3, shape: [90], dtype: .int32)
        let centres = NDArray([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]]).take(t, axis: 0)
        let x = centres + rng.normal(shape: [90, 4], std: 0.3)

        let (train, test) = splitDatasetRandom(TupleDataset(x, t), firstSize: 60, seed: 0)
        let model = Classifier(MLP())
        let optimizer = Adam(alpha: 0.01)
        optimizer.setup(model)
        let updater = StandardUpdater(iterator: SerialIterator(train, batchSize: 10), optimizer: optimizer)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(15, .epoch), out: out)
        trainer.extend(Evaluator(SerialIterator(test, batchSize: 10, repeats: false, shuffle: false), model))
        trainer.extend(LogReport())
        var printed = ""
        trainer.extend(PrintReport(["epoch", "main/loss", "validation/main/loss", "main/accuracy", "elapsed_time"],
                                   out: TextSink(isTerminal: false) { printed += $0 }))
        trainer.extend(PlotReport(["main/loss", "validation/main/loss"], xKey: "epoch", filename: "loss.svg"))
        trainer.extend(snapshot(), trigger: IntervalTrigger(5, .epoch))
        try trainer.run()

        let log = (trainer.getExtension("LogReport") as! LogReport).log
        XCTAssertEqual(log.count, 15)
        XCTAssertLessThan(log.last!["main/loss"]!, log.first!["main/loss"]! / 3)
        XCTAssertGreaterThan(log.last!["validation/main/accuracy"]!, 0.9)
        XCTAssertTrue(printed.contains("validation/main/loss"))
        for f in ["log", "loss.svg", "snapshot_iter_30", "snapshot_iter_60", "snapshot_iter_90"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }

        // The snapshot section: a model out of a trainer snapshot, and a model file round trip.
        let copy = Classifier(MLP())
        try loadNPZ(out + "/snapshot_iter_90", into: copy, path: "updater/model:main/")
        XCTAssertEqual(copy.predictor.namedParams().map { $0.param.array.toDoubles() },
                       model.predictor.namedParams().map { $0.param.array.toDoubles() })
        try saveNPZ(out + "/model.npz", model)
        let keys = try readNPZ(out + "/model.npz").map(\.key).sorted()
        XCTAssertEqual(keys, ["predictor/l1/W", "predictor/l1/b", "predictor/l2/W", "predictor/l2/b"])
    }

    /// The "Data sets" and "Recurrent networks" sections, on a small text (the README reads a license file) and
    /// for two epochs.
    func testTheRecurrentNetworksTourRunsAndLearns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("catena-readme-rnn-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = String(repeating: "the program is free software . you can redistribute it and modify it . ", count: 30)
        try text.write(toFile: dir + "/text.txt", atomically: true, encoding: .utf8)
        let corpus = try loadTextCorpus([dir + "/text.txt"], level: .word, vocabularySize: 8000)
        XCTAssertEqual(corpus.vocabulary.count, 13)   // 12 distinct tokens and <unk>

        let rnn = SimpleRNN(7, 128, activation: .tanh, lateralInit: Identity())
        let irnn = SimpleRNN.irnn(1, 100)
        XCTAssertEqual(irnn.lateral.W.array.toDoubles(), NDArray.eye(100).toDoubles())
        rnn.resetState()
        let x0 = Variable(testArray([4, 7])), x1 = Variable(testArray([4, 7], offset: 1))
        var h = rnn(x0)
        XCTAssertEqual(h.shape, [4, 128])
        h = rnn(x1)
        XCTAssertEqual(h.shape, [4, 128])

        let a = Variable(testArray([5, 7])), b = Variable(testArray([3, 7], offset: 0.5))
        let encoder = NStepBiLSTM(2, 7, 64, 0.1)
        let (hy, cy, ys) = encoder(nil, nil, [a, b])
        XCTAssertEqual(ys.map(\.shape), [[5, 128], [3, 128]])
        XCTAssertEqual(hy.shape, [4, 2, 64])
        XCTAssertEqual(cy.shape, [4, 2, 64])
        let gru = NStepGRU(1, 7, 32, 0)
        let (hGRU, outs) = gru(nil, [a, b])
        XCTAssertEqual(hGRU.shape, [1, 2, 32])
        XCTAssertEqual(outs.map(\.shape), [[5, 32], [3, 32]])
        // The last output of each sequence is its final state.
        XCTAssertEqual(outs[1].array[2], hGRU.array[0, 1])

        let lm = RNNLanguageModel(vocabularySize: corpus.vocabulary.count, units: 100, cell: .rnn)
        let model = Classifier(lm)
        let optimizer = SGD(lr: 0.3)
        optimizer.setup(model)
        optimizer.addHook(GradientClipping(threshold: 5))
        let updater = BPTTUpdater(iterator: ParallelSequentialIterator(corpus.train, batchSize: 10), optimizer: optimizer, bpropLen: 20)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(10, .epoch), out: dir + "/result")
        trainer.extend(ReduceLROnPlateau("main/loss", factor: 0.5, comparison: .previous))
        trainer.extend(LogReport())
        try trainer.run()
        let log = (trainer.getExtension("LogReport") as! LogReport).log
        XCTAssertEqual(log.count, 10)
        // A repeated sentence: the loss falls well below the uniform guess, log(13).
        XCTAssertLessThan(log.last!["main/loss"]!, 0.5 * Foundation.log(13.0))
    }
}
