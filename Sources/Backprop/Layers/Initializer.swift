/// How a weight matrix of shape [fanOut, fanIn] is initialized.
///
/// - Glorot/Xavier (Glorot & Bengio 2010) keeps activation variance roughly constant through
///   sigmoid and tanh layers: uniform on ±√(6/(fanIn+fanOut)), or normal with
///   σ = √(2/(fanIn+fanOut)).
/// - He/Kaiming (He et al. 2015) compensates for ReLU halving the variance: normal with
///   σ = √(2/fanIn), or uniform on ±√(6/fanIn).
/// - `normal(standardDeviation:)` is the small Gaussian of older papers (Ioffe & Szegedy's MNIST
///   network), `zeros` is for biases.
public enum Initializer: Sendable, Hashable, Codable {
    /// Uniform on ±√(6/(fanIn + fanOut)) (Glorot & Bengio 2010): for sigmoid and tanh layers.
    case glorotUniform
    /// Normal with σ = √(2/(fanIn + fanOut)).
    case glorotNormal
    /// Uniform on ±√(6/fanIn) (He et al. 2015): for ReLU layers.
    case heUniform
    /// Normal with σ = √(2/fanIn): for ReLU layers.
    case heNormal
    /// Normal with the given σ, the small Gaussian of older papers.
    case normal(standardDeviation: Float)
    /// Uniform on ±`bound`.
    case uniform(bound: Float)
    /// Every element 0 (biases; a weight matrix of zeros gives every unit the same gradient).
    case zeros

    /// The initializer that suits a hidden activation: He for the ReLU family, Glorot otherwise.
    public static func recommended(for activation: Activation) -> Initializer {
        switch activation {
        case .relu, .leakyReLU, .elu, .gelu: return .heNormal
        default: return .glorotUniform
        }
    }

    /// A tensor of `shape` initialized by this rule; fan-in is the last dimension, fan-out the
    /// first (PyTorch's Linear layout).
    public func make(_ shape: [Int], using generator: inout RandomGenerator) -> Tensor {
        let fanIn = Float(shape.last ?? 1)
        let fanOut = Float(shape.first ?? 1)
        switch self {
        case .glorotUniform:
            let a = (6 / (fanIn + fanOut)).squareRoot()
            return .uniform(shape, in: -a...a, using: &generator)
        case .glorotNormal:
            return .normal(shape, standardDeviation: (2 / (fanIn + fanOut)).squareRoot(), using: &generator)
        case .heUniform:
            let a = (6 / fanIn).squareRoot()
            return .uniform(shape, in: -a...a, using: &generator)
        case .heNormal:
            return .normal(shape, standardDeviation: (2 / fanIn).squareRoot(), using: &generator)
        case let .normal(sigma):
            return .normal(shape, standardDeviation: sigma, using: &generator)
        case let .uniform(bound):
            return .uniform(shape, in: -bound...bound, using: &generator)
        case .zeros:
            return .zeros(shape)
        }
    }
}
