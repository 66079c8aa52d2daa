// Command-line parsing shared by the bundled examples: typed options with bounds, generated usage text, and the
// exit statuses the examples promise (0 after --help, 2 for a bad flag, 1 for any other error).
import Catena
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bad command line (or `--help` when `message` is nil).
public struct UsageError: Error, CustomStringConvertible {
    public let message: String?
    public init(_ message: String?) { self.message = message }
    public var description: String { message ?? "help requested" }
}

/// The value of one option, filled in by ``ArgumentParser/parse(_:)``.
public final class Option<Value> {
    public internal(set) var value: Value
    /// Whether the option was given on the command line.
    public internal(set) var isSet = false
    init(_ value: Value) { self.value = value }
}

/// A small declarative parser for `--name value` options, flags and positional arguments.
///
/// Every numeric option has a range, so that a value too large for the machine (`--units 100000`, `--batchsize
/// 4611686018427387904`) is a usage error with exit status 2, never a crash or a runaway allocation; `require`
/// adds checks over several options (such as the memory a product of sizes needs).
public final class ArgumentParser {
    struct Spec {
        let name: String
        let metavar: String?
        let help: String
        let apply: (String?) throws -> Void
    }

    public let program: String
    public let summary: String
    /// Free text printed after the options (what the seed and the paper used, examples of commands).
    public var notes: String = ""
    private var specs: [Spec] = []
    private var positionalName: String?
    private var positionalHelp = ""
    private var positionalBox: Option<[String]>?
    private var checks: [() throws -> Void] = []

    public init(program: String, summary: String) {
        self.program = program
        self.summary = summary
    }

    private func add(_ name: String, metavar: String?, help: String, _ apply: @escaping (String?) throws -> Void) {
        if specs.contains(where: { $0.name == name }) { fatalError("ArgumentParser: \(name) declared twice") }
        specs.append(Spec(name: name, metavar: metavar, help: help, apply: apply))
    }

    /// An integer option within `range`.
    public func int(_ name: String, default value: Int, in range: ClosedRange<Int>, metavar: String = "N", help: String) -> Option<Int> {
        let box = Option(value)
        add(name, metavar: metavar, help: help + " (default \(value))") { text in
            guard let text, let v = Int(text) else { throw UsageError("\(name) needs an integer, got '\(text ?? "")'") }
            guard range.contains(v) else { throw UsageError("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(v)") }
            box.value = v
        }
        return box
    }

    /// An unsigned 64-bit option (a seed).
    public func uint64(_ name: String, default value: UInt64, metavar: String = "N", help: String) -> Option<UInt64> {
        let box = Option(value)
        add(name, metavar: metavar, help: help + " (default \(value))") { text in
            guard let text, let v = UInt64(text) else { throw UsageError("\(name) needs a non-negative integer, got '\(text ?? "")'") }
            box.value = v
        }
        return box
    }

    /// A finite floating-point option within `range`; `defaultText` describes a default that depends on other
    /// options.
    public func double(_ name: String, default value: Double, in range: ClosedRange<Double>, metavar: String = "X", help: String,
                       defaultText: String? = nil) -> Option<Double> {
        let box = Option(value)
        add(name, metavar: metavar, help: help + " (default \(defaultText ?? Self.show(value)))") { text in
            guard let text, let v = Double(text), v.isFinite else { throw UsageError("\(name) needs a number, got '\(text ?? "")'") }
            guard range.contains(v) else { throw UsageError("\(name) must be between \(Self.show(range.lowerBound)) and \(Self.show(range.upperBound)), got \(text)") }
            box.value = v
        }
        return box
    }

    /// A string option.
    public func string(_ name: String, default value: String, metavar: String = "TEXT", help: String) -> Option<String> {
        let box = Option(value)
        add(name, metavar: metavar, help: help + " (default \(value))") { text in
            guard let text, !text.isEmpty else { throw UsageError("\(name) needs a value") }
            box.value = text
        }
        return box
    }

    /// A string option without a default.
    public func optionalString(_ name: String, metavar: String = "TEXT", help: String) -> Option<String?> {
        let box = Option<String?>(nil)
        add(name, metavar: metavar, help: help) { text in
            guard let text, !text.isEmpty else { throw UsageError("\(name) needs a value") }
            box.value = text
        }
        return box
    }

    /// One of a fixed set of words.
    public func choice(_ name: String, default value: String, from choices: [String], help: String) -> Option<String> {
        let box = Option(value)
        add(name, metavar: choices.joined(separator: "|"), help: help + " (default \(value))") { text in
            guard let text, choices.contains(text) else {
                throw UsageError("\(name) must be \(choices.dropLast().joined(separator: ", ")) or \(choices.last!), got '\(text ?? "")'")
            }
            box.value = text
        }
        return box
    }

    /// A flag without a value.
    public func flag(_ name: String, help: String) -> Option<Bool> {
        let box = Option(false)
        add(name, metavar: nil, help: help) { _ in box.value = true }
        return box
    }

    /// The positional arguments (at least `minimum`).
    public func positional(_ name: String, minimum: Int, help: String) -> Option<[String]> {
        let box = Option<[String]>([])
        positionalName = name
        positionalHelp = help
        positionalBox = box
        checks.append { [unowned self] in
            if box.value.count < minimum { throw UsageError("give \(minimum == 1 ? "a" : "\(minimum)") \(name)\(minimum == 1 ? "" : "s") (\(self.positionalHelp))") }
        }
        return box
    }

    /// A check run after parsing; throw ``UsageError`` to reject the combination.
    public func require(_ check: @escaping () throws -> Void) { checks.append(check) }

    /// Parses `arguments` (without the program name).
    /// - Throws: ``UsageError`` for an unknown option, a missing or bad value, a failed check, or `--help`.
    public func parse(_ arguments: [String]) throws {
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--help" || a == "-h" { throw UsageError(nil) }
            if a.hasPrefix("-") && a.count > 1 && Double(a) == nil {
                let parts = a.split(separator: "=", maxSplits: 1).map(String.init)
                guard let spec = specs.first(where: { $0.name == parts[0] }) else { throw UsageError("unknown option '\(a)'") }
                if spec.metavar == nil {
                    if parts.count > 1 { throw UsageError("\(spec.name) takes no value") }
                    try spec.apply(nil)
                } else if parts.count > 1 {
                    try spec.apply(parts[1])
                } else {
                    i += 1
                    guard i < arguments.count else { throw UsageError("\(spec.name) needs a value") }
                    try spec.apply(arguments[i])
                }
            } else {
                guard let box = positionalBox else { throw UsageError("unexpected argument '\(a)'") }
                box.value.append(a)
            }
            i += 1
        }
        for c in checks { try c() }
    }

    /// The usage text.
    public var usage: String {
        var out = "usage: \(program) [options]\(positionalName.map { " \($0)..." } ?? "")\n\n\(summary)\n"
        if let positionalName { out += "\n  \(positionalName)\n      \(positionalHelp)\n" }
        out += "\noptions:\n"
        for s in specs {
            out += "  \(s.name)\(s.metavar.map { " \($0)" } ?? "")\n      \(s.help)\n"
        }
        out += "  --help\n      show this help\n"
        if !notes.isEmpty { out += "\n" + notes + "\n" }
        return out
    }

    static func show(_ v: Double) -> String {
        v == v.rounded() && Swift.abs(v) < 1e15 ? String(Int(v)) : "\(v)"
    }
}

/// Standard error, after everything printed to standard output so far.
public func printError(_ text: String) {
    fflush(nil)
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Runs an example: parses the command line, then `body`. `--help` prints the usage and exits 0; a bad command line
/// prints the problem and the usage to standard error and exits 2; any other error prints one line and exits 1.
public func runExample(_ parser: ArgumentParser, _ body: () throws -> Void) -> Never {
    do {
        try parser.parse(Array(CommandLine.arguments.dropFirst()))
    } catch let e as UsageError {
        guard let m = e.message else {
            print(parser.usage, terminator: "")
            exit(0)
        }
        printError("\(parser.program): \(m)\n\n\(parser.usage)")
        exit(2)
    } catch {
        printError("\(parser.program): \(error)")
        exit(2)
    }
    do {
        try body()
        fflush(nil)
        exit(0)
    } catch let e as UsageError {
        printError("\(parser.program): \(e.message ?? "")\n\n\(parser.usage)")
        exit(2)
    } catch {
        printError("\(parser.program): \(error)")
        exit(1)
    }
}

/// The machine's memory in bytes.
public var physicalMemory: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

/// Throws a usage error naming `what` unless `bytes` (an estimate of what the options make the program allocate,
/// computed with overflow checks by the caller through ``checkedProduct(_:)``) fits in half of this machine's memory.
public func requireMemory(_ bytes: Int?, _ what: String) throws {
    let budget = physicalMemory / 2
    guard let bytes, bytes <= budget else {
        throw UsageError("\(what) would need \(bytes.map { String(format: "about %.1f GB", Double($0) / 1e9) } ?? "more memory than can be counted"), more than half of this machine's \(String(format: "%.1f GB", Double(physicalMemory) / 1e9))")
    }
}

/// The product of `factors`, or nil when it overflows.
public func checkedProduct(_ factors: [Int]) -> Int? {
    var p = 1
    for f in factors {
        let (m, o) = p.multipliedReportingOverflow(by: f)
        if o { return nil }
        p = m
    }
    return p
}
