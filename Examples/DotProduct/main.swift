// dot-product: a recurrent network with sigmoid units learns the dot product of two sequences fed one pair per step.
//
// The seed experiment ("Implementing a recurrent neural network in python", Theano): at each of 10 steps the
// network sees (x₀ᵗ, x₁ᵗ) and after the last it must output Σₜ x₀ᵗ·x₁ᵗ — it has to learn to multiply and to keep a
// running sum. Sigmoid hidden units, a linear output, mean squared error, SGD on one sequence at a time.
//
//   swift run -c release dot-product [--epochs N] [--units H] [--resume result-dot/snapshot_iter_N] …
import Catena
import ExampleSupport
import Foundation

/// h_t = σ(x_t·W_uhᵀ + h_{t-1}·W_hhᵀ + b_h), y = h_T·W_hyᵀ + b_hy.
final class DotProductRNN: Chain, UnaryLink {
    let rnn: SimpleRNN
    let out: Linear

    init(units: Int, initStd: Double, rng: RandomState) {
        rnn = SimpleRNN(2, units, activation: .sigmoid, upwardInit: Normal(scale: initStd), lateralInit: Normal(scale: initStd), biasInit: Zero(), rng: rng)
        out = Linear(units, 1, initialW: Normal(scale: initStd), rng: rng)
        super.init()
    }

    /// `x`: (batch, steps, 2).
    func callAsFunction(_ x: Variable) -> Variable {
        let steps = x.array.transposed([1, 0, 2]).contiguous()   // (steps, batch, 2)
        rnn.resetState()
        var h = x
        for t in 0..<steps.shape[0] { h = rnn(.constant(steps[t])) }
        return out(h)
    }
}

/// `count` sequences of `steps` pairs drawn uniformly from [low, high), and their dot products, shape (count, 1).
func makeData(count: Int, steps: Int, low: Double, high: Double, rng: RandomState) -> TupleDataset {
    let x = rng.uniform(shape: [count, steps, 2], low: low, high: high)
    let t = (x[.all, .all, 0] * x[.all, .all, 1]).sum(axis: 1).reshaped(count, 1)
    return TupleDataset(x, t)
}

let parser = ArgumentParser(program: "dot-product", summary: "Trains a sigmoid RNN to output the dot product of two sequences given one pair per step, and reports its error against the target's variance.")
let epochs = parser.int("--epochs", default: 20, in: 1...100_000, help: "passes over the training sequences")
let steps = parser.int("--steps", default: 10, in: 1...10_000, help: "pairs per sequence (the seed: 10)")
let units = parser.int("--units", default: 20, in: 1...4096, help: "hidden units")
let trainSize = parser.int("--train-size", default: 10_000, in: 1...10_000_000, help: "training sequences")
let testSize = parser.int("--test-size", default: 1000, in: 1...10_000_000, help: "test sequences")
let batchSize = parser.int("--batchsize", default: 1, in: 1...1_000_000, help: "sequences per update (the seed: 1)")
let lr = parser.double("--lr", default: 0.02, in: 1e-9...100, help: "SGD learning rate")
let initStd = parser.double("--init-std", default: 0.1, in: 1e-9...10, help: "std of the initial weights (the seed: 0.01)")
let low = parser.double("--low", default: 0, in: -1e6...1e6, help: "inputs are drawn uniformly from [low, high)")
let high = parser.double("--high", default: 1, in: -1e6...1e6, help: "see --low")
let seed = parser.uint64("--seed", default: 0, help: "random seed for data, weights and shuffling")
let out = parser.string("--out", default: "result-dot", metavar: "DIR", help: "directory for the log, plots and snapshots")
let resumeFrom = parser.optionalString("--resume", metavar: "FILE", help: "continue from a snapshot (with the same options)")
let quiet = parser.flag("--quiet", help: "no progress bar")
parser.require {
    if !(low.value < high.value) { throw UsageError("--low (\(low.value)) must be below --high (\(high.value))") }
    try requireMemory(checkedProduct([trainSize.value + testSize.value, steps.value, 2 * 4 * 2]), "--train-size and --test-size with --steps \(steps.value)")
}
parser.notes = """
    The seed used sigmoid units, weights from N(0, 0.01²), a linear output, mean squared error and SGD with one
    sequence per update; it does not say how many units or which inputs. relative_mse is the test error divided by
    the variance of the test targets (1 is what always predicting the mean gives).
    """

runExample(parser) {
    RandomState.global.seed(seed.value)
    let rng = RandomState(seed: seed.value)
    let train = makeData(count: trainSize.value, steps: steps.value, low: low.value, high: high.value, rng: rng)
    let test = makeData(count: testSize.value, steps: steps.value, low: low.value, high: high.value, rng: rng)
    let variance = test.arrays[1].variance().item()
    print(String(format: "%d training and %d test sequences of %d pairs; the test targets' variance is %.4f.", train.count, test.count, steps.value, variance))

    let model = Classifier(DotProductRNN(units: units.value, initStd: initStd.value, rng: rng), lossFunction: { F.meanSquaredError($0, $1) })
    model.computeAccuracy = false
    let optimizer = SGD(lr: lr.value)
    optimizer.setup(model)

    let iterator = SerialIterator(train, batchSize: batchSize.value, rng: RandomState(seed: rng.nextUInt64()))
    let updater = StandardUpdater(iterator: iterator, optimizer: optimizer)
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(epochs.value), .epoch), out: out.value)
    trainer.extend(Evaluator(SerialIterator(test, batchSize: 100, repeats: false, shuffle: false), model))
    trainer.extend(FailOnNonNumber())
    trainer.extend(LogReport(postprocess: { row in
        if let l = row["validation/main/loss"] { row.items.append((key: "relative_mse", value: l / variance, isInteger: false)) }
    }))
    trainer.extend(PrintReport(["epoch", "iteration", "main/loss", "validation/main/loss", "relative_mse", "elapsed_time"]))
    if !quiet.value { trainer.extend(ProgressBar(updateInterval: 1000)) }
    trainer.extend(PlotReport(["main/loss", "validation/main/loss"], xKey: "epoch", filename: "loss.svg", yScale: .log))
    trainer.extend(snapshot(), trigger: IntervalTrigger(1, .epoch))
    try resume(trainer, from: resumeFrom.value)
    try trainer.run()
    try requireFiniteLog(trainer, ["main/loss", "validation/main/loss"])
    let log = (trainer.getExtension("LogReport") as? LogReport)?.log ?? []
    if let mse = log.last?["validation/main/loss"] {
        print(String(format: "Test MSE %.5f: %.2f%% of the targets' variance %.4f.", mse, 100 * mse / variance, variance))
    }
    print("Log, plot (loss.svg) and snapshots are in \(out.value)/.")
}
