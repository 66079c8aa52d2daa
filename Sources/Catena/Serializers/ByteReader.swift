import Foundation

/// Bounds- and overflow-checked reads from a byte buffer, shared by the file readers (zip, `.npy`, gzip, IDX).
///
/// Every offset and length that comes from a file goes through here, so that a lying header (a size past the end,
/// a negative or overflowing field) becomes a thrown error naming the file instead of a crash or a huge allocation.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    /// Makes the error thrown for a problem (the file's reader prefixes its name).
    let failure: (String) -> Error

    var count: Int { bytes.count }

    func fail(_ message: String) -> Error { failure(message) }

    /// Checks that `length` bytes starting at `offset` lie inside the buffer, without overflow.
    @inline(__always)
    func check(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String = "the data") throws {
        if offset < 0 || length < 0 || offset > bytes.count || length > bytes.count - offset {
            throw failure("the file is truncated (\(what()) needs \(length) bytes at offset \(offset), the file has \(bytes.count))")
        }
    }

    @inline(__always)
    func u8(_ o: Int) throws -> Int {
        try check(o, 1)
        return Int(bytes[o])
    }

    func u16le(_ o: Int) throws -> Int {
        try check(o, 2)
        return Int(bytes[o]) | Int(bytes[o + 1]) << 8
    }

    func u32le(_ o: Int) throws -> Int {
        try check(o, 4)
        return Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24
    }

    func u32be(_ o: Int) throws -> Int {
        try check(o, 4)
        return Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
    }

    /// A 64-bit little-endian field as a non-negative `Int`; values of 2^63 and above (which no real file of this
    /// machine can hold) are refused rather than read as negative numbers.
    func u64le(_ o: Int, _ what: @autoclosure () -> String) throws -> Int {
        try check(o, 8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[o + i]) << UInt64(8 * i) }
        guard v <= UInt64(Int.max) else { throw failure("\(what()) (\(v)) is too large") }
        return Int(v)
    }

    /// The bytes `offset ..< offset + length`, checked.
    func slice(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String = "the data") throws -> UnsafeRawBufferPointer {
        try check(offset, length, what())
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
    }
}

/// `a + b`, or an error from `reader` when the sum overflows (sizes and offsets read from files).
@inline(__always)
func checkedAdd(_ a: Int, _ b: Int, _ reader: ByteReader, _ what: @autoclosure () -> String) throws -> Int {
    let (s, o) = a.addingReportingOverflow(b)
    if o { throw reader.fail("\(what()) overflows") }
    return s
}

/// `a · b`, or an error from `reader` when the product overflows.
@inline(__always)
func checkedMultiply(_ a: Int, _ b: Int, _ reader: ByteReader, _ what: @autoclosure () -> String) throws -> Int {
    let (p, o) = a.multipliedReportingOverflow(by: b)
    if o { throw reader.fail("\(what()) overflows") }
    return p
}
