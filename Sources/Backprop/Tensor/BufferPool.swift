import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread-safe cache of 64-byte-aligned float buffers, keyed by element count.
///
/// A training step of a fixed network asks for the same buffer sizes every step; recycling them
/// means that after the first step no new memory is requested from the system (the property the
/// engine's tests check through ``freshAllocations``). Buffers return here when the last tensor
/// using them is released. The cache holds at most ``maximumCachedBytes``; beyond that, released
/// buffers go back to the system.
public final class BufferPool: Sendable {
    /// Alignment of every buffer: one cache line, and one AVX-512 register.
    public static let alignment = 64

    private struct State {
        // Addresses as integers: raw pointers are not Sendable, and the lock hands state across threads.
        var free: [Int: [UInt]] = [:]
        var cachedBytes = 0
        var freshAllocations = 0
        var reusedAllocations = 0
    }

    private let state = Mutex(State())
    /// Upper bound on the bytes kept for reuse.
    public let maximumCachedBytes: Int

    /// A pool that keeps at most `maximumCachedBytes` of released buffers for reuse (1 GiB by
    /// default); 0 keeps none.
    public init(maximumCachedBytes: Int = 1 << 30) {
        self.maximumCachedBytes = maximumCachedBytes
    }

    /// The number of buffers this pool has obtained from the system so far.
    public var freshAllocations: Int { state.withLock { $0.freshAllocations } }
    /// The number of requests served from the cache so far.
    public var reusedAllocations: Int { state.withLock { $0.reusedAllocations } }

    /// A buffer for `count` floats; its contents are unspecified.
    func take(count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = Self.byteCount(count)
        let cachedAddress: UInt? = state.withLock { s in
            if var list = s.free[count], let p = list.popLast() {
                s.free[count] = list
                s.cachedBytes -= bytes
                s.reusedAllocations += 1
                return p
            }
            s.freshAllocations += 1
            return nil
        }
        let raw = cachedAddress.flatMap { UnsafeMutableRawPointer(bitPattern: $0) } ?? Self.allocate(bytes: bytes)
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Returns a buffer obtained from ``take(count:)``.
    func recycle(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = Self.byteCount(count)
        let address = UInt(bitPattern: pointer)
        let kept: Bool = state.withLock { s in
            guard s.cachedBytes + bytes <= maximumCachedBytes else { return false }
            s.free[count, default: []].append(address)
            s.cachedBytes += bytes
            return true
        }
        if !kept { free(UnsafeMutableRawPointer(pointer)) }
    }

    /// Releases every cached buffer to the system.
    public func trim() {
        let all: [UInt] = state.withLock { s in
            let list = s.free.values.flatMap { $0 }
            s.free = [:]
            s.cachedBytes = 0
            return list
        }
        for p in all { free(UnsafeMutableRawPointer(bitPattern: p)) }
    }

    deinit {
        state.withLock { s in
            for list in s.free.values { for p in list { free(UnsafeMutableRawPointer(bitPattern: p)) } }
        }
    }

    static func byteCount(_ count: Int) -> Int {
        // Round up to whole cache lines so SIMD tails may read (never write) past the end safely.
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        return (bytes + alignment - 1) / alignment * alignment
    }

    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer? = nil
        let status = posix_memalign(&raw, alignment, bytes)
        guard status == 0, let pointer = raw else {
            fatalError("Backprop: out of memory allocating \(bytes) bytes")
        }
        return pointer
    }
}
