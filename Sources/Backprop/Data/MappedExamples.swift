import Foundation

/// Examples whose features stay on disk: a memory-mapped IDX or .npy array (one example per
/// row of its first dimension), read page by page as mini-batches gather their rows. A data set
/// larger than memory trains this way; only the labels are held in memory.
public struct MappedExamples: ExampleSource {
    /// The memory-mapped features, one example per row of the first dimension.
    public let features: MappedArray
    /// The class of each example, in memory.
    public let labels: [Int32]
    /// The number of classes.
    public let classCount: Int
    /// Applied to every feature as it is read: 1/255 for unsigned bytes (pixels), 1 otherwise.
    public let scale: Float

    /// Maps `featuresPath` (uncompressed IDX or .npy) and reads the labels from `labelsPath`
    /// (IDX or .npy, compressed or not).
    ///
    /// - Throws: ``DataError`` when either file is malformed or their counts differ.
    public init(features featuresPath: String, labels labelsPath: String, classCount: Int = 10) throws(DataError) {
        let features = try MappedArray(contentsOf: featuresPath)
        let labelArray = try MappedArray(contentsOf: labelsPath)
        let labels = try labelArray.labels(classCount: classCount)
        guard labels.count == features.rowCount else {
            throw .countMismatch(path: labelsPath, field: "number of labels", expected: features.rowCount, actual: labels.count)
        }
        self.features = features
        self.labels = labels
        self.classCount = classCount
        self.scale = features.encoding.kind == .uint8 ? 1 / 255 : 1
        features.file.advise(.random)
    }

    /// The number of examples (rows of the mapped array).
    public var count: Int { labels.count }
    /// The elements per row of the mapped array.
    public var featureCount: Int { features.rowWidth }
    /// The class of example `index`.
    public func label(_ index: Int) -> Int32 { labels[index] }
    /// Reads rows `indices` from the mapped file, scaled by ``scale``, into `destination`.
    public func gatherFeatures(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        features.gatherRows(indices, scale: scale, into: destination)
    }

    /// A directory in MNIST's layout with uncompressed files (`train-images-idx3-ubyte`, …, as
    /// `backprop data convert` writes them): the training and test sets, mapped.
    /// Labels must lie in `0..<classCount` (10 for MNIST's sets; a model's own count in `eval`).
    public static func mnistLayout(directory: String, classCount: Int = 10) throws(DataError) -> (train: MappedExamples, test: MappedExamples) {
        func path(_ gz: String) -> String { (directory as NSString).appendingPathComponent(String(gz.dropLast(3))) }
        let names = MNIST.fileNames
        for name in [names.trainImages, names.testImages] where !FileManager.default.fileExists(atPath: path(name)) {
            throw .notFound(name: "uncompressed \(String(name.dropLast(3)))", searched: [directory])
        }
        return (try MappedExamples(features: path(names.trainImages), labels: path(names.trainLabels), classCount: classCount),
                try MappedExamples(features: path(names.testImages), labels: path(names.testLabels), classCount: classCount))
    }
}
