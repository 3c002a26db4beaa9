import Foundation

/// Import of weights saved by other frameworks: a PyTorch `nn.Sequential` state dict in a
/// safetensors file (`safetensors.torch.save_file(model.state_dict(), path)`, or the numpy API
/// with the same names) becomes a Backprop network.
///
/// The network's shape comes from the caller (``MultilayerPerceptronArchitecture``: sizes, activation, batch
/// normalization, dropout — dropout matters because it shifts PyTorch's layer indices). The
/// match is strict, like `load_state_dict(strict=True)`: every tensor the network needs must be
/// in the file with the right shape and a floating-point type, every value finite, and the file
/// must hold nothing else; anything off is a ``CheckpointError`` naming the file and the tensor.
public enum WeightImport {
    /// Builds `architecture` and loads the state dict in `file` (read from `path`) into it.
    public static func network(_ architecture: MultilayerPerceptronArchitecture, from file: Safetensors,
                               path: String) throws(CheckpointError) -> Sequential {
        let model = architecture.build(seed: 0)
        var expected: Set<String> = []
        for (name, parameter) in model.namedParameters() {
            expected.insert(name)
            try check(file, name: name, shape: parameter.shape, path: path, architecture: architecture)
        }
        for (name, buffer) in model.namedBuffers() {
            expected.insert(name)
            if name.hasSuffix("num_batches_tracked") {
                // PyTorch stores a 0-d I64 counter; absent (older files) means 0.
                if let entry = file[name] {
                    guard entry.shape == [] else {
                        throw .shapeMismatch(path: path, name: name, expected: [], actual: entry.shape)
                    }
                    guard [.i64, .i32, .i16, .i8, .u8].contains(entry.dtype), let count = entry.integerValue, count >= 0 else {
                        throw .invalidMetadata(path: path, key: name, reason: "expected a non-negative integer counter (I64)")
                    }
                }
                continue
            }
            try check(file, name: name, shape: buffer.shape, path: path, architecture: architecture)
        }
        if let extra = file.entries.first(where: { !expected.contains($0.name) }) {
            throw .invalidMetadata(path: path, key: extra.name,
                                   reason: "a tensor the network \(describe(architecture)) does not have (its tensors: \(expected.sorted().joined(separator: ", ")))")
        }
        try Checkpoint.restoreModel(model, from: file, path: path)
        model.eval()
        return model
    }

    /// Reads `path` and imports it (see ``network(_:from:path:)``).
    public static func network(_ architecture: MultilayerPerceptronArchitecture, contentsOf path: String) throws(CheckpointError) -> Sequential {
        let file: Safetensors
        do { file = try Safetensors(contentsOf: path) } catch { throw .data(error) }
        return try network(architecture, from: file, path: path)
    }

    private static func check(_ file: Safetensors, name: String, shape: [Int], path: String,
                              architecture: MultilayerPerceptronArchitecture) throws(CheckpointError) {
        guard let entry = file[name] else {
            let present = file.entries.map(\.name).sorted().joined(separator: ", ")
            throw .invalidMetadata(path: path, key: name,
                                   reason: "missing: the network \(describe(architecture)) needs it; the file has \(present.isEmpty ? "no tensors" : present)")
        }
        guard entry.shape == shape else {
            throw .shapeMismatch(path: path, name: name, expected: shape, actual: entry.shape)
        }
        guard [.f32, .f64, .f16, .bf16].contains(entry.dtype) else {
            throw .invalidMetadata(path: path, key: name, reason: "dtype \(entry.dtype.rawValue), expected a floating-point type (F32, F64, F16, BF16)")
        }
        if let bad = entry.tensor().scalars.firstIndex(where: { !$0.isFinite }) {
            throw .invalidMetadata(path: path, key: name, reason: "element \(bad) is not a finite number (or overflows Float)")
        }
    }

    private static func describe(_ a: MultilayerPerceptronArchitecture) -> String {
        "\(a.sizes.map(String.init).joined(separator: "-")) \(a.activation.rawValue)\(a.batchNorm ? " +BN" : "")\(a.dropout > 0 ? " dropout" : "")\(a.inputNoise > 0 ? " noise" : "")"
    }

    /// Writes `model` (built from `architecture`) as a Backprop model file, as training does, so
    /// `backprop eval`, `predict`, `info` and `export` accept it.
    public static func save(_ model: Sequential, architecture: MultilayerPerceptronArchitecture,
                            normalization: Normalization = .none, metadata: [String: String] = [:],
                            to path: String) throws(WriteError) {
        var all = metadata
        all[Checkpoint.Key.normalization] = Checkpoint.json(normalization)
        try Checkpoint.writeModelFile(model, to: path, descriptionKey: Checkpoint.Key.architecture,
                                      description: Checkpoint.json(architecture), metadata: all)
    }
}

extension NumPyArray {
    /// A safetensors entry as a NumPy array of the same element type; F16, BF16 and BOOL,
    /// which ``ElementEncoding`` lacks, become float32 and uint8.
    public init(_ entry: Safetensors.Entry) {
        let kind: ElementEncoding.Kind?
        switch entry.dtype {
        case .f32: kind = .float32
        case .f64: kind = .float64
        case .i64: kind = .int64
        case .i32: kind = .int32
        case .i16: kind = .int16
        case .i8: kind = .int8
        case .u8, .bool: kind = .uint8
        case .f16, .bf16: kind = nil
        }
        guard let kind, let array = try? NumPyArray(encoding: ElementEncoding(kind), shape: entry.shape, payload: entry.bytes) else {
            // The entry's byte count matches its shape by construction, so only F16/BF16 get here.
            let tensor = entry.tensor()
            self.init(shape: entry.shape, floats: tensor.scalars)
            return
        }
        self = array
    }
}
