// rnnlm: a tanh RNN language model over a text file, at the word or character level.
//
// The seed experiment ("Implementing Recurrent Neural Network from Scratch", after WildML's tutorial): an Elman
// RNN with 100 tanh units over a vocabulary capped at 8000 (rarer words become an unknown token), trained with
// truncated backpropagation through time and SGD whose learning rate is halved whenever the loss rises between
// two evaluations. It reports the held-out perplexity against a unigram baseline and samples text from the model.
//
//   swift run -c release rnnlm /usr/share/common-licenses/GPL-3 [--level char] [--epochs N] …
import Catena
import CatenaModels
import ExampleSupport
import Foundation

let parser = ArgumentParser(program: "rnnlm", summary: "Trains a tanh RNN language model on text files, reports perplexity against a unigram baseline, and samples from it.")
let files = parser.positional("FILE", minimum: 1, help: "UTF-8 text files, read in order; the last --valid-fraction of the tokens is held out")
let level = parser.choice("--level", default: "word", from: ["word", "char"], help: "tokens: words and punctuation marks, or characters")
let vocabSize = parser.int("--vocab", default: 8000, in: 2...1_000_000, help: "the most token ids, the unknown token's included (the seed: 8000)")
let lowercase = parser.flag("--lowercase", help: "lowercase the text first")
let validFraction = parser.double("--valid-fraction", default: 0.1, in: 0.01...0.5, help: "share of the tokens held out for validation")
let units = parser.int("--units", default: 100, in: 1...4096, help: "recurrent units (the seed: 100)")
let dropout = parser.double("--dropout", default: 0, in: 0...0.95, help: "dropout ratio before and after the recurrent layer")
let epochs = parser.int("--epochs", default: 20, in: 1...100_000, help: "passes over the training tokens")
let batchSize = parser.int("--batchsize", default: 10, in: 1...10_000, help: "parallel streams over the training tokens")
let bpropLen = parser.int("--bproplen", default: 20, in: 1...10_000, help: "time steps per update (truncated BPTT)")
let lr = parser.double("--lr", default: 0.3, in: 1e-9...100, help: "SGD learning rate (halved whenever the validation loss rises)")
let scheduleOn = parser.choice("--schedule-on", default: "train", from: ["train", "validation"], help: "the loss whose rise halves the learning rate: the training loss of each epoch (the seed's) or the validation loss")
let clip = parser.double("--clip", default: 5, in: 0...1e6, help: "gradient norm clipping threshold, 0 for none")
let sampleLength = parser.int("--sample", default: 60, in: 0...100_000, help: "tokens to sample from the trained model")
let temperature = parser.double("--temperature", default: 1, in: 0.01...100, help: "sampling temperature (lower is more conservative)")
let seed = parser.uint64("--seed", default: 0, help: "random seed for weights and sampling")
let out = parser.string("--out", default: "result-rnnlm", metavar: "DIR", help: "directory for the log, plots and snapshots")
let resumeFrom = parser.optionalString("--resume", metavar: "FILE", help: "continue from a snapshot (with the same files and options)")
let quiet = parser.flag("--quiet", help: "no progress bar")
parser.require {
    // The parameters (embedding, recurrent and output layers) and, per step, the stream's activations.
    let v = vocabSize.value, u = units.value
    try requireMemory(checkedProduct([4 * 4, v, u]).flatMap { $0.addingReportingOverflow(checkedProduct([64, bpropLen.value, batchSize.value, v + u]) ?? .max).partialValue },
                      "--vocab \(v) with --units \(u), --batchsize \(batchSize.value) and --bproplen \(bpropLen.value)")
}
parser.notes = """
    The seed used 100 units, a vocabulary of 8000, SGD at 0.005 on one sentence at a time and truncation after
    4 steps; here the streams run in parallel (Chainer's PTB setting), so a larger rate suits.
    The unigram baseline predicts every token with its training frequency (add-one smoothed).

    example: rnnlm /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/Apache-2.0 --level word
    """

/// The perplexity of predicting every validation token from training counts alone (add-one smoothing).
func unigramPerplexity(_ corpus: TextCorpus) -> Double {
    var counts = [Double](repeating: 1, count: corpus.vocabulary.count)
    for t in corpus.train { counts[Int(t)] += 1 }
    let total = counts.reduce(0, +)
    let nll = corpus.validation.reduce(0.0) { $0 - Foundation.log(counts[Int($1)] / total) }
    return Foundation.exp(nll / Double(corpus.validation.count))
}

/// Draws `count` tokens from the model after reading `prompt`, sampling each from the softmax at `temperature`.
func sample(_ model: RNNLanguageModel, prompt: [Int32], count: Int, temperature: Double, rng: RandomState) -> [Int32] {
    model.resetState()
    defer { model.resetState() }
    var out: [Int32] = []
    usingConfig(\.train, false) {
        noBackpropMode {
            var scores: Variable? = nil
            for t in prompt { scores = model(.constant(NDArray(values: [t], shape: [1]))) }
            while out.count < count, let s = scores {
                let z = s.array.astype(.float64) / temperature
                let p = (z - z.logSumExp(axis: 1, keepDims: true)).exp().toDoubles()
                var u = rng.uniform(shape: [1], dtype: .float64).item() * p.reduce(0, +)
                var token = p.count - 1
                for (i, pi) in p.enumerated() {
                    u -= pi
                    if u <= 0 { token = i; break }
                }
                out.append(Int32(token))
                scores = model(.constant(NDArray(values: [Int32(token)], shape: [1])))
            }
        }
    }
    return out
}

/// Tokens as text: characters joined, words separated by spaces (none before punctuation).
func render(_ tokens: [String], _ level: TextLevel) -> String {
    if level == .character { return tokens.joined() }
    var s = ""
    for t in tokens {
        let punct = t.count == 1 && t.first.map { $0.isPunctuation && $0 != "(" && $0 != "\"" } ?? false
        if !s.isEmpty && !punct && !s.hasSuffix("(") { s += " " }
        s += t
    }
    return s
}

runExample(parser) {
    RandomState.global.seed(seed.value)
    let rng = RandomState(seed: seed.value)
    let textLevel: TextLevel = level.value == "word" ? .word : .character
    let corpus = try loadTextCorpus(files.value, level: textLevel, vocabularySize: vocabSize.value, validationFraction: validFraction.value,
                                    lowercase: lowercase.value)
    guard corpus.train.count >= 2 * batchSize.value else {
        throw UsageError("--batchsize \(batchSize.value) needs at least \(2 * batchSize.value) training tokens, the text gives \(corpus.train.count)")
    }
    let unknown = corpus.validation.filter { $0 == corpus.vocabulary.unknownID }.count
    print("\(corpus.train.count) training and \(corpus.validation.count) validation \(textLevel) tokens; vocabulary \(corpus.vocabulary.count) (\(unknown) validation tokens unknown).")
    let baseline = unigramPerplexity(corpus)
    print(String(format: "Unigram baseline: validation perplexity %.2f.", baseline))

    let lm = RNNLanguageModel(vocabularySize: corpus.vocabulary.count, units: units.value, cell: .rnn, dropout: dropout.value, rng: rng)
    lm.serializesState = true
    let model = Classifier(lm)
    let evalModel = model.copy(mode: .share) as! Classifier
    let optimizer = SGD(lr: lr.value)
    optimizer.setup(model)
    if clip.value > 0 { optimizer.addHook(GradientClipping(threshold: clip.value)) }

    let scheduleKey = scheduleOn.value == "train" ? "main/loss" : "validation/main/loss"
    let trainIter = ParallelSequentialIterator(corpus.train, batchSize: batchSize.value)
    let validIter = ParallelSequentialIterator(corpus.validation, batchSize: 1, repeats: false)
    let updater = BPTTUpdater(iterator: trainIter, optimizer: optimizer, bpropLen: bpropLen.value)
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(epochs.value), .epoch), out: out.value)
    trainer.extend(Evaluator(tokens: validIter, evalModel) { (evalModel.predictor as! RNNLanguageModel).resetState() })
    trainer.extend(ReduceLROnPlateau(scheduleKey, factor: 0.5, comparison: .previous))
    trainer.extend(observeLR())
    trainer.extend(FailOnNonNumber())
    trainer.extend(LogReport(postprocess: { row in
        if let l = row["main/loss"] { row.items.append((key: "perplexity", value: Foundation.exp(l), isInteger: false)) }
        if let l = row["validation/main/loss"] { row.items.append((key: "validation/perplexity", value: Foundation.exp(l), isInteger: false)) }
    }))
    trainer.extend(PrintReport(["epoch", "iteration", "perplexity", "validation/perplexity", "lr", "elapsed_time"]))
    if !quiet.value { trainer.extend(ProgressBar(updateInterval: 10)) }
    trainer.extend(PlotReport(["main/loss", "validation/main/loss"], xKey: "epoch", filename: "loss.svg"))
    trainer.extend(snapshot(), trigger: IntervalTrigger(1, .epoch))
    try resume(trainer, from: resumeFrom.value)
    try trainer.run()
    try requireFiniteLog(trainer, ["main/loss", "validation/main/loss"])

    let log = (trainer.getExtension("LogReport") as? LogReport)?.log ?? []
    if let ppl = log.last?["validation/perplexity"] {
        print(String(format: "Validation perplexity %.2f against the unigram baseline's %.2f (%.1f%% of it).", ppl, baseline, 100 * ppl / baseline))
    }
    if sampleLength.value > 0 {
        let prompt = Array(corpus.validation.prefix(textLevel == .word ? 3 : 12))
        let words = sample(lm, prompt: prompt, count: sampleLength.value, temperature: temperature.value, rng: RandomState(seed: rng.nextUInt64()))
        print("Sample after «\(render(corpus.vocabulary.decode(prompt), textLevel))»:")
        print(render(corpus.vocabulary.decode(prompt + words), textLevel))
    }
    print("Log, plot (loss.svg) and snapshots are in \(out.value)/.")
}
