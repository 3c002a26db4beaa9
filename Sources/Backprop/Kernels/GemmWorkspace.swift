#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A per-thread, 64-byte-aligned scratch buffer for packed GEMM operands.
///
/// Why per thread and cached: a packed B block is up to a few hundred KiB. Allocating it per call
/// goes through `mmap` in glibc (above the 128 KiB threshold) and page-faults every page on first
/// touch, which costs more than the whole multiplication for medium shapes. Each thread (pool
/// workers and callers alike) keeps the largest buffer it has needed; the buffer is released
/// when the thread exits.
final class GemmWorkspace {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0

    /// Alignment of every buffer: a cache line, and the width of an AVX-512 register.
    static let alignment = 64

    deinit {
        storage?.deallocate()
    }

    /// A buffer of at least `count` floats, valid until the next call on this thread.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes > capacity {
            storage?.deallocate()
            // Grow geometrically so a sequence of slightly larger shapes does not reallocate each time.
            let newCapacity = max(bytes, capacity * 3 / 2)
            storage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: Self.alignment)
            capacity = newCapacity
        }
        return storage.unsafelyUnwrapped.assumingMemoryBound(to: Float.self)
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            let object: UnsafeMutableRawPointer? = pointer
            if let object { Unmanaged<GemmWorkspace>.fromOpaque(object).release() }
        }
        return key
    }()

    /// The calling thread's workspace, created on first use.
    static var current: GemmWorkspace {
        if let existing = pthread_getspecific(key) {
            return Unmanaged<GemmWorkspace>.fromOpaque(existing).takeUnretainedValue()
        }
        let workspace = GemmWorkspace()
        pthread_setspecific(key, Unmanaged.passRetained(workspace).toOpaque())
        return workspace
    }
}
