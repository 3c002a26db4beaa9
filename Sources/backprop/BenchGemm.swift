import ArgumentParser
import Backprop
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `backprop bench gemm`: sgemm GFLOP/s against the FMA peak measured in the same run and, where
/// numpy is installed, against numpy's OpenBLAS on the same shapes, thread counts and layouts.
public struct BenchGemm: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Time sgemm on training-sized shapes against the measured FP32 peak and numpy.",
        discussion: """
            Each shape is timed on 1 thread and on all threads (median and best of repeated runs \
            after warm-up, >= 50 ms per figure and round). "cores" is process CPU time / wall time \
            during the multi-threaded runs: the machine may be shared, so it shows how many cores \
            the figure really had. Backprop and numpy take turns shape by shape, in --rounds \
            rounds whose order flips each round, so both meet the same moments of a shared \
            machine: a figure is the median of its rounds' medians (best: the best run of any \
            round), and "ratio med" the median of the rounds' ratios, each Backprop median over \
            the numpy median measured next to it. numpy runs as a child process with OPENBLAS_CORETYPE and \
            OPENBLAS_L2_SIZE removed from its environment, so OpenBLAS picks its best kernels; \
            with --cpu LEVEL both sides run that instruction-set level instead (Backprop's \
            LEVEL kernels, and OpenBLAS's kernel of that level: avx2 = Haswell, avx512 = \
            SkylakeX, baseline = Nehalem, i.e. SSE only).
            """
    )

    @Option(help: "Run only this thread count (default: 1 and all of ThreadPool.shared).")
    var threads: Int?

    @Option(help: "Shapes as M,N,K,LAYOUT separated by spaces or semicolons, e.g. \"60,100,784,NN;128,784,1024,NT\".")
    var shapes: String?

    @Flag(help: "One large shape on all threads, fewer repetitions (for CI).")
    var quick = false

    @Option(help: "Instruction-set level for Backprop and numpy/OpenBLAS alike: baseline, avx2, avx512 or neon (default: Backprop's level in force, OpenBLAS's best).")
    var cpu: CPULevel?

    @Flag(help: "Speed guard (for CI): fail unless the level in use is the best this CPU has and the large shape's all-thread median is at least a tenth of the measured peak.")
    var guardSpeed = false

    @Option(help: "Rounds of alternating Backprop and numpy figures per shape (default: 3; 1 with --quick).")
    var rounds: Int?

    @Flag(help: "Do not run the numpy comparison.")
    var noNumpy = false

    @Option(help: "Python interpreter for the numpy comparison.")
    var python = "python3"

    public init() {}

    public func run() throws {
        let benchShapes = try resolvedShapes()
        let allThreads = ThreadPool.shared.threadCount
        var threadCounts = threads.map { [$0] } ?? (quick ? [allThreads] : [1, allThreads])
        threadCounts = threadCounts.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        guard threadCounts.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--threads must be >= 1") }
        let rounds = self.rounds ?? (quick ? 1 : 3)
        guard rounds >= 1 else { throw ValidationError("--rounds must be >= 1") }
        let minSeconds = quick ? 0.2 : 0.05
        let kernels = try benchKernels(cpu)
        let numpy = noNumpy ? nil : GemmNumpyRunner(python: python, level: cpu)

        print("backprop bench gemm: \(CPULevel.cpuModel), level \(kernels.summary) (best here: \(CPULevel.best.rawValue)), "
              + "\(ProcessInfo.processInfo.activeProcessorCount) active processors, shared pool of \(allThreads) threads")
        if let numpy { print(numpy.status) }

        var largeAllThreadMedian: Double?
        var allThreadPeak: Double?
        for threadCount in threadCounts {
            let pool = threadCount == allThreads ? ThreadPool.shared : ThreadPool(threadCount: threadCount)
            // Peak is measured before and after the shapes and the higher figure kept: on a shared
            // machine a single probe can land in a busy moment and inflate every "% of peak".
            let peakBefore = PeakFlops.measure(threads: threadCount, pool: pool, kernels: kernels)
            let session = numpy?.start(threads: threadCount)
            var ours = [[GemmBenchTiming]](repeating: [], count: benchShapes.count)
            var theirs = [[(median: Double, best: Double)]](repeating: [], count: benchShapes.count)
            for round in 0..<rounds {
                for (index, shape) in benchShapes.enumerated() {
                    // numpy first in odd rounds, so neither side always follows the other.
                    if round % 2 == 1, let figure = session?.measure(shape, minSeconds: minSeconds) { theirs[index].append(figure) }
                    ours[index].append(GemmBenchTiming.measure(shape, pool: threadCount == 1 ? nil : pool, kernels: kernels,
                                                               minSeconds: minSeconds))
                    if round % 2 == 0, let figure = session?.measure(shape, minSeconds: minSeconds) { theirs[index].append(figure) }
                }
            }
            session?.close()
            let peak = max(peakBefore, PeakFlops.measure(threads: threadCount, pool: pool, kernels: kernels))
            if threadCount == allThreads { allThreadPeak = peak }
            print("")
            print("threads \(threadCount): measured FP32 peak \(format(peak, 1)) GFLOP/s (PeakFlops, \(format(peak / Double(threadCount), 1)) per thread)")
            if let info = session?.info { print("numpy: \(info)") }
            if let failure = session?.failure { print("numpy comparison: \(failure)") }
            print(pad("shape (M,N,K)", 20) + pad("layout", 8) + pad("median", 10) + pad("best", 10)
                  + pad("%peak", 8) + pad("cores", 7) + pad("numpy med", 11) + pad("numpy best", 12) + "ratio med/best")
            for (index, shape) in benchShapes.enumerated() {
                let timing = GemmBenchTiming(medianGflops: median(ours[index].map(\.medianGflops)),
                                             bestGflops: ours[index].map(\.bestGflops).max() ?? 0,
                                             cores: ours[index].map(\.cores).reduce(0, +) / Double(ours[index].count))
                var line = pad("(\(shape.m),\(shape.n),\(shape.k))", 20) + pad(shape.layout, 8)
                    + pad(format(timing.medianGflops, 1), 10) + pad(format(timing.bestGflops, 1), 10)
                    + pad(format(100 * timing.bestGflops / peak, 0) + "%", 8)
                    + pad(threadCount == 1 ? "-" : format(timing.cores, 2), 7)
                if theirs[index].count == ours[index].count {
                    let reference = (median: median(theirs[index].map(\.median)), best: theirs[index].map(\.best).max() ?? 0)
                    let pairedRatio = median(zip(ours[index], theirs[index]).map { $0.medianGflops / $1.median })
                    line += pad(format(reference.median, 1), 11) + pad(format(reference.best, 1), 12)
                        + format(pairedRatio, 2) + "x / "
                        + format(timing.bestGflops / reference.best, 2) + "x"
                } else {
                    line += pad("-", 11) + pad("-", 12) + "-"
                }
                print(line)
                if shape == benchShapes.first(where: { $0.isLarge }), threadCount == allThreads {
                    largeAllThreadMedian = timing.medianGflops
                }
            }
        }
        if guardSpeed {
            guard let measured = largeAllThreadMedian, let peak = allThreadPeak else {
                throw ValidationError("--guard-speed needs a large shape (>= 1024 per side) run on all \(allThreads) threads")
            }
            var failures: [String] = []
            if kernels.level != CPULevel.best {
                failures.append("the kernels in use are \(kernels.level.rawValue) but this CPU's best level is \(CPULevel.best.rawValue)")
            }
            if measured < peak / 10 {
                failures.append("large-shape sgemm reached \(format(measured, 1)) GFLOP/s, below a tenth of the measured peak \(format(peak, 1))")
            }
            if !failures.isEmpty {
                print("FAIL: " + failures.joined(separator: "; "))
                throw ExitCode(1)
            }
            print("OK: level \(kernels.level.rawValue) is the best this CPU has; large-shape sgemm \(format(measured, 1)) GFLOP/s "
                  + "= \(format(100 * measured / peak, 0))% of the measured peak \(format(peak, 1)) GFLOP/s (guard: >= 10%)")
        }
    }

    private func resolvedShapes() throws -> [GemmBenchShape] {
        if let shapes {
            let specs = shapes.split(whereSeparator: { $0 == ";" || $0 == " " })
            return try specs.map { spec in
                let parts = spec.split(separator: ",")
                guard parts.count == 4, let m = Int(parts[0]), let n = Int(parts[1]), let k = Int(parts[2]),
                      m > 0, n > 0, k > 0, ["NN", "NT", "TN", "TT"].contains(String(parts[3]).uppercased()) else {
                    throw ValidationError("bad shape '\(spec)': expected M,N,K,LAYOUT with LAYOUT one of NN NT TN TT")
                }
                return GemmBenchShape(m: m, n: n, k: k, layout: String(parts[3]).uppercased())
            }
        }
        if quick { return [GemmBenchShape(m: 2048, n: 2048, k: 2048, layout: "NN")] }
        return GemmBenchShape.standard
    }
}

/// One benchmarked problem: sizes and layout ("NN" = A·B, "NT" = A·Bᵀ, "TN" = Aᵀ·B, "TT").
struct GemmBenchShape: Equatable {
    var m: Int
    var n: Int
    var k: Int
    var layout: String

    var transposeA: Bool { layout.first == "T" }
    var transposeB: Bool { layout.last == "T" }
    var key: String { "\(m),\(n),\(k),\(layout)" }
    var isLarge: Bool { min(m, n, k) >= 1024 }

    /// The shapes a small MLP trains with (batch 128 or 60, 784 inputs, 1024-wide layers, 10
    /// classes) in the three layouts of forward, weight-gradient and input-gradient passes, plus
    /// one large square problem.
    static let standard: [GemmBenchShape] = [
        GemmBenchShape(m: 128, n: 1024, k: 784, layout: "NN"),
        GemmBenchShape(m: 128, n: 1024, k: 1024, layout: "NN"),
        GemmBenchShape(m: 1024, n: 128, k: 1024, layout: "TN"),
        GemmBenchShape(m: 128, n: 784, k: 1024, layout: "NT"),
        GemmBenchShape(m: 60, n: 100, k: 784, layout: "NN"),
        GemmBenchShape(m: 60, n: 10, k: 100, layout: "NN"),
        GemmBenchShape(m: 2048, n: 2048, k: 2048, layout: "NN"),
    ]
}

/// Times one shape with Backprop's sgemm.
struct GemmBenchTiming {
    var medianGflops: Double
    var bestGflops: Double
    /// Process CPU seconds per wall second over the timed runs.
    var cores: Double

    static func measure(_ shape: GemmBenchShape, pool: ThreadPool?, kernels: KernelTable, minSeconds: Double) -> GemmBenchTiming {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let lda = shape.transposeA ? m : k, ldb = shape.transposeB ? k : n
        let a = alignedRandom(count: m * k, seed: 1)
        let b = alignedRandom(count: k * n, seed: 2)
        let c = alignedRandom(count: m * n, seed: 3)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        func run() {
            Gemm.sgemm(transposeA: shape.transposeA, transposeB: shape.transposeB, m: m, n: n, k: k,
                       alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: n, pool: pool, kernels: kernels)
        }
        let warmUpEnd = now() + 0.02
        repeat { run() } while now() < warmUpEnd
        let start = now()
        run()
        let single = max(now() - start, 1e-8)
        let batch = max(1, Int(1e-3 / single))
        let samples = max(7, Int(minSeconds / (single * Double(batch))))
        var perRun: [Double] = []
        perRun.reserveCapacity(samples)
        let cpuStart = processCPUTime(), wallStart = now()
        for _ in 0..<samples {
            let sampleStart = now()
            for _ in 0..<batch { run() }
            perRun.append((now() - sampleStart) / Double(batch))
        }
        let cores = (processCPUTime() - cpuStart) / (now() - wallStart)
        perRun.sort()
        let flops = 2 * Double(m) * Double(n) * Double(k)
        return GemmBenchTiming(medianGflops: flops / perRun[perRun.count / 2] / 1e9,
                          bestGflops: flops / perRun[0] / 1e9, cores: cores)
    }

    private static func alignedRandom(count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        for index in 0..<max(count, 1) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            pointer[index] = Float(state >> 40) / Float(1 << 24) - 0.5
        }
        return pointer
    }
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
private func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Monotonic wall-clock seconds.
private func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

/// CPU seconds used by all threads of this process.
private func processCPUTime() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

private func format(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// Runs `Benchmarks/gemm_numpy.py` in a child process and parses its JSON lines.
final class GemmNumpyRunner {
    let python: String
    let level: CPULevel?
    let script: String?
    let available: Bool

    init(python: String, level: CPULevel?) {
        self.python = python
        self.level = level
        // The script lives in the package, next to this source tree; fall back to the working directory.
        let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Benchmarks/gemm_numpy.py").path
        let fromWorkingDirectory = FileManager.default.currentDirectoryPath + "/Benchmarks/gemm_numpy.py"
        script = [fromSource, fromWorkingDirectory].first { FileManager.default.fileExists(atPath: $0) }
        available = script != nil
            && (try? GemmNumpyRunner.execute(python, ["-c", "import numpy"], environment: ProcessInfo.processInfo.environment))?.status == 0
    }

    var status: String {
        if script == nil { return "numpy comparison skipped: Benchmarks/gemm_numpy.py not found" }
        if !available { return "numpy comparison skipped: \(python) with numpy is not installed" }
        if let coreType = level.map(openBLASCoreType) {
            return "numpy comparison: \(python) \(script ?? "") (OPENBLAS_CORETYPE=\(coreType), OPENBLAS_L2_SIZE unset in the child)"
        }
        return "numpy comparison: \(python) \(script ?? "") (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in the child)"
    }

    /// A numpy child for `threads` threads (`gemm_numpy.py --serve`) that times one shape per
    /// request, or nil when numpy is unavailable or does not start.
    func start(threads: Int) -> GemmNumpySession? {
        guard available, let script else { return nil }
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = level.map(openBLASCoreType)
        environment["OPENBLAS_L2_SIZE"] = nil
        environment["OPENBLAS_NUM_THREADS"] = String(threads)
        environment["OMP_NUM_THREADS"] = String(threads)
        return GemmNumpySession(python: python, script: script, environment: environment)
    }

    private static func execute(_ python: String, _ arguments: [String],
                                environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// OpenBLAS's kernel family for an instruction-set level (its DYNAMIC_ARCH core names): the
/// kernel it would pick on a CPU that has that level and nothing more.
func openBLASCoreType(_ level: CPULevel) -> String {
    switch level {
    case .baseline: return "Nehalem"
    case .avx2: return "Haswell"
    case .avx512: return "SkylakeX"
    case .neon: return "ARMV8"
    }
}

/// The kernels a benchmark runs: `--cpu`'s level when given (refused with the levels this
/// machine has when it cannot run it), else the process's level.
func benchKernels(_ requested: CPULevel?) throws -> KernelTable {
    guard let requested else { return .current }
    guard let kernels = KernelTable(level: requested) else {
        throw ValidationError("--cpu \(requested.rawValue): this CPU (\(CPULevel.cpuModel)) cannot run \(requested.instructionSets) kernels; "
                              + "it supports \(CPULevel.supported.map(\.rawValue).joined(separator: ", "))")
    }
    return kernels
}

extension CPULevel: ExpressibleByArgument {}

/// One `gemm_numpy.py --serve` child: a shape and a minimum time go in on a line, its figures
/// come back on a line. After the first failure (the child died, or answered something else) it
/// answers nil and says why in ``failure``.
final class GemmNumpySession {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()
    /// numpy's and OpenBLAS's description (the child's first line).
    private(set) var info: String?
    private(set) var failure: String?

    init?(python: String, script: String, environment: [String: String]) {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script, "--serve"]
        process.environment = environment
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        // A child that dies must fail the comparison, not kill the bench with SIGPIPE on the
        // next request.
        signal(SIGPIPE, SIG_IGN)
        do { try process.run() } catch { return nil }
        guard let first = readLine() else {
            close()
            return nil
        }
        info = first
    }

    func measure(_ shape: GemmBenchShape, minSeconds: Double) -> (median: Double, best: Double)? {
        guard failure == nil else { return nil }
        let request = "\(shape.key) \(minSeconds)\n"
        do {
            try input.fileHandleForWriting.write(contentsOf: Data(request.utf8))
        } catch {
            failure = "the numpy child stopped reading (\(error))"
            return nil
        }
        guard let line = readLine(), let data = line.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["kind"] as? String == "result",
              let median = object["median_gflops"] as? Double, let best = object["best_gflops"] as? Double else {
            failure = "the numpy child gave no result for \(shape.key)"
            return nil
        }
        settle()
        return (median, best)
    }

    /// Waits (up to a second) until the child stops using CPU: OpenBLAS's threads busy-wait
    /// after each call (2²⁸ cycles by default, ~70 ms at 3.7 GHz), which would take a core from
    /// the Backprop figure measured next (its "cores" fell to 1.3 of 2 before this wait).
    private func settle() {
        let path = "/proc/\(process.processIdentifier)/stat"
        func ticks() -> Int? {
            // utime and stime, fields 14 and 15, counted after the parenthesized command name.
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
            return user + system
        }
        guard var previous = ticks() else {
            usleep(200_000)
            return
        }
        for _ in 0..<33 {
            usleep(30_000)
            guard let current = ticks() else { return }
            if current == previous { return }
            previous = current
        }
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// The next line of the child's output, without its newline; nil at end of output.
    private func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                return String(decoding: line, as: UTF8.self)
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}
