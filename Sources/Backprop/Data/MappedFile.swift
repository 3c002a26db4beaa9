#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation

// MappedFile, MappedArray and AtomicFileWriter are the places outside Kernels/ that hold raw
// pointers into files. Everything above them works with indices, arrays and tensors.

/// A whole file mapped read-only into memory (`mmap(2)`, `PROT_READ`, `MAP_PRIVATE`).
///
/// Why map instead of read: pages are loaded on first touch and can be dropped again by the
/// kernel under memory pressure, so a data set larger than RAM can be trained on from disk, and
/// opening a file costs no time or memory however big it is. The mapping is removed when the
/// object is released.
///
/// The bytes must not change while mapped: if another process truncates the file, touching the
/// lost pages raises SIGBUS. Data sets are written once (``AtomicFileWriter`` replaces a file by
/// renaming a new one over it, which leaves existing mappings of the old one intact).
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The file's size in bytes.
    public let count: Int
    // nil for an empty file (mmap cannot map zero bytes). Immutable after init, which is what
    // makes sharing the object between threads safe.
    private let base: UnsafeRawPointer?

    /// Maps the file at `path`.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` when the file cannot be opened, is not a
    ///   regular file, or cannot be mapped; the reason is the system's.
    public init(path: String) throws(DataError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: Self.lastError()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: Self.lastError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .unreadable(path: path, reason: "mmap failed: \(Self.lastError())")
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Calls `body` with the file's bytes. The buffer is valid only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in
            try body(UnsafeRawBufferPointer(start: base, count: count))
        }
    }

    /// A copy of the bytes in `range` (clamped to the file).
    public func bytes(in range: Range<Int>) -> [UInt8] {
        let lower = max(0, min(range.lowerBound, count)), upper = max(lower, min(range.upperBound, count))
        return withUnsafeBytes { Array($0[lower..<upper]) }
    }

    /// Access pattern hints for the kernel's read-ahead (`madvise(2)`); purely advisory.
    public enum AccessPattern: Sendable {
        /// Shuffled mini-batches: do not read ahead.
        case random
        /// One pass front to back (conversion, checksums): read ahead aggressively.
        case sequential
    }

    /// Tells the kernel how the pages will be read.
    public func advise(_ pattern: AccessPattern) {
        guard let base else { return }
        let advice = pattern == .random ? MADV_RANDOM : MADV_SEQUENTIAL
        _ = madvise(UnsafeMutableRawPointer(mutating: base), count, advice)
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// `Array.withUnsafeBytes` for a body that throws ``DataError`` (the standard library's version
/// only rethrows untyped errors).
func withBytes<R>(of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(DataError) -> R) throws(DataError) -> R {
    let result: Result<R, DataError> = array.withUnsafeBytes { raw in
        do throws(DataError) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}

