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

    public init(threads: ThreadPool, buffers: BufferPool = BufferPool()) {
        self.threads = threads
        self.buffers = buffers
    }

    /// The process-wide CPU backend: all processors (or `BACKPROP_THREADS`) and one buffer pool.
    public static let cpu = Backend(threads: .shared)

    /// The backend that new tensors and kernels use in the current task or thread.
    @TaskLocal public static var current: Backend = .cpu
}
