import Foundation
import Testing
import Backprop

/// One figure of every kind the experiments draw, written as PNG and SVG and decoded again.
/// With PLOT_SAMPLES=<dir> in the environment the files stay there for a person to look at.
@Suite struct PlotSampleTests {
    static let directory: String = {
        if let d = ProcessInfo.processInfo.environment["PLOT_SAMPLES"], !d.isEmpty { return d }
        return (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-plot-samples-\(UUID().uuidString)")
    }()

    static func save(_ figure: Figure, _ name: String) throws {
        let png = (directory as NSString).appendingPathComponent("\(name).png")
        try figure.write(png: png)
        try figure.write(svg: (directory as NSString).appendingPathComponent("\(name).svg"))
        let image = try PNGImage(contentsOf: png, as: .rgba)
        #expect(image.width == figure.width && image.height == figure.height)
    }

    @Test func lineChartWithLogScaleAndLegend() throws {
        var g = RandomGenerator(seed: 3)
        let steps = Array(stride(from: 0, through: 2000, by: 10))
        func curve(_ rate: Double, _ floor: Double) -> [Double] {
            steps.map { s in (2.3 * exp(-Double(s) * rate) + floor) * (1 + 0.08 * (Double(g.nextUniform()) - 0.5)) }
        }
        var figure = Figure(width: 900, height: 600)
        var panel = Panel(title: "Training loss", xLabel: "step", yLabel: "loss", yScale: .log)
        panel.add(.line(x: steps, y: curve(0.001, 0.05), label: "SGD η=0.1"))
        panel.add(.line(x: steps, y: curve(0.004, 0.02), label: "momentum γ=0.9"))
        panel.add(.line(x: steps, y: curve(0.01, 0.004), label: "Adam", style: .dashed))
        figure.add(panel)
        try Self.save(figure, "loss")
    }

    @Test func activationFunctionsAndDerivatives() throws {
        let x = stride(from: -5.0, through: 5.0, by: 0.05).map { $0 }
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        var figure = Figure(width: 1000, height: 420, grid: (rows: 1, columns: 2), title: "Activation functions")
        var f = Panel(title: "f(x)", xLabel: "x", yLabel: "f(x)")
        f.add(.line(x: x, y: x.map(sigmoid), label: "sigmoid σ"))
        f.add(.line(x: x, y: x.map { tanh($0) }, label: "tanh"))
        f.add(.line(x: x, y: x.map { max(0, $0) }, label: "ReLU"))
        f.yRange = -1.2...2
        var d = Panel(title: "f'(x)", xLabel: "x", yLabel: "derivative")
        d.add(.line(x: x, y: x.map { sigmoid($0) * (1 - sigmoid($0)) }, label: "σ(1-σ)", style: .dashed))
        d.add(.line(x: x, y: x.map { 1 - tanh($0) * tanh($0) }, label: "1-tanh²", style: .dashed))
        d.add(.line(x: x, y: x.map { $0 > 0 ? 1 : 0 }, label: "step", style: .dashed))
        figure.add(f)
        figure.add(d)
        try Self.save(figure, "activations")
    }

    /// Gradient descent paths on f.
    static func descend(_ start: (Double, Double), steps: Int, rate: Double, momentum: Double,
                        _ gradient: (Double, Double) -> (Double, Double)) -> ([Double], [Double]) {
        var p = start, v = (0.0, 0.0)
        var xs = [p.0], ys = [p.1]
        for _ in 0..<steps {
            let g = gradient(p.0, p.1)
            v = (momentum * v.0 - rate * g.0, momentum * v.1 - rate * g.1)
            p = (p.0 + v.0, p.1 + v.1)
            xs.append(p.0); ys.append(p.1)
        }
        return (xs, ys)
    }

    @Test func contoursWithOptimizerPaths() throws {
        var figure = Figure(width: 1200, height: 430, grid: (rows: 1, columns: 3), title: "Optimizer paths")
        // A ravine: f = x²/2 + 10 y².
        let ravine = Grid2D(x: -10...10, y: -3...3, columns: 161, rows: 81) { x, y in 0.5 * x * x + 10 * y * y }
        var a = Panel(title: "ravine x²/2 + 10y²", xLabel: "x", yLabel: "y")
        a.add(.contour(ravine, count: 12))
        let sgd = Self.descend((-9, 2.5), steps: 40, rate: 0.09, momentum: 0) { x, y in (x, 20 * y) }
        let mom = Self.descend((-9, 2.5), steps: 40, rate: 0.02, momentum: 0.9) { x, y in (x, 20 * y) }
        a.add(.path(x: sgd.0, y: sgd.1, label: "SGD", color: .red))
        a.add(.path(x: mom.0, y: mom.1, label: "momentum", color: .orange))
        // Beale's function on a log colour scale.
        func beale(_ x: Double, _ y: Double) -> Double {
            let a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y
            return a * a + b * b + c * c
        }
        let bealeGrid = Grid2D(x: -4.5...4.5, y: -4.5...4.5, columns: 181, rows: 181, beale)
        var b = Panel(title: "Beale's function", xLabel: "x", yLabel: "y")
        b.add(.contour(bealeGrid, count: 14, colorMap: .viridis, scale: .log))
        b.add(.scatter(x: [3.0], y: [0.5], label: "minimum", color: .red, marker: .plus, size: 14))
        b.colorBarLabel = "f(x, y)"
        // A saddle with a diverging map.
        let saddle = Grid2D(x: -2...2, y: -2...2, columns: 101, rows: 101) { x, y in x * x - y * y }
        var c = Panel(title: "saddle x² - y²", xLabel: "x", yLabel: "y")
        c.add(.contour(saddle, count: 16, colorMap: .diverging))
        let path = Self.descend((-1.8, 0.02), steps: 25, rate: 0.1, momentum: 0.5) { x, y in (2 * x, -2 * y) }
        c.add(.path(x: path.0, y: path.1, label: "GD", color: .black))
        c.yRange = -2...2
        c.xRange = -2...2
        figure.add(a); figure.add(b); figure.add(c)
        try Self.save(figure, "contours")
    }

    @Test func decisionRegionsWithPoints() throws {
        var g = RandomGenerator(seed: 7)
        var xs: [Double] = [], ys: [Double] = [], classes: [Int] = []
        let centres = [(-1.0, -0.5), (1.0, -0.6), (0.0, 1.1)]
        for (k, c) in centres.enumerated() {
            for _ in 0..<60 {
                xs.append(c.0 + 0.45 * Double(g.nextNormal())); ys.append(c.1 + 0.45 * Double(g.nextNormal())); classes.append(k)
            }
        }
        let grid = Grid2D(x: -3...3, y: -2.5...3, columns: 120, rows: 110) { x, y in
            Double(centres.enumerated().min { a, b in
                pow(x - a.element.0, 2) + pow(y - a.element.1, 2) < pow(x - b.element.0, 2) + pow(y - b.element.1, 2)
            }!.offset)
        }
        var figure = Figure(width: 700, height: 600)
        var panel = Panel(title: "Decision regions, 3 classes", xLabel: "x1", yLabel: "x2")
        panel.add(.regions(grid))
        panel.add(.scatter(x: xs, y: ys, classes: classes, classNames: ["class 0", "class 1", "class 2"]))
        figure.add(panel)
        try Self.save(figure, "regions")
    }

    @Test func percentileBands() throws {
        var g = RandomGenerator(seed: 11)
        let t = Array(0..<100)
        var figure = Figure(width: 900, height: 500)
        var panel = Panel(title: "Activations over training", xLabel: "epoch", yLabel: "activation")
        for (layer, scale) in [("layer 1", 1.0), ("layer 4", 0.5)] {
            let median = t.map { scale * (0.5 + 0.4 * exp(-Double($0) / 30)) + 0.02 * Double(g.nextNormal()) }
            panel.add(.band(x: t, lower: median.map { $0 - 0.15 * scale }, upper: median.map { $0 + 0.2 * scale },
                            label: "\(layer) 15-85%"))
            panel.add(.line(x: t, y: median, label: "\(layer) median"))
        }
        figure.add(panel)
        try Self.save(figure, "percentiles")
    }

    @Test func scatterColouredByClass() throws {
        var g = RandomGenerator(seed: 5)
        var xs: [Double] = [], ys: [Double] = [], classes: [Int] = []
        for k in 0..<10 {
            let angle = Double(k) / 10 * 2 * Double.pi
            for _ in 0..<40 {
                xs.append(4 * cos(angle) + Double(g.nextNormal())); ys.append(4 * sin(angle) + Double(g.nextNormal())); classes.append(k)
            }
        }
        var figure = Figure(width: 800, height: 640)
        var panel = Panel(title: "PCA of hidden activations", xLabel: "PC 1", yLabel: "PC 2", legend: .topRight)
        panel.add(.scatter(x: xs, y: ys, classes: classes, classNames: (0..<10).map { "digit \($0)" }, size: 6))
        panel.xRange = -8...11
        figure.add(panel)
        try Self.save(figure, "pca")
    }

    @Test func imageGrids() throws {
        var g = RandomGenerator(seed: 2)
        let weights: [[Double]] = (0..<16).map { k in
            (0..<784).map { i in
                let r = Double(i / 28) - 13.5, c = Double(i % 28) - 13.5
                return sin((r * cos(Double(k)) + c * sin(Double(k))) / 3) * exp(-(r * r + c * c) / 150) + 0.1 * Double(g.nextNormal())
            }
        }
        let digits: [[Double]] = (0..<32).map { k in
            (0..<784).map { i in
                let r = Double(i / 28) - 14, c = Double(i % 28) - 14 + Double(k % 5 - 2)
                let d = (r * r / 64 + c * c / 25).squareRoot()
                return max(0, 1 - abs(d - 1) * 4)
            }
        }
        var figure = Figure(width: 1000, height: 520, grid: (rows: 1, columns: 2))
        var w = Panel(title: "first-layer weights")
        w.add(.images(weights, imageColumns: 28, imageRows: 28, columns: 4, colorMap: .diverging))
        var d = Panel(title: "augmented digits")
        d.add(.images(digits, imageColumns: 28, imageRows: 28, columns: 8, colorMap: .greyInverted, range: 0...1))
        figure.add(w)
        figure.add(d)
        try Self.save(figure, "images")
    }

    @Test func barCharts() throws {
        var figure = Figure(width: 1000, height: 450, grid: (rows: 1, columns: 2))
        var depth = Panel(title: "Accuracy vs depth", xLabel: "hidden layers", yLabel: "test accuracy")
        depth.add(.bars([0.912, 0.951, 0.968, 0.971, 0.969, 0.958], categories: ["1", "2", "3", "4", "6", "8"], showsValues: true))
        depth.yRange = 0.8...1
        var lambda = Panel(title: "Error vs λ", xLabel: "weight decay λ", yLabel: "error %")
        let names = ["0", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1"]
        lambda.add(.bars([2.9, 2.7, 2.2, 1.9, 2.6, 6.8], categories: names, label: "test"))
        lambda.add(.bars([0.1, 0.2, 0.6, 1.2, 2.3, 6.5], categories: names, label: "train"))
        figure.add(depth)
        figure.add(lambda)
        try Self.save(figure, "bars")
    }

    @Test func smallMultiplesCompact() throws {
        var figure = Figure(width: 900, height: 520, grid: (rows: 2, columns: 3), title: "Learning rate sweep", theme: .compact)
        for (i, rate) in [0.001, 0.003, 0.01, 0.03, 0.1, 0.3].enumerated() {
            var p = Panel(title: "η = \(rate)", xLabel: "step", yLabel: "loss", yScale: .log)
            let steps = Array(0..<300)
            p.add(.line(x: steps, y: steps.map { 2 * exp(-Double($0) * rate * (i < 5 ? 1 : -0.01)) + 0.01 }, label: "train"))
            p.add(.line(x: steps, y: steps.map { 2.2 * exp(-Double($0) * rate * 0.8) + 0.05 }, label: "val", style: .dashed))
            figure.add(p)
        }
        try Self.save(figure, "multiples")
    }
}
