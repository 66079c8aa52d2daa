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
}
