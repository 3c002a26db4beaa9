import Foundation

/// Times the first layer of the `bench train` networks on real MNIST batches, dense GEMM
/// against the sparse-input path (``CompressedRows`` + ``SparseGemm``), piece by piece, so the
/// choice of ``Backend/sparseInputDensity`` rests on measurements. Best of several repetitions
/// (warm caches); not used by tests.
public enum SparseInputBenchmark {
    /// Runs the comparison on `images` (MNIST bytes, scaled to [0, 1]) and returns printable lines.
    public static func run(images: ImageDataset, threads: ThreadPool) -> [String] {
        let shapes = [(batch: 60, outputs: 100), (batch: 128, outputs: 1024), (batch: 256, outputs: 256)]
        let inputs = images.featureCount
        let repetitions = 30
        var lines = ["sparse inputs: first layer \(inputs) → n on MNIST batches, \(threads.threadCount) thread(s), µs (best of \(repetitions)); \(CPULevel.cpuModel), level \(KernelTable.current.summary)"]
        for (batch, outputs) in shapes {
            let scratchFloats = max(batch, inputs) * SparseGemm.unaliasedStride(max(outputs, batch))
            let x = UnsafeMutablePointer<Float>.allocate(capacity: batch * inputs)
            let w = UnsafeMutablePointer<Float>.allocate(capacity: outputs * inputs)
            let dz = UnsafeMutablePointer<Float>.allocate(capacity: batch * outputs)
            let out = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats)
            let out2 = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats)
            let panels = UnsafeMutablePointer<Float>.allocate(capacity: SparseGemm.panelFloats(rows: max(batch, inputs), n: outputs))
            defer { [x, w, dz, out, out2, panels].forEach { $0.deallocate() } }
            for i in 0..<(batch * inputs) { x[i] = Float(images.pixels[i]) / 255 }
            for i in 0..<(outputs * inputs) { w[i] = Float(i % 17) * 0.01 - 0.08 }
            for i in 0..<(batch * outputs) { dz[i] = Float(i % 13) * 0.01 - 0.06 }
            out2.update(repeating: 0, count: scratchFloats)
            let pool = BufferPool()
            func best(_ body: () -> Void) -> Double {
                var best = Double.infinity
                for _ in 0..<repetitions {
                    let start = DispatchTime.now().uptimeNanoseconds
                    body()
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
                }
                return best
            }
            let gStride = SparseGemm.unaliasedStride(outputs)
            let denseForward = best {
                Gemm.sgemm(transposeA: false, transposeB: true, m: batch, n: outputs, k: inputs, alpha: 1,
                           a: x, lda: inputs, b: w, ldb: inputs, beta: 0, c: out, ldc: outputs, pool: threads)
            }
            let denseWeight = best {
                Gemm.sgemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: batch, alpha: 1,
                           a: dz, lda: outputs, b: x, ldb: inputs, beta: 1, c: out, ldc: inputs, pool: threads)
            }
            var density = 0.0
            let compress = best {
                let s = CompressedRows.compressing(x, rows: batch, columns: inputs, lda: inputs, maximumDensity: 1,
                                                   pool: pool, threads: threads)
                density = Double(s?.count ?? 0) / Double(batch * inputs)
            }
            let packW = best {
                SparseGemm.packTransposedPanels(w, rows: outputs, columns: inputs, ld: inputs, into: panels, pool: threads)
            }
            guard let s = CompressedRows.compressing(x, rows: batch, columns: inputs, lda: inputs, maximumDensity: 1,
                                                     pool: pool, threads: threads) else { continue }
            let sparseForward = best {
                SparseGemm.multiply(s, panels: panels, n: outputs, c: out, ldc: outputs, accumulate: false, pool: threads)
            }
            // X's columns compressed straight from X (what LinearOp runs), and for comparison
            // the transpose it replaces.
            let xtStride = SparseGemm.unaliasedStride(batch)
            let transposeX = best {
                SparseGemm.transpose(x, rows: batch, columns: inputs, lda: inputs, into: out2, ldt: xtStride,
                                     accumulate: false, pool: threads)
            }
            let compressXt = best {
                _ = CompressedRows.compressingColumns(x, rows: batch, columns: inputs, lda: inputs, maximumDensity: 1,
                                                      pool: pool, threads: threads)
            }
            guard let st = CompressedRows.compressingColumns(x, rows: batch, columns: inputs, lda: inputs, maximumDensity: 1,
                                                             pool: pool, threads: threads) else { continue }
            let packZ = best { SparseGemm.packPanels(dz, rows: batch, columns: outputs, ld: outputs, into: panels) }
            let sparseWeight = best {
                SparseGemm.multiply(st, panels: panels, n: outputs, c: out, ldc: gStride, accumulate: false, pool: threads)
            }
            let transposeG = best {
                SparseGemm.transpose(out, rows: inputs, columns: outputs, lda: gStride, into: out2, ldt: inputs,
                                     accumulate: true, pool: threads)
            }
            func f(_ v: Double) -> String { String(format: "%.1f", v) }
            let flops = 2.0 * Double(batch * inputs * outputs)
            let sparseTotal = compress + packW + sparseForward + compressXt + packZ + sparseWeight + transposeG
            lines.append("  \(batch)×\(inputs)→\(outputs), density \(String(format: "%.3f", density)):"
                + " dense fwd \(f(denseForward)) (\(f(flops / denseForward / 1e3)) GFLOP/s) dW \(f(denseWeight))"
                + " | sparse compress \(f(compress)) Wᵀ \(f(packW)) fwd \(f(sparseForward))"
                + " (\(f(flops * density / sparseForward / 1e3)) GFLOP/s useful)"
                + " Xᵀ compressed \(f(compressXt)) (a plain transpose: \(f(transposeX))) dZ \(f(packZ)) dWᵀ \(f(sparseWeight)) add \(f(transposeG))"
                + " | total dense \(f(denseForward + denseWeight)) sparse \(f(sparseTotal))")
        }
        return lines
    }
}
