// patch-rnn-mnist-mn: the patch-RNN seed experiment (patch-rnn-mnist) trained data-parallel over MPI, as
// ChainerMN's MNIST example is: one process per core or machine, each on its share of the data, the gradients
// averaged after every backward pass.
//
//   mpirun -np 2 Distributed/.build/release/patch-rnn-mnist-mn --fashion [--epochs 20] [--resume] …
//
// Rank 0 reads and normalises the images and scatters them; every rank trains on its part with batches of
// `--batchsize`, so an update sees batchsize × ranks examples; the log table, plots and progress bar are rank 0's.
import Catena
import CatenaMN
import ExampleSupport
import Foundation

/// h_t = tanh(x_t·Wxᵀ + h_{t-1}·Whᵀ + b), h_0 = 0, scores = h_T·Waᵀ + ba (the model of patch-rnn-mnist).
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

let parser = ArgumentParser(program: "patch-rnn-mnist-mn", summary: "Trains the patch RNN on MNIST data-parallel over MPI (run it with mpirun -np N).")
let epochs = parser.int("--epochs", default: 20, in: 1...10_000, help: "passes over the training images")
let batchSize = parser.int("--batchsize", default: 50, in: 1...60_000, help: "examples per update on each process")
let units = parser.int("--units", default: 128, in: 1...4096, help: "hidden units")
let patch = parser.int("--patch", default: 7, in: 1...784, help: "pixels per step; must divide 784")
let lr = parser.double("--lr", default: 2e-4, in: 1e-12...10, help: "RMSprop learning rate")
let trainSize = parser.int("--train-size", default: 5000, in: 1...60_000, help: "the first N training images are trained on")
let testSize = parser.int("--test-size", default: 1000, in: 1...10_000, help: "the first N test images are the validation set")
let fashion = parser.flag("--fashion", help: "Fashion-MNIST instead of MNIST (Debian: apt-get install dataset-fashion-mnist)")
let data = parser.optionalString("--data", metavar: "DIR", help: "directory holding the four IDX files, read by rank 0 (default: the standard places)")
let seed = parser.uint64("--seed", default: 0, help: "random seed for weights and shuffling")
let out = parser.string("--out", default: "result-patch-mn", metavar: "DIR", help: "directory for the log, plots and snapshots (rank 0 writes)")
let resume = parser.flag("--resume", help: "continue from the newest snapshot in --out (every rank loads it)")
let quiet = parser.flag("--quiet", help: "no progress bar")
parser.require {
    if 784 % patch.value != 0 { throw UsageError("--patch (\(patch.value)) must divide the 784 pixels of an image") }
}
parser.notes = """
    Start it with mpirun: `mpirun -np 2 patch-rnn-mnist-mn --fashion` on one machine, or across machines with
    `mpirun -np 4 --hostfile hosts patch-rnn-mnist-mn …` (the binary and --out on every machine, on a shared
    file system for --resume). Each process uses one thread unless CATENA_NUM_THREADS says otherwise.

    The normalisation is patch-rnn-mnist's: mean and std (ddof 0) per pixel over all 60,000 training images,
    computed on rank 0 before the data is scattered.
    """

// One process per core: Catena's own threads would compete with the other ranks for the same cores.
if ProcessInfo.processInfo.environment["CATENA_NUM_THREADS"] == nil { CatenaRuntime.threads = 1 }

runExample(parser) {
    let comm = try createCommunicator()
    comm.abortingOnError {
        RandomState.global.seed(seed.value)
        let rng = RandomState(seed: seed.value)
        var train: TupleDataset?, valid: TupleDataset?
        if comm.rank == 0 {
            let digits = try loadDigits(fashion: fashion.value, directory: data.value, scale: 255, dtype: .float32)
            let all = digits.train.arrays[0]
            let mean = all.mean(axis: 0), std = (all - mean).std(axis: 0) + 1e-5
            func normalised(_ d: TupleDataset, _ n: Int) -> TupleDataset {
                let part = firstExamples(d, n)
                return TupleDataset((part.arrays[0] - mean) / std, part.arrays[1])
            }
            train = normalised(digits.train, trainSize.value)
            valid = normalised(digits.test, testSize.value)
        }
        let myTrain = try scatterDataset(train, comm, shuffle: true, seed: seed.value)
        let myValid = try scatterDataset(valid, comm)
        if comm.rank == 0 {
            print("\(comm.size) processes on \(comm.interSize) machine(s): \(myTrain.count) training and \(myValid.count) validation images each, \(batchSize.value * comm.size) examples per update.")
        }

        let model = Classifier(PatchRNN(patch: patch.value, units: units.value, rng: rng))
        comm.bcastData(model)
        let optimizer = createMultiNodeOptimizer(RMSprop(lr: lr.value, alpha: 0.99, eps: 1e-8), comm)
        optimizer.setup(model)

        // The same shuffling seed on every rank (each shuffles its own part), so that their epochs end together.
        let iterator = SerialIterator(myTrain, batchSize: batchSize.value, rng: RandomState(seed: rng.nextUInt64()))
        let updater = StandardUpdater(iterator: iterator, optimizer: optimizer)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(epochs.value), .epoch), out: out.value)
        trainer.extend(createMultiNodeEvaluator(Evaluator(SerialIterator(myValid, batchSize: batchSize.value, repeats: false, shuffle: false), model), comm))
        trainer.extend(FailOnNonNumber())
        let snapshots = multiNodeSnapshot(comm, snapshot(autoload: resume.value))
        trainer.extend(snapshots, trigger: IntervalTrigger(1, .epoch))
        if comm.rank == 0 {
            trainer.extend(LogReport(trigger: IntervalTrigger(1, .epoch)))
            trainer.extend(PrintReport(["epoch", "main/loss", "main/accuracy", "validation/main/loss", "validation/main/accuracy", "elapsed_time"]))
            if !quiet.value { trainer.extend(ProgressBar(updateInterval: 10)) }
            trainer.extend(PlotReport(["main/accuracy", "validation/main/accuracy"], xKey: "epoch", trigger: IntervalTrigger(1, .epoch), filename: "accuracy.svg"))
            trainer.extend(PlotReport(["main/loss", "validation/main/loss"], xKey: "epoch", trigger: IntervalTrigger(1, .epoch), filename: "loss.svg"))
        }
        let startEpoch = updater.epoch
        let start = DispatchTime.now().uptimeNanoseconds
        try trainer.run()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if comm.rank == 0 {
            if let path = snapshots.autoloaded { print("(Resumed from \(path), which every process loaded.)") }
            try requireFiniteLog(trainer, ["main/loss"])
            if let accuracy = lastLogged(trainer, "validation/main/accuracy") {
                print(String(format: "Validation accuracy after %d epochs: %.4f.", updater.epoch, accuracy))
            }
            if updater.epoch > startEpoch {
                print(String(format: "%.2f s per epoch (validation included) on %d processes.", seconds / Double(updater.epoch - startEpoch), comm.size))
            }
            print("Log, plots (accuracy.svg, loss.svg) and snapshots are in \(out.value)/.")
        }
    }
}
