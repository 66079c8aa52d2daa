// swift-tools-version:6.0
// CatenaMN: data-parallel training over MPI (ChainerMN's design). A package of its own so that the core library and
// the root package's two README commands need nothing beyond the Swift toolchain; this one needs an MPI library and
// its launcher (Debian: apt-get install libopenmpi-dev openmpi-bin).
import PackageDescription

let package = Package(
    name: "CatenaMN",
    products: [
        .library(name: "CatenaMN", targets: ["CatenaMN"]),
        .executable(name: "catenamn-tests", targets: ["CatenaMNTests"]),
        .executable(name: "catenamn-bench", targets: ["CatenaMNBench"]),
        .executable(name: "patch-rnn-mnist-mn", targets: ["PatchRNNMNISTMN"]),
    ],
    dependencies: [.package(name: "Catena", path: "..")],
    targets: [
        // MPI's C API through pkg-config's `mpi` (Debian's alternative for OpenMPI or MPICH). The header adds a few
        // inline functions for the handles OpenMPI defines as macros, which Swift cannot import.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "mpi",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "CatenaMN", dependencies: ["CMPI", .product(name: "Catena", package: "Catena")], path: "Sources/CatenaMN"),
        // The MPI test driver: run it under mpirun (`mpirun -np 2 .build/debug/catenamn-tests`); it prints
        // `N passed, N failed` on rank 0 and exits non-zero if anything failed.
        .executableTarget(name: "CatenaMNTests", dependencies: ["CatenaMN", "CMPI", .product(name: "Catena", package: "Catena")],
                          path: "Tests/CatenaMNTests"),
        .executableTarget(name: "CatenaMNBench", dependencies: ["CatenaMN", "CMPI", .product(name: "Catena", package: "Catena")],
                          path: "Benchmarks/CatenaMNBench"),
        .executableTarget(name: "PatchRNNMNISTMN", dependencies: ["CatenaMN", .product(name: "Catena", package: "Catena"),
                                                                  .product(name: "CatenaModels", package: "Catena"),
                                                                  .product(name: "CatenaExampleSupport", package: "Catena")],
                          path: "Examples/PatchRNNMNISTMN"),
    ],
    swiftLanguageModes: [.v6]
)
