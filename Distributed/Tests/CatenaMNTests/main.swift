// The MPI test driver of CatenaMN. Run it under mpirun with any number of processes:
//
//   mpirun -np 2 .build/debug/catenamn-tests            (add --oversubscribe for more ranks than cores)
//
// Every test runs on every rank; a test passes when it passed on all of them. Rank 0 prints one line per test and
// the closing line `N passed, N failed`; the exit status is non-zero if any failed. Expected values come from
// formulas or from a single-process computation on the same examples, never from the code under test.
//
// `catenamn-tests --scenario NAME` runs one failure scenario instead (Scripts/test.sh checks that each ends the job
// with its message and a non-zero status, without hanging): `throw-on-rank-1`, `exit-on-rank-1`,
// `precondition-on-rank-1`, `different-settings`, `different-models`.
import CMPI
import Catena
import CatenaMN
import Foundation

// Top-level globals are main-actor isolated in Swift 6; the driver is single-threaded, so they are read freely.
nonisolated(unsafe) let comm = try createCommunicator()

/// Prints a line at once (stdout is block-buffered through mpirun's pipe, and a rank that crashes loses its buffer).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw Failure(description: message()) }
}

func expectClose(_ a: [Double], _ b: [Double], tolerance: Double, _ what: String) throws {
    try expect(a.count == b.count, "\(what): \(a.count) values, expected \(b.count)")
    for (i, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= tolerance * max(1, abs(y))) {
        throw Failure(description: "\(what)[\(i)] = \(x), expected \(y) (tolerance \(tolerance))")
    }
}

/// Every rank's values (of any length), on every rank: for checks that compare ranks.
func allValues(_ values: [Double]) -> [[Double]] {
    (0..<comm.size).map { r in
        var bytes = r == comm.rank ? values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } : []
        comm.bcast(&bytes, root: r)
        return stride(from: 0, to: bytes.count, by: 8).map { i in
            Double(bitPattern: UInt64(littleEndian: bytes[i..<i + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        }
    }
}

func parameterValues(_ link: Link) -> [Double] { link.params(includeUninitialized: false).flatMap { $0.array.toDoubles() } }

nonisolated(unsafe) var passed = 0, failed = 0
func test(_ name: String, _ body: () throws -> Void) {
    var message: String?
    do { try body() } catch { message = "\(error)" }
    // A test passes only if it passed on every rank; rank 0 prints one line with each failing rank's reason.
    let ok = comm.all(message == nil)
    let reasons = comm.gather(Array((message.map { "rank \(comm.rank): \($0)" } ?? "").utf8))
    if comm.rank == 0 {
        if ok {
            say("ok    \(name)")
        } else {
            let text = reasons.map { String(decoding: $0, as: UTF8.self) }.filter { !$0.isEmpty }.joined(separator: "; ")
            say("FAIL  \(name): \(text)")
        }
    }
    if ok { passed += 1 } else { failed += 1 }
}

// MARK: - Models and data

final class MLP: Chain, UnaryLink {
    let l1: Linear, l2: Linear
    init(_ inSize: Int?, _ hidden: Int, _ out: Int, rng: RandomState) {
        l1 = Linear(inSize, hidden, rng: rng)
        l2 = Linear(inSize == nil ? nil : hidden, out, rng: rng)
        super.init()
    }
    func callAsFunction(_ x: Variable) -> Variable { l2(F.tanh(l1(x))) }
}

/// `count` examples of a regression problem, the same on every rank (drawn from a fixed seed).
func regressionData(_ count: Int, inputs: Int, outputs: Int, dtype: DType) -> (x: NDArray, t: NDArray) {
    let rng = RandomState(seed: 99)
    return (rng.normal(shape: [count, inputs], dtype: dtype), rng.normal(shape: [count, outputs], dtype: dtype))
}

// MARK: - Failure scenarios (each ends the job)

if let i = CommandLine.arguments.firstIndex(of: "--scenario"), i + 1 < CommandLine.arguments.count {
    switch CommandLine.arguments[i + 1] {
    case "throw-on-rank-1":
        // Rank 1 fails while the others wait for it in a collective: the job must end, with rank 1's message.
        comm.abortingOnError {
            if comm.rank == 1 { throw Failure(description: "the data file of rank 1 is damaged (deliberate test failure)") }
            comm.barrier()
            var v: [Double] = [1]
            comm.allreduce(&v)
        }
    case "exit-on-rank-1":
        // Rank 1 leaves with a failure status outside abortingOnError (a plain exit(1) after printing its error,
        // as a command-line tool does) while rank 0 waits for it: the job must still end.
        if comm.rank == 1 {
            FileHandle.standardError.write(Data("rank 1 gives up: no data (deliberate test failure)\n".utf8))
            exit(1)
        }
        var v: [Double] = [1]
        comm.allreduce(&v)
    case "precondition-on-rank-1":
        // A misuse stopped by a Catena precondition on one rank (a process that traps) ends the job too.
        if comm.rank == 1 { _ = NDArray.zeros([2]) + NDArray.zeros([3]) }
        comm.barrier()
    case "different-settings":
        // Rank 1 cuts its messages differently: the exchange must refuse to start, naming the settings.
        if comm.rank == 1 { comm.exchangeSettings.segmentElements = 99 }
        let model = MLP(4, 5, 2, rng: RandomState(seed: 1))
        comm.allreduceGrad(model, zeroFill: true)
    case "different-models":
        // Rank 1 builds a wider model: the first gradient exchange must end the job naming the parameter.
        let model = MLP(4, comm.rank == 1 ? 6 : 5, 2, rng: RandomState(seed: 1))
        comm.bcastData(model)
    default:
        comm.abort("unknown scenario \(CommandLine.arguments[i + 1])")
    }
    if comm.rank == 0 { say("scenario ended without error") }
    exit(0)
}

// MARK: - Tests

test("communicator: ranks, sizes, one machine") {
    var ranks: [Int64] = [Int64(comm.rank)]
    comm.allreduce(&ranks)
    try expect(ranks[0] == Int64(comm.size * (comm.size - 1) / 2), "sum of ranks \(ranks[0])")
    // mpirun on one machine: every process shares it.
    try expect(comm.intraSize == comm.size && comm.intraRank == comm.rank, "intra \(comm.intraRank)/\(comm.intraSize)")
    try expect(comm.interSize == 1 && comm.interRank == 0, "inter \(comm.interRank)/\(comm.interSize)")
}

test("allreduce: sum, max, min of doubles") {
    var v = [Double(comm.rank + 1), -Double(comm.rank)]
    comm.allreduce(&v)
    try expectClose(v, [Double(comm.size * (comm.size + 1) / 2), -Double(comm.size * (comm.size - 1) / 2)], tolerance: 0, "sum")
    var m = [Double(comm.rank)]
    comm.allreduce(&m, .max)
    try expect(m == [Double(comm.size - 1)], "max \(m)")
    comm.allreduce(&m, .min)
    try expect(m == [Double(comm.size - 1)], "min of equal values \(m)")
}

test("bcast and gather of bytes") {
    var bytes: [UInt8] = comm.rank == 0 ? Array("from rank 0".utf8) : [1, 2, 3]
    comm.bcast(&bytes)
    try expect(String(decoding: bytes, as: UTF8.self) == "from rank 0", "bcast gave \(bytes)")
    let gathered = comm.gather([UInt8(comm.rank), UInt8(comm.rank)])
    if comm.rank == 0 { try expect(gathered == (0..<comm.size).map { [UInt8($0), UInt8($0)] }, "gather gave \(gathered)") }
}

test("bcastData: every rank gets rank 0's parameters") {
    let model = MLP(3, 4, 2, rng: RandomState(seed: UInt64(10 + comm.rank)))   // a different start on each rank
    let before = allValues(parameterValues(model))
    if comm.size > 1 { try expect(before[0] != before[1], "the ranks' models should start different") }
    comm.bcastData(model)
    let after = allValues(parameterValues(model))
    for r in 0..<comm.size { try expect(after[r] == before[0], "rank \(r) differs from rank 0's original values after bcastData") }
}

test("allreduceGrad: the mean of the ranks' gradients, float32 and float64") {
    for dtype in [DType.float32, .float64] {
        let model = MLP(2, 3, 2, rng: RandomState(seed: 5))
        for p in model.params() { p.array = p.array.astype(dtype) }
        let params = model.params()
        // Rank r's gradient of parameter k, element j: (r + 1) · (k + 1) + j.
        for (k, p) in params.enumerated() {
            p.grad = NDArray((0..<p.array.count).map { Double((comm.rank + 1) * (k + 1) + $0) }, shape: p.array.shape, dtype: dtype)
        }
        comm.allreduceGrad(model)
        let meanOfRanks = Double(comm.size + 1) / 2   // mean of r + 1 over the ranks
        for (k, p) in params.enumerated() {
            try expect(p.grad?.dtype == dtype, "grad dtype")
            try expectClose(p.grad!.toDoubles(), (0..<p.array.count).map { meanOfRanks * Double(k + 1) + Double($0) },
                            tolerance: dtype == .float32 ? 1e-6 : 1e-15, "\(dtype) grad of \(k)")
        }
    }
}

test("allreduceGrad: gradients larger than a segment (reduced in place), present on some ranks only") {
    // 600×500 = 300,000 elements: above the default segment of 131,072, so reduced in place in three segments.
    let big = Linear(600, 500, rng: RandomState(seed: 3))
    let count = big.W.array.count
    if comm.rank != 1 { big.W.grad = NDArray((0..<count).map { Double(($0 % 1000) * (comm.rank + 1)) }, shape: big.W.array.shape) }
    big.b!.grad = NDArray.full([500], Double(comm.rank))
    comm.allreduceGrad(big)
    // Ranks other than 1 contribute (i mod 1000)·(r + 1); rank 1 contributes zeros.
    let factor = Double((0..<comm.size).filter { $0 != 1 }.map { $0 + 1 }.reduce(0, +)) / Double(comm.size)
    let g = big.W.grad!.toDoubles()
    for i in stride(from: 0, to: count, by: 997) where abs(g[i] - Double(i % 1000) * factor) > 1e-3 * max(1, Double(i % 1000) * factor) {
        throw Failure(description: "W.grad[\(i)] = \(g[i]), expected \(Double(i % 1000) * factor)")
    }
    try expectClose(big.b!.grad!.toDoubles(), Array(repeating: Double(comm.size - 1) / 2, count: 500), tolerance: 1e-6, "b")
}

test("allreduceGrad: missing gradients skipped consistently, or zero-filled") {
    let model = MLP(2, 3, 1, rng: RandomState(seed: 5))
    let l1W = model.l1.W, l1b = model.l1.b!, l2W = model.l2.W, l2b = model.l2.b!
    model.clearGrads()
    l1W.grad = NDArray.full(l1W.array.shape, Double(comm.rank + 1))   // on every rank
    if comm.rank == 0 { l2W.grad = NDArray.full(l2W.array.shape, 6) } // on rank 0 only
    // l1b and l2b: on no rank.
    comm.allreduceGrad(model)
    try expectClose(l1W.grad!.toDoubles(), Array(repeating: Double(comm.size + 1) / 2, count: l1W.array.count), tolerance: 1e-7, "l1/W")
    try expectClose(l2W.grad!.toDoubles(), Array(repeating: 6 / Double(comm.size), count: l2W.array.count), tolerance: 1e-7, "l2/W (rank 0 only)")
    try expect(l1b.grad == nil && l2b.grad == nil, "parameters without gradients on every rank keep none")
    comm.allreduceGrad(model, zeroFill: true)
    try expect(l1b.grad?.toDoubles() == Array(repeating: 0, count: 3), "zeroFill gives zeros")
}

/// K steps on N ranks with batch B each, against K steps of one process with batch N·B on the same examples.
/// With `differentStarts`, each rank builds its (lazy) model from its own seed: the first update then only makes the
/// ranks' parameters equal (ChainerMN's rule), and the reference skips that step's batch.
func checkEquivalence(dtype: DType, lazy: Bool, differentStarts: Bool = false, makeOptimizer: () -> Optimizer, tolerance: Double) throws {
    let b = 4, steps = 5
    let n = b * comm.size * steps
    let (x, t) = regressionData(n, inputs: 3, outputs: 2, dtype: dtype)
    func build(seed: UInt64) -> Link {
        let model = MLP(lazy ? nil : 3, 4, 2, rng: RandomState(seed: seed))
        if !lazy { for p in model.params() { p.array = p.array.astype(dtype) } }   // (lazy ones are float32)
        return model
    }
    func loss(_ model: Link, _ rows: [Int]) -> Variable {
        let index = NDArray(values: rows.map(Int64.init), shape: [rows.count])
        return F.meanSquaredError((model as! MLP)(.constant(x.take(index))), .constant(t.take(index)))
    }
    // Data-parallel: rank r's batch at step k is rows (k·N + r)·B ..< (k·N + r + 1)·B.
    let model = build(seed: differentStarts ? UInt64(20 + comm.rank) : 20)
    if lazy { _ = loss(model, [0]) }
    let optimizer = createMultiNodeOptimizer(makeOptimizer(), comm)
    optimizer.setup(model)
    for k in 0..<steps {
        let first = (k * comm.size + comm.rank) * b
        optimizer.update { loss(model, Array(first..<first + b)) }
    }
    // One process, every rank's batch of each step together (computed on each rank, from rank 0's start).
    let reference = build(seed: 20)
    if lazy { _ = loss(reference, [0]) }
    let referenceOptimizer = makeOptimizer()
    referenceOptimizer.setup(reference)
    let skipped = differentStarts && comm.size > 1 ? 1 : 0
    for k in skipped..<steps {
        let first = k * comm.size * b
        referenceOptimizer.update { loss(reference, Array(first..<first + comm.size * b)) }
    }
    try expectClose(parameterValues(model), parameterValues(reference), tolerance: tolerance, "\(dtype) parameters after \(steps) steps")
    try expect(optimizer.t == steps - skipped, "t = \(optimizer.t), expected \(steps - skipped)")
    let all = allValues(parameterValues(model))
    for r in 1..<comm.size { try expect(all[r] == all[0], "rank \(r)'s parameters differ from rank 0's") }
}

test("multi-node optimizer: N ranks × batch B equal one process × batch N·B (SGD, float64)") {
    try checkEquivalence(dtype: .float64, lazy: false, makeOptimizer: { SGD(lr: 0.1) }, tolerance: 1e-12)
}

test("multi-node optimizer: Adam with weight decay and clipping hooks, float64") {
    try checkEquivalence(dtype: .float64, lazy: false, makeOptimizer: {
        let o = Adam(alpha: 0.01)
        o.addHook(WeightDecay(rate: 1e-3))
        o.addHook(GradientClipping(threshold: 0.5))
        return o
    }, tolerance: 1e-12)
}

test("multi-node optimizer: MomentumSGD, lazy model, float32") {
    try checkEquivalence(dtype: .float32, lazy: true, makeOptimizer: { MomentumSGD(lr: 0.05) }, tolerance: 2e-5)
}

test("multi-node optimizer: ranks started from different weights skip the first update and broadcast rank 0's") {
    try checkEquivalence(dtype: .float32, lazy: true, differentStarts: true, makeOptimizer: { MomentumSGD(lr: 0.05) }, tolerance: 2e-5)
}

/// Example i of a dataset whose single component holds i, so that parts can be checked for coverage.
func numbered(_ n: Int) -> TupleDataset { TupleDataset(NDArray((0..<n).map(Double.init), shape: [n, 1])) }

func checkCoverage(_ ids: [Int], total n: Int, forceEqualLength: Bool, _ what: String) throws {
    let all = allValues(ids.map(Double.init))
    let per = (n + comm.size - 1) / comm.size
    var seen = [Int](repeating: 0, count: n)
    for part in all { for id in part { seen[Int(id)] += 1 } }
    if forceEqualLength {
        try expect(ids.count == per, "\(what): rank \(comm.rank) has \(ids.count) examples, expected ⌈\(n)/\(comm.size)⌉ = \(per)")
        try expect(seen.allSatisfy { $0 >= 1 }, "\(what): example \(seen.firstIndex(of: 0) ?? -1) is on no rank")
        try expect(seen.reduce(0, +) == per * comm.size, "\(what): \(seen.reduce(0, +)) examples in all, expected \(per * comm.size)")
        if n % comm.size == 0 { try expect(seen.allSatisfy { $0 == 1 }, "\(what): an example is on two ranks though \(comm.size) divides \(n)") }
    } else {
        try expect(seen.allSatisfy { $0 == 1 }, "\(what): example \(seen.firstIndex { $0 != 1 } ?? -1) is used \(seen.first { $0 != 1 } ?? -1) times")
        let expected: Int = n * (comm.rank + 1) / comm.size - n * comm.rank / comm.size
        try expect(ids.count == expected, "\(what): part size \(ids.count), expected \(expected)")
    }
}

test("scatterDataset: rank 0's data in equal parts covering every example, even and uneven sizes") {
    for n in [comm.size * 6, comm.size * 6 + 1, comm.size * 6 + comm.size - 1, 1] {
        for (shuffle, equal) in [(false, true), (true, true), (true, false), (false, false)] {
            let part = try scatterDataset(comm.rank == 0 ? numbered(n) : nil, comm, shuffle: shuffle, seed: 7, forceEqualLength: equal)
            let ids = (0..<part.count).map { Int(part[$0][0].toDoubles()[0]) }
            try checkCoverage(ids, total: n, forceEqualLength: equal, "n=\(n) shuffle=\(shuffle) equal=\(equal)")
            if !shuffle { try expect(ids == Array(scatterRange(count: n, rank: comm.rank, size: comm.size, forceEqualLength: equal)), "unshuffled part \(ids)") }
            if shuffle {
                let again = try scatterDataset(comm.rank == 0 ? numbered(n) : nil, comm, shuffle: true, seed: 7, forceEqualLength: equal)
                try expect((0..<again.count).map { Int(again[$0][0].toDoubles()[0]) } == ids, "the same seed gives the same parts")
            }
        }
    }
}

test("scatterDataset(replicated:): parts of a dataset every rank holds") {
    for n in [comm.size * 5, comm.size * 5 + 1] {
        let data = Array(0..<n)
        let part = try scatterDataset(replicated: data, comm, shuffle: true, seed: 3)
        try checkCoverage((0..<part.count).map { part[$0] }, total: n, forceEqualLength: true, "replicated n=\(n)")
    }
    // Datasets of different lengths are refused on every rank.
    do {
        _ = try scatterDataset(replicated: Array(0..<(10 + comm.rank)), comm)
        if comm.size > 1 { throw Failure(description: "different lengths were accepted") }
    } catch let error as CatenaMNError {
        try expect(error.message.contains("different lengths"), "message: \(error.message)")
    }
}

test("scatterDataset: a root without a dataset is an error on every rank") {
    do {
        _ = try scatterDataset(nil, comm)
        throw Failure(description: "no error")
    } catch let error as CatenaMNError {
        try expect(error.message.contains("gave no dataset"), "message: \(error.message)")
    }
}

test("multi-node evaluator: the mean of every rank's results") {
    let model = MLP(2, 2, 2, rng: RandomState(seed: 1))
    let data: [[NDArray]] = [[NDArray([Double(comm.rank)])]]
    let iterator = SerialIterator(data, batchSize: 1, repeats: false, shuffle: false)
    let evaluate: ([NDArray]) -> Void = { arrays in
        let values: [String: Double] = ["loss": Double(comm.rank + 1), "score": arrays[0].toDoubles()[0] * 2]
        report(values, observer: model)
    }
    let evaluator = Evaluator(iterator, model, evalFunction: evaluate)
    let multi = createMultiNodeEvaluator(evaluator, comm)
    multi.name = "validation"
    let result = multi.evaluate()
    try expectClose([result["validation/main/loss"] ?? .nan], [Double(comm.size + 1) / 2], tolerance: 1e-15, "loss")
    try expectClose([result["validation/main/score"] ?? .nan], [Double(comm.size - 1)], tolerance: 1e-15, "score")
}

/// A data-parallel training run of `iterations` updates (resuming from `dir` if it holds a snapshot), returning
/// the final parameters and the state of this rank's iterator.
func trainRun(dir: String, iterations: Int, snapshotEvery: Int) throws -> (params: [Double], iterator: [Double]) {
    let (x, t) = regressionData(10 * comm.size + 1, inputs: 3, outputs: 2, dtype: .float32)
    let train = try scatterDataset(comm.rank == 0 ? TupleDataset(x, t) : nil, comm, shuffle: true, seed: 1)
    let model = MLP(3, 4, 2, rng: RandomState(seed: 2))
    let optimizer = createMultiNodeOptimizer(Adam(alpha: 0.01), comm)
    optimizer.setup(model)
    // Each rank shuffles its part with its own generator, so the ranks' iterator states differ.
    let iterator = SerialIterator(train, batchSize: 3, rng: RandomState(seed: UInt64(100 + comm.rank)))
    let updater = StandardUpdater(iterator: iterator, optimizer: optimizer,
                                  lossFunction: { F.meanSquaredError(model(.constant($0[0])), .constant($0[1])) })
    let trainer = Trainer(updater: updater, stopTrigger: IntervalTrigger(Double(iterations), .iteration), out: dir)
    trainer.extend(multiNodeSnapshot(comm, snapshot(autoload: true)), trigger: IntervalTrigger(Double(snapshotEvery), .iteration))
    // A log on rank 0 only, as the examples keep theirs: the ranks' trainers then have different extensions.
    if comm.rank == 0 { trainer.extend(LogReport(trigger: IntervalTrigger(2, .iteration))) }
    try trainer.run()
    let state = try DictionarySerializer.serialize(iterator).flatMap { entry -> [Double] in
        if case .array(let a) = entry.value { return a.toDoubles() }
        return []
    }
    return (parameterValues(model), state)
}

test("multi-node snapshot: rank 0 writes, every rank resumes, bit-identical to an uninterrupted run") {
    let base = NSTemporaryDirectory() + "catenamn-test-\(ProcessInfo.processInfo.processIdentifier)"
    var baseBytes = Array(base.utf8)
    comm.bcast(&baseBytes)   // one directory for the whole job (rank 0's name)
    let root = String(decoding: baseBytes, as: UTF8.self)
    defer {
        comm.barrier()
        if comm.rank == 0 { try? FileManager.default.removeItem(atPath: root) }
    }
    let whole = try trainRun(dir: root + "/whole", iterations: 8, snapshotEvery: 100)
    _ = try trainRun(dir: root + "/parts", iterations: 5, snapshotEvery: 5)
    comm.barrier()
    let files = try FileManager.default.contentsOfDirectory(atPath: root + "/parts").filter { $0.hasPrefix("snapshot_iter_") }
    try expect(files == ["snapshot_iter_5"], "snapshots written: \(files)")
    let resumed = try trainRun(dir: root + "/parts", iterations: 8, snapshotEvery: 100)
    try expect(resumed.params == whole.params, "resumed parameters differ from the uninterrupted run's")
    try expect(resumed.iterator == whole.iterator, "rank \(comm.rank)'s resumed iterator differs from the uninterrupted run's")
    if comm.size > 1 {
        let iterators = allValues(whole.iterator)
        try expect(iterators[0] != iterators[1], "the ranks' iterators should differ (else the test shows nothing)")
    }
    // A job of another size is refused by name.
    do {
        try loadMultiNodeState(root + "/parts/snapshot_iter_5", into: MLP(3, 4, 2, rng: RandomState(seed: 2)), rank: 0, size: comm.size + 1)
        throw Failure(description: "a snapshot of another job size was accepted")
    } catch let error as SerializationError {
        try expect(error.message.contains("written by a job of \(comm.size) processes"), "message: \(error.message)")
    }
}

if comm.rank == 0 { say("\(passed) passed, \(failed) failed") }
exit(failed == 0 ? 0 : 1)
