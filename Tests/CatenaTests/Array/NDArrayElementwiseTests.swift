import CCatenaKernels
import Foundation
import XCTest

@testable import Catena

final class NDArrayElementwiseTests: XCTestCase {
    /// Reference broadcasting computed index by index, independently of the library's loops.
    func reference(_ a: NDArray, _ b: NDArray, _ f: (Double, Double) -> Double) -> (shape: [Int], values: [Double]) {
        let n = max(a.ndim, b.ndim)
        let pa = [Int](repeating: 1, count: n - a.ndim) + a.shape, pb = [Int](repeating: 1, count: n - b.ndim) + b.shape
        let shape = zip(pa, pb).map { max($0, $1) }
        let total = shape.reduce(1, *)
        let av = a.contiguous().toDoubles(), bv = b.contiguous().toDoubles()
        let sa = NDArray.contiguousStrides(pa), sb = NDArray.contiguousStrides(pb)
        var out = [Double]()
        for flat in 0..<total {
            let ix = unravel(flat, shape)
            var ia = 0, ib = 0
            for d in 0..<n {
                ia += (pa[d] == 1 ? 0 : ix[d]) * sa[d]
                ib += (pb[d] == 1 ? 0 : ix[d]) * sb[d]
            }
            out.append(f(av[ia], bv[ib]))
        }
        return (shape, out)
    }

    func testBroadcastingEdgeCases() {
        let cases: [([Int], [Int])] = [
            ([2, 3], [2, 3]), ([2, 3], [3]), ([2, 3], [1]), ([2, 3], []), ([2, 1], [1, 3]), ([4, 1, 3], [2, 1]),
            ([1], [5]), ([3, 1, 2], [3, 4, 1]), ([2, 3], [2, 1]),
        ]
        typealias ArrayOp = (NDArray, NDArray) -> NDArray
        typealias ScalarOp = (Double, Double) -> Double
        let ops: [(String, ArrayOp, ScalarOp)] = [
            ("+", { (x: NDArray, y: NDArray) in x + y }, { (x: Double, y: Double) in x + y }),
            ("-", { (x: NDArray, y: NDArray) in x - y }, { (x: Double, y: Double) in x - y }),
            ("*", { (x: NDArray, y: NDArray) in x * y }, { (x: Double, y: Double) in x * y }),
            ("/", { (x: NDArray, y: NDArray) in x / y }, { (x: Double, y: Double) in x / y }),
        ]
        for (sa, sb) in cases {
            let a = testArray(sa, offset: 2), b = testArray(sb, scale: 0.5, offset: 3)
            for (name, op, f) in ops {
                let r = reference(a, b, f)
                assertClose(op(a, b), r.values, shape: r.shape, "\(sa) \(name) \(sb)")
                let r2 = reference(b, a, f)
                assertClose(op(b, a), r2.values, shape: r2.shape, "\(sb) \(name) \(sa)")
            }
        }
    }

    func testNonContiguousViewsAsOperands() {
        let base = testArray([4, 6])
        let t = base.transposed()                       // [6, 4], strides [1, 6]
        let s = base[.range(nil, nil, step: 2), .range(1, nil, step: 2)]  // [2, 3] with steps
        let r = reference(t, NDArray.ones([4]), { $0 + $1 })
        assertClose(t + NDArray.ones([4]), r.values, shape: r.shape)
        let r2 = reference(s, s.contiguous(), { $0 * $1 })
        assertClose(s * s, r2.values, shape: r2.shape)
        let r3 = reference(t[1..<3], base.transposed()[2..<4], { $0 - $1 })
        assertClose(t[1..<3] - base.transposed()[2..<4], r3.values, shape: r3.shape)
        assertClose(-t, t.toDoubles().map { -$0 }, shape: [6, 4])
        assertClose(t.exp(), t.toDoubles().map { Foundation.exp($0) }, shape: [6, 4])
    }

    func testScalarsTakeTheArrayDType() {
        let a = NDArray([1, 2, 3], dtype: .float64)
        XCTAssertEqual((a + 1).dtype, .float64)
        XCTAssertEqual((2 * a).toDoubles(), [2, 4, 6])
        XCTAssertEqual((1 - a).toDoubles(), [0, -1, -2])
        XCTAssertEqual((6 / a).toDoubles(), [6, 3, 2])
        XCTAssertEqual((a / 2).toDoubles(), [0.5, 1, 1.5])
        let i = NDArray([7, -7, 3], dtype: .int32)
        XCTAssertEqual((i / 2).toArray(as: Int32.self), [3, -3, 1])
        XCTAssertEqual((i * 3 - 1).toArray(as: Int32.self), [20, -22, 8])
        XCTAssertEqual((i / NDArray([0, 1, 1], dtype: .int32)).toArray(as: Int32.self), [0, -7, 3])
    }

    func testInPlaceOperatorsWriteIntoUniqueStorage() {
        var a = NDArray([1, 2, 3, 4]).reshaped(2, 2)
        let storage = a.storage.raw
        a += NDArray([10, 20])
        XCTAssertEqual(a.storage.raw, storage, "unique contiguous storage is updated in place")
        XCTAssertEqual(a.toDoubles(), [11, 22, 13, 24])
        a *= 2
        a -= 1
        a /= NDArray([[1], [2]])
        XCTAssertEqual(a.storage.raw, storage)
        XCTAssertEqual(a.toDoubles(), [21, 43, 12.5, 23.5])
        let shared = a
        a += 1
        XCTAssertNotEqual(a.storage.raw, storage, "shared storage is not written")
        XCTAssertEqual(shared.toDoubles(), [21, 43, 12.5, 23.5])
    }

    func testMathFunctionsAgainstFoundation() {
        let xs: [Double] = [-20, -3.5, -1, -0.3, -1e-3, 0, 1e-4, 0.2, 0.7, 1, 2.5, 9, 30, 88]
        for dtype in [DType.float32, .float64] {
            let a = NDArray(xs, dtype: dtype)
            let rtol = dtype == .float32 ? 3e-7 : 1e-14
            let cast: (Double) -> Double = dtype == .float32 ? { Double(Float($0)) } : { $0 }
            let v = xs.map(cast)
            assertClose(a.exp(), v.map { Foundation.exp($0) }, atol: 0, rtol: rtol, "exp \(dtype)")
            assertClose(a.tanh(), v.map { Foundation.tanh($0) }, atol: 0, rtol: rtol, "tanh \(dtype)")
            assertClose(a.sigmoid(), v.map { 1 / (1 + Foundation.exp(-$0)) }, atol: 0, rtol: rtol, "sigmoid \(dtype)")
            assertClose(a.abs(), v.map { Swift.abs($0) }, atol: 0, rtol: 0)
            assertClose(a.relu(), v.map { max($0, 0) }, atol: 0, rtol: 0)
            assertClose(a.sign(), v.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }, atol: 0, rtol: 0)
            let p = a.abs() + 0.5
            let pv = v.map { cast(Swift.abs($0) + 0.5) }
            assertClose(p.log(), pv.map { Foundation.log($0) }, atol: 1e-7, rtol: rtol, "log \(dtype)")
            assertClose(p.sqrt(), pv.map { $0.squareRoot() }, atol: 0, rtol: rtol)
            assertClose(p.pow(1.5), pv.map { Foundation.pow($0, 1.5) }, atol: 0, rtol: rtol * 4)
            assertClose(p.pow(2), pv.map { $0 * $0 }, atol: 0, rtol: rtol)
            assertClose(a.squared(), v.map { $0 * $0 }, atol: 0, rtol: rtol)
            assertClose(a.clipped(-1, 2), v.map { min(max($0, -1), 2) }, atol: 0, rtol: 0)
            assertClose(p.log1p(), pv.map { Foundation.log1p($0) }, atol: 0, rtol: rtol)
            assertClose(a.expm1(), v.map { Foundation.expm1($0) }, atol: 0, rtol: rtol)
        }
    }

    /// The vectorised float32 maths (exp, log, tanh, sigmoid, the LSTM gates and their gradient) over 1,000
    /// values, long enough for the 16-wide loops: the AVX-512 loops give the AVX2 loops' results bit for bit, and
    /// every kernel, the portable one included, stays within float32 rounding of Foundation's functions.
    func testVectorMathIsTheSameOnEveryKernel() {
        let xs = (0..<1000).map { (i: Int) -> Double in Double(i) * 0.061 - 30.5 }
        let a = NDArray(xs, dtype: .float32), v = xs.map { Double(Float($0)) }
        let positive = a.abs() + 0.25, pv = v.map { Double(Float(Swift.abs($0) + 0.25)) }
        let c = NDArray(Array(xs[0..<250].map { $0 / 30 }), dtype: .float32).reshaped(5, 50)
        func run() -> [[Float]] {
            let cv = Variable(c), xv = Variable(a.reshaped(5, 200) * 0.2)
            let r = F.lstm(cv, xv)
            F.sum(r.h * r.h + r.c).backward()
            return [a.exp(), positive.log(), a.tanh(), a.sigmoid(), r.c.array, r.h.array, cv.grad!, xv.grad!].map { $0.toArray(as: Float.self) }
        }
        var results: [Int: [[Float]]] = [:]
        forEachKernelLevel { level in
            results[level] = run()
            let out = results[level]!
            let rtol = 4e-7
            assertClose(NDArray(out[0].map(Double.init)), v.map { Foundation.exp($0) }, atol: 0, rtol: rtol, "exp, level \(level)")
            assertClose(NDArray(out[1].map(Double.init)), pv.map { Foundation.log($0) }, atol: 1e-7, rtol: rtol, "log, level \(level)")
            assertClose(NDArray(out[2].map(Double.init)), v.map { Foundation.tanh($0) }, atol: 0, rtol: rtol, "tanh, level \(level)")
            assertClose(NDArray(out[3].map(Double.init)), v.map { 1 / (1 + Foundation.exp(-$0)) }, atol: 0, rtol: rtol, "sigmoid, level \(level)")
        }
        if let avx512 = results[2] { XCTAssertEqual(avx512, results[1]!, "AVX-512 and AVX2 loops") }
    }

    /// Float32 +, −, ×, ÷ run in the kernel library's loops where the operands are flat (same shapes, or one side a
    /// single element), in place or not: on every instruction-set level each result is the IEEE float32 result, i.e.
    /// the float64 result rounded once (exact for these four operations), for lengths around the vector widths.
    func testFloat32ArithmeticOnEveryKernelLevelIsIEEE() {
        let ops: [(String, (NDArray, NDArray) -> NDArray, (Double, Double) -> Double)] = [
            ("add", { $0 + $1 }, { $0 + $1 }), ("sub", { $0 - $1 }, { $0 - $1 }),
            ("mul", { $0 * $1 }, { $0 * $1 }), ("div", { $0 / $1 }, { $0 / $1 }),
        ]
        forEachKernelLevel { level in
            for n in [1, 3, 16, 17, 1001] {
                let xs = (0..<n).map { (i: Int) -> Double in Double(Float(Foundation.sin(Double(i) * 1.3) * 7)) }
                let ys = (0..<n).map { (i: Int) -> Double in Double(Float(Foundation.cos(Double(i) * 0.7) * 3 + 0.1)) }
                let a = NDArray(xs, dtype: .float32), b = NDArray(ys, dtype: .float32), s = NDArray([ys[0]], dtype: .float32)
                for (name, op, ref) in ops {
                    let want = zip(xs, ys).map { Float(ref($0, $1)) }
                    XCTAssertEqual(op(a, b).toArray(as: Float.self), want, "\(name), n \(n), level \(level)")
                    XCTAssertEqual(op(a, s).toArray(as: Float.self), xs.map { Float(ref($0, ys[0])) }, "\(name) by a scalar, n \(n), level \(level)")
                    XCTAssertEqual(op(s, a).toArray(as: Float.self), xs.map { Float(ref(ys[0], $0)) }, "\(name) of a scalar, n \(n), level \(level)")
                }
                var c = a.copied()
                c += b
                XCTAssertEqual(c.toArray(as: Float.self), zip(xs, ys).map { Float($0 + $1) }, "+= in place, n \(n), level \(level)")
                c *= 0.5
                XCTAssertEqual(c.toArray(as: Float.self), zip(xs, ys).map { Float($0 + $1) * 0.5 }, "*= a scalar in place, n \(n), level \(level)")
            }
        }
    }

    func testSpecialValues() {
        let a = NDArray([0, -.infinity, .infinity, .nan])
        let e = a.exp().toDoubles()
        XCTAssertEqual(Array(e[0..<3]), [1, 0, .infinity])
        XCTAssertTrue(e[3].isNaN)
        let l = a.log().toDoubles()
        XCTAssertEqual(l[0], -.infinity)
        XCTAssertTrue(l[1].isNaN)
        XCTAssertEqual(l[2], .infinity)
        XCTAssertEqual(Array(a.tanh().toDoubles()[0..<3]), [0, -1, 1])
        XCTAssertEqual(Array(a.sigmoid().toDoubles()[0..<3]), [0.5, 0, 1])
        XCTAssertTrue(a.relu().toDoubles()[3].isNaN)
        XCTAssertEqual(a.isNaN().toArray(as: Bool.self), [false, false, false, true])
        XCTAssertEqual(a.isFinite().toArray(as: Bool.self), [true, false, false, false])
    }

    func testMaximumMinimumAndIntegerPow() {
        let a = NDArray([1, 5, .nan]), b = NDArray([3, 2, 0])
        let mx = NDArray.maximum(a, b).toDoubles()
        XCTAssertEqual(Array(mx[0..<2]), [3, 5])
        XCTAssertTrue(mx[2].isNaN)
        XCTAssertEqual(Array(NDArray.minimum(a, b).toDoubles()[0..<2]), [1, 2])
        XCTAssertEqual(a[0..<2].maximum(2).toDoubles(), [2, 5])
        XCTAssertEqual(a[0..<2].minimum(2).toDoubles(), [1, 2])
        let i = NDArray([2, -3, 5], dtype: .int64)
        XCTAssertEqual(NDArray.pow(i, NDArray([10, 3, 0], dtype: .int64)).toArray(as: Int64.self), [1024, -27, 1])
        XCTAssertEqual(NDArray.pow(NDArray([2, 3], dtype: .float64), NDArray([0.5, -1], dtype: .float64)).toDoubles(), [(2.0).squareRoot(), 1.0 / 3])
    }

    func testComparisonsAndWhere() {
        let a = NDArray([1, 2, 3, 4]), b = NDArray([4, 2, 2, 5])
        XCTAssertEqual((a .< b).toArray(as: Bool.self), [true, false, false, true])
        XCTAssertEqual((a .<= b).toArray(as: Bool.self), [true, true, false, true])
        XCTAssertEqual((a .== b).toArray(as: Bool.self), [false, true, false, false])
        XCTAssertEqual((a .!= b).toArray(as: Bool.self), [true, false, true, true])
        XCTAssertEqual((a .> 2).toArray(as: Bool.self), [false, false, true, true])
        XCTAssertEqual(a.greaterEqual(b).toArray(as: Bool.self), [false, true, true, false])
        let m = a .> 2
        XCTAssertEqual(NDArray.where(m, a, b).toDoubles(), [4, 2, 3, 4])
        // mask broadcast over columns, scalars broadcast everywhere
        let w = NDArray.where(NDArray([1, 0]).astype(.bool).reshaped(2, 1), NDArray.ones([2, 3]), NDArray(scalar: -1))
        XCTAssertEqual(w.toDoubles(), [1, 1, 1, -1, -1, -1])
        XCTAssertEqual(m.logicalNot().toArray(as: Bool.self), [true, true, false, false])
        XCTAssertEqual(m.logicalAnd(a .< 4).toArray(as: Bool.self), [false, false, true, false])
        XCTAssertEqual(m.logicalOr(a .< 2).toArray(as: Bool.self), [true, false, true, true])
    }
}
