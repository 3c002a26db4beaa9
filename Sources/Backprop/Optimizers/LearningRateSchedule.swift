#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How the learning rate changes over training. t is the number of optimizer steps already
/// taken (0 for the first step), η the base rate.
///
/// | schedule | η_t | spec string |
/// |---|---|---|
/// | constant | η | `constant` |
/// | step | η · γ^⌊t/k⌋ | `step:every=k,gamma=γ` |
/// | exponential | η · γᵗ | `exponential:gamma=γ` |
/// | inverse time | η / (1 + k·t) | `inverse-time:k=k` |
/// | cosine with warm-up | η·(t+1)/w for t < w, then η_min + (η − η_min)·½(1 + cos(π·(t−w)/(T−w))), η_min from T on | `cosine:warmup=w,total=T[,min=η_min]` |
/// | reduce on plateau | η · factorⁿ after n reductions, driven by validation losses | `plateau[:factor=,patience=,threshold=,cooldown=,min=]` |
///
/// Why these: decaying η trades the early speed of a large step for the late precision of a
/// small one (SGD converges only if Ση_t = ∞ and Ση_t² < ∞, which inverse time satisfies);
/// warm-up keeps adaptive methods from taking large steps while their second-moment estimates
/// are still noisy; reduce-on-plateau anneals only when validation loss says progress stopped.
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    /// η at every step.
    case constant
    /// Multiply by γ every k steps.
    case step(every: Int, gamma: Float)
    /// Multiply by γ every step.
    case exponential(gamma: Float)
    /// η / (1 + k·t).
    case inverseTime(k: Float)
    /// Linear warm-up over `warmupSteps` steps to η, then half a cosine down to
    /// `minimumLearningRate` at `totalSteps`. The warm-up starts at η/w rather than 0 so the
    /// first step is not wasted.
    case cosine(warmupSteps: Int, totalSteps: Int, minimumLearningRate: Float)
    /// Reduce η when validation loss stops improving (stateful: use ``LearningRateScheduler``).
    case reduceOnPlateau(ReduceOnPlateau)

    /// The names accepted by ``init(parsing:)``.
    public static let names = ["constant", "step", "exponential", "inverse-time", "cosine", "plateau"]

    /// η_t for the step-driven schedules. For ``reduceOnPlateau(_:)`` it is `base`: the
    /// reductions live in a ``LearningRateScheduler``.
    public func learningRate(base: Float, step t: Int) -> Float {
        precondition(t >= 0, "LearningRateSchedule: negative step \(t)")
        let eta = Double(base), t = Double(t)
        switch self {
        case .constant, .reduceOnPlateau:
            return base
        case let .step(every, gamma):
            return Float(eta * pow(Double(gamma), (t / Double(every)).rounded(.down)))
        case let .exponential(gamma):
            return Float(eta * pow(Double(gamma), t))
        case let .inverseTime(k):
            return Float(eta / (1 + Double(k) * t))
        case let .cosine(warmup, total, minimum):
            if t < Double(warmup) { return Float(eta * (t + 1) / Double(warmup)) }
            if t >= Double(total) { return minimum }
            let progress = (t - Double(warmup)) / Double(total - warmup)
            let low = Double(minimum)
            return Float(low + (eta - low) * 0.5 * (1 + cos(Double.pi * progress)))
        }
    }

    /// Parses a spec string such as `step:every=1000,gamma=0.5` or `cosine:warmup=500,total=10000`
    /// (see the table above), checking every value.
    public init(parsing text: String) throws(LearningRateScheduleError) {
        let head: String, pairs: [(String, String)]
        do {
            (head, pairs) = try parseKeyValueSpecification(text)
        } catch {
            throw .malformed(text, reason: error.reason)
        }
        let name = head.lowercased()
        let keys: [String]
        switch name {
        case "constant": keys = []
        case "step": keys = ["every", "gamma"]
        case "exponential": keys = ["gamma"]
        case "inverse-time": keys = ["k"]
        case "cosine": keys = ["min", "total", "warmup"]
        case "plateau", "reduce-on-plateau": keys = ["cooldown", "factor", "min", "patience", "threshold"]
        default: throw .unknownSchedule(head, valid: Self.names)
        }
        var values: [String: Double] = [:]
        for (key, raw) in pairs {
            guard keys.contains(key) else { throw .unknownKey(key, schedule: name, valid: keys) }
            guard values[key] == nil else { throw .malformed(text, reason: "key '\(key)' given twice") }
            guard let value = Double(raw), value.isFinite else {
                throw .invalidValue(key, value: raw, reason: "not a finite number")
            }
            values[key] = value
        }
        func required(_ key: String) throws(LearningRateScheduleError) -> Double {
            guard let v = values[key] else { throw .missingKey(key, schedule: name) }
            return v
        }
        func integer(_ key: String, _ v: Double, minimum: Int) throws(LearningRateScheduleError) -> Int {
            guard v == v.rounded(), v >= Double(minimum), v <= Double(Int32.max) else {
                throw .invalidValue(key, value: "\(v)", reason: "must be a whole number ≥ \(minimum)")
            }
            return Int(v)
        }
        func fraction(_ key: String, _ v: Double, includingOne: Bool) throws(LearningRateScheduleError) -> Float {
            guard v > 0, includingOne ? v <= 1 : v < 1 else {
                throw .invalidValue(key, value: "\(v)", reason: includingOne ? "must be in (0, 1]" : "must be in (0, 1)")
            }
            return Float(v)
        }
        func nonNegative(_ key: String, _ v: Double) throws(LearningRateScheduleError) -> Float {
            guard v >= 0 else { throw .invalidValue(key, value: "\(v)", reason: "must be non-negative") }
            return Float(v)
        }
        switch name {
        case "constant":
            self = .constant
        case "step":
            self = .step(every: try integer("every", try required("every"), minimum: 1),
                         gamma: try fraction("gamma", try required("gamma"), includingOne: true))
        case "exponential":
            self = .exponential(gamma: try fraction("gamma", try required("gamma"), includingOne: true))
        case "inverse-time":
            self = .inverseTime(k: try nonNegative("k", try required("k")))
        case "cosine":
            let warmup = try integer("warmup", values["warmup"] ?? 0, minimum: 0)
            let total = try integer("total", try required("total"), minimum: 1)
            guard total > warmup else {
                throw .invalidValue("total", value: "\(total)", reason: "must exceed warmup (\(warmup))")
            }
            self = .cosine(warmupSteps: warmup, totalSteps: total,
                           minimumLearningRate: try nonNegative("min", values["min"] ?? 0))
        default:
            var p = ReduceOnPlateau()
            if let v = values["factor"] { p.factor = try fraction("factor", v, includingOne: false) }
            if let v = values["patience"] { p.patience = try integer("patience", v, minimum: 0) }
            if let v = values["threshold"] { p.threshold = try nonNegative("threshold", v) }
            if let v = values["cooldown"] { p.cooldown = try integer("cooldown", v, minimum: 0) }
            if let v = values["min"] { p.minimumLearningRate = try nonNegative("min", v) }
            self = .reduceOnPlateau(p)
        }
    }
}

extension LearningRateSchedule: CustomStringConvertible {
    /// Checks every value, for a schedule built from its cases directly (``init(parsing:)``
    /// checks as it reads); ``Trainer`` calls it before the first step.
    ///
    /// - Throws: ``LearningRateScheduleError/invalidValue(_:value:reason:)`` naming the key
    ///   of the first value out of range.
    public func validate() throws(LearningRateScheduleError) {
        func check(_ ok: Bool, _ key: String, _ value: some Numeric, _ reason: String) throws(LearningRateScheduleError) {
            if !ok { throw .invalidValue(key, value: "\(value)", reason: reason) }
        }
        switch self {
        case .constant:
            break
        case let .step(every, gamma):
            try check(every >= 1, "every", every, "must be a whole number ≥ 1")
            try check(gamma > 0 && gamma <= 1, "gamma", gamma, "must be in (0, 1]")
        case let .exponential(gamma):
            try check(gamma > 0 && gamma <= 1, "gamma", gamma, "must be in (0, 1]")
        case let .inverseTime(k):
            try check(k >= 0 && k.isFinite, "k", k, "must be non-negative")
        case let .cosine(warmup, total, minimum):
            try check(warmup >= 0, "warmup", warmup, "must be a whole number ≥ 0")
            try check(total > warmup, "total", total, "must exceed warmup (\(warmup))")
            try check(minimum >= 0 && minimum.isFinite, "min", minimum, "must be non-negative")
        case let .reduceOnPlateau(p):
            try check(p.factor > 0 && p.factor < 1, "factor", p.factor, "must be in (0, 1)")
            try check(p.patience >= 0, "patience", p.patience, "must be a whole number ≥ 0")
            try check(p.threshold >= 0 && p.threshold.isFinite, "threshold", p.threshold, "must be non-negative")
            try check(p.cooldown >= 0, "cooldown", p.cooldown, "must be a whole number ≥ 0")
            try check(p.minimumLearningRate >= 0 && p.minimumLearningRate.isFinite, "min", p.minimumLearningRate, "must be non-negative")
        }
    }

    /// The spec string of the table above, which ``init(parsing:)`` reads back to an equal
    /// schedule, e.g. `step:every=1000,gamma=0.5`.
    public var description: String {
        switch self {
        case .constant: return "constant"
        case let .step(every, gamma): return "step:every=\(every),gamma=\(gamma)"
        case let .exponential(gamma): return "exponential:gamma=\(gamma)"
        case let .inverseTime(k): return "inverse-time:k=\(k)"
        case let .cosine(warmup, total, minimum):
            return "cosine:warmup=\(warmup),total=\(total)" + (minimum == 0 ? "" : ",min=\(minimum)")
        case let .reduceOnPlateau(p):
            return "plateau:factor=\(p.factor),patience=\(p.patience),threshold=\(p.threshold),cooldown=\(p.cooldown)"
                + (p.minimumLearningRate == 0 ? "" : ",min=\(p.minimumLearningRate)")
        }
    }
}

/// Reduce-on-plateau settings, PyTorch's `ReduceLROnPlateau` in `min` mode with a relative
/// threshold: a validation loss L improves on the best so far when L < best · (1 − threshold)
/// (for a negative best, L < best − |best|·threshold). After more than `patience` epochs
/// without improvement η becomes max(η·factor, min), the count restarts, and the next
/// `cooldown` epochs are not counted.
public struct ReduceOnPlateau: Sendable, Equatable, Codable {
    /// The factor η is multiplied by at a reduction, in (0, 1).
    public var factor: Float = 0.1
    /// Epochs without improvement tolerated before a reduction.
    public var patience: Int = 10
    /// The relative improvement that counts: L < best · (1 − threshold).
    public var threshold: Float = 1e-4
    /// Epochs after a reduction that are not counted.
    public var cooldown: Int = 0
    /// The floor η is never reduced below.
    public var minimumLearningRate: Float = 0

    /// Settings with PyTorch's defaults unless given.
    ///
    /// - Precondition: `factor` in (0, 1); the others non-negative.
    public init(factor: Float = 0.1, patience: Int = 10, threshold: Float = 1e-4, cooldown: Int = 0,
                minimumLearningRate: Float = 0) {
        precondition(factor > 0 && factor < 1, "ReduceOnPlateau: factor must be in (0, 1), got \(factor)")
        precondition(patience >= 0 && cooldown >= 0 && threshold >= 0 && minimumLearningRate >= 0,
                     "ReduceOnPlateau: patience, cooldown, threshold and min must be non-negative")
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.cooldown = cooldown
        self.minimumLearningRate = minimumLearningRate
    }
}

/// A schedule with its base rate and, for reduce-on-plateau, its state; `Codable` so a
/// checkpoint resumes it exactly.
///
/// Use: before each step, ``apply(to:)``; after each validation pass,
/// ``recordValidationLoss(_:)``.
public struct LearningRateScheduler: Sendable, Equatable, Codable {
    /// The schedule the rate follows.
    public let schedule: LearningRateSchedule
    /// η, the rate the schedule starts from.
    public let baseLearningRate: Float
    /// The current rate of a plateau schedule (η times the reductions so far).
    public private(set) var plateauLearningRate: Float
    /// The best validation loss so far (plateau schedules).
    public private(set) var bestLoss: Float = .infinity
    /// Epochs since the last improvement (plateau schedules).
    public private(set) var epochsWithoutImprovement: Int = 0
    /// Epochs of cooldown left (plateau schedules).
    public private(set) var cooldownLeft: Int = 0
    /// How many times the rate was reduced (plateau schedules).
    public private(set) var reductions: Int = 0

    /// A scheduler for `schedule` starting from `baseLearningRate`.
    ///
    /// - Precondition: `baseLearningRate` is non-negative and finite.
    public init(_ schedule: LearningRateSchedule, baseLearningRate: Float) {
        precondition(baseLearningRate >= 0 && baseLearningRate.isFinite,
                     "LearningRateScheduler: base rate must be non-negative and finite, got \(baseLearningRate)")
        self.schedule = schedule
        self.baseLearningRate = baseLearningRate
        self.plateauLearningRate = baseLearningRate
    }

    /// η_t for step t (steps already taken).
    public func learningRate(atStep t: Int) -> Float {
        if case .reduceOnPlateau = schedule { return plateauLearningRate }
        return schedule.learningRate(base: baseLearningRate, step: t)
    }

    /// Sets the optimizer's rate for its next step (t = its ``Optimizer/stepCount``).
    public func apply(to optimizer: Optimizer) {
        optimizer.learningRate = learningRate(atStep: optimizer.stepCount)
    }

    /// Feeds one epoch's validation loss to a plateau schedule (others ignore it).
    ///
    /// - Returns: whether the rate was reduced.
    @discardableResult
    public mutating func recordValidationLoss(_ loss: Float) -> Bool {
        guard case .reduceOnPlateau(let p) = schedule else { return false }
        let improved = bestLoss == .infinity ? !loss.isNaN : loss < bestLoss - abs(bestLoss) * p.threshold
        if improved {
            bestLoss = loss
            epochsWithoutImprovement = 0
        } else {
            epochsWithoutImprovement += 1
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            epochsWithoutImprovement = 0
        }
        guard epochsWithoutImprovement > p.patience else { return false }
        let reduced = max(plateauLearningRate * p.factor, p.minimumLearningRate)
        cooldownLeft = p.cooldown
        epochsWithoutImprovement = 0
        guard reduced < plateauLearningRate else { return false }
        plateauLearningRate = reduced
        reductions += 1
        return true
    }
}

/// A schedule spec string that could not be used.
public enum LearningRateScheduleError: Error, Equatable, CustomStringConvertible {
    /// A schedule name that does not exist; `valid` lists those that do.
    case unknownSchedule(String, valid: [String])
    /// A key the schedule does not take; `valid` lists those it does.
    case unknownKey(String, schedule: String, valid: [String])
    /// A key the schedule needs was not given.
    case missingKey(String, schedule: String)
    /// A value that does not parse or is out of range.
    case invalidValue(String, value: String, reason: String)
    /// A specification that is not `NAME[:key=value,…]`.
    case malformed(String, reason: String)

    /// A one-line message naming the schedule, the key or the value, and what is accepted.
    public var description: String {
        switch self {
        case let .unknownSchedule(name, valid):
            return "unknown learning-rate schedule '\(name)'; valid: \(valid.joined(separator: ", "))"
        case let .unknownKey(key, schedule, valid):
            let list = valid.isEmpty ? "none" : valid.joined(separator: ", ")
            return "schedule '\(schedule)' has no key '\(key)'; valid keys: \(list)"
        case let .missingKey(key, schedule):
            return "schedule '\(schedule)' needs '\(key)'"
        case let .invalidValue(key, value, reason):
            return "invalid value \(value) for '\(key)': \(reason)"
        case let .malformed(text, reason):
            return "cannot read schedule '\(text)': \(reason)"
        }
    }
}
