/// What was wrong with a data file: every case names the file and, where there is one, the field
/// and what was expected, so the message alone tells a user what to fix.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// The file ends before a field that the format (or the header) says is there.
    case truncated(path: String, field: String, expectedBytes: Int, actualBytes: Int)
    /// The file has bytes past the end of what its header describes.
    case trailingBytes(path: String, expectedBytes: Int, actualBytes: Int)
    /// A magic number did not match.
    case wrongMagic(path: String, expected: String, actual: String)
    /// A header field holds a value the format does not allow.
    case invalidField(path: String, field: String, value: String, expected: String)
    /// Two parts that must agree do not (e.g. images and labels of a data set).
    case countMismatch(path: String, field: String, expected: Int, actual: Int)
    /// A compressed file is not gzip, or its compressed stream is corrupt.
    case compression(path: String, reason: String)
    /// A value in a text file could not be parsed or is not finite.
    case invalidValue(path: String, line: Int, column: Int, text: String, expected: String)
    /// A data set could not be found in any of the places searched.
    case notFound(name: String, searched: [String])
    /// A downloaded or cached file does not have the published checksum.
    case checksumMismatch(path: String, expected: String, actual: String)
    /// A file's own checksum (`key`, of its `part`) does not match what was read: the file was
    /// changed or damaged after it was written.
    case corrupted(path: String, part: String, key: String, recorded: String, computed: String)

    /// A one-line message naming the file and what is wrong with it.
    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .truncated(path, field, expected, actual):
            return "\(path): truncated: \(field) needs \(expected) bytes but only \(actual) remain"
        case let .trailingBytes(path, expected, actual):
            return "\(path): \(actual - expected) unexpected bytes after the \(expected) the header describes"
        case let .wrongMagic(path, expected, actual):
            return "\(path): wrong magic number \(actual), expected \(expected)"
        case let .invalidField(path, field, value, expected):
            return "\(path): invalid \(field) \(value), expected \(expected)"
        case let .countMismatch(path, field, expected, actual):
            return "\(path): \(field) is \(actual), expected \(expected)"
        case let .compression(path, reason):
            return "\(path): \(reason)"
        case let .invalidValue(path, line, column, text, expected):
            return "\(path):\(line): column \(column) holds '\(text)', expected \(expected)"
        case let .notFound(name, searched):
            return "data set \(name) not found; looked in: \(searched.joined(separator: ", "))"
        case let .checksumMismatch(path, expected, actual):
            return "\(path): checksum \(actual) does not match the published \(expected)"
        case let .corrupted(path, part, key, recorded, computed):
            return "\(path): damaged: the \(part) do not match the checksum recorded in the metadata (\(key) is \(recorded), the file's contents give \(computed)); the file was changed after it was written"
        }
    }
}
