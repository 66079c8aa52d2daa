import Foundation

/// A log row: keys in order, each an integer (epoch, iteration) or a float.
public struct LogEntry: Equatable, Sendable {
    /// The row's values in order, each with its key and whether it is printed as an integer (`epoch`, `iteration`).
    public var items: [(key: String, value: Double, isInteger: Bool)]

    /// A row of the given items (empty by default).
    public init(_ items: [(key: String, value: Double, isInteger: Bool)] = []) { self.items = items }

    /// The value under `key`.
    public subscript(key: String) -> Double? { items.first { $0.key == key }?.value }

    public static func == (a: LogEntry, b: LogEntry) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy {
            $0.key == $1.key && $0.isInteger == $1.isInteger && ($0.value == $1.value || ($0.value.isNaN && $1.value.isNaN))
        }
    }

    func json(indent: String?) -> String {
        let parts = items.map { item -> String in
            let v = item.isInteger ? String(Int(item.value)) : jsonNumber(item.value)
            return "\"\(jsonEscape(item.key))\": \(v)"
        }
        guard let indent else { return "{" + parts.joined(separator: ", ") + "}" }
        return "{\n" + parts.map { indent + indent + $0 }.joined(separator: ",\n") + "\n" + indent + "}"
    }

    /// The log as Chainer's LogReport writes it (`json.dump(log, indent=4)`, no trailing newline).
    static func render(_ log: [LogEntry], pretty: Bool) -> String {
        if log.isEmpty { return "[]" }
        if !pretty { return "[" + log.map { $0.json(indent: nil) }.joined(separator: ", ") + "]" }
        return "[\n" + log.map { "    " + $0.json(indent: "    ") }.joined(separator: ",\n") + "\n]"
    }

    /// Reads a log written by ``render(_:pretty:)`` (or by Chainer), keeping the key order.
    static func parse(_ text: String) throws -> [LogEntry] {
        var p = JSONScanner(Array(text.utf8))
        return try p.parseLog()
    }
}

/// A minimal JSON reader for logs: a list of flat objects with numeric values, keeping key order.
struct JSONScanner {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skip() { while i < bytes.count, [32, 9, 10, 13].contains(bytes[i]) { i += 1 } }

    mutating func expect(_ c: UInt8) throws {
        skip()
        guard i < bytes.count, bytes[i] == c else { throw SerializationError("log: malformed JSON near byte \(i)") }
        i += 1
    }

    mutating func peek() -> UInt8? {
        skip()
        return i < bytes.count ? bytes[i] : nil
    }

    mutating func parseLog() throws -> [LogEntry] {
        try expect(UInt8(ascii: "["))
        var out: [LogEntry] = []
        if peek() == UInt8(ascii: "]") { i += 1; return out }
        while true {
            out.append(try parseObject())
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "]"))
            return out
        }
    }

    mutating func parseObject() throws -> LogEntry {
        try expect(UInt8(ascii: "{"))
        var e = LogEntry()
        if peek() == UInt8(ascii: "}") { i += 1; return e }
        while true {
            let key = try parseString()
            try expect(UInt8(ascii: ":"))
            let (v, isInt) = try parseNumber()
            e.items.append((key: key, value: v, isInteger: isInt))
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            return e
        }
    }

    mutating func parseString() throws -> String {
        try expect(UInt8(ascii: "\""))
        var s = [UInt8]()
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count {
                i += 1
                switch bytes[i] {
                case UInt8(ascii: "n"): s.append(10)
                case UInt8(ascii: "t"): s.append(9)
                case UInt8(ascii: "u"):
                    guard i + 4 < bytes.count, let code = UInt32(String(decoding: bytes[(i + 1)...(i + 4)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw SerializationError("log: bad escape near byte \(i)") }
                    s.append(contentsOf: Array(String(Character(scalar)).utf8))
                    i += 4
                default: s.append(bytes[i])
                }
            } else {
                s.append(bytes[i])
            }
            i += 1
        }
        try expect(UInt8(ascii: "\""))
        return String(decoding: s, as: UTF8.self)
    }

    mutating func parseNumber() throws -> (Double, Bool) {
        skip()
        let start = i
        while i < bytes.count, !(bytes[i] == UInt8(ascii: ",") || bytes[i] == UInt8(ascii: "}") || [32, 9, 10, 13].contains(bytes[i])) { i += 1 }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        switch text {
        case "NaN": return (.nan, false)
        case "Infinity": return (.infinity, false)
        case "-Infinity": return (-.infinity, false)
        default:
            guard let v = Double(text) else { throw SerializationError("log: '\(text)' is not a number") }
            return (v, !text.contains(".") && !text.contains("e") && !text.contains("E"))
        }
    }
}
