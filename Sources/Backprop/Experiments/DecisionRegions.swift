import Foundation

extension Panel {
    /// A 2-D classifier's decision regions over `x` × `y` with the labelled points on top, for
    /// the experiments that compare boundaries side by side. The model sees the whole grid as
    /// one batch (in evaluation mode, without gradients) rather than a forward pass per node.
    public static func decisionRegions(of model: any Module, points data: LabeledData, title: String,
                                       x: ClosedRange<Double>, y: ClosedRange<Double>,
                                       columns: Int = 120, rows: Int = 90, pointSize: Double = 5) -> Panel {
        var nodes: [Float] = []
        nodes.reserveCapacity(2 * columns * rows)
        for r in 0..<rows {
            let yv = y.lowerBound + (y.upperBound - y.lowerBound) * Double(r) / Double(rows - 1)
            for c in 0..<columns {
                nodes.append(Float(x.lowerBound + (x.upperBound - x.lowerBound) * Double(c) / Double(columns - 1)))
                nodes.append(Float(yv))
            }
        }
        let wasTraining = model.isTraining
        model.eval()
        defer { model.isTraining = wasTraining }
        let predictions = withoutGradient { model(Variable(Tensor(shape: [columns * rows, 2], scalars: nodes))) }.value.argmaxRows()
        var panel = Panel(title: title, xLabel: "x₁", yLabel: "x₂", xRange: x, yRange: y, legend: .none)
        panel.add(.regions(Grid2D(x: x, y: y, columns: columns, rows: rows, values: predictions.map(Double.init))))
        panel.add(.scatter(x: (0..<data.count).map { data.features[$0, 0] }, y: (0..<data.count).map { data.features[$0, 1] },
                           classes: data.labels.map(Int.init), size: pointSize))
        return panel
    }
}
