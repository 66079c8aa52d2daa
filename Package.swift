// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Catena",
    products: [
        .library(name: "Catena", targets: ["Catena"]),
        .library(name: "CatenaModels", targets: ["CatenaModels"]),
        // The bundled examples' command-line parsing and reporting set-up, for the examples of the CatenaMN package
        // (Distributed/), which live in a package of their own.
        .library(name: "CatenaExampleSupport", targets: ["ExampleSupport"]),
        .executable(name: "catena-bench", targets: ["CatenaBench"]),
        .executable(name: "repeat-count", targets: ["RepeatCount"]),
        .executable(name: "irnn-mnist", targets: ["IRNNMNIST"]),
        .executable(name: "patch-rnn-mnist", targets: ["PatchRNNMNIST"]),
        .executable(name: "rnnlm", targets: ["RNNLM"]),
        .executable(name: "dot-product", targets: ["DotProduct"]),
    ],
    targets: [
        // CPU-specific kernels (AVX2/FMA GEMM micro-kernel, vectorised transcendental loops), chosen at run time
        // with a portable fallback. C because Swift cannot enable AVX2 per function without compiler flags.
        .target(name: "CCatenaKernels", path: "Sources/CCatenaKernels"),
        .target(name: "Catena", dependencies: ["CCatenaKernels"], path: "Sources/Catena"),
        .executableTarget(name: "CatenaBench", dependencies: ["Catena", "CatenaModels"], path: "Benchmarks/CatenaBench"),
        // What the examples share: command-line parsing with bounds, reporting and resume set-up.
        .target(name: "CatenaModels", dependencies: ["Catena"], path: "Examples/Models"),
        .target(name: "ExampleSupport", dependencies: ["Catena"], path: "Examples/Support"),
        .executableTarget(name: "RepeatCount", dependencies: ["Catena", "CatenaModels", "ExampleSupport"], path: "Examples/RepeatCount"),
        .executableTarget(name: "IRNNMNIST", dependencies: ["Catena", "ExampleSupport"], path: "Examples/IRNNMNIST"),
        .executableTarget(name: "PatchRNNMNIST", dependencies: ["Catena", "CatenaModels", "ExampleSupport"], path: "Examples/PatchRNNMNIST"),
        .executableTarget(name: "RNNLM", dependencies: ["Catena", "CatenaModels", "ExampleSupport"], path: "Examples/RNNLM"),
        .executableTarget(name: "DotProduct", dependencies: ["Catena", "ExampleSupport"], path: "Examples/DotProduct"),
        .testTarget(name: "CatenaTests", dependencies: ["Catena", "CatenaModels"], path: "Tests/CatenaTests",
                    // NumPy and Chainer files read by the serializer tests, and the script that wrote them; the inputs
                    // the fuzzer found crashes with, replayed by FuzzRegressionTests.
                    exclude: ["Fixtures", "Fuzz/Regressions"]),
    ],
    swiftLanguageModes: [.v6]
)
