#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation


/// Writes a file by writing a temporary file next to it and renaming it into place, so readers
/// see either the old file or the complete new one — never a half-written file, even if the
/// process dies or the disk fills mid-write.
///
/// Protocol: `mkstemp` a hidden temporary in the destination's directory (a rename is atomic
/// only within one file system), write, `fsync` the data, `rename(2)` over the destination,
/// then `fsync` the directory so the new name survives a crash. A writer released without
/// ``commit()`` removes its temporary file.
/// The temporary's name carries the writer's PID, so that
/// ``AtomicFile/removeStaleTemporaries(in:)`` can tell a killed writer's leftover from a live one's.
public final class AtomicFileWriter {
    /// The path the file will have once committed.
    public let destination: String
    /// The temporary file being written.
    public let temporaryPath: String
    private var fd: Int32
    private var committed = false
    /// Bytes written so far (by the `write(_:)` methods).
    public private(set) var size = 0

    /// Creates the temporary file.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` naming the directory when the temporary
    ///   file cannot be created there.
    public init(destination: String) throws(DataError) {
        self.destination = destination
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        var template = Array(((directory.isEmpty ? "" : directory) + "/." + name + ".partial-\(getpid())-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else {
            throw .unreadable(path: directory.isEmpty ? "/" : directory, reason: "cannot create a temporary file: \(MappedFile.lastError())")
        }
        self.fd = fd
        // mkstemp replaced the X's in place; drop the terminating NUL.
        self.temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        _ = fchmod(fd, 0o644)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(DataError) {
        try write(bytes, at: nil)
        size += bytes.count
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws(DataError) {
        try withBytes(of: bytes) { (b) throws(DataError) in try write(b) }
    }

    /// Overwrites bytes at `offset` (to fill in a header once the data's size is known).
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws(DataError) {
        try withBytes(of: bytes) { (b) throws(DataError) in try write(b, at: offset) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int?) throws(DataError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let p = base + done
            let n = offset.map { pwrite(fd, p, bytes.count - done, off_t($0 + done)) } ?? systemWrite(fd, p, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: temporaryPath, reason: "write failed: \(MappedFile.lastError())")
            }
            done += n
        }
    }

    /// Flushes the data to disk and renames the file into place.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` when `fsync` or `rename` fails; the
    ///   temporary file is then removed and the destination is unchanged.
    public func commit() throws(DataError) {
        precondition(!committed, "AtomicFileWriter.commit: already committed")
        guard fsync(fd) == 0 else {
            throw .unreadable(path: temporaryPath, reason: "fsync failed: \(MappedFile.lastError())")
        }
        close(fd)
        fd = -1
        guard rename(temporaryPath, destination) == 0 else {
            throw .unreadable(path: destination, reason: "cannot rename \(temporaryPath) into place: \(MappedFile.lastError())")
        }
        committed = true
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws(DataError) {
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(bytes)
        try writer.commit()
    }
}

/// `write(2)`, named so that methods called `write` can reach it.
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
