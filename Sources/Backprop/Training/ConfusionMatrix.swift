import Foundation

/// Counts of (true class, predicted class) pairs, and the metrics derived from them.
public struct ConfusionMatrix: Sendable, Equatable, Codable {
    /// `counts[truth][prediction]`.
    public private(set) var counts: [[Int]]

    /// An empty matrix for `classCount` classes (all counts 0).
    public init(classCount: Int) {
        counts = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    /// The number of classes: the matrix is `classCount` × `classCount`.
    public var classCount: Int { counts.count }

    /// Records one example.
    public mutating func record(truth: Int, prediction: Int) {
        counts[truth][prediction] += 1
    }

    /// The number of examples recorded.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

    /// The fraction classified correctly (0 when empty).
    public var accuracy: Float {
        let t = total
        return t == 0 ? 0 : Float((0..<classCount).reduce(0) { $0 + counts[$1][$1] }) / Float(t)
    }

    /// Of the examples predicted as class k, the fraction that are k (nil when none was).
    public func precision(_ k: Int) -> Float? {
        let predicted = counts.reduce(0) { $0 + $1[k] }
        return predicted == 0 ? nil : Float(counts[k][k]) / Float(predicted)
    }

    /// Of the examples of class k, the fraction predicted as k (nil when there are none).
    public func recall(_ k: Int) -> Float? {
        let actual = counts[k].reduce(0, +)
        return actual == 0 ? nil : Float(counts[k][k]) / Float(actual)
    }

    /// A fixed-width table, rows = truth, columns = prediction, with recall and precision.
    public var table: String {
        let width = max(5, String(counts.flatMap { $0 }.max() ?? 0).count + 1)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        var lines = ["truth\\pred" + (0..<classCount).map { pad("\($0)") }.joined() + "   recall"]
        for k in 0..<classCount {
            let r = recall(k).map { String(format: "%7.2f%%", 100 * $0) } ?? "      –"
            lines.append(pad("\(k)").padding(toLength: 10, withPad: " ", startingAt: 0) + counts[k].map { pad("\($0)") }.joined() + "  " + r)
        }
        lines.append("precision ".padding(toLength: 10, withPad: " ", startingAt: 0)
                     + (0..<classCount).map { k in precision(k).map { pad(String(format: "%.0f%%", 100 * $0)) } ?? pad("–") }.joined())
        return lines.joined(separator: "\n")
    }
}
