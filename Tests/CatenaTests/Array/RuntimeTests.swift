import CCatenaKernels
import Foundation
import XCTest

@testable import Catena

/// The process-wide settings: each one read back, applied, and without effect on results.
final class RuntimeTests: XCTestCase {
    func testThreadsSettingIsUsedAndDoesNotChangeProducts() {
        let saved = CatenaRuntime.threads
        defer { CatenaRuntime.threads = saved }
        let a = testArray([130, 200]), b = testArray([200, 150], scale: 0.5)
        let reference = NDArray.matmul(a, b)
        CatenaRuntime.threads = 1
        XCTAssertEqual(CatenaRuntime.threads, 1)
        XCTAssertEqual(GEMM.threadCount, 1)
        XCTAssertEqual(NDArray.matmul(a, b), reference, "the split product is the serial one, element for element")
        CatenaRuntime.threads = 0
        XCTAssertEqual(CatenaRuntime.threads, 1, "at least one thread")
    }

    func testSpinTimeReadsBackAndClampsAtZero() {
        let saved = CatenaRuntime.spinMicroseconds
        defer { CatenaRuntime.spinMicroseconds = saved }
        CatenaRuntime.spinMicroseconds = 50
        XCTAssertEqual(CatenaRuntime.spinMicroseconds, 50)
        CatenaRuntime.spinMicroseconds = -3
        XCTAssertEqual(CatenaRuntime.spinMicroseconds, 0)
    }

    func testKernelLevelCapAndCacheClearing() {
        let best = CatenaRuntime.kernelLevel
        CatenaRuntime.limitKernels(to: .portable)
        XCTAssertEqual(CatenaRuntime.kernelLevel, .portable)
        CatenaRuntime.limitKernels(to: .avx512)
        XCTAssertEqual(CatenaRuntime.kernelLevel, best)
        // A cached packed weight is dropped and rebuilt with the same result.
        let x = testArray([30, 64]), w = testArray([48, 64], scale: 0.3)
        let y = NDArray.matmul(x, w, transposeB: true)
        CatenaRuntime.clearCaches()
        XCTAssertEqual(NDArray.matmul(x, w, transposeB: true), y)
    }
}
