import Foundation

// DEFLATE (RFC 1951) in Swift, for the zip entries of NPZ files.
//
// Written here rather than taken from the system zlib: a stock Swift toolchain does not ship zlib's headers, and a
// system-library target would make every build depend on a separately installed package (zlib1g-dev), against the
// project's rule of nothing to install but the toolchain. Reading compressed entries is required (NumPy's
// `savez_compressed` and Chainer's `save_npz` compress by default); writing uses a straightforward LZ77 + fixed
// Huffman encoder, which is enough for the mostly incompressible float data of parameters and state.

/// CRC-32 (the zip/zlib polynomial 0xEDB88320), eight bytes per step ("slicing by 8": table `k` holds the CRC of a
/// byte followed by `k` zero bytes, so eight lookups fold in eight bytes at once).
enum CRC32 {
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 { t[k * 256 + i] = t[(k - 1) * 256 + i] >> 8 ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()

    static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var c = ~initial
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return initial }
        tables.withUnsafeBufferPointer { tp in
            let t = tp.baseAddress!
            var i = 0
            while i + 8 <= n {
                let lo = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int(lo >> 8 & 0xFF)] ^ t[5 * 256 + Int(lo >> 16 & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int(hi >> 8 & 0xFF)] ^ t[256 + Int(hi >> 16 & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }

    static func checksum(_ data: [UInt8]) -> UInt32 { data.withUnsafeBytes { checksum($0) } }
}

/// A DEFLATE decoder whose output never grows past a limit given by the caller (the size a zip directory or a
/// file header declares), so that a small damaged or hostile input cannot make it allocate more than that.
struct Inflater {
    enum Failure: Error {
        case corrupt(String)
        /// The data inflates to more than the limit.
        case tooLong
    }

    private let input: UnsafeRawBufferPointer
    private var pos = 0
    private var bitBuffer: UInt64 = 0
    private var bitCount = 0
    private(set) var output: [UInt8] = []
    private let limit: Int
    /// Stop quietly at the limit instead of failing (to read just the start of a stream).
    private let stopAtLimit: Bool
    private struct ReachedLimit: Error {}

    /// Decompresses `input`, which must inflate to at most `limit` bytes (`Failure.tooLong` otherwise). The output
    /// is reserved up front only when `limit` is small enough to be plausible for this input.
    static func inflate(_ input: UnsafeRawBufferPointer, limit: Int) throws -> [UInt8] {
        try inflateStream(input, limit: limit).output
    }

    /// Decompresses one DEFLATE stream at the start of `input`; returns the output and how many input bytes the
    /// stream took (the rest may be a gzip trailer or another member).
    static func inflateStream(_ input: UnsafeRawBufferPointer, limit: Int) throws -> (output: [UInt8], consumed: Int) {
        var d = Inflater(input: input, limit: limit, stopAtLimit: false)
        // DEFLATE expands at most about 1032:1, so a limit above that is not a size to reserve.
        let plausible = input.count.multipliedReportingOverflow(by: 1032)
        d.output.reserveCapacity(plausible.overflow ? limit : Swift.min(limit, plausible.partialValue))
        try d.run()
        return (d.output, d.pos - d.bitCount / 8)
    }

    /// The first `count` bytes of the stream (fewer if it is shorter), without inflating the rest; `consumed` is
    /// the stream's length in `input` when it ended before `count` bytes, nil when it was cut off at `count`.
    static func inflatePrefix(_ input: UnsafeRawBufferPointer, count: Int) throws -> (output: [UInt8], consumed: Int?) {
        var d = Inflater(input: input, limit: count, stopAtLimit: true)
        do {
            try d.run()
        } catch is ReachedLimit {
            return (d.output, nil)
        }
        return (d.output, d.pos - d.bitCount / 8)
    }

    private init(input: UnsafeRawBufferPointer, limit: Int, stopAtLimit: Bool) {
        self.input = input
        self.limit = limit
        self.stopAtLimit = stopAtLimit
    }

    /// Checks that `n` more bytes fit under the limit.
    @inline(__always)
    private func reserve(_ n: Int) throws {
        if n > limit - output.count {
            if stopAtLimit { throw ReachedLimit() }
            throw Failure.tooLong
        }
    }

    @inline(__always)
    private mutating func need(_ n: Int) throws {
        while bitCount < n {
            guard pos < input.count else { throw Failure.corrupt("the compressed data ends early") }
            bitBuffer |= UInt64(input[pos]) << UInt64(bitCount)
            pos += 1
            bitCount += 8
        }
    }

    @inline(__always)
    private mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        try need(n)
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    /// A canonical Huffman code: a 10-bit lookup table for short codes, counts and symbols for the rest.
    struct Huffman {
        static let fastBits = 10
        var fast: [Int32]       // (symbol << 4) | length, or -1
        var counts: [Int]       // codes of each length
        var symbols: [Int]      // symbols in canonical order

        init(lengths: [Int]) throws {
            counts = [Int](repeating: 0, count: 16)
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var left = 1
            for len in 1...15 {
                left <<= 1
                left -= counts[len]
                if left < 0 { throw Failure.corrupt("an over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offsets[len + 1] = offsets[len] + counts[len] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (sym, l) in lengths.enumerated() where l != 0 {
                symbols[offsets[l]] = sym
                offsets[l] += 1
            }
            fast = [Int32](repeating: -1, count: 1 << Huffman.fastBits)
            var code = 0, index = 0
            for len in 1...15 {
                for _ in 0..<counts[len] {
                    if len <= Huffman.fastBits {
                        // Codes are read LSB first: store under the bit-reversed code, for every suffix.
                        var rev = 0
                        for b in 0..<len where code & (1 << (len - 1 - b)) != 0 { rev |= 1 << b }
                        var r = rev
                        while r < (1 << Huffman.fastBits) {
                            fast[r] = Int32(symbols[index] << 4 | len)
                            r += 1 << len
                        }
                    }
                    code += 1
                    index += 1
                }
                code <<= 1
            }
        }
    }

    private mutating func decode(_ h: Huffman) throws -> Int {
        // Fill as many bits as are available (up to 15) for the table lookup.
        while bitCount < 15 && pos < input.count {
            bitBuffer |= UInt64(input[pos]) << UInt64(bitCount)
            pos += 1
            bitCount += 8
        }
        let entry = h.fast[Int(bitBuffer & UInt64((1 << Huffman.fastBits) - 1))]
        if entry >= 0 {
            let len = Int(entry & 15)
            if len <= bitCount {
                bitBuffer >>= UInt64(len)
                bitCount -= len
                return Int(entry >> 4)
            }
        }
        // Slow path: walk the canonical code bit by bit.
        var code = 0, first = 0, index = 0
        for len in 1...15 {
            code |= try bits(1)
            let count = h.counts[len]
            if code - count < first { return h.symbols[index + (code - first)] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw Failure.corrupt("an invalid Huffman code")
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                   4097, 6145, 8193, 12289, 16385, 24577]
    private static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static let fixedLiteral: Huffman = {
        var l = [Int](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return try! Huffman(lengths: l)
    }()
    static let fixedDistance = try! Huffman(lengths: [Int](repeating: 5, count: 30))

    private mutating func run() throws {
        var final = 0
        repeat {
            final = try bits(1)
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(Inflater.fixedLiteral, Inflater.fixedDistance)
            case 2:
                let (lit, dist) = try dynamicTables()
                try codes(lit, dist)
            default: throw Failure.corrupt("a block of reserved type 3")
            }
        } while final == 0
    }

    private mutating func stored() throws {
        // Skip the rest of the current byte; whole bytes already pulled into the bit buffer go back to the input.
        pos -= bitCount / 8
        bitBuffer = 0
        bitCount = 0
        guard pos + 4 <= input.count else { throw Failure.corrupt("a stored block header ends early") }
        let len = Int(input[pos]) | Int(input[pos + 1]) << 8
        let nlen = Int(input[pos + 2]) | Int(input[pos + 3]) << 8
        pos += 4
        if len != (~nlen & 0xFFFF) { throw Failure.corrupt("a stored block's length check failed") }
        guard pos + len <= input.count else { throw Failure.corrupt("a stored block ends early") }
        if stopAtLimit && len > limit - output.count {
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[pos..<(pos + limit - output.count)]))
            throw ReachedLimit()
        }
        try reserve(len)
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[pos..<(pos + len)]))
        pos += len
    }

    private mutating func dynamicTables() throws -> (Huffman, Huffman) {
        let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
        if nlen > 286 || ndist > 30 { throw Failure.corrupt("bad code counts") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var lengths = [Int](repeating: 0, count: 19)
        for i in 0..<ncode { lengths[order[i]] = try bits(3) }
        let lencode = try Huffman(lengths: lengths)
        var all = [Int]()
        all.reserveCapacity(nlen + ndist)
        while all.count < nlen + ndist {
            let sym = try decode(lencode)
            switch sym {
            case 0..<16: all.append(sym)
            case 16:
                guard let last = all.last else { throw Failure.corrupt("a repeat with no previous length") }
                all.append(contentsOf: [Int](repeating: last, count: 3 + (try bits(2))))
            case 17: all.append(contentsOf: [Int](repeating: 0, count: 3 + (try bits(3))))
            default: all.append(contentsOf: [Int](repeating: 0, count: 11 + (try bits(7))))
            }
        }
        if all.count > nlen + ndist { throw Failure.corrupt("too many code lengths") }
        if all[256] == 0 { throw Failure.corrupt("no end-of-block code") }
        return (try Huffman(lengths: Array(all[0..<nlen])), try Huffman(lengths: Array(all[nlen...])))
    }

    private mutating func codes(_ lit: Huffman, _ dist: Huffman) throws {
        while true {
            let sym = try decode(lit)
            if sym < 256 {
                try reserve(1)
                output.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                if li >= 29 { throw Failure.corrupt("an invalid length code") }
                let length = Inflater.lengthBase[li] + (try bits(Inflater.lengthExtra[li]))
                let di = try decode(dist)
                if di >= 30 { throw Failure.corrupt("an invalid distance code") }
                let distance = Inflater.distBase[di] + (try bits(Inflater.distExtra[di]))
                if distance > output.count { throw Failure.corrupt("a distance reaching before the start of the data") }
                let start = output.count - distance
                let n = stopAtLimit ? Swift.min(length, limit - output.count) : length
                if !stopAtLimit { try reserve(length) }
                for k in 0..<n { output.append(output[start + k]) }
                if n < length { throw ReachedLimit() }
            }
        }
    }
}

/// A DEFLATE encoder: LZ77 over a 32 KiB window with hash chains, emitted as fixed-Huffman blocks.
enum Deflater {
    static func deflate(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var w = BitWriter()
        let n = data.count
        // One block for everything: BFINAL = 1, BTYPE = 01 (fixed codes).
        w.write(1, 1)
        w.write(1, 2)
        let hashSize = 1 << 15
        var head = [Int](repeating: -1, count: hashSize)
        var prev = [Int](repeating: -1, count: 1 << 15)
        func hash(_ i: Int) -> Int {
            (Int(data[i]) << 10 ^ Int(data[i + 1]) << 5 ^ Int(data[i + 2])) & (hashSize - 1)
        }
        var i = 0
        while i < n {
            var bestLen = 0, bestDist = 0
            if i + 2 < n {
                let h = hash(i)
                var cand = head[h]
                var chain = 32
                while cand >= 0 && i - cand <= 32768 && chain > 0 {
                    var l = 0
                    while l < 258 && i + l < n && data[cand + l] == data[i + l] { l += 1 }
                    if l > bestLen {
                        bestLen = l
                        bestDist = i - cand
                        if l == 258 { break }
                    }
                    cand = prev[cand & 0x7FFF]
                    chain -= 1
                }
                prev[i & 0x7FFF] = head[h]
                head[h] = i
            }
            if bestLen >= 3 {
                w.writeLength(bestLen)
                w.writeDistance(bestDist)
                // Index the skipped positions too, so later matches can find them.
                for k in (i + 1)..<(i + bestLen) where k + 2 < n {
                    let h = hash(k)
                    prev[k & 0x7FFF] = head[h]
                    head[h] = k
                }
                i += bestLen
            } else {
                w.writeLiteral(Int(data[i]))
                i += 1
            }
        }
        w.writeLiteral(256)
        w.flush()
        return w.bytes
    }

    struct BitWriter {
        var bytes: [UInt8] = []
        var buffer: UInt64 = 0
        var count = 0

        mutating func write(_ value: Int, _ n: Int) {
            buffer |= UInt64(value) << UInt64(count)
            count += n
            while count >= 8 {
                bytes.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                count -= 8
            }
        }

        /// Huffman codes are sent most significant bit first.
        mutating func writeCode(_ code: Int, _ len: Int) {
            var rev = 0
            for b in 0..<len where code & (1 << b) != 0 { rev |= 1 << (len - 1 - b) }
            write(rev, len)
        }

        mutating func writeLiteral(_ sym: Int) {
            switch sym {
            case 0..<144: writeCode(0x30 + sym, 8)
            case 144..<256: writeCode(0x190 + sym - 144, 9)
            case 256..<280: writeCode(sym - 256, 7)
            default: writeCode(0xC0 + sym - 280, 8)
            }
        }

        mutating func writeLength(_ length: Int) {
            let base = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
            let extra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
            var i = 28
            while base[i] > length { i -= 1 }
            writeLiteral(257 + i)
            write(length - base[i], extra[i])
        }

        mutating func writeDistance(_ d: Int) {
            let base = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                        4097, 6145, 8193, 12289, 16385, 24577]
            let extra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
            var i = 29
            while base[i] > d { i -= 1 }
            writeCode(i, 5)
            write(d - base[i], extra[i])
        }

        mutating func flush() {
            if count > 0 { bytes.append(UInt8(buffer & 0xFF)) }
            buffer = 0
            count = 0
        }
    }
}
