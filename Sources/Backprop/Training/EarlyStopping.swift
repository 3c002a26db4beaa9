/// Stops training when a monitored validation metric has not improved for `patience` epochs,
/// and keeps a copy of the parameters from the best epoch to restore.
///
/// Why: training loss keeps falling after a network starts to overfit, while validation loss
/// turns up; the best generalizing weights are those of the validation minimum, so they are
/// snapshotted whenever the metric improves (cheaply: tensors are copy-on-write, so a snapshot
/// shares buffers until the optimizer next writes them).
///
/// Semantics (Keras's `EarlyStopping`): a value improves on the best when it is lower by more
/// than `minDelta` (``Mode/minimize``; higher, for ``Mode/maximize``). Each epoch without
/// improvement adds one to ``epochsWithoutImprovement``; training should stop once it reaches
/// `patience`. So with patience p ≥ 1 and the best epoch b, ``record(_:epoch:parameters:)``
/// returns true at epoch b + p. NaN never improves.
///
/// ``Trainer`` selects its model and stops with this type, one record per evaluation (so an
/// "epoch" here is an evaluation when it evaluates every few steps): ``Mode/maximize`` on
/// validation accuracy for classification, ``Mode/minimize`` on validation loss for
/// regression, without snapshots (it writes the best model to its run folder instead), and
/// continues a checkpointed run with
/// ``init(mode:minDelta:patience:bestValue:bestEpoch:epochsWithoutImprovement:)``.
public struct EarlyStopping: Sendable {
    /// Whether a smaller (loss) or larger (accuracy) metric is better.
    public enum Mode: String, Sendable, Codable {
        /// `minimize` for a loss (smaller is better), `maximize` for an accuracy.
        case minimize, maximize
    }

    /// Whether smaller or larger values of the monitored metric are better.
    public let mode: Mode
    /// How much better a value must be to count as an improvement (≥ 0).
    public let minDelta: Float
    /// Epochs without improvement tolerated before stopping (≥ 0; 0 stops at the first
    /// record), or nil to select the best epoch without ever stopping.
    public let patience: Int?
    /// Whether to snapshot the parameters at the best epoch.
    public let keepsBestWeights: Bool

    /// The best value so far, or nil before the first record.
    public private(set) var bestValue: Float?
    /// The epoch of ``bestValue``.
    public private(set) var bestEpoch: Int?
    /// Epochs recorded since the last improvement.
    public private(set) var epochsWithoutImprovement: Int = 0
    /// The parameters at ``bestEpoch`` by name (empty unless `keepsBestWeights`).
    public private(set) var bestWeights: [String: Tensor] = [:]

    /// A tracker for a metric recorded once per evaluation.
    ///
    /// - Parameters:
    ///   - mode: ``Mode/minimize`` for a loss, ``Mode/maximize`` for an accuracy.
    ///   - minDelta: how much better a value must be to count as an improvement; non-negative.
    ///   - patience: evaluations without improvement before stopping; nil never stops, only
    ///     selects the best epoch.
    ///   - keepsBestWeights: snapshot the parameters at every improvement, so they can be restored.
    public init(mode: Mode = .minimize, minDelta: Float = 0, patience: Int?, keepsBestWeights: Bool = true) {
        precondition(patience.map { $0 >= 0 } ?? true, "EarlyStopping: patience must be non-negative, got \(patience ?? 0)")
        precondition(minDelta >= 0 && minDelta.isFinite, "EarlyStopping: minDelta must be non-negative, got \(minDelta)")
        self.mode = mode
        self.minDelta = minDelta
        self.patience = patience
        self.keepsBestWeights = keepsBestWeights
    }

    /// Early stopping that continues where a stopped run left off: its best value and that
    /// value's epoch (nil before the first record) and its epochs since the last improvement,
    /// e.g. from a training checkpoint. It has no snapshot of the best weights (the run saved
    /// those itself), so it keeps none.
    public init(mode: Mode = .minimize, minDelta: Float = 0, patience: Int?,
                bestValue: Float?, bestEpoch: Int?, epochsWithoutImprovement: Int) {
        self.init(mode: mode, minDelta: minDelta, patience: patience, keepsBestWeights: false)
        self.bestValue = bestValue
        self.bestEpoch = bestEpoch
        self.epochsWithoutImprovement = epochsWithoutImprovement
    }

    /// Whether patience ran out: ``epochsWithoutImprovement`` has reached `patience`.
    public var shouldStop: Bool {
        patience.map { epochsWithoutImprovement >= $0 } ?? false
    }

    /// Whether `value` improves on the best so far.
    public func isImprovement(_ value: Float) -> Bool {
        guard !value.isNaN else { return false }
        guard let best = bestValue else { return true }
        switch mode {
        case .minimize: return value < best - minDelta
        case .maximize: return value > best + minDelta
        }
    }

    /// Records one epoch's metric; snapshots `parameters` when it improves.
    ///
    /// - Parameters:
    ///   - value: the epoch's metric; NaN never counts as an improvement.
    ///   - epoch: the epoch it was measured after.
    ///   - parameters: what to snapshot (a model's ``Module/namedParameters()``, plus
    ///     ``Module/namedBuffers()`` to include BatchNorm's running statistics).
    /// - Returns: ``shouldStop``: whether training should stop now.
    @discardableResult
    public mutating func record(_ value: Float, epoch: Int,
                                parameters: [(name: String, parameter: Variable)]) -> Bool {
        if isImprovement(value) {
            bestValue = value
            bestEpoch = epoch
            epochsWithoutImprovement = 0
            if keepsBestWeights {
                bestWeights = Dictionary(parameters.map { ($0.name, $0.parameter.value) },
                                         uniquingKeysWith: { first, _ in first })
            }
        } else {
            epochsWithoutImprovement += 1
        }
        return shouldStop
    }

    /// Records one epoch's metric for a module, snapshotting its parameters and buffers.
    @discardableResult
    public mutating func record(_ value: Float, epoch: Int, module: any Module) -> Bool {
        record(value, epoch: epoch, parameters: Self.state(of: module))
    }

    /// Writes the best snapshot back into the parameters.
    ///
    /// - Throws: ``EarlyStoppingError`` when nothing was snapshotted, or a parameter is missing
    ///   from the snapshot or has another shape — checked for all before any is written.
    public func restoreBestWeights(into parameters: [(name: String, parameter: Variable)]) throws(EarlyStoppingError) {
        guard keepsBestWeights, bestEpoch != nil else { throw .noSnapshot }
        for (name, p) in parameters {
            guard let saved = bestWeights[name] else { throw .missingParameter(name) }
            guard saved.shape == p.value.shape else {
                throw .shapeMismatch(parameter: name, expected: p.value.shape, found: saved.shape)
            }
        }
        for (name, p) in parameters {
            if let saved = bestWeights[name] { p.value = saved }
        }
    }

    /// Writes the best snapshot back into a module's parameters and buffers.
    public func restoreBestWeights(into module: any Module) throws(EarlyStoppingError) {
        try restoreBestWeights(into: Self.state(of: module))
    }

    static func state(of module: any Module) -> [(name: String, parameter: Variable)] {
        module.namedParameters() + module.namedBuffers().map { (name: $0.name, parameter: $0.buffer) }
    }
}

/// Why best weights could not be restored.
public enum EarlyStoppingError: Error, Equatable, CustomStringConvertible {
    /// Restoring was asked for before any value was recorded, or without `keepsBestWeights`.
    case noSnapshot
    /// The model has a parameter that the snapshot does not.
    case missingParameter(String)
    /// A parameter's shape differs from the snapshot's.
    case shapeMismatch(parameter: String, expected: [Int], found: [Int])

    /// A one-line message naming the missing or misshapen parameter.
    public var description: String {
        switch self {
        case .noSnapshot:
            return "early stopping has no best weights (nothing recorded, or keepsBestWeights is false)"
        case .missingParameter(let name):
            return "early stopping's snapshot has no parameter '\(name)'"
        case let .shapeMismatch(name, expected, found):
            return "early stopping's snapshot of '\(name)' has shape \(found), expected \(expected)"
        }
    }
}
