import Foundation

/// A problem with a dataset on disk: files not found, or a file that is truncated or not what it claims to be.
/// The message names the file (or every place searched) and what was wrong.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, naming the file or the places searched.
    public let message: String
    /// An error with the given message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads an IDX file, plain or gzip-compressed (the format of MNIST, Fashion-MNIST and EMNIST:
/// `train-images-idx3-ubyte.gz`).
///
/// The element type follows the file's type code: unsigned bytes give a `uint8` array, signed bytes, shorts and
/// ints give `int32`, floats `float32`, doubles `float64`; the shape is the file's dimensions.
///
/// ```swift
/// let images = try readIDX("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")   // uint8 [10000, 28, 28]
/// ```
/// - Throws: ``DatasetError`` naming the file and what was wrong: it is missing or unreadable, its magic number or
///   type code is not IDX's, its dimensions overflow, or its data is shorter or longer than its dimensions say (a
///   compressed file is checked as it inflates, so a damaged or lying one never makes Catena allocate more than its
///   header describes).
public func readIDX(_ path: String) throws -> NDArray {
    try decodeIDX(try readWholeFile(path), source: path)
}

/// An IDX array from the bytes of a file (plain or gzip); errors name `path`.
func decodeIDX(_ data: Data, source path: String) throws -> NDArray {
    try data.withUnsafeBytes { raw -> NDArray in
        let failure: (String) -> Error = { DatasetError("\(path): \($0)") }
        if Gzip.isGzip(raw) {
            // The header first (at most 4 + 4·255 bytes), then exactly the size it describes.
            let head = try Gzip.prefix(raw, count: 4 + 4 * 255, failure: failure)
            let layout = try head.withUnsafeBytes { try IDXLayout(ByteReader(bytes: $0, failure: failure), complete: false) }
            if layout.totalBytes / 1032 > raw.count {
                throw failure("its header describes \(layout.totalBytes) bytes (shape \(layout.shape)), more than \(raw.count) compressed bytes can hold")
            }
            let bytes = try Gzip.decompress(raw, limit: layout.totalBytes, failure: failure)
            return try bytes.withUnsafeBytes { try IDXLayout(ByteReader(bytes: $0, failure: failure), complete: true).decode($0) }
        }
        return try IDXLayout(ByteReader(bytes: raw, failure: failure), complete: true).decode(raw)
    }
}

/// The bytes of a file, or a ``DatasetError`` saying why they cannot be read.
func readWholeFile(_ path: String) throws -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw DatasetError("\(path): no such file") }
    if isDir.boolValue { throw DatasetError("\(path): is a directory, not a file") }
    guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("\(path): cannot read it (check its permissions)") }
    return data
}

/// The header of an IDX file: `0x00 0x00 type ndim`, then `ndim` big-endian 32-bit dimensions, then the data in C
/// order, big-endian.
private struct IDXLayout {
    let type: Int
    let shape: [Int]
    let itemSize: Int
    let dataOffset: Int
    let count: Int
    let totalBytes: Int

    /// Parses the header; with `complete`, also checks that the data that follows has exactly the described length.
    init(_ r: ByteReader, complete: Bool) throws {
        guard r.count >= 4 else { throw r.fail("too short to be an IDX file (\(r.count) bytes)") }
        guard (try r.u8(0)) == 0, (try r.u8(1)) == 0 else {
            throw r.fail("not an IDX file (its magic number starts \(String(format: "0x%02x 0x%02x", try r.u8(0), try r.u8(1))), not 0x00 0x00)")
        }
        type = try r.u8(2)
        switch type {
        case 0x08, 0x09: itemSize = 1
        case 0x0B: itemSize = 2
        case 0x0C, 0x0D: itemSize = 4
        case 0x0E: itemSize = 8
        default: throw r.fail("unknown IDX type code 0x\(String(type, radix: 16)) (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)")
        }
        let ndim = try r.u8(3)
        guard ndim >= 1 else { throw r.fail("an IDX file with no dimensions") }
        try r.check(4, 4 * ndim, "the header's \(ndim) dimensions")
        var dims: [Int] = []
        for d in 0..<ndim { dims.append(try r.u32be(4 + 4 * d)) }
        var n = 1
        if dims.contains(0) { n = 0 } else {
            for v in dims { n = try checkedMultiply(n, v, r, "the element count of the dimensions") }
        }
        shape = dims
        count = n
        dataOffset = 4 + 4 * ndim
        totalBytes = try checkedAdd(dataOffset, try checkedMultiply(n, itemSize, r, "the data size of shape \(dims)"), r, "the file size of shape \(dims)")
        if complete && r.count != totalBytes {
            let have = r.count - dataOffset
            throw r.fail(r.count < totalBytes
                ? "truncated: shape \(dims) needs \(totalBytes - dataOffset) bytes of data, the file has \(have)"
                : "\(have - (totalBytes - dataOffset)) bytes follow the \(totalBytes - dataOffset) bytes of data that shape \(dims) describes")
        }
    }

    func decode(_ raw: UnsafeRawBufferPointer) throws -> NDArray {
        let src = UnsafeRawBufferPointer(rebasing: raw[dataOffset..<totalBytes])
        func be(_ i: Int, _ size: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in 0..<size { v = v << 8 | UInt64(src[i * size + b]) }
            return v
        }
        switch type {
        case 0x08:
            let out = NDArray(uninitializedShape: shape, dtype: .uint8)
            if count > 0 { out.storage.raw.copyMemory(from: src.baseAddress!, byteCount: count) }
            return out
        case 0x09, 0x0B, 0x0C:
            let out = NDArray(uninitializedShape: shape, dtype: .int32)
            let p = out.pointer(Int32.self)
            for i in 0..<count {
                let v = be(i, itemSize)
                p[i] = itemSize == 1 ? Int32(Int8(truncatingIfNeeded: v)) : itemSize == 2 ? Int32(Int16(truncatingIfNeeded: v)) : Int32(truncatingIfNeeded: v)
            }
            return out
        case 0x0D:
            let out = NDArray(uninitializedShape: shape, dtype: .float32)
            let p = out.pointer(Float.self)
            for i in 0..<count { p[i] = Float(bitPattern: UInt32(truncatingIfNeeded: be(i, 4))) }
            return out
        default:
            let out = NDArray(uninitializedShape: shape, dtype: .float64)
            let p = out.pointer(Double.self)
            for i in 0..<count { p[i] = Double(bitPattern: be(i, 8)) }
            return out
        }
    }
}

/// Writes an array as an IDX file (gzip-compressed when `compress`), the inverse of ``readIDX(_:)``, for making
/// small datasets in the MNIST layout. uint8 arrays are written as unsigned bytes, int32 as ints, float32 as
/// floats and float64 as doubles.
/// - Throws: ``DatasetError`` if the file cannot be written.
/// - Precondition: `array` is uint8, int32, float32 or float64, with 1 to 255 axes each below 2^32.
public func writeIDX(_ path: String, _ array: NDArray, compress: Bool = false) throws {
    let type: UInt8, size: Int
    switch array.dtype {
    case .uint8: (type, size) = (0x08, 1)
    case .int32: (type, size) = (0x0C, 4)
    case .float32: (type, size) = (0x0D, 4)
    case .float64: (type, size) = (0x0E, 8)
    default: typeCheckFailure("writeIDX: IDX holds uint8, int32, float32 or float64 arrays, not \(array.dtype)")
    }
    if array.ndim < 1 || array.ndim > 255 || array.shape.contains(where: { $0 > 0xFFFF_FFFF }) {
        typeCheckFailure("writeIDX: IDX holds 1 to 255 axes of fewer than 2^32 elements each, not shape \(array.shape)")
    }
    var bytes: [UInt8] = [0, 0, type, UInt8(array.ndim)]
    for d in array.shape { for k in (0..<4).reversed() { bytes.append(UInt8(truncatingIfNeeded: d >> (8 * k))) } }
    let c = array.contiguous()
    let raw = UnsafeRawBufferPointer(start: c.storage.raw + c.offset * size, count: c.count * size)
    bytes.reserveCapacity(bytes.count + raw.count)
    for i in 0..<c.count {
        for b in (0..<size).reversed() { bytes.append(raw[i * size + b]) }   // big-endian
    }
    do {
        try writeAtomically(Data(compress ? Gzip.compress(bytes) : bytes), to: path)
    } catch {
        throw DatasetError("\(path): cannot write it (\(error))")
    }
}
