// swift-tools-version:6.2
import PackageDescription

// No build flags: every hot kernel is C, compiled once per instruction-set level with clang
// target attributes (Sources/CBackpropSupport/kernels_<level>.c), and the level is chosen at run
// time from the CPU (or BACKPROP_CPU). So one build runs on any x86-64 or arm64 CPU, and a
// package that depends on Backprop by version may build it (SwiftPM refuses unsafe flags there).

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
        // SHA-256 and MD5 (data set downloads, model-file checksums) from a maintained, tested
        // library rather than a hand-written one.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .target(name: "CBackpropSupport"),
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
        // FreeType (libfreetype-dev) draws the figures' text from a TrueType font, which
        // fontconfig (libfontconfig1-dev) finds (DejaVu Sans, fonts-dejavu-core, by default).
        .systemLibrary(
            name: "CFreeType",
            pkgConfig: "freetype2",
            providers: [.apt(["libfreetype-dev"]), .brew(["freetype"])]
        ),
        .systemLibrary(
            name: "CFontconfig",
            pkgConfig: "fontconfig",
            providers: [.apt(["libfontconfig1-dev"]), .brew(["fontconfig"])]
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
            ]
        ),
        .target(
            name: "Backprop",
            dependencies: [
                "CBackpropSupport", "CZlib", "CPNG", "CFreeType", "CFontconfig",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/mnist")]
        ),
        .executableTarget(
            name: "backprop",
            dependencies: [
                "Backprop",
                "CBackpropSupport",
                .target(name: "BackpropMPI", condition: .when(traits: ["MPI"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "BackpropTests",
            dependencies: ["Backprop"]
        ),
    ]
)

// The DocC plugin, only when documentation is being built (as mlx-swift does), so a plain build
// and a package that depends on Backprop by version neither resolve nor build it:
// `BACKPROP_DOCS=1 swift package generate-documentation --target Backprop` (the catalog is
// Sources/Backprop/Backprop.docc; README's "Documentation" has the preview command). The Swift
// Package Index sets SPI_GENERATE_DOCS when it builds the documentation that .spi.yml names.
if Context.environment["BACKPROP_DOCS"] != nil || Context.environment["SPI_GENERATE_DOCS"] == "1" {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"))
}
