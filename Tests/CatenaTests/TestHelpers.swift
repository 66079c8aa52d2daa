import CCatenaKernels
import Foundation
import XCTest

@testable import Catena

/// Asserts that `actual` has `shape` and elements within `atol + rtol * |expected|` of `expected` (C order).
func assertClose(
    _ actual: NDArray, _ expected: [Double], shape: [Int]? = nil, atol: Double = 1e-6, rtol: Double = 1e-5,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    if let shape { XCTAssertEqual(actual.shape, shape, "shape \(message)", file: file, line: line) }
    let a = actual.toDoubles()
    XCTAssertEqual(a.count, expected.count, "element count \(message)", file: file, line: line)
    for (i, (x, y)) in zip(a, expected).enumerated() {
        if x.isNaN && y.isNaN { continue }
        if x == y { continue }
        if !(Swift.abs(x - y) <= atol + rtol * Swift.abs(y)) {
            XCTFail("element \(i): \(x) vs expected \(y) \(message)", file: file, line: line)
            return
        }
    }
}

/// Asserts two arrays have the same shape and elements within tolerance.
func assertClose(
    _ actual: NDArray, _ expected: NDArray, atol: Double = 1e-6, rtol: Double = 1e-5, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    assertClose(actual, expected.toDoubles(), atol: atol, rtol: rtol, message, file: file, line: line)
}

/// The C-order index tuple of flat position `flat` in `shape`.
func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
    var rest = flat
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        idx[d] = rest % shape[d]
        rest /= shape[d]
    }
    return idx
}

/// A deterministic array of distinct-looking values for tests, without using the library's generator.
func testArray(_ shape: [Int], dtype: DType = .float32, scale: Double = 1, offset: Double = 0) -> NDArray {
    let n = shape.reduce(1, *)
    let values = (0..<n).map { i -> Double in
        let v = sin(Double(i) * 1.37 + 0.3) * scale + offset
        return dtype.isInteger ? v.rounded() : v
    }
    return NDArray(values, shape: shape, dtype: dtype)
}

/// Runs one scenario in a child copy of the test binary and returns what it printed to standard error and its
/// exit status. The scenario must stop the program (a type-check failure); `MisuseScenarios` lists them.
func runMisuseScenario(_ name: String) -> (stderr: String, status: Int32) {
    runInChildProcess(test: "CatenaTests.MisuseScenarioRunner/testRunScenario", env: ["CATENA_MISUSE_SCENARIO": name])
}

/// Runs one test of this binary in a child process with extra environment variables; returns its standard error
/// and exit status.
func runInChildProcess(test: String, env extra: [String: String]) -> (stderr: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    process.arguments = [test]
    var env = ProcessInfo.processInfo.environment
    for (k, v) in extra { env[k] = v }
    process.environment = env
    let err = Pipe()
    process.standardError = err
    process.standardOutput = Pipe()
    do { try process.run() } catch { return ("could not start: \(error)", -1) }
    let data = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: data, as: UTF8.self), process.terminationStatus)
}

/// Fresh directories under the system's temporary folder, all removed by `removeAll()`.
final class TemporaryDirectories {
    private var made: [String] = []

    func make(_ tag: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("catena-\(tag)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        made.append(d)
        return d
    }

    func removeAll() {
        for d in made { try? FileManager.default.removeItem(atPath: d) }
        made = []
    }
}

/// A test case with a ``TemporaryDirectories`` that is emptied after every test.
class TemporaryDirectoryTestCase: XCTestCase {
    let dirs = TemporaryDirectories()

    /// A fresh, empty directory, removed after the test.
    func tempDir(_ tag: String = "test") -> String { dirs.make(tag) }

    override func tearDown() {
        dirs.removeAll()
        super.tearDown()
    }
}

/// Runs `body`, expects it to throw an `E` whose description contains every fragment, and returns the message.
@discardableResult
func assertThrows<E: Error & CustomStringConvertible>(_: E.Type, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                                                     _ body: () throws -> Void) -> String? {
    do {
        try body()
        XCTFail("no error thrown (expected one mentioning \(fragments))", file: file, line: line)
        return nil
    } catch let e as E {
        for f in fragments where !e.description.contains(f) {
            XCTFail("the message \"\(e.description)\" does not mention \"\(f)\"", file: file, line: line)
        }
        return e.description
    } catch {
        XCTFail("threw \(type(of: error)): \(error), expected \(E.self)", file: file, line: line)
        return nil
    }
}

/// The bytes of an IDX file written by hand: magic `0 0 type ndim`, big-endian 32-bit dimensions, then `body`.
func idxBytes(type: UInt8, shape: [Int], body: [UInt8]) -> [UInt8] {
    var b: [UInt8] = [0, 0, type, UInt8(shape.count)]
    for d in shape { b += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return b + body
}

/// Runs `body` with `CatenaRuntime.threads` set to each of `counts` in turn, restoring the setting afterwards.
func forEachThreadCount(_ counts: [Int], _ body: (Int) throws -> Void) rethrows {
    let saved = CatenaRuntime.threads
    defer { CatenaRuntime.threads = saved }
    for count in counts {
        CatenaRuntime.threads = count
        try body(count)
    }
}

/// Runs `body(level)` with the kernel library capped at each instruction-set level this CPU has in turn (0 portable,
/// 1 AVX2, 2 AVX-512), lifting the cap afterwards.
func forEachKernelLevel(_ body: (Int) throws -> Void) rethrows {
    let top = Int(catena_kernels_level())
    defer { catena_kernels_limit(2) }
    for level in 0...top {
        catena_kernels_limit(Int32(level))
        try body(level)
    }
}
