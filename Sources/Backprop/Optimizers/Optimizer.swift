import CBackpropSupport

/// Updates a model's named parameters with an ``OptimizerRule``.
///
/// A training step is
/// ```swift
/// let loss = lossFunction(model(x), y)
/// loss.backward()
/// optimizer.step()
/// optimizer.zeroGrad()
/// ```
/// The same loop serves batch, mini-batch and stochastic gradient descent: the variants differ
/// only in how many examples the loss averages over (``BatchOrder`` with batch size N, B or 1),
/// never in the optimizer.
///
/// State buffers are allocated once, when the optimizer is made (one zeroed buffer per state
/// name per parameter), so `step()` does not allocate. Parameters whose gradient is nil are
/// skipped and their step count does not advance — as in PyTorch, a parameter that got no
/// gradient this step is not touched, not even by weight decay.
public final class Optimizer {
    /// The algorithm.
    public let rule: any OptimizerRule
    /// η, before each group's scale. Schedules set it between steps.
    public var learningRate: Float
    /// Number of completed calls to ``step()``.
    public private(set) var stepCount: Int = 0
    /// The parameter groups, in the order given.
    public private(set) var groups: [ParameterGroup]
    /// The instruction-set level's kernels that ``step()`` runs the rule's update and the weight
    /// decay on: ``KernelTable/current`` unless set (tests run every level in one process).
    public var kernels: KernelTable = .current

    private var slots: [Slot]
    private var slotByName: [String: Int]

    /// One parameter and its state, allocated once.
    private final class Slot {
        let name: String
        let variable: Variable
        let group: Int
        let shape: [Int]
        let count: Int
        var step: Int = 0
        /// One aligned allocation holding every state buffer back to back.
        let storage: UnsafeMutablePointer<Float>?
        let buffers: [UnsafeMutableBufferPointer<Float>]
        /// g + λθ for coupled decay; allocated the first time it is needed.
        var scratch: UnsafeMutableBufferPointer<Float>?

        init(name: String, variable: Variable, group: Int, stateCount: Int) {
            self.name = name
            self.variable = variable
            self.group = group
            self.shape = variable.value.shape
            self.count = variable.value.count
            let count = variable.value.count
            let total = stateCount * count
            if total > 0 {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: total * MemoryLayout<Float>.stride,
                                                           alignment: 64)
                let p = raw.bindMemory(to: Float.self, capacity: total)
                p.initialize(repeating: 0, count: total)
                storage = p
                buffers = (0..<stateCount).map { UnsafeMutableBufferPointer(start: p + $0 * count, count: count) }
            } else {
                storage = nil
                buffers = Array(repeating: UnsafeMutableBufferPointer(start: nil, count: 0), count: stateCount)
            }
        }

        deinit {
            storage?.deallocate()
            scratch?.deallocate()
        }
    }

    /// An optimizer over parameter groups.
    ///
    /// - Parameters:
    ///   - groups: the groups; every parameter name must be unique (a programming error
    ///     otherwise, as module names are unique by construction).
    ///   - rule: the algorithm.
    ///   - learningRate: η; nil takes the rule's default.
    public init(groups: [ParameterGroup], rule: any OptimizerRule, learningRate: Float? = nil) {
        self.rule = rule
        self.learningRate = learningRate ?? rule.defaultLearningRate
        self.groups = groups
        var slots: [Slot] = []
        var byName: [String: Int] = [:]
        let stateCount = rule.stateNames.count
        for (g, group) in groups.enumerated() {
            for (name, variable) in group.parameters {
                precondition(byName[name] == nil, "Optimizer: parameter name '\(name)' appears twice")
                byName[name] = slots.count
                slots.append(Slot(name: name, variable: variable, group: g, stateCount: stateCount))
            }
        }
        self.slots = slots
        self.slotByName = byName
    }

    /// An optimizer over a model's named parameters (``Module/namedParameters()``).
    ///
    /// Weight decay, when given, applies only to parameters that ``Variable/decays`` (weight
    /// matrices), which form group 0; the others (biases, normalization parameters) form
    /// group 1 without decay — the usual convention, since decaying a bias only adds bias.
    ///
    /// - Parameters:
    ///   - parameters: the parameters with their unique names, typically a model's
    ///     ``Module/namedParameters()``.
    ///   - rule: the algorithm.
    ///   - learningRate: η; nil takes the rule's default.
    ///   - weightDecay: the decay for decaying parameters; nil takes the rule's default
    ///     (decoupled 0.01 for AdamW, none otherwise).
    public convenience init(_ parameters: [(name: String, parameter: Variable)], rule: any OptimizerRule,
                            learningRate: Float? = nil, weightDecay: WeightDecay? = nil) {
        let decaying = parameters.filter { $0.parameter.decays }
        let others = parameters.filter { !$0.parameter.decays }
        self.init(groups: [ParameterGroup(decaying, weightDecay: weightDecay ?? rule.defaultWeightDecay),
                           ParameterGroup(others, weightDecay: WeightDecay.none)],
                  rule: rule, learningRate: learningRate)
    }

    /// The parameters, named, in group order.
    public var parameters: [(name: String, parameter: Variable)] {
        slots.map { ($0.name, $0.variable) }
    }

    /// Sets a group's learning-rate scale.
    public func setLearningRateScale(_ scale: Float, group: Int) {
        groups[group].learningRateScale = scale
    }

    /// Sets a group's weight decay.
    public func setWeightDecay(_ decay: WeightDecay, group: Int) {
        groups[group].weightDecay = decay
    }

    /// The weight decay in effect for a group (its own, or the rule's default).
    public func weightDecay(group: Int) -> WeightDecay {
        groups[group].weightDecay ?? rule.defaultWeightDecay
    }

    /// Parameters of at least this many elements are updated in parallel ranges when the rule
    /// is elementwise: below it, waking the pool costs more than the update.
    static let parallelUpdateMinimum = 1 << 15

    /// Updates every parameter that has a gradient, then counts the step.
    public func step() {
        let pool = Backend.current.threads
        for slot in slots {
            guard let gradient = slot.variable.grad else { continue }
            precondition(gradient.shape == slot.shape,
                         "Optimizer.step: gradient of '\(slot.name)' has shape \(gradient.shape), parameter \(slot.shape)")
            let group = groups[slot.group]
            let eta = learningRate * group.learningRateScale
            let decay = group.weightDecay ?? rule.defaultWeightDecay
            let t = slot.step + 1
            let rule = self.rule, kernels = self.kernels
            let count = slot.count
            if case .coupled(let lambda) = decay, lambda != 0, slot.scratch == nil {
                slot.scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            }
            let scratch = slot.scratch
            let buffers = slot.buffers
            // Read the gradient in place (kept alive below), never copied.
            let gradientPointer = gradient.pointer
            let thetaPointer = slot.variable.value.mutablePointer()
            /// Updates elements lower..<upper (lower a multiple of 16).
            func apply(_ lower: Int, _ upper: Int) {
                let n = upper - lower
                let theta = UnsafeMutableBufferPointer(start: thetaPointer + lower, count: n)
                let g = UnsafeBufferPointer(start: gradientPointer + lower, count: n)
                let state = lower == 0 && upper == count ? buffers
                    : buffers.map { UnsafeMutableBufferPointer(rebasing: $0[lower..<upper]) }
                switch decay {
                case .none, .coupled(0), .decoupled(0):
                    rule.update(parameter: theta, gradient: g, state: state, step: t, learningRate: eta, kernels: kernels)
                case .coupled(let lambda):
                    // g' = g + λθ, into a buffer kept for this parameter.
                    let part = scratch.unsafelyUnwrapped.baseAddress.map { $0 + lower }   // nil only when empty
                    kernels.table.pointee.rows.coupled_decay.unsafelyUnwrapped(gradientPointer + lower, thetaPointer + lower,
                                                                               lambda, part, n)
                    rule.update(parameter: theta, gradient: UnsafeBufferPointer(start: part, count: n), state: state,
                                step: t, learningRate: eta, kernels: kernels)
                case .decoupled(let lambda):
                    // θ ← θ − ηλθ with θ = θ_{t−1}; the rule's update does not read θ, so
                    // applying the decay first is the same as applying both to θ_{t−1}.
                    kernels.table.pointee.rows.decoupled_decay.unsafelyUnwrapped(thetaPointer + lower, eta * lambda, n)
                    rule.update(parameter: theta, gradient: g, state: state, step: t, learningRate: eta, kernels: kernels)
                }
            }
            if rule.isElementwise, count >= Self.parallelUpdateMinimum, pool.threadCount > 1 {
                // Whole cache lines per range, about 2 ranges per thread (dynamic claiming
                // balances a thread the OS delays).
                // `per` rounds the share up (then to 16), so `ranges` of them cover every element.
                let ranges = min(2 * pool.threadCount, count / 8192)
                let per = ((count + ranges - 1) / ranges + 15) / 16 * 16
                pool.parallelFor(ranges) { r in
                    let lower = r * per
                    if lower < count { apply(lower, min(count, lower + per)) }
                }
            } else {
                apply(0, count)
            }
            withExtendedLifetime(gradient) {}
            slot.step = t
        }
        stepCount += 1
    }

    /// Clears every parameter's gradient.
    ///
    /// - Parameter setToNil: true (the default, as PyTorch's `set_to_none`) drops the
    ///   gradients: the buffers go back to the pool, the next backward pass writes fresh ones
    ///   without first adding to zeros, and ``step()`` skips any parameter the next pass does
    ///   not reach. false fills the existing buffers with 0 instead, for code that reads
    ///   `grad` between passes and wants a tensor there.
    public func zeroGrad(setToNil: Bool = true) {
        for slot in slots {
            if setToNil {
                slot.variable.grad = nil
            } else if var g = slot.variable.grad {
                slot.variable.grad = nil   // keep the buffer uniquely referenced
                g.withUnsafeMutableBufferPointer { b in
                    if let base = b.baseAddress { base.update(repeating: 0, count: b.count) }
                }
                slot.variable.grad = g
            }
        }
    }

    /// A parameter's state buffers by name (a copy), or nil for an unknown parameter. For
    /// inspection and tests; ``stateDictionary()`` saves everything.
    public func state(of parameterName: String) -> [String: [Float]]? {
        guard let index = slotByName[parameterName] else { return nil }
        let slot = slots[index]
        var out: [String: [Float]] = [:]
        for (name, buffer) in zip(rule.stateNames, slot.buffers) { out[name] = Array(buffer) }
        return out
    }

    /// How many updates a parameter has had, or nil for an unknown parameter.
    public func stepCount(of parameterName: String) -> Int? {
        slotByName[parameterName].map { slots[$0].step }
    }

    /// A copy of the whole state, for checkpoints.
    public func stateDictionary() -> OptimizerState {
        var parameters: [String: OptimizerState.Parameter] = [:]
        for slot in slots {
            var buffers: [String: [Float]] = [:]
            for (name, buffer) in zip(rule.stateNames, slot.buffers) { buffers[name] = Array(buffer) }
            parameters[slot.name] = OptimizerState.Parameter(shape: slot.shape, step: slot.step, buffers: buffers)
        }
        return OptimizerState(algorithm: rule.name, hyperParameters: rule.hyperParameters, stepCount: stepCount,
                              learningRate: learningRate, parameters: parameters)
    }

    /// Restores a state saved by ``stateDictionary()``, bit for bit: step counts, learning rate
    /// and every buffer.
    ///
    /// Everything is checked before anything is written, so a failed load leaves the optimizer
    /// as it was.
    ///
    /// - Throws: ``OptimizerError`` naming the algorithm, the parameter, the expected shape or
    ///   the buffer that does not fit.
    public func load(_ state: OptimizerState) throws(OptimizerError) {
        guard state.algorithm == rule.name else {
            throw .algorithmMismatch(expected: rule.name, found: state.algorithm)
        }
        for slot in slots {
            guard let saved = state.parameters[slot.name] else { throw .missingParameterState(slot.name) }
            guard saved.shape == slot.shape else {
                throw .shapeMismatch(parameter: slot.name, expected: slot.shape, found: saved.shape)
            }
            guard saved.step >= 0 else {
                throw .invalidStateBuffer(parameter: slot.name, buffer: "step", reason: "negative step \(saved.step)")
            }
            for name in rule.stateNames {
                guard let buffer = saved.buffers[name] else {
                    throw .invalidStateBuffer(parameter: slot.name, buffer: name, reason: "missing")
                }
                guard buffer.count == slot.count else {
                    throw .invalidStateBuffer(parameter: slot.name, buffer: name,
                                              reason: "\(buffer.count) values for shape \(slot.shape) (\(slot.count))")
                }
            }
        }
        if let extra = state.parameters.keys.sorted().first(where: { slotByName[$0] == nil }) {
            throw .unexpectedParameterState(extra)
        }
        for slot in slots {
            guard let saved = state.parameters[slot.name] else { continue }
            slot.step = saved.step
            for (name, buffer) in zip(rule.stateNames, slot.buffers) {
                guard let values = saved.buffers[name], let base = buffer.baseAddress else { continue }
                values.withUnsafeBufferPointer { src in
                    if let s = src.baseAddress { base.update(from: s, count: buffer.count) }
                }
            }
        }
        stepCount = state.stepCount
        learningRate = state.learningRate
    }
}
