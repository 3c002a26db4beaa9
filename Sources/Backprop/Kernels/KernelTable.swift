import CBackpropSupport
import Foundation

/// An instruction-set level that Backprop's kernels are compiled for.
///
/// One build holds every level of its architecture (x86-64: ``baseline``, ``avx2``, ``avx512``;
/// arm64: ``neon``), each a table of C kernels compiled with a clang target attribute, so no build
/// flag ties the binary to the machine it was built on. The process runs one level, chosen once:
/// `BACKPROP_CPU` when set, else the best the CPU supports (see ``KernelTable/current``).
public enum CPULevel: String, CaseIterable, Sendable, Codable {
    /// x86-64 SSE2: every x86-64 CPU. Separate multiply and add (no FMA).
    case baseline
    /// x86-64 AVX2 + FMA3: Intel Haswell (2013) and later, AMD Zen 1 and later.
    case avx2
    /// x86-64 AVX-512 F, BW, DQ and VL: Intel Skylake-SP, Ice Lake and later servers, AMD Zen 4, Zen 5.
    case avx512
    /// arm64 NEON with FMA: every arm64 CPU (Apple silicon, Graviton, Ampere).
    case neon

    var code: Int32 {
        switch self {
        case .baseline: return Int32(BP_LEVEL_BASELINE)
        case .avx2: return Int32(BP_LEVEL_AVX2)
        case .avx512: return Int32(BP_LEVEL_AVX512)
        case .neon: return Int32(BP_LEVEL_NEON)
        }
    }

    /// Whether this build has the level's kernels and this CPU (and its operating system) can run them.
    public var isSupported: Bool {
        bp_kernels_for_level(code) != nil && bp_cpu_supports(code) != 0
    }

    /// The levels this machine can run, lowest first.
    public static var supported: [CPULevel] { allCases.filter(\.isSupported) }

    /// The best level this machine can run.
    public static var best: CPULevel {
        let code = bp_best_level()
        return allCases.first { $0.code == code } ?? .baseline
    }

    /// The level's instruction sets, for reports: "AVX-512 (F/BW/DQ/VL)".
    public var instructionSets: String {
        switch self {
        case .baseline: return "SSE2"
        case .avx2: return "AVX2 + FMA3"
        case .avx512: return "AVX-512 (F/BW/DQ/VL)"
        case .neon: return "NEON + FMA"
        }
    }

    /// The CPU's model name ("AMD EPYC 9R45 96-Core Processor"), from cpuid on x86-64 or
    /// /proc/cpuinfo elsewhere; "unknown CPU" when neither says.
    public static var cpuModel: String {
        var buffer = [CChar](repeating: 0, count: 64)
        bp_cpu_model(&buffer, 64)
        let model = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !model.isEmpty { return model }
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let key = parts[0].trimmingCharacters(in: .whitespaces)
                if key == "model name" || key == "Model" || key == "CPU part" {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return "unknown CPU"
    }
}

/// Why a requested level cannot be used.
public enum CPULevelError: Error, Equatable, CustomStringConvertible {
    /// The name is not a level.
    case unknown(String)
    /// The level exists but this CPU (or this build's architecture) cannot run it.
    case unsupported(CPULevel, supported: [CPULevel])

    /// A one-line message naming the `BACKPROP_CPU` value, why it cannot be used, and the levels
    /// this machine supports.
    public var description: String {
        switch self {
        case .unknown(let name):
            return "BACKPROP_CPU=\(name): not a level; expected one of \(CPULevel.allCases.map(\.rawValue).joined(separator: ", ")) "
                + "(this machine supports \(CPULevel.supported.map(\.rawValue).joined(separator: ", ")))"
        case .unsupported(let level, let supported):
            return "BACKPROP_CPU=\(level.rawValue): this CPU (\(CPULevel.cpuModel)) cannot run \(level.instructionSets) kernels; "
                + "it supports \(supported.map(\.rawValue).joined(separator: ", "))"
        }
    }
}

/// The kernels of one instruction-set level: a table of C function pointers filled once at
/// compile time per level (Sources/CBackpropSupport/kernels_<level>.c), chosen once per process.
///
/// This is the seam that OpenBLAS's `DYNAMIC_ARCH` and XNNPACK's configs have: every hot loop is
/// reached through the table, so adding a level (or a GPU backend) means filling another table.
/// The table is immutable C data; a `KernelTable` is a pointer to it and safe to share.
public struct KernelTable: @unchecked Sendable {
    /// The level these kernels were compiled for.
    public let level: CPULevel
    /// The C table (static, immutable, never freed).
    let table: UnsafePointer<bp_kernels>

    /// The kernels of `level`, or `nil` when this machine cannot run them.
    public init?(level: CPULevel) {
        guard level.isSupported, let table = bp_kernels_for_level(level.code) else { return nil }
        self.level = level
        self.table = table
    }

    /// The level named by `BACKPROP_CPU` (`baseline`, `avx2`, `avx512`, `neon`; empty or unset
    /// means the best this CPU supports).
    public static func requestedLevel(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(CPULevelError) -> CPULevel {
        let text = (environment["BACKPROP_CPU"] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        if text.isEmpty || text == "best" || text == "auto" { return CPULevel.best }
        guard let level = CPULevel(rawValue: text) else { throw .unknown(text) }
        guard level.isSupported else { throw .unsupported(level, supported: CPULevel.supported) }
        return level
    }

    /// The process's kernels, chosen on first use: `BACKPROP_CPU`'s level, else the best this
    /// CPU supports. An unknown or unsupported `BACKPROP_CPU` stops the process with a message
    /// naming the variable and the levels this CPU has (the `backprop` command checks it first
    /// and exits with that message instead).
    public static let current: KernelTable = {
        let level: CPULevel
        do {
            level = try requestedLevel()
        } catch {
            fatalError("\(error)")
        }
        guard let table = KernelTable(level: level) else { fatalError("Backprop: no kernels for \(level.rawValue)") }
        return table
    }()

    /// Floats per native vector register at this level (4, 8 or 16).
    public var vectorWidth: Int { Int(table.pointee.vector_floats) }

    /// Columns of one panel of a dense operand of the sparse-input product at this level
    /// (``SparseGemm/panelWidth``): 128 at avx512, 64 at avx2 and neon, 32 at baseline.
    public var sparsePanelWidth: Int { Int(table.pointee.sparse_panel_width) }

    /// The GEMM micro-kernel's register tile at this level: rows × columns of C per block.
    public var gemmTile: (rows: Int, columns: Int) { (Int(table.pointee.gemm_mr), Int(table.pointee.gemm_nr)) }

    /// "avx512 (AVX-512 (F/BW/DQ/VL), 16-float vectors)": what a report prints.
    public var summary: String {
        "\(level.rawValue) (\(level.instructionSets), \(vectorWidth)-float vectors)"
    }
}

// MARK: - Data movement and the sparse-input path (contracts in bp_sparse.h)

extension KernelTable {
    /// `t[j * ldt + i] = a[i * lda + j]` (or `+=` when `accumulate`) for `i < rows`, `j < cols`.
    @inline(__always)
    func transpose(_ a: UnsafePointer<Float>, _ rows: Int, _ cols: Int, _ lda: Int,
                   _ t: UnsafeMutablePointer<Float>, _ ldt: Int, _ accumulate: Int32) {
        table.pointee.transpose.unsafelyUnwrapped(a, rows, cols, lda, t, ldt, accumulate)
    }

    /// The elements of `row[0..<cols]` not equal to zero.
    @inline(__always)
    func countNonzeros(_ row: UnsafePointer<Float>, _ cols: Int) -> Int {
        table.pointee.count_nonzeros.unsafelyUnwrapped(row, cols)
    }

    @inline(__always)
    func compressRows(_ a: UnsafePointer<Float>, _ rowBegin: Int, _ rowEnd: Int, _ cols: Int, _ lda: Int, _ stride: Int,
                      _ starts: UnsafeMutablePointer<Int32>, _ ends: UnsafeMutablePointer<Int32>,
                      _ indices: UnsafeMutablePointer<Int32>, _ values: UnsafeMutablePointer<Float>, _ limit: Int) -> Int32 {
        table.pointee.compress_rows.unsafelyUnwrapped(a, rowBegin, rowEnd, cols, lda, stride, starts, ends, indices, values, limit)
    }

    @inline(__always)
    func compressColumns(_ a: UnsafePointer<Float>, _ rows: Int, _ colBegin: Int, _ colEnd: Int, _ lda: Int, _ stride: Int,
                         _ starts: UnsafeMutablePointer<Int32>, _ ends: UnsafeMutablePointer<Int32>,
                         _ indices: UnsafeMutablePointer<Int32>, _ values: UnsafeMutablePointer<Float>) {
        table.pointee.compress_columns.unsafelyUnwrapped(a, rows, colBegin, colEnd, lda, stride, starts, ends, indices, values)
    }

    @inline(__always)
    func sparsePanelProduct(_ starts: UnsafePointer<Int32>, _ ends: UnsafePointer<Int32>, _ indices: UnsafePointer<Int32>,
                            _ values: UnsafePointer<Float>, _ cursors: UnsafeMutablePointer<Int32>, _ rowBegin: Int, _ rowEnd: Int,
                            _ depth: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ valid: Int,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Int32) {
        table.pointee.sparse_panel_product.unsafelyUnwrapped(starts, ends, indices, values, cursors, rowBegin, rowEnd,
                                                             depth, b, ldb, valid, c, ldc, accumulate)
    }
}
