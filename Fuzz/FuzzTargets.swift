// libFuzzer entry for Backprop's readers, compiled into the Backprop module itself by
// Scripts/fuzz.sh (swiftc -sanitize=fuzzer,address); not part of the package's build.
//
// One binary for every reader (one compile of the module, the slow part): the reader is chosen
// by BACKPROP_FUZZ_TARGET — csv, idx, npy, png, model, checkpoint. Each input goes through the
// reader as the commands use it; a thrown error is a correct answer, a trap or a sanitizer
// report is a finding.
import CZlib
import Foundation

private let fuzzTarget = ProcessInfo.processInfo.environment["BACKPROP_FUZZ_TARGET"] ?? ""

/// Readers that take only a path get the input through a file of this process's own, in memory
/// (/dev/shm) where there is one: the write is then no slower than the read.
private let fuzzFile = ((FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()) as NSString)
    .appendingPathComponent("backprop-fuzz-\(getpid())")

@_cdecl("LLVMFuzzerTestOneInput")
public func backpropFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    switch fuzzTarget {
    case "csv": fuzzCSV(bytes)
    case "idx": _ = try? IDXArray(parsing: bytes, path: "fuzz.idx").floats()
    case "npy": _ = try? NumPyArray(parsing: bytes, path: "fuzz.npy").floats()
    case "png":
        guard writeFuzzFile(withChunkChecksums(bytes)) else { return 0 }
        _ = try? PNGImage(contentsOf: fuzzFile, as: .gray)
        _ = try? PNGImage(contentsOf: fuzzFile, as: .rgba)
    case "model": fuzzModel(bytes)
    case "checkpoint": fuzzCheckpoint(bytes)
    default:
        FileHandle.standardError.write(Data("BACKPROP_FUZZ_TARGET must be csv, idx, npy, png, model or checkpoint (is '\(fuzzTarget)')\n".utf8))
        exit(2)
    }
    return 0
}

/// Overwrites the input file in place with write(2): FileManager's atomic replacement (a
/// temporary, then a rename) would cost more than the reader being fuzzed.
private func writeFuzzFile(_ bytes: [UInt8]) -> Bool {
    let fd = open(fuzzFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}

/// The PNG with every chunk's CRC recomputed. libpng refuses a critical chunk whose CRC is
/// wrong, and libpng is not instrumented, so without this nearly every mutation of a header or
/// of image data would end at the checksum and the fuzzer would never reach a claimed size.
private func withChunkChecksums(_ png: [UInt8]) -> [UInt8] {
    var bytes = png
    var offset = 8
    while offset + 12 <= bytes.count {
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        guard length <= bytes.count - offset - 12 else { break }
        let crc = bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress! + offset + 4, UInt32(length + 4))) }
        for i in 0..<4 { bytes[offset + 8 + length + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
        offset += 12 + length
    }
    return bytes
}

/// A table, then as train reads it: class labels in the last column, and regression targets.
private func fuzzCSV(_ bytes: [UInt8]) {
    guard let table = try? CSV.parse(bytes, path: "fuzz.csv") else { return }
    _ = try? CSV.labeled(table, path: "fuzz.csv")
    _ = try? CSV.labeled(table, path: "fuzz.csv", label: .first, classCount: 10)
    _ = try? CSV.regression(table, path: "fuzz.csv", targets: .last(1))
}

/// A model file as eval, predict and info load it: an ensemble, a mixture of experts or a network.
private func fuzzModel(_ bytes: [UInt8]) {
    guard let file = try? Safetensors(parsing: bytes, path: "fuzz.safetensors"), writeFuzzFile(bytes) else { return }
    if file.metadata[EnsembleArchitecture.metadataKey] != nil {
        _ = try? Ensemble.load(from: fuzzFile)
    } else if file.metadata[MixtureOfExpertsArchitecture.metadataKey] != nil {
        _ = try? MixtureOfExperts.load(from: fuzzFile)
    } else if let (model, architecture, _) = try? Checkpoint.loadModel(fuzzFile),
              let inputs = architecture.sizes.first, inputs > 0, inputs <= 4096 {
        // An accepted model must also run: one example through it.
        _ = model(Tensor(shape: [1, inputs], scalars: [Float](repeating: 0.5, count: inputs)))
    }
}

/// A training checkpoint resumed as `train --resume` does, on a network of the architecture it
/// names (kept small: building the network is not the reader's work), then trained to epoch 2
/// (one more epoch for the seed, which has one).
private func fuzzCheckpoint(_ bytes: [UInt8]) {
    guard let file = try? Safetensors(parsing: bytes, path: "fuzz.safetensors"),
          let architecture = try? Checkpoint.architecture(of: file, path: "fuzz.safetensors") else { return }
    let sizes = architecture.sizes
    guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 && $0 <= 256 }), let inputs = sizes.first, let classes = sizes.last,
          classes >= 2 else { return }
    var configuration = TrainingConfiguration()
    configuration.batchSize = 4
    configuration.epochs = 2
    var generator = RandomGenerator(seed: 1)
    let features = Tensor(shape: [8, inputs], scalars: (0..<(8 * inputs)).map { _ in generator.nextUniform() })
    let train = LabeledData(features: features, labels: (0..<8).map { Int32($0 % classes) }, classCount: classes)
    guard let trainer = try? Trainer(architecture: architecture, configuration: configuration, train: train,
                                     validation: nil, test: nil, runDirectory: nil,
                                     reporter: ProgressReporter(interactive: false, quiet: true)),
          (try? trainer.resume(from: file, path: "fuzz.safetensors")) != nil else { return }
    _ = try? trainer.fit()
}
