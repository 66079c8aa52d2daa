import Foundation
import XCTest

@testable import Catena

/// The IDX and gzip readers on files the tests write by hand, damaged and lying ones included, and the MNIST
/// loaders on a small dataset in the MNIST layout.
final class IDXTests: TemporaryDirectoryTestCase {
    private func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    func testReadsEveryElementTypePlainAndGzipped() throws {
        let dir = tempDir("idx")
        // uint8 (2, 3): the bytes as they are.
        let u8: [UInt8] = [0, 1, 2, 253, 254, 255]
        try write(idxBytes(type: 0x08, shape: [2, 3], body: u8), dir + "/u8")
        try write(Gzip.compress(idxBytes(type: 0x08, shape: [2, 3], body: u8)), dir + "/u8.gz")
        for f in ["u8", "u8.gz"] {
            let a = try readIDX(dir + "/" + f)
            XCTAssertEqual(a.dtype, .uint8, f)
            XCTAssertEqual(a.shape, [2, 3], f)
            XCTAssertEqual(a.toArray(as: UInt8.self), u8, f)
        }
        // Signed bytes, big-endian shorts and ints (to int32), big-endian float and double.
        try write(idxBytes(type: 0x09, shape: [3], body: [0xFF, 0x7F, 0x80]), dir + "/i8")
        XCTAssertEqual(try readIDX(dir + "/i8").toArray(as: Int32.self), [-1, 127, -128])
        try write(idxBytes(type: 0x0B, shape: [2], body: [0xFF, 0xFE, 0x01, 0x00]), dir + "/i16")
        XCTAssertEqual(try readIDX(dir + "/i16").toArray(as: Int32.self), [-2, 256])
        try write(idxBytes(type: 0x0C, shape: [1, 2], body: [0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFB]), dir + "/i32")
        XCTAssertEqual(try readIDX(dir + "/i32").toArray(as: Int32.self), [65536, -5])
        // 1.5 as an IEEE single is 0x3FC00000; -2.25 as a double is 0xC002000000000000.
        try write(idxBytes(type: 0x0D, shape: [1], body: [0x3F, 0xC0, 0, 0]), dir + "/f32")
        XCTAssertEqual(try readIDX(dir + "/f32").toArray(as: Float.self), [1.5])
        try write(idxBytes(type: 0x0E, shape: [1], body: [0xC0, 0x02, 0, 0, 0, 0, 0, 0]), dir + "/f64")
        XCTAssertEqual(try readIDX(dir + "/f64").toArray(as: Double.self), [-2.25])
    }

    func testWriteIDXRoundTripsThroughTheReader() throws {
        let dir = tempDir("idxw")
        let arrays = [NDArray(values: [UInt8(3), 200, 0, 9], shape: [2, 2]), NDArray(values: [Int32(-7), 1 << 20], shape: [2]),
                      NDArray([0.25, -1e10], shape: [2, 1]), NDArray([1e-300, 3], shape: [2], dtype: .float64)]
        for (i, a) in arrays.enumerated() {
            for compress in [false, true] {
                let path = dir + "/a\(i)\(compress ? ".gz" : "")"
                try writeIDX(path, a, compress: compress)
                let back = try readIDX(path)
                XCTAssertEqual(back.dtype, a.dtype)
                XCTAssertEqual(SerializedValue.array(back), .array(a), path)
            }
        }
        // The header is big-endian, as the format says (and as MNIST's files have it).
        let bytes = Array(FileManager.default.contents(atPath: dir + "/a1")!)
        XCTAssertEqual(Array(bytes[0..<8]), [0, 0, 0x0C, 1, 0, 0, 0, 2])
        XCTAssertEqual(Array(bytes[8..<12]), [0xFF, 0xFF, 0xFF, 0xF9])
    }

    func testDamagedAndLyingFilesThrowNamingTheFileAndTheProblem() throws {
        let dir = tempDir("idxbad")
        let good = idxBytes(type: 0x08, shape: [4, 5], body: [UInt8](repeating: 7, count: 20))
        let cases: [(String, [UInt8], [String])] = [
            ("empty", [], ["too short"]),
            ("magic", [1, 0] + good.dropFirst(2), ["not an IDX file", "0x01 0x00"]),
            ("type", [0, 0, 0x07] + good.dropFirst(3), ["unknown IDX type code 0x7"]),
            ("nodims", [0, 0, 8, 0], ["no dimensions"]),
            ("header", Array(good.prefix(9)), ["truncated", "dimensions"]),
            ("short", Array(good.dropLast(3)), ["truncated", "[4, 5]", "needs 20 bytes", "has 17"]),
            ("long", good + [1, 2], ["2 bytes follow the 20 bytes"]),
            // Dimensions whose product overflows an Int: 2^32-1 five times.
            ("overflow", idxBytes(type: 0x0E, shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], body: []), ["overflows"]),
            // A tiny file claiming 4 billion bytes: refused from the header, nothing allocated.
            ("huge", idxBytes(type: 0x08, shape: [0xFFFF_FFFF], body: [1, 2, 3]), ["truncated", "4294967295"]),
        ]
        for (name, bytes, fragments) in cases {
            let path = dir + "/" + name
            try write(bytes, path)
            assertThrows(DatasetError.self, [path] + fragments) { _ = try readIDX(path) }
        }
        assertThrows(DatasetError.self, [dir + "/none", "no such file"]) { _ = try readIDX(dir + "/none") }
        assertThrows(DatasetError.self, [dir, "is a directory"]) { _ = try readIDX(dir) }
    }

    func testDamagedAndLyingGzipFilesThrow() throws {
        let dir = tempDir("gzbad")
        let good = Gzip.compress(idxBytes(type: 0x08, shape: [100, 10], body: (0..<1000).map { UInt8($0 % 7) }))
        var flipped = good
        flipped[flipped.count - 7] ^= 0xFF                      // the stored CRC
        var sized = good
        sized[sized.count - 1] ^= 0x01                          // the stored length
        // A bomb: a small file whose header declares 2^31 bytes and whose data really inflates that far.
        let bombBody = [UInt8](repeating: 0, count: 1 << 20)
        var bomb = Gzip.compress(idxBytes(type: 0x08, shape: [1 << 20], body: bombBody))
        let cases: [(String, [UInt8], [String])] = [
            ("truncated", Array(good.prefix(good.count / 2)), ["damaged"]),
            ("crc", flipped, ["CRC-32"]),
            ("size", sized, ["trailer says"]),
            ("method", [0x1F, 0x8B, 7] + good.dropFirst(3), ["method 7"]),
            ("flags", [0x1F, 0x8B, 8, 0x20] + good.dropFirst(4), ["reserved gzip header flags"]),
            ("trailing", good + [0x41, 0x42], ["not gzip data"]),
            // The IDX header inside says 16 bytes of data (28 with the 4 + 2·4 header bytes); the data inflates to
            // 1000: inflation stops at 28.
            ("lying", Gzip.compress(idxBytes(type: 0x08, shape: [4, 4], body: [UInt8](repeating: 1, count: 1000))), ["inflates to more than the 28 bytes"]),
            ("claims", Gzip.compress(idxBytes(type: 0x08, shape: [1 << 31], body: [1, 2, 3])), ["more than", "compressed bytes can hold"]),
        ]
        for (name, bytes, fragments) in cases {
            let path = dir + "/" + name + ".gz"
            try write(bytes, path)
            assertThrows(DatasetError.self, [path] + fragments) { _ = try readIDX(path) }
        }
        // The bomb's real size (1 MiB of zeros) is what its header declares, so it loads — within that bound.
        try write(bomb, dir + "/bomb.gz")
        XCTAssertEqual(try readIDX(dir + "/bomb.gz").shape, [1 << 20])
        bomb[bomb.count - 7] ^= 1
        try write(bomb, dir + "/bomb2.gz")
        assertThrows(DatasetError.self, ["CRC-32"]) { _ = try readIDX(dir + "/bomb2.gz") }
        // Zero padding after the last member is accepted, as gzip(1) does.
        try write(Gzip.compress(idxBytes(type: 0x08, shape: [2], body: [5, 6])) + [0, 0, 0, 0], dir + "/padded.gz")
        XCTAssertEqual(try readIDX(dir + "/padded.gz").toArray(as: UInt8.self), [5, 6])
        // Two members are one stream.
        let whole = idxBytes(type: 0x08, shape: [3], body: [1, 2, 3])
        try write(Gzip.compress(Array(whole.prefix(6))) + Gzip.compress(Array(whole.dropFirst(6))), dir + "/two.gz")
        XCTAssertEqual(try readIDX(dir + "/two.gz").toArray(as: UInt8.self), [1, 2, 3])
    }

    // MARK: - MNIST-style datasets

    /// A tiny dataset in the MNIST layout: `n` training and `m` test images of 2×3 pixels with known values.
    private func makeDataset(_ dir: String, n: Int = 5, m: Int = 3, gzip: Bool = true, labels: [UInt8]? = nil) throws {
        func images(_ count: Int, _ base: Int) -> NDArray { NDArray(values: (0..<(count * 6)).map { UInt8((base + $0 * 37) % 256) }, shape: [count, 2, 3]) }
        let trainLabels = labels ?? (0..<n).map { UInt8($0 % 10) }
        try writeIDX(dir + "/train-images-idx3-ubyte" + (gzip ? ".gz" : ""), images(n, 0), compress: gzip)
        try writeIDX(dir + "/train-labels-idx1-ubyte" + (gzip ? ".gz" : ""), NDArray(values: trainLabels, shape: [trainLabels.count]), compress: gzip)
        try writeIDX(dir + "/t10k-images-idx3-ubyte" + (gzip ? ".gz" : ""), images(m, 11), compress: gzip)
        try writeIDX(dir + "/t10k-labels-idx1-ubyte" + (gzip ? ".gz" : ""), NDArray(values: (0..<m).map { UInt8(9 - $0) }, shape: [m]), compress: gzip)
    }

    func testGetMnistShapesScalesAndLabels() throws {
        let dir = tempDir("mnist")
        try makeDataset(dir)
        let (train, test) = try getMnist(directory: dir)
        XCTAssertEqual(train.count, 5)
        XCTAssertEqual(test.count, 3)
        let x = train.arrays[0], t = train.arrays[1]
        XCTAssertEqual(x.shape, [5, 6])
        XCTAssertEqual(x.dtype, .float32)
        XCTAssertEqual(t.dtype, .int32)
        XCTAssertEqual(t.toArray(as: Int32.self), [0, 1, 2, 3, 4])
        // Pixel k of image 0 is (37k mod 256) / 255, computed in float32 as Chainer's `images *= scale / 255`.
        let expected = (0..<6).map { Float((37 * $0) % 256) * Float(1.0 / 255) }
        XCTAssertEqual(Array(x.toArray(as: Float.self).prefix(6)), expected)
        XCTAssertEqual(test.arrays[1].toArray(as: Int32.self), [9, 8, 7])

        let (raw, _) = try getMnist(withLabel: false, ndim: 2, scale: 255, dtype: .uint8, directory: dir)
        XCTAssertEqual(raw.arrays.count, 1)
        XCTAssertEqual(raw.arrays[0].shape, [5, 2, 3])
        XCTAssertEqual(Array(raw.arrays[0].toArray(as: UInt8.self).prefix(3)), [0, 37, 74])
        let (ids, _) = try getMnist(ndim: 3, scale: 255, dtype: .int32, labelDType: .int64, directory: dir)
        XCTAssertEqual(ids.arrays[0].shape, [5, 1, 2, 3])
        XCTAssertEqual(ids.arrays[1].dtype, .int64)
        let (rgb, _) = try getMnist(ndim: 3, dtype: .float64, rgbFormat: true, directory: dir)
        XCTAssertEqual(rgb.arrays[0].shape, [5, 3, 2, 3])
        XCTAssertEqual(rgb.arrays[0][0, 2, 0, 1].item(), 37.0 / 255, accuracy: 1e-15)
        // Plain (not gzipped) files and the dotted names of some mirrors load the same.
        let plain = tempDir("mnist-plain")
        try makeDataset(plain, gzip: false)
        try FileManager.default.moveItem(atPath: plain + "/train-images-idx3-ubyte", toPath: plain + "/train-images.idx3-ubyte")
        XCTAssertEqual(SerializedValue.array(try getFashionMnist(directory: plain).train.arrays[0]), .array(x))
    }

    func testMissingFilesListEveryPlaceLookedAndHowToGetThem() throws {
        let empty = tempDir("nothing")
        let message = assertThrows(DatasetError.self, ["Fashion-MNIST not found", empty, "missing train-images-idx3-ubyte[.gz]",
                                                       "apt-get install dataset-fashion-mnist"]) {
            _ = try getFashionMnist(directory: empty)
        }
        XCTAssertNotNil(message)
        assertThrows(DatasetError.self, ["MNIST not found", empty + "/no", "no such directory"]) { _ = try getMnist(directory: empty + "/no") }
        // Without a directory, the standard places are listed, $CATENA_DATASET_ROOT first when set.
        let path = DatasetLocation.searchPath(for: "fashion-mnist")
        XCTAssertEqual(path.last, "/usr/share/datasets/fashion-mnist")
        XCTAssertTrue(path.contains { $0.hasSuffix("/.catena/dataset/fashion-mnist") })
    }

    func testInconsistentDatasetsAreRefused() throws {
        let dir = tempDir("mnistbad")
        try makeDataset(dir, labels: [0, 1, 2, 3])   // 5 images, 4 labels
        assertThrows(DatasetError.self, ["5 images", "4 labels"]) { _ = try getMnist(directory: dir) }
        let dir2 = tempDir("mnistbad2")
        try makeDataset(dir2, labels: [0, 1, 12, 3, 4])
        assertThrows(DatasetError.self, ["label 2 is 12", "outside the classes 0–9"]) { _ = try getMnist(directory: dir2) }
        let dir3 = tempDir("mnistbad3")
        try makeDataset(dir3)
        try writeIDX(dir3 + "/t10k-images-idx3-ubyte.gz", NDArray.zeros([3, 6], dtype: .float32), compress: true)
        assertThrows(DatasetError.self, ["t10k-images", "expected unsigned-byte images"]) { _ = try getMnist(directory: dir3) }
    }

    /// Debian's Fashion-MNIST, when installed (CI installs it and sets CATENA_REQUIRE_FASHION_MNIST=1): sizes and a
    /// few values checked against Python's gzip module reading the same files.
    func testDebiansFashionMnist() throws {
        let required = ProcessInfo.processInfo.environment["CATENA_REQUIRE_FASHION_MNIST"] == "1"
        guard DatasetLocation.find("fashion-mnist", directory: "/usr/share/datasets/fashion-mnist") != nil || required else { return }
        let (train, test) = try getFashionMnist(scale: 255, dtype: .int32, directory: "/usr/share/datasets/fashion-mnist")
        XCTAssertEqual(train.arrays[0].shape, [60000, 784])
        XCTAssertEqual(test.arrays[0].shape, [10000, 784])
        XCTAssertEqual(Array(train.arrays[1].toArray(as: Int32.self).prefix(10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        XCTAssertEqual(Array(test.arrays[1].toArray(as: Int32.self).prefix(10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        XCTAssertEqual(test.arrays[0][0].sum().item(), 33456)
    }
}
