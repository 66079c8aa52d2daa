import Foundation
import XCTest

@testable import Catena
import CatenaModels

/// Files written by Chainer 7.8's `save_npz` and its trainer's `snapshot()`, loaded into the equivalent Catena
/// objects, and checked against outputs Chainer computed (see `Fixtures/make_fixtures.py`).
final class ChainerInteropTests: TemporaryDirectoryTestCase {
    final class MLP: Chain, UnaryLink {
        let l1: Linear
        let l2 = Linear(5, 3)
        init(lazy: Bool) {
            l1 = lazy ? Linear(nil, 5) : Linear(4, 5)
            super.init()
        }
        func callAsFunction(_ x: Variable) -> Variable { l2(F.relu(l1(x))) }
    }

    func testChainerMLPLoadsIntoALazyCatenaModelAndComputesChainersOutput() throws {
        let model = Classifier(MLP(lazy: true))
        let mlp = model.predictor as! MLP
        XCTAssertFalse(mlp.l1.W.isInitialized)
        try loadNPZ(fixture("chainer_mlp.npz"), into: model)
        // The lazy W took its shape from the file; the values are the script's formula.
        XCTAssertEqual(mlp.l1.W.shape, [5, 4])
        assertClose(mlp.l1.W.array, testArray([5, 4], scale: 0.5), atol: 0, rtol: 1e-7)
        assertClose(mlp.l1.b!.array, testArray([5], scale: 0.1, offset: 0.05), atol: 0, rtol: 1e-7)
        assertClose(mlp.l2.W.array, testArray([3, 5], scale: 0.7, offset: -0.1), atol: 0, rtol: 1e-7)
        assertClose(mlp.l2.b!.array, testArray([3], scale: 0.2), atol: 0, rtol: 1e-7)

        let io = try npzDictionary(fixture("chainer_mlp_io.npz"))
        let y = usingConfig(\.train, false) { mlp(Variable(storedArray(io, "x")!)) }
        assertClose(y.array, storedArray(io, "y")!, atol: 1e-6, rtol: 1e-5, "Chainer's forward output")

        // And back: Catena's file has Chainer's keys, shapes and dtypes.
        let path = dirs.make("interop") + "/model.npz"
        try saveNPZ(path, model)
        let ours = try npzDictionary(path), theirs = try npzDictionary(fixture("chainer_mlp.npz"))
        XCTAssertEqual(Set(ours.keys), Set(theirs.keys))
        for (k, v) in theirs { XCTAssertEqual(ours[k], v, k) }
    }

    /// Chainer's LSTM interleaves the four gates (a, i, f, o) unit by unit in `upward` and `lateral`; a model whose
    /// layout differed would load without complaint and compute something else. The outputs over five steps,
    /// carrying the state, must be Chainer's.
    func testChainerLSTMLanguageModelLoadsAndMatchesChainerStepByStep() throws {
        let model = RNNLanguageModel(vocabularySize: 10, units: 6, cell: .lstm, rng: RandomState(seed: 5))
        try loadNPZ(fixture("chainer_rnn.npz"), into: model)
        let io = try npzDictionary(fixture("chainer_rnn_io.npz"))
        let tokens = storedArray(io, "tokens")!, expected = storedArray(io, "y")!
        XCTAssertEqual(expected.shape, [5, 2, 10])
        model.resetState()
        usingConfig(\.train, false) {
            for step in 0..<5 {
                let y = model(Variable(tokens[step]))
                assertClose(y.array, expected[step], atol: 1e-6, rtol: 1e-5, "step \(step)")
            }
        }
    }

    // MARK: - Chainer's NStep links

    /// Chainer's `save_npz` files of NStep links load into the Catena links of the same structure; outputs, final
    /// states and the gradients of a weighted sum of them (inputs, states, every parameter) are Chainer's, for three
    /// sequences of different lengths given unsorted; and Catena's files have Chainer's keys back.
    func testChainerNStepLinksLoadAndMatchChainersOutputsAndGradients() throws {
        let cases: [(String, NStepRNNBase)] = [
            ("lstm", NStepLSTM(2, 3, 4, 0)), ("bigru", NStepBiGRU(2, 3, 4, 0)),
            ("birnn_tanh", NStepBiRNNTanh(1, 3, 4, 0)), ("rnn_relu", NStepRNNReLU(1, 3, 4, 0)),
        ]
        for (name, link) in cases {
            try loadNPZ(fixture("chainer_nstep_\(name).npz"), into: link)
            let io = try npzDictionary(fixture("chainer_nstep_\(name)_io.npz"))
            let lengths = [4, 2, 3]
            let xs = lengths.enumerated().map { Variable(testArray([$0.element, 3], scale: 1.2, offset: 0.1 * Double($0.offset))) }
            let states = [link.nLayers * link.directions, 3, 4]
            let hx = Variable(testArray(states, scale: 0.5)), cx = Variable(testArray(states, scale: 0.7, offset: 0.2))
            var hy: Variable, cy: Variable? = nil, ys: [Variable]
            if let lstm = link as? NStepLSTMBase {
                (hy, cy, ys) = lstm(hx, cx, xs)
            } else {
                (hy, ys) = link(hx, xs)
            }
            var loss = F.sum(hy * Variable.constant(testArray(hy.shape, scale: 0.9)))
            if let cy { loss = loss + F.sum(cy * Variable.constant(testArray(cy.shape, scale: 0.4, offset: 0.3))) }
            for (k, y) in ys.enumerated() { loss = loss + F.sum(y * Variable.constant(testArray(y.shape, scale: 1.1, offset: 0.05 * Double(k)))) }
            loss.backward()
            func check(_ actual: NDArray?, _ key: String) {
                guard let expected = storedArray(io, key) else { return }
                guard let actual else { return XCTFail("\(name): no value for \(key)") }
                assertClose(actual, expected, atol: 2e-6, rtol: 1e-5, "\(name): \(key)")
            }
            check(hy.array, "hy")
            check(hx.grad, "ghx")
            if let cy {
                check(cy.array, "cy")
                check(cx.grad, "gcx")
            }
            for k in 0..<3 {
                check(ys[k].array, "y\(k)")
                check(xs[k].grad, "gx\(k)")
            }
            for (path, p) in link.namedParams() { check(p.grad, "grad" + path) }

            let path = dirs.make("nstep") + "/\(name).npz"
            try saveNPZ(path, link)
            let ours = try npzDictionary(path), theirs = try npzDictionary(fixture("chainer_nstep_\(name).npz"))
            XCTAssertEqual(Set(ours.keys), Set(theirs.keys), name)
            for (k, v) in theirs { XCTAssertEqual(ours[k], v, "\(name): \(k)") }
        }
    }

    // MARK: - A Chainer trainer snapshot

    private struct SmallRun {
        let trainer: Trainer
        let model: Classifier
        let linear: Linear
    }

    /// Catena's equivalent of the fixture script's trainer: Classifier(Linear(3, 2)), a SerialIterator without
    /// shuffling (batch 4 of 10), Adam(alpha 0.05), LogReport every iteration, a snapshot every 3 iterations.
    private func smallRun(stopAt: Int, out: String) -> SmallRun {
        let linear = Linear(3, 2, rng: RandomState(seed: 77))
        let model = Classifier(linear)
        let optimizer = Adam(alpha: 0.05)
        optimizer.setup(model)
        let x = testArray([10, 3], scale: 1.5)
        let t = NDArray(values: (0..<10).map { Int32($0 % 2) }, shape: [10])
        let iterator = SerialIterator(TupleDataset(x, t), batchSize: 4, shuffle: false)
        let trainer = Trainer(updater: StandardUpdater(iterator: iterator, optimizer: optimizer),
                              stopTrigger: IntervalTrigger(Double(stopAt), .iteration), out: out)
        trainer.extend(LogReport(trigger: IntervalTrigger(1, .iteration)))
        trainer.extend(snapshot(), trigger: IntervalTrigger(3, .iteration))
        return SmallRun(trainer: trainer, model: model, linear: linear)
    }

    /// The snapshot Chainer wrote after 3 of 6 iterations loads (strictly) into the Catena trainer, which then
    /// finishes the run: its parameters after iteration 6 and its log's losses are those Chainer's own run reached.
    func testChainerTrainerSnapshotResumesInCatenaToChainersResult() throws {
        let run = smallRun(stopAt: 6, out: dirs.make("chainer-resume"))
        try loadNPZ(fixture("chainer_trainer_snapshot_iter_3.npz"), into: run.trainer)
        XCTAssertEqual(run.trainer.updater.iteration, 3)
        XCTAssertEqual(run.trainer.updater.epoch, 1)
        try run.trainer.run()

        let after = try npzDictionary(fixture("chainer_trainer_after_6.npz"))
        assertClose(run.linear.W.array, storedArray(after, "W")!, atol: 1e-6, rtol: 1e-5, "W after 6 iterations")
        assertClose(run.linear.b!.array, storedArray(after, "b")!, atol: 1e-6, rtol: 1e-5, "b after 6 iterations")
        let log = (run.trainer.getExtension("LogReport") as! LogReport).log
        XCTAssertEqual(log.map { $0["iteration"] }, [1, 2, 3, 4, 5, 6])
        let losses = try loadNPY(fixture("chainer_trainer_losses.npy"))
        // Rows 1–3 come from Chainer's snapshot, rows 4–6 are computed by Catena.
        assertClose(NDArray(log.map { $0["main/loss"]! }, shape: [6], dtype: .float64), losses, atol: 1e-6, rtol: 1e-5)
    }

    /// A Catena trainer snapshot has every key of Chainer's snapshot of the same trainer, with the same dtype and
    /// shape, and Catena's additions (generator states) only.
    func testTrainerSnapshotKeyLayoutIsChainers() throws {
        let out = dirs.make("layout")
        let run = smallRun(stopAt: 3, out: out)
        try run.trainer.run()
        let ours = try npzDictionary(out + "/snapshot_iter_3")
        let theirs = try npzDictionary(fixture("chainer_trainer_snapshot_iter_3.npz"))
        XCTAssertEqual(Set(theirs.keys).subtracting(ours.keys), [], "Chainer keys Catena does not write")
        XCTAssertEqual(Set(ours.keys).subtracting(theirs.keys), ["_global_rng/state", "updater/iterator:main/rng/state"],
                       "Catena's additions")
        for (key, theirValue) in theirs {
            switch (ours[key], theirValue) {
            case (.array(let a)?, .array(let b)):
                XCTAssertEqual(a.dtype, b.dtype, key)
                XCTAssertEqual(a.shape, b.shape, key)
                // Counters and positions agree exactly (the parameters differ: the initial weights do).
                if key.hasSuffix("/t") || key.hasSuffix("iteration") || key.hasSuffix("epoch") || key.hasSuffix("epoch_detail")
                    || key.hasSuffix("current_position") || key.hasSuffix("is_new_epoch") {
                    XCTAssertEqual(a.toDoubles(), b.toDoubles(), key)
                }
            case (.string?, .string): break
            default: XCTFail("\(key): Catena has \(String(describing: ours[key])), Chainer \(theirValue)")
            }
        }
        // The log is a JSON list of rows with Chainer's keys.
        guard case .string(let text)? = ours["extensions/LogReport/_log"],
              let rows = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            return XCTFail("extensions/LogReport/_log is not a JSON list")
        }
        XCTAssertEqual(rows.map { $0["iteration"] as? Int }, [1, 2, 3])
        XCTAssertEqual(Set(rows[0].keys), ["main/loss", "main/accuracy", "epoch", "iteration", "elapsed_time"])
    }
}
