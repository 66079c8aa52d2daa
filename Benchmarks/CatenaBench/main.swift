// catena-bench: times the workloads of BENCHMARKS.md and prints one JSON line per workload.
//
//   swift run -c release catena-bench <workload> [--reps N] [--sizes a,b,c]
//
// Workloads: matmul (B4a), elementwise (add and sum over 2^22 floats), overhead (B4b), mlp (B4c), rnnlm (B1), irnn (B2),
// patch (B3), npz (snapshot I/O), dispatch (every dtype-dispatched kernel, for Scripts/check-specialization.sh). Figures are medians over --reps timed
// repetitions after a warm-up; compare them only with peers measured in the same run (Benchmarks/run.sh).
import Catena
import CatenaModels
import Foundation

struct Options {
    var workload = ""
    var reps = 7
    var sizes: [Int] = []
    var extra: [String: String] = [:]

    init(_ args: [String]) throws {
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--reps":
                guard let v = it.next(), let n = Int(v), n > 0 else { throw BenchError.usage("--reps needs a positive integer") }
                reps = n
            case "--sizes":
                guard let v = it.next() else { throw BenchError.usage("--sizes needs a list like 64,256") }
                sizes = try v.split(separator: ",").map {
                    guard let n = Int($0), n > 0 else { throw BenchError.usage("--sizes: '\($0)' is not a positive integer") }
                    return n
                }
            case let flag where flag.hasPrefix("--"):
                guard let v = it.next() else { throw BenchError.usage("\(flag) needs a value") }
                extra[String(flag.dropFirst(2))] = v
            default:
                if workload.isEmpty { workload = a } else { throw BenchError.usage("unexpected argument '\(a)'") }
            }
        }
    }
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self {
        case .usage(let m): return m
        }
    }
}

/// Seconds of one call, `reps` times after `warmup` untimed calls.
func time(reps: Int, warmup: Int = 1, _ body: () -> Void) -> [Double] {
    for _ in 0..<warmup { body() }
    var out = [Double]()
    for _ in 0..<reps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        out.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return out
}

func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func summary(_ v: [Double], digits: Int = 3) -> [String: Any] {
    func r(_ x: Double) -> Double { (x * pow(10, Double(digits))).rounded() / pow(10, Double(digits)) }
    return ["median": r(median(v)), "min": r(v.min() ?? 0), "max": r(v.max() ?? 0), "n": v.count]
}

func emit(_ record: [String: Any]) {
    var r = record
    r["framework"] = "catena"
    r["threads"] = ProcessInfo.processInfo.environment["CATENA_NUM_THREADS"].flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
    let data = try! JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

// MARK: - Workloads

/// B4a: float32 square matmul GFLOP/s, C = A · B with fresh output, repeated to about 0.3 s per repetition.
/// GEMM on the operand layouts of an MLP step (m, k, n, transposes), GFLOP/s: for tuning the packing choices.
func benchGemmShapes(_ o: Options) {
    let cases: [(String, Int, Int, Int, Bool, Bool)] = [
        ("fwd x·Wᵀ 100x784x1000", 100, 784, 1000, false, true),
        ("bwd gy·W 100x1000x784", 100, 1000, 784, false, false),
        ("bwd gyᵀ·x 1000x100x784", 1000, 100, 784, true, false),
        ("rnn 20x100x400 x·Wᵀ", 20, 100, 400, false, true),
        ("rnn 20x400x100 gy·W", 20, 400, 100, false, false),
        ("rnn 400x20x100 gyᵀ·x", 400, 20, 100, true, false),
        ("step 10x100x400 x·Wᵀ", 10, 100, 400, false, true),
        ("step 10x400x100 gy·W", 10, 400, 100, false, false),
        ("step 16x100x400 x·Wᵀ", 16, 100, 400, false, true),
        ("step 16x400x100 gy·W", 16, 400, 100, false, false),
        ("nstep 700x100x400 x·Wᵀ", 700, 100, 400, false, true),
        ("nstep 700x400x100 gy·W", 700, 400, 100, false, false),
        ("nstep 400x700x100 gyᵀ·x", 400, 700, 100, true, false),
        ("square 512x512x512", 512, 512, 512, false, false),
    ]
    var results: [String: Any] = [:]
    for (name, m, k, n, ta, tb) in cases where o.extra["only"].map({ name.contains($0) }) ?? true {
        let rng = RandomState(seed: 0)
        let a = rng.normal(shape: ta ? [k, m] : [m, k]), b = rng.normal(shape: tb ? [n, k] : [k, n])
        var c = NDArray.zeros([m, n])
        let flops = 2.0 * Double(m * n * k)
        let iters = max(1, Int((0.2 * 50e9 / flops).rounded(.up)))
        let times = time(reps: o.reps) { for _ in 0..<iters { NDArray.gemm(a, b, into: &c, transposeA: ta, transposeB: tb) } }
        results[name] = summary(times.map { flops * Double(iters) / $0 / 1e9 }, digits: 1)
    }
    emit(["bench": "gemm_shapes", "results": results])
}

func benchMatmul(_ o: Options) {
    let sizes = o.sizes.isEmpty ? [64, 256, 1024, 2048] : o.sizes
    var results: [String: Any] = [:]
    for n in sizes {
        let rng = RandomState(seed: 0)
        let a = rng.normal(shape: [n, n]), b = rng.normal(shape: [n, n])
        let flops = 2.0 * Double(n * n * n)
        let iters = max(1, Int((0.3 * 50e9 / flops).rounded(.up)))
        var sink = 0.0
        let times = time(reps: o.reps) {
            for _ in 0..<iters { sink += NDArray.matmul(a, b).item(0, 0) }
        }
        if sink.isNaN { print("") }
        results[String(n)] = ["iters_per_rep": iters, "gflops": summary(times.map { flops * Double(iters) / $0 / 1e9 }, digits: 2)]
    }
    emit(["bench": "B4a_matmul", "results": results])
}

/// Element-wise add (c = a + b) and a full sum over 2^22 float32 values, in GB/s of memory traffic.
func benchElementwise(_ o: Options) {
    let n = o.sizes.first ?? (1 << 22)
    let rng = RandomState(seed: 0)
    let a = rng.uniform(shape: [n]), b = rng.uniform(shape: [n])
    var sink = 0.0
    let reps = 20
    let addTimes = time(reps: o.reps) { for _ in 0..<reps { sink += (a + b).item(0) } }
    let sumTimes = time(reps: o.reps) { for _ in 0..<reps { sink += a.sum().item() } }
    var c = NDArray.zeros([n])
    let inplaceTimes = time(reps: o.reps) { for _ in 0..<reps { c += a } }
    if sink.isNaN || c.item(0).isNaN { print("") }
    let bytes = Double(n * 4)
    emit([
        "bench": "elementwise", "n": n,
        "add_gbs": summary(addTimes.map { 3 * bytes * Double(reps) / $0 / 1e9 }, digits: 2),
        "add_inplace_gbs": summary(inplaceTimes.map { 3 * bytes * Double(reps) / $0 / 1e9 }, digits: 2),
        "sum_gbs": summary(sumTimes.map { bytes * Double(reps) / $0 / 1e9 }, digits: 2),
    ])
}

/// B4b: per-op overhead on 1×1 arrays: clear grads, y = x*w + b, loss = sum(y), backward (3 ops), and a chain of
/// 1,000 tanh steps forward and backward.
func benchOverhead(_ o: Options) {
    let n = Int(o.extra["iters"] ?? "") ?? 20000
    let x = Variable(NDArray.full([1, 1], 2)), w = Parameter(NDArray.full([1, 1], 3)), b = Parameter(NDArray.full([1, 1], 1))
    if let part = o.extra["part"] {  // one part alone, for profiling
        if part == "chain" {  // the 1,000-step tanh chain, n / 1000 times
            for _ in 0..<Swift.max(1, n / 1000) {
                var h = Variable(NDArray.full([1, 1], 0.5))
                for _ in 0..<1000 { h = F.tanh(h) }
                F.sum(h).backward()
            }
            return
        }
        for _ in 0..<n {
            switch part {
            case "nograd": noBackpropMode { _ = F.sum(x * w + b) }
            case "arrays": _ = (x.array * w.array + b.array).sum()
            case "forward": _ = F.sum(x * w + b)
            default:
                w.clearGrad()
                b.clearGrad()
                F.sum(x * w + b).backward()
            }
        }
        return
    }
    let full = time(reps: o.reps) {
        for _ in 0..<n {
            w.clearGrad()
            b.clearGrad()
            let loss = F.sum(x * w + b)
            loss.backward()
        }
    }
    let forwardGraph = time(reps: o.reps) { for _ in 0..<n { _ = F.sum(x * w + b) } }
    let forwardNoGrad = time(reps: o.reps) { noBackpropMode { for _ in 0..<n { _ = F.sum(x * w + b) } } }
    let steps = 1000
    let chain = time(reps: o.reps) {
        for _ in 0..<(n / steps * 3) {
            let h0 = Variable(NDArray.full([1, 1], 0.5))
            var h = h0
            for _ in 0..<steps { h = F.tanh(h) }
            F.sum(h).backward()
        }
    }
    let chainSteps = Double(n / steps * 3 * steps)
    emit([
        "bench": "B4b_overhead", "iters_per_rep": n, "grad_w": w.grad?.item() ?? .nan,
        "us_per_iter": summary(full.map { $0 * 1e6 / Double(n) }, digits: 3),
        "us_per_op": summary(full.map { $0 * 1e6 / Double(n) / 3 }, digits: 3),
        "us_forward_graph": summary(forwardGraph.map { $0 * 1e6 / Double(n) }, digits: 3),
        "us_forward_nograd": summary(forwardNoGrad.map { $0 * 1e6 / Double(n) }, digits: 3),
        "us_chain_tanh_per_step": summary(chain.map { $0 * 1e6 / chainSteps }, digits: 3),
    ])
}

/// B4c: MLP 784-1000-1000-10 with ReLU, batch 100, Adam; seconds per step (clear grads, forward, backward,
/// update), random inputs in [0, 1) and labels from a pool of 8 batches.
final class BenchMLP: Chain {
    let l1 = Linear(784, 1000, rng: RandomState(seed: 1))
    let l2 = Linear(1000, 1000, rng: RandomState(seed: 2))
    let l3 = Linear(1000, 10, rng: RandomState(seed: 3))
    func callAsFunction(_ x: Variable) -> Variable { l3(F.relu(l2(F.relu(l1(x))))) }
}

func benchMLP(_ o: Options) {
    let batch = 100, stepsPerRep = 10
    let model = BenchMLP()
    let optimizer = Adam()
    optimizer.setup(model)
    let rng = RandomState(seed: 0)
    let pool = (0..<8).map { _ in (rng.uniform(shape: [batch, 784]), rng.integers(0, 10, shape: [batch])) }
    var step = 0
    var losses: [Double] = []
    let times = time(reps: o.reps, warmup: 2) {
        for _ in 0..<stepsPerRep {
            let (x, t) = pool[step % pool.count]
            step += 1
            optimizer.update {
                let loss = F.softmaxCrossEntropy(model(.constant(x)), t)
                losses.append(loss.item())
                return loss
            }
        }
    }
    emit(["bench": "B4c_mlp", "batch": batch, "s_per_step": summary(times.map { $0 / Double(stepsPerRep) }, digits: 5),
          "loss_first_last": [losses.first ?? 0, losses.last ?? 0]])
}

/// Snapshot I/O: the B4c MLP (784-1000-1000-10) and its Adam state after one step (about 21 MB of float32), written
/// with and without deflate, and read back. MB/s of array data; the peer is NumPy's `savez` / `savez_compressed` /
/// `load` on the same arrays (`Benchmarks/peers/npz_io.py`).
func benchNPZ(_ o: Options) {
    let model = BenchMLP()
    let optimizer = Adam()
    optimizer.setup(model)
    let rng = RandomState(seed: 0)
    let (x, t) = (rng.uniform(shape: [100, 784]), rng.integers(0, 10, shape: [100]))
    optimizer.update { F.softmaxCrossEntropy(model(.constant(x)), t) }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("catena-bench-npz-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let entries = try! DictionarySerializer.serialize(model).map { ("model/" + $0.key, $0.value) }
        + DictionarySerializer.serialize(optimizer).map { ("optimizer/" + $0.key, $0.value) }
    let bytes = entries.reduce(0) { n, e in if case .array(let a) = e.1 { return n + a.byteCount } else { return n } }
    let mb = Double(bytes) / 1e6
    var record: [String: Any] = ["bench": "npz_io", "array_mb": (mb * 10).rounded() / 10]
    for compression in [false, true] {
        let path = dir + "/snapshot-\(compression).npz"
        let write = time(reps: o.reps, warmup: 1) { try! writeNPZ(path, entries.map { (key: $0.0, value: $0.1) }, compression: compression) }
        let read = time(reps: o.reps, warmup: 1) { _ = try! readNPZ(path) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let tag = compression ? "deflate" : "stored"
        record["\(tag)_write_mb_per_s"] = summary(write.map { mb / $0 }, digits: 1)
        record["\(tag)_read_mb_per_s"] = summary(read.map { mb / $0 }, digits: 1)
        record["\(tag)_file_mb"] = (Double(size) / 1e5).rounded() / 10
    }
    emit(record)
}

/// B1: the repeat-count language model stepped one token at a time, as a Chainer user writes it: EmbedID(10, 100)
/// → LSTM(100, 100) (or a tanh RNN: Linear(100, 100) + Linear(100, 100, nobias)) → Linear(100, 10); 20 streams,
/// truncated BPTT over 35 steps (sum of per-step mean losses, one backward, unchainBackward, one update), Adam and
/// GradientClipping(5). Tokens per second; then, on a fresh model, accuracy after one epoch of 100,000 tokens.
final class BenchLM: Chain {
    let embed: EmbedID
    let l1: LSTM?
    let wx: Linear?
    let wh: Linear?
    let out: Linear
    var h: Variable?
    /// `units` other than 100 is for profiling only (B1 fixes 100).
    init(lstm: Bool, units: Int = 100) {
        embed = EmbedID(10, units, rng: RandomState(seed: 1))
        out = Linear(units, 10, rng: RandomState(seed: 2))
        l1 = lstm ? LSTM(units, units, rng: RandomState(seed: 3)) : nil
        wx = lstm ? nil : Linear(units, units, rng: RandomState(seed: 3))
        wh = lstm ? nil : Linear(units, units, nobias: true, rng: RandomState(seed: 4))
    }
    func resetState() { l1?.resetState(); h = nil }
    func callAsFunction(_ x: Variable) -> Variable {
        let e = embed(x)
        if let l1 { return out(l1(e)) }
        var z = wx!(e)
        if let h { z = z + wh!(h) }
        let hNew = F.tanh(z)
        h = hNew
        return out(hNew)
    }
}

/// B1 with `NStepLSTM` (`--impl nstep`): the same model with the recurrence over each 35-step window as one call,
/// the 20 streams as 20 sequences, the state carried from window to window. With `--layout time` the window is
/// time-major, as the PyTorch peer's `nn.LSTM` input is, and runs through `F.nStepLSTM` on the link's weights.
final class BenchNStepLM: Chain {
    let embed: EmbedID
    let lstm: NStepLSTM
    let out: Linear
    var h: Variable?, c: Variable?
    init(units: Int = 100) {
        embed = EmbedID(10, units, rng: RandomState(seed: 1))
        out = Linear(units, 10, rng: RandomState(seed: 2))
        lstm = NStepLSTM(1, units, units, 0, rng: RandomState(seed: 3))
    }
    func resetState() { h = nil; c = nil }
    /// `ids`: (steps, streams), time-major as the PyTorch peer's; the scores (steps · streams, 10), step-major. Runs
    /// the link's weights through the time-major functional form (`F.nStepLSTM`).
    func timeMajor(_ ids: NDArray) -> Variable {
        let e = embed(.constant(ids))
        let zeros = { Variable.constant(NDArray.zeros([1, ids.shape[1], self.lstm.outSize])) }
        let (hy, cy, ys) = F.nStepLSTM(1, 0, h ?? zeros(), c ?? zeros(), lstm.ws, lstm.bs, F.separate(e, axis: 0))
        (h, c) = (hy, cy)
        let y = F.stack(ys, axis: 0)
        return out(F.reshape(y, [ids.shape[0] * ids.shape[1], y.shape[2]]))
    }
    /// `ids`: (streams, steps); the scores (streams · steps, 10), stream-major.
    func callAsFunction(_ ids: NDArray) -> Variable {
        let e = embed(.constant(ids))
        let (hy, cy, ys) = lstm(h, c, F.separate(e, axis: 0))
        (h, c) = (hy, cy)
        let y = F.stack(ys, axis: 0)
        return out(F.reshape(y, [ids.shape[0] * ids.shape[1], y.shape[2]]))
    }
}

func benchRNNLM(_ o: Options) {
    if o.extra["impl"] == "nstep" { return benchNStepRNNLM(o) }
    let cells = (o.extra["cell"] ?? "lstm,rnn").split(separator: ",").map(String.init)
    let data = repeatCountSequence(length: 100_000)
    let batch = 20, bprop = 35, updatesPerRep = Int(o.extra["updates-per-rep"] ?? "") ?? 20
    let epochs = Int(o.extra["epochs"] ?? "") ?? 1
    for cell in cells {
        func makeTrainer() -> (update: () -> Double, model: BenchLM, iterator: ParallelSequentialIterator<[Int32]>) {
            let model = BenchLM(lstm: cell == "lstm", units: Int(o.extra["units"] ?? "") ?? 100)
            let opt = Adam()
            opt.setup(model)
            opt.addHook(GradientClipping(threshold: 5))
            let it = ParallelSequentialIterator(data, batchSize: batch)
            let update = { () -> Double in
                var loss: Variable? = nil
                for _ in 0..<bprop {
                    let (x, t) = ParallelSequentialIterator<[Int32]>.arrays(it.next()!)
                    let l = F.softmaxCrossEntropy(model(.constant(x)), t)
                    loss = loss.map { $0 + l } ?? l
                }
                opt.clearGrads()
                loss!.backward()
                loss!.unchainBackward()
                opt.update()
                return loss!.item() / Double(bprop)
            }
            return (update, model, it)
        }
        let (update, _, _) = makeTrainer()
        for _ in 0..<5 { _ = update() }
        let times = time(reps: o.reps, warmup: 0) { for _ in 0..<updatesPerRep { _ = update() } }
        var record: [String: Any] = [
            "bench": "B1_repeat_lm", "cell": cell, "batch": batch, "bprop_len": bprop, "updates_per_rep": updatesPerRep,
            "tokens_per_s": summary(times.map { Double(updatesPerRep * batch * bprop) / $0 }, digits: 1),
        ]
        if epochs > 0 {
            let fresh = makeTrainer()
            let perEpoch = (data.count + batch * bprop - 1) / (batch * bprop)
            var losses: [Double] = [], accs: [Double] = []
            for _ in 0..<epochs {
                var l = 0.0
                for _ in 0..<perEpoch { l = fresh.update() }
                losses.append(l)
                // accuracy of argmax predictions over 500 steps of the 20 streams from a zero state
                fresh.model.resetState()
                let ev = ParallelSequentialIterator(data, batchSize: batch)
                var correct = 0, total = 0
                usingConfig(\.train, false) { noBackpropMode {
                    for _ in 0..<500 {
                        let (x, t) = ParallelSequentialIterator<[Int32]>.arrays(ev.next()!)
                        let p = fresh.model(.constant(x)).array.argmax(axis: 1).toArray(as: Int32.self)
                        correct += zip(p, t.toArray(as: Int32.self)).filter { $0 == $1 }.count
                        total += batch
                    }
                } }
                fresh.model.resetState()
                accs.append(Double(correct) / Double(total))
            }
            record["updates_per_epoch"] = perEpoch
            record["final_loss_per_step"] = losses
            record["accuracy_after_epoch"] = accs
        }
        emit(record)
    }
}

func benchNStepRNNLM(_ o: Options) {
    let timeMajor = o.extra["layout"] == "time"
    let data = repeatCountSequence(length: 100_000)
    let batch = 20, bprop = 35, updatesPerRep = Int(o.extra["updates-per-rep"] ?? "") ?? 20
    let epochs = Int(o.extra["epochs"] ?? "") ?? 1
    func makeTrainer() -> (update: () -> Double, model: BenchNStepLM) {
        let model = BenchNStepLM(units: Int(o.extra["units"] ?? "") ?? 100)
        let opt = Adam()
        opt.setup(model)
        opt.addHook(GradientClipping(threshold: 5))
        let it = ParallelSequentialIterator(data, batchSize: batch)
        let update = { () -> Double in
            var xs: [NDArray] = [], ts: [NDArray] = []
            for _ in 0..<bprop {
                let (x, t) = ParallelSequentialIterator<[Int32]>.arrays(it.next()!)
                xs.append(x)
                ts.append(t)
            }
            // The stepped model's loss is the sum of the 35 per-step means: the same scale here.
            let axis = timeMajor ? 0 : 1
            let t = NDArray.stack(ts, axis: axis).reshaped([batch * bprop])
            let ids = NDArray.stack(xs, axis: axis)
            let loss = F.softmaxCrossEntropy(timeMajor ? model.timeMajor(ids) : model(ids), t) * Double(bprop)
            opt.clearGrads()
            loss.backward()
            loss.unchainBackward()
            opt.update()
            return loss.item() / Double(bprop)
        }
        return (update, model)
    }
    let (update, _) = makeTrainer()
    for _ in 0..<5 { _ = update() }
    let times = time(reps: o.reps, warmup: 0) { for _ in 0..<updatesPerRep { _ = update() } }
    var record: [String: Any] = [
        "bench": "B1_repeat_lm", "cell": "lstm", "impl": "nstep", "layout": timeMajor ? "time" : "sequences", "batch": batch, "bprop_len": bprop, "updates_per_rep": updatesPerRep,
        "tokens_per_s": summary(times.map { Double(updatesPerRep * batch * bprop) / $0 }, digits: 1),
    ]
    if epochs > 0 {
        let fresh = makeTrainer()
        let perEpoch = (data.count + batch * bprop - 1) / (batch * bprop)
        var losses: [Double] = []
        for _ in 0..<epochs {
            var l = 0.0
            for _ in 0..<perEpoch { l = fresh.update() }
            losses.append(l)
        }
        record["updates_per_epoch"] = perEpoch
        record["final_loss_per_step"] = losses
    }
    emit(record)
}

/// B2 and B3 with the fused links (`--impl nstep`): `NStepRNNReLU` / `NStepRNNTanh` over the batch as sequences.
final class BenchNStepRNN: Chain, UnaryLink {
    let rnn: NStepRNNBase, out: Linear
    let inSize: Int, steps: Int
    init(inSize: Int, steps: Int, hidden: Int, relu: Bool, identityInit: Bool) {
        self.inSize = inSize
        self.steps = steps
        let rng = RandomState(seed: 1)
        let initialW: Initializer? = identityInit ? Normal(scale: 0.001) : nil
        rnn = relu ? NStepRNNReLU(1, inSize, hidden, 0, initialW: initialW, rng: rng) : NStepRNNTanh(1, inSize, hidden, 0, initialW: initialW, rng: rng)
        if identityInit { rnn.ws[0][1].array = Identity().makeArray(shape: [hidden, hidden], dtype: .float32, rng: rng) }
        out = Linear(hidden, 10, rng: RandomState(seed: 3))
    }
    /// `x`: (batch, steps · inSize).
    func callAsFunction(_ x: Variable) -> Variable {
        let seqs = F.separate(F.reshape(x, [x.shape[0], steps, inSize]), axis: 0)
        let (hy, _) = rnn(nil, seqs)
        return out(F.reshape(hy, [x.shape[0], hy.shape[2]]))
    }
}

/// B2 and B3: a one-layer RNN classifier stepped one input at a time, as the peers' `rnn_common.py` builds it:
/// `h_t = act(Linear(in, H)(x_t) + Linear(H, H, nobias)(h_{t-1}))`, `h_0 = 0`, `Linear(H, 10)` on the last state,
/// softmax cross entropy, one update per batch, random uniform inputs and labels. Seconds per training batch.
final class BenchSteppedRNN: Chain, UnaryLink {
    let wx: Linear, wh: Linear, out: Linear
    let inSize: Int, steps: Int, hidden: Int, relu: Bool
    init(inSize: Int, steps: Int, hidden: Int, relu: Bool, identityInit: Bool) {
        self.inSize = inSize
        self.steps = steps
        self.hidden = hidden
        self.relu = relu
        wx = Linear(inSize, hidden, initialW: identityInit ? Normal(scale: 0.001) : nil, rng: RandomState(seed: 1))
        wh = Linear(hidden, hidden, nobias: true, initialW: identityInit ? Identity() : nil, rng: RandomState(seed: 2))
        out = Linear(hidden, 10, rng: RandomState(seed: 3))
    }
    /// `x`: (batch, steps · inSize).
    func callAsFunction(_ x: Variable) -> Variable {
        let batch = x.shape[0]
        let xs = x.array.reshaped(batch, steps, inSize).transposed([1, 0, 2]).contiguous()
        var h = Variable.constant(NDArray.zeros([batch, hidden]))
        for t in 0..<steps {
            let z = wx(.constant(xs[t])) + wh(h)
            h = relu ? F.relu(z) : F.tanh(z)
        }
        return out(h)
    }
}

func benchSteppedRNN(_ o: Options, bench: String, inSize: Int, steps: Int, hidden: Int, relu: Bool, rmsprop: Bool, lr: Double,
                     identityInit: Bool, batch: Int, epochExamples: Int) {
    let nstep = o.extra["impl"] == "nstep"
    let model: Chain & UnaryLink = nstep ? BenchNStepRNN(inSize: inSize, steps: steps, hidden: hidden, relu: relu, identityInit: identityInit)
        : BenchSteppedRNN(inSize: inSize, steps: steps, hidden: hidden, relu: relu, identityInit: identityInit)
    let optimizer: Optimizer = rmsprop ? RMSprop(lr: lr, alpha: 0.99, eps: 1e-8) : SGD(lr: lr)
    optimizer.setup(model)
    let rng = RandomState(seed: 0)
    let x = rng.uniform(shape: [batch, steps * inSize]), t = rng.integers(0, 10, shape: [batch])
    var losses: [Double] = []
    let times = time(reps: o.reps, warmup: 2) {
        optimizer.update {
            let loss = F.softmaxCrossEntropy(model(.constant(x)), t)
            losses.append(loss.item())
            return loss
        }
    }
    emit(["bench": bench, "impl": nstep ? "nstep" : "stepped", "batch": batch, "steps": steps, "in_size": inSize, "hidden": hidden, "act": relu ? "relu" : "tanh",
          "optimizer": rmsprop ? "rmsprop" : "sgd", "lr": lr, "s_per_batch": summary(times, digits: 4),
          "implied_s_per_epoch": summary(times.map { $0 * Double(epochExamples) / Double(batch) }, digits: 1),
          "loss_first_last": [losses.first ?? 0, losses.last ?? 0]])
}

let usage = """
    usage: catena-bench <workload> [--reps N] [--sizes a,b,...]
    workloads: matmul, elementwise, overhead, mlp, rnnlm, irnn, patch, gemm-shapes, npz, dispatch
    """

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    switch options.workload {
    case "matmul": benchMatmul(options)
    case "elementwise": benchElementwise(options)
    case "overhead": benchOverhead(options)
    case "mlp": benchMLP(options)
    case "rnnlm": benchRNNLM(options)
    case "npz": benchNPZ(options)
    case "irnn":
        benchSteppedRNN(options, bench: "B2_pixel_irnn", inSize: 1, steps: 784, hidden: 100, relu: true, rmsprop: false, lr: 1e-6,
                        identityInit: true, batch: 16, epochExamples: 60000)
    case "patch":
        benchSteppedRNN(options, bench: "B3_patch_rnn", inSize: 7, steps: 112, hidden: 128, relu: false, rmsprop: true, lr: 2e-4,
                        identityInit: false, batch: 50, epochExamples: 5000)
    case "gemm-shapes": benchGemmShapes(options)
    case "dispatch": benchDispatch(options)
    case "", "--help", "help":
        print(usage)
    default:
        throw BenchError.usage("unknown workload '\(options.workload)'")
    }
} catch {
    FileHandle.standardError.write("catena-bench: \(error)\n\(usage)\n".data(using: .utf8)!)
    exit(2)
}
