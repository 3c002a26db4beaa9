/// Batch Normalization over the features of a [batch, features] input, exactly as Ioffe &
/// Szegedy (2015):
///
/// - Training (Algorithm 1): normalize each feature by the mini-batch mean μ_B and biased
///   variance σ²_B, x̂ = (x − μ_B)/√(σ²_B + ε), then scale and shift, y = γ·x̂ + β. The
///   backward pass goes through μ_B and σ²_B.
/// - Inference (Algorithm 2): the population estimates E[x] and Var[x] replace the batch
///   statistics, Var[x] using the unbiased m/(m−1)·σ²_B.
///
/// The population estimates are running averages updated in every training step:
/// `running = (1 − momentum)·running + momentum·batch` (PyTorch's convention, momentum 0.1), or,
/// with `momentum: nil`, the cumulative average over all batches seen — Algorithm 2's plain
/// expectation over training mini-batches.
///
/// Parameters `weight` (γ, initialized to 1) and `bias` (β, 0); buffers `running_mean`,
/// `running_var` and `num_batches_tracked`, as PyTorch names them.
public final class BatchNorm1d: Module {
    /// γ, the per-feature scale (PyTorch's `weight`), initialized to 1.
    public let weight: Variable
    /// β, the per-feature shift (PyTorch's `bias`), initialized to 0.
    public let bias: Variable
    /// E[x], the population mean estimate used in evaluation (`running_mean`), initialized to 0.
    public let runningMean: Variable
    /// Var[x], the population variance estimate used in evaluation (`running_var`, unbiased),
    /// initialized to 1.
    public let runningVariance: Variable
    /// The number of training batches whose statistics went into the running estimates.
    public private(set) var batchesTracked: Int = 0
    /// ε, added to the variance before the square root.
    public let epsilon: Float
    /// The running-average factor, or nil for a cumulative average.
    public var momentum: Float?
    /// Training mode normalizes with the batch's statistics (Algorithm 1) and updates the running
    /// estimates; evaluation mode uses the running estimates (Algorithm 2).
    public var isTraining = true
    /// Synchronized BatchNorm: in training, statistics over every rank's shard of the global
    /// batch (set by ``DataParallel/synchronizeBatchNorm(in:)``); nil normalizes per process.
    public var synchronizer: BatchNormSynchronizer?

    /// The number of features normalized.
    public var featureCount: Int { weight.shape[0] }

    /// A layer normalizing `features` features.
    ///
    /// - Parameters:
    ///   - features: the input's width; positive.
    ///   - epsilon: added to the variance; PyTorch's 1e-5 by default.
    ///   - momentum: the running averages' factor in (0, 1], or nil for the cumulative average of
    ///     every batch seen (Algorithm 2's expectation).
    public init(_ features: Int, epsilon: Float = 1e-5, momentum: Float? = 0.1) {
        precondition(features > 0, "BatchNorm1d: feature count must be positive, got \(features)")
        if let momentum { precondition(momentum > 0 && momentum <= 1, "BatchNorm1d: momentum \(momentum) must be in (0, 1]") }
        weight = Variable(.ones([features]), requiresGrad: true)
        bias = Variable(.zeros([features]), requiresGrad: true)
        runningMean = Variable(.zeros([features]))
        runningVariance = Variable(.ones([features]))
        self.epsilon = epsilon
        self.momentum = momentum
    }

    /// Normalizes each feature of a [batch, features] input: in training mode with the batch's
    /// mean and biased variance (and updates the running estimates), in evaluation mode with the
    /// running estimates.
    ///
    /// - Precondition: `input` is [batch, ``featureCount``]; in training mode the batch holds at
    ///   least two examples (one example has no variance).
    public func callAsFunction(_ input: Variable) -> Variable {
        precondition(input.value.rank == 2 && input.shape[1] == featureCount,
                     "BatchNorm1d(\(featureCount)): input must be [batch, \(featureCount)], got \(input.shape)")
        let rows = input.shape[0], columns = featureCount
        var y = Tensor(uninitializedShape: input.shape)
        var xhat = Tensor(uninitializedShape: input.shape)
        var invStd = Tensor(uninitializedShape: [columns])
        let training = isTraining
        let synchronizer = training ? self.synchronizer : nil
        var globalRows = rows
        if training {
            var mean = Tensor(uninitializedShape: [columns])
            var variance = Tensor(uninitializedShape: [columns])
            if let synchronizer {
                precondition(rows > 0, "BatchNorm1d: a synchronized batch needs at least one example per rank")
                globalRows = BatchNormKernels.forwardTrainingSynchronized(
                    x: input.value.pointer, rows: rows, columns: columns,
                    gamma: weight.value.pointer, beta: bias.value.pointer, epsilon: epsilon,
                    y: y.mutablePointer(), normalized: xhat.mutablePointer(),
                    mean: mean.mutablePointer(), variance: variance.mutablePointer(),
                    inverseStandardDeviation: invStd.mutablePointer(), synchronizer: synchronizer)
                precondition(globalRows > 1, "BatchNorm1d: training needs more than one example per batch, got \(globalRows)")
            } else {
                precondition(rows > 1, "BatchNorm1d: training needs more than one example per batch, got \(rows)")
                BatchNormKernels.forwardTraining(
                    x: input.value.pointer, rows: rows, columns: columns,
                    gamma: weight.value.pointer, beta: bias.value.pointer, epsilon: epsilon,
                    y: y.mutablePointer(), normalized: xhat.mutablePointer(),
                    mean: mean.mutablePointer(), variance: variance.mutablePointer(),
                    inverseStandardDeviation: invStd.mutablePointer())
            }
            updateRunningStatistics(mean: mean, variance: variance, batchSize: globalRows)
        } else {
            BatchNormKernels.forwardInference(
                x: input.value.pointer, rows: rows, columns: columns,
                gamma: weight.value.pointer, beta: bias.value.pointer,
                runningMean: runningMean.value.pointer, runningVariance: runningVariance.value.pointer,
                epsilon: epsilon, y: y.mutablePointer(), normalized: xhat.mutablePointer(),
                inverseStandardDeviation: invStd.mutablePointer())
        }
        let gamma = weight, beta = bias
        return Variable(y, inputs: [input, gamma, beta]) { out in
            guard var g = out.grad else { return }
            out.grad = nil
            let gp = g.mutablePointer()
            var scratch = Tensor(uninitializedShape: [2 * columns])
            let sp = scratch.mutablePointer()
            // γ and β gradients go straight into their gradient buffers (the kernel adds to
            // them; fresh buffers are zeroed first) rather than through temporary tensors.
            func run(_ gammaGradient: UnsafeMutablePointer<Float>?, _ betaGradient: UnsafeMutablePointer<Float>?) {
                if let synchronizer {
                    BatchNormKernels.backwardSynchronized(
                        dy: gp, normalized: xhat.pointer, rows: rows, columns: columns, globalCount: globalRows,
                        gamma: gamma.value.pointer, inverseStandardDeviation: invStd.pointer,
                        dx: input.requiresGrad ? gp : nil,
                        gammaGradient: gammaGradient, betaGradient: betaGradient,
                        sumDy: sp, sumDyXhat: sp + columns, synchronizer: synchronizer)
                    return
                }
                BatchNormKernels.backward(
                    dy: gp, normalized: xhat.pointer, rows: rows, columns: columns,
                    gamma: gamma.value.pointer, inverseStandardDeviation: invStd.pointer,
                    throughStatistics: training,
                    dx: input.requiresGrad ? gp : nil,
                    gammaGradient: gammaGradient, betaGradient: betaGradient,
                    sumDy: sp, sumDyXhat: sp + columns)
            }
            func zeroIfFresh(_ buffer: UnsafeMutablePointer<Float>, _ accumulate: Bool) -> UnsafeMutablePointer<Float> {
                if !accumulate { Elementwise.fill(buffer, 0, count: columns) }
                return buffer
            }
            switch (gamma.requiresGrad, beta.requiresGrad) {
            case (true, true):
                gamma.withGradientBuffer { gg, ga in
                    beta.withGradientBuffer { bg, ba in run(zeroIfFresh(gg, ga), zeroIfFresh(bg, ba)) }
                }
            case (true, false): gamma.withGradientBuffer { gg, ga in run(zeroIfFresh(gg, ga), nil) }
            case (false, true): beta.withGradientBuffer { bg, ba in run(nil, zeroIfFresh(bg, ba)) }
            case (false, false): run(nil, nil)
            }
            if input.requiresGrad { input.accumulateGradient(g) }
        }
    }

    /// Folds one batch's statistics into the population estimates (Algorithm 2, step 10),
    /// with the unbiased variance m/(m−1)·σ²_B.
    private func updateRunningStatistics(mean: Tensor, variance: Tensor, batchSize m: Int) {
        batchesTracked += 1
        let factor = momentum ?? (1 / Float(batchesTracked))
        let correction = Float(m) / Float(m - 1), keep = 1 - factor
        // In place, one pass, the same operations as
        // running = running·(1 − f) + batch·f  (batch variance made unbiased first).
        let count = featureCount
        let meanPointer = runningMean.value.mutablePointer(), variancePointer = runningVariance.value.mutablePointer()
        let batchMean = mean.pointer, batchVariance = variance.pointer
        for j in 0..<count {
            meanPointer[j] = meanPointer[j] * keep + batchMean[j] * factor
            variancePointer[j] = variancePointer[j] * keep + (batchVariance[j] * correction) * factor
        }
    }

    /// `weight` (γ) and `bias` (β).
    public func namedParameters() -> [(name: String, parameter: Variable)] {
        [("weight", weight), ("bias", bias)]
    }

    /// `running_mean`, `running_var` and `num_batches_tracked`, PyTorch's buffer names.
    public func namedBuffers() -> [(name: String, buffer: Variable)] {
        [("running_mean", runningMean), ("running_var", runningVariance),
         ("num_batches_tracked", Variable(Tensor(scalar: Float(batchesTracked))))]
    }

    /// Restores the count of tracked batches (when loading a checkpoint).
    public func setBatchesTracked(_ n: Int) { batchesTracked = n }

    /// E.g. `BatchNorm1d(100, ε: 1e-05, momentum: 0.1)`.
    public var summary: String { "BatchNorm1d(\(featureCount), ε: \(epsilon), momentum: \(momentum.map { "\($0)" } ?? "cumulative"))" }
}
