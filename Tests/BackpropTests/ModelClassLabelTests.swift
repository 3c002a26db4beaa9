import Foundation
import Testing
import Backprop

/// Labels are read against the model's classes.
extension CommandLineTests {
    /// eval reads a classifier's CSV labels against the model's classes: a test set that holds
    /// only some of the classes is evaluated (it was refused as having fewer outputs), and a
    /// label the model cannot predict is an error naming the file and row.
    @Test func evalChecksLabelsAgainstTheModelsClasses() throws {
        let path = ModelFileTests.temporaryPath()
        try ModelFileTests.writeModel(to: path)
        let directory = (path as NSString).deletingLastPathComponent
        let some = (directory as NSString).appendingPathComponent("some.csv")
        try (0..<12).map { "\(Float($0) / 10),1,2,0" }.joined(separator: "\n").write(toFile: some, atomically: true, encoding: .utf8)
        let evaluated = try Self.run(["eval", path, "--dataset", "csv:\(some)"])
        #expect(evaluated.status == 0, "\(evaluated.error)")
        let beyond = (directory as NSString).appendingPathComponent("beyond.csv")
        try (0..<12).map { "\(Float($0) / 10),1,2,\($0 == 7 ? 2 : 1)" }.joined(separator: "\n").write(toFile: beyond, atomically: true, encoding: .utf8)
        let refused = try Self.run(["eval", path, "--dataset", "csv:\(beyond)"])
        #expect(refused.status != 0)
        #expect(refused.error.contains(beyond) && refused.error.contains("data row 8") && refused.error.contains("0..<2"), "\(refused.error)")
    }

    /// predict reads a CSV's label column through the reader train and eval use, bounded by
    /// the model's classes: a label too large for an integer (it trapped), negative, fractional
    /// or past the last class is an error naming the file and row.
    @Test func predictChecksCSVLabelsAgainstTheModelsClasses() throws {
        let path = ModelFileTests.temporaryPath()
        try ModelFileTests.writeModel(to: path)
        let input = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("labelled.csv")
        try "0.1,0.2,0.3,1\n1,2,3,0\n".write(toFile: input, atomically: true, encoding: .utf8)
        let good = try Self.run(["predict", path, input])
        #expect(good.status == 0 && good.output.contains("accuracy on 2 labelled examples"), "\(good.error)")
        for bad in ["1e20", "-1", "2.5", "2"] {
            try "0.1,0.2,0.3,1\n1,2,3,\(bad)\n".write(toFile: input, atomically: true, encoding: .utf8)
            let refused = try Self.run(["predict", path, input])
            #expect(refused.status != 0, "\(bad): \(refused.output)")
            #expect(refused.error.contains(input) && refused.error.contains("data row 2") && refused.error.contains("0..<2"),
                    "\(bad): \(refused.error)")
            #expect(!refused.error.contains("Fatal error"))
        }
    }

    /// The same for IDX label files (`--dataset dir:`): they were read against MNIST's 10
    /// classes, so a 2-class model's own data was refused; now against the model's classes, and
    /// a label past them is an error naming the file and example.
    @Test func evalChecksIDXLabelsAgainstTheModelsClasses() throws {
        let path = ModelFileTests.temporaryPath()
        try ModelFileTests.writeModel(to: path)
        let directory = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("idx")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func write(testLabels: [UInt8]) throws {
            // Images of 1 × 3 pixels: the model's 3 inputs.
            for (name, count) in [(MNIST.fileNames.trainImages, 6), (MNIST.fileNames.testImages, testLabels.count)] {
                let images = IDXArray(uint8: (0..<(count * 3)).map { UInt8($0 * 37 % 256) }, shape: [count, 1, 3])
                try Data(images.encoded()).write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(String(name.dropLast(3)))))
            }
            for (name, labels) in [(MNIST.fileNames.trainLabels, [0, 1, 0, 1, 0, 1]), (MNIST.fileNames.testLabels, testLabels)] {
                try Data(IDXArray(uint8: labels, shape: [labels.count]).encoded())
                    .write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(String(name.dropLast(3)))))
            }
        }
        try write(testLabels: [0, 1, 1, 0])
        let evaluated = try Self.run(["eval", path, "--dataset", "dir:\(directory)"])
        #expect(evaluated.status == 0, "\(evaluated.error)")
        #expect(evaluated.output.contains("4 examples"), "\(evaluated.output)")
        try write(testLabels: [0, 1, 5, 0])
        let refused = try Self.run(["eval", path, "--dataset", "dir:\(directory)"])
        #expect(refused.status != 0)
        #expect(refused.error.contains("t10k-labels-idx1-ubyte") && refused.error.contains("label of example 2") && refused.error.contains("0..<2"),
                "\(refused.error)")
    }
}
