import Foundation

/// MNIST (LeCun, Cortes & Burges) and data sets in its format (Fashion-MNIST): 28×28 grey
/// images of 10 classes, 60,000 for training and 10,000 for testing, in four IDX files.
public enum MNIST {
    /// The four files of a data set in MNIST's layout.
    public static let fileNames = (
        trainImages: "train-images-idx3-ubyte.gz", trainLabels: "train-labels-idx1-ubyte.gz",
        testImages: "t10k-images-idx3-ubyte.gz", testLabels: "t10k-labels-idx1-ubyte.gz"
    )

    /// The MD5 checksums of the published MNIST files (as shipped in this package).
    public static let md5 = [
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    ]

    /// The directory of the MNIST files that ship inside Backprop.
    public static var bundledDirectory: String? {
        Bundle.module.url(forResource: "mnist", withExtension: nil)?.path
    }

    /// MNIST's training and test sets from the files shipped with Backprop.
    public static func loadBundled() throws(DataError) -> (train: ImageDataset, test: ImageDataset) {
        guard let directory = bundledDirectory else {
            throw .notFound(name: "mnist", searched: ["the Backprop resource bundle"])
        }
        return try load(directory: directory)
    }

    /// The training and test sets from a directory holding the four files (gzip-compressed, or
    /// uncompressed without the `.gz` suffix).
    public static func load(directory: String) throws(DataError) -> (train: ImageDataset, test: ImageDataset) {
        func path(_ name: String) -> String {
            let gz = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: gz) { return gz }
            let plain = String(gz.dropLast(3))
            return FileManager.default.fileExists(atPath: plain) ? plain : gz
        }
        let train = try loadPair(images: path(fileNames.trainImages), labels: path(fileNames.trainLabels))
        let test = try loadPair(images: path(fileNames.testImages), labels: path(fileNames.testLabels))
        return (train, test)
    }

    /// One images file and its labels file, checked against each other.
    ///
    /// - Throws: ``DataError`` when either file is unreadable or malformed, the images file is
    ///   not 3-dimensional unsigned bytes (magic 2051), the labels file not 1-dimensional unsigned
    ///   bytes (magic 2049), the counts differ, or a label is outside 0…9.
    public static func loadPair(images imagesPath: String, labels labelsPath: String) throws(DataError) -> ImageDataset {
        let images = try IDXArray(contentsOf: imagesPath)
        guard images.magic == 2051 else {
            throw .wrongMagic(path: imagesPath, expected: "2051 (0x00000803: unsigned bytes, 3 dimensions)",
                              actual: "\(images.magic) (0x\(String(images.magic, radix: 16, uppercase: true)))")
        }
        let labels = try IDXArray(contentsOf: labelsPath)
        guard labels.magic == 2049 else {
            throw .wrongMagic(path: labelsPath, expected: "2049 (0x00000801: unsigned bytes, 1 dimension)",
                              actual: "\(labels.magic) (0x\(String(labels.magic, radix: 16, uppercase: true)))")
        }
        guard labels.shape[0] == images.shape[0] else {
            throw .countMismatch(path: labelsPath, field: "number of labels", expected: images.shape[0], actual: labels.shape[0])
        }
        if let bad = labels.payload.firstIndex(where: { $0 > 9 }) {
            throw .invalidField(path: labelsPath, field: "label of example \(bad)", value: "\(labels.payload[bad])",
                                expected: "a class in 0…9")
        }
        return ImageDataset(pixels: images.payload, labels: labels.payload.map { Int32($0) },
                            height: images.shape[1], width: images.shape[2], classCount: 10)
    }
}
