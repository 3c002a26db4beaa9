import Foundation
import Testing
import Backprop

@Suite struct ChecksumTests {
    /// RFC 1321, appendix A.5.
    @Test func md5MatchesRFC1321TestSuite() {
        let vectors: [(String, String)] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
            (String(repeating: "1234567890", count: 8), "57edf4a22be3c955ac49da2e2107b67a"),
        ]
        for (text, digest) in vectors {
            #expect(MD5.hexDigest(of: Array(text.utf8)) == digest, "MD5(\"\(text)\")")
        }
    }

    /// FIPS 180-2 appendix B (and the NIST example values).
    @Test func sha256MatchesFIPS180Examples() {
        #expect(SHA256.hexDigest(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var h = SHA256()
        let thousand = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { h.update(thousand) }
        #expect(h.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 56-byte padding boundary and the 64-byte block, checked against
    /// Python's hashlib, hashed whole and in uneven pieces.
    @Test func paddingBoundariesAndStreamingAgreeWithHashlib() {
        let expected: [(Int, String, String)] = [
            (55, "52c0e574e1198de5fe3f8f11440dcb1b", "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
            (56, "46c9907fc908ee68b1e7b8e71286a518", "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
            (57, "1c805dd236c35cab25fcb1bc73802c51", "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"),
            (63, "a62f6d59e837867693f042f5b8f5a236", "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
            (64, "7160b8fb5e9e4023d549c3971fbaeead", "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
            (65, "70bd662e7aefbda85a0f7244167b7897", "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
            (119, "e84905d4214f4d1ca56c2cdcc152b143", "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
            (120, "e3eb5a6c8669ea01a8c185b8abc8a5dc", "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
            (1000, "10046f077f2082ac19676b8079f1cb1a", "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"),
        ]
        for (n, md5, sha) in expected {
            let bytes = (0..<n).map { UInt8(($0 * 7 + 3) % 256) }
            #expect(MD5.hexDigest(of: bytes) == md5, "MD5 of \(n) bytes")
            #expect(SHA256.hexDigest(of: bytes) == sha, "SHA-256 of \(n) bytes")
            var m = MD5(), s = SHA256()
            var i = 0, step = 1
            while i < n {
                let piece = Array(bytes[i..<min(n, i + step)])
                m.update(piece)
                s.update(piece)
                i += step
                step = step * 3 % 67 + 1
            }
            #expect(m.hexDigest() == md5 && s.hexDigest() == sha, "streamed digests of \(n) bytes")
        }
    }

    /// `finalize()` leaves the hasher usable (the download code reads a digest, the docs promise
    /// it may go on): "a", a digest, then "bc" gives the digests of "a" and of "abc" (RFC 1321
    /// and FIPS 180-2 values; SHA-256 of "a" as coreutils' sha256sum prints it), and a file of
    /// "abc" verifies against FIPS 180-2's SHA-256.
    @Test func digestsContinueAfterFinalizeAndFilesVerify() throws {
        var m = MD5(), s = SHA256()
        m.update(Array("a".utf8))
        s.update(Array("a".utf8))
        #expect(m.hexDigest() == "0cc175b9c0f1b6a831c399e269772661")
        #expect(s.hexDigest() == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")
        m.update(Array("bc".utf8))
        s.update(Array("bc".utf8))
        #expect(m.hexDigest() == "900150983cd24fb0d6963f7d28e17f72")
        #expect(s.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(m.finalize().count == 16 && s.finalize().count == 32)
        let directory = try DataTestDirectory()
        let path = directory.write("abc.txt", Array("abc".utf8))
        try Checksum.sha256("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD").verify(file: path)
        try Checksum.md5("900150983cd24fb0d6963f7d28e17f72").verify(file: path)
    }

    /// The shipped MNIST files have the MD5s published with the data set.
    @Test func shippedMNISTFilesHavePublishedMD5s() throws {
        let directory = try #require(MNIST.bundledDirectory)
        for (name, md5) in MNIST.md5 {
            let path = (directory as NSString).appendingPathComponent(name)
            try Checksum.md5(md5).verify(file: path)
            #expect(Dataset.mnist.files.first { $0.name == name }?.md5 == md5)
        }
    }

    @Test func mismatchAndMissingFileAreClearErrors() throws {
        let directory = try DataTestDirectory()
        let path = directory.write("hello.txt", Array("hello\n".utf8))
        // md5("hello\n") = b1946ac92492d2347c6235b4d2611184
        try Checksum.md5("b1946ac92492d2347c6235b4d2611184").verify(file: path)
        let wrong = Checksum.md5("00000000000000000000000000000000")
        #expect(throws: DataError.checksumMismatch(path: path, expected: wrong.description,
                                                   actual: "b1946ac92492d2347c6235b4d2611184")) {
            try wrong.verify(file: path)
        }
        let missing = directory.path("absent.txt")
        do {
            try wrong.verify(file: missing)
            Issue.record("a missing file verified")
        } catch {
            guard case .unreadable(let p, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(p == missing)
        }
    }
}
