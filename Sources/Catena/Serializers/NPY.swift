import Foundation

/// The `.npy` format (NumPy's `save`/`load` of one array): versions 1.0 to 3.0, little- and big-endian
/// float32/float64/int32/int64/bool (other integer widths and half floats are converted on reading), C or Fortran
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
    ///   unsupported dtype, or data shorter (or longer) than the header says.
    static func decode(_ bytes: [UInt8], source: String) throws -> SerializedValue {
        func fail(_ m: String) -> SerializationError { SerializationError("\(source): \(m)") }
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw fail("not a .npy array (bad magic string)")
        }
        let major = bytes[6]
        let headerLen: Int, start: Int
        switch major {
        case 1:
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("the .npy header is truncated") }
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        default: throw fail("unsupported .npy format version \(major).\(bytes[7])")
        }
        guard start + headerLen <= bytes.count else { throw fail("the .npy header is truncated") }
        let header = String(decoding: bytes[start..<(start + headerLen)], as: UTF8.self)
        guard let descr = field(header, "descr"), let fortranText = field(header, "fortran_order"), let shapeTextValue = field(header, "shape") else {
            throw fail("cannot parse the .npy header \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let fortran = fortranText == "True"
        let dims = shapeTextValue.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d), v >= 0 else { throw fail("bad shape \(shapeTextValue) in the .npy header") }
            shape.append(v)
        }
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        let bodyStart = start + headerLen, bodyCount = bytes.count - bodyStart
        if descr == "|O" {
            if shape.isEmpty { return .none }
            throw fail("object arrays (other than a saved None) are not supported")
        }
        let order = descr.first!
        let kind = descr.dropFirst()
        let bigEndian = order == ">"
        if kind.hasPrefix("U") {
            guard let n = Int(kind.dropFirst()), shape.isEmpty else { throw fail("only 0-d unicode strings are supported (descr \(descr), shape \(shape))") }
            guard bodyCount == 4 * n else { throw fail("a string of \(n) characters needs \(4 * n) bytes, found \(bodyCount)") }
            var scalars = String.UnicodeScalarView()
            for i in 0..<n {
                var v: UInt32 = 0
                for b in 0..<4 { v |= UInt32(bytes[bodyStart + 4 * i + (bigEndian ? 3 - b : b)]) << (8 * UInt32(b)) }
                if v == 0 { break }
                guard let u = Unicode.Scalar(v) else { throw fail("an invalid character in a string") }
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
        case "i1", "u1": (itemSize, target) = (1, .int32)
        case "i2", "u2": (itemSize, target) = (2, .int32)
        case "u4": (itemSize, target) = (4, .int64)
        case "b1": (itemSize, target) = (1, .bool)
        default: throw fail("unsupported dtype '\(descr)'")
        }
        guard count != Int.max, bodyCount == count * itemSize else {
            throw fail("the header promises \(count) elements of \(itemSize) bytes (shape \(shape)) but the data has \(bodyCount) bytes")
        }
        // Fortran order: the data is the transpose's C order.
        let storedShape = fortran ? Array(shape.reversed()) : shape
        var a = NDArray(uninitializedShape: storedShape, dtype: target)
        let needsSwap = bigEndian && itemSize > 1
        bytes.withUnsafeBytes { all in
            let src = UnsafeRawBufferPointer(rebasing: all[bodyStart...])
            let dst = a.storage.raw
            switch (kind, target) {
            case ("f2", _):
                let p = dst.assumingMemoryBound(to: Float.self)
                for i in 0..<count {
                    var bits = UInt16(src[2 * i]) | UInt16(src[2 * i + 1]) << 8
                    if needsSwap { bits = bits.byteSwapped }
                    p[i] = Float(Float16(bitPattern: bits))
                }
            case ("i1", _), ("u1", _), ("i2", _), ("u2", _), ("u4", _):
                for i in 0..<count {
                    var v: UInt64 = 0
                    for b in 0..<itemSize { v |= UInt64(src[i * itemSize + (needsSwap ? itemSize - 1 - b : b)]) << (8 * UInt64(b)) }
                    let signed = kind.hasPrefix("i")
                    let value: Int64 = signed ? Int64(bitPattern: v << UInt64(64 - 8 * itemSize)) >> Int64(64 - 8 * itemSize) : Int64(v)
                    if target == .int32 { dst.assumingMemoryBound(to: Int32.self)[i] = Int32(value) } else { dst.assumingMemoryBound(to: Int64.self)[i] = value }
                }
            case ("b1", _):
                let p = dst.assumingMemoryBound(to: Bool.self)
                for i in 0..<count { p[i] = src[i] != 0 }
            default:
                dst.copyMemory(from: src.baseAddress!, byteCount: count * itemSize)
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
