import Testing
import Backprop

/// The sparse-input path of a fully connected layer: compression, the sparse product, the
/// transposes and panel packing against plain loops, and `linear` on sparse inputs against the
/// dense GEMM path and finite differences.
@Suite struct SparseInputTests {
    /// A `rows × columns` matrix with about `density` of its elements nonzero (values in ±[0.1, 1]).
    static func sparseMatrix(rows: Int, columns: Int, density: Double, seed: UInt64) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        let mask = Tensor.uniform([rows * columns], in: 0...1, using: &generator).scalars
        let values = Tensor.uniform([rows * columns], in: 0.1...1, using: &generator).scalars
        return (0..<(rows * columns)).map { i in
            Double(mask[i]) < density ? (i % 3 == 0 ? -values[i] : values[i]) : 0
        }
    }

    static func dense(_ count: Int, seed: UInt64) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        return Tensor.uniform([count], in: -1...1, using: &generator).scalars
    }

    // MARK: Compressed rows

    @Test(arguments: [1, 2])
    func compressionListsExactlyTheNonzerosInOrder(threads: Int) throws {
        // 64 × 784 is above the size where the count and compress passes split over threads.
        let rows = 64, columns = 784, lda = 790
        var a = [Float](repeating: 0, count: rows * lda)
        let source = Self.sparseMatrix(rows: rows, columns: columns, density: 0.2, seed: 1)
        for i in 0..<rows { for j in 0..<columns { a[i * lda + j] = source[i * columns + j] } }
        // Values that must be kept (NaN, ±∞, tiny) or dropped (−0), and padding that must be ignored.
        a[0] = .nan; a[5] = .infinity; a[lda + 7] = -.infinity; a[2 * lda + 3] = -0.0
        a[3 * lda + 9] = .leastNonzeroMagnitude
        for i in 0..<rows { for j in columns..<lda { a[i * lda + j] = 99 } }
        let compressed = try #require(a.withUnsafeBufferPointer {
            CompressedRows.compressing($0.baseAddress!, rows: rows, columns: columns, lda: lda, maximumDensity: 0.5,
                                       pool: BufferPool(), threads: ThreadPool(threadCount: threads))
        })
        var total = 0
        for i in 0..<rows {
            var expectedIndices: [Int32] = [], expectedValues: [Float] = []
            for j in 0..<columns where a[i * lda + j] != 0 || a[i * lda + j].isNaN {
                expectedIndices.append(Int32(j))
                expectedValues.append(a[i * lda + j])
            }
            #expect(compressed.elementsBefore[i] == Int32(total))
            total += expectedIndices.count
            // Row i's slot starts at i · columns and holds exactly its elements.
            #expect(compressed.rowStarts[i] == Int32(i * columns))
            #expect(compressed.rowEnds[i] - compressed.rowStarts[i] == Int32(expectedIndices.count))
            let stored = Int(compressed.rowStarts[i])..<Int(compressed.rowEnds[i])
            #expect(stored.map { compressed.indices[$0] } == expectedIndices)
            #expect(stored.map { compressed.values[$0].bitPattern } == expectedValues.map(\.bitPattern))
        }
        #expect(compressed.count == total)
        #expect(compressed.elementsBefore[rows] == Int32(total))
    }

    /// Compressing X's columns straight from X gives what transposing X and compressing its
    /// rows gives, element for element (special values included), for ragged tiles of 16 × 16
    /// and on 1 and 2 threads.
    @Test(arguments: [(1, 1), (15, 16), (16, 33), (17, 5), (60, 784), (60, 790), (130, 47)])
    func columnCompressionEqualsCompressingTheTranspose(shape: (rows: Int, columns: Int)) throws {
        let (rows, columns) = shape
        let lda = columns + 3
        var a = [Float](repeating: 99, count: rows * lda)
        let source = Self.sparseMatrix(rows: rows, columns: columns, density: 0.2, seed: UInt64(rows * 1000 + columns))
        for i in 0..<rows { for j in 0..<columns { a[i * lda + j] = source[i * columns + j] } }
        a[0] = .nan
        if rows > 2 && columns > 3 { a[2 * lda + 3] = -0.0; a[lda + 1] = -.infinity; a[(rows - 1) * lda + columns - 1] = 5 }
        var transposed = [Float](repeating: 0, count: columns * rows)
        for i in 0..<rows { for j in 0..<columns { transposed[j * rows + i] = a[i * lda + j] } }
        let expected = try #require(transposed.withUnsafeBufferPointer {
            CompressedRows.compressing($0.baseAddress!, rows: columns, columns: rows, lda: rows, maximumDensity: 1,
                                       pool: BufferPool(), threads: nil)
        })
        for threads in [1, 2] {
            let compressed = try #require(a.withUnsafeBufferPointer {
                CompressedRows.compressingColumns($0.baseAddress!, rows: rows, columns: columns, lda: lda, maximumDensity: 1,
                                                  pool: BufferPool(), threads: ThreadPool(threadCount: threads))
            })
            #expect(compressed.rows == columns && compressed.columns == rows)
            #expect(compressed.count == expected.count)
            for j in 0..<columns {
                let mine = Int(compressed.rowStarts[j])..<Int(compressed.rowEnds[j])
                let theirs = Int(expected.rowStarts[j])..<Int(expected.rowEnds[j])
                #expect(mine.map { compressed.indices[$0] } == theirs.map { expected.indices[$0] }, "column \(j)")
                #expect(mine.map { compressed.values[$0].bitPattern } == theirs.map { expected.values[$0].bitPattern })
                #expect(compressed.elementsBefore[j] == expected.elementsBefore[j])
            }
        }
        // Too dense for the limit: declined, as `compressing` declines.
        if rows * columns >= 10 {
            let dense = [Float](repeating: 1, count: rows * lda)
            #expect(dense.withUnsafeBufferPointer {
                CompressedRows.compressingColumns($0.baseAddress!, rows: rows, columns: columns, lda: lda, maximumDensity: 0.3,
                                                  pool: BufferPool(), threads: nil)
            } == nil)
        }
    }

    /// The rows a first look samples are sparse, the others dense: the look lets the batch
    /// through, and the exact limit then declines it, on any number of threads. Just under the
    /// limit, it is accepted on any number of threads.
    @Test func compressionDeclinesByTheExactCountWhateverTheSampleAndThreads() throws {
        // 40,000 elements: above the size where compression splits over threads.
        let rows = 400, columns = 100
        var a = [Float](repeating: 0, count: rows * columns)
        let sampled = Set((0..<8).map { $0 * rows / 8 })
        for i in 0..<rows {
            let nonzeros = sampled.contains(i) ? 10 : 100
            for j in 0..<nonzeros { a[i * columns + j] = 1 }
        }
        for threads in [1, 2] {
            let declined = a.withUnsafeBufferPointer {
                CompressedRows.compressing($0.baseAddress!, rows: rows, columns: columns, lda: columns, maximumDensity: 0.3,
                                           pool: BufferPool(), threads: ThreadPool(threadCount: threads))
            }
            #expect(declined == nil)
        }
        // 30 per row is exactly the 0.3 limit: accepted, whole, on 1 and 2 threads.
        var b = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<30 { b[i * columns + (j * 3 + i) % columns] = Float(j + 1) } }
        for threads in [1, 2] {
            let accepted = try #require(b.withUnsafeBufferPointer {
                CompressedRows.compressing($0.baseAddress!, rows: rows, columns: columns, lda: columns, maximumDensity: 0.3,
                                           pool: BufferPool(), threads: ThreadPool(threadCount: threads))
            })
            #expect(accepted.count == 30 * rows)
        }
        // One more nonzero (in a row the sample skips): each thread's half stays under the
        // limit, the total does not, so only the final total declines it — on 1 and 2 threads.
        b[(rows / 2 + 1) * columns + 99] = 1
        #expect(b[(rows / 2 + 1) * columns + 99] == 1 && !sampled.contains(rows / 2 + 1))
        for threads in [1, 2] {
            #expect(b.withUnsafeBufferPointer {
                CompressedRows.compressing($0.baseAddress!, rows: rows, columns: columns, lda: columns, maximumDensity: 0.3,
                                           pool: BufferPool(), threads: ThreadPool(threadCount: threads))
            } == nil)
        }
    }

    /// Each level's panels are as wide as one pass of its product kernel (README, SparseGemm):
    /// 8 accumulators of 16, 8 or 4 floats (16 of NEON's 4).
    @Test func panelWidthIsOnePassOfTheLevelsKernel() throws {
        let expected: [CPULevel: Int] = [.avx512: 128, .avx2: 64, .neon: 64, .baseline: 32]
        for level in CPULevel.supported {
            let table = try #require(KernelTable(level: level))
            #expect(table.sparsePanelWidth == expected[level], "\(level.rawValue)")
            #expect(128 % table.sparsePanelWidth == 0)
        }
        #expect(SparseGemm.panelWidth == KernelTable.current.sparsePanelWidth)
    }

    @Test func compressionDeclinesADenseMatrix() {
        let a = Self.sparseMatrix(rows: 20, columns: 40, density: 0.6, seed: 2)
        let nonzero = a.filter { $0 != 0 }.count
        let declined = a.withUnsafeBufferPointer {
            CompressedRows.compressing($0.baseAddress!, rows: 20, columns: 40, lda: 40, maximumDensity: 0.3,
                                       pool: BufferPool(), threads: nil)
        }
        #expect(Double(nonzero) > 0.3 * 800)
        #expect(declined == nil)
        let accepted = a.withUnsafeBufferPointer {
            CompressedRows.compressing($0.baseAddress!, rows: 20, columns: 40, lda: 40, maximumDensity: 0.9,
                                       pool: BufferPool(), threads: nil)
        }
        #expect(accepted?.count == nonzero)
    }

    // MARK: Sparse product

    /// `C = S · B` against a double-precision loop over the dense S, for widths around the
    /// 16-lane vectors and 128-column panels, with and without accumulation, on 1 and 2 threads.
    @Test(arguments: [1, 15, 16, 17, 100, 128, 129, 256, 300])
    func sparseProductMatchesADenseLoop(n: Int) throws {
        let rows = 41, k = 70
        let s = Self.sparseMatrix(rows: rows, columns: k, density: 0.25, seed: UInt64(n))
        var sWithEmptyRows = s
        for j in 0..<k { sWithEmptyRows[3 * k + j] = 0; sWithEmptyRows[40 * k + j] = 0 }
        let b = Self.dense(k * n, seed: 100 + UInt64(n))
        let initial = Self.dense(rows * (n + 3), seed: 200 + UInt64(n))
        var panels = [Float](repeating: .nan, count: SparseGemm.panelFloats(rows: k, n: n))
        b.withUnsafeBufferPointer { bp in
            panels.withUnsafeMutableBufferPointer {
                SparseGemm.packPanels(bp.baseAddress!, rows: k, columns: n, ld: n, into: $0.baseAddress!)
            }
        }
        for threads in [1, 2] {
            for accumulate in [false, true] {
                let compressed = try #require(sWithEmptyRows.withUnsafeBufferPointer {
                    CompressedRows.compressing($0.baseAddress!, rows: rows, columns: k, lda: k, maximumDensity: 1,
                                               pool: BufferPool(), threads: nil)
                })
                var c = initial
                panels.withUnsafeBufferPointer { pp in
                    c.withUnsafeMutableBufferPointer {
                        SparseGemm.multiply(compressed, panels: pp.baseAddress!, n: n, c: $0.baseAddress!, ldc: n + 3,
                                            accumulate: accumulate, pool: ThreadPool(threadCount: threads))
                    }
                }
                var worst: Double = 0
                for i in 0..<rows {
                    for j in 0..<n {
                        var sum = accumulate ? Double(initial[i * (n + 3) + j]) : 0
                        for p in 0..<k { sum += Double(sWithEmptyRows[i * k + p]) * Double(b[p * n + j]) }
                        worst = max(worst, abs(Double(c[i * (n + 3) + j]) - sum))
                    }
                    // The padding columns of C are never written.
                    for j in n..<(n + 3) { #expect(c[i * (n + 3) + j] == initial[i * (n + 3) + j]) }
                }
                #expect(worst < 1e-5, "n \(n), threads \(threads), accumulate \(accumulate): max error \(worst)")
            }
        }
    }

    /// A long depth (several L1 chunks of the panel's rows per row of S) at a width of one to
    /// three vectors, where the chunks are largest.
    @Test(arguments: [16, 40])
    func sparseProductOverManyDepthChunks(n: Int) throws {
        let rows = 30, k = 1500
        let s = Self.sparseMatrix(rows: rows, columns: k, density: 0.1, seed: 50 + UInt64(n))
        let b = Self.dense(k * n, seed: 60 + UInt64(n))
        var panels = [Float](repeating: 0, count: SparseGemm.panelFloats(rows: k, n: n))
        b.withUnsafeBufferPointer { bp in
            panels.withUnsafeMutableBufferPointer { SparseGemm.packPanels(bp.baseAddress!, rows: k, columns: n, ld: n, into: $0.baseAddress!) }
        }
        let compressed = try #require(s.withUnsafeBufferPointer {
            CompressedRows.compressing($0.baseAddress!, rows: rows, columns: k, lda: k, maximumDensity: 1, pool: BufferPool(), threads: nil)
        })
        var c = [Float](repeating: .nan, count: rows * n)
        panels.withUnsafeBufferPointer { pp in
            c.withUnsafeMutableBufferPointer {
                SparseGemm.multiply(compressed, panels: pp.baseAddress!, n: n, c: $0.baseAddress!, ldc: n, accumulate: false, pool: nil)
            }
        }
        var worst: Double = 0
        for i in 0..<rows {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k { sum += Double(s[i * k + p]) * Double(b[p * n + j]) }
                worst = max(worst, abs(Double(c[i * n + j]) - sum))
            }
        }
        #expect(worst < 1e-4, "max error \(worst)")
    }

    // MARK: Transposes and panels

    @Test(arguments: [(1, 1), (16, 16), (17, 33), (48, 31), (100, 784), (5, 64)])
    func transposeMatchesALoop(shape: (rows: Int, columns: Int)) {
        let (rows, columns) = shape
        let lda = columns + 5, ldt = rows + 7
        let a = Self.dense(rows * lda, seed: UInt64(rows * 1000 + columns))
        let initial = Self.dense(columns * ldt, seed: 7)
        for threads in [1, 2] {
            for accumulate in [false, true] {
                var t = initial
                a.withUnsafeBufferPointer { ap in
                    t.withUnsafeMutableBufferPointer {
                        SparseGemm.transpose(ap.baseAddress!, rows: rows, columns: columns, lda: lda, into: $0.baseAddress!,
                                             ldt: ldt, accumulate: accumulate, pool: ThreadPool(threadCount: threads))
                    }
                }
                var mismatches = 0
                for j in 0..<columns {
                    for i in 0..<ldt {
                        let expected = i < rows ? (accumulate ? initial[j * ldt + i] + a[i * lda + j] : a[i * lda + j])
                                                : initial[j * ldt + i]
                        if t[j * ldt + i] != expected { mismatches += 1 }
                    }
                }
                #expect(mismatches == 0, "\(rows)×\(columns), threads \(threads), accumulate \(accumulate)")
            }
        }
    }

    @Test(arguments: [100, 128, 200, 300])
    func transposedPanelsHoldTheTranspose(rows: Int) {
        // 784 columns: above the size where the bands split over the two threads.
        let columns = 784
        let a = Self.dense(rows * columns, seed: UInt64(rows))
        var panels = [Float](repeating: .nan, count: SparseGemm.panelFloats(rows: columns, n: rows))
        a.withUnsafeBufferPointer { ap in
            panels.withUnsafeMutableBufferPointer {
                SparseGemm.packTransposedPanels(ap.baseAddress!, rows: rows, columns: columns, ld: columns,
                                                into: $0.baseAddress!, pool: ThreadPool(threadCount: 2))
            }
        }
        // Bᵀ = A: element (p, j) of B = A[j, p] sits in panel j / 128, row p, lane j % 128.
        var mismatches = 0
        for j in 0..<rows {
            for p in 0..<columns {
                let index = j / SparseGemm.panelWidth * SparseGemm.panelWidth * columns + p * SparseGemm.panelWidth + j % SparseGemm.panelWidth
                if panels[index] != a[j * columns + p] { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    // MARK: The layer

    /// `linear` on a sparse batch gives the dense path's values and gradients (up to rounding),
    /// whether or not the input needs its own gradient, on 1 and 2 threads.
    @Test(arguments: [(batch: 4, inputs: 60, outputs: 100), (batch: 61, inputs: 784, outputs: 100),
                      (batch: 33, inputs: 200, outputs: 256), (batch: 8, inputs: 50, outputs: 17),
                      (batch: 20, inputs: 300, outputs: 200)])
    func linearOnSparseInputsMatchesTheDensePath(shape: (batch: Int, inputs: Int, outputs: Int)) {
        let (batch, inputs, outputs) = shape
        let xValues = Self.sparseMatrix(rows: batch, columns: inputs, density: 0.19, seed: 11)
        let wValues = Self.dense(outputs * inputs, seed: 12)
        let bValues = Self.dense(outputs, seed: 13)
        let upstream = Self.dense(batch * outputs, seed: 14)
        // The batch is sparse enough for the sparse path (otherwise this would compare dense with dense).
        let taken = xValues.withUnsafeBufferPointer {
            CompressedRows.compressing($0.baseAddress!, rows: batch, columns: inputs, lda: inputs, maximumDensity: 0.3,
                                       pool: BufferPool(), threads: nil)
        }
        #expect(taken != nil)
        for threads in [1, 2] {
            for inputNeedsGradient in [false, true] {
                func run(density: Double) -> (y: [Float], dw: [Float], db: [Float], dx: [Float]?) {
                    let backend = Backend(threads: ThreadPool(threadCount: threads), sparseInputDensity: density)
                    return Backend.$current.withValue(backend) {
                        let x = Variable(Tensor(shape: [batch, inputs], scalars: xValues), requiresGrad: inputNeedsGradient)
                        let w = Variable(Tensor(shape: [outputs, inputs], scalars: wValues), requiresGrad: true)
                        let b = Variable(Tensor(shape: [outputs], scalars: bValues), requiresGrad: true)
                        let y = linear(x, weight: w, bias: b, activation: .tanh)
                        let loss = (y * Variable(Tensor(shape: [batch, outputs], scalars: upstream))).sum()
                        loss.backward()
                        return (y.value.scalars, w.grad!.scalars, b.grad!.scalars, x.grad?.scalars)
                    }
                }
                let sparse = run(density: 0.3), dense = run(density: 0)
                func worst(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
                let label = "\(shape), threads \(threads), dx \(inputNeedsGradient)"
                #expect(worst(sparse.y, dense.y) < 2e-5, "\(label)")
                #expect(worst(sparse.dw, dense.dw) < 2e-4, "\(label)")
                #expect(worst(sparse.db, dense.db) < 2e-4, "\(label)")
                #expect(sparse.dx?.count == dense.dx?.count)
                if let sx = sparse.dx, let dx = dense.dx { #expect(worst(sx, dx) < 2e-4, "\(label)") }
            }
        }
    }

    /// Which path ran shows where an infinite weight meets a zero input: the dense product has
    /// 0 · ∞ = NaN, the sparse one skips the term (as documented on `linear`).
    @Test func sparsePathSkipsZeroInputsAndDensePathDoesNot() {
        let batch = 6, inputs = 40, outputs = 3
        var xValues = Self.sparseMatrix(rows: batch, columns: inputs, density: 0.2, seed: 21)
        for i in 0..<batch { xValues[i * inputs + 7] = 0 }
        var wValues = Self.dense(outputs * inputs, seed: 22)
        wValues[7] = .infinity   // output 0, input 7: every row's input 7 is zero
        func forward(density: Double) -> [Float] {
            Backend.$current.withValue(Backend(threads: ThreadPool(threadCount: 1), sparseInputDensity: density)) {
                linear(Variable(Tensor(shape: [batch, inputs], scalars: xValues)),
                       weight: Variable(Tensor(shape: [outputs, inputs], scalars: wValues)), bias: nil).value.scalars
            }
        }
        let sparse = forward(density: 0.3), dense = forward(density: 0)
        let sparseFinite = sparse.allSatisfy { $0.isFinite }
        let denseColumn = (0..<batch).map { dense[$0 * outputs] }
        let denseNaN = denseColumn.allSatisfy { $0.isNaN }
        #expect(sparseFinite)
        #expect(denseNaN)
    }

    /// One weight used by two layers: the second backward adds into the gradient the first one
    /// left (the sparse path's transpose-add), as the dense path does.
    @Test func sharedWeightAccumulatesItsGradientLikeTheDensePath() {
        // 150 outputs: two panels of the weight gradient, each transposed into (and the second
        // call adding to) the shared gradient.
        let batch = 32, inputs = 300, outputs = 150
        let x1 = Self.sparseMatrix(rows: batch, columns: inputs, density: 0.15, seed: 41)
        let x2 = Self.sparseMatrix(rows: batch, columns: inputs, density: 0.15, seed: 42)
        let wValues = Self.dense(outputs * inputs, seed: 43)
        func gradient(density: Double) -> [Float] {
            Backend.$current.withValue(Backend(threads: ThreadPool(threadCount: 2), sparseInputDensity: density)) {
                let w = Variable(Tensor(shape: [outputs, inputs], scalars: wValues), requiresGrad: true)
                let a = linear(Variable(Tensor(shape: [batch, inputs], scalars: x1)), weight: w, bias: nil, activation: .sigmoid)
                let b = linear(Variable(Tensor(shape: [batch, inputs], scalars: x2)), weight: w, bias: nil, activation: .tanh)
                (a.squared().sum() + b.sum()).backward()
                return w.grad!.scalars
            }
        }
        let sparse = gradient(density: 0.3), dense = gradient(density: 0)
        let worst = zip(sparse, dense).map { abs($0 - $1) }.max() ?? 0
        let scale = dense.map { abs($0) }.max() ?? 0
        #expect(scale > 1)
        #expect(worst < 2e-4)
    }

    @Test func linearGradientsOnSparseInputsMatchFiniteDifferences() {
        let backend = Backend(threads: ThreadPool(threadCount: 2), sparseInputDensity: 0.5)
        Backend.$current.withValue(backend) {
            let x = Variable(Tensor(shape: [5, 24], scalars: Self.sparseMatrix(rows: 5, columns: 24, density: 0.2, seed: 31)),
                             requiresGrad: true)
            var generator = RandomGenerator(seed: 32)
            let w = Variable(.uniform([19, 24], in: -1...1, using: &generator), requiresGrad: true)
            let b = Variable(.uniform([19], in: -1...1, using: &generator), requiresGrad: true)
            for activation in [Activation.identity, .sigmoid, .tanh] {
                let result = GradientCheck.check([x, w, b]) { linear(x, weight: w, bias: b, activation: activation).squared().sum() }
                #expect(result.passed, "\(activation): \(result)")
            }
        }
    }
}
