// The fuzz targets: what each mode of the fuzzer (Fuzz/) does with one input. The same file is compiled into the
// libFuzzer harness (with Catena's sources, in one module) and into the tests, which replay every input the fuzzer
// ever found a crash with (Tests/CatenaTests/Fuzz/Regressions/<mode>/), so a fixed crash stays fixed.
//
// Every target must either succeed or throw: a trap (a failed type check, an overflow, an out-of-range index) or a
// sanitizer report is a finding.
import Foundation

#if !CATENA_FUZZ_HARNESS
@testable import Catena
import CatenaModels
#endif

enum FuzzTargets {
    enum Mode: String, CaseIterable {
        /// Raw bytes as an `.npz` archive.
        case npz
        /// Raw bytes as an `.npy` file.
        case npy
        /// Raw bytes as an IDX file (plain or gzip).
        case idx
        /// The bytes as edits of a valid trainer snapshot (values, shapes, dtypes, missing and extra keys), loaded
        /// into a fresh trainer, which then trains for two iterations if the load succeeded.
        case snapshot
    }

    static func run(_ mode: Mode, _ bytes: [UInt8]) {
        switch mode {
        case .npz: _ = try? decodeNPZ(bytes, source: "fuzz")
        case .npy: _ = try? NPY.decode(bytes, source: "fuzz")
        case .idx: _ = try? decodeIDX(Data(bytes), source: "fuzz")
        case .snapshot: runSnapshot(bytes)
        }
    }

    // MARK: - Snapshot edits

    /// A small trainer of one of two kinds: a language model (LSTM with saved state, truncated BPTT, Adam with
    /// clipping, schedules) or a classifier (SerialIterator, MomentumSGD), with the extensions whose state
    /// snapshots carry.
    static func makeTrainer(kind: Int, out: String) -> Trainer {
        let quiet = TextSink(isTerminal: false) { _ in }
        let trainer: Trainer
        if kind % 2 == 0 {
            let lm = RNNLanguageModel(vocabularySize: 10, units: 5, cell: .lstm, dropout: 0.1, rng: RandomState(seed: 1))
            lm.serializesState = true
            let model = Classifier(lm)
            let optimizer = Adam(alpha: 0.01)
            optimizer.setup(model)
            optimizer.addHook(GradientClipping(threshold: 5))
            let iterator = ParallelSequentialIterator(repeatCountSequence(length: 120), batchSize: 3)
            trainer = Trainer(updater: BPTTUpdater(iterator: iterator, optimizer: optimizer, bpropLen: 4),
                              stopTrigger: IntervalTrigger(1000, .iteration), out: out)
            trainer.extend(ExponentialShift("alpha", rate: 0.9), trigger: IntervalTrigger(2, .iteration))
            trainer.extend(ReduceLROnPlateau("main/loss", attribute: "alpha", factor: 0.5, trigger: IntervalTrigger(2, .iteration)))
        } else {
            let model = Classifier(Sequential(Linear(3, 4, rng: RandomState(seed: 2)), F.tanh, Linear(4, 2, rng: RandomState(seed: 3))))
            let optimizer = MomentumSGD(lr: 0.1)
            optimizer.setup(model)
            let data = TupleDataset(NDArray((0..<24).map { Double($0 % 7) / 7 }, shape: [8, 3]), NDArray(values: (0..<8).map { Int32($0 % 2) }, shape: [8]))
            trainer = Trainer(updater: StandardUpdater(iterator: SerialIterator(data, batchSize: 3, rng: RandomState(seed: 4)), optimizer: optimizer),
                              stopTrigger: IntervalTrigger(1000, .iteration), out: out)
            trainer.extend(LinearShift("lr", valueRange: (0.1, 0.01), timeRange: (0, 10)))
        }
        trainer.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
        trainer.extend(PrintReport(["iteration", "main/loss"], out: quiet))
        trainer.extend(ProgressBar(out: quiet))
        return trainer
    }

    /// The snapshot the edits start from: each kind of trainer after three iterations.
    static let baseSnapshots: [[(key: String, value: SerializedValue)]] = (0..<2).map { kind in
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("catena-fuzz-base-\(getpid())-\(kind)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let t = makeTrainer(kind: kind, out: out)
        t.stopTrigger = IntervalTrigger(3, .iteration)
        try! t.run()
        return try! DictionarySerializer.serialize(t)
    }

    /// Reads the fuzz input as a little program of edits.
    struct Reader {
        let bytes: [UInt8]
        var i = 0
        var atEnd: Bool { i >= bytes.count }
        mutating func byte() -> Int {
            defer { i += 1 }
            return i < bytes.count ? Int(bytes[i]) : 0
        }
        mutating func int64() -> Int64 {
            var v: UInt64 = 0
            for _ in 0..<8 { v = v << 8 | UInt64(byte()) }
            return Int64(bitPattern: v)
        }
        mutating func double() -> Double {
            switch byte() % 8 {
            case 0: return .nan
            case 1: return .infinity
            case 2: return -.infinity
            case 3: return 0
            case 4: return -1
            case 5: return 1e300
            case 6: return Double(int64())
            default: return Double(bitPattern: UInt64(bitPattern: int64()))
            }
        }
    }

    static func edited(_ base: [(key: String, value: SerializedValue)], _ r: inout Reader) -> [String: SerializedValue] {
        var values = Dictionary(uniqueKeysWithValues: base.map { ($0.key, $0.value) })
        var keys = base.map(\.key)
        var edits = 0
        while !r.atEnd && edits < 8 {
            edits += 1
            let op = r.byte() % 10
            let key = keys[(r.byte() << 8 | r.byte()) % keys.count]
            switch op {
            case 0: values[key] = nil
            case 1: values[key] = SerializedValue.none
            case 2: values[key] = .string(String(repeating: "x", count: r.byte()))
            case 3: values[key] = .array(NDArray(values: [r.int64()], shape: []))
            case 4:   // one element of an array set to a special value
                if case .array(var a) = values[key] ?? .none, a.count > 0, a.dtype.isFloatingPoint {
                    var flat = a.toDoubles()
                    flat[r.byte() % flat.count] = r.double()
                    a = NDArray(flat, shape: a.shape, dtype: a.dtype)
                    values[key] = .array(a)
                }
            case 5:   // another shape, same dtype
                if case .array(let a) = values[key] ?? .none {
                    let shape = (0..<(r.byte() % 4)).map { _ in r.byte() % 9 }
                    let n = shape.reduce(1, *)
                    values[key] = .array(NDArray((0..<n).map { Double($0 % 5) }, shape: shape, dtype: a.dtype == .bool ? .int32 : a.dtype))
                }
            case 6:   // another dtype
                if case .array(let a) = values[key] ?? .none {
                    values[key] = .array(a.astype(DType.allCases[r.byte() % DType.allCases.count]))
                }
            case 7:   // an extra key beside an existing one
                let extra = key + (r.byte() % 2 == 0 ? "_extra" : "/child")
                values[extra] = .array(NDArray.zeros([r.byte() % 4]))
                keys.append(extra)
            case 8:   // an integer value (or two) anywhere
                let n = 1 + r.byte() % 2
                values[key] = .array(NDArray(values: (0..<n).map { _ in r.int64() }, shape: [n]))
            default:  // a float value anywhere
                values[key] = .array(NDArray([r.double()], shape: []))
            }
        }
        return values
    }

    static func runSnapshot(_ bytes: [UInt8]) {
        var r = Reader(bytes: bytes)
        let kind = r.byte() % 2
        let values = edited(baseSnapshots[kind], &r)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("catena-fuzz-\(getpid())").path
        let trainer = makeTrainer(kind: kind, out: out)
        do {
            try DictionaryDeserializer.load(trainer, from: values)
        } catch {
            return
        }
        // It loaded: it must also train (two more iterations, extensions included) without a trap.
        trainer.stopTrigger = IntervalTrigger(Double(trainer.updater.iteration + 2), .iteration)
        try? trainer.run()
    }
}
