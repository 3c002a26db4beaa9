// swift-tools-version:6.1
import PackageDescription

// Why `-march=native`: Swift's SIMD types lower to real vector instructions (AVX-512 / AVX2 FMA on
// x86-64, NEON on arm64) only when the compiler knows the target CPU; without it every
// `addingProduct` becomes a libm `fmaf` call per lane and GEMM drops ~200x. The flag is passed to
// both the Swift compiler (through the Clang importer, which decides the target features) and the
// C support target, whose header turns the chosen features into constants the kernels branch on.
// Root packages may use unsafe flags, so the README's plain `swift build` / `swift test` get it.
let nativeSwift: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=native"]),
]
let nativeC: [CSetting] = [
    .unsafeFlags(["-march=native"]),
]

let package = Package(
    name: "Backprop",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Backprop", targets: ["Backprop"]),
        .library(name: "BackpropMPI", targets: ["BackpropMPI"]),
        .executable(name: "backprop", targets: ["backprop"]),
    ],
    // MPI (Open MPI: openmpi-bin, libopenmpi-dev) for data-parallel training across processes
    // and machines. Off by default so the plain build needs no MPI:
    // `swift build -c release --traits MPI`.
    traits: [
        .trait(name: "MPI", description: "Distributed training over MPI (needs libopenmpi-dev)."),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // ONNX models and TensorBoard event files are protocol buffers; the generated message
        // code (Sources/Backprop/IO/Protobuf, from Protos/ by Scripts/generate-protos.sh) is
        // committed, so building needs only the runtime library, not protoc or its plugin.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "CBackpropSupport",
            cSettings: nativeC
        ),
        // The system zlib (zlib1g-dev) for gzip-compressed data files such as MNIST's.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // The system libpng (libpng-dev) for reading digit images and writing plots.
        .systemLibrary(
            name: "CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]
        ),
        // The MPI C API (pkg-config ompi-c), through a header that turns Open MPI's handle
        // macros into functions Swift can call. Only targets built with the MPI trait use it.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]
        ),
        // The MPI communicator behind Backprop's `Collective`; empty unless the MPI trait is on.
        .target(
            name: "BackpropMPI",
            dependencies: [
                "Backprop",
                .target(name: "CMPI", condition: .when(traits: ["MPI"])),
            ],
            swiftSettings: nativeSwift
        ),
        .target(
            name: "Backprop",
            dependencies: [
                "CBackpropSupport", "CZlib", "CPNG",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            resources: [.copy("Resources/mnist")],
            swiftSettings: nativeSwift
        ),
        .executableTarget(
            name: "backprop",
            dependencies: [
                "Backprop",
                "CBackpropSupport",
                .target(name: "BackpropMPI", condition: .when(traits: ["MPI"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: nativeSwift
        ),
        .testTarget(
            name: "BackpropTests",
            dependencies: ["Backprop"],
            swiftSettings: nativeSwift
        ),
    ]
)
