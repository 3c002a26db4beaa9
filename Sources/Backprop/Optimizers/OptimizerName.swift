/// The optimizers by name, for the command line (`backprop train --optimizer NAME`) and for
/// configuration files: every algorithm of Ruder's overview, plus AdamW.
///
/// Hyper-parameter keys (``hyperParameterKeys``), all optional, defaults from each rule's
/// documentation:
///
/// | name       | keys                                          |
/// |------------|-----------------------------------------------|
/// | `sgd`      | `weight-decay`                                |
/// | `momentum` | `momentum` (γ), `weight-decay`                 |
/// | `nesterov` | `momentum` (γ), `weight-decay`                 |
/// | `adagrad`  | `epsilon`, `weight-decay`                     |
/// | `adadelta` | `rho`, `epsilon`, `weight-decay`              |
/// | `rmsprop`  | `rho` (Ruder's γ), `epsilon`, `weight-decay`  |
/// | `adam`, `nadam`, `amsgrad`, `adamw` | `beta1`, `beta2`, `epsilon`, `weight-decay` |
/// | `adamax`   | `beta1`, `beta2`, `weight-decay`              |
///
/// `weight-decay` is λ: coupled L2 (g ← g + λθ) for every optimizer except `adamw`, where it
/// is decoupled (θ ← θ − ηλθ, default 0.01). It applies to parameters that
/// ``Variable/decays`` only.
public enum OptimizerName: String, CaseIterable, Sendable, Codable {
    /// One case per ``OptimizerRule``: ``SGD``, ``Momentum``, ``Nesterov``, ``Adagrad``,
    /// ``Adadelta``, ``RMSprop``, ``Adam``, ``AdaMax``, ``Nadam``, ``AMSGrad`` and ``AdamW``; the
    /// raw value is the name on the command line.
    case sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamax, nadam, amsgrad, adamw

    /// The key of the weight-decay hyper-parameter, valid for every optimizer.
    public static let weightDecayKey = "weight-decay"

    /// The hyper-parameter keys this optimizer accepts, sorted.
    public var hyperParameterKeys: [String] {
        let own: [String]
        switch self {
        case .sgd: own = []
        case .momentum, .nesterov: own = ["momentum"]
        case .adagrad: own = ["epsilon"]
        case .adadelta, .rmsprop: own = ["epsilon", "rho"]
        case .adam, .nadam, .amsgrad, .adamw: own = ["beta1", "beta2", "epsilon"]
        case .adamax: own = ["beta1", "beta2"]
        }
        return (own + [Self.weightDecayKey]).sorted()
    }

    /// Parses a name, case-insensitively.
    public init(parsing text: String) throws(OptimizerError) {
        guard let name = OptimizerName(rawValue: text.lowercased()) else {
            throw .unknownOptimizer(text, valid: Self.allCases.map(\.rawValue))
        }
        self = name
    }

    /// The rule with the given hyper-parameters, the others at their defaults.
    ///
    /// - Throws: ``OptimizerError/unknownHyperParameter(_:optimizer:valid:)`` for a key this
    ///   optimizer does not take, ``OptimizerError/invalidHyperParameter(_:value:reason:)``
    ///   for a value out of range.
    public func makeRule(hyperParameters: [String: Float] = [:]) throws(OptimizerError) -> any OptimizerRule {
        let valid = hyperParameterKeys
        for key in hyperParameters.keys.sorted() where !valid.contains(key) {
            throw .unknownHyperParameter(key, optimizer: rawValue, valid: valid)
        }
        for (key, value) in hyperParameters.sorted(by: { $0.key < $1.key }) {
            try Self.validate(key, value, optimizer: self)
        }
        let h = hyperParameters
        switch self {
        case .sgd: return SGD()
        case .momentum: return Momentum(momentum: h["momentum"] ?? 0.9)
        case .nesterov: return Nesterov(momentum: h["momentum"] ?? 0.9)
        case .adagrad: return Adagrad(epsilon: h["epsilon"] ?? 1e-8)
        case .adadelta: return Adadelta(rho: h["rho"] ?? 0.95, epsilon: h["epsilon"] ?? 1e-6)
        case .rmsprop: return RMSprop(rho: h["rho"] ?? 0.9, epsilon: h["epsilon"] ?? 1e-8)
        case .adam:
            return Adam(beta1: h["beta1"] ?? 0.9, beta2: h["beta2"] ?? 0.999, epsilon: h["epsilon"] ?? 1e-8)
        case .adamax: return AdaMax(beta1: h["beta1"] ?? 0.9, beta2: h["beta2"] ?? 0.999)
        case .nadam:
            return Nadam(beta1: h["beta1"] ?? 0.9, beta2: h["beta2"] ?? 0.999, epsilon: h["epsilon"] ?? 1e-8)
        case .amsgrad:
            return AMSGrad(beta1: h["beta1"] ?? 0.9, beta2: h["beta2"] ?? 0.999, epsilon: h["epsilon"] ?? 1e-8)
        case .adamw:
            return AdamW(beta1: h["beta1"] ?? 0.9, beta2: h["beta2"] ?? 0.999, epsilon: h["epsilon"] ?? 1e-8,
                         weightDecay: h[Self.weightDecayKey] ?? 0.01)
        }
    }

    /// Range checks, so bad command-line values are reported instead of stopping in a rule's
    /// precondition.
    static func validate(_ key: String, _ value: Float, optimizer: OptimizerName) throws(OptimizerError) {
        guard value.isFinite else { throw .invalidHyperParameter(key, value: value, reason: "must be finite") }
        switch key {
        case "momentum", "rho", "beta1", "beta2":
            guard value >= 0 && value < 1 else {
                throw .invalidHyperParameter(key, value: value, reason: "must be in [0, 1)")
            }
        case "epsilon":
            if optimizer == .adadelta {
                guard value > 0 else { throw .invalidHyperParameter(key, value: value, reason: "must be positive") }
            } else {
                guard value >= 0 else { throw .invalidHyperParameter(key, value: value, reason: "must be non-negative") }
            }
        case weightDecayKey:
            guard value >= 0 else { throw .invalidHyperParameter(key, value: value, reason: "must be non-negative") }
        default:
            break
        }
    }
}

extension Optimizer {
    /// An optimizer by name, for the command line.
    ///
    /// - Parameters:
    ///   - name: an ``OptimizerName`` raw value (case-insensitive).
    ///   - parameters: the model's named parameters.
    ///   - learningRate: η; nil takes the algorithm's default (Adadelta needs none).
    ///   - hyperParameters: by the keys in ``OptimizerName``'s table; `weight-decay` applies to
    ///     parameters that ``Variable/decays``, coupled (L2) except for `adamw`.
    /// - Throws: ``OptimizerError`` for an unknown name, an unknown key (listing the valid
    ///   ones) or a value out of range.
    public static func make(named name: String, parameters: [(name: String, parameter: Variable)],
                            learningRate: Float? = nil,
                            hyperParameters: [String: Float] = [:]) throws(OptimizerError) -> Optimizer {
        let algorithm = try OptimizerName(parsing: name)
        if let learningRate, !(learningRate.isFinite && learningRate > 0) {
            throw .invalidHyperParameter("learning-rate", value: learningRate, reason: "must be positive and finite")
        }
        let rule = try algorithm.makeRule(hyperParameters: hyperParameters)
        var decay: WeightDecay? = nil
        if let lambda = hyperParameters[OptimizerName.weightDecayKey], algorithm != .adamw {
            decay = .coupled(lambda)
        }
        return Optimizer(parameters, rule: rule, learningRate: learningRate, weightDecay: decay)
    }
}
