import Foundation
import Testing
import Backprop

/// The `backprop` executable, run as a user runs it.
@Suite struct CommandLineTests {
    /// The executable built beside the test bundle.
    static var executable: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the XCTest runner is `.build/<config>/BackpropPackageTests.xctest`; on macOS the
        // bundle is a directory whose binary sits deeper.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("backprop").path),
              directory.pathComponents.count > 1 {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("backprop")
    }

    struct Run { var status: Int32; var output: String; var error: String }

    static func run(_ arguments: [String], environment: [String: String]? = nil, in directory: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: o, as: UTF8.self),
                   error: String(decoding: e, as: UTF8.self))
    }

    static func temporaryDirectory() -> String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("backprop-cli-\(UUID().uuidString)")
    }

    @Test(arguments: ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamax",
                      "nadam", "amsgrad", "adamw", "momentum:momentum=0.8", "adam:beta1=0.8,beta2=0.99,epsilon=1e-7"])
    func trainAcceptsEveryOptimizerWithItsHyperParameters(_ optimizer: String) throws {
        let result = try Self.run(["train", "--dataset", "moons", "--examples", "200", "--epochs", "2",
                                   "--optimizer", optimizer, "--out", Self.temporaryDirectory(), "--quiet"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("test accuracy:"))
    }

    @Test func trainEvalAndInfoWorkTogether() throws {
        let out = Self.temporaryDirectory()
        let train = try Self.run(["train", "--dataset", "spirals", "--layers", "2,16,3", "--activation", "tanh",
                                  "--epochs", "3", "--batch-size", "all", "--lr", "0.01", "--out", out])
        #expect(train.status == 0, "\(train.error)")
        let model = (out as NSString).appendingPathComponent("model.safetensors")
        let eval = try Self.run(["eval", model])
        #expect(eval.status == 0, "\(eval.error)")
        #expect(eval.output.contains("accuracy") && eval.output.contains("recall"))
        let info = try Self.run(["info", (out as NSString).appendingPathComponent("checkpoint.safetensors")])
        #expect(info.output.contains("2-16-3"))
        #expect(info.output.contains("optimizer state: adam"))
    }

    @Test(arguments: [
        (["train", "--optimizer", "adamz"], "unknown optimizer"),
        (["train", "--layers", "784,x,10"], "not a whole number"),
        (["train", "--activation", "swish2"], "'swish2' is invalid for '--activation"),
        (["train", "--dataset", "nosuch"], "unknown --dataset"),
        (["train", "--batch-size", "-3"], "--batch-size"),
        (["train", "--schedule", "cosine:warmup=x"], "x"),
        (["eval", "/nonexistent/model.safetensors"], "/nonexistent/model.safetensors"),
        (["train", "--dataset", "moons", "--layers", "2,8,2", "--batchnorm", "--batch-size", "1"], "at least 2 examples"),
        (["train", "--dataset", "spirals", "--layers", "2,16,3", "--ensemble", "2", "--batchnorm", "--batch-size", "4"], "last batch of 1"),
        (["train", "--dataset", "moons", "--layers", "2,8,2", "--micro-batches", "100000000"], "exceeds the batch size"),
        (["train", "--dataset", "moons", "--layers", "2,3037000500,3037000500,2"], "a layer of more than"),
        (["train", "--dataset", "moons", "--replicas", "zero"], "--replicas must be"),
        (["train", "--dataset", "moons", "--early-stopping", "0"], "--early-stopping must be at least 1"),
        (["train", "--dataset", "moons", "--replicas", "2", "--ensemble", "2"], "--replicas trains one network"),
        (["train", "--dataset", "moons", "--layers", "2,8,2", "--replicas", "300"], "exceeds the batch size"),
        (["train", "--dataset", "moons", "--lr", "0.1", "--optimizer", "adam:lr=0.01"], "--lr and --optimizer"),
        (["train", "--optimizer", "adam:beta9=1"], "beta9"),
        (["train", "--schedule", "step:every=0,gamma=0.5"], "every"),
        (["train", "--dataset", "moons", "--replicas", "2", "--reduction", "bogus"], "allreduce"),
    ])
    func badInputEndsWithOneClearLine(_ arguments: [String], _ mention: String) throws {
        let result = try Self.run(arguments + ["--out", Self.temporaryDirectory()].filter { _ in arguments[0] == "train" })
        #expect(result.status != 0)
        #expect(result.error.contains(mention), "\(result.error)")
        #expect(!result.error.contains("Fatal error"))
    }

    /// Adaptive threading (the default on several threads) says so and what it chose, and the
    /// model it writes has the parameters of a run that splits every step, bit for bit (the
    /// files differ only in the recorded training time).
    @Test func adaptiveThreadsReportTheirChoiceAndChangeNoResult() throws {
        let adaptiveOut = Self.temporaryDirectory(), fixedOut = Self.temporaryDirectory()
        // Layers wide enough that the GEMMs and the optimizer split over the 2 threads.
        let arguments = ["train", "--dataset", "spirals", "--layers", "2,512,512,3", "--epochs", "3",
                         "--batch-size", "128", "--threads", "2"]
        let adaptive = try Self.run(arguments + ["--out", adaptiveOut])
        let fixed = try Self.run(arguments + ["--out", fixedOut, "--no-adaptive-threads"])
        #expect(adaptive.status == 0 && fixed.status == 0, "\(adaptive.error) \(fixed.error)")
        #expect(adaptive.output.contains("2 threads (adaptive)"))
        #expect(adaptive.output.contains("steps split over the thread pool:"))
        #expect(!fixed.output.contains("(adaptive)") && !fixed.output.contains("steps split over"))
        func parameters(_ out: String) throws -> [[UInt32]] {
            let (model, _, _) = try Checkpoint.loadModel((out as NSString).appendingPathComponent("model.safetensors"))
            return model.namedParameters().map { $0.parameter.value.scalars.map(\.bitPattern) }
        }
        let written = try parameters(adaptiveOut)
        #expect(!written.isEmpty)
        #expect(written == (try parameters(fixedOut)))
    }

    /// Two replicas in threads train, evaluate and write the run folder as one process does
    /// (rank 0 alone writes), and resume from it.
    @Test func trainWithThreadReplicasWritesTheRunAndResumes() throws {
        let out = Self.temporaryDirectory()
        let arguments = ["train", "--dataset", "spirals", "--layers", "2,16,3", "--activation", "tanh",
                         "--epochs", "3", "--batch-size", "32", "--lr", "0.01", "--replicas", "2", "--out", out]
        let train = try Self.run(arguments)
        #expect(train.status == 0, "\(train.error)")
        #expect(train.output.contains("replicas: 2 in this process"))
        #expect(train.output.contains("test accuracy:"))
        #expect(FileManager.default.fileExists(atPath: (out as NSString).appendingPathComponent("model.safetensors")))
        let resumed = try Self.run(arguments.map { $0 == "3" ? "4" : $0 } + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.output.contains("resuming"))
    }

    @Test func corruptModelFileIsAClearError() throws {
        let path = Self.temporaryDirectory() + ".safetensors"
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 9]).write(to: URL(fileURLWithPath: path))
        let result = try Self.run(["eval", path])
        #expect(result.status != 0)
        #expect(result.error.contains(path))
    }
}

extension CommandLineTests {
    /// A trained MNIST model classifies a test digit given as a PNG drawn black on white at
    /// twice the size, through resizing and inversion.
    @Test func predictReadsAPNGDigitAndIDXFiles() throws {
        let out = Self.temporaryDirectory()
        let train = try Self.run(["train", "--epochs", "1", "--steps", "300", "--out", out, "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        let model = (out as NSString).appendingPathComponent("model.safetensors")
        let (_, test) = try MNIST.loadBundled()
        // The first test digit (a 7), upscaled 2× and inverted.
        var pixels = [UInt8](repeating: 0, count: 56 * 56)
        for y in 0..<56 { for x in 0..<56 { pixels[y * 56 + x] = 255 - test.pixels[(y / 2) * 28 + x / 2] } }
        let png = (out as NSString).appendingPathComponent("seven.png")
        try PNGImage(width: 56, height: 56, format: .gray, pixels: pixels).write(to: png)
        let predicted = try Self.run(["predict", model, png])
        #expect(predicted.status == 0, "\(predicted.error)")
        #expect(predicted.output.hasPrefix("example 0: class 7"), "\(predicted.output)")
        let idx = try Self.run(["predict", model, try #require(MNIST.bundledDirectory) + "/t10k-images-idx3-ubyte.gz", "--limit", "2"])
        #expect(idx.output.contains("example 1: class 2"), "\(idx.output)")
        // A non-finite value in a .npy input is refused, naming the example and feature (it gave
        // NaN probabilities reported as class 0).
        for bad in [Float.nan, .infinity, -.infinity] {
            var values = [Float](repeating: 0.5, count: 2 * 784)
            values[784 + 5] = bad
            let npy = (out as NSString).appendingPathComponent("bad.npy")
            try NumPyArray(shape: [2, 784], floats: values).write(to: npy)
            let refused = try Self.run(["predict", model, npy])
            #expect(refused.status != 0 && refused.error.contains("example 1, feature 5"), "\(bad): \(refused.output)\(refused.error)")
        }
    }
}

extension CommandLineTests {
    /// `data convert` writes uncompressed IDX files; `train --dataset dir:` memory-maps them.
    @Test func convertedFilesTrainFromDisk() throws {
        let directory = Self.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = try #require(MNIST.bundledDirectory)
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            let convert = try Self.run(["data", "convert", "\(source)/\(name).gz", "\(directory)/\(name)", "--to", "idx"])
            #expect(convert.status == 0, "\(convert.error)")
        }
        let train = try Self.run(["train", "--dataset", "dir:\(directory)", "--steps", "200", "--out", Self.temporaryDirectory(), "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        let accuracy = train.output.split(separator: "\n").last { $0.hasPrefix("test accuracy:") }
        let value = accuracy.flatMap { Float($0.dropFirst("test accuracy: ".count).dropLast()) } ?? 0
        #expect(value > 85, "\(train.output)")
    }
}

extension CommandLineTests {
    /// `--ensemble` and `--experts` train, save one file, and eval/info/predict read it back.
    @Test(arguments: [["--ensemble", "3", "--bagging", "--layers", "784,32,10"],
                      ["--experts", "3", "--top-k", "2", "--expert-layers", "32"]])
    func mixturesTrainAndReload(_ flags: [String]) throws {
        let out = Self.temporaryDirectory()
        let train = try Self.run(["train", "--epochs", "1", "--out", out, "--quiet"] + flags)
        #expect(train.status == 0, "\(train.error)")
        let model = (out as NSString).appendingPathComponent("model.safetensors")
        let eval = try Self.run(["eval", model])
        #expect(eval.status == 0, "\(eval.error)")
        let accuracy = eval.output.split(separator: "\n").first { $0.hasPrefix("loss") }
        #expect(accuracy?.contains("accuracy 9") == true, "\(eval.output)")   // above 90% after one epoch
        let info = try Self.run(["info", model])
        #expect(info.output.contains(flags[0] == "--ensemble" ? "ensemble of 3" : "mixture of 3 experts"), "\(info.output)")
        if flags[0] == "--experts" { #expect(info.output.contains("expert 2:")) }
    }
}
