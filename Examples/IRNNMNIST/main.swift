// irnn-mnist: an IRNN reads MNIST (or Fashion-MNIST) one pixel at a time and names the digit after 784 steps.
//
// The seed experiment ("Implementing Recurrent Neural Net using chainer!", after Le, Jaitly & Hinton 2015, §4.2):
// 100 ReLU units whose recurrent weights start as the identity, the other weights drawn from N(0, σ²), plain SGD
// on batches of 16, optional gradient clipping; each pixel (0…255) goes in through an EmbedID, as the seed does,
// or scaled to [0, 1] through a Linear layer.
//
//   swift run -c release irnn-mnist --fashion [--epochs N] [--resume result-irnn/snapshot_iter_N] …
import Catena
import ExampleSupport
import Foundation

/// h_t = relu(input(x_t) + h_{t-1}·Wᵀ + b), h_0 = 0; the scores are a Linear layer on h_784.
final class IRNN: Chain, UnaryLink {
    /// Pixel value (0…255) to units, for `--input embed` (no bias, as the seed's EmbedID).
    let pixelEmbed: EmbedID?
    /// Scaled pixel (one value in [0, 1]) to units, for `--input linear`.
    let pixelLinear: Linear?
    let hToH: Linear
    let hToY: Linear
    let units: Int

    init(units: Int, embed: Bool, initStd: Double, rng: RandomState) {
        self.units = units
        pixelEmbed = embed ? EmbedID(256, units, initialW: Normal(scale: initStd), rng: rng) : nil
        pixelLinear = embed ? nil : Linear(1, units, nobias: true, initialW: Normal(scale: initStd), rng: rng)
        hToH = Linear(units, units, initialW: Identity(), rng: rng)
        hToY = Linear(units, 10, initialW: Normal(scale: initStd), rng: rng)
        super.init()
    }

    /// `x`: (batch, steps) pixels, int32 ids for the EmbedID or float32 values for the Linear input.
    func callAsFunction(_ x: Variable) -> Variable {
        let batch = x.shape[0], steps = x.shape[1]
        let columns = x.array.transposed().contiguous()       // (steps, batch): each step's pixels are one row
        var h = Variable.constant(NDArray.zeros([batch, units]))
        for t in 0..<steps {
            let pixels = columns[t]
            let input = pixelEmbed.map { $0(.constant(pixels)) } ?? pixelLinear!(.constant(pixels.reshaped(batch, 1)))
            h = F.relu(input + hToH(h))
        }
        return hToY(h)
    }
}

let parser = ArgumentParser(program: "irnn-mnist", summary: "Trains an IRNN on MNIST read pixel by pixel (784 steps) and reports its accuracy.")
let epochs = parser.int("--epochs", default: 1, in: 1...10_000, help: "passes over the training set")
let batchSize = parser.int("--batchsize", default: 16, in: 1...60_000, help: "examples per update (the seed and paper: 16)")
let units = parser.int("--units", default: 100, in: 1...4096, help: "recurrent units (the seed and paper: 100)")
let lr = parser.double("--lr", default: 1e-3, in: 1e-12...10, help: "SGD learning rate")
let clip = parser.double("--clip", default: 1, in: 0...1e6, help: "gradient norm clipping threshold, 0 for none (the paper: 1; the seed: none)")
let initStd = parser.double("--init-std", default: 0.01, in: 1e-9...10, help: "std of the input and output weights (the seed: 0.01; the paper: 0.001)")
let input = parser.choice("--input", default: "embed", from: ["embed", "linear"], help: "pixels as ids through an EmbedID over 0…255 (the seed), or scaled to [0, 1] through a Linear layer")
let fashion = parser.flag("--fashion", help: "Fashion-MNIST instead of MNIST (Debian: apt-get install dataset-fashion-mnist)")
let data = parser.optionalString("--data", metavar: "DIR", help: "directory holding the four IDX files (default: the standard places, see below)")
let trainSize = parser.int("--train-size", default: 0, in: 0...60_000, help: "use only the first N training images (0: all)")
let testSize = parser.int("--test-size", default: 0, in: 0...10_000, help: "evaluate on the first N test images (0: all)")
let logInterval = parser.int("--log-interval", default: 100, in: 1...1_000_000, help: "iterations per log row and plot point (and one at the end of each epoch)")
let snapshotInterval = parser.int("--snapshot-interval", default: 1000, in: 1...1_000_000, help: "iterations between snapshots (also one per epoch)")
let seed = parser.uint64("--seed", default: 0, help: "random seed for weights and shuffling")
let out = parser.string("--out", default: "result-irnn", metavar: "DIR", help: "directory for the log, plots and snapshots")
let resumeFrom = parser.optionalString("--resume", metavar: "FILE", help: "continue from a snapshot")
let quiet = parser.flag("--quiet", help: "no progress bar")
parser.notes = """
    The seed trained with lr 1e-8, no clipping and σ = 0.01; the paper with lr 1e-8, clipping at 1 and σ = 0.001.
    An lr of 1e-8 does not move the loss in a few hundred updates; the default here (lr 1e-3, clipping at 1)
    does. An epoch of 60,000 images is 3,750 updates of 784 steps each.

    Data is read from --data DIR, else $CATENA_DATASET_ROOT/mnist (or /fashion-mnist), ~/.catena/dataset/...,
    /usr/share/datasets/... (Fashion-MNIST: apt-get install dataset-fashion-mnist). Nothing is downloaded.

    example: irnn-mnist --fashion --epochs 1 --train-size 4000
    """

runExample(parser) {
    RandomState.global.seed(seed.value)
    let rng = RandomState(seed: seed.value)
    let embed = input.value == "embed"
    // Ids 0…255 for the EmbedID; values in [0, 1] for the Linear input.
    let digits = try loadDigits(fashion: fashion.value, directory: data.value, scale: embed ? 255 : 1, dtype: embed ? .int32 : .float32)
    let train = firstExamples(digits.train, trainSize.value), test = firstExamples(digits.test, testSize.value)

    let model = Classifier(IRNN(units: units.value, embed: embed, initStd: initStd.value, rng: rng))
    let optimizer = SGD(lr: lr.value)
    optimizer.setup(model)
    if clip.value > 0 { optimizer.addHook(GradientClipping(threshold: clip.value)) }

    let iterator = SerialIterator(train, batchSize: batchSize.value, rng: RandomState(seed: rng.nextUInt64()))
    let updater = StandardUpdater(iterator: iterator, optimizer: optimizer)
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(epochs.value), .epoch), out: out.value)
    trainer.extend(Evaluator(SerialIterator(test, batchSize: 100, repeats: false, shuffle: false), model))
    addReporting(trainer, entries: ["epoch", "iteration", "main/loss", "main/accuracy", "validation/main/loss", "validation/main/accuracy", "elapsed_time"],
                 plots: [Plot(["main/loss", "validation/main/loss"], "loss.svg"), Plot(["main/accuracy", "validation/main/accuracy"], "accuracy.svg")],
                 xKey: "iteration", logEvery: { IterationsOrEpochTrigger(logInterval.value) },
                 snapshotEvery: (Double(snapshotInterval.value), .iteration), quiet: quiet.value, progressInterval: 10)
    trainer.extend(snapshot(filename: "snapshot_epoch_{epoch}"), name: "epoch_snapshot", trigger: IntervalTrigger(1, .epoch))
    print("IRNN: \(units.value) ReLU units, \(embed ? "EmbedID" : "Linear") input, SGD lr \(lr.value), clipping \(clip.value > 0 ? "at \(clip.value)" : "off"), batch \(batchSize.value), σ \(initStd.value).")
    try resume(trainer, from: resumeFrom.value)
    let startIteration = updater.iteration
    let start = DispatchTime.now().uptimeNanoseconds
    try trainer.run()
    try requireFiniteLog(trainer, ["main/loss"])
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let done = updater.iteration - startIteration
    if let accuracy = lastLogged(trainer, "validation/main/accuracy") {
        print(String(format: "%@ test accuracy after %d updates: %.4f.", digits.name, updater.iteration, accuracy))
    }
    if done > 0 { print(String(format: "%.4f s per batch of %d (training and evaluation included).", seconds / Double(done), batchSize.value)) }
    print("Log, plots (loss.svg, accuracy.svg) and snapshots are in \(out.value)/.")
}
