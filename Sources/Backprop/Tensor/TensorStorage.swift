#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The reference-counted buffer behind one or more ``Tensor`` values.
///
/// Tensors are value types; this class is what they share until one of them is mutated
/// (copy-on-write). Memory is 64-byte aligned and, when it came from a ``BufferPool``,
/// goes back to that pool when the last tensor lets go of it.
final class TensorStorage: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let capacity: Int
    let pool: BufferPool?

    init(capacity: Int, pool: BufferPool?) {
        self.capacity = capacity
        self.pool = pool
        if let pool {
            base = pool.take(count: capacity)
        } else {
            base = BufferPool.allocate(bytes: BufferPool.byteCount(capacity))
                .bindMemory(to: Float.self, capacity: max(capacity, 1))
        }
    }

    deinit {
        if let pool {
            pool.recycle(base, count: capacity)
        } else {
            free(UnsafeMutableRawPointer(base))
        }
    }
}
