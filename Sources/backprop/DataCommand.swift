import ArgumentParser
import Backprop
import Foundation

/// `backprop data`: inspect data files and convert them into memory-mappable form.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect data files and convert them for training from disk.",
        discussion: """
            Uncompressed IDX and .npy files are memory-mapped when training, so a data set larger \
            than memory trains from disk. `convert` turns a gzip-compressed IDX file or a CSV file \
            into one.

            Examples:
              backprop data info train-images-idx3-ubyte.gz
              backprop data convert train-images-idx3-ubyte.gz train-images.npy
              backprop data convert table.csv table.idx --to idx
              backprop data download fashion-mnist    into ~/.cache/backprop/datasets, checksums verified
            """,
        subcommands: [Convert.self, Info.self, Download.self]
    )

    /// `backprop data convert INPUT OUTPUT`.
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert an IDX (.gz or not) or CSV file to an uncompressed IDX or .npy file.",
            discussion: """
                IDX elements keep their type (IDX → .npy writes big-endian dtypes such as >f4). CSV \
                values become float32 in a [rows, columns] array, the label column included. The \
                output is written to a temporary file and renamed into place, so it appears whole \
                or not at all.
                """
        )

        @Argument(help: "The input file: IDX (gzip-compressed or not) or CSV.")
        var input: String

        @Argument(help: "The output file.")
        var output: String

        @Option(help: "Output format: idx or npy (default: from OUTPUT's extension, .npy → npy, else idx).")
        var to: String?

        func validate() throws {
            if let to, DataConversion.Format(rawValue: to.lowercased()) == nil {
                throw ValidationError("--to must be idx or npy, got '\(to)'")
            }
            guard input != output else { throw ValidationError("INPUT and OUTPUT must be different files") }
        }

        func run() throws {
            let format = to.flatMap { DataConversion.Format(rawValue: $0.lowercased()) }
                ?? (output.lowercased().hasSuffix(".npy") ? .npy : .idx)
            // A DataError propagates as it is: ArgumentParser prints "Error: " and its
            // description (file, field, expectation) and exits with status 1.
            let summary = try DataConversion.convert(input, to: output, format: format)
            print("\(output): \(format.rawValue), shape [\(summary.shape.map(String.init).joined(separator: ", "))], dtype \(summary.encoding), \(summary.bytes) bytes")
        }
    }

    /// `backprop data info FILE…`.
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the format, shape and element type of IDX, .npy and CSV files."
        )

        @Argument(help: "The files to inspect.")
        var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    print("\(file): \(try DataFileInfo(path: file))")
                } catch {
                    FileHandle.standardError.write(Data("\(error.description)\n".utf8))
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    /// `backprop data download NAME`.
    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find a data set, or download it into the cache with checksum verification.",
            discussion: """
                Searched first: --data-dir (DIR/NAME, then DIR), $BACKPROP_DATA/NAME, the cache \
                ($XDG_CACHE_HOME or ~/.cache, then backprop/datasets/NAME) and system locations \
                (/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist). Only if none \
                holds the files are they downloaded; each is checked against its published MD5 \
                before it is renamed into place.
                """
        )

        @Argument(help: "The data set: \(Dataset.all.map(\.name).joined(separator: ", ")).")
        var name: String

        @Option(help: "A directory searched first.")
        var dataDir: String?

        @Option(help: "Download from this base URL (http, https or file; ending in /) instead of the mirrors.")
        var baseURL: String?

        @Flag(help: "Verify the checksums of files found on disk too.")
        var verify = false

        func run() throws {
            let dataset = try Dataset.named(name)
            var locator = DatasetLocator(directory: dataDir, verifiesChecksums: verify)
            locator.baseURLOverride = baseURL
            let directory: String
            if let found = try? locator.locate(dataset) {
                directory = found
            } else {
                print("downloading \(dataset.name) into \(locator.cacheDirectory(for: dataset))")
                directory = try locator.download(dataset)
            }
            let (train, test) = try locator.load(dataset)
            print("\(dataset.name): \(directory): \(train.count) training and \(test.count) test images of \(train.height)×\(train.width)")
        }
    }
}
