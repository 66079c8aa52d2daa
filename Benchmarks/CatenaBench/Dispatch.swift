// catena-bench dispatch: every operation that turns an array's run-time dtype into a Swift element type
// (`DType.withFloatType` and its siblings), on every dtype it accepts, forward and backward where it is a function.
//
// Its figure is the time of one pass, but its purpose is Scripts/check-specialization.sh: run under callgrind, a
// kernel the optimiser failed to specialise for `Float`, `Double`, `Int32`, … shows up as calls to the standard
// library's protocol witnesses (`Float`'s `*` through `Numeric`, `swift_getAssociatedConformanceWitness`), which
// specialised code never makes.
import Catena
import Foundation

/// A per-element kernel of the user-facing `NDArray.map` forms.
private struct Blend: UnaryFloatKernel, BinaryFloatKernel, TernaryFloatKernel {
    func callAsFunction<T: NDFloatingPoint>(_ x: T) -> T { x * x + 1 }
    func callAsFunction<T: NDFloatingPoint>(_ x: T, _ y: T) -> T { x * y - y }
    func callAsFunction<T: NDFloatingPoint>(_ x: T, _ y: T, _ z: T) -> T { x * y + z }
}

/// One pass over the dtype-dispatched operations; returns a checksum so that nothing is optimised away.
private func dispatchPass(n: Int, rng: RandomState) -> Double {
    var sink = 0.0
    let side = Int(Double(n).squareRoot())
    for dtype in [DType.float32, .float64] {
        let a = rng.uniform(shape: [side, side], low: 0.5, high: 1.5, dtype: dtype)
        let b = rng.uniform(shape: [side, side], low: 0.5, high: 1.5, dtype: dtype)
        let strided = a.transposed()   // not contiguous: the scalar paths of the maths functions
        let k = Blend()
        sink += NDArray.map(a, k).sum().item() + NDArray.map(a, b, k).sum().item() + NDArray.map(a, b, strided, k).sum().item()
        sink += NDArray.map(a, b, strided.contiguous(), k).sum().item()
        for x in [a, strided] {
            sink += x.exp().sum().item() + x.log().sum().item() + x.sqrt().sum().item() + x.tanh().sum().item()
            sink += x.sigmoid().sum().item() + x.log1p().sum().item() + x.expm1().sum().item()
        }
        sink += (-a).abs().sum().item() + (a - 1).sign().sum().item() + (a - 1).relu().sum().item()
        sink += a.isNaN().sum().item() + a.isFinite().sum().item()
        sink += (a + b).sum().item() + (a - b).sum().item() + (a * b).sum().item() + (a / b).sum().item()
        sink += NDArray.pow(a, b).sum().item() + a.pow(2).sum().item() + NDArray.maximum(a, b).sum().item()
        sink += (a .< b).sum().item() + NDArray.where(a .> b, a, b).sum().item()
        sink += NDArray.matmul(a, b, transposeB: true).sum().item()
        var c = NDArray.zeros([side, side], dtype: dtype)
        NDArray.gemm(a, b, into: &c, accumulate: true)
        sink += c.max().item() + a.max(axis: 1).sum().item() + a.argmax(axis: 0).sum().item() + a.mean().item()
        sink += a.toDoubles().reduce(0, +) + a.item(1, 2) + a.astype(.int32).sum().item() + a.astype(.uint8).sum().item()
        var f = a
        f.fill(0.25)
        sink += f.sum().item()
        let ids = NDArray((0..<side).map { Double(($0 * 7) % side) }, dtype: .int32)
        sink += NDArray.scatterAdd(a, indices: ids, axis: 0, shape: [side, side]).sum().item()

        // The fused functions, forward and backward.
        let batch = 8, units = side / 4
        let x = Variable(rng.uniform(shape: [batch, 4 * units], low: -1, high: 1, dtype: dtype))
        let c0 = Variable(rng.uniform(shape: [batch, units], low: -1, high: 1, dtype: dtype))
        let (cNew, h) = F.lstm(c0, x)
        let logits = Variable(rng.uniform(shape: [batch, units], low: -1, high: 1, dtype: dtype))
        let labels = NDArray((0..<batch).map { Double($0 % units) }, dtype: .int32)
        let w = Parameter(rng.uniform(shape: [units, units], low: -1, high: 1, dtype: dtype))
        let emb = F.embedID(Variable(labels), w)
        let loss = F.sum(h * cNew) + F.softmaxCrossEntropy(logits + emb, labels) + F.sum(F.dropout(logits, ratio: 0.5))
        loss.backward()
        sink += loss.array.item() + x.grad!.sum().item() + w.grad!.sum().item()

        let steps = 6
        let hx = Variable(NDArray.zeros([1, batch, units], dtype: dtype))
        let xs = (0..<steps).map { _ in Variable(rng.uniform(shape: [batch, units], low: -1, high: 1, dtype: dtype)) }
        func weights(_ count: Int) -> [[Variable]] {
            [(0..<count).map { _ in Parameter(rng.uniform(shape: [units, units], low: -0.3, high: 0.3, dtype: dtype)) }]
        }
        func biases(_ count: Int) -> [[Variable]] { [(0..<count).map { _ in Parameter(NDArray.zeros([units], dtype: dtype)) }] }
        let lstm = F.nStepLSTM(1, 0, hx, hx, weights(8), biases(8), xs)
        let rnn = F.nStepRNN(1, 0, hx, weights(2), biases(2), xs, activation: .relu)
        let seqLoss = F.sum(lstm.hy) + F.sum(lstm.cy) + F.sum(rnn.hy)
        seqLoss.backward()
        sink += seqLoss.array.item() + xs[0].grad!.sum().item()
    }
    for dtype in [DType.int32, .int64, .uint8] {
        let a = NDArray((0..<n).map { Double($0 % 13) }, dtype: dtype).reshaped([side, n / side])
        let b = NDArray((0..<n).map { Double($0 % 5 + 1) }, dtype: dtype).reshaped([side, n / side])
        sink += (a + b).sum().item() + (a - b).sum().item() + (a * b).sum().item() + (a / b).sum().item()
        sink += NDArray.pow(a, b).sum().item() + NDArray.minimum(a, b).sum().item()
        sink += (-a).abs().sum().item() + (-a).relu().sum().item() + a.sign().sum().item()
        sink += (a .== b).sum().item() + NDArray.where(a .> b, a, b).sum().item()
        sink += NDArray.matmul(a, b, transposeB: true).sum().item() + a.max(axis: 1).sum().item() + a.argmin(axis: 1).sum().item()
        sink += a.toDoubles().reduce(0, +) + a.astype(.float32).sum().item() + a.astype(.int64).sum().item()
        var f = a
        f.fill(3)
        sink += f.sum().item()
    }
    return sink
}

/// The dtype-dispatched operations (see the top of this file), timed per pass.
func benchDispatch(_ o: Options) {
    let n = o.sizes.first ?? 4096
    let rng = RandomState(seed: 0)
    var sink = 0.0
    let times = time(reps: o.reps) { sink += dispatchPass(n: n, rng: rng) }
    emit(["bench": "dispatch", "n": n, "s_per_pass": summary(times, digits: 5), "checksum_finite": sink.isFinite])
}
