// patch-rnn-mnist: a tanh RNN reads each image as 112 patches of 7 pixels and names the digit at the end.
//
// The seed experiment (MinPy's "RNN on MNIST" tutorial): 128 hidden units, recurrent weights starting as the
// identity and a zero bias, Xavier (Glorot) initialisation elsewhere, RMSprop at 2e-4, batches of 50, the first
// 5,000 training and 1,000 test images, each pixel normalised with the training set's mean and standard deviation.
//
//   swift run -c release patch-rnn-mnist --fashion [--epochs 20] [--resume result-patch/snapshot_iter_N] …
import Catena
import ExampleSupport
import Foundation

/// h_t = tanh(x_t·Wxᵀ + h_{t-1}·Whᵀ + b), h_0 = 0, scores = h_T·Waᵀ + ba.
final class PatchRNN: Chain, UnaryLink {
    let rnn: SimpleRNN
    let out: Linear
    let patch: Int

    init(patch: Int, units: Int, rng: RandomState) {
        self.patch = patch
        rnn = SimpleRNN(patch, units, activation: .tanh, upwardInit: GlorotUniform(), lateralInit: Identity(), biasInit: Zero(), rng: rng)
        out = Linear(units, 10, initialW: GlorotUniform(), rng: rng)
        super.init()
    }

    /// `x`: (batch, 784) normalised pixels, read `patch` at a time.
    func callAsFunction(_ x: Variable) -> Variable {
        let batch = x.shape[0], steps = x.shape[1] / patch
        let sequence = x.array.reshaped(batch, steps, patch).transposed([1, 0, 2]).contiguous()   // (steps, batch, patch)
        rnn.resetState()
        var h = x
        for t in 0..<steps { h = rnn(.constant(sequence[t])) }
        return out(h)
    }
}

let parser = ArgumentParser(program: "patch-rnn-mnist", summary: "Trains a tanh RNN on MNIST read as 112 patches of 7 pixels and plots its validation accuracy per epoch.")
let epochs = parser.int("--epochs", default: 20, in: 1...10_000, help: "passes over the training images (the seed: 100)")
let batchSize = parser.int("--batchsize", default: 50, in: 1...60_000, help: "examples per update")
let units = parser.int("--units", default: 128, in: 1...4096, help: "hidden units")
let patch = parser.int("--patch", default: 7, in: 1...784, help: "pixels per step; must divide 784")
let lr = parser.double("--lr", default: 2e-4, in: 1e-12...10, help: "RMSprop learning rate")
let trainSize = parser.int("--train-size", default: 5000, in: 1...60_000, help: "the first N training images are trained on")
let testSize = parser.int("--test-size", default: 1000, in: 1...10_000, help: "the first N test images are the validation set")
let fashion = parser.flag("--fashion", help: "Fashion-MNIST instead of MNIST (Debian: apt-get install dataset-fashion-mnist)")
let data = parser.optionalString("--data", metavar: "DIR", help: "directory holding the four IDX files (default: the standard places)")
let seed = parser.uint64("--seed", default: 0, help: "random seed for weights and shuffling")
let out = parser.string("--out", default: "result-patch", metavar: "DIR", help: "directory for the log, plots and snapshots")
let resumeFrom = parser.optionalString("--resume", metavar: "FILE", help: "continue from a snapshot")
let quiet = parser.flag("--quiet", help: "no progress bar")
parser.require {
    if 784 % patch.value != 0 { throw UsageError("--patch (\(patch.value)) must divide the 784 pixels of an image") }
}
parser.notes = """
    The normalisation is the seed's: mean and std (ddof 0) per pixel over all 60,000 training images, then
    x → (x − mean) / (std + 1e-5) for training and validation images alike.

    Data is read from --data DIR, else $CATENA_DATASET_ROOT/mnist (or /fashion-mnist), ~/.catena/dataset/...,
    /usr/share/datasets/... (Fashion-MNIST: apt-get install dataset-fashion-mnist). Nothing is downloaded.
    """

runExample(parser) {
    RandomState.global.seed(seed.value)
    let rng = RandomState(seed: seed.value)
    let digits = try loadDigits(fashion: fashion.value, directory: data.value, scale: 255, dtype: .float32)
    // Per-pixel statistics of the whole training set, as the seed computes them before taking its subset.
    let all = digits.train.arrays[0]
    let mean = all.mean(axis: 0), std = (all - mean).std(axis: 0) + 1e-5
    func normalised(_ d: TupleDataset, _ n: Int) -> TupleDataset {
        let part = firstExamples(d, n)
        return TupleDataset((part.arrays[0] - mean) / std, part.arrays[1])
    }
    let train = normalised(digits.train, trainSize.value), valid = normalised(digits.test, testSize.value)
    print("Training on the first \(train.count) training images, validating on the first \(valid.count) test images.")

    let model = Classifier(PatchRNN(patch: patch.value, units: units.value, rng: rng))
    let optimizer = RMSprop(lr: lr.value, alpha: 0.99, eps: 1e-8)
    optimizer.setup(model)

    let iterator = SerialIterator(train, batchSize: batchSize.value, rng: RandomState(seed: rng.nextUInt64()))
    let updater = StandardUpdater(iterator: iterator, optimizer: optimizer)
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(epochs.value), .epoch), out: out.value)
    trainer.extend(Evaluator(SerialIterator(valid, batchSize: batchSize.value, repeats: false, shuffle: false), model))
    addReporting(trainer, entries: ["epoch", "main/loss", "main/accuracy", "validation/main/loss", "validation/main/accuracy", "elapsed_time"],
                 plots: [Plot(["main/accuracy", "validation/main/accuracy"], "accuracy.svg"), Plot(["main/loss", "validation/main/loss"], "loss.svg")],
                 xKey: "epoch", logEvery: { IntervalTrigger(1, .epoch) }, snapshotEvery: (1, .epoch),
                 quiet: quiet.value, progressInterval: 10)
    try resume(trainer, from: resumeFrom.value)
    let startEpoch = updater.epoch
    let start = DispatchTime.now().uptimeNanoseconds
    try trainer.run()
    try requireFiniteLog(trainer, ["main/loss"])
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let log = (trainer.getExtension("LogReport") as? LogReport)?.log ?? []
    if let accuracy = log.last?["validation/main/accuracy"] {
        print(String(format: "%@ validation accuracy after %d epochs: %.4f.", digits.name, updater.epoch, accuracy))
    }
    if updater.epoch > startEpoch {
        print(String(format: "%.2f s per epoch of %d images (validation included).", seconds / Double(updater.epoch - startEpoch), train.count))
    }
    print("Log, plots (accuracy.svg, loss.svg) and snapshots are in \(out.value)/.")
}
