// catenamn-bench: CatenaMN's benchmarks, run under mpirun (Scripts/bench.sh runs them all and prints the ratios).
//
//   mpirun -np 2 catenamn-bench allreduce --params 1000000 [--reps 150]
//       allreduceGrad on a model of that many float32 parameters (1000×1000 Linear layers), given the model (which
//       it searches for parameters) and given the parameter list (as the multi-node optimizer calls it), against a
//       bare MPI_Allreduce of one buffer of the same size, measured call by call side by side (alternating the
//       order); median seconds of each, and the medians of the per-call ratios.
//   mpirun -np N catenamn-bench mlp|patch [--steps 30]
//       data-parallel training throughput, each process single-threaded with its own batch (B4c: MLP
//       784-1000-1000-10, batch 100, Adam; B3: tanh RNN over 112 patches of 7, 128 units, batch 50, RMSprop);
//       examples per second over all processes.
//
// Rank 0 prints one JSON line per result.
import CMPI
import Catena
import CatenaMN
import Foundation

nonisolated(unsafe) let comm = try createCommunicator()
CatenaRuntime.threads = Int(ProcessInfo.processInfo.environment["CATENA_NUM_THREADS"] ?? "") ?? 1

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]), v > 0 else { return fallback }
    return v
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
func emit(_ fields: [(String, String)]) {
    if comm.rank == 0 {
        print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        fflush(nil)
    }
}

/// A chain of Linear layers from 1000 features (1000 outputs each, the last one fewer) with `params` parameters.
func layers(params: Int) -> ChainList {
    let list = ChainList()
    var left = params
    var k: UInt64 = 0
    while left > 0 {
        let out = max(1, min(1000, left / 1001))
        list.append(Linear(1000, out, rng: RandomState(seed: k)))
        left -= out * 1001
        k += 1
    }
    return list
}

func benchAllreduce() {
    let params = option("--params", 1_000_000), reps = option("--reps", 150)
    let model = layers(params: params)
    let rng = RandomState(seed: UInt64(comm.rank))
    for p in model.params() { p.grad = rng.normal(shape: p.array.shape) }
    let count = model.params().reduce(0) { $0 + $1.array.count }
    var bare = [Float](repeating: 1e-3, count: count)
    var ours: [Double] = [], listed: [Double] = [], plain: [Double] = []
    let parameters = model.namedParams(includeUninitialized: false)
    func timed(_ body: () -> Void) -> Double {
        comm.barrier()
        let t0 = now()
        body()
        return now() - t0
    }
    let catenamn = { comm.allreduceGrad(model) }
    let catenamnListed = { comm.allreduceGrad(parameters: parameters) }   // as the multi-node optimizer calls it
    let plainCall = {
        bare.withUnsafeMutableBufferPointer { b in _ = MPI_Allreduce(cmn_in_place(), b.baseAddress, Int32(count), cmn_float(), cmn_op_sum(), cmn_comm_world()) }
    }
    for rep in 0..<(reps + 3) {
        // Alternately first and second, so that neither always runs after the other.
        var a = 0.0, b = 0.0, c = 0.0
        if rep % 2 == 0 {
            a = timed(catenamn)
            b = timed(plainCall)
            c = timed(catenamnListed)
        } else {
            c = timed(catenamnListed)
            b = timed(plainCall)
            a = timed(catenamn)
        }
        if rep >= 3 {   // warm-up: buffers allocated, connections set up
            ours.append(a)
            plain.append(b)
            listed.append(c)
        }
    }
    // The slowest rank's time is the step's time; the ratio is the median of the per-call ratios (calls measured
    // side by side), steadier than the ratio of two medians on a shared machine.
    var times = [median(ours), median(plain), median(listed)]
    comm.allreduce(&times, .max)
    var ratios = zip(plain, ours).map { $0 / $1 }, listedRatios = zip(plain, listed).map { $0 / $1 }
    comm.allreduce(&ratios, .min)
    comm.allreduce(&listedRatios, .min)
    emit([("bench", "\"allreduce\""), ("ranks", "\(comm.size)"), ("params", "\(count)"), ("megabytes", String(format: "%.1f", Double(count * 4) / 1e6)),
          ("s_allreduceGrad", String(format: "%.6f", times[0])), ("s_MPI_Allreduce", String(format: "%.6f", times[1])),
          ("ratio_bare_over_catenamn", String(format: "%.3f", median(ratios))),
          ("s_allreduceGrad_parameters", String(format: "%.6f", times[2])),
          ("ratio_bare_over_catenamn_parameters", String(format: "%.3f", median(listedRatios)))])
}

final class MLP: Chain {
    let l1 = Linear(784, 1000, rng: RandomState(seed: 1))
    let l2 = Linear(1000, 1000, rng: RandomState(seed: 2))
    let l3 = Linear(1000, 10, rng: RandomState(seed: 3))
    func callAsFunction(_ x: Variable) -> Variable { l3(F.relu(l2(F.relu(l1(x))))) }
}

final class PatchRNN: Chain {
    let rnn = SimpleRNN(7, 128, activation: .tanh, upwardInit: GlorotUniform(), lateralInit: Identity(), biasInit: Zero(), rng: RandomState(seed: 1))
    let out = Linear(128, 10, initialW: GlorotUniform(), rng: RandomState(seed: 2))
    func callAsFunction(_ x: NDArray) -> Variable {   // x: (112, batch, 7)
        rnn.resetState()
        var h: Variable? = nil
        for t in 0..<x.shape[0] { h = rnn(.constant(x[t])) }
        return out(h!)
    }
}

/// Training throughput: `steps` timed updates (after 3 untimed), each rank on its own random batch.
func benchTraining(_ workload: String) {
    let steps = option("--steps", 30)
    let rng = RandomState(seed: UInt64(100 + comm.rank))
    let batch: Int
    let step: (Int) -> Void
    if workload == "mlp" {
        batch = 100
        let model = MLP()
        let optimizer = createMultiNodeOptimizer(Adam(), comm)
        optimizer.setup(model)
        let pool = (0..<4).map { _ in (rng.uniform(shape: [batch, 784]), rng.integers(0, 10, shape: [batch])) }
        step = { i in optimizer.update { F.softmaxCrossEntropy(model(.constant(pool[i % 4].0)), pool[i % 4].1) } }
    } else {
        batch = 50
        let model = PatchRNN()
        let optimizer = createMultiNodeOptimizer(RMSprop(lr: 2e-4), comm)
        optimizer.setup(model)
        let pool = (0..<4).map { _ in (rng.normal(shape: [112, batch, 7]), rng.integers(0, 10, shape: [batch])) }
        step = { i in optimizer.update { F.softmaxCrossEntropy(model(pool[i % 4].0), pool[i % 4].1) } }
    }
    for i in 0..<3 { step(i) }
    comm.barrier()
    let t0 = now()
    for i in 0..<steps { step(i) }
    comm.barrier()
    let seconds = now() - t0
    emit([("bench", "\"\(workload)\""), ("ranks", "\(comm.size)"), ("threads_per_rank", "\(CatenaRuntime.threads)"), ("batch_per_rank", "\(batch)"),
          ("s_per_step", String(format: "%.5f", seconds / Double(steps))),
          ("examples_per_s", String(format: "%.1f", Double(steps * batch * comm.size) / seconds))])
}

switch arguments.first {
case "allreduce": benchAllreduce()
case "mlp", "patch": benchTraining(arguments[0])
default:
    if comm.rank == 0 { FileHandle.standardError.write(Data("usage: mpirun -np N catenamn-bench allreduce|mlp|patch [--params N] [--reps N] [--steps N]\n".utf8)) }
    exit(2)
}
