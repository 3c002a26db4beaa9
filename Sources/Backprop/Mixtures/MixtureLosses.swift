import Foundation

/// The "competitive" cost of Jacobs, Jordan, Nowlan & Hinton (1991), "Adaptive mixtures of local
/// experts": the negative log-likelihood of the target under a mixture of Gaussians centred on
/// the experts' outputs,
///
///     E = −log Σₑ gₑ · exp(−‖t − oₑ‖² / 2σ²)        (σ = 1 in the paper),
///
/// per example, averaged (or summed) over the batch.
///
/// Why it, rather than the squared error of the blended output Σₑ gₑ oₑ: with the blend the
/// experts cooperate — each is pushed to cancel the others' residual error, so every expert
/// ends up involved in every case. Here each expert is compared with the target on its own; with
/// the posterior responsibility hₑ = gₑ e^{−‖t−oₑ‖²/2σ²} / Σₖ gₖ e^{−‖t−oₖ‖²/2σ²},
///
///     ∂E/∂oₑ = hₑ (oₑ − t) / σ²,   ∂E/∂(gate logit)ₑ = gₑ − hₑ,
///
/// so an expert learns from a case in proportion to how well it already explains it (experts
/// specialize), and the gate learns to route each case to the expert that explains it best.
///
/// Experts with gₑ = 0 (not chosen by a top-k gate) contribute nothing and receive no gradient,
/// so their outputs may be anything (e.g. zeros from ``Variable/scatteringRows(into:at:)``).
///
/// - Parameters:
///   - gates: [batch, E], rows of gate probabilities.
///   - expertOutputs: E variables, each [batch, D].
///   - targets: [batch, D].
///   - standardDeviation: σ of each expert's Gaussian: the scale of errors that count as
///     "explained" (targets of order 1 want σ well below 1 for the experts to compete).
///   - reduction: ``Reduction/mean`` over examples (the default) or ``Reduction/sum``.
public func competitiveLoss(gates: Variable, expertOutputs: [Variable], targets: Tensor,
                            standardDeviation: Float = 1, reduction: Reduction = .mean) -> Variable {
    precondition(!expertOutputs.isEmpty, "competitiveLoss: no experts")
    precondition(targets.rank == 2, "competitiveLoss: targets must be [batch, D], got \(targets.shape)")
    precondition(expertOutputs.allSatisfy { $0.shape == targets.shape },
                 "competitiveLoss: expert outputs \(expertOutputs.map(\.shape)) must match targets \(targets.shape)")
    let batch = targets.shape[0], experts = expertOutputs.count
    precondition(gates.shape == [batch, experts], "competitiveLoss: gates \(gates.shape) must be [\(batch), \(experts)]")
    precondition(standardDeviation > 0 && standardDeviation.isFinite, "competitiveLoss: σ must be positive, got \(standardDeviation)")
    let inverseVariance = 1 / (standardDeviation * standardDeviation)
    let scale: Float = reduction == .mean ? 1 / Float(max(batch, 1)) : 1
    let differences = expertOutputs.map { $0.value - targets }   // oₑ − t
    // aᵢₑ = ‖tᵢ − oₑᵢ‖² / 2σ²
    let halfSquared = differences.map { ($0.squared().sum(alongAxis: 1) * (inverseVariance / 2)).scalars }
    let g = gates.value.scalars
    var logTotals = [Float](repeating: 0, count: batch)     // log Σₑ gₑ e^{−aₑ}
    var total = 0.0
    for i in 0..<batch {
        var m = -Float.infinity
        for e in 0..<experts where g[i * experts + e] > 0 {
            m = max(m, Foundation.log(g[i * experts + e]) - halfSquared[e][i])
        }
        var s: Float = 0
        for e in 0..<experts where g[i * experts + e] > 0 {
            s += Foundation.exp(Foundation.log(g[i * experts + e]) - halfSquared[e][i] - m)
        }
        logTotals[i] = m + Foundation.log(s)
        total -= Double(logTotals[i])
    }
    return Variable(Tensor(scalar: Float(total) * scale), inputs: expertOutputs + [gates]) { out in
        guard let seed = out.grad else { return }
        let factor = seed.scalar * scale
        // qᵢₑ = e^{−aᵢₑ} / Σₖ gᵢₖ e^{−aᵢₖ} = −∂E/∂gᵢₑ (finite even where gᵢₑ = 0); hᵢₑ = gᵢₑ qᵢₑ.
        var dg = [Float](repeating: 0, count: batch * experts)
        for e in 0..<experts {
            var h = [Float](repeating: 0, count: batch)
            for i in 0..<batch {
                let q = Foundation.exp(-halfSquared[e][i] - logTotals[i])
                dg[i * experts + e] = -q * factor
                h[i] = g[i * experts + e] * q * factor * inverseVariance
            }
            let o = expertOutputs[e]
            if o.requiresGrad { o.accumulateGradient(differences[e] * Tensor(shape: [batch, 1], scalars: h)) }
        }
        if gates.requiresGrad { gates.accumulateGradient(Tensor(shape: [batch, experts], scalars: dg)) }
    }
}

/// The mixture's negative log-likelihood for classification, −log Σₑ gₑ pₑ(t | x) with
/// pₑ = softmax(zₑ): the classification counterpart of ``competitiveLoss(gates:expertOutputs:targets:standardDeviation:reduction:)``
/// (each expert a categorical distribution instead of a Gaussian). It is softmax cross-entropy
/// on ``logMixture(logits:weights:)``, whose rows are already log-probabilities.
public func mixtureCrossEntropy(gates: Variable, expertLogits: [Variable], labels: [Int32],
                                reduction: Reduction = .mean) -> Variable {
    softmaxCrossEntropy(logits: logMixture(logits: expertLogits, weights: gates), labels: labels, reduction: reduction)
}

/// Shazeer et al.'s (2017) importance loss: the squared coefficient of variation of the experts'
/// importances Iₑ = Σᵢ gᵢₑ (each expert's total gate weight over the batch),
///
///     L = CV(I)² = Var(I) / Mean(I)²   (population variance over the E experts).
///
/// Why: a gate trained only on the task loss tends to collapse onto the few experts that
/// happened to start best, which then get all the training and stay best. L is 0 when every
/// expert carries the same total weight, and it is scale-free, so its weight (Shazeer uses 0.1)
/// does not depend on the batch size. Gradient: ∂L/∂gᵢₑ = (2/E)·((Iₑ − m)/m² − Var/m³), m = Mean(I).
///
/// - Parameter gates: [batch, E] gate probabilities (after top-k, so that unchosen experts count 0).
public func importanceLoss(gates: Variable) -> Variable {
    precondition(gates.value.rank == 2, "importanceLoss: gates must be [batch, experts], got \(gates.shape)")
    let batch = gates.shape[0], experts = gates.shape[1]
    let importance = gates.value.sum(alongAxis: 0).scalars
    let n = Float(experts)
    let m = importance.reduce(0, +) / n
    let variance = importance.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n
    guard m > 0 else {
        return Variable(Tensor(scalar: 0), inputs: [gates]) { _ in }
    }
    return Variable(Tensor(scalar: variance / (m * m)), inputs: [gates]) { out in
        guard let seed = out.grad else { return }
        let perExpert = importance.map { seed.scalar * (2 / n) * (($0 - m) / (m * m) - variance / (m * m * m)) }
        gates.accumulateGradient(Tensor(shape: [batch, experts], scalars: Array((0..<batch).map { _ in perExpert }.joined())))
    }
}

/// The load-balancing loss of the Switch Transformer (Fedus, Zoph & Shazeer 2021), the
/// differentiable stand-in for Shazeer et al.'s load term without its gate noise:
///
///     L = E · Σₑ fₑ · Pₑ,
///
/// where fₑ is the fraction of routing slots (examples × k) sent to expert e — a count, not
/// differentiable — and Pₑ = meanᵢ pᵢₑ the mean of the full (pre-top-k) gate softmax. L is 1 when
/// both are uniform and grows as routing concentrates; its gradient ∂L/∂pᵢₑ = E·fₑ/batch lowers
/// the gate probability of the experts that are overloaded.
///
/// - Parameters:
///   - gateProbabilities: [batch, E], the dense softmax of the gate's logits.
///   - chosen: for each example, the experts it was routed to.
public func loadBalancingLoss(gateProbabilities: Variable, chosen: [[Int]]) -> Variable {
    precondition(gateProbabilities.value.rank == 2, "loadBalancingLoss: probabilities must be [batch, experts], got \(gateProbabilities.shape)")
    let batch = gateProbabilities.shape[0], experts = gateProbabilities.shape[1]
    precondition(chosen.count == batch, "loadBalancingLoss: \(chosen.count) routings for a batch of \(batch)")
    var counts = [Float](repeating: 0, count: experts)
    for row in chosen { for e in row { counts[e] += 1 } }
    let slots = max(counts.reduce(0, +), 1)
    let fractions = counts.map { $0 / slots }
    let means = gateProbabilities.value.mean(alongAxis: 0).scalars
    let n = Float(experts)
    let loss = n * zip(fractions, means).reduce(0) { $0 + $1.0 * $1.1 }
    return Variable(Tensor(scalar: loss), inputs: [gateProbabilities]) { out in
        guard let seed = out.grad else { return }
        let row = fractions.map { seed.scalar * n * $0 / Float(max(batch, 1)) }
        gateProbabilities.accumulateGradient(Tensor(shape: [batch, experts], scalars: Array((0..<batch).map { _ in row }.joined())))
    }
}
