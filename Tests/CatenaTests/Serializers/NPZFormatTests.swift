import Foundation
import XCTest

@testable import Catena

/// The `.npy` and `.npz` formats: round trips, files written by NumPy, format versions, ZIP64 and deflate.
final class NPZFormatTests: TemporaryDirectoryTestCase {
    /// One array of every dtype in every rank the tests care about, with values that differ per element.
    private func everyKindOfArray() -> [(key: String, value: SerializedValue)] {
        var out: [(key: String, value: SerializedValue)] = []
        let shapes: [[Int]] = [[], [0], [3], [2, 0, 3], [2, 3], [2, 3, 4]]
        for dtype in [DType.float32, .float64, .int32, .int64] {
            for shape in shapes {
                out.append((key: "\(dtype)/\(shape.map(String.init).joined(separator: "x"))", value: .array(testArray(shape, dtype: dtype, scale: 1000, offset: 0.25))))
            }
        }
        for shape in shapes {
            let n = shape.reduce(1, *)
            out.append((key: "bool/\(shape.map(String.init).joined(separator: "x"))", value: .array(NDArray(values: (0..<n).map { $0 % 3 == 1 }, shape: shape))))
        }
        out.append((key: "special", value: .array(NDArray([.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude], shape: [5], dtype: .float64))))
        out.append((key: "int64/extremes", value: .array(NDArray(values: [Int64.min, Int64.max, -1], shape: [3]))))
        out.append((key: "text", value: .string("ünïcode ✓ and ascii")))
        out.append((key: "empty_text", value: .string("")))
        out.append((key: "nothing", value: .none))
        return out
    }

    func testEveryDTypeAndRankRoundTripsStoredAndCompressed() throws {
        let dir = dirs.make("npz")
        let entries = everyKindOfArray()
        for compression in [false, true] {
            let path = dir + "/all-\(compression).npz"
            try writeNPZ(path, entries, compression: compression)
            let back = try readNPZ(path)
            XCTAssertEqual(back.map(\.key), entries.map(\.key), "keys come back in the order written")
            for (a, b) in zip(entries, back) {
                XCTAssertEqual(a.value, b.value, "\(a.key), compression \(compression)")
                if case .array(let x) = a.value, case .array(let y) = b.value {
                    XCTAssertEqual(x.toDoubles().map(\.bitPattern), y.toDoubles().map(\.bitPattern), "\(a.key): the bits survive")
                }
            }
        }
    }

    func testArchivesInMemoryAreTheFilesBytes() throws {
        let dir = dirs.make("npz-bytes")
        let entries = everyKindOfArray() + [(key: "string value", value: SerializedValue.string("a string")), (key: "none value", value: .none)]
        for compression in [false, true] {
            let bytes = try encodeNPZ(entries, compression: compression)
            let path = dir + "/file-\(compression).npz"
            try writeNPZ(path, entries, compression: compression)
            XCTAssertEqual(bytes, Array(FileManager.default.contents(atPath: path)!), "encodeNPZ gives writeNPZ's bytes")
            let back = try decodeNPZ(bytes, source: "message")
            XCTAssertEqual(back.map(\.key), entries.map(\.key))
            for (a, b) in zip(entries, back) { XCTAssertEqual(a.value, b.value, a.key) }
        }
        XCTAssertThrowsError(try encodeNPZ([(key: "k", value: .none), (key: "k", value: .none)], source: "state")) { error in
            XCTAssertEqual("\(error)", "state: the key 'k' is saved twice")
        }
        var damaged = try encodeNPZ(entries)
        damaged.removeLast(10)
        XCTAssertThrowsError(try decodeNPZ(damaged, source: "rank 1's state")) { error in
            XCTAssertTrue("\(error)".hasPrefix("rank 1's state"), "\(error)")
        }
    }

    func testNonContiguousViewsAreSavedInLogicalOrder() throws {
        let path = dirs.make("npz") + "/views.npz"
        let base = testArray([3, 4])
        let t = base.transposed()
        let sliced = base[1..., .range(0, nil, step: 2)]
        try writeNPZ(path, [(key: "t", value: .array(t)), (key: "s", value: .array(sliced))])
        let back = try npzDictionary(path)
        let tExpected = (0..<4).flatMap { j in (0..<3).map { i in base.item(i, j) } }
        assertClose(storedArray(back, "t")!, tExpected, shape: [4, 3], atol: 0, rtol: 0)
        assertClose(storedArray(back, "s")!, [base.item(1, 0), base.item(1, 2), base.item(2, 0), base.item(2, 2)], shape: [2, 2], atol: 0, rtol: 0)
    }

    /// Catena writes `.npy` entries byte for byte as NumPy 1.26 does (header text, padding, data).
    func testNPYBytesAreNumPysBytes() throws {
        let entries = try Zip.read(Array(FileManager.default.contents(atPath: fixture("numpy_savez.npz"))!), source: "fixture")
        let numpy = Dictionary(entries.map { ($0.name, $0.data) }, uniquingKeysWith: { a, _ in a })
        let cases: [(String, SerializedValue)] = [
            ("f32", .array(testArray([2, 3]))),
            ("f64", .array(testArray([4], dtype: .float64, scale: 1e3))),
            ("i32", .array(testArray([2, 2], dtype: .int32, scale: 100))),
            ("i64", .array(NDArray(values: [-(Int64(1) << 40), -1, 0, (Int64(1) << 40) + 7], shape: [4]))),
            ("b", .array(NDArray(values: [true, false, false, true, true], shape: [5]))),
            ("f32_3d", .array(testArray([2, 3, 4], scale: 2, offset: 1))),
            ("scalar_f64", .array(NDArray([2.5], shape: [], dtype: .float64))),
            ("scalar_i64", .array(NDArray(values: [Int64(-7)], shape: []))),
            ("scalar_b", .array(NDArray(values: [true], shape: []))),
            ("empty_f32", .array(NDArray.zeros([0]))),
            ("empty_f64_203", .array(NDArray.zeros([2, 0, 3], dtype: .float64))),
            ("nothing", .none),
        ]
        for (key, value) in cases {
            guard let expected = numpy[key + ".npy"] else { XCTFail("fixture lacks \(key)"); continue }
            XCTAssertEqual(NPY.encode(value), expected, key)
        }
        // The string: NumPy writes a 0-d '<U10' array (UTF-32, little-endian).
        XCTAssertEqual(NPY.encode(.string("snapshot ✓")), numpy["text.npy"])
    }

    /// Every array of the fixture archives, written by `numpy.savez` and `numpy.savez_compressed`, against the
    /// formula the script used.
    func testReadsNumPySavezAndSavezCompressed() throws {
        for name in ["numpy_savez.npz", "numpy_savez_compressed.npz"] {
            let path = fixture(name)
            let keys = try readNPZ(path).map(\.key)
            XCTAssertEqual(keys, ["f32", "f64", "i32", "i64", "b", "f32_3d", "scalar_f64", "scalar_i64", "scalar_b", "empty_f32", "empty_f64_203",
                                  "fortran_f32", "fortran_i32", "big_f4", "big_i8", "i16", "u8", "f16", "text", "nothing"], name)
            let v = try npzDictionary(path)
            func check(_ key: String, _ expected: NDArray, line: UInt = #line) {
                guard let a = storedArray(v, key, line: line) else { return }
                XCTAssertEqual(a.dtype, expected.dtype, "\(name) \(key) dtype", line: line)
                assertClose(a, expected, atol: 0, rtol: 1e-7, "\(name) \(key)", line: line)
            }
            check("f32", testArray([2, 3]))
            check("f64", testArray([4], dtype: .float64, scale: 1e3))
            check("i32", testArray([2, 2], dtype: .int32, scale: 100))
            check("i64", NDArray(values: [-(Int64(1) << 40), -1, 0, (Int64(1) << 40) + 7], shape: [4]))
            XCTAssertEqual(storedArray(v, "i64")?.toArray(as: Int64.self), [-(Int64(1) << 40), -1, 0, (Int64(1) << 40) + 7])
            check("b", NDArray(values: [true, false, false, true, true], shape: [5]))
            check("f32_3d", testArray([2, 3, 4], scale: 2, offset: 1))
            check("scalar_f64", NDArray([2.5], shape: [], dtype: .float64))
            check("scalar_i64", NDArray(values: [Int64(-7)], shape: []))
            check("scalar_b", NDArray(values: [true], shape: []))
            check("empty_f32", NDArray.zeros([0]))
            check("empty_f64_203", NDArray.zeros([2, 0, 3], dtype: .float64))
            // Fortran order: the file holds the transpose's bytes; the values read are the logical ones.
            check("fortran_f32", testArray([3, 4]))
            check("fortran_i32", testArray([2, 3, 2], dtype: .int32, scale: 50))
            // Big-endian, and the integer and float widths Catena widens on reading.
            check("big_f4", testArray([2, 2]))
            check("big_i8", NDArray(values: [Int64(1), -2, 3 << 33], shape: [3]))
            XCTAssertEqual(storedArray(v, "big_i8")?.toArray(as: Int64.self), [1, -2, 3 << 33])
            check("i16", NDArray(values: [Int32(-300), 0, 300], shape: [3]))
            check("u8", NDArray(values: [UInt8(0), 7, 255], shape: [3]))
            check("f16", NDArray([0.5, -2, 1024], shape: [3]))
            XCTAssertEqual(v["text"], .string("snapshot ✓"), name)
            XCTAssertEqual(v["nothing"], SerializedValue.none, name)
        }
    }

    func testReadsNPYFormatVersionsOneTwoAndThree() throws {
        for version in 1...3 {
            let a = try loadNPY(fixture("npy_v\(version).npy"))
            XCTAssertEqual(a.dtype, .float32)
            assertClose(a, testArray([3, 5], scale: 3), atol: 0, rtol: 0, "version \(version)")
        }
        let f = try loadNPY(fixture("npy_f64_fortran.npy"))
        XCTAssertEqual(f.dtype, .float64)
        assertClose(f, testArray([2, 3], dtype: .float64), atol: 0, rtol: 1e-15)
    }

    func testSaveNPYRoundTripsAndLoadNPYRejectsWhatIsNotAnArray() throws {
        let dir = dirs.make("npy")
        for (i, a) in [testArray([2, 3], dtype: .float64), testArray([], dtype: .int32, scale: 9), NDArray.zeros([0, 4])].enumerated() {
            try saveNPY(dir + "/a\(i).npy", a)
            let back = try loadNPY(dir + "/a\(i).npy")
            XCTAssertEqual(SerializedValue.array(back), .array(a))
        }
        try Data(NPY.encode(.string("hello"))).write(to: URL(fileURLWithPath: dir + "/s.npy"))
        assertSerializationError([dir + "/s.npy", "string"]) { _ = try loadNPY(dir + "/s.npy") }
        assertSerializationError([dir + "/missing.npy", "no such file"]) { _ = try loadNPY(dir + "/missing.npy") }
    }

    /// Past 4 GiB an archive needs ZIP64 records; the threshold is lowered here so that a small archive uses them.
    func testZIP64RecordsAreWrittenAndRead() throws {
        let saved = Zip.zip64Threshold
        defer { Zip.zip64Threshold = saved }
        Zip.zip64Threshold = 64
        let entries = everyKindOfArray()
        for compression in [false, true] {
            let path = dirs.make("zip64") + "/big.npz"
            try writeNPZ(path, entries, compression: compression)
            let bytes = Array(FileManager.default.contents(atPath: path)!)
            XCTAssertTrue(containsSignature(bytes, 0x0606_4B50), "a ZIP64 end of central directory record")
            XCTAssertTrue(containsSignature(bytes, 0x0706_4B50), "a ZIP64 locator")
            let back = try readNPZ(path)
            XCTAssertEqual(back.map(\.key), entries.map(\.key))
            for (a, b) in zip(entries, back) { XCTAssertEqual(a.value, b.value, a.key) }
        }
    }

    private func containsSignature(_ bytes: [UInt8], _ signature: UInt32) -> Bool {
        let s: [UInt8] = [UInt8(signature & 0xFF), UInt8(signature >> 8 & 0xFF), UInt8(signature >> 16 & 0xFF), UInt8(signature >> 24)]
        return bytes.indices.dropLast(3).contains { bytes[$0] == s[0] && bytes[$0 + 1] == s[1] && bytes[$0 + 2] == s[2] && bytes[$0 + 3] == s[3] }
    }

    /// Deflate on data with long runs, repeats at many distances, and noise; each must come back exactly, and the
    /// compressible ones must shrink.
    func testDeflateRoundTripsAndCompresses() throws {
        var noise = [UInt8](repeating: 0, count: 70_000)
        var x: UInt32 = 12345
        for i in noise.indices {
            x = x &* 1_103_515_245 &+ 12345
            noise[i] = UInt8(x >> 24)
        }
        let text = Array(String(repeating: "the quick brown fox jumps over the lazy dog; ", count: 2000).utf8)
        let runs = [UInt8](repeating: 0, count: 100_000) + [UInt8](repeating: 7, count: 3) + [UInt8](repeating: 0, count: 40_000)
        let mixed = Array(noise.prefix(5000)) + text.prefix(30_000) + noise.prefix(5000) + runs.prefix(20_000)
        for (name, data) in [("noise", noise), ("text", text), ("runs", runs), ("mixed", mixed), ("empty", []), ("one", [42])] {
            let packed = data.withUnsafeBytes { Deflater.deflate($0) }
            let back = try packed.withUnsafeBytes { try Inflater.inflate($0, limit: data.count) }
            XCTAssertEqual(back, data, name)
            if name == "text" || name == "runs" { XCTAssertLessThan(packed.count, data.count / 20, name) }
        }
    }

    /// CRC-32 of known strings (the check value of the standard, and the empty string).
    func testCRC32CheckValues() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        XCTAssertEqual(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        // Against the bit-at-a-time definition, for every length up to 40 (the 8-byte steps and the tail) and a
        // continuation from a previous CRC.
        func reference(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
            var c = ~initial
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return ~c
        }
        let bytes = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }
        for n in 0...40 { XCTAssertEqual(CRC32.checksum(Array(bytes.prefix(n))), reference(Array(bytes.prefix(n))), "length \(n)") }
        let first = CRC32.checksum(Array(bytes.prefix(13)))
        let whole = Array(bytes.suffix(27)).withUnsafeBytes { CRC32.checksum($0, initial: first) }
        XCTAssertEqual(whole, reference(bytes))
    }
}
