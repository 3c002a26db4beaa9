/// Errors for tensor shapes and values that came from user input (a layer list, a data file),
/// as opposed to programming mistakes, which stop with a precondition failure.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// The element count does not fit the requested shape.
    case countMismatch(expected: Int, actual: Int, shape: [Int])
    /// A dimension is negative or a shape is otherwise malformed.
    case invalidShape([Int], reason: String)
    /// Two shapes that had to agree did not.
    case shapeMismatch([Int], [Int], operation: String)

    /// A one-line message naming the shape and what is wrong with it.
    public var description: String {
        switch self {
        case let .countMismatch(expected, actual, shape):
            return "shape \(shape) needs \(expected) elements, got \(actual)"
        case let .invalidShape(shape, reason):
            return "invalid shape \(shape): \(reason)"
        case let .shapeMismatch(a, b, operation):
            return "\(operation): shapes \(a) and \(b) do not agree"
        }
    }
}
