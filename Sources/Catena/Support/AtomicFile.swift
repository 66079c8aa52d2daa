// Atomic file writes (a crash never leaves a partial file) and the clean-up of their leftovers.
// Support layer: used by Serializers, Datasets and Training; uses nothing above Array.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
