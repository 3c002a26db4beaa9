import Foundation
import Testing
import Backprop

/// A model file is whole or refused: checksums catch a changed byte anywhere, and the loader
/// checks every metadata entry against the tensors even where the checksums were made afresh
/// (as by a tool that edits a file and signs it again).
@Suite struct ModelFileTests {
    static let inputs = 3

    /// A model file written by the real writer (`WeightImport.save`, as `import-weights` does):
    /// 3 → 4 → 2 with BatchNorm and a standardization, BatchNorm's statistics moved off their start.
    static func writeModel(to path: String) throws {
        let architecture = try MultilayerPerceptronArchitecture(sizes: [inputs, 4, 2], activation: .tanh, batchNorm: true)
        let model = architecture.build(seed: 5)
        var g = RandomGenerator(seed: 6)
        _ = model(Tensor.uniform([8, inputs], in: -1...1, using: &g))
        model.eval()
        try WeightImport.save(model, architecture: architecture,
                              normalization: .standardize(mean: [0.5, -1, 2], standardDeviation: [1, 0.25, 3]), to: path)
    }

    static func temporaryPath(_ name: String = "m.safetensors") -> String {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("backprop-modelfile-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (directory as NSString).appendingPathComponent(name)
    }

    static func bytes(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Where the data section starts (after the 8-byte length and the JSON header).
    static func dataStart(_ bytes: [UInt8]) -> Int {
        8 + bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
    }

    /// The error of loading `bytes` as a model file, or nil when it loads.
    static func loadError(_ bytes: [UInt8], path: String = "m.safetensors") -> String? {
        do {
            _ = try ModelFile(validating: Safetensors(parsing: bytes, path: path), path: path)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aWrittenFileCarriesChecksumsAndLoadsWithoutWarning() throws {
        let path = Self.temporaryPath()
        try Self.writeModel(to: path)
        let header = String(decoding: try Self.bytes(path).prefix(Self.dataStart(try Self.bytes(path))), as: UTF8.self)
        #expect(header.contains(Safetensors.ChecksumKey.tensors) && header.contains(Safetensors.ChecksumKey.metadata))
        let loaded = try ModelFile.read(path)
        #expect(loaded.file.checksumsVerified)
        #expect(loaded.warning == nil)
        #expect(loaded.normalization == .standardize(mean: [0.5, -1, 2], standardDeviation: [1, 0.25, 3]))
        #expect(loaded.classCount == 2 && !loaded.isCheckpoint)
    }

    /// The checksums are defined independently of the code (README: model files): SHA-256 over
    /// length-prefixed fields. For a one-tensor file the digests below were computed with
    /// Python's hashlib over the bytes the README defines:
    ///
    ///     u = lambda n: struct.pack('<Q', n); run = lambda b: u(len(b)) + b
    ///     sha256(run(b"w") + run(b"F32") + u(1) + u(2) + run(struct.pack('<ff', 1, 2)))
    ///     sha256(run(b"a") + run(b"1") + run(b"b") + run(b"2"))
    @Test func checksumsFollowTheDocumentedCanonicalForm() throws {
        let file = Safetensors(entries: [("w", .init(Tensor([1, 2])))], metadata: ["b": "2", "a": "1"])
        let parsed = try Safetensors(parsing: file.encoded(), path: "c.safetensors")
        #expect(parsed.checksumsVerified)
        let header = String(decoding: file.encoded().prefix(Self.dataStart(file.encoded())), as: UTF8.self)
        #expect(header.contains("\"checksum.tensors\":\"sha256:877aceafae9e98dd4ea52e22e550074afdccb4e781cc2e45ed795016567c1684\""), "\(header)")
        #expect(header.contains("\"checksum.metadata\":\"sha256:8f3b38fadbc769fb2596a15bffac27cf871aaa64dbda44357b76882c2c1299d9\""), "\(header)")
    }

    /// Every byte of a valid file, changed one bit at a time (two different bits per byte): each
    /// change is refused with an error naming the file. Before checksums, a changed weight or
    /// normalization value loaded as a different model.
    @Test func aFlippedBitAnywhereIsRefused() throws {
        let path = Self.temporaryPath()
        try Self.writeModel(to: path)
        let valid = try Self.bytes(path)
        #expect(Self.loadError(valid) == nil)
        var accepted: [Int] = []
        for i in 0..<valid.count {
            for bit in [0, (i % 7) + 1] {
                var mutant = valid
                mutant[i] ^= UInt8(1 << bit)
                guard let error = Self.loadError(mutant) else { accepted.append(i); continue }
                #expect(error.contains("m.safetensors"), "byte \(i): \(error)")
            }
        }
        #expect(accepted.isEmpty, "changes at bytes \(accepted.prefix(20)) loaded")
        // A data byte is caught by the tensors' checksum, a normalization digit by the metadata's.
        var data = valid
        data[Self.dataStart(valid) + 5] ^= 0x10
        #expect(Self.loadError(data)?.contains("damaged: the tensors") == true)
        #expect(Self.loadError(data)?.contains(Safetensors.ChecksumKey.tensors) == true)
        let header = String(decoding: valid.prefix(Self.dataStart(valid)), as: UTF8.self)
        let digit = try #require(header.range(of: "0.25")).lowerBound
        var meta = valid
        meta[header.utf8.distance(from: header.utf8.startIndex, to: digit) + 3] ^= 0x01   // 0.25 → 0.24
        #expect(Self.loadError(meta)?.contains(Safetensors.ChecksumKey.metadata) == true, "\(Self.loadError(meta) ?? "loaded")")
    }

    /// Checksums removed (a file from before they were written): it loads, checked against its
    /// description, with a warning that says what cannot be checked. One checksum without the
    /// other is an error.
    @Test func aFileWithoutChecksumsLoadsWithAWarning() throws {
        let path = Self.temporaryPath()
        try Self.writeModel(to: path)
        let file = try Safetensors(contentsOf: path)
        let legacy = Self.temporaryPath("legacy.safetensors")
        try Data(file.encoded(checksums: false)).write(to: URL(fileURLWithPath: legacy))
        let loaded = try ModelFile.read(legacy)
        #expect(!loaded.file.checksumsVerified)
        #expect(loaded.warning?.contains(legacy) == true && loaded.warning?.contains("no checksums") == true)
        // Half a pair: the tensors' checksum dropped from a file that has the metadata's.
        var half = file
        half.metadata[Safetensors.ChecksumKey.metadata] = "sha256:" + String(repeating: "0", count: 64)
        #expect(Self.loadError(half.encoded(checksums: false))?.contains(Safetensors.ChecksumKey.tensors) == true)
    }

    /// Metadata that disagrees with the tensors, re-signed with fresh checksums (so only the
    /// loader's own checks can catch it): each is an error naming the field or tensor.
    @Test func metadataIsCheckedAgainstTheTensors() throws {
        let path = Self.temporaryPath()
        try Self.writeModel(to: path)
        let valid = try Safetensors(contentsOf: path)
        let architecture = try #require(valid.metadata[Checkpoint.Key.architecture])
        func edited(_ change: (inout Safetensors) -> Void) -> String? {
            var file = valid
            change(&file)
            return Self.loadError(file.encoded())
        }
        let cases: [(String, (inout Safetensors) -> Void, [String])] = [
            ("sizes one layer short", { $0.metadata[Checkpoint.Key.architecture] = architecture.replacingOccurrences(of: "[3,4,2]", with: "[3,4]") },
             ["tensor", "architecture"]),
            ("sizes one layer long", { $0.metadata[Checkpoint.Key.architecture] = architecture.replacingOccurrences(of: "[3,4,2]", with: "[3,4,4,2]") },
             ["architecture", "parameters"]),
            ("another width", { $0.metadata[Checkpoint.Key.architecture] = architecture.replacingOccurrences(of: "[3,4,2]", with: "[3,4,3]") },
             ["3.weight", "[3, 4]"]),
            ("architecture missing", { $0.metadata[Checkpoint.Key.architecture] = nil }, ["architecture", "missing"]),
            ("architecture junk", { $0.metadata[Checkpoint.Key.architecture] = "{\"sizes\":" }, ["architecture"]),
            ("normalization missing", { $0.metadata[Checkpoint.Key.normalization] = nil }, ["normalization", "missing"]),
            ("normalization junk", { $0.metadata[Checkpoint.Key.normalization] = "{\"standardize\":7}" }, ["normalization"]),
            ("normalization one short", {
                $0.metadata[Checkpoint.Key.normalization] = Checkpoint.json(Normalization.standardize(mean: [0, 0], standardDeviation: [1, 1]))
            }, ["normalization", "3 inputs"]),
            ("normalization σ = 0", {
                $0.metadata[Checkpoint.Key.normalization] = Checkpoint.json(Normalization.standardize(mean: [0, 0, 0], standardDeviation: [1, 0, 1]))
            }, ["normalization", "standard deviation 1"]),
            ("task junk", { $0.metadata[TrainingTask.metadataKey] = "regression" }, ["task"]),
            ("one-output task on two outputs", { $0.metadata[TrainingTask.metadataKey] = Checkpoint.json(TrainingTask(loss: .binaryCrossEntropy)) },
             ["task", "the model has 2"]),
            ("regression without its scaling", { $0.metadata[TrainingTask.metadataKey] = Checkpoint.json(TrainingTask(loss: .meanSquaredError)) },
             ["task", "targetScaling"]),
            ("format missing", { $0.metadata[Checkpoint.Key.format] = nil }, ["format"]),
            ("configuration junk", { $0.metadata[Checkpoint.Key.configuration] = "[]" }, ["configuration"]),
            ("half a checkpoint", { $0.metadata[Checkpoint.Key.optimizer] = "{}" }, ["training", "missing"]),
            ("NaN weight", { file in
                let i = file.entries.firstIndex { $0.name == "0.weight" } ?? 0
                var values = file.entries[i].entry.tensor().scalars
                values[5] = .nan
                file.entries[i].entry = .init(Tensor(shape: file.entries[i].entry.shape, scalars: values))
            }, ["0.weight", "element 5", "[1, 2]"]),
            ("infinite statistic", { file in
                let i = file.entries.firstIndex { $0.name == "1.running_mean" } ?? 0
                file.entries[i].entry = .init(Tensor([0, .infinity, 0, 0]))
            }, ["1.running_mean", "element 1"]),
            ("negative variance", { file in
                let i = file.entries.firstIndex { $0.name == "1.running_var" } ?? 0
                file.entries[i].entry = .init(Tensor([1, 1, -1, 1]))
            }, ["1.running_var", "element 2"]),
            ("an extra tensor", { $0.entries.append(("4.weight", .init(Tensor([1])))) }, ["4.weight"]),
            ("a missing tensor", { $0.entries.removeAll { $0.name == "3.bias" } }, ["3.bias"]),
            ("a float64 weight", { file in
                let i = file.entries.firstIndex { $0.name == "3.bias" } ?? 0
                file.entries[i].entry = .init(dtype: .f64, shape: [2], bytes: [UInt8](repeating: 0, count: 16))
            }, ["3.bias", "F64"]),
            ("a negative counter", { file in
                let i = file.entries.firstIndex { $0.name == "1.num_batches_tracked" } ?? 0
                file.entries[i].entry = .init(int64: -3)
            }, ["1.num_batches_tracked"]),
        ]
        for (name, change, mentions) in cases {
            let error = edited(change)
            #expect(error != nil, "\(name): loaded")
            for mention in mentions + ["m.safetensors"] {
                #expect(error?.contains(mention) == true, "\(name): \(error ?? "loaded") does not mention \(mention)")
            }
        }
    }

    /// A training checkpoint goes through the same writer and the same loader: a changed byte
    /// is refused on resume, and so is an optimizer buffer that is not finite.
    @Test func checkpointsAreCheckedOnResume() throws {
        let directory = TrainerTests.temporaryDirectory()
        _ = try TrainerTests.makeTrainer(epochs: 1, directory: directory).fit()
        let checkpoint = (directory as NSString).appendingPathComponent("checkpoint.safetensors")
        let valid = try Self.bytes(checkpoint)
        #expect(try ModelFile.read(checkpoint).isCheckpoint)

        var damaged = valid
        damaged[damaged.count - 3] ^= 0x04
        try Data(damaged).write(to: URL(fileURLWithPath: checkpoint))
        do {
            try TrainerTests.makeTrainer(epochs: 2, directory: directory).resume(from: checkpoint)
            Issue.record("a damaged checkpoint resumed")
        } catch {
            #expect("\(error)".contains(checkpoint) && "\(error)".contains(Safetensors.ChecksumKey.tensors), "\(error)")
        }

        var file = try Safetensors(parsing: valid, path: checkpoint)
        let i = try #require(file.entries.firstIndex { $0.name.hasPrefix("optimizer.") })
        var values = file.entries[i].entry.tensor().scalars
        values[0] = -.infinity
        file.entries[i].entry = .init(Tensor(shape: file.entries[i].entry.shape, scalars: values))
        let name = file.entries[i].name
        try file.write(to: checkpoint)
        do {
            try TrainerTests.makeTrainer(epochs: 2, directory: directory).resume(from: checkpoint)
            Issue.record("a checkpoint with -inf in \(name) resumed")
        } catch {
            #expect("\(error)".contains(name) && "\(error)".contains("element 0"), "\(error)")
        }
    }
}

/// The commands read model files through the one loader: a damaged or inconsistent file is
/// one clear error from each, and a file without checksums works with a warning.
extension CommandLineTests {
    @Test func everyCommandRefusesADamagedModelFile() throws {
        let path = ModelFileTests.temporaryPath()
        try ModelFileTests.writeModel(to: path)
        let valid = try ModelFileTests.bytes(path)
        let directory = (path as NSString).deletingLastPathComponent
        let input = (directory as NSString).appendingPathComponent("x.csv")
        try "0.1,0.2,0.3\n1,2,3\n".write(toFile: input, atomically: true, encoding: .utf8)
        #expect(try Self.run(["predict", path, input]).status == 0)

        var data = valid
        data[ModelFileTests.dataStart(valid) + 9] ^= 0x01
        let damaged = (directory as NSString).appendingPathComponent("damaged.safetensors")
        try Data(data).write(to: URL(fileURLWithPath: damaged))
        var short = try Safetensors(contentsOf: path)
        short.metadata[Checkpoint.Key.architecture] = short.metadata[Checkpoint.Key.architecture]?
            .replacingOccurrences(of: "[3,4,2]", with: "[3,4]")
        let shortPath = (directory as NSString).appendingPathComponent("short.safetensors")
        try short.write(to: shortPath)
        var unnormalized = try Safetensors(contentsOf: path)
        unnormalized.metadata[Checkpoint.Key.normalization] = nil
        let unnormalizedPath = (directory as NSString).appendingPathComponent("unnormalized.safetensors")
        try unnormalized.write(to: unnormalizedPath)

        for (file, mention) in [(damaged, Safetensors.ChecksumKey.tensors), (shortPath, "architecture"), (unnormalizedPath, "normalization")] {
            for arguments in [["predict", file, input], ["info", file], ["eval", file, "--dataset", "moons"],
                              ["export", file, "--npz", directory + "/out.npz"]] {
                let result = try Self.run(arguments)
                #expect(result.status != 0, "\(arguments): \(result.output)")
                #expect(result.error.contains(file) && result.error.contains(mention), "\(arguments): \(result.error)")
                #expect(!result.error.contains("Fatal error"))
            }
        }

        let legacy = (directory as NSString).appendingPathComponent("legacy.safetensors")
        try Data(try Safetensors(contentsOf: path).encoded(checksums: false)).write(to: URL(fileURLWithPath: legacy))
        let predicted = try Self.run(["predict", legacy, input])
        #expect(predicted.status == 0, "\(predicted.error)")
        #expect(predicted.error.contains("warning: \(legacy) has no checksums"), "\(predicted.error)")
    }
}
