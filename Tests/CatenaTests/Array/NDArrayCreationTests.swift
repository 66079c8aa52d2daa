import XCTest

@testable import Catena

final class NDArrayCreationTests: XCTestCase {
    func testNestedLiteralsGiveShapeAndFloat32ByDefault() {
        let a = NDArray([[1, 2, 3], [4, 5, 6]])
        XCTAssertEqual(a.shape, [2, 3])
        XCTAssertEqual(a.dtype, .float32)
        XCTAssertEqual(a.strides, [3, 1])
        XCTAssertEqual(a.toArray(as: Float.self), [1, 2, 3, 4, 5, 6])
        let b = NDArray([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], dtype: .int32)
        XCTAssertEqual(b.shape, [2, 2, 2])
        XCTAssertEqual(b.toArray(as: Int32.self), [1, 2, 3, 4, 5, 6, 7, 8])
        let c = NDArray(values: [Int64(3), -4], shape: [2])
        XCTAssertEqual(c.dtype, .int64)
        XCTAssertEqual(NDArray(scalar: 2.5).shape, [])
        XCTAssertEqual(NDArray(scalar: 2.5).item(), 2.5)
    }

    func testFilledArrays() {
        XCTAssertEqual(NDArray.zeros([2, 2]).toDoubles(), [0, 0, 0, 0])
        XCTAssertEqual(NDArray.ones([3], dtype: .int32).toArray(as: Int32.self), [1, 1, 1])
        XCTAssertEqual(NDArray.full([2], 7.5, dtype: .float64).toArray(as: Double.self), [7.5, 7.5])
        let a = NDArray([[1, 2]], dtype: .float64)
        XCTAssertEqual(NDArray.zerosLike(a).dtype, .float64)
        XCTAssertEqual(NDArray.onesLike(a).toDoubles(), [1, 1])
        XCTAssertEqual(NDArray.fullLike(a, 3, dtype: .int32).toArray(as: Int32.self), [3, 3])
        XCTAssertEqual(NDArray.zeros([0, 3]).count, 0)
    }

    func testRangesAndEye() {
        XCTAssertEqual(NDArray.arange(5).toDoubles(), [0, 1, 2, 3, 4])
        XCTAssertEqual(NDArray.arange(1, 2, step: 0.25).toDoubles(), [1, 1.25, 1.5, 1.75])
        XCTAssertEqual(NDArray.arange(5, 0, step: -2, dtype: .int32).toArray(as: Int32.self), [5, 3, 1])
        XCTAssertEqual(NDArray.linspace(0, 1, count: 5).toDoubles(), [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(NDArray.linspace(0, 1, count: 4, endpoint: false, dtype: .float64).toDoubles(), [0, 0.25, 0.5, 0.75])
        XCTAssertEqual(NDArray.eye(2, 3, k: 1).toDoubles(), [0, 1, 0, 0, 0, 1])
        XCTAssertEqual(NDArray.eye(3).toDoubles(), [1, 0, 0, 0, 1, 0, 0, 0, 1])
    }

    func testConversionRoundsTowardZeroAndKeepsValues() {
        let a = NDArray([-1.7, -0.2, 0.5, 2.9])
        XCTAssertEqual(a.astype(.int32).toArray(as: Int32.self), [-1, 0, 0, 2])
        XCTAssertEqual(a.astype(.bool).toArray(as: Bool.self), [true, true, true, true])
        XCTAssertEqual(NDArray([0, 1]).astype(.bool).toArray(as: Bool.self), [false, true])
        XCTAssertEqual(NDArray(values: [Int32(-3), 7], shape: [2]).astype(.float64).toArray(as: Double.self), [-3, 7])
        XCTAssertEqual(NDArray(values: [Int64.max], shape: [1]).astype(.int32).toArray(as: Int32.self), [Int32.max])
        let d = NDArray([0.1], dtype: .float64)
        XCTAssertEqual(d.astype(.float32).toArray(as: Float.self), [Float(0.1)])
        XCTAssertEqual(NDArray(values: [Int32(1) << 30], shape: [1]).astype(.int64).toArray(as: Int64.self), [1 << 30])
    }

    func testItemReadsAnyIndexIncludingNegative() {
        let a = NDArray([[1, 2, 3], [4, 5, 6]])
        XCTAssertEqual(a.item(1, 2), 6)
        XCTAssertEqual(a.item(-1, 0), 4)
        XCTAssertEqual(a.transposed().item(2, 0), 3)
    }

    func testCopyOnWrite() {
        let a = NDArray([1, 2, 3])
        var b = a
        b.fill(9)
        XCTAssertEqual(a.toDoubles(), [1, 2, 3])
        XCTAssertEqual(b.toDoubles(), [9, 9, 9])
        var c = a[0..<2]
        c[0] = NDArray(scalar: 5)
        XCTAssertEqual(a.toDoubles(), [1, 2, 3], "writing to a view copies instead of changing the original")
        XCTAssertEqual(c.toDoubles(), [5, 2])
    }

    func testDescriptionMatchesNumPy() {
        // Expected strings printed by NumPy 2.4 `str()` for the same arrays.
        XCTAssertEqual(NDArray([[1, 2, 3], [4, 5, 6]]).description, "[[1. 2. 3.]\n [4. 5. 6.]]")
        XCTAssertEqual(NDArray([1.0, 2.5, -3.25]).description, "[ 1.    2.5  -3.25]")
        XCTAssertEqual(NDArray([0.1, 1.0 / 3]).description, "[0.1        0.33333334]")
        XCTAssertEqual(NDArray([[1, -2], [30, 4]], dtype: .int32).description, "[[ 1 -2]\n [30  4]]")
        XCTAssertEqual(NDArray([1, 0]).astype(.bool).description, "[ True False]")
        XCTAssertEqual(NDArray.arange(24).reshaped(2, 3, 4).description,
                       "[[[ 0.  1.  2.  3.]\n  [ 4.  5.  6.  7.]\n  [ 8.  9. 10. 11.]]\n\n [[12. 13. 14. 15.]\n  [16. 17. 18. 19.]\n  [20. 21. 22. 23.]]]")
        XCTAssertEqual(NDArray(scalar: 3.5).description, "3.5")
        XCTAssertEqual(NDArray([1e-5, 2.0], dtype: .float64).description, "[1.e-05 2.e+00]")
        XCTAssertEqual(NDArray.arange(2000, dtype: .int32).description, "[   0    1    2 ... 1997 1998 1999]")
        XCTAssertEqual(NDArray([[1, 2]]).debugDescription, "array([[1., 2.]], shape=(1, 2), dtype=float32)")
    }
}
