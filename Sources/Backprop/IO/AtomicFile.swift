import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors writing files.
public enum WriteError: Error, Equatable, CustomStringConvertible {
    /// The file at `path` could not be written; `reason` is the system's message.
    case cannotWrite(path: String, reason: String)

    /// `path: cannot write: reason`.
    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): return "\(path): cannot write: \(reason)"
        }
    }
}

/// Writes files atomically: the bytes go to a temporary file in the same directory, which is
/// flushed to disk (fsync) and then renamed over the destination. A crash at any point leaves
/// either the previous file or the new one, never a torn mix.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically, creating the parent directory if needed.
    public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
        let directory = (path as NSString).deletingLastPathComponent
        let parent = directory.isEmpty ? "." : directory
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: path, reason: "cannot create directory \(parent): \(error.localizedDescription)")
        }
        let temporary = (parent as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        var failure: String? = nil
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if let failure {
            unlink(temporary)
            throw .cannotWrite(path: path, reason: failure)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .cannotWrite(path: path, reason: reason)
        }
        // Persist the rename itself.
        let dfd = open(parent, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Removes the temporary files that writers killed mid-write left in `directory`
    /// (``write(_:to:)``'s `.NAME.tmp-PID-N` and ``AtomicFileWriter``'s `.NAME.partial-PID-X`),
    /// returning their paths. Only files whose writing process no longer exists are removed: the
    /// PID in the name is how a live writer's file (another process writing into the same
    /// folder now) is told from a dead one's. This process's own files are kept too, since one of
    /// its threads may be writing. A PID reused by an unrelated process keeps a stale file until
    /// that process ends, the safe side of the mistake.
    @discardableResult
    public static func removeStaleTemporaries(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let pid = writerProcess(ofTemporary: name), pid != getpid() else { continue }
            // kill(pid, 0) probes without signalling: ESRCH means no such process; EPERM means
            // one exists (owned by another user) and its file stays.
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            if unlink(path) == 0 { removed.append(path) }
        }
        return removed
    }

    /// The writer's PID in a temporary file's name (`.NAME.tmp-PID-N`, `.NAME.partial-PID-X`),
    /// or nil for any other name.
    static func writerProcess(ofTemporary name: String) -> pid_t? {
        guard name.hasPrefix(".") else { return nil }
        for marker in [".tmp-", ".partial-"] {
            guard let range = name.range(of: marker, options: .backwards), range.lowerBound > name.index(after: name.startIndex) else { continue }
            let parts = name[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[1].isEmpty, let pid = pid_t(parts[0]), pid > 0 else { continue }
            return pid
        }
        return nil
    }
}
