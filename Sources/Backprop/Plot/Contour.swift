import Foundation

/// A scalar field sampled on a regular grid of `columns` × `rows` nodes spanning `x` × `y`:
/// node (c, r) is at x = x.lowerBound + c·Δx, y = y.lowerBound + r·Δy, and its value is
/// `values[r * columns + c]` (row 0 at the bottom, as on a plot). NaN marks a missing value.
public struct Grid2D: Sendable, Equatable {
    /// The x range the columns span.
    public var x: ClosedRange<Double>
    /// The y range the rows span.
    public var y: ClosedRange<Double>
    /// Nodes per row (at least 2).
    public var columns: Int
    /// Nodes per column (at least 2).
    public var rows: Int
    /// The values, row by row from the bottom: `values[r * columns + c]`.
    public var values: [Double]

    /// A grid from its values.
    ///
    /// - Precondition: at least 2 × 2 nodes and `columns · rows` values.
    public init(x: ClosedRange<Double>, y: ClosedRange<Double>, columns: Int, rows: Int, values: [Double]) {
        precondition(columns >= 2 && rows >= 2, "Grid2D: needs at least 2×2 nodes, got \(columns)×\(rows)")
        precondition(values.count == columns * rows, "Grid2D: \(values.count) values for \(columns)×\(rows) nodes")
        self.x = x
        self.y = y
        self.columns = columns
        self.rows = rows
        self.values = values
    }

    /// Samples `function(x, y)` at every node.
    public init(x: ClosedRange<Double>, y: ClosedRange<Double>, columns: Int = 121, rows: Int = 121,
                _ function: (Double, Double) throws -> Double) rethrows {
        var values = [Double]()
        values.reserveCapacity(columns * rows)
        for r in 0..<rows {
            let yv = y.lowerBound + (y.upperBound - y.lowerBound) * Double(r) / Double(max(1, rows - 1))
            for c in 0..<columns {
                let xv = x.lowerBound + (x.upperBound - x.lowerBound) * Double(c) / Double(max(1, columns - 1))
                values.append(try function(xv, yv))
            }
        }
        self.init(x: x, y: y, columns: columns, rows: rows, values: values)
    }

    /// The x coordinate of (possibly fractional) column `c`.
    public func xAt(column c: Double) -> Double { x.lowerBound + (x.upperBound - x.lowerBound) * c / Double(columns - 1) }
    /// The y coordinate of (possibly fractional) row `r`.
    public func yAt(row r: Double) -> Double { y.lowerBound + (y.upperBound - y.lowerBound) * r / Double(rows - 1) }
    /// The value at node (c, r).
    public subscript(column c: Int, row r: Int) -> Double { values[r * columns + c] }

    /// The finite values' minimum and maximum, nil when there are none.
    public var valueRange: ClosedRange<Double>? {
        var lo = Double.infinity, hi = -Double.infinity
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        return lo <= hi ? lo...hi : nil
    }

    /// The value at (`x`, `y`) by bilinear interpolation between the four surrounding nodes
    /// (NaN outside the grid or next to a missing value).
    public func sample(x px: Double, y py: Double) -> Double {
        let fc = (px - x.lowerBound) / (x.upperBound - x.lowerBound) * Double(columns - 1)
        let fr = (py - y.lowerBound) / (y.upperBound - y.lowerBound) * Double(rows - 1)
        guard fc >= -1e-9, fr >= -1e-9, fc <= Double(columns - 1) + 1e-9, fr <= Double(rows - 1) + 1e-9 else { return .nan }
        let c = min(columns - 2, max(0, Int(fc))), r = min(rows - 2, max(0, Int(fr)))
        let tx = fc - Double(c), ty = fr - Double(r)
        let v00 = self[column: c, row: r], v10 = self[column: c + 1, row: r]
        let v01 = self[column: c, row: r + 1], v11 = self[column: c + 1, row: r + 1]
        return (v00 * (1 - tx) + v10 * tx) * (1 - ty) + (v01 * (1 - tx) + v11 * tx) * ty
    }

    /// The most weighted class among the four nodes around (`x`, `y`), weighting each node's
    /// class (its value rounded) bilinearly: boundaries between classes come out smooth instead
    /// of as the grid's staircase. Nil outside the grid.
    func sampleClass(x px: Double, y py: Double) -> Int? {
        let fc = (px - x.lowerBound) / (x.upperBound - x.lowerBound) * Double(columns - 1)
        let fr = (py - y.lowerBound) / (y.upperBound - y.lowerBound) * Double(rows - 1)
        guard fc >= -1e-9, fr >= -1e-9, fc <= Double(columns - 1) + 1e-9, fr <= Double(rows - 1) + 1e-9 else { return nil }
        let c = min(columns - 2, max(0, Int(fc))), r = min(rows - 2, max(0, Int(fr)))
        let tx = fc - Double(c), ty = fr - Double(r)
        let nodes = [(self[column: c, row: r], (1 - tx) * (1 - ty)), (self[column: c + 1, row: r], tx * (1 - ty)),
                     (self[column: c, row: r + 1], (1 - tx) * ty), (self[column: c + 1, row: r + 1], tx * ty)]
        var best: Int? = nil, bestWeight = -1.0
        for (v, _) in nodes where v.isFinite {
            let k = Int(v.rounded())
            let w = nodes.filter { $0.0.isFinite && Int($0.0.rounded()) == k }.reduce(0) { $0 + $1.1 }
            if w > bestWeight { bestWeight = w; best = k }
        }
        return best
    }

    /// The contour lines of the field at `level`, by marching squares, as polylines in data
    /// coordinates. Segments are joined across cells into continuous lines (closed loops end
    /// where they start). Saddle cells are resolved by the cell's mean value.
    public func contourLines(at level: Double) -> [[(x: Double, y: Double)]] {
        guard level.isFinite else { return [] }
        // Edge keys: horizontal edge from node (c, r) to (c+1, r) is 2·(r·columns+c), vertical
        // edge from (c, r) to (c, r+1) is 2·(r·columns+c)+1.
        var points: [Int: (x: Double, y: Double)] = [:]
        var segments: [(Int, Int)] = []
        func crossing(_ key: Int) -> Int {
            if points[key] == nil {
                let node = key / 2, c = node % columns, r = node / columns
                let a = self[column: c, row: r]
                let vertical = key % 2 == 1
                let b = vertical ? self[column: c, row: r + 1] : self[column: c + 1, row: r]
                let t = max(0, min(1, (level - a) / (b - a)))
                points[key] = vertical ? (xAt(column: Double(c)), yAt(row: Double(r) + t))
                                       : (xAt(column: Double(c) + t), yAt(row: Double(r)))
            }
            return key
        }
        for r in 0..<(rows - 1) {
            for c in 0..<(columns - 1) {
                let v00 = self[column: c, row: r], v10 = self[column: c + 1, row: r]
                let v11 = self[column: c + 1, row: r + 1], v01 = self[column: c, row: r + 1]
                guard v00.isFinite, v10.isFinite, v11.isFinite, v01.isFinite else { continue }
                let bits = (v00 > level ? 1 : 0) | (v10 > level ? 2 : 0) | (v11 > level ? 4 : 0) | (v01 > level ? 8 : 0)
                if bits == 0 || bits == 15 { continue }
                let bottom = 2 * (r * columns + c), top = 2 * ((r + 1) * columns + c)
                let left = 2 * (r * columns + c) + 1, right = 2 * (r * columns + c + 1) + 1
                // Crossed edges in order around the cell.
                var crossed: [Int] = []
                if (v00 > level) != (v10 > level) { crossed.append(bottom) }
                if (v10 > level) != (v11 > level) { crossed.append(right) }
                if (v11 > level) != (v01 > level) { crossed.append(top) }
                if (v01 > level) != (v00 > level) { crossed.append(left) }
                if crossed.count == 2 {
                    segments.append((crossing(crossed[0]), crossing(crossed[1])))
                } else if crossed.count == 4 {
                    let centreAbove = (v00 + v10 + v11 + v01) / 4 > level
                    let isolateSide = (bits == 5) == centreAbove  // pair (bottom,right) and (top,left)
                    if isolateSide {
                        segments.append((crossing(bottom), crossing(right)))
                        segments.append((crossing(top), crossing(left)))
                    } else {
                        segments.append((crossing(left), crossing(bottom)))
                        segments.append((crossing(right), crossing(top)))
                    }
                }
            }
        }
        // Join segments sharing an edge crossing into polylines.
        var byKey: [Int: [Int]] = [:]
        for (i, s) in segments.enumerated() {
            byKey[s.0, default: []].append(i)
            byKey[s.1, default: []].append(i)
        }
        var used = [Bool](repeating: false, count: segments.count)
        var lines: [[(x: Double, y: Double)]] = []
        func extend(from key: Int) -> [Int] {
            var keys: [Int] = []
            var current = key
            while let next = byKey[current]?.first(where: { !used[$0] }) {
                used[next] = true
                let s = segments[next]
                current = s.0 == current ? s.1 : s.0
                keys.append(current)
            }
            return keys
        }
        for i in segments.indices where !used[i] {
            used[i] = true
            let forward = extend(from: segments[i].1)
            let backward = extend(from: segments[i].0)
            let keys = backward.reversed() + [segments[i].0, segments[i].1] + forward
            lines.append(keys.map { points[$0]! })
        }
        return lines
    }
}

/// Contour levels: `count` nice values across `range` (on a log scale, powers of ten or 1-2-5
/// multiples), strictly inside it.
func automaticLevels(_ range: ClosedRange<Double>, count: Int, scale: AxisScale) -> [Double] {
    guard range.upperBound > range.lowerBound else { return [range.lowerBound] }
    if scale == .log {
        let lo = max(range.lowerBound, range.upperBound * 1e-12)
        guard lo > 0 else { return [] }
        let a = Foundation.log10(lo), b = Foundation.log10(range.upperBound)
        // Evenly spaced in log space, rounded to two significant digits.
        return (1..<max(2, count)).map { i in
            let v = Foundation.pow(10, a + (b - a) * Double(i) / Double(max(2, count)))
            let e = Foundation.pow(10, (Foundation.log10(v)).rounded(.down) - 1)
            return (v / e).rounded() * e
        }
    }
    return AxisTicks.linear(range, target: count).filter { $0 > range.lowerBound && $0 < range.upperBound }
}
