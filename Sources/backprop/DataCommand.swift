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
            """,
        subcommands: [Convert.self, Info.self]
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
            do {
                let summary = try DataConversion.convert(input, to: output, format: format)
                print("\(output): \(format.rawValue), shape [\(summary.shape.map(String.init).joined(separator: ", "))], dtype \(summary.encoding), \(summary.bytes) bytes")
            } catch {
                throw ValidationError(error.description)
            }
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
}
