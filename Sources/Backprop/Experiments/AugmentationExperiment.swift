import Foundation

/// The course's "artificial data augmentation": the same network on a small MNIST sample
/// trained on the images as they are and on randomly shifted, rotated and rescaled copies drawn
/// afresh every epoch — test error after every epoch — and a grid of augmented digits.
public enum AugmentationExperiment {
    /// The augmentation used (``Augmentation/init(parsing:)`` syntax).
    public static let specification = "affine:translate=2.5:rotate=15:scale=0.85-1.15"

    /// Test-error curves without and with augmentation, same initialization and batch order.
    public static func curves(data: SmallMNIST, hidden: [Int] = [512, 512], epochs: Int, seed: UInt64 = 1) throws -> [SmallMNIST.Curves] {
        let augmentation = try Augmentation(parsing: specification)
        let side = 28
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        configuration.batchSize = 64
        configuration.optimizer = OptimizerSpecification(Adam(), learningRate: 0.001)
        configuration.seed = seed
        let architecture = try MultilayerPerceptronArchitecture(sizes: [784] + hidden + [10], activation: .relu)
        let plain = try data.curves("without augmentation", architecture: architecture, configuration: configuration)
        configuration.augmentation = specification
        let augmented = try data.curves("with augmentation", architecture: architecture, configuration: configuration) { batch, generator in
            augmentation.apply(to: &batch, height: side, width: side, using: &generator)
        }
        return [plain, augmented]
    }

    /// `digits` training images (one of each class first), each followed by `copies` augmented
    /// versions of it: a row per digit.
    public static func examples(data: SmallMNIST, digits: Int = 10, copies: Int = 9, seed: UInt64 = 1) throws -> [[Float]] {
        let augmentation = try Augmentation(parsing: specification)
        var generator = RandomGenerator(seed: seed, stream: 0xA06)
        var picked: [Int] = []
        for digit in 0..<Int32(data.train.classCount) {
            if let i = (0..<data.train.count).first(where: { data.train.label($0) == digit }) { picked.append(i) }
        }
        var rows: [[Float]] = []
        for i in picked.prefix(digits) {
            let image = data.train.batch([i]).features.scalars
            rows.append(image)
            for _ in 0..<copies { rows.append(augmentation.apply(to: image, height: 28, width: 28, using: &generator)) }
        }
        return rows
    }

    /// Runs the experiment into `directory`. `full` uses more images and epochs; the other
    /// arguments override the sizes (the tests run it tiny).
    public static func run(directory: String, full: Bool = false, trainCount: Int? = nil, epochs: Int? = nil,
                           testCount: Int = 10_000, hidden: [Int] = [512, 512]) throws -> ExperimentOutput {
        let output = try ExperimentOutput(directory: directory, title: "Data augmentation")
        let trainCount = trainCount ?? (full ? 5000 : 1000), epochs = epochs ?? (full ? 150 : 60)
        let data = try SmallMNIST(trainCount: trainCount, testCount: testCount)
        let shape = (["784"] + hidden.map(String.init) + ["10"]).joined(separator: "-") + " ReLU"

        let copies = 9
        var grid = Figure(width: 800, height: 820, title: "Originals (left) and \(copies) augmented copies")
        var mosaic = Panel(legend: .none)
        mosaic.add(.images(try examples(data: data, copies: copies), imageColumns: 28, imageRows: 28, columns: copies + 1,
                           gap: 2, range: 0...1))
        grid.add(mosaic)
        try output.add(grid, name: "digits", caption: "Each row: a training image and \(copies) copies as the network sees them in training (\(specification): shifts up to ±2.5 pixels, rotations up to ±15°, scaling by 0.85–1.15).")

        let runs = try curves(data: data, hidden: hidden, epochs: epochs)
        try data.addComparison(runs, to: output, name: "augmentation", title: "\(shape) on \(trainCount) MNIST images: with and without augmentation",
                               trainingTitle: "training error (on the images as trained)",
                               caption: "Adam (η = 0.001, batch 64), the same initialization and batch order; fresh random copies every epoch. Without augmentation the network memorizes its \(trainCount) images and its test error stalls; with augmentation it sees new variants of every digit each epoch.", epochs: epochs)
        try output.writeReport()
        return output
    }
}
