#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// MD5 (RFC 1321), streaming: swift-crypto's `Insecure.MD5` behind the interface Backprop's
/// callers (data set downloads, ``Checksum``) have always used, so the hashing is a maintained,
/// tested library's and not code of our own.
///
/// MD5 is broken for collision resistance and is used here only because data sets publish it
/// (MNIST's and Fashion-MNIST's mirrors list MD5 sums): it detects truncated or corrupted
/// downloads, not tampering. Prefer ``SHA256`` where a publisher offers it.
///
/// A module that imports both Backprop and Crypto names this one `Backprop.MD5`.
///
/// `@unchecked Sendable`: swift-crypto 3's hashers are not marked Sendable, but they are value
/// types whose shared state is copied on write (its `isKnownUniquelyReferenced` check) and only
/// read when finalizing, so copies on different threads do not interfere, as with `Array`.
public struct MD5: @unchecked Sendable {
    private var hasher = Crypto.Insecure.MD5()

    /// A hasher that has seen no bytes yet.
    public init() {}

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// Feeds more bytes.
    public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }

    /// The 16-byte digest of everything fed so far (the hasher can keep going afterwards:
    /// swift-crypto finalizes a copy).
    public func finalize() -> [UInt8] { Array(hasher.finalize()) }

    /// The digest as 32 lowercase hex digits.
    public func hexDigest() -> String { Checksum.hex(finalize()) }

    /// The MD5 digest of `bytes`, as lowercase hex.
    public static func hexDigest(of bytes: [UInt8]) -> String {
        var h = MD5()
        h.update(bytes)
        return h.hexDigest()
    }
}

/// SHA-256 (FIPS 180-4), streaming: swift-crypto's `SHA256` behind Backprop's interface (see
/// ``MD5``, also for why it is `@unchecked Sendable`). A module that imports both Backprop and
/// Crypto names this one `Backprop.SHA256`.
public struct SHA256: @unchecked Sendable {
    private var hasher = Crypto.SHA256()

    /// A hasher that has seen no bytes yet.
    public init() {}

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// Feeds more bytes.
    public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }

    /// The 32-byte digest of everything fed so far (the hasher can keep going afterwards).
    public func finalize() -> [UInt8] { Array(hasher.finalize()) }

    /// The digest as 64 lowercase hex digits.
    public func hexDigest() -> String { Checksum.hex(finalize()) }

    /// The SHA-256 digest of `bytes`, as lowercase hex.
    public static func hexDigest(of bytes: [UInt8]) -> String {
        var h = SHA256()
        h.update(bytes)
        return h.hexDigest()
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
