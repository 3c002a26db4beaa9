import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A data set in MNIST's four-file IDX layout that Backprop knows how to find, verify and
/// download: its files, their published checksums and the mirrors that serve them.
public struct Dataset: Sendable, Equatable {
    /// One file of a data set.
    public struct File: Sendable, Equatable {
        /// The gzip-compressed file's name, e.g. `train-images-idx3-ubyte.gz`.
        public var name: String
        /// The MD5 of the compressed file, as published by the data set's authors.
        public var md5: String
        /// The MD5 of the decompressed contents. Repackagers (Debian's `dataset-fashion-mnist`)
        /// recompress the files, which changes `md5` but not this.
        public var contentMD5: String

        /// A file's name and published checksums.
        public init(name: String, md5: String, contentMD5: String) {
            self.name = name
            self.md5 = md5
            self.contentMD5 = contentMD5
        }

        /// The name without `.gz`: how the file is called once decompressed.
        public var uncompressedName: String { name.hasSuffix(".gz") ? String(name.dropLast(3)) : name }
    }

    /// The name used on the command line and as the cache folder's name.
    public var name: String
    /// Training images, training labels, test images, test labels.
    public var files: [File]
    /// Mirrors serving the files (each file is `baseURL + file.name`), tried in order. They are
    /// data here: nothing is fetched unless a download is asked for.
    public var baseURLs: [String]
    /// Directories where an operating-system package installs the files.
    public var systemDirectories: [String]

    /// A data set of four files (training images and labels, test images and labels).
    ///
    /// - Precondition: `files` has four entries.
    public init(name: String, files: [File], baseURLs: [String], systemDirectories: [String] = []) {
        precondition(files.count == 4, "Dataset \(name): expected 4 files (train/test images/labels)")
        self.name = name
        self.files = files
        self.baseURLs = baseURLs
        self.systemDirectories = systemDirectories
    }

    /// MNIST (LeCun, Cortes & Burges). The original site (yann.lecun.com) now refuses automated
    /// downloads, so the mirrors used by PyTorch's torchvision come first.
    public static let mnist = Dataset(
        name: "mnist",
        files: [
            File(name: "train-images-idx3-ubyte.gz", md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                 contentMD5: "6bbc9ace898e44ae57da46a324031adb"),
            File(name: "train-labels-idx1-ubyte.gz", md5: "d53e105ee54ea40749a09fcbcd1e9432",
                 contentMD5: "a25bea736e30d166cdddb491f175f624"),
            File(name: "t10k-images-idx3-ubyte.gz", md5: "9fb629c4189551a2d022fa330f9573f3",
                 contentMD5: "2646ac647ad5339dbf082846283269ea"),
            File(name: "t10k-labels-idx1-ubyte.gz", md5: "ec29112dd5afa0611ce80d1b7f02629c",
                 contentMD5: "27ae3e4e09519cfbb04c329615203637"),
        ],
        baseURLs: [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ]
    )

    /// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28×28 grey images of 10 kinds of clothing,
    /// in MNIST's format and sizes. Debian's `dataset-fashion-mnist` package installs it in
    /// /usr/share/datasets/fashion-mnist.
    public static let fashionMNIST = Dataset(
        name: "fashion-mnist",
        files: [
            File(name: "train-images-idx3-ubyte.gz", md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                 contentMD5: "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            File(name: "train-labels-idx1-ubyte.gz", md5: "25c81989df183df01b3e8a0aad5dffbe",
                 contentMD5: "9018921c3c673c538a1fc5bad174d6f9"),
            File(name: "t10k-images-idx3-ubyte.gz", md5: "bef4ecab320f06d8554ea6380940ec79",
                 contentMD5: "8181f5470baa50b63fa0f6fddb340f0a"),
            File(name: "t10k-labels-idx1-ubyte.gz", md5: "bb300cfdad3c16e7a12a480ee83cd310",
                 contentMD5: "15d484375f8d13e6eb1aabb0c3f46965"),
        ],
        baseURLs: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        systemDirectories: ["/usr/share/datasets/fashion-mnist"]
    )

    /// Every data set Backprop knows by name.
    public static let all: [Dataset] = [.mnist, .fashionMNIST]

    /// The data set called `name` (case-insensitive; `fashion_mnist` and `fashionmnist` work too).
    ///
    /// - Throws: ``DataError/invalidField(path:field:value:expected:)`` for an unknown name.
    public static func named(_ name: String) throws(DataError) -> Dataset {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        if let match = all.first(where: { $0.name == key || $0.name.replacingOccurrences(of: "-", with: "") == key }) {
            return match
        }
        throw .invalidField(path: "--dataset", field: "data set name", value: "'\(name)'",
                            expected: "one of \(all.map(\.name).joined(separator: ", "))")
    }
}

/// Finds a data set's files on this machine, or downloads them into the cache.
///
/// Search order (the first directory holding all four files, compressed or not, wins):
/// 1. the explicit directory (`--data-dir`): `DIR/NAME`, then `DIR` itself;
/// 2. `$BACKPROP_DATA/NAME`;
/// 3. the cache, `$XDG_CACHE_HOME/backprop/datasets/NAME` (`~/.cache/…` when XDG_CACHE_HOME is
///    unset or not absolute, per the XDG base directory specification);
/// 4. the data set's system directories (Fashion-MNIST: /usr/share/datasets/fashion-mnist).
///
/// Downloads go into the cache: each file is fetched to a temporary file in the cache folder,
/// its MD5 checked against the published one, and only then renamed into place, so the cache
/// never holds a partial or corrupt file under the real name.
public struct DatasetLocator: Sendable {
    /// The explicit data directory (`--data-dir`), searched first.
    public var directory: String?
    /// The environment (BACKPROP_DATA, XDG_CACHE_HOME, HOME); injectable for tests.
    public var environment: [String: String]
    /// Replaces every data set's mirrors when set (tests point it at a local server or a
    /// `file://` folder); a missing final `/` is added.
    public var baseURLOverride: String?
    /// Replaces the data sets' system directories when set (tests use an empty list or a
    /// temporary folder).
    public var systemDirectoriesOverride: [String]?
    /// Seconds a download may wait for data before it is abandoned.
    public var timeout: Double
    /// Whether files found on disk are checked against the published checksums before loading
    /// (downloads always are).
    public var verifiesChecksums: Bool

    /// A locator with the search order of ``DatasetLocator``: `directory`, `$BACKPROP_DATA`,
    /// the cache, then the data set's system directories.
    ///
    /// - Parameters:
    ///   - directory: the data directory (`--data-dir`), or nil for the environment's.
    ///   - environment: where `BACKPROP_DATA`, `XDG_CACHE_HOME` and `HOME` are read from.
    ///   - baseURLOverride: a mirror tried instead of the data set's own (tests use a local one).
    ///   - systemDirectoriesOverride: directories searched instead of the data set's own.
    ///   - timeout: seconds a download may wait for data.
    ///   - verifiesChecksums: check files found on disk against the published checksums.
    public init(directory: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                baseURLOverride: String? = nil, systemDirectoriesOverride: [String]? = nil,
                timeout: Double = 60, verifiesChecksums: Bool = false) {
        self.directory = directory
        self.environment = environment
        self.baseURLOverride = baseURLOverride
        self.systemDirectoriesOverride = systemDirectoriesOverride
        self.timeout = timeout
        self.verifiesChecksums = verifiesChecksums
    }

    /// The cache folder for `dataset`.
    public func cacheDirectory(for dataset: Dataset) -> String {
        let base: String
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            base = xdg
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            base = (home as NSString).appendingPathComponent(".cache")
        }
        return ((base as NSString).appendingPathComponent("backprop/datasets") as NSString).appendingPathComponent(dataset.name)
    }

    /// The directories searched for `dataset`, in order.
    public func searchDirectories(for dataset: Dataset) -> [String] {
        var dirs: [String] = []
        if let directory {
            dirs.append((directory as NSString).appendingPathComponent(dataset.name))
            dirs.append(directory)
        }
        if let root = environment["BACKPROP_DATA"], !root.isEmpty {
            dirs.append((root as NSString).appendingPathComponent(dataset.name))
        }
        dirs.append(cacheDirectory(for: dataset))
        dirs += systemDirectoriesOverride ?? dataset.systemDirectories
        return dirs
    }

    /// The paths of the four files in `directory` (each the .gz if present, else the
    /// uncompressed name), or nil if one is missing.
    public func files(of dataset: Dataset, in directory: String) -> [String]? {
        var paths: [String] = []
        for file in dataset.files {
            let gz = (directory as NSString).appendingPathComponent(file.name)
            let plain = (directory as NSString).appendingPathComponent(file.uncompressedName)
            if FileManager.default.fileExists(atPath: gz) {
                paths.append(gz)
            } else if FileManager.default.fileExists(atPath: plain) {
                paths.append(plain)
            } else {
                return nil
            }
        }
        return paths
    }

    /// The first searched directory holding all of `dataset`'s files.
    ///
    /// - Throws: ``DataError/notFound(name:searched:)`` listing every directory searched.
    public func locate(_ dataset: Dataset) throws(DataError) -> String {
        let dirs = searchDirectories(for: dataset)
        for dir in dirs where files(of: dataset, in: dir) != nil { return dir }
        throw .notFound(name: dataset.name, searched: dirs)
    }

    /// Loads the training and test sets, downloading them into the cache first if they are
    /// not found and `allowDownload` is set.
    ///
    /// - Throws: ``DataError`` from locating (not found), downloading (network failure,
    ///   checksum mismatch), verifying, or loading (malformed files; see ``MNIST/loadPair(images:labels:)``).
    public func load(_ dataset: Dataset, allowDownload: Bool = false) throws(DataError) -> (train: ImageDataset, test: ImageDataset) {
        let directory: String
        do {
            directory = try locate(dataset)
        } catch {
            guard allowDownload, case .notFound = error else { throw error }
            directory = try download(dataset)
        }
        guard let paths = files(of: dataset, in: directory) else {
            throw .notFound(name: dataset.name, searched: [directory])
        }
        if verifiesChecksums {
            for (file, path) in zip(dataset.files, paths) { try Self.verify(path, against: file) }
        }
        let train = try MNIST.loadPair(images: paths[0], labels: paths[1])
        let test = try MNIST.loadPair(images: paths[2], labels: paths[3])
        return (train, test)
    }

    /// Checks a file on disk: a `.gz` against the published MD5 or, failing that (a
    /// recompressed copy), its decompressed contents against `contentMD5`; an uncompressed file
    /// against `contentMD5`.
    ///
    /// - Throws: ``DataError/checksumMismatch(path:expected:actual:)``.
    public static func verify(_ path: String, against file: Dataset.File) throws(DataError) {
        if path.hasSuffix(".gz") {
            let actual = try Checksum.md5(file.md5).digest(ofFile: path)
            if actual == file.md5 { return }
            let raw: [UInt8]
            do { raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) } catch {
                throw .unreadable(path: path, reason: IDXArray.reason(error))
            }
            let content = MD5.hexDigest(of: try Gzip.decompress(raw, path: path))
            guard content == file.contentMD5 else {
                throw .checksumMismatch(path: path, expected: "MD5 \(file.md5) (or \(file.contentMD5) decompressed)", actual: actual)
            }
        } else {
            try Checksum.md5(file.contentMD5).verify(file: path)
        }
    }

    /// Downloads every file of `dataset` that the cache lacks, verifying each, and returns the
    /// cache directory.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` naming the URL when no mirror could be
    ///   reached or a server answered with an error, ``DataError/checksumMismatch(path:expected:actual:)``
    ///   when the downloaded bytes are not the published ones (nothing is then left in the cache).
    @discardableResult
    public func download(_ dataset: Dataset) throws(DataError) -> String {
        let directory = cacheDirectory(for: dataset)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .unreadable(path: directory, reason: "cannot create the cache folder: \(IDXArray.reason(error))")
        }
        let bases = (baseURLOverride.map { [$0] } ?? dataset.baseURLs).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        for file in dataset.files {
            let destination = (directory as NSString).appendingPathComponent(file.name)
            if FileManager.default.fileExists(atPath: destination),
               (try? Checksum.md5(file.md5).verify(file: destination)) != nil {
                continue
            }
            var lastError = DataError.notFound(name: "\(dataset.name)/\(file.name)", searched: bases)
            var done = false
            for base in bases {
                do {
                    try Self.download(from: base + file.name, to: destination, checksum: .md5(file.md5), timeout: timeout)
                    done = true
                    break
                } catch {
                    lastError = error
                }
            }
            if !done { throw lastError }
        }
        return directory
    }

    /// Fetches `url` (http, https or file) to `destination`, atomically and only if its digest
    /// matches `checksum`. The bytes stream to a temporary file; memory use does not grow with
    /// the file's size.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` naming the URL (unreachable, HTTP error,
    ///   timeout after `timeout` seconds without progress), ``DataError/checksumMismatch(path:expected:actual:)``
    ///   naming the URL. On any error `destination` is left as it was.
    public static func download(from url: String, to destination: String, checksum: Checksum,
                                timeout: Double = 60) throws(DataError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased() else {
            throw .invalidField(path: url, field: "URL", value: "'\(url)'", expected: "an http, https or file URL")
        }
        switch scheme {
        case "file":
            try install(from: parsed.path, source: url, to: destination, checksum: checksum)
        case "http", "https":
            let temporary = try fetch(parsed, timeout: timeout)
            defer { try? FileManager.default.removeItem(atPath: temporary) }
            try install(from: temporary, source: url, to: destination, checksum: checksum)
        default:
            throw .invalidField(path: url, field: "URL scheme", value: "'\(scheme)'", expected: "http, https or file")
        }
    }

    /// Copies `path` to `destination` through an ``AtomicFileWriter`` while hashing it, and
    /// commits only if the digest matches.
    private static func install(from path: String, source: String, to destination: String,
                                checksum: Checksum) throws(DataError) {
        let writer = try AtomicFileWriter(destination: destination)
        var md5 = MD5(), sha = SHA256()
        var writeError: DataError?
        do throws(DataError) {
            try Checksum.forEachChunk(ofFile: path) { chunk in
                guard writeError == nil else { return }
                switch checksum {
                case .md5: md5.update(chunk)
                case .sha256: sha.update(chunk)
                }
                do throws(DataError) { try writer.write(chunk) } catch { writeError = error }
            }
        } catch {
            throw .unreadable(path: source, reason: error.description)
        }
        if let writeError { throw writeError }
        let actual: String
        switch checksum {
        case .md5: actual = md5.hexDigest()
        case .sha256: actual = sha.hexDigest()
        }
        guard actual == checksum.expected else {
            throw .checksumMismatch(path: source, expected: checksum.description, actual: actual)
        }
        try writer.commit()
    }

    /// Downloads `url` with URLSession into a temporary file and returns its path.
    private static func fetch(_ url: URL, timeout: Double) throws(DataError) -> String {
        final class Outcome: @unchecked Sendable {
            let lock = NSLock()
            var path: String?
            var failure: String?
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = max(timeout, 600)
        let session = URLSession(configuration: configuration)
        defer { session.invalidateAndCancel() }
        let temporary = (NSTemporaryDirectory() as NSString).appendingPathComponent("backprop-download-\(UUID().uuidString)")
        let task = session.downloadTask(with: url) { location, response, error in
            outcome.lock.lock()
            defer {
                outcome.lock.unlock()
                done.signal()
            }
            if let error {
                outcome.failure = error.localizedDescription
                return
            }
            if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                outcome.failure = "HTTP status \(http.statusCode)"
                return
            }
            guard let location else {
                outcome.failure = "no data received"
                return
            }
            do {
                try FileManager.default.moveItem(at: location, to: URL(fileURLWithPath: temporary))
                outcome.path = temporary
            } catch {
                outcome.failure = "cannot keep the downloaded file: \(error.localizedDescription)"
            }
        }
        task.resume()
        // URLSession enforces `timeout` between bytes; this bounds the whole wait as well.
        if done.wait(timeout: .now() + max(timeout, 600) + 5) == .timedOut {
            task.cancel()
            throw .unreadable(path: url.absoluteString, reason: "download did not finish in time")
        }
        outcome.lock.lock()
        defer { outcome.lock.unlock() }
        if let path = outcome.path { return path }
        throw .unreadable(path: url.absoluteString, reason: "download failed: \(outcome.failure ?? "unknown error")")
    }
}
