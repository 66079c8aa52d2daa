// repeat-count: an RNN learns the sequence 1 2 2 3 3 3 … 9 9 9 (each i repeated i times).
//
// To predict the token after a run of 9s, the network has to count how many it has seen. Training follows
// Chainer's PTB example: 20 parallel streams over the sequence (ParallelSequentialIterator), truncated
// backpropagation through time (BPTTUpdater), Adam (or SGD) with gradient clipping, an Evaluator on a held-out stretch,
// logs, plots and a snapshot every epoch.
//
//   swift run -c release repeat-count [--epochs N] [--model lstm|rnn|gru] [--resume result/snapshot_iter_N] …
import Catena
import Foundation

struct Options {
    var epochs = 5
    var batchSize = 20
    var bpropLen = 35
    var units = 100
    var model = RNNCellKind.lstm
    var seed: UInt64 = 0
    var out = "result"
    var resume: String?
    var dropout = 0.0
    var tokens = 100_000
    var validTokens = 10_000
    var quiet = false
    var optimizer = "adam"
    var lr: Double?

    static let usage = """
        usage: repeat-count [options]

        Trains an RNN on the sequence 1 2 2 3 3 3 … 9 (each i repeated i times) and prints what it generates.

        options:
          --epochs N        passes over the training sequence (default 5)
          --batchsize N     parallel streams (default 20)
          --bproplen N      time steps per update, truncated BPTT (default 35)
          --units N         recurrent units (default 100)
          --model KIND      lstm, rnn (tanh) or gru (default lstm)
          --dropout R       dropout ratio before and after the recurrent layer (default 0)
          --optimizer NAME  adam or sgd (default adam; both clip the gradient norm at 5)
          --lr X            learning rate (default 0.005 for adam; 1.0 for sgd, as in Chainer's PTB example)
          --tokens N        length of the training sequence (default 100000)
          --seed N          random seed for weights, dropout and shuffling (default 0)
          --out DIR         directory for the log, plots and snapshots (default result)
          --resume FILE     continue from a snapshot (e.g. result/snapshot_iter_286)
          --quiet           no progress bar
          --help            show this help
        """

    init(_ args: [String]) throws {
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError("\(flag) needs a value") }
            return args[i]
        }
        func positive(_ flag: String) throws -> Int {
            let v = try value(flag)
            guard let n = Int(v), n > 0 else { throw UsageError("\(flag) needs a positive integer, got '\(v)'") }
            return n
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--epochs": epochs = try positive(a)
            case "--batchsize": batchSize = try positive(a)
            case "--bproplen": bpropLen = try positive(a)
            case "--units": units = try positive(a)
            case "--tokens": tokens = try positive(a)
            case "--model":
                let v = try value(a)
                guard let m = RNNCellKind(rawValue: v) else { throw UsageError("--model must be lstm, rnn or gru, got '\(v)'") }
                model = m
            case "--dropout":
                let v = try value(a)
                guard let r = Double(v), r >= 0, r < 1 else { throw UsageError("--dropout needs a ratio in [0, 1), got '\(v)'") }
                dropout = r
            case "--seed":
                let v = try value(a)
                guard let s = UInt64(v) else { throw UsageError("--seed needs a non-negative integer, got '\(v)'") }
                seed = s
            case "--optimizer":
                let v = try value(a)
                guard v == "adam" || v == "sgd" else { throw UsageError("--optimizer must be adam or sgd, got '\(v)'") }
                optimizer = v
            case "--lr":
                let v = try value(a)
                guard let x = Double(v), x > 0, x.isFinite else { throw UsageError("--lr needs a positive number, got '\(v)'") }
                lr = x
            case "--out": out = try value(a)
            case "--resume": resume = try value(a)
            case "--quiet": quiet = true
            case "--help", "-h": throw UsageError(nil)
            default: throw UsageError("unknown option '\(a)'")
            }
            i += 1
        }
        if tokens < batchSize * 2 { throw UsageError("--tokens (\(tokens)) must be at least twice --batchsize (\(batchSize))") }
    }
}

struct UsageError: Error {
    let message: String?
    init(_ message: String?) { self.message = message }
}

func run(_ o: Options) throws {
    RandomState.global.seed(o.seed)
    let train = repeatCountSequence(length: o.tokens)
    let valid = repeatCountSequence(length: o.validTokens, offset: 7)

    let rnn = RNNLanguageModel(vocabularySize: 10, units: o.units, cell: o.model, dropout: o.dropout, rng: RandomState(seed: o.seed))
    rnn.serializesState = true   // snapshots keep the streams' LSTM state, so --resume continues bit for bit
    let model = Classifier(rnn)
    let evalModel = model.copy(mode: .share) as! Classifier   // shares the weights, keeps its own RNN state

    let optimizer: Optimizer = o.optimizer == "sgd" ? SGD(lr: o.lr ?? 1.0) : Adam(alpha: o.lr ?? 0.005)
    optimizer.setup(model)
    optimizer.addHook(GradientClipping(threshold: 5))

    let trainIter = ParallelSequentialIterator(train, batchSize: o.batchSize)
    let validIter = ParallelSequentialIterator(valid, batchSize: 5, repeats: false)
    let updater = BPTTUpdater(iterator: trainIter, optimizer: optimizer, bpropLen: o.bpropLen)
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(o.epochs), .epoch), out: o.out)

    trainer.extend(Evaluator(validIter, evalModel, converter: { batch in
        let (x, t) = ParallelSequentialIterator<[Int32]>.arrays(batch)
        return [x, t]
    }, evalHook: { _ in (evalModel.predictor as! RNNLanguageModel).resetState() }))
    trainer.extend(LogReport())
    trainer.extend(PrintReport(["epoch", "iteration", "main/loss", "main/accuracy", "validation/main/loss",
                                "validation/main/accuracy", "elapsed_time"]))
    if !o.quiet { trainer.extend(ProgressBar(updateInterval: 10)) }
    trainer.extend(PlotReport(["main/loss", "validation/main/loss"], xKey: "epoch", filename: "loss.svg"))
    trainer.extend(PlotReport(["main/accuracy", "validation/main/accuracy"], xKey: "epoch", filename: "accuracy.svg"))
    trainer.extend(snapshot(), trigger: IntervalTrigger(1, .epoch))

    if let path = o.resume {
        try loadNPZ(path, into: trainer)
        print("Resumed from \(path) at iteration \(updater.iteration) (epoch \(String(format: "%.2f", updater.epochDetail))).")
    }
    try trainer.run()

    let log = (trainer.getExtension("LogReport") as? LogReport)?.log ?? []
    if let accuracy = log.last?["validation/main/accuracy"] {
        print(String(format: "Validation next-token accuracy: %.4f", accuracy))
    }
    // From a fresh state a lone 1 could be any point of a run (training streams start mid-pattern), so the model
    // first reads one whole cycle of the pattern, then continues on its own.
    let cycle = repeatCountSequence(length: 45)
    print("After reading one cycle (1 2 2 3 3 3 … 9), the model generates:")
    print(generate(rnn, seed: cycle, count: 45 + 60).dropFirst(45).map(String.init).joined(separator: " "))
    print("Log, plots (loss.svg, accuracy.svg) and snapshots are in \(o.out)/.")
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

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    try run(options)
} catch let e as UsageError {
    if let m = e.message {
        FileHandle.standardError.write("repeat-count: \(m)\n\n\(Options.usage)\n".data(using: .utf8)!)
        exit(2)
    }
    print(Options.usage)
} catch {
    FileHandle.standardError.write("repeat-count: \(error)\n".data(using: .utf8)!)
    exit(1)
}
