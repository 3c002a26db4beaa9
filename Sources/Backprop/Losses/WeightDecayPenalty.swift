/// The weight-decay penalty λ/2 · Σ ‖W‖² over the given parameters, whose gradient λ·W is added
/// to each weight's gradient. By default only parameters that ``Variable/decays`` (weight
/// matrices) count; biases and normalization parameters are left out unless `includeAll`.
///
/// Convention: this is the penalty added to the loss as reduced. With a mean-reduced loss over
/// N examples, λ here equals λ_sum/N for a penalty λ_sum/2·Σ‖W‖² added to the summed loss.
public func weightDecayPenalty(_ parameters: [Variable], lambda: Float, includeAll: Bool = false) -> Variable {
    let chosen = parameters.filter { includeAll || $0.decays }
    var total: Float = 0
    for p in chosen { total += Elementwise.dot(p.value.pointer, p.value.pointer, count: p.value.count) }
    return Variable(Tensor(scalar: lambda / 2 * total), inputs: chosen) { out in
        guard let g = out.grad else { return }
        let factor = lambda * g.scalar
        for p in chosen where p.requiresGrad {
            p.withGradientBuffer { buffer, accumulate in
                if accumulate {
                    Elementwise.axpy(factor, p.value.pointer, buffer, count: p.value.count)
                } else {
                    Elementwise.scale(factor, p.value.pointer, buffer, count: p.value.count)
                }
            }
        }
    }
}
