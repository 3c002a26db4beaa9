import Foundation

/// Ruder's Figure 2 and the optimizer-path comparisons: the path of gradient descent without
/// and with momentum down an elongated quadratic ravine, drawn on its contour plot, and the
/// paths of every optimizer on Beale's function and on a saddle point.
public enum MomentumExperiment {
    /// A 2-D test function: its value as a differentiable expression of (x, y), and as a number
    /// for the contour plot.
    public struct Surface: Sendable {
        /// The surface's name in the figure.
        public var name: String
        /// The point every optimizer starts from.
        public var start: (Float, Float)
        /// The global minimum, which the report measures each optimizer's final distance to (nil
        /// for a surface without one, as the saddle, whose report gives the final f instead).
        public var minimum: (Float, Float)?
        /// The x range of the contour plot.
        public var xRange: ClosedRange<Double>
        /// The y range of the contour plot.
        public var yRange: ClosedRange<Double>
        /// Whether the contour levels are spaced logarithmically (for surfaces spanning many orders
        /// of magnitude, as Beale's).
        public var logScale: Bool
        /// f(x, y) as an expression of two scalar variables, differentiated by autodiff to give the
        /// optimizers their gradients.
        public var expression: @Sendable (Variable, Variable) -> Variable
        /// f(x, y) as a number, for the contour plot.
        public var value: @Sendable (Double, Double) -> Double
    }

    /// The ravine f = x²/20 + 2y²: curvatures 0.1 and 4, a condition number of 40.
    public static let ravine = Surface(
        name: "ravine f = x²/20 + 2y²", start: (-9, 2), minimum: (0, 0), xRange: -10...10, yRange: -3...3, logScale: false,
        expression: { x, y in x.squared() * 0.05 + y.squared() * 2 },
        value: { x, y in x * x / 20 + 2 * y * y })

    /// Beale's function, minimum 0 at (3, 0.5).
    public static let beale = Surface(
        name: "Beale's function", start: (1, 1.5), minimum: (3, 0.5), xRange: -1...4.5, yRange: -2...2.5, logScale: true,
        expression: { x, y in
            let xy = x * y, xy2 = xy * y, xy3 = xy2 * y
            return (xy - x + 1.5).squared() + (xy2 - x + 2.25).squared() + (xy3 - x + 2.625).squared()
        },
        value: { x, y in
            let a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y
            return a * a + b * b + c * c
        })

    /// The saddle f = x² − y², started just off the ridge.
    public static let saddle = Surface(
        name: "saddle f = x² − y²", start: (-1.5, 0.001), minimum: nil, xRange: -2...2, yRange: -2...2, logScale: false,
        expression: { x, y in x.squared() - y.squared() },
        value: { x, y in x * x - y * y })

    /// The path of `optimizer` from the surface's start, `steps` updates long.
    public static func path(on surface: Surface, optimizer specification: OptimizerSpecification, steps: Int) throws(OptimizerError) -> [(Float, Float)] {
        let x = Variable(Tensor([surface.start.0]), requiresGrad: true)
        let y = Variable(Tensor([surface.start.1]), requiresGrad: true)
        let optimizer = try specification.makeOptimizer([("x", x), ("y", y)])
        var points = [(x.value.scalars[0], y.value.scalars[0])]
        for _ in 0..<steps {
            optimizer.zeroGrad()
            surface.expression(x, y).sum().backward()
            optimizer.step()
            let p = (x.value.scalars[0], y.value.scalars[0])
            guard p.0.isFinite, p.1.isFinite else { break }
            points.append(p)
        }
        return points
    }

    static func panel(_ surface: Surface, paths: [(label: String, points: [(Float, Float)])]) -> Panel {
        var panel = Panel(title: surface.name, xLabel: "x", yLabel: "y", xRange: surface.xRange, yRange: surface.yRange)
        let grid = Grid2D(x: surface.xRange, y: surface.yRange, columns: 121, rows: 121) { surface.value($0, $1) + (surface.logScale ? 1e-3 : 0) }
        panel.add(.contour(grid, count: 14, scale: surface.logScale ? .log : .linear))
        for (label, points) in paths {
            panel.add(.path(x: points.map(\.0), y: points.map(\.1), label: label))
        }
        return panel
    }

    /// Runs the experiment into `directory`. `full` takes more steps.
    public static func run(directory: String, full: Bool = false) throws -> ExperimentOutput {
        let output = try ExperimentOutput(directory: directory, title: "Momentum and the optimizers' paths")
        let steps = full ? 200 : 60
        // Ruder Fig. 2: the same step size with and without momentum.
        let sgdSpecification = OptimizerSpecification(SGD(), learningRate: 0.45)
        let momentumSpecification = OptimizerSpecification(Momentum(momentum: 0.9), learningRate: 0.05)
        let sgd = try path(on: ravine, optimizer: sgdSpecification, steps: steps)
        let momentum = try path(on: ravine, optimizer: momentumSpecification, steps: steps)
        var figure = Figure(width: 1200, height: 500, grid: (rows: 1, columns: 2), title: "SGD without and with momentum (Ruder, Fig. 2)")
        figure.add(panel(ravine, paths: [("SGD η=0.45", sgd)]))
        figure.add(panel(ravine, paths: [("momentum η=0.05, γ=0.9", momentum)]))
        try output.add(figure, name: "ravine", caption: "Gradient descent oscillates across the steep y direction of the ravine and crawls along x; momentum damps the oscillation and accelerates along the valley floor (\(steps) steps each).")
        func distance(_ p: [(Float, Float)], _ m: (Float, Float)) -> Float {
            guard let last = p.last else { return .nan }
            return ((last.0 - m.0) * (last.0 - m.0) + (last.1 - m.1) * (last.1 - m.1)).squareRoot()
        }
        var rows = [["ravine", sgdSpecification.description, "\(distance(sgd, (0, 0)))"], ["ravine", momentumSpecification.description, "\(distance(momentum, (0, 0)))"]]

        let rates: [OptimizerName: Float] = [.sgd: 0.01, .momentum: 0.005, .nesterov: 0.005, .adagrad: 0.5, .adadelta: 1,
                                             .rmsprop: 0.01, .adam: 0.05, .adamax: 0.1, .nadam: 0.05, .amsgrad: 0.05, .adamw: 0.05]
        var panels: [Panel] = []
        for surface in [beale, saddle] {
            var paths: [(label: String, points: [(Float, Float)])] = []
            for name in OptimizerName.allCases {
                let spec = OptimizerSpecification(name: name, learningRate: name == .adadelta ? nil : rates[name] ?? 0.01)
                let p = try path(on: surface, optimizer: spec, steps: full ? 2000 : 300)
                paths.append((name.rawValue, p))
                let end = p.last ?? surface.start
                rows.append([surface.name, spec.description, surface.minimum.map { "\(distance(p, $0))" } ?? "f = \(surface.value(Double(end.0), Double(end.1)))"])
            }
            panels.append(panel(surface, paths: paths))
        }
        var all = Figure(width: 1400, height: 600, grid: (rows: 1, columns: 2), title: "Every optimizer on Beale's function and a saddle point")
        for p in panels { all.add(p) }
        try output.add(all, name: "optimizers", caption: "Paths of all eleven optimizers from the same start. On the saddle, the adaptive methods leave the ridge quickly while SGD and momentum linger near it.")
        try output.add(table: rows, header: ["surface", "optimizer", "final distance to the minimum (or final f)"], name: "paths",
                       caption: "Where each path ended.")
        try output.writeReport()
        return output
    }
}
