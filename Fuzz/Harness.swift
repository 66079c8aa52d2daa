// The libFuzzer entry points. Fuzz/build.sh compiles this file with Catena's sources and
// Tests/CatenaTests/Fuzz/FuzzTargets.swift into one module (so the targets reach the readers' internals) under
// -sanitize=fuzzer,address. The mode comes from CATENA_FUZZ_MODE (npz, npy, idx, snapshot).
import Foundation

nonisolated(unsafe) private var mode = FuzzTargets.Mode.npz

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let env = ProcessInfo.processInfo.environment
    guard let m = env["CATENA_FUZZ_MODE"].flatMap(FuzzTargets.Mode.init(rawValue:)) else {
        FileHandle.standardError.write("set CATENA_FUZZ_MODE to one of \(FuzzTargets.Mode.allCases.map(\.rawValue))\n".data(using: .utf8)!)
        exit(2)
    }
    mode = m
    // Seed material for the npz corpus: Catena's own trainer snapshots, written once and exit.
    if let dir = env["CATENA_FUZZ_EMIT_SNAPSHOTS"] {
        for (kind, entries) in FuzzTargets.baseSnapshots.enumerated() {
            try! writeNPZ(dir + "/catena_snapshot_\(kind).npz", entries, compression: kind == 0)
        }
        exit(0)
    }
    if mode == .snapshot { _ = FuzzTargets.baseSnapshots }   // built before the first input, not timed per input
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTargets.run(mode, bytes)
    return 0
}
