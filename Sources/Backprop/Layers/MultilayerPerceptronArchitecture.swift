import Foundation

/// Errors in a network description that came from user input.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// A layer list that cannot build a network (e.g. fewer than two sizes, a size that is not a
    /// positive whole number, or too many parameters), with the text and the reason.
    case invalidLayerList(String, reason: String)
    /// An activation name that is not one of ``Activation``'s.
    case unknownActivation(String)
    /// An option whose value cannot build the model (the option's name, then why).
    case invalidOption(String, reason: String)

    /// A one-line message naming the input and what is wrong with it.
    public var description: String {
        switch self {
        case let .invalidLayerList(text, reason): return "invalid layer list '\(text)': \(reason)"
        case let .unknownActivation(name):
            return "unknown activation '\(name)'; expected one of \(Activation.allCases.map(\.rawValue).joined(separator: ", "))"
        case let .invalidOption(name, reason): return "invalid \(name): \(reason)"
        }
    }
}

/// A fully connected network of any depth, described by its layer sizes — the course's
/// 1-hidden-layer network (`[2, 32, 2]`) or a deep one (`[784, 100, 100, 100, 10]`).
public struct MultilayerPerceptronArchitecture: Sendable, Hashable, Codable {
    /// Input size, hidden sizes…, output size.
    public var sizes: [Int]
    /// The hidden non-linearity (the output layer is linear: its non-linearity lives in the loss).
    public var activation: Activation
    /// Batch normalization after every hidden affine layer, before the non-linearity (as in
    /// Ioffe & Szegedy's MNIST network).
    public var batchNorm: Bool
    /// Dropout probability after every hidden non-linearity (0: none).
    public var dropout: Float
    /// Standard deviation of Gaussian noise added to the input in training (0: none).
    public var inputNoise: Float
    /// Weight initialization; nil picks ``Initializer/recommended(for:)``.
    public var initializer: Initializer?

    /// Validates a description; throws when it could not build a network.
    public init(sizes: [Int], activation: Activation = .relu, batchNorm: Bool = false,
                dropout: Float = 0, inputNoise: Float = 0, initializer: Initializer? = nil) throws(ModelError) {
        let text = sizes.map(String.init).joined(separator: ",")
        guard sizes.count >= 2 else {
            throw .invalidLayerList(text, reason: "need at least an input and an output size")
        }
        if let bad = sizes.first(where: { $0 <= 0 }) {
            throw .invalidLayerList(text, reason: "size \(bad) is not positive")
        }
        // Sizes come from flags and from files: bound them before anything multiplies them
        // (each ≤ the cap, so one product fits in Int and the running total cannot overflow).
        let cap = Self.maximumParameterCount
        var total = 0
        for (fanIn, fanOut) in zip(sizes, sizes.dropFirst()) {
            guard fanIn <= cap, fanOut <= cap else {
                throw .invalidLayerList(text, reason: "a layer of more than \(cap) units")
            }
            total += fanIn * fanOut + fanOut
            guard total <= cap else {
                throw .invalidLayerList(text, reason: "more than \(cap) parameters (8 GiB of weights)")
            }
        }
        guard dropout >= 0 && dropout < 1 else {
            throw .invalidOption("dropout", reason: "probability \(dropout) must be in [0, 1)")
        }
        guard inputNoise >= 0 && inputNoise.isFinite else {
            throw .invalidOption("input noise", reason: "σ \(inputNoise) must be a finite number ≥ 0")
        }
        self.sizes = sizes
        self.activation = activation
        self.batchNorm = batchNorm
        self.dropout = dropout
        self.inputNoise = inputNoise
        self.initializer = initializer
    }

    /// The most parameters a description may ask for: 2³¹ (8 GiB of Float32 weights), far beyond
    /// what this CPU trains, and small enough that a size read from a file or a flag is refused
    /// before it can overflow a shape or exhaust memory.
    public static let maximumParameterCount = 1 << 31

    private enum CodingKeys: String, CodingKey {
        case sizes, activation, batchNorm, dropout, inputNoise, initializer
    }

    /// Decodes a description (a checkpoint's metadata) through the validating initializer, so a
    /// file cannot describe a network that `init` would refuse.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(sizes: c.decode([Int].self, forKey: .sizes),
                          activation: c.decode(Activation.self, forKey: .activation),
                          batchNorm: c.decode(Bool.self, forKey: .batchNorm),
                          dropout: c.decode(Float.self, forKey: .dropout),
                          inputNoise: c.decode(Float.self, forKey: .inputNoise),
                          initializer: c.decodeIfPresent(Initializer.self, forKey: .initializer))
        } catch let error as ModelError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: error.description))
        }
    }

    /// Parses a comma-separated layer list such as `784,256,256,10`.
    public static func parseSizes(_ text: String) throws(ModelError) -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var sizes: [Int] = []
        for part in parts {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let n = Int(trimmed) else {
                throw .invalidLayerList(text, reason: "'\(trimmed)' is not a whole number")
            }
            sizes.append(n)
        }
        return sizes
    }

    /// Parses an activation name (`relu`, `sigmoid`, `tanh`, `leakyReLU` or `leaky-relu`, …).
    public static func parseActivation(_ name: String) throws(ModelError) -> Activation {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "")
        guard let match = Activation.allCases.first(where: { $0.rawValue.lowercased() == key }) else {
            throw .unknownActivation(name)
        }
        return match
    }

    /// The number of hidden layers.
    public var depth: Int { sizes.count - 2 }

    /// Trainable parameters of the network this describes (weights and biases, and BatchNorm's
    /// scale and shift per hidden unit), without building it. Cannot overflow: `init` bounded
    /// the sizes.
    public var parameterCount: Int {
        var count = 0
        for (inputs, outputs) in zip(sizes, sizes.dropFirst()) { count += (inputs + 1) * outputs }
        if batchNorm { count += 2 * sizes.dropFirst().dropLast().reduce(0, +) }
        return count
    }

    /// Builds the network as a ``Sequential`` whose indices match the equivalent PyTorch
    /// `nn.Sequential` (noise, then per hidden layer: Linear, [BatchNorm1d], activation,
    /// [Dropout]; then the output Linear).
    public func build(seed: UInt64) -> Sequential {
        var generator = RandomGenerator(seed: seed)
        let hiddenInit = initializer ?? .recommended(for: activation)
        var layers: [any Module] = []
        if inputNoise > 0 { layers.append(GaussianNoise(standardDeviation: inputNoise, seed: seed &+ 1)) }
        for i in 0..<(sizes.count - 2) {
            layers.append(Linear(sizes[i], sizes[i + 1], initializer: hiddenInit, generator: &generator))
            if batchNorm { layers.append(BatchNorm1d(sizes[i + 1])) }
            layers.append(ActivationLayer(activation))
            if dropout > 0 { layers.append(Dropout(dropout, seed: seed &+ UInt64(100 + i))) }
        }
        let n = sizes.count
        layers.append(Linear(sizes[n - 2], sizes[n - 1], initializer: initializer ?? .glorotUniform, generator: &generator))
        return Sequential(layers)
    }
}

/// The earlier name of ``MultilayerPerceptronArchitecture``: a description, not the network
/// itself (that is the ``Sequential`` that `build(seed:)` returns), now named like its siblings
/// ``EnsembleArchitecture`` and ``MixtureOfExpertsArchitecture``.
@available(*, deprecated, renamed: "MultilayerPerceptronArchitecture")
public typealias MultilayerPerceptron = MultilayerPerceptronArchitecture
