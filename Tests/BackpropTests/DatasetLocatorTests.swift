import Foundation
import Testing
import Backprop
#if canImport(Glibc)
import Glibc
#endif

/// A four-file data set in MNIST's layout, small enough to write in a test.
struct TinyDataset {
    let files: [(name: String, bytes: [UInt8])]
    let dataset: Dataset

    /// `labels` decide the content, so copies in different places can be told apart.
    init(labels: [UInt8], name: String = "tiny", gzip: Bool = true) {
        let n = labels.count
        let images = idxBytes(shape: [n, 4, 4], payload: (0..<(n * 16)).map { UInt8($0 % 251) })
        let labelFile = idxBytes(shape: [n], payload: labels)
        let contents = [images, labelFile, images, labelFile]
        let names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        var files: [(String, [UInt8])] = []
        var entries: [Dataset.File] = []
        for (fileName, content) in zip(names, contents) {
            let stored = gzip ? Gzip.compress(content) : content
            files.append((gzip ? fileName : String(fileName.dropLast(3)), stored))
            entries.append(Dataset.File(name: fileName, md5: MD5.hexDigest(of: gzip ? stored : Gzip.compress(content)),
                                        contentMD5: MD5.hexDigest(of: content)))
        }
        self.files = files
        dataset = Dataset(name: name, files: entries, baseURLs: ["http://127.0.0.1:9/never/"])
    }

    func write(into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, bytes) in files {
            _ = FileManager.default.createFile(atPath: (directory as NSString).appendingPathComponent(name), contents: Data(bytes))
        }
    }
}

/// `python3 -m http.server` on a free port of 127.0.0.1, serving a folder; stopped on release.
final class LocalHTTPServer {
    let process = Process()
    let port: Int

    static var python: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    init(serving directory: String) throws {
        port = try Self.freePort()
        let python = try #require(Self.python, "python3 is needed for the HTTP download test")
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait (at most 10 s) until it accepts connections.
        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw DataError.unreadable(path: "http://127.0.0.1:\(port)/", reason: "test server did not start")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }

    /// SIGKILL, not `terminate()`'s SIGTERM: a child spawned from a libdispatch worker thread
    /// inherits its blocked-signal mask, so SIGTERM would stay pending and the wait would hang.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var baseURL: String { "http://127.0.0.1:\(port)/" }

    /// A port the kernel reports free (bound to port 0, read back, released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(fd, p, length) == 0 else { return -1 }
                return getsockname(fd, p, &length)
            }
        }
        try #require(bound == 0, "could not find a free port")
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

@Suite struct DatasetLocatorTests {
    func locator(_ directory: DataTestDirectory, explicit: String? = nil, env: [String: String] = [:],
                 system: [String] = []) -> DatasetLocator {
        var environment = ["HOME": directory.path("home")]
        environment.merge(env) { $1 }
        return DatasetLocator(directory: explicit, environment: environment, systemDirectoriesOverride: system, timeout: 10)
    }

    @Test func searchOrderIsExplicitThenEnvironmentThenCacheThenSystem() throws {
        let d = try DataTestDirectory()
        let tiny = TinyDataset(labels: [0, 1, 2])
        let explicit = d.path("explicit"), env = d.path("env"), xdg = d.path("xdg"), system = d.path("system/tiny")
        let l = locator(d, explicit: explicit, env: ["BACKPROP_DATA": env, "XDG_CACHE_HOME": xdg], system: [system])
        #expect(l.searchDirectories(for: tiny.dataset) == [explicit + "/tiny", explicit, env + "/tiny", xdg + "/backprop/datasets/tiny", system])
        #expect(throws: DataError.notFound(name: "tiny", searched: l.searchDirectories(for: tiny.dataset))) {
            try l.locate(tiny.dataset)
        }
        try tiny.write(into: system)
        #expect(try l.locate(tiny.dataset) == system)
        try tiny.write(into: xdg + "/backprop/datasets/tiny")
        #expect(try l.locate(tiny.dataset) == xdg + "/backprop/datasets/tiny")
        try tiny.write(into: env + "/tiny")
        #expect(try l.locate(tiny.dataset) == env + "/tiny")
        try tiny.write(into: explicit)
        #expect(try l.locate(tiny.dataset) == explicit)
        // Uncompressed copies are found too.
        let plain = d.path("plain")
        try TinyDataset(labels: [0, 1, 2], gzip: false).write(into: plain)
        let found = try locator(d, explicit: plain).load(tiny.dataset)
        #expect(found.train.labels == [0, 1, 2] && found.test.count == 3)
    }

    @Test func cacheFollowsXDGAndHome() {
        let home = ["HOME": "/home/ada"]
        #expect(DatasetLocator(environment: home).cacheDirectory(for: .mnist) == "/home/ada/.cache/backprop/datasets/mnist")
        #expect(DatasetLocator(environment: home.merging(["XDG_CACHE_HOME": "/var/cache/ada"]) { $1 }).cacheDirectory(for: .fashionMNIST)
                == "/var/cache/ada/backprop/datasets/fashion-mnist")
        // A relative XDG_CACHE_HOME is invalid per the specification and ignored.
        #expect(DatasetLocator(environment: home.merging(["XDG_CACHE_HOME": "relative"]) { $1 }).cacheDirectory(for: .mnist)
                == "/home/ada/.cache/backprop/datasets/mnist")
        #expect(Dataset.fashionMNIST.systemDirectories == ["/usr/share/datasets/fashion-mnist"])
    }

    @Test func registryKnowsMNISTAndFashionMNIST() throws {
        #expect(try Dataset.named("MNIST") == .mnist)
        #expect(try Dataset.named("fashion_mnist") == .fashionMNIST)
        #expect(try Dataset.named("fashionmnist") == .fashionMNIST)
        #expect(throws: DataError.self) { try Dataset.named("cifar10") }
        for dataset in Dataset.all {
            #expect(dataset.files.map(\.name) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
            #expect(dataset.files.allSatisfy { $0.md5.count == 32 && $0.contentMD5.count == 32 })
            #expect(!dataset.baseURLs.isEmpty && dataset.baseURLs.allSatisfy { $0.hasSuffix("/") })
        }
        #expect(Dataset.mnist.files.map(\.md5) == Dataset.mnist.files.map { MNIST.md5[$0.name] ?? "" })
    }

    @Test(.enabled(if: LocalHTTPServer.python != nil))
    func downloadsFromALocalHTTPServerAndVerifies() throws {
        let d = try DataTestDirectory()
        let tiny = TinyDataset(labels: [3, 1, 4, 1])
        try tiny.write(into: d.path("served"))
        let server = try LocalHTTPServer(serving: d.path("served"))
        var l = locator(d, env: ["XDG_CACHE_HOME": d.path("cache")])
        l.baseURLOverride = server.baseURL
        let cache = d.path("cache/backprop/datasets/tiny")
        let (train, test) = try l.load(tiny.dataset, allowDownload: true)
        #expect(train.labels == [3, 1, 4, 1] && test.count == 4 && train.height == 4)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).sorted() == tiny.files.map(\.name).sorted())
        // Found in the cache next time, with no server.
        l.baseURLOverride = "http://127.0.0.1:1/"
        #expect(try l.load(tiny.dataset).train.labels == [3, 1, 4, 1])

        // A published checksum that does not match: error, and nothing left in the cache.
        var wrong = tiny.dataset
        wrong.name = "wrong"
        wrong.files[1].md5 = String(repeating: "0", count: 32)
        l.baseURLOverride = server.baseURL
        do {
            try l.download(wrong)
            Issue.record("a corrupt download was accepted")
        } catch {
            guard case .checksumMismatch(let path, _, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(path == server.baseURL + "train-labels-idx1-ubyte.gz")
        }
        let wrongCache = d.path("cache/backprop/datasets/wrong")
        #expect(try FileManager.default.contentsOfDirectory(atPath: wrongCache) == ["train-images-idx3-ubyte.gz"])

        // A missing file: the HTTP status is in the message.
        do {
            try DatasetLocator.download(from: server.baseURL + "absent.gz", to: d.path("absent.gz"), checksum: .md5(""))
            Issue.record("404 accepted")
        } catch {
            #expect(error.description.contains("404"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: d.path("absent.gz")))
    }

    @Test func noServerIsAClearErrorInBoundedTime() throws {
        let d = try DataTestDirectory()
        let port = try LocalHTTPServer.freePort()  // nothing listens there
        let start = Date()
        do {
            try DatasetLocator.download(from: "http://127.0.0.1:\(port)/x.gz", to: d.path("x.gz"), checksum: .md5(""), timeout: 5)
            Issue.record("download from nowhere succeeded")
        } catch {
            guard case .unreadable(let url, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(url == "http://127.0.0.1:\(port)/x.gz")
        }
        #expect(Date().timeIntervalSince(start) < 15)
        #expect(try FileManager.default.contentsOfDirectory(atPath: d.root).isEmpty)
    }

    @Test func downloadsFromFileURLs() throws {
        let d = try DataTestDirectory()
        let tiny = TinyDataset(labels: [2, 7])
        try tiny.write(into: d.path("mirror"))
        var l = locator(d, env: ["XDG_CACHE_HOME": d.path("cache")])
        l.baseURLOverride = URL(fileURLWithPath: d.path("mirror")).absoluteString + "/"
        #expect(l.baseURLOverride?.hasPrefix("file:///") == true)
        let directory = try l.download(tiny.dataset)
        #expect(directory == d.path("cache/backprop/datasets/tiny"))
        #expect(try l.load(tiny.dataset).train.labels == [2, 7])
        // SHA-256 works the same way.
        let sha = SHA256.hexDigest(of: tiny.files[0].bytes)
        try DatasetLocator.download(from: l.baseURLOverride! + tiny.files[0].name, to: d.path("copy.gz"), checksum: .sha256(sha))
        #expect(FileManager.default.contents(atPath: d.path("copy.gz")) == Data(tiny.files[0].bytes))
        #expect(throws: DataError.self) {
            try DatasetLocator.download(from: "file:///nonexistent/x.gz", to: d.path("y.gz"), checksum: .md5(""))
        }
        #expect(throws: DataError.self) {
            try DatasetLocator.download(from: "ftp://example.com/x.gz", to: d.path("y.gz"), checksum: .md5(""))
        }
    }

    /// Repackaged (recompressed) copies, like Debian's, pass verification by their contents;
    /// a damaged copy does not.
    @Test func verificationAcceptsRecompressedCopiesAndRejectsDamage() throws {
        let d = try DataTestDirectory()
        let tiny = TinyDataset(labels: [1, 0])
        let system = d.path("system")
        try tiny.write(into: system)
        // Recompress the labels at another level: different .gz bytes, same contents.
        let labelsPath = system + "/train-labels-idx1-ubyte.gz"
        let content = try Gzip.decompress(tiny.files[1].bytes, path: labelsPath)
        let recompressed = Gzip.compress(content + [], level: 1) + Gzip.compress([], level: 9)
        _ = FileManager.default.createFile(atPath: labelsPath, contents: Data(recompressed))
        var l = locator(d, system: [system])
        l.verifiesChecksums = true
        #expect(try l.load(tiny.dataset).train.labels == [1, 0])
        // Damage: a different label in a valid file.
        _ = FileManager.default.createFile(atPath: labelsPath, contents: Data(Gzip.compress(idxBytes(shape: [2], payload: [1, 1]))))
        #expect(throws: DataError.self) { try l.load(tiny.dataset) }
        l.verifiesChecksums = false
        #expect(try l.load(tiny.dataset).train.labels == [1, 1])
    }

    /// Debian's dataset-fashion-mnist, when installed (or pointed to by
    /// BACKPROP_TEST_FASHION_MNIST): checksums by content and the published class balance.
    @Test func loadsFashionMNISTFromTheDebianLocationWhenInstalled() throws {
        let directory = ProcessInfo.processInfo.environment["BACKPROP_TEST_FASHION_MNIST"] ?? "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: directory) else { return }
        let l = DatasetLocator(environment: ["HOME": "/nonexistent"], systemDirectoriesOverride: [directory], verifiesChecksums: true)
        let (train, test) = try l.load(.fashionMNIST)
        #expect(train.labels.reduce(into: [Int](repeating: 0, count: 10)) { $0[Int($1)] += 1 } == [Int](repeating: 6000, count: 10))
        #expect(test.labels.reduce(into: [Int](repeating: 0, count: 10)) { $0[Int($1)] += 1 } == [Int](repeating: 1000, count: 10))
    }
}
