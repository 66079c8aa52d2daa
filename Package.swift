// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Catena",
    products: [
        .library(name: "Catena", targets: ["Catena"]),
        .executable(name: "catena-bench", targets: ["CatenaBench"]),
        .executable(name: "repeat-count", targets: ["RepeatCount"]),
    ],
    targets: [
        // CPU-specific kernels (AVX2/FMA GEMM micro-kernel, vectorised transcendental loops), chosen at run time
        // with a portable fallback. C because Swift cannot enable AVX2 per function without compiler flags.
        .target(name: "CCatenaKernels", path: "Sources/CCatenaKernels"),
        .target(name: "Catena", dependencies: ["CCatenaKernels"], path: "Sources/Catena"),
        .executableTarget(name: "CatenaBench", dependencies: ["Catena"], path: "Benchmarks/CatenaBench"),
        .executableTarget(name: "RepeatCount", dependencies: ["Catena"], path: "Examples/RepeatCount"),
        .testTarget(name: "CatenaTests", dependencies: ["Catena"], path: "Tests/CatenaTests",
                    // NumPy and Chainer files read by the serializer tests, and the script that wrote them.
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
