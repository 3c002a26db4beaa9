import CZlib
import Foundation

/// NumPy's .npz format: a ZIP archive of .npy files, one per array, named `<key>.npy`, which
/// `numpy.load` opens as a mapping from key to array. Written uncompressed ("stored", as
/// `numpy.savez` does), without ZIP64, so each member and the whole archive must stay under
/// 4 GiB.
public struct NumPyArchive: Sendable {
    /// The arrays, in archive order.
    public var arrays: [(key: String, array: NumPyArray)]

    /// An archive of the given arrays (keys become `KEY.npy` members).
    public init(arrays: [(key: String, array: NumPyArray)] = []) {
        self.arrays = arrays
    }

    /// The archive's bytes.
    ///
    /// - Throws: ``WriteError`` (with `path` as the name) for an archive past ZIP's 4 GiB
    ///   limits, a key ZIP cannot name (empty, longer than 65,000 bytes), or a repeated key.
    public func encoded(path: String = "<npz>") throws(WriteError) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        var seen: Set<String> = []
        for (key, array) in arrays {
            guard !key.isEmpty, key.utf8.count < 65_000, seen.insert(key).inserted else {
                throw .cannotWrite(path: path, reason: "array key '\(key)' is empty, too long or repeated")
            }
            let name = Array((key + ".npy").utf8)
            let data = array.encoded()
            let offset = out.count
            guard data.count < Int(UInt32.max), offset < Int(UInt32.max) else {
                throw .cannotWrite(path: path, reason: "array \(key) does not fit in a ZIP archive without ZIP64 (4 GiB)")
            }
            let crc = data.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
            // Local file header.
            Self.put32(0x0403_4B50, &out)
            Self.put16(20, &out)            // version needed: 2.0
            Self.put16(0x0800, &out)        // flags: names are UTF-8
            Self.put16(0, &out)             // method: stored
            Self.put16(0, &out)             // time 00:00
            Self.put16(0x21, &out)          // date 1980-01-01 (the first DOS date)
            Self.put32(crc, &out)
            Self.put32(UInt32(data.count), &out)
            Self.put32(UInt32(data.count), &out)
            Self.put16(UInt16(name.count), &out)
            Self.put16(0, &out)
            out += name
            out += data
            // Its central-directory record.
            Self.put32(0x0201_4B50, &central)
            Self.put16(0x0314, &central)    // made by: Unix, 2.0
            Self.put16(20, &central)
            Self.put16(0x0800, &central)
            Self.put16(0, &central)
            Self.put16(0, &central)
            Self.put16(0x21, &central)
            Self.put32(crc, &central)
            Self.put32(UInt32(data.count), &central)
            Self.put32(UInt32(data.count), &central)
            Self.put16(UInt16(name.count), &central)
            Self.put16(0, &central)         // extra
            Self.put16(0, &central)         // comment
            Self.put16(0, &central)         // disk
            Self.put16(0, &central)         // internal attributes
            Self.put32(0o100644 << 16, &central)  // external: a regular file, rw-r--r--
            Self.put32(UInt32(offset), &central)
            central += name
        }
        guard arrays.count < 65_535, out.count + central.count < Int(UInt32.max) else {
            throw .cannotWrite(path: path, reason: "\(arrays.count) arrays, \(out.count) bytes: too many for a ZIP archive without ZIP64")
        }
        let directoryOffset = out.count
        out += central
        // End of central directory.
        Self.put32(0x0605_4B50, &out)
        Self.put16(0, &out)
        Self.put16(0, &out)
        Self.put16(UInt16(arrays.count), &out)
        Self.put16(UInt16(arrays.count), &out)
        Self.put32(UInt32(central.count), &out)
        Self.put32(UInt32(directoryOffset), &out)
        Self.put16(0, &out)
        return out
    }

    /// Writes the archive atomically.
    public func write(to path: String) throws(WriteError) {
        try AtomicFile.write(try encoded(path: path), to: path)
    }

    private static func put16(_ v: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    private static func put32(_ v: UInt32, _ out: inout [UInt8]) {
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
    }
}
