import Foundation
import Testing
import Backprop

/// Data-parallel sharding and gradient combination, in one process (no MPI needed): a mini-batch
/// cut into micro-batches whose gradients are combined must give the whole batch's update.
@Suite struct DataParallelTests {
    @Test func shardsCoverEveryExampleOnceWithSizesDifferingByAtMostOne() {
        // Worked by hand: 5 examples over 2 shards -> ⌊0·5/2⌋..⌊5/2⌋ = 0..<2, then 2..<5.
        #expect(DataParallel.shard(0, of: 5, shards: 2) == 0..<2)
        #expect(DataParallel.shard(1, of: 5, shards: 2) == 2..<5)
        // 1 example over 2 shards: the first shard is empty.
        #expect(DataParallel.shard(0, of: 1, shards: 2) == 0..<0)
        #expect(DataParallel.shard(1, of: 1, shards: 2) == 0..<1)
        for count in 0..<40 {
            for shards in 1...7 {
                let ranges = (0..<shards).map { DataParallel.shard($0, of: count, shards: shards) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == count)
                for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                let sizes = ranges.map(\.count)
                #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
            }
        }
    }

    @Test func localShardsOfOneProcessAreTheGlobalShards() throws {
        let parallel = try DataParallel(collective: SingleProcessCollective(), shardsPerRank: 3)
        #expect(parallel.rankRange(ofBatch: 10) == 0..<10)
        #expect(parallel.localShards(ofBatch: 10) == [0..<3, 3..<6, 6..<10])
    }

    @Test func invalidSettingsAreClearErrors() {
        #expect(throws: TrainingError.self) { try DataParallel(collective: SingleProcessCollective(), shardsPerRank: 0) }
        #expect(throws: TrainingError.self) {
            try DataParallel(collective: SingleProcessCollective(), synchronization: .localSGD(period: 0))
        }
    }

    static func trainer(_ parallel: DataParallel?, optimizer: String, batchNorm: Bool = false) throws -> Trainer {
        // 64 examples in batches of 10: the last batch has 4 examples, cut 1/1/2 into three
        // micro-batches, so a combination that ignored shard sizes would be visibly off.
        let data = SyntheticData.spirals(count: 64, classes: 2, noise: 0.05, seed: 5)
        let architecture = try MultilayerPerceptronArchitecture(sizes: [2, 12, 12, 2], activation: .tanh, batchNorm: batchNorm)
        var configuration = TrainingConfiguration()
        configuration.epochs = 6
        configuration.batchSize = 10
        configuration.optimizer = try OptimizerSpecification(parsing: optimizer)
        configuration.seed = 21
        return try Trainer(architecture: architecture, configuration: configuration, train: data,
                           validation: nil, test: nil, runDirectory: nil,
                           reporter: ProgressReporter(interactive: false, quiet: true), parallel: parallel)
    }

    /// max |a − b| / max |b| over each parameter tensor.
    static func relativeDifference(_ a: Trainer, _ b: Trainer) -> Float {
        zip(a.model.parameters, b.model.parameters).map { x, y in
            let xs = x.value.scalars, ys = y.value.scalars
            let diff = zip(xs, ys).map { abs($0 - $1) }.max() ?? 0
            return diff / max(ys.map(abs).max() ?? 0, .leastNormalMagnitude)
        }.max() ?? 0
    }

    @Test(arguments: [1, 2, 3])
    func microBatchesGiveTheWholeBatchUpdate(_ microBatches: Int) throws {
        let whole = try Self.trainer(nil, optimizer: "sgd:lr=0.2")
        let summaryWhole = try whole.fit()
        let split = try Self.trainer(try DataParallel(collective: SingleProcessCollective(), shardsPerRank: microBatches),
                                     optimizer: "sgd:lr=0.2")
        let summarySplit = try split.fit()
        #expect(split.steps == whole.steps && split.steps == 6 * 7)
        // The same update up to the order of floating-point sums (the micro-batches' gradients
        // are summed after each is averaged): relative differences near Float's ε.
        #expect(Self.relativeDifference(split, whole) < 1e-5)
        // The logged loss is the whole batch's too.
        let a = try #require(summaryWhole.history.last?.trainLoss), b = try #require(summarySplit.history.last?.trainLoss)
        #expect(abs(a - b) < 1e-5 * max(abs(a), 1))
    }

    @Test func bothReductionsAgreeInOneProcess() throws {
        // One process sums its micro-batches in order under either reduction: the same bits.
        let a = try Self.trainer(try DataParallel(collective: SingleProcessCollective(), reduction: .allReduce, shardsPerRank: 2),
                                 optimizer: "adam:lr=0.01", batchNorm: true)
        let b = try Self.trainer(try DataParallel(collective: SingleProcessCollective(), reduction: .deterministic, shardsPerRank: 2),
                                 optimizer: "adam:lr=0.01", batchNorm: true)
        _ = try a.fit()
        _ = try b.fit()
        #expect(a.model.parameters.map(\.value) == b.model.parameters.map(\.value))
    }

    @Test(arguments: [
        (["--reduction", "fastest"], "Please provide one of 'allreduce' and 'deterministic'"),
        (["--micro-batches", "0"], "--micro-batches must be at least 1"),
        (["--local-sgd", "4"], "--local-sgd needs --distributed"),
        (["--sync-batchnorm"], "--sync-batchnorm needs --distributed and --batchnorm"),
        (["--micro-batches", "4", "--batchnorm", "--batch-size", "6"], "too few for BatchNorm's batch statistics"),
    ])
    func badDistributedFlagsEndWithOneClearLine(_ flags: [String], _ message: String) throws {
        let result = try CommandLineTests.run(["train", "--dataset", "moons", "--examples", "1001", "--validation-fraction", "0",
                                               "--steps", "300", "--out", CommandLineTests.temporaryDirectory()] + flags)
        #expect(result.status != 0)
        #expect(result.error.contains(message), "\(result.error)")
    }

    /// `--reduction deterministic` as its help states it (issue 16: it claimed "the same bits for
    /// any number of ranks"): the same bits for the same number of shards, ranks × micro-batches,
    /// however the shards are spread over ranks (threads here, as MPI ranks in DistributedTests).
    @Test func deterministicReductionGivesTheSameBitsForTheSameNumberOfShards() throws {
        let flags = ["train", "--dataset", "moons", "--examples", "400", "--layers", "2,8,2", "--epochs", "2",
                     "--batch-size", "40", "--optimizer", "adam", "--reduction", "deterministic", "--quiet"]
        var checkpoints: [[String: [UInt8]]] = []
        for shards in [["--micro-batches", "4"], ["--replicas", "2", "--micro-batches", "2"], ["--replicas", "4"]] {
            let out = CommandLineTests.temporaryDirectory()
            let run = try CommandLineTests.run(flags + shards + ["--out", out])
            #expect(run.status == 0, "\(shards): \(run.error)")
            checkpoints.append(try CrashResumeTests.tensors((out as NSString).appendingPathComponent("checkpoint.safetensors")))
        }
        #expect(checkpoints[0].count >= 4)
        #expect(checkpoints[1] == checkpoints[0], "2 replicas × 2 micro-batches differ from 4 micro-batches")
        #expect(checkpoints[2] == checkpoints[0], "4 replicas differ from 4 micro-batches")
        let help = try CommandLineTests.run(["train", "--help"])
        let text = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("the same bits for the same number of shards, ranks × micro-batches"), "\(help.output)")
        #expect(!text.contains("any number of ranks"))
    }

    #if !MPI
    @Test func distributedWithoutTheMPIBuildSaysHowToGetIt() throws {
        let result = try CommandLineTests.run(["train", "--distributed", "--dataset", "moons"])
        #expect(result.status != 0)
        #expect(result.error.contains("--traits MPI"), "\(result.error)")
    }
    #endif

    @Test func elasticAveragingMovesRanksAndCenterByHand() throws {
        // Rank 0 of two; the other rank's parameters are (1, 4). Worked by hand with α = 0.25:
        // center x̃ = (1, 2) (the broadcast start), this rank moved to x = (3, 2);
        // x ← x − α(x − x̃) = (3 − 0.5, 2 − 0) = (2.5, 2);
        // x̃ ← x̃ + α(Σx − 2x̃) = (1 + 0.25·(4 − 2), 2 + 0.25·(6 − 4)) = (1.5, 2.5).
        let model = Sequential(Linear(weight: Tensor(shape: [1, 1], scalars: [1]), bias: Tensor([2])))
        let parallel = try DataParallel(collective: PairCollective(other: [1, 4]),
                                        synchronization: .elasticAveraging(period: 1, alpha: 0.25))
        try parallel.broadcastState(of: model)
        model.parameters[0].value = Tensor(shape: [1, 1], scalars: [3])
        try parallel.afterStep(1, model: model)
        #expect(model.parameters.flatMap(\.value.scalars) == [2.5, 2])
        // Before an evaluation every rank takes the center.
        try parallel.beforeEvaluation(model: model)
        #expect(model.parameters.flatMap(\.value.scalars) == [1.5, 2.5])
    }

    @Test func localSGDAveragesWithTheOtherRankByHand() throws {
        // (3, 2) here and (1, 4) there: the average (2, 3), every 2 steps only.
        let model = Sequential(Linear(weight: Tensor(shape: [1, 1], scalars: [3]), bias: Tensor([2])))
        let parallel = try DataParallel(collective: PairCollective(other: [1, 4]), synchronization: .localSGD(period: 2))
        try parallel.afterStep(1, model: model)
        #expect(model.parameters.flatMap(\.value.scalars) == [3, 2])
        try parallel.afterStep(2, model: model)
        #expect(model.parameters.flatMap(\.value.scalars) == [2, 3])
    }

    @Test func broadcastOfBytesInOneProcessKeepsThem() throws {
        var bytes: [UInt8] = [1, 2, 3]
        try SingleProcessCollective().broadcast(&bytes)
        #expect(bytes == [1, 2, 3])
    }
}

/// Rank 0 of a pretend group of two whose other rank always holds `other` (for hand-worked
/// checks of the parameter exchanges).
private final class PairCollective: Collective {
    let other: [Float]
    init(other: [Float]) { self.other = other }
    var rank: Int { 0 }
    var size: Int { 2 }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
        for i in buffer.indices { buffer[i] += other[i] }
    }
    func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
        for i in send.indices {
            receive[i] = send[i]
            receive[send.count + i] = other[i]
        }
    }
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CollectiveError) {}
    func barrier() throws(CollectiveError) {}
}
