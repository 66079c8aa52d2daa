import Foundation

/// A value stored under one key of a serialized object: an array, a string, or nothing (Chainer's `None`).
public enum SerializedValue: Equatable, Sendable {
    /// An array of any dtype and shape (a 0-d one for a number or a flag).
    case array(NDArray)
    /// A string (NumPy's `<U` 0-d array in an `.npz` file).
    case string(String)
    /// Nothing: an absent optional value (Chainer's `None`, a pickled 0-d object array in an `.npz` file).
    case none

    public static func == (a: SerializedValue, b: SerializedValue) -> Bool {
        switch (a, b) {
        case (.array(let x), .array(let y)): return x.dtype == y.dtype && x.shape == y.shape && x.toDoubles().elementsEqual(y.toDoubles()) { $0 == $1 || ($0.isNaN && $1.isNaN) }
        case (.string(let x), .string(let y)): return x == y
        case (.none, .none): return true
        default: return false
        }
    }
}

/// A problem with saved state: a missing or unexpected key, a shape or dtype that differs, a damaged file.
public struct SerializationError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the key or file where known.
    public let message: String
    /// An error with the given message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Writes or reads an object's state, one key at a time (Chainer's `Serializer` / `Deserializer`).
///
/// Every stateful object implements one method, ``Serializable/serialize(_:)``, used for both directions: it passes
/// each piece of its state by `inout`; when saving the value is recorded, when loading it is replaced by the stored
/// one (after checking its shape and type). Child objects are serialized under `s["child"]`, giving Chainer's key
/// paths (`updater/model:main/predictor/l1/W`).
///
/// ```swift
/// func serialize(_ s: Serializer) throws {
///     try s("t", &t)
///     try s("state", &stateArray)
///     try child.serialize(s["child"])
/// }
/// ```
public protocol Serializer: AnyObject {
    /// True when values are being read into the object.
    var isLoading: Bool { get }
    /// The serializer for a child object: keys below `key/`.
    subscript(key: String) -> Serializer { get }
    /// Records (saving) or replaces (loading) one value. `expect` says what the object holds, so that a stored value
    /// of another kind is reported instead of used.
    func serializeValue(_ key: String, _ value: inout SerializedValue, expect: ValueExpectation) throws
    /// When loading, whether a value is stored under `key` (for state that may legitimately be absent); always
    /// true when saving.
    func contains(_ key: String) -> Bool
    /// When loading, the names of the children stored directly below this serializer's path (`["LogReport",
    /// "ProgressBar"]` below `extensions`), so that an object can tell which saved parts it has no counterpart for;
    /// empty when saving.
    func storedChildren() -> [String]
    /// When loading, marks every value stored under `key` as used, so that a strict load does not refuse them as
    /// unexpected (saved state the object knowingly leaves out). Does nothing when saving.
    func skip(_ key: String)
}

extension Serializer {
    public func storedChildren() -> [String] { [] }
    public func skip(_ key: String) {}
}

/// The largest value a saved counter (an iteration, a step count, an epoch) may have: 2^53, far beyond any real
/// run, and small enough that the arithmetic done with counters (times a batch size, as a `Double`) is exact and
/// cannot overflow.
public let maximumSavedCounter = 1 << 53

/// What an object expects to find under a key when loading.
public enum ValueExpectation: Sendable {
    /// An array of exactly this shape and dtype.
    case array(shape: [Int], dtype: DType)
    /// An array of this dtype and any shape (a lazy parameter, a variable-length order).
    case anyShape(dtype: DType?)
    /// A 0-d integer, float or bool array, or a string.
    case integer, float, bool, string
    /// An array or nothing.
    case optionalArray(dtype: DType?)
    /// A float or nothing.
    case optionalFloat
}

/// Anything whose state can be saved and restored through a ``Serializer``.
public protocol Serializable {
    /// Saves the state into `s`, or replaces it with what `s` holds when ``Serializer/isLoading``; throws (a
    /// ``SerializationError``) when a stored value is missing or does not fit.
    func serialize(_ s: Serializer) throws
}

extension Serializer {
    /// An array whose shape and dtype must match when loading.
    public func callAsFunction(_ key: String, _ value: inout NDArray) throws {
        var v = SerializedValue.array(value)
        try serializeValue(key, &v, expect: .array(shape: value.shape, dtype: value.dtype))
        if isLoading, case .array(let a) = v { value = a }
    }

    /// An array that may be absent (saved as None), with any shape.
    public func callAsFunction(_ key: String, _ value: inout NDArray?, dtype: DType? = nil) throws {
        var v = value.map(SerializedValue.array) ?? .none
        try serializeValue(key, &v, expect: .optionalArray(dtype: dtype ?? value?.dtype))
        if isLoading {
            switch v {
            case .array(let a): value = a
            default: value = nil
            }
        }
    }

    /// An array that may be absent (saved as None) but, when present, must have `shape`: a load of an array of
    /// another shape throws the serializer's own error, which names the full key, the file and both shapes.
    public func callAsFunction(_ key: String, _ value: inout NDArray?, shape: [Int], dtype: DType) throws {
        try self(key, &value, dtype: dtype)
        if isLoading, let a = value, a.shape != shape {
            // Asked again for exactly this shape, so that the error is the serializer's, with the key in full.
            var expected = SerializedValue.array(a)
            try serializeValue(key, &expected, expect: .array(shape: shape, dtype: dtype))
            throw SerializationError("key '\(key)': shape \(a.shape) (\(a.dtype)) in the file, \(shape) (\(dtype)) expected")
        }
    }

    /// An integer, stored as a 0-d int64 array.
    public func callAsFunction(_ key: String, _ value: inout Int) throws {
        var v = SerializedValue.array(NDArray(values: [Int64(value)], shape: []))
        try serializeValue(key, &v, expect: .integer)
        if isLoading, case .array(let a) = v { value = Int(a.astype(.int64).toArray(as: Int64.self)[0]) }
    }

    /// An integer that must lie in `range` when loaded (a counter, a position): a value outside it throws, naming
    /// the key, instead of overflowing or indexing out of range later.
    public func callAsFunction(_ key: String, _ value: inout Int, in range: ClosedRange<Int>) throws {
        var v = value
        try self(key, &v)
        if isLoading {
            if !range.contains(v) {
                throw SerializationError("key '\(key)': \(v) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            value = v
        }
    }

    /// A saved counter: ``callAsFunction(_:_:in:)`` over `0...maximumSavedCounter`.
    public func counter(_ key: String, _ value: inout Int) throws { try self(key, &value, in: 0...maximumSavedCounter) }

    /// A float, stored as a 0-d float64 array.
    public func callAsFunction(_ key: String, _ value: inout Double) throws {
        var v = SerializedValue.array(NDArray(values: [value], shape: []))
        try serializeValue(key, &v, expect: .float)
        if isLoading, case .array(let a) = v { value = a.item() }
    }

    /// A float that may be absent (saved as None).
    public func callAsFunction(_ key: String, _ value: inout Double?) throws {
        var v = value.map { SerializedValue.array(NDArray(values: [$0], shape: [])) } ?? .none
        try serializeValue(key, &v, expect: .optionalFloat)
        if isLoading {
            if case .array(let a) = v { value = a.item() } else { value = nil }
        }
    }

    /// A flag, stored as a 0-d bool array.
    public func callAsFunction(_ key: String, _ value: inout Bool) throws {
        var v = SerializedValue.array(NDArray(values: [value], shape: []))
        try serializeValue(key, &v, expect: .bool)
        if isLoading, case .array(let a) = v { value = a.item() != 0 }
    }

    /// A string, stored as a 0-d unicode array (NumPy's `<U`).
    public func callAsFunction(_ key: String, _ value: inout String) throws {
        var v = SerializedValue.string(value)
        try serializeValue(key, &v, expect: .string)
        if isLoading, case .string(let s) = v { value = s }
    }

    /// A list of integers, stored as a 1-d int64 array.
    public func callAsFunction(_ key: String, _ value: inout [Int]) throws {
        var a = NDArray(values: value.map { Int64($0) }, shape: [value.count])
        var v = SerializedValue.array(a)
        try serializeValue(key, &v, expect: .anyShape(dtype: nil))
        if isLoading, case .array(let loaded) = v {
            if !loaded.dtype.isInteger || loaded.ndim != 1 {
                throw SerializationError("\(key): expected a 1-d integer array, found \(loaded.dtype) of shape \(loaded.shape)")
            }
            a = loaded.astype(.int64)
            value = a.toArray(as: Int64.self).map { Int($0) }
        }
    }
}

// MARK: - In-memory serializers

/// Saves an object's state into an ordered list of keys and values (Chainer's `DictionarySerializer`). Keys never
/// start with `/`.
public final class DictionarySerializer: Serializer {
    /// The saved values in the order they were serialized.
    public private(set) var entries: [(key: String, value: SerializedValue)] = []
    private let path: String
    private weak var root: DictionarySerializer?

    /// A serializer at the root of an empty list of entries.
    public init() {
        path = ""
        root = nil
    }

    private init(path: String, root: DictionarySerializer) {
        self.path = path
        self.root = root
    }

    public var isLoading: Bool { false }

    public subscript(key: String) -> Serializer {
        DictionarySerializer(path: path + DictionarySerializer.clean(key) + "/", root: root ?? self)
    }

    public func serializeValue(_ key: String, _ value: inout SerializedValue, expect: ValueExpectation) throws {
        (root ?? self).entries.append((key: path + DictionarySerializer.clean(key), value: value))
    }

    public func contains(_ key: String) -> Bool { true }

    static func clean(_ key: String) -> String {
        var k = Substring(key)
        while k.hasPrefix("/") { k = k.dropFirst() }
        while k.hasSuffix("/") { k = k.dropLast() }
        return String(k)
    }

    /// The state of `object` as key–value pairs.
    public static func serialize(_ object: Serializable) throws -> [(key: String, value: SerializedValue)] {
        let s = DictionarySerializer()
        try object.serialize(s)
        return s.entries
    }
}

/// Loads an object's state from key–value pairs (Chainer's `NpzDeserializer`), checking every value against what the
/// object holds.
///
/// Use ``load(_:from:path:strict:source:)``: it restores the object's previous state if anything fails, so an
/// object is never left half loaded.
public final class DictionaryDeserializer: Serializer {
    private let values: [String: SerializedValue]
    private let path: String
    private let strict: Bool
    private let source: String
    /// Keys read so far (shared by the whole tree), for reporting unexpected keys under `strict`.
    final class Reads { var keys = Set<String>() }
    private let reads: Reads
    /// Putting back a backup taken from the same object: every stored value is taken as it is, unchecked (a lazy
    /// parameter the failed load initialised goes back to None, an array back to its old shape).
    private let restoring: Bool
    /// The length of the `path:` the load was given, at the start of every key.
    private let rootPrefixLength: Int

    init(values: [String: SerializedValue], path: String, strict: Bool, source: String, reads: Reads, restoring: Bool = false,
         rootPrefixLength: Int? = nil) {
        self.values = values
        self.path = path
        self.strict = strict
        self.source = source
        self.reads = reads
        self.restoring = restoring
        self.rootPrefixLength = rootPrefixLength ?? path.count
    }

    public var isLoading: Bool { true }

    public subscript(key: String) -> Serializer {
        DictionaryDeserializer(values: values, path: path + DictionarySerializer.clean(key) + "/", strict: strict, source: source, reads: reads,
                               restoring: restoring, rootPrefixLength: rootPrefixLength)
    }

    public func contains(_ key: String) -> Bool { values[path + DictionarySerializer.clean(key)] != nil }

    public func storedChildren() -> [String] {
        var seen = Set<String>(), out: [String] = []
        for k in values.keys.sorted() where k.hasPrefix(path) {
            let rest = k.dropFirst(path.count)
            guard let name = rest.split(separator: "/", maxSplits: 1).first.map(String.init), rest.contains("/") else { continue }
            if seen.insert(name).inserted { out.append(name) }
        }
        return out
    }

    public func skip(_ key: String) {
        let prefix = path + DictionarySerializer.clean(key)
        for k in values.keys where k == prefix || k.hasPrefix(prefix + "/") { reads.keys.insert(k) }
    }

    /// For a key that is not in the file: the `path:` under which the file has it, when it does (a model saved
    /// inside a trainer snapshot, or the other way round).
    private func pathHint(forMissing full: String) -> String {
        let relative = String(full.dropFirst(rootPrefixLength))
        guard let found = values.keys.filter({ $0 == relative || $0.hasSuffix("/" + relative) }).min(by: { $0.count < $1.count }) else { return "" }
        let prefix = String(found.dropLast(relative.count))
        return "; the file has it as '\(found)': pass path: \"\(prefix)\""
    }

    public func serializeValue(_ key: String, _ value: inout SerializedValue, expect: ValueExpectation) throws {
        let full = path + DictionarySerializer.clean(key)
        guard let stored = values[full] else {
            if !strict { return }
            throw SerializationError("\(source): missing key '\(full)'\(pathHint(forMissing: full))")
        }
        reads.keys.insert(full)
        if restoring {
            value = stored
            return
        }
        func fail(_ what: String) -> SerializationError { SerializationError("\(source): key '\(full)': \(what)") }
        func scalar(_ kinds: (DType) -> Bool, _ name: String) throws {
            guard case .array(let a) = stored, a.count == 1, a.ndim <= 1, kinds(a.dtype) else { throw fail("expected \(name), found \(Self.describe(stored))") }
            value = .array(a)
        }
        switch expect {
        case .array(let shape, let dtype):
            guard case .array(let a) = stored else { throw fail("expected an array of shape \(shape) (\(dtype)), found \(Self.describe(stored))") }
            if a.shape != shape || a.dtype != dtype {
                throw fail("shape \(a.shape) (\(a.dtype)) in the file, \(shape) (\(dtype)) in the object")
            }
            value = .array(a)
        case .anyShape(let dtype):
            guard case .array(let a) = stored else { throw fail("expected an array, found \(Self.describe(stored))") }
            if let dtype, a.dtype != dtype { throw fail("dtype \(a.dtype) in the file, \(dtype) in the object") }
            value = .array(a)
        case .optionalArray(let dtype):
            switch stored {
            case .none: value = .none
            case .array(let a):
                if let dtype, a.dtype != dtype { throw fail("dtype \(a.dtype) in the file, \(dtype) in the object") }
                value = .array(a)
            case .string: throw fail("expected an array or None, found a string")
            }
        case .integer: try scalar({ $0.isInteger }, "an integer")
        case .float: try scalar({ $0.isFloatingPoint || $0.isInteger }, "a number")
        case .bool: try scalar({ $0 == .bool || $0.isInteger }, "a bool")
        case .optionalFloat:
            if case .none = stored { value = .none } else { try scalar({ $0.isFloatingPoint || $0.isInteger }, "a number or None") }
        case .string:
            guard case .string(let s) = stored else { throw fail("expected a string, found \(Self.describe(stored))") }
            value = .string(s)
        }
    }

    static func describe(_ v: SerializedValue) -> String {
        switch v {
        case .array(let a): return "an array of shape \(a.shape) (\(a.dtype))"
        case .string: return "a string"
        case .none: return "None"
        }
    }

    /// Loads `object`'s state from `values` (keys below `path`). With `strict`, every key the object reads must be
    /// present and every stored key below `path` must be read. On any error the object's previous state is put back
    /// before the error is thrown.
    /// - Parameters:
    ///   - object: the object whose state is loaded.
    ///   - values: the stored values by full key, as ``DictionarySerializer/serialize(_:)`` produces them.
    ///   - path: the key prefix to read from; empty reads keys from the top.
    ///   - strict: require every key the object reads, and no stored key below `path` left unread.
    ///   - source: names the origin (a file path) in error messages.
    public static func load(_ object: Serializable, from values: [String: SerializedValue], path: String = "",
                            strict: Bool = true, source: String = "state") throws {
        let backup = try DictionarySerializer.serialize(object)
        let reads = Reads()
        let prefix = path.isEmpty ? "" : DictionarySerializer.clean(path) + "/"
        do {
            try object.serialize(DictionaryDeserializer(values: values, path: prefix, strict: strict, source: source, reads: reads))
            if strict {
                let unexpected = values.keys.filter { $0.hasPrefix(prefix) && !reads.keys.contains($0) }.sorted()
                if let first = unexpected.first {
                    throw SerializationError("\(source): unexpected key '\(first)'\(unexpected.count > 1 ? " (and \(unexpected.count - 1) more)" : "") not used by \(type(of: object))")
                }
            }
        } catch {
            // Put the previous state back. It was produced by the same serialize method, so it fits; a failure here
            // is a bug in that method, reported with the original error rather than hidden.
            let restore = Dictionary(backup.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            do {
                try object.serialize(DictionaryDeserializer(values: restore, path: "", strict: false, source: "backup", reads: Reads(), restoring: true))
            } catch let restoreError {
                throw SerializationError("\(error); and restoring \(type(of: object))'s previous state failed too (\(restoreError)), so it may be partly loaded")
            }
            throw error
        }
    }
}
