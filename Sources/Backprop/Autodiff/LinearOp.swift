/// The fully connected operation y = f(x·Wᵀ + b), fused: one GEMM, then bias and activation in
/// one pass over the output; backward is one pass for f′ and the bias gradient, then at most two
/// GEMMs (dW += dZᵀ·X straight into W's gradient buffer, dX = dZ·W only when X needs it).
///
/// When at most ``Backend/sparseInputDensity`` of x's elements are nonzero (MNIST's pixels:
/// 19%), x·Wᵀ and dZᵀ·X multiply by x's nonzeros only (``SparseGemm``), skipping the products
/// with zeros; the results equal the dense ones up to rounding, except that a zero input times
/// an infinite or NaN weight contributes nothing instead of NaN.
///
/// - Parameters:
///   - x: [batch, inputs].
///   - weight: [outputs, inputs].
///   - bias: [outputs] or nil.
///   - activation: f; `.identity` for a plain affine layer.
public func linear(_ x: Variable, weight: Variable, bias: Variable?, activation: Activation = .identity) -> Variable {
    precondition(x.value.rank == 2, "linear: input must be [batch, features], got \(x.shape)")
    precondition(weight.value.rank == 2 && x.shape[1] == weight.shape[1],
                 "linear: input \(x.shape) does not match weight \(weight.shape) (expected [batch, \(weight.value.rank == 2 ? weight.shape[1] : -1)])")
    let batch = x.shape[0], inputs = x.shape[1], outputs = weight.shape[0]
    if let bias {
        precondition(bias.shape == [outputs], "linear: bias shape \(bias.shape) does not match \(outputs) outputs")
    }
    let backend = Backend.current
    let threads = backend.threads

    var z = Tensor(uninitializedShape: [batch, outputs])
    let zp = z.mutablePointer()
    // A batch of one or two gains nothing from the sparse form: transposing W costs as much.
    let sparseX = backend.sparseInputDensity > 0 && batch >= 4
        ? CompressedRows.compressing(x.value.pointer, rows: batch, columns: inputs, lda: inputs,
                                     maximumDensity: backend.sparseInputDensity, pool: backend.buffers,
                                     threads: threads)
        : nil
    if let sparseX {
        var wt = Tensor(uninitializedShape: [SparseGemm.panelFloats(rows: inputs, n: outputs)], backend: backend)
        SparseGemm.packTransposedPanels(weight.value.pointer, rows: outputs, columns: inputs, ld: inputs,
                                        into: wt.mutablePointer(), pool: threads)
        withExtendedLifetime(wt) {
            SparseGemm.multiply(sparseX, panels: wt.pointer, n: outputs, c: zp, ldc: outputs, accumulate: false, pool: threads)
        }
    } else {
        Gemm.sgemm(transposeA: false, transposeB: true, m: batch, n: outputs, k: inputs, alpha: 1,
                   a: x.value.pointer, lda: inputs, b: weight.value.pointer, ldb: inputs,
                   beta: 0, c: zp, ldc: outputs, pool: threads)
    }
    var y: Tensor
    if activation == .identity {
        activation.biasForward(z: zp, bias: bias?.value.pointer, y: zp, rows: batch, cols: outputs)
        y = z
    } else {
        y = Tensor(uninitializedShape: [batch, outputs])
        activation.biasForward(z: zp, bias: bias?.value.pointer, y: y.mutablePointer(), rows: batch, cols: outputs)
    }

    // Backward only needs to know which path ran (it compresses X's columns itself); the
    // forward's compressed rows go back to the pool now.
    let forwardWasSparse = sparseX != nil
    let inputs3: [Variable] = bias.map { [x, weight, $0] } ?? [x, weight]
    return Variable(y, inputs: inputs3) { out in
        guard var dz = out.grad else { return }
        out.grad = nil
        let dzp = dz.mutablePointer()   // unique: dz overwrites dy in place
        if activation == .identity {
            bias?.withGradientBuffer { gb, accumulate in
                Elementwise.columnSums(dzp, rows: batch, columns: outputs, into: gb, accumulate: accumulate)
            }
        } else {
            let yv = out.value
            if let bias, bias.requiresGrad {
                bias.withGradientBuffer { gb, accumulate in
                    if !accumulate { Elementwise.fill(gb, 0, count: outputs) }
                    activation.biasBackward(z: z.pointer, y: yv.pointer, dy: dzp, dz: dzp,
                                            biasGradient: gb, rows: batch, cols: outputs)
                }
            } else {
                activation.biasBackward(z: z.pointer, y: yv.pointer, dy: dzp, dz: dzp,
                                        biasGradient: nil, rows: batch, cols: outputs)
            }
        }
        let xp = x.value.pointer, wp = weight.value.pointer
        func weightGradient(_ gw: UnsafeMutablePointer<Float>, _ accumulate: Bool, _ pool: ThreadPool?) {
            Gemm.sgemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: batch, alpha: 1,
                       a: dzp, lda: outputs, b: xp, ldb: inputs,
                       beta: accumulate ? 1 : 0, c: gw, ldc: inputs, pool: pool)
        }
        func inputGradient(_ gx: UnsafeMutablePointer<Float>, _ accumulate: Bool, _ pool: ThreadPool?) {
            Gemm.sgemm(transposeA: false, transposeB: false, m: batch, n: inputs, k: outputs, alpha: 1,
                       a: dzp, lda: outputs, b: wp, ldb: inputs,
                       beta: accumulate ? 1 : 0, c: gx, ldc: inputs, pool: pool)
        }
        if forwardWasSparse {
            // dWᵀ = Xᵀ·dZ by X's columns' nonzeros, then transposed into W's gradient.
            weight.withGradientBuffer { gw, accumulate in
                // X's columns' nonzeros: the compressed rows of Xᵀ, straight from X.
                let compressedXt = CompressedRows.compressingColumns(x.value.pointer, rows: batch, columns: inputs, lda: inputs,
                                                                     maximumDensity: backend.sparseInputDensity,
                                                                     pool: backend.buffers, threads: threads)
                guard let xt = compressedXt else {
                    // Only if x's value changed since the forward pass; the dense product is right regardless.
                    weightGradient(gw, accumulate, threads)
                    return
                }
                var dzPanels = Tensor(uninitializedShape: [SparseGemm.panelFloats(rows: batch, n: outputs)], backend: backend)
                SparseGemm.packPanels(dzp, rows: batch, columns: outputs, ld: outputs, into: dzPanels.mutablePointer())
                // 128 of dWᵀ's columns at a time (inputs × 128, 400 KB for MNIST; whole panels at
                // every level, whose panel widths divide 128): they are transposed into W's
                // gradient while L2 still holds them, where the whole dWᵀ of a wide layer (3.2 MB
                // for 1024 outputs) would be read back from L3 or memory.
                let columnsAtATime = 128
                precondition(columnsAtATime % SparseGemm.panelWidth == 0, "linear: panel width \(SparseGemm.panelWidth) does not divide 128")
                let panelColumns = min(outputs, columnsAtATime)
                let gwtStride = SparseGemm.unaliasedStride(panelColumns)
                var gwt = Tensor(uninitializedShape: [inputs, gwtStride], backend: backend)
                let gwtp = gwt.mutablePointer()
                withExtendedLifetime(dzPanels) {
                    var column = 0
                    while column < outputs {
                        let width = min(columnsAtATime, outputs - column)
                        SparseGemm.multiply(xt, panels: dzPanels.pointer + column * batch, n: width, c: gwtp, ldc: gwtStride,
                                            accumulate: false, pool: threads)
                        SparseGemm.transpose(gwtp, rows: inputs, columns: width, lda: gwtStride,
                                             into: gw + column * inputs, ldt: inputs, accumulate: accumulate, pool: threads)
                        column += columnsAtATime
                    }
                }
                withExtendedLifetime(gwt) {}
            }
            x.withGradientBuffer { gx, accumulate in inputGradient(gx, accumulate, threads) }
            return
        }
        // dW and dX are independent products of equal cost (batch·inputs·outputs each). On two
        // threads, running them side by side (one thread each) replaces two split GEMMs — two
        // wake-ups and waits, B packed twice over — with one; results are the same as either
        // GEMM alone on one thread.
        if threads.threadCount == 2, weight.requiresGrad, x.requiresGrad,
           batch * inputs * outputs >= GemmPartition.minimumParallelWork {
            weight.withGradientBuffer { gw, accumulateW in
                x.withGradientBuffer { gx, accumulateX in
                    threads.parallelFor(2) { task in
                        if task == 0 { weightGradient(gw, accumulateW, nil) } else { inputGradient(gx, accumulateX, nil) }
                    }
                }
            }
        } else {
            weight.withGradientBuffer { gw, accumulate in weightGradient(gw, accumulate, threads) }
            x.withGradientBuffer { gx, accumulate in inputGradient(gx, accumulate, threads) }
        }
    }
}
