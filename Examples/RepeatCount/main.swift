// repeat-count: an RNN learns the sequence 1 2 2 3 3 3 … 9 9 9 (each i repeated i times).
//
// To predict the token after a run of 9s, the network has to count how many it has seen. Training follows
// Chainer's PTB example: 20 parallel streams over the sequence (ParallelSequentialIterator), truncated
// backpropagation through time (BPTTUpdater), Adam (or SGD) with gradient clipping, an Evaluator on a held-out stretch,
// logs, plots and a snapshot every epoch.
//
//   swift run -c release repeat-count [--epochs N] [--model lstm|rnn|gru] [--resume result/snapshot_iter_N] …
import Catena
import CatenaModels
import ExampleSupport
import Foundation

let parser = ArgumentParser(program: "repeat-count", summary: "Trains an RNN on the sequence 1 2 2 3 3 3 … 9 (each i repeated i times) and prints what it generates.")
let epochs = parser.int("--epochs", default: 5, in: 1...100_000, help: "passes over the training sequence")
let batchSize = parser.int("--batchsize", default: 20, in: 1...100_000, help: "parallel streams")
let bpropLen = parser.int("--bproplen", default: 35, in: 1...100_000, help: "time steps per update, truncated BPTT")
let units = parser.int("--units", default: 100, in: 1...8192, help: "recurrent units")
let model = parser.choice("--model", default: "lstm", from: RNNCellKind.allCases.map(\.rawValue), help: "lstm, rnn (tanh) or gru")
let dropout = parser.double("--dropout", default: 0, in: 0...0.99, help: "dropout ratio before and after the recurrent layer")
let optimizerName = parser.choice("--optimizer", default: "adam", from: ["adam", "sgd"], help: "adam or sgd (both clip the gradient norm at 5)")
let lr = parser.double("--lr", default: 0.005, in: 1e-12...1e6, help: "learning rate", defaultText: "0.005 for adam; 1.0 for sgd, as in Chainer's PTB example")
let tokens = parser.int("--tokens", default: 100_000, in: 2...1_000_000_000, help: "length of the training sequence")
let seed = parser.uint64("--seed", default: 0, help: "random seed for weights, dropout and shuffling")
let out = parser.string("--out", default: "result", metavar: "DIR", help: "directory for the log, plots and snapshots")
let resumeFrom = parser.optionalString("--resume", metavar: "FILE", help: "continue from a snapshot (e.g. result/snapshot_iter_286)")
let quiet = parser.flag("--quiet", help: "no progress bar")
parser.require {
    if tokens.value < batchSize.value * 2 { throw UsageError("--tokens (\(tokens.value)) must be at least twice --batchsize (\(batchSize.value))") }
    // What the options make the run hold at once: the sequence, the weights, and one update's graph (every step
    // keeps a few (batch, 4·units) activations and their gradients).
    let graph = checkedProduct([bpropLen.value, batchSize.value, units.value, 4 * 4 * 8])
    let weights = checkedProduct([units.value, units.value, 4 * 4 * 4])
    let total = graph.flatMap { g in weights.map { g.addingReportingOverflow($0) } }.flatMap { $0.overflow ? nil : $0.partialValue + 4 * tokens.value }
    try requireMemory(total, "--units \(units.value) with --batchsize \(batchSize.value) and --bproplen \(bpropLen.value)")
}

/// Greedy generation from a fresh state: feed the seed tokens, then each prediction.
func generate(_ model: RNNLanguageModel, seed: [Int32], count: Int) -> [Int32] {
    model.resetState()
    var out = seed
    usingConfig(\.train, false) {
        noBackpropMode {
            var y: Variable? = nil
            for token in seed { y = model(.constant(NDArray(values: [token], shape: [1]))) }
            while out.count < count, let scores = y {
                let token = Int32(scores.array.argmax(axis: 1).item())
                out.append(token)
                y = model(.constant(NDArray(values: [token], shape: [1])))
            }
        }
    }
    model.resetState()
    return out
}

runExample(parser) {
    RandomState.global.seed(seed.value)
    let train = repeatCountSequence(length: tokens.value)
    let valid = repeatCountSequence(length: 10_000, offset: 7)

    let rnn = RNNLanguageModel(vocabularySize: 10, units: units.value, cell: RNNCellKind(rawValue: model.value)!, dropout: dropout.value,
                               rng: RandomState(seed: seed.value))
    rnn.serializesState = true   // snapshots keep the streams' LSTM state, so --resume continues bit for bit
    let model = Classifier(rnn)
    let evalModel = model.copy(mode: .share) as! Classifier   // shares the weights, keeps its own RNN state

    let optimizer: Optimizer = optimizerName.value == "sgd" ? SGD(lr: lr.isSet ? lr.value : 1.0) : Adam(alpha: lr.value)
    optimizer.setup(model)
    optimizer.addHook(GradientClipping(threshold: 5))

    let trainIter = ParallelSequentialIterator(train, batchSize: batchSize.value)
    let validIter = ParallelSequentialIterator(valid, batchSize: 5, repeats: false)
    let updater = BPTTUpdater(iterator: trainIter, optimizer: optimizer, bpropLen: bpropLen.value)
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(epochs.value), .epoch), out: out.value)

    trainer.extend(Evaluator(tokens: validIter, evalModel) { (evalModel.predictor as! RNNLanguageModel).resetState() })
    trainer.extend(FailOnNonNumber())   // a diverging run (too large an --lr) stops with a message and exit status 1
    trainer.extend(LogReport())
    trainer.extend(PrintReport(["epoch", "iteration", "main/loss", "main/accuracy", "validation/main/loss",
                                "validation/main/accuracy", "elapsed_time"]))
    if !quiet.value { trainer.extend(ProgressBar(updateInterval: 10)) }
    trainer.extend(PlotReport(["main/loss", "validation/main/loss"], xKey: "epoch", filename: "loss.svg", yScale: .log))
    trainer.extend(PlotReport(["main/accuracy", "validation/main/accuracy"], xKey: "epoch", filename: "accuracy.svg"))
    trainer.extend(snapshot(), trigger: IntervalTrigger(1, .epoch))

    try resume(trainer, from: resumeFrom.value)
    try trainer.run()
    try requireFiniteLog(trainer, ["main/loss", "validation/main/loss"])

    let log = (trainer.getExtension("LogReport") as? LogReport)?.log ?? []
    if let accuracy = log.last?["validation/main/accuracy"] {
        print(String(format: "Validation next-token accuracy: %.4f", accuracy))
    }
    // From a fresh state a lone 1 could be any point of a run (training streams start mid-pattern), so the model
    // first reads one whole cycle of the pattern, then continues on its own.
    let cycle = repeatCountSequence(length: 45)
    print("After reading one cycle (1 2 2 3 3 3 … 9), the model generates:")
    print(generate(rnn, seed: cycle, count: 45 + 60).dropFirst(45).map(String.init).joined(separator: " "))
    print("Log, plots (loss.svg, accuracy.svg) and snapshots are in \(out.value)/.")
}

