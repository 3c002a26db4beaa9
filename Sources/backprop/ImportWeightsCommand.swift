import ArgumentParser
import Backprop
import Foundation

/// `backprop import-weights`: a PyTorch `nn.Sequential` state dict (safetensors) as a Backprop
/// model file.
struct ImportWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-weights",
        abstract: "Import a PyTorch nn.Sequential state dict saved as safetensors into a Backprop model file.",
        discussion: """
            The file must hold exactly the tensors of the network that --layers, --activation, --batchnorm \
            and --dropout describe, under PyTorch's names: Linear i → 'i.weight' [out, in] and 'i.bias'; \
            BatchNorm1d → weight, bias, running_mean, running_var (num_batches_tracked optional); \
            activations and Dropout hold no tensors but take an index. For example \
            nn.Sequential(nn.Linear(784,100), nn.ReLU(), nn.Linear(100,10)) is --layers 784,100,10.
            """
    )

    @Argument(help: "A .safetensors file (e.g. from safetensors.torch.save_file(model.state_dict(), FILE)).")
    var file: String

    @Option(help: "Layer sizes from input to output, e.g. 784,100,10.")
    var layers: String

    @Option(help: "Hidden non-linearity: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var activation: String = "relu"

    @Flag(help: "The network has BatchNorm1d after every hidden Linear (before the activation).")
    var batchnorm = false

    @Option(help: "The network has Dropout(P) after every hidden activation (shifts the layer indices).")
    var dropout: Float = 0

    @Option(help: "The Backprop model file to write.")
    var out: String

    func run() throws {
        do {
            let architecture = try MultilayerPerceptronArchitecture(
                sizes: MultilayerPerceptronArchitecture.parseSizes(layers), activation: MultilayerPerceptronArchitecture.parseActivation(activation),
                batchNorm: batchnorm, dropout: dropout)
            let model = try WeightImport.network(architecture, contentsOf: file)
            try WeightImport.save(model, architecture: architecture, to: out)
            // Read back through the loader every command uses, so a file this writes is one they accept.
            _ = try ModelFile.read(out)
            print("\(out): \(architecture.sizes.map(String.init).joined(separator: "-")) \(architecture.activation.rawValue), \(model.parameterCount) parameters from \(file)")
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
