import ArgumentParser
import Backprop
import Foundation

/// The data sets `--dataset` names, loaded into training and test sources.
struct LoadedDataset {
    var name: String
    var train: any ExampleSource
    var test: any ExampleSource
    /// Regression: the targets' names, when the file's header gave them.
    var targetNames: [String]? = nil
    /// Whether the examples carry real-valued targets rather than classes.
    var isRegression: Bool { train.targetCount > 0 }
}

enum DatasetLoader {
    static let syntheticNames = ["moons", "circles", "spirals", "xor", "blobs", "sine"]
    /// Generated data sets with real-valued targets.
    static let regressionNames = ["sine"]

    /// `--targets K` (the last K columns) or `--targets a,b` (columns named in the header).
    static func targetColumns(_ text: String) throws -> CSV.TargetColumns {
        if let k = Int(text) {
            guard k >= 1 else { throw CommandFailure("--targets must be at least 1 column, got \(k)") }
            return .last(k)
        }
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
            throw CommandFailure("--targets takes a number of columns or column names separated by commas, got '\(text)'")
        }
        return .named(names)
    }

    /// Loads `name`: mnist (shipped), fashion-mnist or another MNIST-format set from a data
    /// directory, or a generated 2-D set (its test set generated from the next seed).
    /// `classCount` (a model's classes, for eval) bounds the labels of csv: and dir: files, so
    /// a label the model cannot predict is an error naming the file and row; nil takes the
    /// largest label + 1 (csv:) or 10 (dir:).
    static func load(_ name: String, dataDirectory: String?, examples: Int, seed: UInt64,
                     targets: CSV.TargetColumns? = nil, classCount: Int? = nil) throws -> LoadedDataset {
        let key = name.lowercased()
        switch key {
        case "mnist":
            if let dataDirectory {
                let (train, test) = try MNIST.load(directory: (dataDirectory as NSString).appendingPathComponent("mnist"))
                return LoadedDataset(name: key, train: train, test: test)
            }
            let (train, test) = try MNIST.loadBundled()
            return LoadedDataset(name: key, train: train, test: test)
        case "fashion-mnist":
            // --data-dir, BACKPROP_DATA, the cache folder, then Debian's dataset-fashion-mnist;
            // checksums are verified. `backprop data download fashion-mnist` fetches it.
            let (train, test) = try DatasetLocator(directory: dataDirectory).load(.fashionMNIST)
            return LoadedDataset(name: key, train: train, test: test)
        case "sine":
            return LoadedDataset(name: key, train: SyntheticData.sine(count: examples, noise: 0.1, seed: seed),
                                 test: SyntheticData.sine(count: examples, noise: 0.1, seed: seed &+ 1))
        case _ where syntheticNames.contains(key):
            func make(_ s: UInt64) -> LabeledData {
                switch key {
                case "moons": return SyntheticData.twoMoons(count: examples, noise: 0.2, seed: s)
                case "circles": return SyntheticData.circles(count: examples, noise: 0.1, seed: s)
                case "spirals": return SyntheticData.spirals(count: examples, classes: 3, noise: 0.05, seed: s)
                case "xor": return SyntheticData.xor(repeats: max(1, examples / 4), noise: 0.15, seed: s)
                default: return SyntheticData.blobs(count: examples, classes: 3, spread: 0.7, seed: s)
                }
            }
            return LoadedDataset(name: key, train: make(seed), test: make(seed &+ 1))
        case _ where key.hasPrefix("dir:"):
            // MNIST's layout with uncompressed files (backprop data convert): trains from disk.
            let directory = String(name.dropFirst(4))
            let (train, test) = try MappedExamples.mnistLayout(directory: directory, classCount: classCount ?? 10)
            return LoadedDataset(name: "dir:\(directory)", train: train, test: test)
        case _ where key.hasPrefix("csv:"):
            // Features then a label column; one sixth, chosen by the seed, is held out as the test set.
            // (With targets: features then real-valued target columns.)
            let path = String(name.dropFirst(4))
            if let targets {
                let (all, names) = try CSV.readRegression(contentsOf: path, targets: targets)
                let (train, test) = try holdOut(all, path: path, seed: seed)
                return LoadedDataset(name: "csv:\(path)", train: train, test: test, targetNames: names)
            }
            let (train, test) = try holdOut(try CSV.readLabeled(contentsOf: path, classCount: classCount), path: path, seed: seed)
            return LoadedDataset(name: "csv:\(path)", train: train, test: test)
        default:
            throw CommandFailure("unknown --dataset '\(name)'; expected mnist, fashion-mnist, csv:PATH, dir:PATH, \(syntheticNames.joined(separator: ", "))")
        }
    }

    /// One sixth of a file's rows, chosen by the seed, held out as its test set.
    static func holdOut<Source: ExampleSource>(_ all: Source, path: String, seed: UInt64) throws -> (train: any ExampleSource, test: any ExampleSource) {
        var generator = RandomGenerator(seed: seed, stream: 0x7E57)
        let order = generator.permutation(all.count)
        let held = max(1, all.count / 6)
        guard all.count > held else {
            throw CommandFailure("\(path): \(all.count) rows are too few to hold out a test set")
        }
        return (SubsetSource(all, indices: Array(order[held...]).sorted()), SubsetSource(all, indices: Array(order[..<held]).sorted()))
    }
}
