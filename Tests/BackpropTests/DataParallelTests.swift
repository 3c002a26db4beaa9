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
        let architecture = try MultilayerPerceptron(sizes: [2, 12, 12, 2], activation: .tanh, batchNorm: batchNorm)
        var configuration = TrainingConfiguration()
        configuration.epochs = 6
        configuration.batchSize = 10
        configuration.optimizer = optimizer
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

    @Test func broadcastOfBytesInOneProcessKeepsThem() throws {
        var bytes: [UInt8] = [1, 2, 3]
        try SingleProcessCollective().broadcast(&bytes)
        #expect(bytes == [1, 2, 3])
    }
}
