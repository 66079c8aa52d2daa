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
    ///
    /// Every count, size and offset read from the archive is checked against the bytes actually present, with
    /// overflow-safe arithmetic, before it is used; nothing larger than the archive itself is allocated except an
    /// entry's inflated data, which is bounded while it is inflated by the size the directory declares (itself at
    /// most DEFLATE's greatest expansion, 1032 times the compressed size).
    /// - Throws: ``SerializationError`` naming `source` for anything malformed: not a zip file, truncated, an
    ///   unsupported compression method, a bad CRC, a size or offset that lies outside the archive.
    static func read(_ bytes: [UInt8], source: String) throws -> [Entry] {
        try bytes.withUnsafeBytes { buf -> [Entry] in
            let r = ByteReader(bytes: buf) { SerializationError("\(source): \($0)") }
            let n = buf.count
            let magic = n < 4 ? 0 : try r.u32le(0)
            if magic != 0x0403_4B50 && magic != 0x0605_4B50 {
                throw r.fail("not a zip archive (an .npz file is a zip of .npy files)")
            }
            // Find the end of central directory record (its comment may follow it).
            var eocd = -1
            var o = n - 22
            while o >= Swift.max(0, n - 22 - 65_535) {
                if (try r.u32le(o)) == 0x0605_4B50 { eocd = o; break }
                o -= 1
            }
            guard eocd >= 0 else { throw r.fail("the archive is truncated or damaged (no end of central directory record)") }
            var count = try r.u16le(eocd + 10)
            var dirSize = try r.u32le(eocd + 12)
            var dirOffset = try r.u32le(eocd + 16)
            if count == 0xFFFF || dirSize == 0xFFFF_FFFF || dirOffset == 0xFFFF_FFFF {
                // ZIP64: the locator sits right before the EOCD and points at the ZIP64 EOCD record.
                let loc = eocd - 20
                guard loc >= 0, (try r.u32le(loc)) == 0x0706_4B50 else { throw r.fail("a ZIP64 archive without its locator") }
                let rec = try r.u64le(loc + 8, "the ZIP64 directory record's offset")
                guard (try r.u32le(rec)) == 0x0606_4B50 else { throw r.fail("a damaged ZIP64 end of central directory record") }
                count = try r.u64le(rec + 32, "the ZIP64 entry count")
                dirSize = try r.u64le(rec + 40, "the ZIP64 directory size")
                dirOffset = try r.u64le(rec + 48, "the ZIP64 directory offset")
            }
            try r.check(dirOffset, dirSize, "the central directory")
            // Each directory entry takes at least 46 bytes: a count beyond that cannot be true.
            guard count <= dirSize / 46 else { throw r.fail("the directory claims \(count) entries but holds only \(dirSize) bytes") }
            var entries: [Entry] = []
            var p = dirOffset
            let dirEnd = dirOffset + dirSize
            for _ in 0..<count {
                guard p <= dirEnd - 46, (try r.u32le(p)) == 0x0201_4B50 else { throw r.fail("a damaged central directory entry") }
                let method = try r.u16le(p + 10)
                let crc = UInt32(truncatingIfNeeded: try r.u32le(p + 16))
                var csize = try r.u32le(p + 20)
                var usize = try r.u32le(p + 24)
                let nameLen = try r.u16le(p + 28), extraLen = try r.u16le(p + 30), commentLen = try r.u16le(p + 32)
                var local = try r.u32le(p + 42)
                let name = String(decoding: try r.slice(p + 46, nameLen, "an entry name"), as: UTF8.self)
                // ZIP64 extra field: the 8-byte values replace those stored as 0xFFFFFFFF, in this order.
                var e = p + 46 + nameLen
                let extraEnd = e + extraLen
                try r.check(e, extraLen + commentLen, "entry '\(name)': its extra field and comment")
                while e + 4 <= extraEnd {
                    let id = try r.u16le(e), size = try r.u16le(e + 2)
                    let fieldEnd = e + 4 + size
                    guard fieldEnd <= extraEnd else { throw r.fail("entry '\(name)': an extra field runs past its end") }
                    if id == 0x0001 {
                        var f = e + 4
                        func next(_ what: String) throws -> Int {
                            guard f + 8 <= fieldEnd else { throw r.fail("entry '\(name)': the ZIP64 field is too short for \(what)") }
                            defer { f += 8 }
                            return try r.u64le(f, "entry '\(name)': the ZIP64 \(what)")
                        }
                        if usize == 0xFFFF_FFFF { usize = try next("uncompressed size") }
                        if csize == 0xFFFF_FFFF { csize = try next("compressed size") }
                        if local == 0xFFFF_FFFF { local = try next("header offset") }
                    }
                    e = fieldEnd
                }
                p = extraEnd + commentLen
                guard (try r.u32le(local)) == 0x0403_4B50 else { throw r.fail("entry '\(name)': a damaged local header") }
                let dataStart = local + 30 + (try r.u16le(local + 26)) + (try r.u16le(local + 28))
                guard dataStart <= n, csize <= n - dataStart else {
                    throw r.fail("entry '\(name)' is truncated (\(csize) bytes expected, \(Swift.max(0, n - dataStart)) present)")
                }
                let raw = UnsafeRawBufferPointer(rebasing: buf[dataStart..<(dataStart + csize)])
                let data: [UInt8]
                switch method {
                case 0:
                    if csize != usize { throw r.fail("entry '\(name)' is stored with \(csize) bytes, the directory says \(usize)") }
                    data = Array(raw)
                case 8:
                    if usize / 1032 > csize + 1 {
                        throw r.fail("entry '\(name)' declares \(usize) bytes from \(csize) compressed, more than DEFLATE can expand to")
                    }
                    do { data = try Inflater.inflate(raw, limit: usize) } catch Inflater.Failure.corrupt(let why) {
                        throw r.fail("entry '\(name)': the compressed data is damaged (\(why))")
                    } catch Inflater.Failure.tooLong {
                        throw r.fail("entry '\(name)' is damaged: it inflates to more than the \(usize) bytes the directory says")
                    }
                default: throw r.fail("entry '\(name)' uses compression method \(method); only stored (0) and deflate (8) are supported")
                }
                if data.count != usize { throw r.fail("entry '\(name)' has \(data.count) bytes, the directory says \(usize)") }
                if CRC32.checksum(data) != crc { throw r.fail("entry '\(name)' fails its CRC-32 check (the file is damaged)") }
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
