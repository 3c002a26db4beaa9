import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Backprop

@Suite struct PlotTests {
    static func temporaryPath(_ name: String) -> String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-plot-\(UUID().uuidString)-\(name)")
    }

    /// Pixel (x, y) of an RGBA image.
    static func pixel(_ image: PNGImage, _ x: Int, _ y: Int) -> (Int, Int, Int, Int) {
        let i = 4 * (y * image.width + x)
        return (Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2]), Int(image.pixels[i + 3]))
    }

    static func close(_ p: (Int, Int, Int, Int), _ c: Color, tolerance: Int = 6) -> Bool {
        let b = c.bytes
        return abs(p.0 - Int(b.r)) <= tolerance && abs(p.1 - Int(b.g)) <= tolerance && abs(p.2 - Int(b.b)) <= tolerance
    }

    static let white = Color.white

    @Test func aRenderedPNGDecodesWithTheFigureSize() throws {
        var figure = Figure(width: 640, height: 420, title: "Loss")
        var panel = Panel(title: "Training loss", xLabel: "step", yLabel: "loss", yScale: .log)
        let steps = Array(0..<200)
        panel.add(.line(x: steps, y: steps.map { 2 * exp(-Double($0) / 50) + 0.01 }, label: "SGD"))
        panel.add(.line(x: steps, y: steps.map { exp(-Double($0) / 20) + 0.005 }, label: "momentum γ=0.9", style: .dashed))
        figure.add(panel)
        let path = Self.temporaryPath("loss.png")
        try figure.write(png: path)
        let image = try PNGImage(contentsOf: path, as: .rgba)
        #expect(image.width == 640 && image.height == 420)
        #expect(image == figure.image())
    }

    @Test func linesInDataCoordinatesLandOnTheirPixels() throws {
        var figure = Figure(width: 400, height: 300)
        var panel = Panel(xRange: 0...10, yRange: 0...10, legend: .none)
        panel.showsGrid = false
        panel.add(.horizontalLine(y: 5, color: .red, width: 2, style: .solid))
        panel.add(.verticalLine(x: 3, color: .blue, width: 2, style: .solid))
        panel.add(.line(x: [0.0, 10], y: [8.0, 8], color: .green, width: 3))
        figure.add(panel)
        let path = Self.temporaryPath("lines.png")
        try figure.write(png: path)
        let image = try PNGImage(contentsOf: path, as: .rgba)
        let t = figure.transform(ofPanel: 0)
        #expect(t.area.width > 200 && t.area.height > 150)
        let row5 = Int(t.pixelY(5)), row8 = Int(t.pixelY(8)), column3 = Int(t.pixelX(3)), column7 = Int(t.pixelX(7))
        #expect(Self.close(Self.pixel(image, column7, row5), .red))
        #expect(Self.close(Self.pixel(image, column7, row8), .green))
        #expect(Self.close(Self.pixel(image, column3, Int(t.pixelY(2))), .blue))
        // Away from the lines: background.
        for dy in [-6, 6] {
            #expect(Self.close(Self.pixel(image, column7, row5 + dy), Self.white))
            #expect(Self.close(Self.pixel(image, column7, row8 + dy), Self.white))
        }
        #expect(Self.close(Self.pixel(image, column3 + 6, Int(t.pixelY(2))), Self.white))
        #expect(Self.close(Self.pixel(image, column3 - 6, Int(t.pixelY(2))), Self.white))
        // The whole horizontal line is there, from one side of the plot area to the other.
        for x in stride(from: Int(t.area.minX) + 2, to: Int(t.area.maxX) - 2, by: 7) where abs(x - column3) > 3 {
            #expect(Self.close(Self.pixel(image, x, row5), .red))
        }
    }

    @Test func transformRoundTripsAndHonoursLogScale() {
        let t = PlotTransform(area: PixelRect(x: 100, y: 50, width: 300, height: 200), xRange: 0...3,
                              yRange: 1e-3...1, xScale: .linear, yScale: .log)
        #expect(t.pixelX(0) == 100 && t.pixelX(3) == 400)
        #expect(abs(t.pixelY(1e-3) - 250) < 1e-9 && abs(t.pixelY(1) - 50) < 1e-9)
        #expect(abs(t.pixelY(1e-2) - (250 - 200.0 / 3)) < 1e-9)
        #expect(t.pixel(x: 1, y: 0) == nil && t.pixel(x: .nan, y: 1) == nil)
        let back = t.data(at: PixelPoint(x: 200, y: 150))
        #expect(abs(back.x - 1) < 1e-9 && abs(back.y - pow(10, -1.5)) < 1e-9)
    }

    @Test func regionsAndHeatmapsColourWhereExpected() throws {
        let grid = Grid2D(x: -1...1, y: -1...1, columns: 21, rows: 21) { x, _ in x < 0 ? 0 : 1 }
        var figure = Figure(width: 300, height: 300)
        var panel = Panel(legend: .none)
        panel.add(.regions(grid, opacity: 0.5))
        figure.add(panel)
        let image = figure.image()
        let t = figure.transform(ofPanel: 0)
        // Probes between grid lines (ticks fall on multiples of 0.2 or 0.5, whichever the labels' widths allow).
        let left = Self.pixel(image, Int(t.pixelX(-0.65)), Int(t.pixelY(0.35)))
        let right = Self.pixel(image, Int(t.pixelX(0.65)), Int(t.pixelY(-0.35)))
        #expect(Self.close(left, Color.category(0).opacity(1).mixed(with: .white, 0.5)))
        #expect(Self.close(right, Color.category(1).mixed(with: .white, 0.5)))

        // A heatmap of y: viridis from bottom (0) to top (1); no colour bar asked for.
        let ramp = Grid2D(x: 0...1, y: 0...1, columns: 11, rows: 11) { _, y in y }
        var heat = Figure(width: 300, height: 300)
        var p = Panel(legend: .none)
        p.colorBar = false
        p.add(.heatmap(ramp))
        heat.add(p)
        let h = heat.image()
        let ht = heat.transform(ofPanel: 0)
        for y in [0.1, 0.5, 0.9] {
            let row = Int(ht.pixelY(y)), value = ht.data(at: PixelPoint(x: 0, y: Double(row) + 0.5)).y
            #expect(Self.close(Self.pixel(h, Int(ht.pixelX(0.5)), row), ColorMap.viridis.color(at: value), tolerance: 3))
        }
    }

    @Test func legendTextIsDrawnInTheLegendCorner() {
        func darkPixelsInTopRight(_ legend: LegendPosition) -> Int {
            var figure = Figure(width: 500, height: 300)
            var panel = Panel(xRange: 0...1, yRange: 0...1, legend: legend)
            panel.showsGrid = false
            panel.add(.line(x: [0.0, 1], y: [0.1, 0.1], label: "SGD", color: .orange))
            figure.add(panel)
            let image = figure.image(), area = figure.transform(ofPanel: 0).area
            var count = 0
            for y in Int(area.minY) + 2..<Int(area.minY) + 60 {
                for x in Int(area.maxX) - 150..<Int(area.maxX) - 2 {
                    let p = Self.pixel(image, x, y)
                    if p.0 < 60 && p.1 < 60 && p.2 < 60 { count += 1 }
                }
            }
            return count
        }
        #expect(darkPixelsInTopRight(.topRight) > 30)
        #expect(darkPixelsInTopRight(.best) > 30)  // the line runs along the bottom
        #expect(darkPixelsInTopRight(.none) == 0)
    }

    @Test func linearTicksAreNiceSteps() {
        #expect(AxisTicks.linear(0...1, target: 5) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(AxisTicks.linear(3...97, target: 5) == [20, 40, 60, 80])
        #expect(AxisTicks.linear(3...97, target: 10) == [10, 20, 30, 40, 50, 60, 70, 80, 90])
        #expect(AxisTicks.niceRange(3...97) == 0...100)
        #expect(AxisTicks.linear(-0.3...0.3, target: 6) == [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3])
        #expect(AxisTicks.linear(0...1e6, target: 5) == [0, 200_000, 400_000, 600_000, 800_000, 1_000_000])
        #expect(AxisTicks.linear(5...5) == [5])
        #expect(AxisTicks.linear(0...Double.infinity).isEmpty)
    }

    @Test func logTicksAreDecades() {
        #expect(AxisTicks.log(1e-3...1) == [1e-3, 1e-2, 1e-1, 1])
        #expect(AxisTicks.log(0.5...2e4).count == 5)  // 1, 10, 100, 1000, 10000
        let many = AxisTicks.log(1e-12...1, target: 5)
        #expect(many.count <= 7 && many.first == 1e-12 && many.allSatisfy { log10($0) == log10($0).rounded() })
        #expect(AxisTicks.log(0.05...0.9) == [0.05, 0.1, 0.2, 0.5])  // 1-2-5 within about a decade
        #expect(AxisTicks.log(2...5) == AxisTicks.linear(2...5))
    }

    @Test func tickLabelsAreCompact() {
        #expect(AxisTicks.labels([0, 0.2, 0.4, 1]) == ["0.0", "0.2", "0.4", "1.0"])
        #expect(AxisTicks.labels([0, 20, 40]) == ["0", "20", "40"])
        #expect(AxisTicks.labels([0, 2e6, 4e6]) == ["0", "2e6", "4e6"])
        #expect(AxisTicks.labels([1e-5, 1.5e-5, 2e-5]) == ["1e-5", "1.5e-5", "2e-5"])
        #expect(AxisTicks.labels([1e-3, 1e-2, 1e-1, 1]) == ["0.001", "0.010", "0.100", "1.000"] ||
                AxisTicks.labels([1e-3, 1e-2, 1e-1, 1]) == ["1e-3", "1e-2", "1e-1", "1e0"])
        #expect(AxisTicks.labels([-0.0, 0.5]) == ["0.0", "0.5"])
        #expect(AxisTicks.label(0.000123) == "1.23e-4")
        #expect(AxisTicks.label(1234) == "1234")
        #expect(AxisTicks.label(10000) == "10000")
        #expect(AxisTicks.label(0.912) == "0.912")
        #expect(AxisTicks.label(2.5) == "2.5")
        #expect(AxisTicks.label(1.0 / 3) == "0.3333")
        #expect(AxisTicks.logLabels([0.01, 0.1, 1, 10, 100]) == ["0.01", "0.1", "1", "10", "100"])
        #expect(AxisTicks.logLabels([1e-6, 1e-3, 1]) == ["1e-6", "1e-3", "1e0"])
    }

    @Test func svgIsWellFormedAndHoldsTheSeries() throws {
        var figure = Figure(width: 600, height: 400, grid: (rows: 1, columns: 2), title: "A & B <test>")
        var a = Panel(title: "loss", xLabel: "step", yLabel: "loss")
        a.add(.band(x: [0, 1, 2], lower: [0.5, 0.4, 0.3], upper: [1.0, 0.9, 0.8]))
        a.add(.line(x: [0, 1, 2], y: [0.8, 0.6, 0.5], label: "SGD"))
        var b = Panel(title: "field")
        b.add(.contour(Grid2D(x: -1...1, y: -1...1, columns: 21, rows: 21) { x, y in x * x + y * y }))
        b.add(.scatter(x: [0.1, -0.2], y: [0.3, 0.4], classes: [0, 1], classNames: ["cat", "dog"]))
        figure.add(a)
        figure.add(b)
        let path = Self.temporaryPath("figure.svg")
        try figure.write(svg: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let parser = XMLParser(data: data)
        final class Collector: NSObject, XMLParserDelegate {
            var elements: [String: Int] = [:]
            var text = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) { elements[name, default: 0] += 1 }
            func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
        }
        let collector = Collector()
        parser.delegate = collector
        #expect(parser.parse(), "SVG does not parse: \(String(describing: parser.parserError))")
        #expect(collector.elements["svg"] == 1)
        #expect((collector.elements["polyline"] ?? 0) >= 2)   // the line and contour lines
        #expect((collector.elements["polygon"] ?? 0) >= 1)    // the band
        #expect((collector.elements["image"] ?? 0) >= 2)      // filled contours and colour bar
        #expect((collector.elements["circle"] ?? 0) >= 4)     // two markers, outline and fill
        for word in ["SGD", "cat", "dog", "A & B <test>", "step", "loss"] { #expect(collector.text.contains(word)) }
    }

    @Test func marchingSquaresFindsACircle() {
        let r = 1.2, spacing = 4.0 / 80
        let grid = Grid2D(x: -2...2, y: -2...2, columns: 81, rows: 81) { x, y in (x * x + y * y).squareRoot() }
        let lines = grid.contourLines(at: r)
        #expect(lines.count == 1)
        let line = lines[0]
        #expect(line.count > 60)
        #expect(abs(line.first!.x - line.last!.x) < 1e-12 && abs(line.first!.y - line.last!.y) < 1e-12)  // closed
        for p in line { #expect(abs((p.x * p.x + p.y * p.y).squareRoot() - r) < spacing / 4) }
        // Nothing at a level outside the field's range; NaN nodes are skipped.
        #expect(grid.contourLines(at: 5).isEmpty)
        var holes = grid
        holes.values[40 * 81 + 40] = .nan
        #expect(holes.contourLines(at: 0.02).isEmpty)
    }

    @Test func fontCoversPrintableASCII() {
        var seen = Set<[Bool]>()
        for code in 32...126 {
            let c = Character(Unicode.Scalar(UInt8(code)))
            #expect(BitmapFont.hasGlyph(c), "no glyph for \(c)")
            let bits = (0..<35).map { BitmapFont.isSet(c, column: $0 % 5, row: $0 / 5) }
            #expect((code == 32) == !bits.contains(true), "glyph for '\(c)'")
            #expect(seen.insert(bits).inserted, "glyph for '\(c)' duplicates another")
        }
        for c in "λησγμαβθε×·−±²≤≥→" { #expect(BitmapFont.hasGlyph(c), "no glyph for \(c)") }
        #expect(!BitmapFont.hasGlyph("☃"))
        #expect(BitmapFont.size(of: "abc", scale: 2) == (width: 34, height: 14))
    }

    @Test func awkwardDataRendersWithoutTrouble() throws {
        var figure = Figure(width: 700, height: 450, grid: (rows: 2, columns: 3))
        figure.add(Panel(title: "empty"))
        var nan = Panel(title: "NaN and inf", yScale: .log)
        nan.add(.line(x: [0, 1, 2, 3, 4], y: [1, .nan, -3, .infinity, 10], label: "gaps"))
        figure.add(nan)
        var single = Panel(title: "one point")
        single.add(.scatter(x: [2.0], y: [3.0]))
        figure.add(single)
        var constant = Panel(title: "constant")
        constant.add(.line(y: [0.5, 0.5, 0.5]))
        figure.add(constant)
        var huge = Panel(title: "huge")
        huge.add(.line(x: [1e-9, 2e-9], y: [3e12, 5e12]))
        figure.add(huge)
        var nothing = Panel(title: "all NaN")
        nothing.add(.line(x: [Double.nan], y: [Double.nan]))
        nothing.add(.heatmap(Grid2D(x: 0...1, y: 0...1, columns: 2, rows: 2, values: [.nan, .nan, .nan, .nan])))
        figure.add(nothing)
        let image = figure.image()
        #expect(image.width == 700 && image.height == 450)
        let constantRange = figure.transform(ofPanel: 3).yRange
        #expect(constantRange.lowerBound < 0.5 && constantRange.upperBound > 0.5)
        let svg = figure.svg()
        #expect(!svg.contains("nan") && !svg.contains("inf\""))
    }

    @Test func smallMultiplesSitSideBySide() {
        var figure = Figure(width: 900, height: 300, grid: (rows: 1, columns: 3))
        for name in ["a", "b", "c"] {
            var p = Panel(title: name)
            p.add(.line(y: [1, 2, 3]))
            figure.add(p)
        }
        let areas = (0..<3).map { figure.transform(ofPanel: $0).area }
        for (i, area) in areas.enumerated() {
            #expect(area.minX >= Double(i) * 300 && area.maxX <= Double(i + 1) * 300)
            #expect(area.width > 150)
        }
    }

    @Test func canvasDrawsAntiAliasedAndDashedLines() {
        var canvas = Canvas(width: 60, height: 20)
        canvas.stroke([[PixelPoint(x: 0, y: 5.5), PixelPoint(x: 60, y: 5.5)]], color: .black, width: 1)
        #expect(canvas.color(x: 30, y: 5).red < 0.01)
        #expect(canvas.color(x: 30, y: 4).red > 0.99 && canvas.color(x: 30, y: 6).red > 0.99)
        // Half a pixel off the grid: two rows at half coverage.
        canvas.stroke([[PixelPoint(x: 0, y: 12), PixelPoint(x: 60, y: 12)]], color: .black, width: 1)
        #expect(abs(canvas.color(x: 30, y: 11).red - 0.5) < 0.05 && abs(canvas.color(x: 30, y: 12).red - 0.5) < 0.05)
        var dashed = Canvas(width: 60, height: 10)
        dashed.stroke([[PixelPoint(x: 0, y: 5.5), PixelPoint(x: 60, y: 5.5)]], color: .black, width: 1, dash: [6, 4])
        let row = (0..<60).map { dashed.color(x: $0, y: 5).red < 0.5 }
        #expect(row.filter { $0 }.count > 25 && row.filter { !$0 }.count > 15)
        #expect(row[2] && !row[8] && row[12])
    }

    @Test func barsAndImagesFillTheirRectangles() {
        var figure = Figure(width: 400, height: 300)
        var panel = Panel(legend: .none)
        panel.showsGrid = false
        panel.add(.bars([0.9, 0.5], categories: ["one", "two"], color: .purple))
        figure.add(panel)
        let image = figure.image(), t = figure.transform(ofPanel: 0)
        #expect(t.yRange.lowerBound == 0)
        #expect(Self.close(Self.pixel(image, Int(t.pixelX(0)), Int(t.pixelY(0.45))), .purple))
        #expect(Self.close(Self.pixel(image, Int(t.pixelX(1)), Int(t.pixelY(0.7))), Self.white))
        #expect(Self.close(Self.pixel(image, Int(t.pixelX(0.5)), Int(t.pixelY(0.3))), Self.white))  // between bars

        var digits = Figure(width: 200, height: 200)
        var p = Panel()
        p.add(.image([0.0, 1, 1, 0], columns: 2, rows: 2))
        digits.add(p)
        let d = digits.image(), dt = digits.transform(ofPanel: 0)
        // Row 0 of the image is at the top: top-left dark, top-right light.
        #expect(Self.close(Self.pixel(d, Int(dt.pixelX(0.5)), Int(dt.pixelY(1.5))), .black))
        #expect(Self.close(Self.pixel(d, Int(dt.pixelX(1.5)), Int(dt.pixelY(1.5))), .white))
        #expect(Self.close(Self.pixel(d, Int(dt.pixelX(0.5)), Int(dt.pixelY(0.5))), .white))
        #expect(abs(dt.area.width - dt.area.height) <= 1)  // square pixels
    }
}

@Suite struct PlotScaleTests {
    @Test func aLongSeriesRendersQuickly() {
        let n = 100_000
        var figure = Figure(width: 900, height: 600)
        var panel = Panel(title: "long", yScale: .log)
        let y: [Double] = (0..<n).map { i in
            let wave = sin(Double(i) / 500) * 0.5
            return 1 + wave + Double(i % 7) * 0.01
        }
        panel.add(.line(x: Array(0..<n), y: y, label: "noisy"))
        figure.add(panel)
        let start = Date()
        let image = figure.image()
        #expect(image.width == 900)
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
