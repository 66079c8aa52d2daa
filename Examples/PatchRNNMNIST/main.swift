// patch-rnn-mnist: a tanh RNN reads each image as 112 patches of 7 pixels and names the digit at the end.
//
// The seed experiment (MinPy's "RNN on MNIST" tutorial): 128 hidden units, recurrent weights starting as the
// identity and a zero bias, Xavier (Glorot) initialisation elsewhere, RMSprop at 2e-4, batches of 50, the first
// 5,000 training and 1,000 test images, each pixel normalised with the training set's mean and standard deviation.
//
//   swift run -c release patch-rnn-mnist --fashion [--epochs 20] [--resume result-patch/snapshot_iter_N] …
import Catena
import CatenaModels
import ExampleSupport
import Foundation

let parser = ArgumentParser(program: "patch-rnn-mnist", summary: "Trains a tanh RNN on MNIST read as 112 patches of 7 pixels and plots its validation accuracy per epoch.")
let options = PatchRNNOptions(parser)
let out = parser.string("--out", default: "result-patch", metavar: "DIR", help: "directory for the log, plots and snapshots")
let resumeFrom = parser.optionalString("--resume", metavar: "FILE", help: "continue from a snapshot")
parser.notes = PatchRNNOptions.notes

runExample(parser) {
    RandomState.global.seed(options.seed.value)
    let rng = RandomState(seed: options.seed.value)
    let (train, valid, dataName) = try options.loadData()
    print("Training on the first \(train.count) training images, validating on the first \(valid.count) test images.")

    let model = Classifier(PatchRNN(patch: options.patch.value, units: options.units.value, rng: rng))
    let optimizer = RMSprop(lr: options.lr.value, alpha: 0.99, eps: 1e-8)
    optimizer.setup(model)

    let iterator = SerialIterator(train, batchSize: options.batchSize.value, rng: RandomState(seed: rng.nextUInt64()))
    let updater = StandardUpdater(iterator: iterator, optimizer: optimizer)
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(options.epochs.value), .epoch), out: out.value)
    trainer.extend(Evaluator(SerialIterator(valid, batchSize: options.batchSize.value, repeats: false, shuffle: false), model))
    addReporting(trainer, entries: ["epoch", "main/loss", "main/accuracy", "validation/main/loss", "validation/main/accuracy", "elapsed_time"],
                 plots: [Plot(["main/accuracy", "validation/main/accuracy"], "accuracy.svg"), Plot(["main/loss", "validation/main/loss"], "loss.svg")],
                 xKey: "epoch", logEvery: { IntervalTrigger(1, .epoch) }, snapshotEvery: (1, .epoch),
                 quiet: options.quiet.value, progressInterval: 10)
    try resume(trainer, from: resumeFrom.value)
    let startEpoch = updater.epoch
    let start = DispatchTime.now().uptimeNanoseconds
    try trainer.run()
    try requireFiniteLog(trainer, ["main/loss"])
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let log = (trainer.getExtension("LogReport") as? LogReport)?.log ?? []
    if let accuracy = log.last?["validation/main/accuracy"] {
        print(String(format: "%@ validation accuracy after %d epochs: %.4f.", dataName, updater.epoch, accuracy))
    }
    if updater.epoch > startEpoch {
        print(String(format: "%.2f s per epoch of %d images (validation included).", seconds / Double(updater.epoch - startEpoch), train.count))
    }
    print("Log, plots (accuracy.svg, loss.svg) and snapshots are in \(out.value)/.")
}
