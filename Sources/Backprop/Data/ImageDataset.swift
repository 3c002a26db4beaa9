/// A labelled image data set kept as the bytes it was stored in: 60,000 MNIST images take
/// 47 MB as bytes instead of 188 MB as floats. Mini-batches are converted to floats in [0, 1]
/// when they are gathered, into buffers the loader reuses.
public struct ImageDataset: Sendable {
    /// Pixels, one image after another, each `height × width` bytes, row-major.
    public var pixels: [UInt8]
    /// The class of each image.
    public var labels: [Int32]
    /// The height of every image in pixels.
    public var height: Int
    /// The width of every image in pixels.
    public var width: Int
    /// The number of classes (labels lie in 0..<classCount).
    public var classCount: Int

    /// A data set from its bytes.
    ///
    /// - Precondition: `pixels.count == labels.count · height · width`.
    public init(pixels: [UInt8], labels: [Int32], height: Int, width: Int, classCount: Int) {
        precondition(pixels.count == labels.count * height * width,
                     "ImageDataset: \(pixels.count) pixels for \(labels.count) images of \(height)×\(width)")
        self.pixels = pixels
        self.labels = labels
        self.height = height
        self.width = width
        self.classCount = classCount
    }

    /// The number of images.
    public var count: Int { labels.count }
    /// Pixels per image.
    public var featureCount: Int { height * width }
}
