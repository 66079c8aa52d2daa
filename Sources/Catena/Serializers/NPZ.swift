import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads an `.npz` file (a zip of `.npy` arrays, as written by `numpy.savez`, `numpy.savez_compressed` or
/// Chainer's `save_npz`) into its keys and values, in archive order. Keys are the entry names without `.npy`.
/// - Throws: ``SerializationError`` naming the file and what is wrong with it (missing, not a zip archive,
///   truncated, a bad CRC, a key stored twice, an `.npy` header that does not match its data).
public func readNPZ(_ path: String) throws -> [(key: String, value: SerializedValue)] {
    guard let data = FileManager.default.contents(atPath: path) else {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            throw SerializationError("\(path): cannot read it\(isDir.boolValue ? " (it is a directory)" : "")")
        }
        throw SerializationError("\(path): no such file")
    }
    return try decodeNPZ(Array(data), source: path)
}

/// The keys and values of an `.npz` archive held in memory (a file's bytes, or a message from another process),
/// in archive order, checked as ``readNPZ(_:)`` checks a file.
/// - Throws: ``SerializationError`` naming `source` and what is wrong with the bytes.
public func decodeNPZ(_ bytes: [UInt8], source path: String) throws -> [(key: String, value: SerializedValue)] {
    let entries = try Zip.read(bytes, source: path)
    var seen = Set<String>()
    return try entries.map { e in
        let key = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
        if !seen.insert(key).inserted { throw SerializationError("\(path): the archive holds the key '\(key)' twice") }
        return (key: key, value: try NPY.decode(e.data, source: "\(path): entry '\(e.name)'"))
    }
}

/// Writes keys and values as an `.npz` file readable by `numpy.load` (pass `allow_pickle=True` if a value is
/// None, as Chainer does). The file is written to a temporary name, flushed to disk and renamed, so an
/// interrupted write never replaces a good file with a broken one.
/// - Parameters:
///   - path: the file to write.
///   - entries: the keys and values, in the archive's order; each key is saved once, as the entry `key.npy`.
///   - compression: deflate the entries (as `numpy.savez_compressed` and Chainer's `save_npz`).
public func writeNPZ(_ path: String, _ entries: [(key: String, value: SerializedValue)], compression: Bool = true) throws {
    try writeAtomically(Data(try encodeNPZ(entries, compression: compression, source: path)), to: path)
}

/// Keys and values as the bytes of an `.npz` archive, as ``writeNPZ(_:_:compression:)`` would write them, for
/// sending to another process or storing elsewhere; ``decodeNPZ(_:source:)`` reads them back.
/// - Throws: ``SerializationError`` (naming `source`) if a key is given twice.
public func encodeNPZ(_ entries: [(key: String, value: SerializedValue)], compression: Bool = false, source: String = "archive") throws -> [UInt8] {
    var seen = Set<String>()
    for e in entries where !seen.insert(e.key).inserted {
        throw SerializationError("\(source): the key '\(e.key)' is saved twice")
    }
    return Zip.write(entries.map { Zip.Entry(name: $0.key + ".npy", data: NPY.encode($0.value)) }, compress: compression)
}

/// Saves an object's state as an `.npz` file with Chainer's key layout (Chainer's `save_npz`): a link's
/// parameters as `l1/W`, a trainer's as `updater/model:main/predictor/l1/W`, and so on.
public func saveNPZ(_ path: String, _ object: Serializable, compression: Bool = true) throws {
    try writeNPZ(path, try DictionarySerializer.serialize(object), compression: compression)
}

/// Loads an object's state from an `.npz` file (Chainer's `load_npz`).
///
/// Every value is checked against the object before any of it is kept: a missing key, an unexpected key (with
/// `strict`), a shape or dtype that differs, or a damaged file throws an error naming the file, the key and what
/// differed, and the object is left exactly as it was. Lazy parameters take their shape from the file.
/// - Parameters:
///   - file: the `.npz` file to read.
///   - object: the link, optimizer, trainer or other ``Serializable`` whose state is loaded.
///   - path: the key prefix to read from, e.g. `updater/model:main/` to load a model out of a trainer snapshot.
///   - strict: require every key the object reads, and (within `path`) no others.
public func loadNPZ(_ file: String, into object: Serializable, path: String = "", strict: Bool = true) throws {
    let entries = try readNPZ(file)
    let values = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    try DictionaryDeserializer.load(object, from: values, path: path, strict: strict, source: file)
}

/// Saves one array as an `.npy` file (NumPy's `numpy.save`), written atomically.
public func saveNPY(_ path: String, _ array: NDArray) throws {
    try writeAtomically(Data(NPY.encode(.array(array))), to: path)
}

/// Loads one array from an `.npy` file (NumPy's `numpy.load`): versions 1.0 to 3.0, either byte order, C or
/// Fortran order.
/// - Throws: ``SerializationError`` naming the file and what is wrong with it, including a file that holds a
///   string or None rather than an array.
public func loadNPY(_ path: String) throws -> NDArray {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw SerializationError(FileManager.default.fileExists(atPath: path) ? "\(path): cannot read it" : "\(path): no such file")
    }
    switch try NPY.decode(Array(data), source: path) {
    case .array(let a): return a
    case .string: throw SerializationError("\(path): holds a string, not an array")
    case .none: throw SerializationError("\(path): holds None, not an array")
    }
}
