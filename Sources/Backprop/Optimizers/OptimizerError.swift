/// Bad input to an optimizer: an unknown name or hyper-parameter from the command line, or a
/// saved state that does not fit the model.
public enum OptimizerError: Error, Equatable, CustomStringConvertible {
    /// No optimizer has this name.
    case unknownOptimizer(String, valid: [String])
    /// The optimizer has no hyper-parameter with this key.
    case unknownHyperParameter(String, optimizer: String, valid: [String])
    /// The value is out of the hyper-parameter's range.
    case invalidHyperParameter(String, value: Float, reason: String)
    /// A `name:key=value,…` specification could not be read.
    case malformedSpecification(String, reason: String)
    /// A saved state was made by another algorithm.
    case algorithmMismatch(expected: String, found: String)
    /// A saved state has no entry for this parameter.
    case missingParameterState(String)
    /// A saved state has an entry for a parameter the optimizer does not have.
    case unexpectedParameterState(String)
    /// A saved state's entry has another shape than the parameter.
    case shapeMismatch(parameter: String, expected: [Int], found: [Int])
    /// A saved state's entry lacks a buffer, or one has the wrong length.
    case invalidStateBuffer(parameter: String, buffer: String, reason: String)

    /// A one-line message naming the optimizer, parameter or key, and the problem.
    public var description: String {
        switch self {
        case let .unknownOptimizer(name, valid):
            return "unknown optimizer '\(name)'; valid names: \(valid.joined(separator: ", "))"
        case let .unknownHyperParameter(key, optimizer, valid):
            let list = valid.isEmpty ? "none" : valid.joined(separator: ", ")
            return "optimizer '\(optimizer)' has no hyper-parameter '\(key)'; valid keys: \(list)"
        case let .invalidHyperParameter(key, value, reason):
            return "invalid value \(value) for '\(key)': \(reason)"
        case let .malformedSpecification(text, reason):
            return "cannot read optimizer specification '\(text)': \(reason)"
        case let .algorithmMismatch(expected, found):
            return "saved optimizer state is for '\(found)', not '\(expected)'"
        case let .missingParameterState(name):
            return "saved optimizer state has no entry for parameter '\(name)'"
        case let .unexpectedParameterState(name):
            return "saved optimizer state has an entry for unknown parameter '\(name)'"
        case let .shapeMismatch(name, expected, found):
            return "saved optimizer state for parameter '\(name)' has shape \(found), expected \(expected)"
        case let .invalidStateBuffer(name, buffer, reason):
            return "saved optimizer state for parameter '\(name)', buffer '\(buffer)': \(reason)"
        }
    }
}
