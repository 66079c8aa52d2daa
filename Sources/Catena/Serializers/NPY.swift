import Foundation

/// The `.npy` format (NumPy's `save`/`load` of one array): versions 1.0 to 3.0, little- and big-endian
/// float32/float64/int32/int64/uint8/bool (other integer widths and half floats are converted on reading), C or Fortran
/// order, 0-d unicode strings (`<U`) and the 0-d object array NumPy writes for `None`.
enum NPY {
    /// The bytes NumPy 1.26 writes for `numpy.save(f, numpy.asarray(None))`: a 0-d object array holding None,
    /// pickled. Chainer saves None this way; NumPy reads it back with `allow_pickle=True`.
    static let pickledNone: [UInt8] = {
        let header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
        let pickle = "8003636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b008571024301627103877104527105284b0129636e756d70790a64747970650a710658020000004f3871078988877108527109284b0358010000007c710a4e4e4e4affffffff4affffffff4b3f74710b62895d710c4e6174710d622e"
        var bytes = preamble(header)
        var i = pickle.startIndex
        while i < pickle.endIndex {
            let j = pickle.index(i, offsetBy: 2)
            bytes.append(UInt8(pickle[i..<j], radix: 16)!)
            i = j
        }
        return bytes
    }()

    /// Magic, version 1.0, header length and the header padded with spaces to a multiple of 64 bytes.
    static func preamble(_ dict: String) -> [UInt8] {
        var header = Array(dict.utf8)
        let total = 10 + header.count + 1
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (64 - total % 64) % 64))
        header.append(0x0A)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        out.append(UInt8(header.count & 0xFF))
        out.append(UInt8(header.count >> 8))
        return out + header
    }

    static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// The `.npy` bytes of a value.
    static func encode(_ value: SerializedValue) -> [UInt8] {
        switch value {
        case .none:
            return pickledNone
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = preamble("{'descr': '<U\(scalars.count)', 'fortran_order': False, 'shape': (), }")
            for u in scalars { withUnsafeBytes(of: u.value.littleEndian) { out.append(contentsOf: $0) } }
            return out
        case .array(let a):
            let descr: String
            switch a.dtype {
            case .float32: descr = "<f4"
            case .float64: descr = "<f8"
            case .int32: descr = "<i4"
            case .int64: descr = "<i8"
            case .uint8: descr = "|u1"
            case .bool: descr = "|b1"
            }
            var out = preamble("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText(a.shape)), }")
            let c = a.contiguous()
            out.append(contentsOf: UnsafeRawBufferPointer(start: c.storage.raw + c.offset * c.dtype.itemSize, count: c.byteCount))
            return out
        }
    }

    /// Reads one `.npy` file's bytes.
    /// - Throws: ``SerializationError`` naming `source` for a bad magic, a header that cannot be parsed, an
    ///   unsupported or empty dtype, a shape whose size overflows, or data shorter (or longer) than the header says.
    ///   Nothing is allocated before the data's length has been checked against the header, so a small file cannot
    ///   ask for a large array.
    static func decode(_ bytes: [UInt8], source: String) throws -> SerializedValue {
        try bytes.withUnsafeBytes { try decode(ByteReader(bytes: $0) { SerializationError("\(source): \($0)") }) }
    }

    private static func decode(_ r: ByteReader) throws -> SerializedValue {
        let bytes = r.bytes
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw r.fail("not a .npy array (bad magic string)")
        }
        let major = bytes[6]
        let headerLen: Int, start: Int
        switch major {
        case 1:
            headerLen = try r.u16le(8)
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw r.fail("the .npy header is truncated") }
            headerLen = try r.u32le(8)
            start = 12
        default: throw r.fail("unsupported .npy format version \(major).\(bytes[7])")
        }
        guard headerLen <= bytes.count - start else { throw r.fail("the .npy header is truncated (\(headerLen) bytes declared, \(bytes.count - start) present)") }
        let header = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + headerLen)]), as: UTF8.self)
        guard let descr = field(header, "descr"), let fortranText = field(header, "fortran_order"), let shapeTextValue = field(header, "shape") else {
            throw r.fail("cannot parse the .npy header \(header.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))")
        }
        guard fortranText == "True" || fortranText == "False" else { throw r.fail("fortran_order is '\(fortranText.prefix(40))', not True or False") }
        let fortran = fortranText == "True"
        guard shapeTextValue.hasPrefix("("), shapeTextValue.hasSuffix(")") else { throw r.fail("bad shape \(shapeTextValue.prefix(80)) in the .npy header") }
        let dims = shapeTextValue.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var shape: [Int] = []
        for (i, d) in dims.enumerated() {
            if d.isEmpty && i == dims.count - 1 && i > 0 { continue }   // the trailing comma of "(3,)"
            if d.isEmpty && dims.count == 1 { continue }                // "()"
            guard let v = Int(d), v >= 0 else { throw r.fail("bad shape \(shapeTextValue.prefix(80)) in the .npy header") }
            shape.append(v)
        }
        var count = 1
        if shape.contains(0) { count = 0 } else {
            for d in shape { count = try checkedMultiply(count, d, r, "the element count of shape \(shape)") }
        }
        let bodyStart = start + headerLen, bodyCount = bytes.count - bodyStart
        if descr == "|O" {
            if shape.isEmpty { return .none }
            throw r.fail("object arrays (other than a saved None) are not supported")
        }
        guard let order = descr.first, descr.count >= 2 else { throw r.fail("the dtype descriptor '\(descr.prefix(40))' is empty or incomplete") }
        let hasOrder = "<>|=".contains(order)
        let kind = hasOrder ? descr.dropFirst() : Substring(descr)
        let bigEndian = order == ">"
        if kind.hasPrefix("U") {
            guard let n = Int(kind.dropFirst()), n >= 0, shape.isEmpty else {
                throw r.fail("only 0-d unicode strings are supported (descr \(descr.prefix(40)), shape \(shape))")
            }
            guard bodyCount % 4 == 0, bodyCount / 4 == n else { throw r.fail("a string of \(n) characters needs \(n) × 4 bytes, found \(bodyCount)") }
            var scalars = String.UnicodeScalarView()
            for i in 0..<n {
                var v: UInt32 = 0
                for b in 0..<4 { v |= UInt32(bytes[bodyStart + 4 * i + (bigEndian ? 3 - b : b)]) << (8 * UInt32(b)) }
                if v == 0 { break }
                guard let u = Unicode.Scalar(v) else { throw r.fail("an invalid character in a string") }
                scalars.append(u)
            }
            return .string(String(scalars))
        }
        let (itemSize, target): (Int, DType)
        switch kind {
        case "f4": (itemSize, target) = (4, .float32)
        case "f8": (itemSize, target) = (8, .float64)
        case "f2": (itemSize, target) = (2, .float32)
        case "i4": (itemSize, target) = (4, .int32)
        case "i8": (itemSize, target) = (8, .int64)
        case "u1": (itemSize, target) = (1, .uint8)
        case "i1", "i2", "u2": (itemSize, target) = (Int(kind.dropFirst())!, .int32)
        case "u4": (itemSize, target) = (4, .int64)
        case "b1": (itemSize, target) = (1, .bool)
        default: throw r.fail("unsupported dtype '\(descr.prefix(40))'")
        }
        let byteCount = try checkedMultiply(count, itemSize, r, "the byte count of shape \(shape)")
        guard bodyCount == byteCount else {
            throw r.fail("the header promises \(count) elements of \(itemSize) bytes (shape \(shape)) but the data has \(bodyCount) bytes")
        }
        // Fortran order: the data is the transpose's C order.
        let storedShape = fortran ? Array(shape.reversed()) : shape
        var a = NDArray(uninitializedShape: storedShape, dtype: target)
        let needsSwap = bigEndian && itemSize > 1
        let src = UnsafeRawBufferPointer(rebasing: bytes[bodyStart...])
        let dst = a.storage.raw
        switch kind {
        case "f2":
            let p = dst.assumingMemoryBound(to: Float.self)
            for i in 0..<count {
                var bits = UInt16(src[2 * i]) | UInt16(src[2 * i + 1]) << 8
                if needsSwap { bits = bits.byteSwapped }
                p[i] = Float(Float16(bitPattern: bits))
            }
        case "i1", "i2", "u2", "u4":
            for i in 0..<count {
                var v: UInt64 = 0
                for b in 0..<itemSize { v |= UInt64(src[i * itemSize + (needsSwap ? itemSize - 1 - b : b)]) << (8 * UInt64(b)) }
                let signed = kind.hasPrefix("i")
                let value: Int64 = signed ? Int64(bitPattern: v << UInt64(64 - 8 * itemSize)) >> Int64(64 - 8 * itemSize) : Int64(v)
                if target == .int32 { dst.assumingMemoryBound(to: Int32.self)[i] = Int32(value) } else { dst.assumingMemoryBound(to: Int64.self)[i] = value }
            }
        case "b1":
            let p = dst.assumingMemoryBound(to: Bool.self)
            for i in 0..<count { p[i] = src[i] != 0 }
        default:
            if byteCount > 0 { dst.copyMemory(from: src.baseAddress!, byteCount: byteCount) }
            if needsSwap {
                let p = dst.assumingMemoryBound(to: UInt8.self)
                for i in 0..<count {
                    var lo = i * itemSize, hi = lo + itemSize - 1
                    while lo < hi {
                        p.swapAt(lo, hi)
                        lo += 1
                        hi -= 1
                    }
                }
            }
        }
        if fortran { a = a.transposed().contiguous() }
        return .array(a)
    }

    /// The value of `key` in a Python dict literal (`'key': value`).
    static func field(_ header: String, _ key: String) -> String? {
        guard let r = header.range(of: "'\(key)'") else { return nil }
        var rest = header[r.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if rest.first == "'" {
            let body = rest.dropFirst()
            guard let close = body.firstIndex(of: "'") else { return nil }
            return String(body[..<close])
        }
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return rest[..<end].trimmingCharacters(in: .whitespaces)
    }
}

extension UnsafeMutablePointer where Pointee == UInt8 {
    fileprivate func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}
