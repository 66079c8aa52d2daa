import Catena
import Foundation
import XCTest

/// The code of the DocC articles (Sources/Catena/Catena.docc), as written there (paths moved to a temporary
/// directory), checked for what the articles say it does. Keep the two in step.
final class DocumentationArticleTests: TemporaryDirectoryTestCase {
    final class MLP: Chain, UnaryLink {
        let l1 = Linear(nil, 50)
        let l2 = Linear(50, 3)
        func callAsFunction(_ x: Variable) -> Variable { l2(F.relu(l1(x))) }
    }

    /// GettingStarted.md
    func testGettingStarted() throws {
        let rng = RandomState(seed: 0)
        let x = rng.uniform(shape: [90, 4])
        let t = NDArray(values: (0..<90).map { Int32($0 % 3) }, shape: [90])

        let model = Classifier(MLP())
        let optimizer = Adam()
        optimizer.setup(model)
        let first = model(.constant(x), .constant(t)).item()
        for _ in 0..<100 {
            optimizer.update { model(.constant(x), .constant(t)) }
        }
        XCTAssertLessThan(model(.constant(x), .constant(t)).item(), first, "the loss falls")

        let out = tempDir("getting-started") + "/result"
        let updater = StandardUpdater(iterator: SerialIterator(TupleDataset(x, t), batchSize: 10), optimizer: optimizer)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(5, .epoch), out: out)
        trainer.extend(LogReport())
        trainer.extend(PrintReport(["epoch", "main/loss", "main/accuracy"], out: TextSink(isTerminal: false) { _ in }))
        try trainer.run()
        try saveNPZ(out + "/model.npz", model)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/log"))
        XCTAssertEqual(try readNPZ(out + "/model.npz").map(\.key).sorted(), ["predictor/l1/W", "predictor/l1/b", "predictor/l2/W", "predictor/l2/b"])
    }

    final class LanguageModel: Chain, UnaryLink {
        let embed = EmbedID(10, 16)
        let lstm = LSTM(16, 16)
        let out = Linear(16, 10)
        func callAsFunction(_ x: Variable) -> Variable { out(lstm(embed(x))) }
    }

    /// RecurrentNetworks.md
    func testRecurrentNetworks() throws {
        let x0 = Variable(testArray([2, 3])), x1 = Variable(testArray([2, 3], offset: 0.5))
        let lstm = LSTM(3, 8)
        lstm.resetState()
        var h = lstm(x0)
        h = lstm(x1)
        XCTAssertEqual(h.shape, [2, 8])
        let irnn = SimpleRNN.irnn(1, 100)
        XCTAssertEqual(irnn.activation, .relu)

        let seqA = Variable(testArray([5, 3])), seqB = Variable(testArray([2, 3], offset: 1))
        let encoder = NStepBiLSTM(2, 3, 8, 0.1)
        let (hy, cy, ys) = encoder(nil, nil, [seqA, seqB])
        XCTAssertEqual(ys.map(\.shape), [[5, 16], [2, 16]])
        XCTAssertEqual(hy.shape, [4, 2, 8])
        XCTAssertEqual(cy.shape, [4, 2, 8])

        // Time-major through the functional form with a link's weights (smaller than the article's 35 × 20 × 16):
        // the same outputs as the link given the sequences themselves.
        let embedded = Variable(testArray([5, 3, 4]))
        let lstm1 = NStepLSTM(1, 4, 6, 0)
        let h0 = Variable(testArray([1, 3, 6], offset: 0.2)), c0 = Variable(testArray([1, 3, 6], offset: -0.3))
        let steps = F.separate(embedded, axis: 0)
        let (hyT, cyT, ysT) = F.nStepLSTM(1, 0, h0, c0, lstm1.ws, lstm1.bs, steps)
        let outputs = F.stack(ysT, axis: 0)
        XCTAssertEqual(outputs.shape, [5, 3, 6])
        let (hyS, cyS, ysS) = lstm1(h0, c0, F.separate(F.transpose(embedded, axes: [1, 0, 2]), axis: 0))
        XCTAssertEqual(F.stack(ysS, axis: 1).array.toDoubles(), outputs.array.toDoubles())
        XCTAssertEqual(hyS.array.toDoubles(), hyT.array.toDoubles())
        XCTAssertEqual(cyS.array.toDoubles(), cyT.array.toDoubles())

        let tokens: [Int32] = (0..<2000).map { Int32($0 % 10) }
        let model = Classifier(LanguageModel())
        let optimizer = SGD(lr: 0.5)
        optimizer.setup(model)
        optimizer.addHook(GradientClipping(threshold: 5))
        let updater = BPTTUpdater(iterator: ParallelSequentialIterator(tokens, batchSize: 10), optimizer: optimizer, bpropLen: 20)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(2, .epoch), out: tempDir("rnn") + "/result")
        trainer.extend(LogReport())
        try trainer.run()
        let log = (trainer.getExtension("LogReport") as! LogReport).log
        // A sequence that cycles through 0…9 is learnt: far below the uniform guess, log(10).
        XCTAssertLessThan(log.last!["main/loss"]!, 0.5 * Foundation.log(10.0))
    }

    /// y = x³, dy/dx = 3x².
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
    func cube(_ x: Variable) -> Variable { Cube().apply(x) }

    /// WritingAFunction.md
    func testWritingAFunction() throws {
        try gradientCheck({ cube($0[0]) }, inputs: [NDArray([0.5, -1.2, 2.0])])
        try checkDoubleBackward({ [cube($0[0])] }, inputs: [NDArray([0.5, -1.2, 2.0])])
        // And a wrong derivative is caught.
        final class WrongCube: FunctionNode {
            override func forward(_ inputs: [NDArray]) -> [NDArray] {
                retainInputs([0])
                return [inputs[0] * inputs[0] * inputs[0]]
            }
            override func backward(_ indexes: [Int], _ gradOutputs: [Variable?]) -> [Variable?] {
                [gradOutputs[0].map { $0 * 2 * retainedInputs()[0] }]
            }
        }
        XCTAssertThrowsError(try gradientCheck({ WrongCube().apply($0[0]) }, inputs: [NDArray([0.5, -1.2, 2.0])]))
    }

    /// Performance.md
    func testPerformanceSettings() {
        let saved = CatenaRuntime.threads
        defer { CatenaRuntime.threads = saved }
        CatenaRuntime.threads = 1
        XCTAssertEqual(CatenaRuntime.threads, 1)
    }

    /// WorkingWithArrays.md
    func testArrays() {
        let a = NDArray([[1, 2, 3], [4, 5, 6]])
        XCTAssertEqual(a.dtype, .float32)
        XCTAssertEqual(a.shape, [2, 3])
        let b = NDArray.arange(6, dtype: .float64).reshaped(2, 3)
        let z = NDArray.zeros([2, 3]), r = RandomState(seed: 0).normal(shape: [3, 4])
        let s = a + 1, p = a * a, q = a.astype(.float64) / b
        let rows = a.sum(axis: 1)
        let m = NDArray.matmul(a, r)
        XCTAssertEqual(s.toDoubles(), [2, 3, 4, 5, 6, 7])
        XCTAssertEqual(p.toDoubles(), [1, 4, 9, 16, 25, 36])
        XCTAssertEqual(q.dtype, .float64)
        XCTAssertEqual(Array(q.toDoubles().dropFirst()), [2, 1.5, 4.0 / 3, 1.25, 1.2])
        XCTAssertEqual(z.toDoubles(), Array(repeating: 0, count: 6))
        XCTAssertEqual(rows.toDoubles(), [6, 15])
        XCTAssertEqual(a.sum(axis: 1, keepDims: true).shape, [2, 1])
        let av = a.toDoubles(), rv = r.toDoubles()
        var expected: [Double] = []
        for i in 0..<2 {
            for j in 0..<4 {
                var sum = 0.0
                for k in 0..<3 { sum += av[i * 3 + k] * rv[k * 4 + j] }
                expected.append(sum)
            }
        }
        assertClose(m, expected, atol: 1e-5)
        XCTAssertEqual((a + NDArray([10, 20, 30])).toDoubles(), [11, 22, 33, 14, 25, 36])

        let first = a[0]
        let column = a[.all, 1]
        let tail = a[.all, 1...]
        var c = a
        c[0, .all] = NDArray([7, 8, 9])
        XCTAssertEqual(first.toDoubles(), [1, 2, 3])
        XCTAssertEqual(column.toDoubles(), [2, 5])
        XCTAssertEqual(tail.toDoubles(), [2, 3, 5, 6])
        XCTAssertEqual(c.toDoubles(), [7, 8, 9, 4, 5, 6])
        XCTAssertEqual(a.toDoubles(), [1, 2, 3, 4, 5, 6], "a is unchanged")
        XCTAssertEqual(a[1, 2].item(), 6)
    }

    final class ArticleMLP: Chain, UnaryLink {
        let l1 = Linear(nil, 100)
        let l2 = Linear(100, 10)
        func callAsFunction(_ x: Variable) -> Variable { l2(F.relu(l1(x))) }
    }

    /// WritingAModel.md
    func testWritingAModel() {
        let x = RandomState(seed: 1).uniform(shape: [2, 784])
        let model = ArticleMLP()
        XCTAssertFalse(model.l1.W.isInitialized, "no data before the first call")
        let y = model(.constant(x))
        XCTAssertEqual(y.shape, [2, 10])
        XCTAssertEqual(model.l1.W.shape, [100, 784])
        XCTAssertEqual(model.namedParams().map(\.path), ["/l1/W", "/l1/b", "/l2/W", "/l2/b"])
        XCTAssertEqual(model.countParams(), 784 * 100 + 100 + 100 * 10 + 10)

        let mlp = Sequential(Linear(nil, 100), F.relu, Linear(100, 10))
        XCTAssertEqual(mlp(.constant(x)).shape, [2, 10])
        let copy = model.copy(mode: .copy) as! ArticleMLP
        XCTAssertEqual(copy.l2.W.array.toDoubles(), model.l2.W.array.toDoubles())
        copy.l2.W.array = copy.l2.W.array * 0
        XCTAssertNotEqual(model.l2.W.array.toDoubles(), copy.l2.W.array.toDoubles(), ".copy gives the copy its own parameters")
    }

    /// TrainingLoop.md
    func testTrainingLoop() throws {
        let rng = RandomState(seed: 2)
        let x = rng.uniform(shape: [60, 4]), vx = rng.uniform(shape: [30, 4])
        let t = NDArray(values: (0..<60).map { Int32($0 % 3) }, shape: [60]), vt = NDArray(values: (0..<30).map { Int32($0 % 3) }, shape: [30])
        let out = tempDir("training-loop") + "/result"

        let train = TupleDataset(x, t), valid = TupleDataset(vx, vt)
        let model = Classifier(MLP())
        let optimizer = MomentumSGD(lr: 0.05)
        optimizer.setup(model)
        let updater = StandardUpdater(iterator: SerialIterator(train, batchSize: 10), optimizer: optimizer)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(10, .epoch), out: out)
        trainer.extend(Evaluator(SerialIterator(valid, batchSize: 10, repeats: false, shuffle: false), model))
        trainer.extend(ExponentialShift("lr", rate: 0.5), trigger: IntervalTrigger(5, .epoch))
        trainer.extend(observeLR())
        trainer.extend(LogReport())
        trainer.extend(PrintReport(["epoch", "main/loss", "validation/main/accuracy", "lr"], out: TextSink(isTerminal: false) { _ in }))
        trainer.extend(PlotReport(["main/loss", "validation/main/loss"], xKey: "epoch", filename: "loss.svg"))
        trainer.extend(snapshot(), trigger: IntervalTrigger(5, .epoch))
        try trainer.run()

        let log = (trainer.getExtension("LogReport") as! LogReport).log
        XCTAssertEqual(log.count, 10, "one row per epoch")
        XCTAssertNotNil(log.last?["validation/main/accuracy"])
        XCTAssertEqual(optimizer.lr, 0.05 * 0.25, accuracy: 1e-15, "halved at epochs 5 and 10")
        XCTAssertEqual(log[0]["lr"], 0.05)
        for file in ["log", "loss.svg", "snapshot_iter_30", "snapshot_iter_60"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }

        let second = Trainer(updater: StandardUpdater(iterator: SerialIterator(train, batchSize: 10), optimizer: optimizer),
                             stopTrigger: IntervalTrigger(6, .epoch), out: tempDir("training-loop-2"))
        second.extend(makeExtension(name: "halve", trigger: IntervalTrigger(3, .epoch)) { trainer in
            trainer.updater.optimizer()!.lr *= 0.5
        })
        let before = optimizer.lr
        try second.run()
        XCTAssertEqual(optimizer.lr, before / 4, accuracy: 1e-15, "halved at epochs 3 and 6")
    }

    /// SnapshotsAndFiles.md
    func testSnapshotsAndFiles() throws {
        let dir = tempDir("snapshots-article")
        let rng = RandomState(seed: 3)
        let x = rng.uniform(shape: [20, 4]), t = NDArray(values: (0..<20).map { Int32($0 % 3) }, shape: [20])
        let model = Classifier(MLP())
        let optimizer = Adam()
        optimizer.setup(model)
        func makeTrainer(_ epochs: Double) -> Trainer {
            let trainer = Trainer(updater: StandardUpdater(iterator: SerialIterator(TupleDataset(x, t), batchSize: 5), optimizer: optimizer),
                                  stopTrigger: IntervalTrigger(epochs, .epoch), out: dir + "/result")
            trainer.extend(snapshot(autoload: true), trigger: IntervalTrigger(1, .epoch))
            return trainer
        }
        try makeTrainer(2).run()

        try saveNPZ(dir + "/model.npz", model)
        XCTAssertEqual(try readNPZ(dir + "/model.npz").map(\.key).sorted(), ["predictor/l1/W", "predictor/l1/b", "predictor/l2/W", "predictor/l2/b"])
        let fresh = Classifier(MLP())
        _ = fresh(.constant(x), .constant(t))
        try loadNPZ(dir + "/model.npz", into: fresh)
        XCTAssertEqual(fresh.params().map { $0.array.toDoubles() }, model.params().map { $0.array.toDoubles() })
        let fromSnapshot = Classifier(MLP())
        try loadNPZ(dir + "/result/snapshot_iter_8", into: fromSnapshot, path: "updater/model:main/")
        XCTAssertEqual(fromSnapshot.params().map { $0.array.toDoubles() }, model.params().map { $0.array.toDoubles() })

        // A damaged file: an error naming it, and the model as it was.
        var bytes = Array(FileManager.default.contents(atPath: dir + "/model.npz")!)
        bytes.removeLast(20)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/damaged.npz", contents: Data(bytes)))
        let kept = fresh.params().map { $0.array.toDoubles() }
        XCTAssertThrowsError(try loadNPZ(dir + "/damaged.npz", into: fresh)) { error in
            XCTAssertTrue(error is SerializationError)
            XCTAssertTrue("\(error)".contains("damaged.npz"), "\(error)")
        }
        XCTAssertEqual(fresh.params().map { $0.array.toDoubles() }, kept)

        // Resuming: a new trainer over the same directory starts from the newest snapshot.
        let resumed = makeTrainer(3)
        try resumed.run()
        XCTAssertEqual((resumed.getExtension("_Snapshot") as! Snapshot).autoloaded, dir + "/result/snapshot_iter_8")
        XCTAssertEqual(resumed.updater.iteration, 12)

        try saveNPY(dir + "/a.npy", x)
        XCTAssertEqual(try loadNPY(dir + "/a.npy").toDoubles(), x.toDoubles())
        let archive = try encodeNPZ([(key: "x", value: .array(x))])
        XCTAssertEqual(try decodeNPZ(archive, source: "memory").first?.key, "x")
    }
}

extension DocumentationArticleTests.ArticleMLP: DefaultInitializableLink {}
