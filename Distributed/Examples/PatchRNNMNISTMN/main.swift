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
import CatenaModels
import ExampleSupport
import Foundation

let parser = ArgumentParser(program: "patch-rnn-mnist-mn", summary: "Trains the patch RNN on MNIST data-parallel over MPI (run it with mpirun -np N).")
let options = PatchRNNOptions(parser, batchHelp: "examples per update on each process")
let out = parser.string("--out", default: "result-patch-mn", metavar: "DIR", help: "directory for the log, plots and snapshots (rank 0 writes)")
let resume = parser.flag("--resume", help: "continue from the newest snapshot in --out (every rank loads it)")
parser.notes = """
    Start it with mpirun: `mpirun -np 2 patch-rnn-mnist-mn --fashion` on one machine, or across machines with
    `mpirun -np 4 --hostfile hosts patch-rnn-mnist-mn …` (the binary and --out on every machine, on a shared
    file system for --resume). Each process uses one thread unless CATENA_NUM_THREADS says otherwise. Rank 0
    reads the data (--data applies to it) and scatters it.

    """ + PatchRNNOptions.notes

// One process per core: Catena's own threads would compete with the other ranks for the same cores.
if ProcessInfo.processInfo.environment["CATENA_NUM_THREADS"] == nil { CatenaRuntime.threads = 1 }

runExample(parser) {
    let comm = try createCommunicator()
    comm.abortingOnError {
        RandomState.global.seed(options.seed.value)
        let rng = RandomState(seed: options.seed.value)
        var train: TupleDataset?, valid: TupleDataset?
        if comm.rank == 0 { (train, valid, _) = try options.loadData() }
        let myTrain = try scatterDataset(train, comm, shuffle: true, seed: options.seed.value)
        let myValid = try scatterDataset(valid, comm)
        if comm.rank == 0 {
            print("\(comm.size) processes on \(comm.interSize) machine(s): \(myTrain.count) training and \(myValid.count) validation images each, \(options.batchSize.value * comm.size) examples per update.")
        }

        let model = Classifier(PatchRNN(patch: options.patch.value, units: options.units.value, rng: rng))
        comm.bcastData(model)
        let optimizer = createMultiNodeOptimizer(RMSprop(lr: options.lr.value, alpha: 0.99, eps: 1e-8), comm)
        optimizer.setup(model)

        // The same shuffling seed on every rank (each shuffles its own part), so that their epochs end together.
        let iterator = SerialIterator(myTrain, batchSize: options.batchSize.value, rng: RandomState(seed: rng.nextUInt64()))
        let updater = StandardUpdater(iterator: iterator, optimizer: optimizer)
        let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(options.epochs.value), .epoch), out: out.value)
        trainer.extend(createMultiNodeEvaluator(Evaluator(SerialIterator(myValid, batchSize: options.batchSize.value, repeats: false, shuffle: false), model), comm))
        trainer.extend(FailOnNonNumber())
        let snapshots = multiNodeSnapshot(comm, snapshot(autoload: resume.value))
        trainer.extend(snapshots, trigger: IntervalTrigger(1, .epoch))
        if comm.rank == 0 {
            trainer.extend(LogReport(trigger: IntervalTrigger(1, .epoch)))
            trainer.extend(PrintReport(["epoch", "main/loss", "main/accuracy", "validation/main/loss", "validation/main/accuracy", "elapsed_time"]))
            if !options.quiet.value { trainer.extend(ProgressBar(updateInterval: 10)) }
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
