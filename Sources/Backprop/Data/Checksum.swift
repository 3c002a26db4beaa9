#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// MD5 (RFC 1321), streaming.
///
/// MD5 is broken for collision resistance and is used here only because data sets publish it
/// (MNIST's and Fashion-MNIST's mirrors list MD5 sums): it detects truncated or corrupted
/// downloads, not tampering. Prefer ``SHA256`` where a publisher offers it.
public struct MD5: Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    /// A hasher that has seen no bytes yet.
    public init() { pending.reserveCapacity(64) }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var start = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, bytes.count)
            pending.append(contentsOf: bytes[0..<take])
            start = take
            guard pending.count == 64 else { return }
            pending.withUnsafeBytes { compress(block: $0, at: 0) }
            pending.removeAll(keepingCapacity: true)
        }
        while bytes.count - start >= 64 {
            compress(block: bytes, at: start)
            start += 64
        }
        if start < bytes.count { pending.append(contentsOf: bytes[start...]) }
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 16-byte digest of everything fed so far (the hasher can keep going afterwards).
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = length &* 8
        var tail: [UInt8] = [0x80]
        let padded = (Int(length % 64) + 1) % 64
        tail += [UInt8](repeating: 0, count: padded <= 56 ? 56 - padded : 120 - padded)
        for i in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        copy.update(tail)
        let words = [copy.state.0, copy.state.1, copy.state.2, copy.state.3]
        return words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * UInt32($0))) } }
    }

    /// The digest as 32 lowercase hex digits.
    public func hexDigest() -> String { Checksum.hex(finalize()) }

    /// The MD5 digest of `bytes`, as lowercase hex.
    public static func hexDigest(of bytes: [UInt8]) -> String {
        var h = MD5()
        h.update(bytes)
        return h.hexDigest()
    }

    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    /// K[i] = floor(2³² · |sin(i + 1)|), as tabulated in RFC 1321 §3.4.
    private static let constants: [UInt32] = (0..<64).map { i in
        UInt32(truncatingIfNeeded: Int64((abs(sin(Double(i + 1))) * 4_294_967_296).rounded(.down)))
    }

    private mutating func compress(block: UnsafeRawBufferPointer, at offset: Int) {
        // A stack buffer for the 16 message words: no heap allocation per 64-byte block.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { m in
            for i in 0..<16 {
                m[i] = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self))
            }
            compress(words: m)
        }
    }

    private mutating func compress(words m: UnsafeMutableBufferPointer<UInt32>) {
        var (a, b, c, d) = state
        for i in 0..<64 {
            var f: UInt32
            let g: Int
            switch i {
            case 0..<16: f = (b & c) | (~b & d); g = i
            case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
            case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
            default: f = c ^ (b | ~d); g = (7 * i) % 16
            }
            f = f &+ a &+ Self.constants[i] &+ m[g]
            a = d
            d = c
            c = b
            let s = Self.shifts[i]
            b = b &+ ((f << s) | (f >> (32 - s)))
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }
}

/// SHA-256 (FIPS 180-4), streaming.
public struct SHA256: Sendable {
    private var state: [UInt32] = [0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A,
                                   0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19]
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    /// A hasher that has seen no bytes yet.
    public init() { pending.reserveCapacity(64) }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var start = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, bytes.count)
            pending.append(contentsOf: bytes[0..<take])
            start = take
            guard pending.count == 64 else { return }
            pending.withUnsafeBytes { compress(block: $0, at: 0) }
            pending.removeAll(keepingCapacity: true)
        }
        while bytes.count - start >= 64 {
            compress(block: bytes, at: start)
            start += 64
        }
        if start < bytes.count { pending.append(contentsOf: bytes[start...]) }
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest of everything fed so far.
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = length &* 8
        var tail: [UInt8] = [0x80]
        let padded = (Int(length % 64) + 1) % 64
        tail += [UInt8](repeating: 0, count: padded <= 56 ? 56 - padded : 120 - padded)
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        copy.update(tail)
        return copy.state.flatMap { w in (0..<4).reversed().map { UInt8(truncatingIfNeeded: w >> (8 * UInt32($0))) } }
    }

    /// The digest as 64 lowercase hex digits.
    public func hexDigest() -> String { Checksum.hex(finalize()) }

    /// The SHA-256 digest of `bytes`, as lowercase hex.
    public static func hexDigest(of bytes: [UInt8]) -> String {
        var h = SHA256()
        h.update(bytes)
        return h.hexDigest()
    }

    /// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static let constants: [UInt32] = [
        0x428A_2F98, 0x7137_4491, 0xB5C0_FBCF, 0xE9B5_DBA5, 0x3956_C25B, 0x59F1_11F1, 0x923F_82A4, 0xAB1C_5ED5,
        0xD807_AA98, 0x1283_5B01, 0x2431_85BE, 0x550C_7DC3, 0x72BE_5D74, 0x80DE_B1FE, 0x9BDC_06A7, 0xC19B_F174,
        0xE49B_69C1, 0xEFBE_4786, 0x0FC1_9DC6, 0x240C_A1CC, 0x2DE9_2C6F, 0x4A74_84AA, 0x5CB0_A9DC, 0x76F9_88DA,
        0x983E_5152, 0xA831_C66D, 0xB003_27C8, 0xBF59_7FC7, 0xC6E0_0BF3, 0xD5A7_9147, 0x06CA_6351, 0x1429_2967,
        0x27B7_0A85, 0x2E1B_2138, 0x4D2C_6DFC, 0x5338_0D13, 0x650A_7354, 0x766A_0ABB, 0x81C2_C92E, 0x9272_2C85,
        0xA2BF_E8A1, 0xA81A_664B, 0xC24B_8B70, 0xC76C_51A3, 0xD192_E819, 0xD699_0624, 0xF40E_3585, 0x106A_A070,
        0x19A4_C116, 0x1E37_6C08, 0x2748_774C, 0x34B0_BCB5, 0x391C_0CB3, 0x4ED8_AA4A, 0x5B9C_CA4F, 0x682E_6FF3,
        0x748F_82EE, 0x78A5_636F, 0x84C8_7814, 0x8CC7_0208, 0x90BE_FFFA, 0xA450_6CEB, 0xBEF9_A3F7, 0xC671_78F2,
    ]

    private mutating func compress(block: UnsafeRawBufferPointer, at offset: Int) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for i in 0..<16 {
                w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self))
            }
            compress(schedule: w)
        }
    }

    private mutating func compress(schedule w: UnsafeMutableBufferPointer<UInt32>) {
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var a = state[0], b = state[1], c = state[2], d = state[3]
        var e = state[4], f = state[5], g = state[6], h = state[7]
        for i in 0..<64 {
            let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ Self.constants[i] &+ w[i]
            let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            h = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ t2
        }
        state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
        state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
    }
}

/// A published checksum of a file, and the code that checks a file against it.
public enum Checksum: Sendable, Equatable, CustomStringConvertible {
    /// An MD5 digest, 32 lowercase hex digits.
    case md5(String)
    /// A SHA-256 digest, 64 lowercase hex digits.
    case sha256(String)

    /// The expected digest, lowercase hex.
    public var expected: String {
        switch self {
        case .md5(let hex), .sha256(let hex): return hex.lowercased()
        }
    }

    /// The algorithm and the lowercase hex digest, e.g. `MD5 f68b3c2d…`.
    public var description: String {
        switch self {
        case .md5(let hex): return "MD5 \(hex.lowercased())"
        case .sha256(let hex): return "SHA-256 \(hex.lowercased())"
        }
    }

    /// The digest of the file at `path` with this checksum's algorithm, as lowercase hex. The file
    /// is read in 1 MiB chunks, so files of any size are hashed in constant memory.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` when the file cannot be opened or read.
    public func digest(ofFile path: String) throws(DataError) -> String {
        switch self {
        case .md5:
            var h = MD5()
            try Self.forEachChunk(ofFile: path) { h.update($0) }
            return h.hexDigest()
        case .sha256:
            var h = SHA256()
            try Self.forEachChunk(ofFile: path) { h.update($0) }
            return h.hexDigest()
        }
    }

    /// Checks the file at `path`.
    ///
    /// - Throws: ``DataError/checksumMismatch(path:expected:actual:)`` when the digests differ,
    ///   ``DataError/unreadable(path:reason:)`` when the file cannot be read.
    public func verify(file path: String) throws(DataError) {
        let actual = try digest(ofFile: path)
        guard actual == expected else {
            throw .checksumMismatch(path: path, expected: description, actual: actual)
        }
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(bytes.count * 2)
        for b in bytes {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return s
    }

    /// Calls `body` with successive chunks of the file, read with POSIX `read` (no whole-file
    /// buffer). EINTR is retried.
    static func forEachChunk(ofFile path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws(DataError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { return }
            buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}
