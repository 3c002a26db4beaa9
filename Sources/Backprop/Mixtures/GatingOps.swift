import Foundation

/// Differentiable operations for gating networks and mixtures: row softmaxes (dense and top-k),
/// log-sum-exp, row gather and scatter, and the two ways of mixing E experts' outputs with a
/// gate's weights (a weighted sum, or a mixture of their class distributions).
///
/// Everything here works on small per-row quantities (E experts, a handful of outputs per
/// expert) with plain `Tensor` operations and Swift arrays; no new kernels were needed.

extension Tensor {
    /// The gradient through `y = softmax(x)` row by row: dx = y ⊙ (dy − ⟨dy, y⟩).
    ///
    /// Entries with y = 0 (logits of −∞, as in a top-k softmax) get no gradient.
    static func softmaxRowsGradient(probabilities y: Tensor, outputGradient dy: Tensor) -> Tensor {
        let rows = y.shape[0]
        let inner = (dy * y).sum(alongAxis: 1).reshaped([rows, 1])
        return y * (dy - inner)
    }
}

extension Variable {
    // MARK: Softmax and log-sum-exp over a row

    /// Row-wise softmax of a [batch, classes] matrix: yᵢⱼ = e^{xᵢⱼ} / Σₖ e^{xᵢₖ}.
    ///
    /// Backward: dx = y ⊙ (dy − ⟨dy, y⟩) per row. (For a classifier's output layer use
    /// ``softmaxCrossEntropy(logits:labels:reduction:)``, which fuses the two; this op is for
    /// softmaxes inside a network, such as a gate over experts.)
    public func softmaxRows() -> Variable {
        let x = self
        precondition(x.value.rank == 2, "softmaxRows: needs [batch, classes], got \(x.shape)")
        return Variable(x.value.softmaxRows(), inputs: [x]) { out in
            guard let g = out.grad else { return }
            x.accumulateGradient(Tensor.softmaxRowsGradient(probabilities: out.value, outputGradient: g))
        }
    }

    /// Row-wise log-softmax: yᵢⱼ = xᵢⱼ − log Σₖ e^{xᵢₖ}. Backward: dx = dy − softmax(x)·Σⱼ dyⱼ.
    public func logSoftmaxRows() -> Variable {
        let x = self
        precondition(x.value.rank == 2, "logSoftmaxRows: needs [batch, classes], got \(x.shape)")
        return Variable(x.value.logSoftmaxRows(), inputs: [x]) { out in
            guard let g = out.grad else { return }
            let rows = g.shape[0]
            let total = g.sum(alongAxis: 1).reshaped([rows, 1])
            x.accumulateGradient(g - out.value.map { $0.isFinite ? Foundation.exp($0) : 0 } * total)
        }
    }

    /// log Σⱼ e^{xᵢⱼ} for each row, as a [batch, 1] column, computed stably (shifted by the row
    /// maximum). Backward: dxᵢⱼ = softmax(xᵢ)ⱼ · dyᵢ — the log-sum-exp's gradient is the softmax.
    public func logSumExpRows() -> Variable {
        let x = self
        precondition(x.value.rank == 2, "logSumExpRows: needs [batch, columns], got \(x.shape)")
        let rows = x.shape[0]
        let logProbabilities = x.value.logSoftmaxRows()
        // log Σ e^x = x − logSoftmax(x) for any finite entry; use each row's maximum entry.
        let xs = x.value.scalars, ls = logProbabilities.scalars, columns = x.shape[1]
        let lse: [Float] = x.value.argmaxRows().enumerated().map { r, c in
            xs[r * columns + c] - ls[r * columns + c]
        }
        return Variable(Tensor(shape: [rows, 1], scalars: lse), inputs: [x]) { out in
            guard let g = out.grad else { return }
            x.accumulateGradient(logProbabilities.map { $0.isFinite ? Foundation.exp($0) : 0 } * g)
        }
    }

    /// Softmax over a chosen subset of each row's entries; the others get probability exactly 0.
    ///
    /// This is the gate of a sparse mixture of experts with its routing held fixed: row i is
    /// softmax over the entries `chosen[i]`, i.e. softmax(x̃) with x̃ᵢⱼ = xᵢⱼ for j ∈ chosenᵢ and
    /// −∞ otherwise, so the kept probabilities are renormalized to sum to 1. The gradient is the
    /// ordinary softmax gradient, which is zero for every entry that was not chosen.
    ///
    /// - Parameter chosen: for each row, the column indices kept (at least one, each in range).
    public func softmaxRows(restrictedTo chosen: [[Int]]) -> Variable {
        let x = self
        precondition(x.value.rank == 2, "softmaxRows(restrictedTo:): needs [batch, columns], got \(x.shape)")
        let rows = x.shape[0], columns = x.shape[1]
        precondition(chosen.count == rows, "softmaxRows(restrictedTo:): \(chosen.count) index lists for \(rows) rows")
        let xs = x.value.scalars
        var masked = [Float](repeating: -.infinity, count: rows * columns)
        for (r, kept) in chosen.enumerated() {
            precondition(!kept.isEmpty, "softmaxRows(restrictedTo:): row \(r) keeps no entry")
            for c in kept {
                precondition(c >= 0 && c < columns, "softmaxRows(restrictedTo:): column \(c) out of 0..<\(columns)")
                masked[r * columns + c] = xs[r * columns + c]
            }
        }
        let y = Tensor(shape: [rows, columns], scalars: masked).softmaxRows()
        return Variable(y, inputs: [x]) { out in
            guard let g = out.grad else { return }
            x.accumulateGradient(Tensor.softmaxRowsGradient(probabilities: out.value, outputGradient: g))
        }
    }

    /// The top-k softmax of Shazeer et al. (2017): in each row keep the k largest entries, apply
    /// softmax over them and set the rest to 0, G(x) = softmax(KeepTopK(x, k)).
    ///
    /// The selection is piecewise constant in x (its derivative is zero almost everywhere), so
    /// the gradient is that of ``softmaxRows(restrictedTo:)`` with the selection made here. Ties
    /// go to the lower column index.
    ///
    /// - Returns: the gate probabilities [batch, columns] and, per row, the kept columns in
    ///   decreasing order of their entry.
    public func softmaxRows(keepingLargest k: Int) -> (probabilities: Variable, chosen: [[Int]]) {
        precondition(value.rank == 2, "softmaxRows(keepingLargest:): needs [batch, columns], got \(shape)")
        let rows = shape[0], columns = shape[1]
        precondition(k >= 1 && k <= columns, "softmaxRows(keepingLargest:): k = \(k) must be in 1...\(columns)")
        let xs = value.scalars
        let chosen: [[Int]] = (0..<rows).map { r in
            let order = (0..<columns).sorted { a, b in
                let va = xs[r * columns + a], vb = xs[r * columns + b]
                return va > vb || (va == vb && a < b)
            }
            return Array(order.prefix(k))
        }
        return (softmaxRows(restrictedTo: chosen), chosen)
    }

    // MARK: Row gather and scatter

    /// The rows at `indices`, in order (rows may repeat): yₖ = x_{indices[k]}. Backward adds
    /// each dyₖ into row indices[k] of dx (a scatter-add, the adjoint of a gather).
    public func gatheringRows(_ indices: [Int]) -> Variable {
        let x = self
        precondition(x.value.rank == 2, "gatheringRows: needs [rows, columns], got \(x.shape)")
        let rows = x.shape[0]
        return Variable(x.value.gatheringRows(indices), inputs: [x]) { out in
            guard let g = out.grad else { return }
            x.accumulateGradient(Tensor.scatterAddingRows(g, at: indices, rowCount: rows))
        }
    }

    /// A [rowCount, columns] matrix that is zero except that row k of `self` is added into row
    /// `indices[k]` (a scatter-add; rows may repeat). Backward gathers: dxₖ = dy_{indices[k]}.
    ///
    /// With ``gatheringRows(_:)`` this runs a sub-network on some rows of a batch and puts its
    /// outputs back in place: `expert(x.gatheringRows(r)).scatteringRows(into: n, at: r)`.
    public func scatteringRows(into rowCount: Int, at indices: [Int]) -> Variable {
        let x = self
        precondition(x.value.rank == 2, "scatteringRows: needs [rows, columns], got \(x.shape)")
        precondition(indices.count == x.shape[0], "scatteringRows: \(indices.count) indices for \(x.shape[0]) rows")
        let y = Tensor.scatterAddingRows(x.value, at: indices, rowCount: rowCount)
        return Variable(y, inputs: [x]) { out in
            guard let g = out.grad else { return }
            x.accumulateGradient(g.gatheringRows(indices))
        }
    }
}

extension Tensor {
    /// Zeros of shape [rowCount, columns] with row k of `rows` added into row indices[k].
    static func scatterAddingRows(_ rows: Tensor, at indices: [Int], rowCount: Int) -> Tensor {
        let (n, columns) = rows.matrixDimensions("scatteringRows")
        precondition(indices.count == n, "scatteringRows: \(indices.count) indices for \(n) rows")
        let source = rows.scalars
        var destination = [Float](repeating: 0, count: rowCount * columns)
        for (k, i) in indices.enumerated() {
            precondition(i >= 0 && i < rowCount, "scatteringRows: row \(i) out of 0..<\(rowCount)")
            for c in 0..<columns { destination[i * columns + c] += source[k * columns + c] }
        }
        return Tensor(shape: [rowCount, columns], scalars: destination)
    }

    /// Column j of a matrix as a [rows, 1] column vector.
    func column(_ j: Int) -> Tensor {
        let (rows, columns) = matrixDimensions("column")
        let s = scalars
        return Tensor(shape: [rows, 1], scalars: (0..<rows).map { s[$0 * columns + j] })
    }
}

// MARK: Mixing experts

/// The gated sum of E experts' outputs, y = Σₑ gₑ ⊙ oₑ, row by row: yᵢ = Σₑ gᵢₑ · oₑᵢ.
///
/// This is the output of Jacobs, Jordan, Nowlan & Hinton's (1991) mixture of experts (and, with
/// equal weights 1/E, the average of an ensemble). Gradients flow to both factors:
/// ∂E/∂oₑᵢ = gᵢₑ · ∂E/∂yᵢ (each expert learns in proportion to its share of the example) and
/// ∂E/∂gᵢₑ = ⟨∂E/∂yᵢ, oₑᵢ⟩ (the gate learns which expert's output would have helped).
///
/// - Parameters:
///   - outputs: E variables, each [batch, D].
///   - weights: [batch, E], typically a gate's softmax.
public func mixture(_ outputs: [Variable], weights: Variable) -> Variable {
    precondition(!outputs.isEmpty, "mixture: no outputs")
    let shape = outputs[0].shape
    precondition(shape.count == 2, "mixture: outputs must be [batch, D], got \(shape)")
    precondition(outputs.allSatisfy { $0.shape == shape }, "mixture: outputs have different shapes \(outputs.map(\.shape))")
    precondition(weights.shape == [shape[0], outputs.count],
                 "mixture: weights \(weights.shape) must be [batch, experts] = [\(shape[0]), \(outputs.count)]")
    let columns = (0..<outputs.count).map { weights.value.column($0) }
    var y = Tensor.zeros(shape)
    for (o, w) in zip(outputs, columns) { y += o.value * w }
    return Variable(y, inputs: outputs + [weights]) { out in
        guard let g = out.grad else { return }
        let batch = shape[0], experts = outputs.count
        var dw = [Float](repeating: 0, count: batch * experts)
        for (e, o) in outputs.enumerated() {
            if o.requiresGrad { o.accumulateGradient(g * columns[e]) }
            if weights.requiresGrad {
                let inner = (g * o.value).sum(alongAxis: 1).scalars
                for i in 0..<batch { dw[i * experts + e] = inner[i] }
            }
        }
        if weights.requiresGrad { weights.accumulateGradient(Tensor(shape: [batch, experts], scalars: dw)) }
    }
}

/// The log of a mixture of class distributions: yᵢc = log Σₑ gᵢₑ · softmax(zₑᵢ)_c.
///
/// Each expert e gives class logits zₑ; the mixture's class probabilities are the gate-weighted
/// average of the experts' softmaxes (the mixture likelihood of Jacobs et al. 1991 for
/// classification; with gₑ = 1/E, the average of an ensemble's probabilities). The result is
/// a row of log-probabilities, so ``softmaxCrossEntropy(logits:labels:reduction:)`` applied to it
/// is exactly the mixture's negative log-likelihood −log Σₑ gₑ pₑ(t | x) and `argmaxRows` is its
/// prediction.
///
/// Computed in the log domain, log gₑ + log softmax(zₑ) combined by log-sum-exp over e, so
/// confident experts do not underflow. Backward, with the posterior rₑᵢc = gᵢₑ pₑᵢc / e^{yᵢc}
/// (how much of class c's probability expert e supplied):
/// ∂E/∂gᵢₑ = Σ_c ∂E/∂yᵢc · pₑᵢc / e^{yᵢc}, and ∂E/∂zₑ is the log-softmax gradient of
/// ∂E/∂yᵢc · rₑᵢc. Gates of exactly 0 (unselected top-k experts) contribute and receive nothing
/// through the posterior, but still get their (finite) ∂E/∂gᵢₑ.
///
/// - Parameters:
///   - logits: E variables, each [batch, classes].
///   - weights: [batch, E], each row non-negative and summing to 1.
public func logMixture(logits: [Variable], weights: Variable) -> Variable {
    precondition(!logits.isEmpty, "logMixture: no experts")
    let shape = logits[0].shape
    precondition(shape.count == 2, "logMixture: logits must be [batch, classes], got \(shape)")
    precondition(logits.allSatisfy { $0.shape == shape }, "logMixture: logits have different shapes \(logits.map(\.shape))")
    let batch = shape[0], classes = shape[1], experts = logits.count
    precondition(weights.shape == [batch, experts],
                 "logMixture: weights \(weights.shape) must be [batch, experts] = [\(batch), \(experts)]")
    let logProbabilities = logits.map { $0.value.logSoftmaxRows().scalars }
    let w = weights.value.scalars
    var y = [Float](repeating: 0, count: batch * classes)
    for i in 0..<batch {
        for c in 0..<classes {
            var m = -Float.infinity
            for e in 0..<experts where w[i * experts + e] > 0 {
                m = max(m, Foundation.log(w[i * experts + e]) + logProbabilities[e][i * classes + c])
            }
            var total: Float = 0
            if m > -.infinity {
                for e in 0..<experts where w[i * experts + e] > 0 {
                    total += Foundation.exp(Foundation.log(w[i * experts + e]) + logProbabilities[e][i * classes + c] - m)
                }
            }
            y[i * classes + c] = m + Foundation.log(total)
        }
    }
    return Variable(Tensor(shape: shape, scalars: y), inputs: logits + [weights]) { out in
        guard let g = out.grad else { return }
        let dy = g.scalars
        var dw = [Float](repeating: 0, count: batch * experts)
        for (e, z) in logits.enumerated() {
            let lp = logProbabilities[e]
            var dLogP = [Float](repeating: 0, count: batch * classes)
            for i in 0..<batch {
                let we = w[i * experts + e]
                var dwe: Float = 0
                for c in 0..<classes {
                    let k = i * classes + c
                    let ratio = Foundation.exp(lp[k] - y[k])      // pₑᵢc / e^{yᵢc}
                    dwe += dy[k] * ratio
                    dLogP[k] = dy[k] * we * ratio                  // dy · rₑᵢc
                }
                dw[i * experts + e] = dwe
            }
            if z.requiresGrad {
                // Through log-softmax: dz = dℓ − p · Σ_c dℓ.
                var dz = dLogP
                for i in 0..<batch {
                    var total: Float = 0
                    for c in 0..<classes { total += dLogP[i * classes + c] }
                    for c in 0..<classes { dz[i * classes + c] -= Foundation.exp(lp[i * classes + c]) * total }
                }
                z.accumulateGradient(Tensor(shape: shape, scalars: dz))
            }
        }
        if weights.requiresGrad { weights.accumulateGradient(Tensor(shape: [batch, experts], scalars: dw)) }
    }
}
