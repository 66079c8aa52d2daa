import Foundation

/// The gzip format (RFC 1952) over Catena's DEFLATE decoder and encoder: how MNIST-style IDX files are usually
/// distributed (`train-images-idx3-ubyte.gz`).
///
/// Reading checks the header's flags and optional fields, each member's CRC-32 and length, and never lets the output
/// grow past the limit its caller gives (the size a file header declares).
enum Gzip {
    /// True when `bytes` start with gzip's magic number.
    static func isGzip(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// The offset of the DEFLATE data of the member starting at `start`, after its header and optional fields.
    private static func dataOffset(_ r: ByteReader, member start: Int) throws -> Int {
        guard (try r.u8(start)) == 0x1F, (try r.u8(start + 1)) == 0x8B else { throw r.fail("not gzip data (bad magic number at offset \(start))") }
        guard (try r.u8(start + 2)) == 8 else { throw r.fail("gzip compression method \(try r.u8(start + 2)) is not DEFLATE (8)") }
        let flags = try r.u8(start + 3)
        if flags & 0xE0 != 0 { throw r.fail("reserved gzip header flags are set (0x\(String(flags, radix: 16)))") }
        var p = start + 10
        try r.check(start, 10, "the gzip header")
        if flags & 0x04 != 0 { p += 2 + (try r.u16le(p)) }                      // FEXTRA
        for flag in [0x08, 0x10] where flags & flag != 0 {                        // FNAME, FCOMMENT: zero-terminated
            while (try r.u8(p)) != 0 { p += 1 }
            p += 1
        }
        if flags & 0x02 != 0 { p += 2 }                                            // FHCRC
        try r.check(p, 0, "the gzip header")
        return p
    }

    /// Decompresses every member of a gzip file; the output may be at most `limit` bytes.
    /// - Throws: an error from `failure` for a bad header, damaged data, a CRC or length mismatch, trailing bytes
    ///   that are not another member, or output past `limit` ("inflates to more than …").
    static func decompress(_ bytes: UnsafeRawBufferPointer, limit: Int, failure: @escaping (String) -> Error) throws -> [UInt8] {
        let r = ByteReader(bytes: bytes, failure: failure)
        var out: [UInt8] = []
        var start = 0
        repeat {
            let data = try dataOffset(r, member: start)
            let member: (output: [UInt8], consumed: Int)
            do {
                member = try Inflater.inflateStream(UnsafeRawBufferPointer(rebasing: bytes[data...]), limit: limit - out.count)
            } catch Inflater.Failure.corrupt(let why) {
                throw r.fail("the compressed data is damaged (\(why))")
            } catch Inflater.Failure.tooLong {
                throw r.fail("the data inflates to more than the \(limit) bytes its header describes")
            }
            let trailer = data + member.consumed
            let crc = UInt32(truncatingIfNeeded: try r.u32le(trailer)), size = try r.u32le(trailer + 4)
            if CRC32.checksum(member.output) != crc { throw r.fail("fails its CRC-32 check (the file is damaged)") }
            if member.output.count & 0xFFFF_FFFF != size {
                throw r.fail("inflates to \(member.output.count) bytes but its trailer says \(size)")
            }
            out.append(contentsOf: member.output)
            start = trailer + 8
            // Anything after a member must be another member (zero padding, as some tools write, is allowed).
            if start < bytes.count && bytes[start] != 0x1F && bytes[start...].allSatisfy({ $0 == 0 }) { break }
        } while start < bytes.count
        return out
    }

    /// The first `count` bytes of the data (fewer if it is shorter), inflating no more than that.
    static func prefix(_ bytes: UnsafeRawBufferPointer, count: Int, failure: @escaping (String) -> Error) throws -> [UInt8] {
        let r = ByteReader(bytes: bytes, failure: failure)
        var out: [UInt8] = []
        var start = 0
        // Member after member until `count` bytes (a header may straddle two members).
        while out.count < count && start < bytes.count && bytes[start] == 0x1F {
            let data = try dataOffset(r, member: start)
            do {
                let part = try Inflater.inflatePrefix(UnsafeRawBufferPointer(rebasing: bytes[data...]), count: count - out.count)
                out += part.output
                guard let consumed = part.consumed else { break }
                start = data + consumed + 8
            } catch Inflater.Failure.corrupt(let why) {
                throw r.fail("the compressed data is damaged (\(why))")
            }
        }
        return out
    }

    /// One gzip member holding `data` (no file name, modification time 0).
    static func compress(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]
        out += data.withUnsafeBytes { Deflater.deflate($0) }
        let crc = CRC32.checksum(data), size = UInt32(truncatingIfNeeded: data.count)
        for v in [crc, size] { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        return out
    }
}
