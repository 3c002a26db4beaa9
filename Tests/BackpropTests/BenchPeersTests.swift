import Foundation
import Testing
import Backprop

/// `backprop bench train` hands each configuration to Benchmarks/peers.py as the JSON that
/// `JSONEncoder` makes of ``TrainingBenchmark/Configuration``; the script must read back the same
/// network and optimizer. (When the optimizer became a typed value its JSON became an object, and
/// the script, still splitting a string, failed for every configuration: the bench printed no
/// PyTorch or JAX figure at all.) Needs only python3, not the frameworks.
@Suite struct BenchPeersTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Benchmarks/peers.py").path

    struct Described: Decodable {
        var key: String
        var sizes: [Int]
        var activation: String
        var batchNorm: Bool
        var batchSize: Int
        var optimizer: String
        var hyper: [String: Double]
    }

    static func describe(_ json: String) throws -> (status: Int32, output: String) {
        let result = try Python.run([script, "--describe-config", json])
        return (result.status, result.output)
    }

    @Test(.enabled(if: Python.available, "needs python3"),
          arguments: TrainingBenchmark.configurations.map(\.key))
    func peersReadEveryConfigurationAsBackpropTrainsIt(_ key: String) throws {
        let configuration = try #require(TrainingBenchmark.configurations.first { $0.key == key })
        let json = String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self)
        let result = try Self.describe(json)
        #expect(result.status == 0, "\(result.output)")
        let described = try JSONDecoder().decode(Described.self, from: Data(result.output.utf8))
        #expect(described.key == configuration.key)
        #expect(described.sizes == configuration.sizes)
        #expect(described.activation == configuration.activation)
        #expect(described.batchNorm == configuration.batchNorm)
        #expect(described.batchSize == configuration.batchSize)
        #expect(described.optimizer == configuration.optimizer.name.rawValue)
        // The configurations' values, written out: SGD η 0.1 (a, a-bn), Adam η 0.001 with
        // β₁ 0.9, β₂ 0.999, ε 1e-8 (b), momentum 0.9 with η 0.01 (c).
        let expected: [String: Double] = switch key {
        case "a", "a-bn": ["lr": 0.1]
        case "b": ["lr": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8]
        default: ["lr": 0.01, "momentum": 0.9]
        }
        #expect(Set(described.hyper.keys) == Set(expected.keys), "\(described.hyper)")
        for (name, value) in expected {
            let read = try #require(described.hyper[name])
            #expect(abs(read - value) <= 1e-6 * value, "\(name): \(read) vs \(value)")
        }
    }

    @Test(.enabled(if: Python.available, "needs python3"))
    func peersStillReadTheOneStringFormAndRefuseWhatTheyCannotTrain() throws {
        let base = #"{"key":"x","sizes":[784,10],"activation":"relu","batchNorm":false,"batchSize":32,"optimizer":"#
        let string = try Self.describe(base + #""momentum:lr=0.05,momentum=0.8"}"#)
        #expect(string.status == 0, "\(string.output)")
        let described = try JSONDecoder().decode(Described.self, from: Data(string.output.utf8))
        #expect(described.optimizer == "momentum" && described.hyper == ["lr": 0.05, "momentum": 0.8])
        // An optimizer the peers do not build, or a hyper-parameter they would drop: refused by name.
        let nadam = try Self.describe(base + #"{"name":"nadam","learningRate":0.001}}"#)
        #expect(nadam.status != 0 && nadam.output.contains("unknown optimizer 'nadam'"), "\(nadam.output)")
        let decay = try Self.describe(base + #"{"name":"sgd","learningRate":0.1,"hyperParameters":{"weight-decay":0.01}}}"#)
        #expect(decay.status != 0 && decay.output.contains("sgd does not take weight-decay"), "\(decay.output)")
    }

    /// `bench gemm` alternates its figures with numpy's through one `gemm_numpy.py --serve`
    /// child per thread count: every shape gets numpy figures and a ratio from each round.
    @Test(.enabled(if: Python.imports(["numpy"]), "needs python3 with numpy"))
    func benchGemmAlternatesWithNumpyShapeByShape() throws {
        let result = try CommandLineTests.run(["bench", "gemm", "--threads", "1", "--rounds", "2",
                                               "--shapes", "64,48,40,NN;33,17,65,NT"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("numpy: {\"kind\": \"info\""), "\(result.output)")
        let rows = result.output.split(separator: "\n").filter { $0.hasPrefix("(64,48,40)") || $0.hasPrefix("(33,17,65)") }
        #expect(rows.count == 2, "\(result.output)")
        for row in rows {
            let fields = row.split(separator: " ")
            // shape, layout, median, best, %peak, cores, numpy median, numpy best, ratio med, "/", ratio best
            #expect(fields.count == 11, "\(row)")
            if fields.count == 11 {
                #expect(Double(fields[6]).map { $0 > 0 } == true, "\(row)")
                #expect(fields[8].hasSuffix("x") && fields[10].hasSuffix("x"), "\(row)")
            }
        }
        let refused = try CommandLineTests.run(["bench", "gemm", "--rounds", "0", "--no-numpy"])
        #expect(refused.status != 0 && refused.error.contains("--rounds must be >= 1"), "\(refused.error)")
    }
}
