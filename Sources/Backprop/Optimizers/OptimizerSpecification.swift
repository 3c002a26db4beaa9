/// Which optimizer a training run uses, as a value: the algorithm, η, and the hyper-parameters
/// that differ from the algorithm's defaults.
///
/// This is what ``TrainingConfiguration/optimizer`` holds and what checkpoints record. Make one
/// from a rule value, so every hyper-parameter is a typed argument checked by the rule's
/// initializer:
/// ```swift
/// configuration.optimizer = OptimizerSpecification(Adam(beta2: 0.99), learningRate: 0.003)
/// configuration.optimizer = OptimizerSpecification(Momentum(momentum: 0.9), learningRate: 0.05)
/// configuration.optimizer = OptimizerSpecification(name: .adadelta)   // no η: Adadelta needs none
/// ```
/// or parse the one-string form a command line passes, `NAME[:key=value,…]`
/// (`adam:lr=0.003,beta2=0.99`; `lr` or `learning-rate` is η, the other keys are
/// ``OptimizerName/hyperParameterKeys``) with ``init(parsing:)``. The string is only an input
/// format: nothing parses it again after that.
///
/// Encoded (`Codable`) as its fields; decoding also accepts the one-string form, which files
/// written by earlier versions hold.
public struct OptimizerSpecification: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The algorithm.
    public var name: OptimizerName
    /// η; nil takes the rule's ``OptimizerRule/defaultLearningRate``.
    public var learningRate: Float?
    /// By ``OptimizerName/hyperParameterKeys``; absent keys take the rule's defaults.
    public var hyperParameters: [String: Float]

    /// A specification from its parts, unchecked (``validate()`` checks it; ``Trainer`` does
    /// before the first step).
    ///
    /// - Parameters:
    ///   - name: the algorithm.
    ///   - learningRate: η, or nil for the rule's default.
    ///   - hyperParameters: values by ``OptimizerName/hyperParameterKeys``; missing keys take
    ///     the rule's defaults.
    public init(name: OptimizerName, learningRate: Float? = nil, hyperParameters: [String: Float] = [:]) {
        self.name = name
        self.learningRate = learningRate
        self.hyperParameters = hyperParameters
    }

    /// The specification of a rule value of Backprop's (its ``OptimizerRule/name`` and
    /// ``OptimizerRule/hyperParameters``), e.g. `OptimizerSpecification(Nadam(beta1: 0.95))`.
    ///
    /// - Precondition: `rule` is one of Backprop's rules (its name is an ``OptimizerName``): a
    ///   rule of your own has no name to be recorded under; give it to ``Optimizer`` directly.
    ///
    /// - Parameters:
    ///   - rule: the algorithm with its hyper-parameters.
    ///   - learningRate: η, or nil for the rule's default.
    public init(_ rule: some OptimizerRule, learningRate: Float? = nil) {
        guard let name = OptimizerName(rawValue: rule.name) else {
            preconditionFailure("OptimizerSpecification: '\(rule.name)' is not one of Backprop's optimizers (\(OptimizerName.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.init(name: name, learningRate: learningRate, hyperParameters: rule.hyperParameters)
    }

    /// Parses and validates `NAME[:key=value,…]`.
    ///
    /// - Throws: ``OptimizerError/malformedSpecification(_:reason:)`` for text that is not of
    ///   that form or a value that is not a number, ``OptimizerError/unknownOptimizer(_:valid:)``,
    ///   and the errors of ``OptimizerName/makeRule(hyperParameters:)`` for keys and values.
    public init(parsing text: String) throws(OptimizerError) {
        let head: String, pairs: [(String, String)]
        do {
            (head, pairs) = try parseKeyValueSpecification(text)
        } catch {
            throw .malformedSpecification(text, reason: error.reason)
        }
        let name = try OptimizerName(parsing: head)
        var learningRate: Float? = nil
        var hyper: [String: Float] = [:]
        for (key, raw) in pairs {
            guard let value = Float(raw) else {
                throw .malformedSpecification(text, reason: "'\(raw)' is not a number (key '\(key)')")
            }
            if key == "lr" || key == "learning-rate" {
                guard learningRate == nil else { throw .malformedSpecification(text, reason: "the learning rate given twice") }
                learningRate = value
            } else {
                guard hyper[key] == nil else { throw .malformedSpecification(text, reason: "key '\(key)' given twice") }
                hyper[key] = value
            }
        }
        self.init(name: name, learningRate: learningRate, hyperParameters: hyper)
        try validate()   // unknown keys and bad values are reported now, not at the first step
    }

    /// Checks η and every hyper-parameter.
    ///
    /// - Throws: ``OptimizerError/invalidHyperParameter(_:value:reason:)`` for η that is not
    ///   positive and finite or a value out of its range,
    ///   ``OptimizerError/unknownHyperParameter(_:optimizer:valid:)`` for a key the algorithm
    ///   does not take.
    public func validate() throws(OptimizerError) {
        if let learningRate, !(learningRate.isFinite && learningRate > 0) {
            throw .invalidHyperParameter("learning-rate", value: learningRate, reason: "must be positive and finite")
        }
        _ = try name.makeRule(hyperParameters: hyperParameters)
    }

    /// The same algorithm and hyper-parameters with another η.
    public func withLearningRate(_ learningRate: Float?) -> OptimizerSpecification {
        var copy = self
        copy.learningRate = learningRate
        return copy
    }

    /// The optimizer over the given parameters, with weight decay λ on those that
    /// ``Variable/decays`` when `weightDecay` > 0 (coupled L2, decoupled for AdamW; it
    /// replaces a `weight-decay` hyper-parameter).
    public func makeOptimizer(_ parameters: [(name: String, parameter: Variable)],
                              weightDecay: Float = 0) throws(OptimizerError) -> Optimizer {
        var hyper = hyperParameters
        if weightDecay > 0 { hyper[OptimizerName.weightDecayKey] = weightDecay }
        return try Optimizer.make(named: name.rawValue, parameters: parameters, learningRate: learningRate,
                                  hyperParameters: hyper)
    }

    /// The one-string form, `NAME[:lr=η,key=value,…]` with keys sorted, which
    /// ``init(parsing:)`` reads back to an equal value (Float's description round-trips).
    public var description: String {
        var pairs: [String] = learningRate.map { ["lr=\($0)"] } ?? []
        pairs += hyperParameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return pairs.isEmpty ? name.rawValue : "\(name.rawValue):\(pairs.joined(separator: ","))"
    }

    private enum CodingKeys: String, CodingKey { case name, learningRate, hyperParameters }

    /// Reads a specification from its fields, or from the one-string form earlier versions
    /// wrote (parsed and checked as ``init(parsing:)`` does).
    ///
    /// - Throws: `DecodingError` for a string that is not a valid specification.
    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            do { self = try OptimizerSpecification(parsing: text) } catch {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
            }
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(OptimizerName.self, forKey: .name),
                  learningRate: try container.decodeIfPresent(Float.self, forKey: .learningRate),
                  hyperParameters: try container.decodeIfPresent([String: Float].self, forKey: .hyperParameters) ?? [:])
    }

    /// Writes the name, η (when given) and the hyper-parameters (when any).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encodeIfPresent(learningRate, forKey: .learningRate)
        if !hyperParameters.isEmpty { try container.encode(hyperParameters, forKey: .hyperParameters) }
    }
}
