import Foundation
import Testing
import Backprop

/// Python with the libraries that define the formats Backprop exchanges (onnx, onnxruntime,
/// numpy, safetensors, tensorboard): the interop tests run Tests/Interop/interop_check.py and
/// are skipped, with the reason shown, where the modules do not import.
enum Python {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/interop_check.py").path

    struct Run { var status: Int32; var output: String }

    /// Runs `python3 arguments…` with stdout and stderr together.
    static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// Whether `python3 -c "import …"` succeeds; prints why not when it does not.
    static func imports(_ modules: [String]) -> Bool {
        let statement = "import " + modules.joined(separator: ", ")
        guard let result = try? run(["-c", statement]) else {
            print("interop tests skipped: python3 cannot be started")
            return false
        }
        if result.status != 0 {
            print("interop tests skipped: `python3 -c \"\(statement)\"` failed: \(result.output.split(separator: "\n").last ?? "")")
        }
        return result.status == 0
    }

    /// Whether python3 starts at all.
    static let available = (try? run(["-c", "pass"]))?.status == 0
    static let hasONNX = imports(["numpy", "onnx", "onnxruntime"])
    static let hasSafetensors = imports(["numpy", "safetensors.numpy"])
    static let hasTensorBoard = imports(["tensorboard.backend.event_processing.event_accumulator"])
    /// PyTorch is not installed in CI (a large download); where it is, its own
    /// `load_state_dict` is the check of the state-dict names and layouts.
    static let hasTorch = imports(["numpy", "torch", "safetensors.torch"])

    /// Runs a command of the check script; a failure records the script's message. Returns
    /// the JSON object it printed.
    static func check(_ arguments: [String]) throws -> [String: Any] {
        let result = try run([script] + arguments)
        try #require(result.status == 0, "interop_check.py \(arguments.joined(separator: " ")) failed:\n\(result.output)")
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(result.output)")
    }
}

@Suite struct ONNXInteropTests {
    /// Gives every BatchNorm layer non-trivial running statistics and affine parameters, so the
    /// exported inference form is actually exercised (fresh layers are the identity).
    static func randomizeBatchNorm(_ module: any Module, _ g: inout RandomGenerator) {
        let networks: [Sequential]
        switch module {
        case let s as Sequential: networks = [s]
        case let e as Ensemble: networks = e.members.compactMap { $0 as? Sequential }
        case let m as MixtureOfExperts: networks = [m.gate] + m.experts
        default: networks = []
        }
        for case let bn as BatchNorm1d in networks.flatMap(\.layers) {
            let n = bn.featureCount
            bn.runningMean.value = .normal([n], standardDeviation: 0.5, using: &g)
            bn.runningVariance.value = .uniform([n], in: 0.2...3, using: &g)
            bn.weight.value = .uniform([n], in: 0.5...1.5, using: &g)
            bn.bias.value = .normal([n], standardDeviation: 0.3, using: &g)
        }
    }

    struct Case {
        var name: String
        var model: any Module
        var normalization: Normalization = .none
    }

    static func cases() throws -> [Case] {
        var g = RandomGenerator(seed: 11)
        var list: [Case] = []
        for activation in Activation.allCases {
            let spec = try MultilayerPerceptronArchitecture(sizes: [784, 24, 16, 10], activation: activation,
                                                batchNorm: activation == .relu || activation == .gelu,
                                                dropout: activation == .relu ? 0.3 : 0,
                                                inputNoise: activation == .relu ? 0.1 : 0)
            list.append(Case(name: "mlp-\(activation.rawValue)", model: spec.build(seed: 3)))
        }
        let member = try MultilayerPerceptronArchitecture(sizes: [784, 16, 10], activation: .tanh, batchNorm: true)
        list.append(Case(name: "ensemble-probabilities",
                         model: try EnsembleArchitecture(member: member, count: 3).build(seed: 5)))
        list.append(Case(name: "ensemble-outputs",
                         model: try EnsembleArchitecture(member: member, count: 2, combination: .averageOutputs).build(seed: 6)))
        list.append(Case(name: "experts-dense-probabilities",
                         model: try MixtureOfExpertsArchitecture(inputSize: 784, outputSize: 10, expertCount: 3, expertHidden: [16],
                                                                 gateHidden: [8], activation: .elu,
                                                                 combination: .mixtureOfProbabilities).build(seed: 7)))
        list.append(Case(name: "experts-top2-outputs",
                         model: try MixtureOfExpertsArchitecture(inputSize: 784, outputSize: 10, expertCount: 4, expertHidden: [16],
                                                                 topK: 2, activation: .relu).build(seed: 8)))
        list.append(Case(name: "experts-top1-probabilities",
                         model: try MixtureOfExpertsArchitecture(inputSize: 784, outputSize: 10, expertCount: 3, expertHidden: [12],
                                                                 topK: 1, activation: .sigmoid,
                                                                 combination: .mixtureOfProbabilities).build(seed: 9)))
        let mean = (0..<784).map { _ in g.nextUniform(in: 0...0.5) }, std = (0..<784).map { _ in g.nextUniform(in: 0.2...1) }
        list.append(Case(name: "mlp-standardized-input",
                         model: try MultilayerPerceptronArchitecture(sizes: [784, 16, 10], activation: .softplus).build(seed: 10),
                         normalization: .standardize(mean: mean, standardDeviation: std)))
        for c in list {
            randomizeBatchNorm(c.model, &g)
            c.model.eval()
        }
        return list
    }

    /// The first 1,000 MNIST test images, as features in [0, 1].
    static func mnistTestImages() throws -> Tensor {
        let directory = try #require(MNIST.bundledDirectory)
        let test = try MNIST.loadPair(images: (directory as NSString).appendingPathComponent("t10k-images-idx3-ubyte.gz"),
                                      labels: (directory as NSString).appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        return test.batch(ArraySlice(0..<1000)).features
    }

    @Test(.enabled(if: Python.hasONNX, "needs python3 with numpy, onnx and onnxruntime"))
    func onnxRuntimeMatchesBackpropOnMNIST() throws {
        let directory = try DataTestDirectory()
        let images = try Self.mnistTestImages()
        try NumPyArray(shape: images.shape, floats: images.scalars).write(to: directory.path("mnist1000.npy"))
        var manifest: [[String: String]] = []
        for c in try Self.cases() {
            var x = images
            c.normalization.apply(to: &x)
            let probabilities = c.model(x).softmaxRows()
            try NumPyArray(shape: probabilities.shape, floats: probabilities.scalars).write(to: directory.path("\(c.name).npy"))
            try ONNXExport.write(c.model, inputSize: 784, normalization: c.normalization, to: directory.path("\(c.name).onnx"))
            manifest.append(["name": c.name, "model": "\(c.name).onnx", "input": "mnist1000.npy", "expected": "\(c.name).npy"])
        }
        // The command-line path too: a model file with its normalization, exported by `backprop export`.
        let spec = try MultilayerPerceptronArchitecture(sizes: [784, 20, 10], activation: .leakyReLU, batchNorm: true, dropout: 0.2)
        let model = spec.build(seed: 12)
        var g = RandomGenerator(seed: 13)
        Self.randomizeBatchNorm(model, &g)
        model.eval()
        let normalization = Normalization.standardize(mean: Array(repeating: 0.13, count: 784), standardDeviation: Array(repeating: 0.31, count: 784))
        try WeightImport.save(model, architecture: spec, normalization: normalization, to: directory.path("cli.safetensors"))
        let export = try CommandLineTests.run(["export", directory.path("cli.safetensors"), "--onnx", directory.path("cli.onnx")])
        #expect(export.status == 0, "\(export.error)")
        var x = images
        normalization.apply(to: &x)
        let expected = model(x).softmaxRows()
        try NumPyArray(shape: expected.shape, floats: expected.scalars).write(to: directory.path("cli.npy"))
        manifest.append(["name": "cli-export", "model": "cli.onnx", "input": "mnist1000.npy", "expected": "cli.npy"])

        // Regression (values in the data's units, through the target scaling) and two classes
        // with one sigmoid output (P(class 1)), for a network and an output-averaging ensemble.
        let scaling = TargetScaling(mean: [120, -3], standardDeviation: [40, 0.5])
        let tasks: [(String, any Module, TrainingTask)] = [
            ("regression-network", try MultilayerPerceptronArchitecture(sizes: [784, 16, 2], activation: .tanh, batchNorm: true).build(seed: 14),
             TrainingTask(loss: .meanSquaredError, targetScaling: scaling, targetNames: ["price", "rate"])),
            ("regression-ensemble", try EnsembleArchitecture(member: MultilayerPerceptronArchitecture(sizes: [784, 8, 2]), count: 2,
                                                             combination: .averageOutputs).build(seed: 15),
             TrainingTask(loss: .sumSquaredError, targetScaling: scaling)),
            ("bce-network", try MultilayerPerceptronArchitecture(sizes: [784, 12, 1], activation: .gelu).build(seed: 16),
             TrainingTask(loss: .binaryCrossEntropy)),
        ]
        for (name, model, task) in tasks {
            Self.randomizeBatchNorm(model, &g)
            model.eval()
            let expected = task.predictions(model(images))
            try NumPyArray(shape: expected.shape, floats: expected.scalars).write(to: directory.path("\(name).npy"))
            try ONNXExport.write(model, inputSize: 784, task: task, to: directory.path("\(name).onnx"))
            manifest.append(["name": name, "model": "\(name).onnx", "input": "mnist1000.npy", "expected": "\(name).npy",
                             "output": ONNXExport.outputName(for: task)])
        }

        try Data(JSONSerialization.data(withJSONObject: manifest)).write(to: URL(fileURLWithPath: directory.path("cases.json")))
        let report = try Python.check(["onnx", directory.root])
        #expect(report.count == manifest.count)
        for (name, value) in report.sorted(by: { $0.key < $1.key }) {
            let entry = value as? [String: Any]
            print("onnxruntime vs Backprop, \(name): max |Δp| = \(entry?["max_abs_difference"] ?? "?") on \(entry?["rows"] ?? "?") MNIST test images")
        }
    }

    @Test func exportRefusesWhatHasNoONNXForm() throws {
        let member = try MultilayerPerceptronArchitecture(sizes: [4, 3, 2])
        let voting = try EnsembleArchitecture(member: member, count: 2, combination: .majorityVote).build(seed: 1)
        #expect(throws: ExportError.self) { try ONNXExport.encode(voting, inputSize: 4) }
        #expect(throws: ExportError.self) {
            try ONNXExport.encode(member.build(seed: 1), inputSize: 4, normalization: .standardize(mean: [0], standardDeviation: [1]))
        }
    }
}

@Suite struct SafetensorsInteropTests {
    @Test(.enabled(if: Python.hasTorch, "needs python3 with numpy, torch and safetensors"))
    func pytorchLoadsTheStateDictIntoItsOwnSequential() throws {
        let directory = try DataTestDirectory()
        let spec = try MultilayerPerceptronArchitecture(sizes: [784, 24, 16, 10], activation: .tanh, batchNorm: true, dropout: 0.25)
        let model = spec.build(seed: 31)
        var g = RandomGenerator(seed: 32)
        ONNXInteropTests.randomizeBatchNorm(model, &g)
        model.eval()
        try WeightImport.save(model, architecture: spec, to: directory.path("model.safetensors"))
        let images = try ONNXInteropTests.mnistTestImages()
        let probabilities = model(images).softmaxRows()
        try NumPyArray(shape: images.shape, floats: images.scalars).write(to: directory.path("x.npy"))
        try NumPyArray(shape: probabilities.shape, floats: probabilities.scalars).write(to: directory.path("y.npy"))
        let description = #"{"sizes": [784, 24, 16, 10], "activation": "tanh", "batchnorm": true, "dropout": 0.25}"#
        let report = try Python.check(["torch-load", directory.path("model.safetensors"), description,
                                       directory.path("x.npy"), directory.path("y.npy")])
        #expect(report["modules"] as? [String] == ["Linear", "BatchNorm1d", "Tanh", "Dropout",
                                                   "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"])
        print("PyTorch load_state_dict vs Backprop: max |Δp| = \(report["max_abs_difference"] ?? "?") on 1,000 MNIST test images")
    }

    @Test(.enabled(if: Python.hasSafetensors, "needs python3 with numpy and safetensors"))
    func pythonReadsEveryTensorOfAModelFile() throws {
        let directory = try DataTestDirectory()
        let spec = try MultilayerPerceptronArchitecture(sizes: [6, 5, 4, 3], activation: .tanh, batchNorm: true, dropout: 0.1)
        let model = spec.build(seed: 21)
        var g = RandomGenerator(seed: 22)
        ONNXInteropTests.randomizeBatchNorm(model, &g)
        if let bn = model.layers.first(where: { $0 is BatchNorm1d }) as? BatchNorm1d { bn.setBatchesTracked(41) }
        try WeightImport.save(model, architecture: spec, to: directory.path("model.safetensors"))
        // The expected tensors straight from the layers, as .npy (NumPy's own format).
        let expected = directory.path("expected")
        try FileManager.default.createDirectory(atPath: expected, withIntermediateDirectories: true)
        for (name, parameter) in model.namedParameters() {
            try NumPyArray(shape: parameter.shape, floats: parameter.value.scalars).write(to: "\(expected)/\(name).npy")
        }
        var batchNormCount = 0
        for (index, layer) in model.layers.enumerated() {
            guard let bn = layer as? BatchNorm1d else { continue }
            batchNormCount += 1
            try NumPyArray(shape: [bn.featureCount], floats: bn.runningMean.value.scalars).write(to: "\(expected)/\(index).running_mean.npy")
            try NumPyArray(shape: [bn.featureCount], floats: bn.runningVariance.value.scalars).write(to: "\(expected)/\(index).running_var.npy")
            let count = Int64(bn.batchesTracked)
            try NumPyArray(encoding: ElementEncoding(.int64), shape: [], payload: withUnsafeBytes(of: count.littleEndian) { Array($0) })
                .write(to: "\(expected)/\(index).num_batches_tracked.npy")
        }
        #expect(batchNormCount == 2)
        let npz = directory.path("model.npz")
        let export = try CommandLineTests.run(["export", directory.path("model.safetensors"), "--npz", npz])
        #expect(export.status == 0, "\(export.error)")
        let report = try Python.check(["safetensors-read", directory.path("model.safetensors"), expected, npz])
        // 3 Linear × 2 + 2 BatchNorm × 5
        #expect(report["tensors"] as? Int == 16)
        #expect(report["dtypes"] as? [String] == ["float32", "int64"])
        // The folder form: one NAME.npy per tensor, each equal to the safetensors tensor.
        let folder = directory.path("npy")
        let folderExport = try CommandLineTests.run(["export", directory.path("model.safetensors"), "--npz", folder])
        #expect(folderExport.status == 0, "\(folderExport.error)")
        #expect(try Python.check(["safetensors-read", directory.path("model.safetensors"), folder])["tensors"] as? Int == 16)
    }

    @Test(.enabled(if: Python.hasSafetensors, "needs python3 with numpy and safetensors"))
    func importsAStateDictWrittenByPython() throws {
        let directory = try DataTestDirectory()
        let file = directory.path("torch.safetensors"), x = directory.path("x.npy"), y = directory.path("y.npy")
        _ = try Python.check(["safetensors-write", file, x, y])
        let spec = try MultilayerPerceptronArchitecture(sizes: [4, 5, 3], activation: .tanh, batchNorm: true)
        let model = try WeightImport.network(spec, contentsOf: file)
        let inputs = try NumPyArray(contentsOf: x), outputs = try NumPyArray(contentsOf: y)
        let got = model(Tensor(shape: inputs.shape, scalars: inputs.floats()))
        let want = outputs.floats()
        #expect(got.shape == outputs.shape)
        let difference = zip(got.scalars, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 1e-5, "max |Backprop − numpy| = \(difference)")
        #expect((model.layers[1] as? BatchNorm1d)?.batchesTracked == 17)

        // The command: the imported file is a model that eval, export and predict load.
        let out = directory.path("imported.safetensors")
        let run = try CommandLineTests.run(["import-weights", file, "--layers", "4,5,3", "--activation", "tanh", "--batchnorm", "--out", out])
        #expect(run.status == 0, "\(run.error)")
        let (reloaded, architecture, _) = try Checkpoint.loadModel(out)
        #expect(architecture == spec)
        #expect(reloaded(Tensor(shape: inputs.shape, scalars: inputs.floats())).scalars == got.scalars)
        let info = try CommandLineTests.run(["info", out])
        #expect(info.status == 0 && info.output.contains("4-5-3"), "\(info.output)\(info.error)")
        // A wrong description is a clear error naming the tensor, not a crash.
        let wrong = try CommandLineTests.run(["import-weights", file, "--layers", "4,5,3", "--out", directory.path("w.safetensors")])
        #expect(wrong.status != 0 && wrong.error.contains("1.weight"), "\(wrong.error)")
    }
}

@Suite struct WeightImportTests {
    /// 2 → 2 → 1 with ReLU: W₀ = [[1, −1], [2, 0.5]], b₀ = [0, −1], W₂ = [[1, 3]], b₂ = [0.5].
    /// For x = [1, 2]: h = [−1, 2] → ReLU [0, 2] → y = 0 + 6 + 0.5 = 6.5.
    static func handFile(extra: Bool = false) -> Safetensors {
        var entries: [(name: String, entry: Safetensors.Entry)] = [
            ("0.weight", .init(Tensor(shape: [2, 2], scalars: [1, -1, 2, 0.5]))),
            ("0.bias", .init(Tensor([0, -1]))),
            ("2.weight", .init(Tensor(shape: [1, 2], scalars: [1, 3]))),
            ("2.bias", .init(Tensor([0.5]))),
        ]
        if extra { entries.append(("4.weight", .init(Tensor([1])))) }
        return Safetensors(entries: entries)
    }

    @Test func importsAHandWrittenStateDict() throws {
        let spec = try MultilayerPerceptronArchitecture(sizes: [2, 2, 1], activation: .relu)
        let model = try WeightImport.network(spec, from: Self.handFile(), path: "hand.safetensors")
        #expect(model(Tensor(shape: [1, 2], scalars: [1, 2])).scalars == [6.5])
    }

    @Test func mismatchesAreErrorsNamingTheTensor() throws {
        let spec = try MultilayerPerceptronArchitecture(sizes: [2, 2, 1], activation: .relu)
        func message(_ file: Safetensors, _ spec: MultilayerPerceptronArchitecture) -> String {
            do {
                _ = try WeightImport.network(spec, from: file, path: "f.safetensors")
                return "no error"
            } catch {
                return error.description
            }
        }
        #expect(message(Self.handFile(extra: true), spec).contains("4.weight"))
        #expect(message(Self.handFile(), try MultilayerPerceptronArchitecture(sizes: [2, 3, 1])).contains("0.weight"))
        #expect(message(Self.handFile(), try MultilayerPerceptronArchitecture(sizes: [2, 2, 1], dropout: 0.5)).contains("3.weight"))
        var nonFinite = Self.handFile()
        nonFinite.entries[1].entry = .init(Tensor([0, .nan]))
        #expect(message(nonFinite, spec).contains("0.bias"))
        var integer = Self.handFile()
        integer.entries[3].entry = Safetensors.Entry(int64: 1)
        #expect(message(integer, spec).contains("2.bias"))
        // A float counter too large for Int64 (converting it used to trap).
        let bnSpec = try MultilayerPerceptronArchitecture(sizes: [2, 2, 1], batchNorm: true)
        var counter = Safetensors(entries: Checkpoint.modelEntries(bnSpec.build(seed: 1)))
        let index = try #require(counter.entries.firstIndex { $0.name == "1.num_batches_tracked" })
        counter.entries[index].entry = .init(Tensor(scalar: 1e30))
        #expect(counter.entries[index].entry.integerValue == nil)
        #expect(message(counter, bnSpec).contains("1.num_batches_tracked"))
    }

    /// Random corruption of a valid state dict: the import throws or returns a network; it never
    /// traps or hangs, and the reader never allocates more than the file's size (it checks
    /// every shape against the bytes present before allocating).
    @Test func mutatedStateDictsImportOrThrow() throws {
        let spec = try MultilayerPerceptronArchitecture(sizes: [3, 4, 2], activation: .elu, batchNorm: true)
        let model = spec.build(seed: 1)
        // As PyTorch writes it: without the checksums Backprop adds (which would refuse nearly
        // every mutant before the import's own checks are reached).
        let valid = Safetensors(entries: Checkpoint.modelEntries(model), metadata: ["format": "x"]).encoded(checksums: false)
        var g = RandomGenerator(seed: 31)
        var imported = 0, rejected = 0
        for _ in 0..<3000 {
            var mutant = valid
            for _ in 0..<(1 + g.nextInt(below: 3)) { mutant = CorruptInputFuzzTests.mutate(mutant, &g) }
            do {
                let file = try Safetensors(parsing: mutant, path: "m.safetensors")
                let network = try WeightImport.network(spec, from: file, path: "m.safetensors")
                _ = network(Tensor(shape: [1, 3], scalars: [0.5, -1, 2]))
                imported += 1
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 1000 && imported > 0, "\(imported) imported, \(rejected) rejected")
    }

    @Test func forgedShapesAreRejectedBeforeAllocation() throws {
        // A header promising 2⁴⁰ floats in a file with 8 data bytes.
        let header = #"{"0.weight":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,8]}}"#
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8)
        bytes += [UInt8](repeating: 0, count: 8)
        #expect(throws: DataError.self) { try Safetensors(parsing: bytes, path: "forged.safetensors") }
    }
}

@Suite struct TensorBoardTests {
    /// Published CRC-32C check values: "123456789" (the CRC catalogue's check value) and the
    /// iSCSI test vectors of RFC 3720, appendix B.4.
    @Test func crc32cMatchesPublishedCheckValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // Streaming in pieces gives the same value.
        var crc = CRC32C()
        crc.update(Array("1234".utf8))
        crc.update(Array("56789".utf8))
        #expect(crc.value == 0xE306_9283)
        // Masked: rotr(0xE3069283, 15) = 0x2507C60D, + 0xA282EAD8 = 0xC78AB0E5 (worked by hand;
        // TensorBoard's masked_crc32c(b"123456789") gives the same).
        #expect(CRC32C.masked(0xE306_9283) == 0xC78A_B0E5)
    }

    @Test func tfRecordFramingRoundTripsAndDetectsCorruption() throws {
        let payloads: [[UInt8]] = [[], Array("hello".utf8), (0..<300).map { UInt8($0 % 256) }]
        let bytes = payloads.flatMap(TFRecord.frame)
        #expect(bytes.count == payloads.map { $0.count + 16 }.reduce(0, +))
        #expect(try TFRecord.records(in: bytes, path: "r") == payloads)
        // The empty record: length 0, then masked CRCs of eight zero bytes and of nothing.
        #expect(Array(bytes[0..<8]) == [UInt8](repeating: 0, count: 8))
        var g = RandomGenerator(seed: 3)
        for _ in 0..<500 {
            var corrupt = bytes
            corrupt[g.nextInt(below: corrupt.count)] ^= UInt8(1 << g.nextInt(below: 8))
            #expect(throws: DataError.self) { try TFRecord.records(in: corrupt, path: "r") }
            // Any other change throws, except cutting the stream exactly between records.
            let mutant = CorruptInputFuzzTests.mutate(bytes, &g)
            let boundaries: Set<Int> = [0, 16, 37, bytes.count]
            if mutant != bytes && !(bytes.starts(with: mutant) && boundaries.contains(mutant.count)) {
                #expect(throws: DataError.self) { try TFRecord.records(in: mutant, path: "r") }
            }
        }
    }

    @Test(.enabled(if: Python.hasTensorBoard, "needs python3 with tensorboard"))
    func tensorBoardReadsTheWritersScalarsAndHistograms() throws {
        let directory = try DataTestDirectory()
        let writer = try TensorBoardWriter(directory: directory.root, wallTime: 1_700_000_000)
        try writer.addScalars([("loss", 2.5), ("accuracy", 0.125)], step: 1, wallTime: 1_700_000_001)
        try writer.addScalars([("loss", 1.25), ("accuracy", 0.75)], step: 2, wallTime: 1_700_000_002)
        try writer.addHistograms([("w", [0, 0.95, 2.05, 3, .nan])], step: 2)
        let report = try Python.check(["tensorboard", directory.root])
        #expect(report["records"] as? Int == 4)
        let scalars = try #require(report["scalars"] as? [String: [[Double]]])
        #expect(scalars["loss"] == [[1, 2.5], [2, 1.25]])
        #expect(scalars["accuracy"] == [[1, 0.125], [2, 0.75]])
        let h = try #require((report["histograms"] as? [String: [String: Any]])?["w"])
        // The four finite values: 0 + 0.95 + 2.05 + 3 (as Float) and their squares.
        #expect(h["num"] as? Double == 4)
        #expect(h["min"] as? Double == 0 && h["max"] as? Double == 3)
        let values: [Double] = [0, Double(Float(0.95)), Double(Float(2.05)), 3]
        #expect(abs((h["sum"] as? Double ?? 0) - values.reduce(0, +)) < 1e-12)
        #expect(abs((h["sum_squares"] as? Double ?? 0) - values.map { $0 * $0 }.reduce(0, +)) < 1e-12)
        // 30 buckets of width 0.1 on [0, 3]: 0 → first, 0.95 ∈ (0.9, 1.0] → 9, 2.05 ∈ (2.0, 2.1] → 20, 3 → last.
        let buckets = try #require(h["bucket"] as? [Double])
        #expect(buckets.count == 30)
        #expect(buckets.indices.filter { buckets[$0] > 0 } == [0, 9, 20, 29])
        #expect((h["bucket_limit"] as? [Double])?.last == 3)
    }

    @Test(.enabled(if: Python.hasTensorBoard, "needs python3 with tensorboard"))
    func trainTensorBoardFlagLogsWhatMetricsCSVRecords() throws {
        let directory = try DataTestDirectory()
        let run = try CommandLineTests.run(["train", "--dataset", "moons", "--layers", "2,8,2", "--epochs", "3",
                                            "--examples", "200", "--tensorboard", "--quiet", "--out", directory.root])
        #expect(run.status == 0, "\(run.error)")
        let report = try Python.check(["tensorboard", directory.root])
        let scalars = try #require(report["scalars"] as? [String: [[Double]]])
        // metrics.csv (written by separate code) holds the same numbers, one row per epoch.
        let csv = try String(contentsOfFile: directory.path("metrics.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 3)
        for (tag, column) in [("learning_rate", 2), ("loss/train", 3), ("accuracy/train", 4), ("loss/validation", 5), ("accuracy/validation", 6)] {
            let logged = try #require(scalars[tag], "no \(tag) in \(scalars.keys.sorted())")
            #expect(logged.map { Int($0[0]) } == rows.map { Int($0[1]) ?? -1 }, "\(tag) steps")
            #expect(logged.map { Float($0[1]) } == rows.map { Float($0[column]) ?? .nan }, "\(tag) values")
        }
        #expect((scalars["train/loss_step"]?.count ?? 0) >= 3)
        let histograms = try #require(report["histograms"] as? [String: [String: Any]])
        #expect(Set(histograms.keys) == ["weights/0.weight", "weights/0.bias", "weights/2.weight", "weights/2.bias"])
        #expect(histograms["weights/0.weight"]?["num"] as? Double == 16)
    }
}
