import Foundation
import XCTest

@testable import Catena

final class BufferPoolTests: XCTestCase {
    private func address(_ a: NDArray) -> UInt { UInt(bitPattern: a.storage.raw) }

    func testAFreedBufferIsReusedByTheNextArrayOfThatSizeAndStartsFromItsOwnValues() {
        var a: NDArray? = NDArray.full([30, 40], 7)          // 4,800 bytes: pooled
        let first = address(a!)
        a = nil
        let b = NDArray.zeros([40, 30])                       // the same number of bytes
        XCTAssertEqual(address(b), first, "the freed buffer is handed out again")
        XCTAssertEqual(b.sum().item(), 0, "a reused buffer holds the new array's values, not the old ones")
        // A different size does not take it.
        var c: NDArray? = NDArray.ones([50, 50])
        let third = address(c!)
        c = nil
        let d = NDArray.ones([51, 50])
        XCTAssertNotEqual(address(d), third)
        XCTAssertEqual(d.sum().item(), 51 * 50)
    }

    /// Arrays under `NDStorage.inlineBytes` keep their elements inside the storage object (one allocation), 16-byte
    /// aligned; larger ones point outside it, 64-byte aligned. Both hold their values through copies and writes.
    func testTinyArraysKeepTheirElementsInsideTheStorageObject() {
        for (count, dtype) in [(1, DType.float32), (3, .float32), (31, .float64), (63, .float32), (64, .float32), (300, .float64)] {
            var a = NDArray.zeros([count], dtype: dtype)
            let object = UInt(bitPattern: Unmanaged.passUnretained(a.storage).toOpaque())
            let inside = address(a) > object && address(a) < object + 64
            let bytes = count * dtype.itemSize
            XCTAssertEqual(inside, bytes < NDStorage.inlineBytes, "\(bytes) bytes")
            XCTAssertEqual(address(a) % (bytes < NDStorage.inlineBytes ? 16 : 64), 0, "\(bytes) bytes")
            let b = a
            a[count - 1] = NDArray.full([], 5, dtype: dtype)
            a[0] = NDArray.full([], 2, dtype: dtype)
            XCTAssertEqual(a.sum().item(), count == 1 ? 2 : 7)
            XCTAssertEqual(b.sum().item(), 0, "the copy kept its own elements")
        }
    }

    func testSmallAndHugeArraysBypassThePoolAndBuffersAreAligned() {
        // Below the pool's threshold, and beyond its largest size, arrays still work and large ones stay aligned.
        let small = NDArray.ones([10])
        XCTAssertEqual(small.sum().item(), 10)
        let big = NDArray.ones([BufferPool.maximumBytes / 4 + 16])
        XCTAssertEqual(UInt(bitPattern: big.storage.raw) % 64, 0)
        for n in [256, 1000, 1024, 4096, 100_000] {
            let a = NDArray.zeros([n], dtype: .uint8)
            if n >= 256 { XCTAssertEqual(address(a) % 64, 0, "\(n) bytes") }
        }
    }

    func testThePoolHoldsNoMoreThanItsCapacityOnAThread() {
        // Freeing more than the capacity of one size keeps the held total within the cap; the arrays made on
        // another thread use that thread's pool.
        let perArray = 1 << 20
        var arrays: [NDArray] = (0..<(BufferPool.capacityBytes / perArray + 8)).map { _ in NDArray.zeros([perArray], dtype: .uint8) }
        arrays.removeAll()
        let done = expectation(description: "other thread")
        Thread {
            let a = NDArray.full([300, 10], 2)
            XCTAssertEqual(a.sum().item(), 6000)
            done.fulfill()
        }.start()
        wait(for: [done], timeout: 10)
        XCTAssertLessThanOrEqual(BufferPool.heldBytesOnThisThread, BufferPool.capacityBytes)
        XCTAssertGreaterThan(BufferPool.heldBytesOnThisThread, 0)
    }
}
