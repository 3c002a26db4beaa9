// The `name:key=value,…` form that optimizer and schedule specifications share on the command
// line and in older configuration files.

/// Why a `name:key=value,…` specification could not be split.
struct SpecificationSyntaxError: Error {
    let reason: String
}

/// Splits `name:key=value,key=value` into the name and the pairs in order (keys lowercased);
/// shared by optimizer and schedule specifications.
func parseKeyValueSpecification(_ text: String) throws(SpecificationSyntaxError) -> (name: String, pairs: [(String, String)]) {
    let parts = trimSpecificationText(text).split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    let head = trimSpecificationText(parts[0])
    guard !head.isEmpty else { throw SpecificationSyntaxError(reason: "no name") }
    var pairs: [(String, String)] = []
    if parts.count == 2 {
        for item in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = kv.count == 2 ? trimSpecificationText(kv[0]).lowercased() : ""
            let value = kv.count == 2 ? trimSpecificationText(kv[1]) : ""
            guard !key.isEmpty, !value.isEmpty else {
                throw SpecificationSyntaxError(reason: "'\(item)' is not key=value")
            }
            pairs.append((key, value))
        }
    }
    return (head, pairs)
}

/// `text` without leading and trailing whitespace (no Foundation needed).
func trimSpecificationText<S: StringProtocol>(_ text: S) -> String {
    var s = Substring(text)
    while let c = s.first, c.isWhitespace { s.removeFirst() }
    while let c = s.last, c.isWhitespace { s.removeLast() }
    return String(s)
}
