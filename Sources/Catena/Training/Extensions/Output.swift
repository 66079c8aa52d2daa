import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where text-printing extensions write: standard output by default.
public struct TextSink: @unchecked Sendable {
    /// Writes a piece of text.
    public let write: (String) -> Void
    /// Whether the destination is a terminal (progress bars redraw in place only then).
    public let isTerminal: Bool

    public init(isTerminal: Bool, _ write: @escaping (String) -> Void) {
        self.write = write
        self.isTerminal = isTerminal
    }

    /// Standard output, through the C library's buffer that Swift's `print` also uses, flushed after every write:
    /// the trainer's lines and the program's own `print`s stay in the order they were made even when standard
    /// output is a file or a pipe (where `print` is fully buffered).
    public static var standardOutput: TextSink {
        TextSink(isTerminal: isatty(1) != 0) { text in
            print(text, terminator: "")
            fflush(nil)   // every C stream, standard output included
        }
    }

    /// Standard error, flushed after every write (after flushing standard output, so that what was printed
    /// before comes first when both go to one place).
    public static var standardError: TextSink {
        TextSink(isTerminal: isatty(2) != 0) { text in
            fflush(nil)
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Where progress goes: standard output when it is a terminal; otherwise standard error, so that a table
    /// printed to a file or a pipe is not interleaved with progress lines (and a terminal on standard error still
    /// shows a live bar while standard output goes to a file).
    public static var progress: TextSink { isatty(1) != 0 ? .standardOutput : .standardError }
}

/// Writes `data` to `path` so that a crash never leaves a partial file: a temporary file in the same directory is
/// written, flushed to disk and renamed over the destination.
func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let tmp = dir + "/.tmp-" + url.lastPathComponent + "-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    guard FileManager.default.createFile(atPath: tmp, contents: nil) else {
        throw SerializationError("cannot create \(tmp): check that \(dir) exists and is writable")
    }
    do {
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp))
        try h.write(contentsOf: data)
        try h.synchronize()
        try h.close()
        if rename(tmp, path) != 0 {
            throw SerializationError("cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))")
        }
        // Make the rename itself durable.
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    } catch {
        unlink(tmp)
        if let e = error as? SerializationError { throw e }
        throw SerializationError("cannot write \(path): \(error.localizedDescription)")
    }
}

/// Removes the temporary files that ``writeAtomically(_:to:)`` leaves behind when its process is killed mid-write
/// (`.tmp-<name>-<pid>-<random>` in `dir`), for processes that no longer run. Files of a live process (another
/// trainer writing into the same directory) and every other file are left alone.
func removeStaleTemporaryFiles(in dir: String) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
    for name in names where name.hasPrefix(".tmp-") {
        let parts = name.split(separator: "-")
        guard parts.count >= 4, let pid = Int32(parts[parts.count - 2]), UInt32(parts[parts.count - 1]) != nil, pid > 0 else { continue }
        if kill(pid, 0) == 0 || errno == EPERM { continue }   // that process is alive
        unlink(dir + "/" + name)
    }
}

/// Writes a warning line to standard error (after flushing standard output, so the two stay in order).
func printWarning(_ message: String) {
    fflush(nil)
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A number as JSON (Python's `json.dumps` spelling for NaN and infinities, shortest round-trip digits).
func jsonNumber(_ v: Double) -> String {
    if v.isNaN { return "NaN" }
    if v.isInfinite { return v < 0 ? "-Infinity" : "Infinity" }
    return "\(v)"
}

/// A log row: keys in order, each an integer (epoch, iteration) or a float.
public struct LogEntry: Equatable, Sendable {
    public var items: [(key: String, value: Double, isInteger: Bool)]

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

func jsonEscape(_ s: String) -> String {
    var out = ""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
        }
    }
    return out
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
