import Foundation

/// Reads and writes the zip archives that hold NPZ files: stored or deflated entries, CRC-32 checked, ZIP64 when
/// sizes or offsets pass 4 GiB (and ZIP64 records written by NumPy, which marks every local header as ZIP64).
enum Zip {
    /// Sizes and offsets from which ZIP64 fields are written (lowered in tests to exercise them).
    nonisolated(unsafe) static var zip64Threshold = 0xFFFF_FFFF

    struct Entry {
        let name: String
        let data: [UInt8]
    }

    // MARK: - Reading

    /// The entries of an archive, in directory order.
    /// - Throws: ``SerializationError`` naming `source` for anything malformed: not a zip file, truncated, an
    ///   unsupported compression method, a bad CRC.
    static func read(_ bytes: [UInt8], source: String) throws -> [Entry] {
        func fail(_ m: String) -> SerializationError { SerializationError("\(source): \(m)") }
        return try bytes.withUnsafeBytes { buf -> [Entry] in
            let n = buf.count
            func u16(_ o: Int) throws -> Int {
                guard o >= 0, o + 2 <= n else { throw fail("the archive is truncated") }
                return Int(buf[o]) | Int(buf[o + 1]) << 8
            }
            func u32(_ o: Int) throws -> Int { try u16(o) | (try u16(o + 2)) << 16 }
            func u64(_ o: Int) throws -> Int { try u32(o) | (try u32(o + 4)) << 32 }
            let magic = n < 4 ? 0 : try u32(0)
            if magic != 0x0403_4B50 && magic != 0x0605_4B50 {
                throw fail("not a zip archive (an .npz file is a zip of .npy files)")
            }
            // Find the end of central directory record (its comment may follow it).
            var eocd = -1
            var o = n - 22
            while o >= Swift.max(0, n - 22 - 65_535) {
                if (try u32(o)) == 0x0605_4B50 { eocd = o; break }
                o -= 1
            }
            guard eocd >= 0 else { throw fail("the archive is truncated or damaged (no end of central directory record)") }
            var count = try u16(eocd + 10)
            var dirSize = try u32(eocd + 12)
            var dirOffset = try u32(eocd + 16)
            if count == 0xFFFF || dirSize == 0xFFFF_FFFF || dirOffset == 0xFFFF_FFFF {
                // ZIP64: the locator sits right before the EOCD and points at the ZIP64 EOCD record.
                let loc = eocd - 20
                guard loc >= 0, (try u32(loc)) == 0x0706_4B50 else { throw fail("a ZIP64 archive without its locator") }
                let rec = try u64(loc + 8)
                guard (try u32(rec)) == 0x0606_4B50 else { throw fail("a damaged ZIP64 end of central directory record") }
                count = try u64(rec + 32)
                dirSize = try u64(rec + 40)
                dirOffset = try u64(rec + 48)
            }
            guard dirOffset + dirSize <= n else { throw fail("the archive is truncated (the central directory lies past the end)") }
            var entries: [Entry] = []
            var p = dirOffset
            for _ in 0..<count {
                guard (try u32(p)) == 0x0201_4B50 else { throw fail("a damaged central directory entry") }
                let method = try u16(p + 10)
                let crc = UInt32(truncatingIfNeeded: try u32(p + 16))
                var csize = try u32(p + 20)
                var usize = try u32(p + 24)
                let nameLen = try u16(p + 28), extraLen = try u16(p + 30), commentLen = try u16(p + 32)
                var local = try u32(p + 42)
                guard p + 46 + nameLen <= n else { throw fail("the archive is truncated") }
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: buf[(p + 46)..<(p + 46 + nameLen)]), as: UTF8.self)
                // ZIP64 extra field: the 8-byte values replace those stored as 0xFFFFFFFF, in this order.
                var e = p + 46 + nameLen
                let extraEnd = e + extraLen
                while e + 4 <= extraEnd {
                    let id = try u16(e), size = try u16(e + 2)
                    if id == 0x0001 {
                        var f = e + 4
                        if usize == 0xFFFF_FFFF { usize = try u64(f); f += 8 }
                        if csize == 0xFFFF_FFFF { csize = try u64(f); f += 8 }
                        if local == 0xFFFF_FFFF { local = try u64(f) }
                    }
                    e += 4 + size
                }
                p = extraEnd + commentLen
                guard (try u32(local)) == 0x0403_4B50 else { throw fail("entry '\(name)': a damaged local header") }
                let dataStart = local + 30 + (try u16(local + 26)) + (try u16(local + 28))
                guard dataStart + csize <= n else { throw fail("entry '\(name)' is truncated (\(csize) bytes expected, \(Swift.max(0, n - dataStart)) present)") }
                let raw = UnsafeRawBufferPointer(rebasing: buf[dataStart..<(dataStart + csize)])
                let data: [UInt8]
                switch method {
                case 0: data = Array(raw)
                case 8:
                    do { data = try Inflater.inflate(raw, expectedSize: usize) } catch Inflater.Failure.corrupt(let why) {
                        throw fail("entry '\(name)': the compressed data is damaged (\(why))")
                    }
                default: throw fail("entry '\(name)' uses compression method \(method); only stored (0) and deflate (8) are supported")
                }
                if data.count != usize { throw fail("entry '\(name)' has \(data.count) bytes, the directory says \(usize)") }
                if CRC32.checksum(data) != crc { throw fail("entry '\(name)' fails its CRC-32 check (the file is damaged)") }
                entries.append(Entry(name: name, data: data))
            }
            return entries
        }
    }

    // MARK: - Writing

    /// An archive of the entries, deflated when `compress` (each entry kept stored if deflating does not shrink it).
    static func write(_ entries: [Entry], compress: Bool) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func put16(_ v: Int, _ b: inout [UInt8]) { b.append(UInt8(v & 0xFF)); b.append(UInt8(v >> 8 & 0xFF)) }
        func put32(_ v: Int, _ b: inout [UInt8]) { put16(v & 0xFFFF, &b); put16(v >> 16 & 0xFFFF, &b) }
        func put64(_ v: Int, _ b: inout [UInt8]) { put32(v & 0xFFFF_FFFF, &b); put32(v >> 32, &b) }
        let dosDate = (1980 - 1980) << 9 | 1 << 5 | 1   // 1980-01-01 00:00, as NumPy writes
        for e in entries {
            let crc = Int(CRC32.checksum(e.data))
            var payload = e.data
            var method = 0
            if compress {
                let d = e.data.withUnsafeBytes { Deflater.deflate($0) }
                if d.count < e.data.count {
                    payload = d
                    method = 8
                }
            }
            let offset = out.count
            let name = Array(e.name.utf8)
            let big = payload.count >= zip64Threshold || e.data.count >= zip64Threshold || offset >= zip64Threshold
            // Local header
            put32(0x0403_4B50, &out)
            put16(big ? 45 : 20, &out)
            put16(0, &out)
            put16(method, &out)
            put16(0, &out)
            put16(dosDate, &out)
            put32(crc, &out)
            put32(big ? 0xFFFF_FFFF : payload.count, &out)
            put32(big ? 0xFFFF_FFFF : e.data.count, &out)
            put16(name.count, &out)
            put16(big ? 20 : 0, &out)
            out.append(contentsOf: name)
            if big {
                put16(0x0001, &out)
                put16(16, &out)
                put64(e.data.count, &out)
                put64(payload.count, &out)
            }
            out.append(contentsOf: payload)
            // Central directory entry
            put32(0x0201_4B50, &central)
            put16(big ? 45 : 20, &central)
            put16(big ? 45 : 20, &central)
            put16(0, &central)
            put16(method, &central)
            put16(0, &central)
            put16(dosDate, &central)
            put32(crc, &central)
            put32(big ? 0xFFFF_FFFF : payload.count, &central)
            put32(big ? 0xFFFF_FFFF : e.data.count, &central)
            put16(name.count, &central)
            put16(big ? 28 : 0, &central)
            put16(0, &central)
            put16(0, &central)
            put16(0, &central)
            put32(0o600 << 16, &central)
            put32(big ? 0xFFFF_FFFF : offset, &central)
            central.append(contentsOf: name)
            if big {
                put16(0x0001, &central)
                put16(24, &central)
                put64(e.data.count, &central)
                put64(payload.count, &central)
                put64(offset, &central)
            }
        }
        let dirOffset = out.count
        out.append(contentsOf: central)
        let needs64 = entries.count >= 0xFFFF || central.count >= zip64Threshold || dirOffset >= zip64Threshold
        if needs64 {
            let rec = out.count
            put32(0x0606_4B50, &out)
            put64(44, &out)
            put16(45, &out)
            put16(45, &out)
            put32(0, &out)
            put32(0, &out)
            put64(entries.count, &out)
            put64(entries.count, &out)
            put64(central.count, &out)
            put64(dirOffset, &out)
            put32(0x0706_4B50, &out)
            put32(0, &out)
            put64(rec, &out)
            put32(1, &out)
        }
        put32(0x0605_4B50, &out)
        put16(0, &out)
        put16(0, &out)
        put16(needs64 ? 0xFFFF : entries.count, &out)
        put16(needs64 ? 0xFFFF : entries.count, &out)
        put32(needs64 ? 0xFFFF_FFFF : central.count, &out)
        put32(needs64 ? 0xFFFF_FFFF : dirOffset, &out)
        put16(0, &out)
        return out
    }
}
