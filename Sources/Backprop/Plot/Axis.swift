import Foundation

/// How data values map to positions along an axis.
public enum AxisScale: Sendable, Equatable {
    /// Equal data differences are equal pixel distances.
    case linear
    /// Base-10 logarithmic; values ≤ 0 are not drawn.
    case log

    /// The position of `value` on this scale (log10 for `.log`), NaN when it cannot be shown.
    public func position(_ value: Double) -> Double {
        switch self {
        case .linear: return value.isFinite ? value : .nan
        case .log: return value > 0 && value.isFinite ? Foundation.log10(value) : .nan
        }
    }

    /// The value at `position`.
    public func value(_ position: Double) -> Double {
        self == .linear ? position : Foundation.pow(10, position)
    }
}

/// Tick selection and tick-label formatting: ticks at 1, 2 or 5 × 10^k, decades on log axes.
public enum AxisTicks {
    /// A "nice" step near `span / target`: 1, 2 or 5 times a power of ten.
    public static func niceStep(span: Double, target: Int) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / Double(max(1, target))
        let magnitude = Foundation.pow(10, (Foundation.log10(raw)).rounded(.down))
        let normalized = raw / magnitude
        let nice: Double = normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10
        return nice * magnitude
    }

    /// Ticks inside `range` (inclusive, with a little tolerance) at a nice step giving roughly
    /// `target` intervals. Values are multiples of the step, cleaned of rounding noise.
    public static func linear(_ range: ClosedRange<Double>, target: Int = 5) -> [Double] {
        let lo = range.lowerBound, hi = range.upperBound
        guard lo.isFinite, hi.isFinite else { return [] }
        guard hi > lo else { return [lo] }
        var step = niceStep(span: hi - lo, target: target)
        // A coarse target can leave a single multiple inside the range: step down (10 → 5 → 2 → 1).
        for _ in 0..<6 where ((hi / step).rounded(.down) - (lo / step).rounded(.up)) < 1 {
            let p = Foundation.pow(10, Foundation.log10(step).rounded(.down))
            let m = (step / p).rounded()
            step = m >= 5 ? 2 * p : m >= 2 ? p : p / 2
        }
        let eps = step * 1e-9
        let first = ((lo - eps) / step).rounded(.up), last = ((hi + eps) / step).rounded(.down)
        guard last >= first, last - first < 10_000 else { return [] }
        return stride(from: first, through: last, by: 1).map { k in
            let v = k * step
            return abs(v) < eps ? 0 : Double(String(format: "%.12g", v)) ?? v
        }
    }

    /// `range` widened outwards to multiples of its nice step: 3...97 becomes 0...100.
    public static func niceRange(_ range: ClosedRange<Double>, target: Int = 5) -> ClosedRange<Double> {
        guard range.upperBound > range.lowerBound else { return range }
        let step = niceStep(span: range.upperBound - range.lowerBound, target: target)
        return ((range.lowerBound / step).rounded(.down) * step)...((range.upperBound / step).rounded(.up) * step)
    }

    /// Ticks for a log axis over `range` (data values, both > 0): every decade (every second,
    /// third… when there are many), or 1-2-5 multiples, or linear ticks when the range spans
    /// less than a factor of ten or so.
    public static func log(_ range: ClosedRange<Double>, target: Int = 5) -> [Double] {
        let lo = range.lowerBound, hi = range.upperBound
        guard lo > 0, hi >= lo, hi.isFinite else { return [] }
        let a = Foundation.log10(lo), b = Foundation.log10(hi)
        let firstDecade = Int((a - 1e-9).rounded(.up)), lastDecade = Int((b + 1e-9).rounded(.down))
        let decades = lastDecade - firstDecade + 1
        if decades >= 3 {
            let every = max(1, Int((Double(decades) / Double(max(1, target))).rounded(.up)))
            return stride(from: firstDecade, through: lastDecade, by: 1)
                .filter { ($0 - firstDecade) % every == 0 }
                .map { Foundation.pow(10, Double($0)) }
        }
        var candidates: [Double] = []
        for k in (firstDecade - 1)...(lastDecade + 1) {
            for m in [1.0, 2, 5] {
                let v = m * Foundation.pow(10, Double(k))
                if v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) { candidates.append(v) }
            }
        }
        if candidates.count >= 3 && candidates.count <= 2 * target { return candidates }
        return linear(range, target: target).filter { $0 > 0 }
    }

    /// Ticks for `range` on `scale`.
    public static func ticks(_ range: ClosedRange<Double>, scale: AxisScale, target: Int = 5) -> [Double] {
        scale == .linear ? linear(range, target: target) : log(range, target: target)
    }

    /// Compact labels for a set of ticks, sharing one style: plain decimals with just enough
    /// digits to tell neighbours apart ("0", "0.2", "1.5"), or "2e5" / "1.5e-4" style for huge
    /// and tiny magnitudes.
    public static func labels(_ ticks: [Double]) -> [String] {
        let finite = ticks.filter(\.isFinite)
        guard let largest = finite.map(abs).max() else { return ticks.map { _ in "" } }
        let nonzero = finite.filter { $0 != 0 }.map(abs)
        let smallest = nonzero.min() ?? 0
        let sorted = Array(Set(finite)).sorted()
        let gaps = zip(sorted, sorted.dropFirst()).map { $1 - $0 }.filter { $0 > 0 }
        let step = gaps.min() ?? max(largest, 1)
        let useScientific = largest >= 1e5 || (smallest > 0 && smallest < 1e-3 && largest < 1e-1)
            || (smallest > 0 && smallest < 1e-3 && largest / smallest >= 1e3)
        if useScientific {
            return ticks.map { v in scientific(v, relativeStep: step) }
        }
        let decimals = max(0, min(10, Int(-(Foundation.log10(step) + 1e-9).rounded(.down))))
        return ticks.map { v in plain(v, decimals: decimals) }
    }

    /// Labels for log-axis ticks: each value on its own ("0.01", "1", "100"), or all in
    /// "1e-5" style when some are tiny or huge.
    public static func logLabels(_ ticks: [Double]) -> [String] {
        let positive = ticks.filter { $0 > 0 && $0.isFinite }
        let extreme = positive.contains { $0 < 1e-3 || $0 >= 1e5 }
        return ticks.map { v in extreme ? scientific(v, relativeStep: v / 100) : label(v) }
    }

    /// Labels for `ticks` on `scale`.
    public static func labels(_ ticks: [Double], scale: AxisScale) -> [String] {
        guard scale == .log else { return labels(ticks) }
        // Ticks at 1, 2 or 5 × 10^k read best each on its own; linear ticks inside a decade
        // share their digits like on a linear axis.
        let oneTwoFive = ticks.allSatisfy { v in
            guard v > 0 else { return false }
            let m = v / Foundation.pow(10, Foundation.log10(v).rounded(.down))
            return [1.0, 2, 5, 10].contains { abs(m - $0) < 1e-6 }
        }
        return oneTwoFive ? logLabels(ticks) : labels(ticks)
    }

    /// One value on its own, compactly: "0.25", "1200", "3.5e-5".
    public static func label(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "inf" : "-inf") }
        if value == 0 { return "0" }
        let a = abs(value)
        if a >= 1e5 || a < 1e-3 { return scientific(value, relativeStep: a / 1000) }
        if value == value.rounded() { return String(Int(value)) }
        let digits = max(1, 4 - Int(Foundation.log10(a).rounded(.down)) - 1)
        return trimmed(String(format: "%.\(min(7, digits))f", value))
    }

    static func plain(_ v: Double, decimals: Int) -> String {
        guard v.isFinite else { return label(v) }
        var s = String(format: "%.\(decimals)f", v)
        if s.hasPrefix("-") && Double(s) == 0 { s.removeFirst() }
        return s
    }

    static func scientific(_ v: Double, relativeStep: Double) -> String {
        guard v.isFinite else { return label(v) }
        if v == 0 { return "0" }
        let exponent = Int(Foundation.log10(abs(v)).rounded(.down))
        let mantissa = v / Foundation.pow(10, Double(exponent))
        // Digits enough to show the step at this magnitude, at most three.
        let stepDigits = relativeStep > 0 ? Int(-(Foundation.log10(relativeStep) - Double(exponent) - 1e-9).rounded(.down)) : 0
        let decimals = max(0, min(3, stepDigits))
        var m = trimmed(String(format: "%.\(decimals)f", mantissa))
        if m == "10" || m == "-10" {
            return scientific(v.sign == .minus ? -Foundation.pow(10, Double(exponent + 1)) : Foundation.pow(10, Double(exponent + 1)),
                              relativeStep: relativeStep)
        }
        if m == "-0" { m = "0" }
        return "\(m)e\(exponent)"
    }

    static func trimmed(_ s: String) -> String {
        guard s.contains("."), !s.contains("e") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }
}

/// Mapping between data coordinates and pixels inside one panel's plot area.
public struct PlotTransform: Sendable, Equatable {
    /// The plot area in figure pixels.
    public var area: PixelRect
    /// The data range shown on the horizontal axis.
    public var xRange: ClosedRange<Double>
    /// The data range shown on the vertical axis.
    public var yRange: ClosedRange<Double>
    /// How x values map to pixels (linear or logarithmic).
    public var xScale: AxisScale
    /// How y values map to pixels (linear or logarithmic).
    public var yScale: AxisScale

    /// A transform from data ranges to a plot area.
    ///
    /// - Parameters:
    ///   - area: the plot area in figure pixels.
    ///   - xRange: the data range mapped onto the area's width.
    ///   - yRange: the data range mapped onto the area's height.
    ///   - xScale: linear or logarithmic (a logarithmic range must be positive).
    ///   - yScale: linear or logarithmic (a logarithmic range must be positive).
    public init(area: PixelRect, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                xScale: AxisScale = .linear, yScale: AxisScale = .linear) {
        self.area = area
        self.xRange = xRange
        self.yRange = yRange
        self.xScale = xScale
        self.yScale = yScale
    }

    /// The horizontal pixel coordinate of data value `x` (NaN when it cannot be shown).
    public func pixelX(_ x: Double) -> Double {
        let p0 = xScale.position(xRange.lowerBound), p1 = xScale.position(xRange.upperBound)
        return area.minX + (xScale.position(x) - p0) / (p1 - p0) * area.width
    }

    /// The vertical pixel coordinate of data value `y`: larger values higher up.
    public func pixelY(_ y: Double) -> Double {
        let p0 = yScale.position(yRange.lowerBound), p1 = yScale.position(yRange.upperBound)
        return area.maxY - (yScale.position(y) - p0) / (p1 - p0) * area.height
    }

    /// The pixel for a data point, or nil when either coordinate cannot be shown (NaN,
    /// infinite, or ≤ 0 on a log axis).
    public func pixel(x: Double, y: Double) -> PixelPoint? {
        let px = pixelX(x), py = pixelY(y)
        guard px.isFinite, py.isFinite else { return nil }
        return PixelPoint(x: px, y: py)
    }

    /// The data coordinates at a pixel.
    public func data(at p: PixelPoint) -> (x: Double, y: Double) {
        let x0 = xScale.position(xRange.lowerBound), x1 = xScale.position(xRange.upperBound)
        let y0 = yScale.position(yRange.lowerBound), y1 = yScale.position(yRange.upperBound)
        return (xScale.value(x0 + (p.x - area.minX) / area.width * (x1 - x0)),
                yScale.value(y0 + (area.maxY - p.y) / area.height * (y1 - y0)))
    }
}
