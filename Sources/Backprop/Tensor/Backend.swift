import Foundation
import CBackpropSupport
/// Where tensors are allocated and their kernels run.
///
/// This is the seam a GPU or distributed backend slots into: layers, losses and optimizers never
/// allocate or compute through anything but a backend. Today there is one kind, the CPU: a
/// ``ThreadPool`` for the kernels that pay for threads (GEMM) and a ``BufferPool`` that recycles
/// tensor memory so a training step of a fixed network stops asking the system for memory after
/// its first step.
///
/// The backend in force is a task-local value, ``current``; scope another one with
/// `Backend.$current.withValue(myBackend) { ... }` (tests do, to count allocations in isolation).
public final class Backend: Sendable {
    /// Worker threads for parallel kernels.
    public let threads: ThreadPool
    /// Recycled tensor memory.
    public let buffers: BufferPool

    /// The largest fraction of nonzero inputs for which a fully connected layer multiplies by
    /// its input's nonzeros only (see ``linear(_:weight:bias:activation:)``); 0 turns that off.
    ///
    /// Why 0.3: the sparse product runs at roughly half the dense GEMM's multiply-add rate, plus
    /// a transpose of the weight, so it wins below about a third of the elements; MNIST's
    /// pixels are 19% nonzero.
    public let sparseInputDensity: Double

    /// A backend on `threads`.
    ///
    /// - Parameters:
    ///   - threads: the pool that runs the parallel kernels.
    ///   - buffers: the pool that recycles tensor storage.
    ///   - sparseInputDensity: see ``sparseInputDensity``; in [0, 1].
    public init(threads: ThreadPool, buffers: BufferPool = BufferPool(), sparseInputDensity: Double = Backend.defaultSparseInputDensity) {
        precondition(sparseInputDensity >= 0 && sparseInputDensity <= 1, "Backend: sparseInputDensity must be in [0, 1]")
        self.threads = threads
        self.buffers = buffers
        self.sparseInputDensity = sparseInputDensity
    }

    /// The process-wide CPU backend: all processors (or `BACKPROP_THREADS`), one buffer pool, and
    /// the sparse-input threshold (`BACKPROP_SPARSE_INPUTS`, else ``defaultSparseInputDensity``).
    public static let cpu = Backend(threads: .shared, sparseInputDensity: environmentSparseInputDensity ?? defaultSparseInputDensity)

    /// 0.3 at every level: the sparse product and its compression are the same C bodies at every
    /// level (kernels/sparse.h), vector code wherever the level has vectors.
    public static let defaultSparseInputDensity: Double = 0.3

    /// `BACKPROP_SPARSE_INPUTS` when it holds a number in [0, 1] (0 turns the sparse-input
    /// path off, e.g. to compare it with the dense one without recompiling).
    static var environmentSparseInputDensity: Double? {
        guard let text = ProcessInfo.processInfo.environment["BACKPROP_SPARSE_INPUTS"],
              let value = Double(text.trimmingCharacters(in: .whitespaces)), value >= 0, value <= 1
        else { return nil }
        return value
    }

    /// The backend that new tensors and kernels use in the current task or thread.
    @TaskLocal public static var current: Backend = .cpu
}
