import Foundation
import Testing
import Backprop

/// The run-time choice of instruction-set level: `BACKPROP_CPU`, `info --system`, `--cpu`.
@Suite struct KernelLevelTests {
    /// A level this build's architecture never has (NEON on x86-64, AVX-512 on arm64).
    static var foreignLevel: CPULevel {
        #if arch(x86_64)
        return .neon
        #else
        return .avx512
        #endif
    }

    @Test func theBestLevelIsSupportedAndIsTheDefault() throws {
        #expect(CPULevel.best.isSupported)
        #expect(CPULevel.supported.contains(CPULevel.best))
        #if arch(x86_64)
        #expect(CPULevel.supported.first == .baseline, "SSE2 is every x86-64 CPU's")
        #elseif arch(arm64)
        #expect(CPULevel.supported == [.neon])
        #endif
        #expect(try KernelTable.requestedLevel(environment: [:]) == CPULevel.best)
        #expect(try KernelTable.requestedLevel(environment: ["BACKPROP_CPU": " "]) == CPULevel.best)
        #expect(!Self.foreignLevel.isSupported)
        #expect(KernelTable(level: Self.foreignLevel) == nil)
    }

    @Test(arguments: CPULevel.supported)
    func everySupportedLevelCanBeRequested(level: CPULevel) throws {
        #expect(try KernelTable.requestedLevel(environment: ["BACKPROP_CPU": level.rawValue.uppercased()]) == level)
        let kernels = try #require(KernelTable(level: level))
        #expect(kernels.level == level)
        #expect([4, 8, 16].contains(kernels.vectorWidth))
        let run = try CommandLineTests.run(["info", "--system"], environment: ["BACKPROP_CPU": level.rawValue])
        #expect(run.status == 0, "\(run.error)")
        #expect(run.output.contains("level in use: \(level.rawValue) (BACKPROP_CPU=\(level.rawValue))"), "\(run.output)")
        #expect(run.output.contains("levels supported: "), "\(run.output)")
    }

    @Test func unknownAndUnsupportedLevelsAreRefusedWithTheLevelsThisCPUHas() throws {
        #expect(throws: CPULevelError.unknown("sse9")) {
            try KernelTable.requestedLevel(environment: ["BACKPROP_CPU": "sse9"])
        }
        #expect(throws: CPULevelError.unsupported(Self.foreignLevel, supported: CPULevel.supported)) {
            try KernelTable.requestedLevel(environment: ["BACKPROP_CPU": Self.foreignLevel.rawValue])
        }
        let unknown = try CommandLineTests.run(["info", "--system"], environment: ["BACKPROP_CPU": "sse9"])
        #expect(unknown.status == 2)
        #expect(unknown.error.contains("BACKPROP_CPU=sse9: not a level; expected one of baseline, avx2, avx512, neon"), "\(unknown.error)")
        let foreign = try CommandLineTests.run(["train", "--steps", "1"], environment: ["BACKPROP_CPU": Self.foreignLevel.rawValue])
        #expect(foreign.status == 2)
        #expect(foreign.error.contains("BACKPROP_CPU=\(Self.foreignLevel.rawValue): this CPU"), "\(foreign.error)")
        #expect(foreign.error.contains("it supports \(CPULevel.supported.map(\.rawValue).joined(separator: ", "))"), "\(foreign.error)")
        let bench = try CommandLineTests.run(["bench", "gemm", "--cpu", Self.foreignLevel.rawValue, "--no-numpy", "--quick"])
        #expect(bench.status != 0)
        #expect(bench.error.contains("--cpu \(Self.foreignLevel.rawValue): this CPU"), "\(bench.error)")
        let both = try CommandLineTests.run(["info", "--system", "model.safetensors"])
        #expect(both.status != 0)
    }

    @Test func everyLevelMultipliesAlikeToRounding() throws {
        // 70 x 90 times 90 x 50 at every level against the level in force: the GEMM tile, FMA or
        // not, and depth blocking change only the rounding.
        var random = RandomGenerator(seed: 7)
        let a = Tensor.normal([70, 90], using: &random), b = Tensor.normal([90, 50], using: &random)
        func product(_ kernels: KernelTable) -> [Float] {
            var c = [Float](repeating: 0, count: 70 * 50)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        Gemm.sgemm(transposeA: false, transposeB: false, m: 70, n: 50, k: 90, alpha: 1,
                                   a: ap.baseAddress!, lda: 90, b: bp.baseAddress!, ldb: 50, beta: 0,
                                   c: cp.baseAddress!, ldc: 50, pool: nil, kernels: kernels)
                    }
                }
            }
            return c
        }
        let reference = product(.current)
        for level in CPULevel.supported {
            let c = product(try #require(KernelTable(level: level)))
            let worst = zip(c, reference).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4, "\(level): max difference \(worst) from \(KernelTable.current.level)")
        }
    }
}
