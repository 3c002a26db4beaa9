import Foundation
import Testing
import Backprop

/// The in-process collective (threads as ranks) and data-parallel training over it.
@Suite struct ThreadCollectiveTests {
    /// Runs `body(rank)` on `size` threads at once and returns each rank's result.
    static func onThreads<R: Sendable>(_ size: Int, _ body: @escaping @Sendable (Int) throws -> R) -> [Result<R, any Error>] {
        let results = Results<R>(size)
        let done = DispatchGroup()
        for rank in 0..<size {
            done.enter()
            Thread {
                do { results.set(rank, .success(try body(rank))) } catch { results.set(rank, .failure(error)) }
                done.leave()
            }.start()
        }
        done.wait()
        return results.all
    }

    final class Results<R>: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Result<R, any Error>?]
        init(_ count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<R, any Error>) { lock.lock(); values[i] = r; lock.unlock() }
        var all: [Result<R, any Error>] { lock.lock(); defer { lock.unlock() }; return values.map { $0! } }
    }

    /// Rank r's buffer for round `round`: values that make a wrong sum order or a missing rank visible.
    static func buffer(rank: Int, round: Int, count: Int) -> [Float] {
        (0..<count).map { Float(rank * 1000 + round) + Float($0) * 0.001 + (rank == 1 ? 1e-4 : 0) }
    }

    @Test func allReduceGatherAndBroadcastOnThreeThreadsManyTimes() throws {
        let size = 3, count = 37, rounds = 60
        let group = ThreadGroup(size: size, timeoutSeconds: 60)
        let results = Self.onThreads(size) { rank -> [[Float]] in
            let collective = ThreadCollective(group: group, rank: rank)
            var seen: [[Float]] = []
            for round in 0..<rounds {
                var sum = Self.buffer(rank: rank, round: round, count: count)
                try sum.withUnsafeMutableBufferPointer { try collective.allReduceSum($0) }
                let send = Self.buffer(rank: rank, round: round, count: 5)
                var gathered = [Float](repeating: .nan, count: 5 * size)
                try send.withUnsafeBufferPointer { s in
                    try gathered.withUnsafeMutableBufferPointer { try collective.allGather(s, into: $0) }
                }
                var broadcast = [Float](repeating: Float(rank), count: 4)
                try broadcast.withUnsafeMutableBufferPointer { try collective.broadcast($0, root: round % size) }
                try collective.barrier()
                seen.append(sum + gathered + broadcast)
            }
            return seen
        }
        for round in 0..<rounds {
            // The sum in rank order, as floats.
            var expected = Self.buffer(rank: 0, round: round, count: count)
            for r in 1..<size {
                let b = Self.buffer(rank: r, round: round, count: count)
                for i in 0..<count { expected[i] += b[i] }
            }
            expected += (0..<size).flatMap { Self.buffer(rank: $0, round: round, count: 5) }
            expected += [Float](repeating: Float(round % size), count: 4)
            for (rank, result) in results.enumerated() {
                let got = try result.get()[round]
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "rank \(rank), round \(round)")
            }
        }
    }

    @Test func mismatchedLengthsThrowOnEveryRankInsteadOfHanging() {
        let group = ThreadGroup(size: 2, timeoutSeconds: 60)
        let results = Self.onThreads(2) { rank -> Bool in
            var buffer = [Float](repeating: 1, count: rank == 0 ? 8 : 9)
            try buffer.withUnsafeMutableBufferPointer { try ThreadCollective(group: group, rank: rank).allReduceSum($0) }
            return true
        }
        for result in results {
            #expect(throws: CollectiveError.self) { try result.get() }
        }
    }

    @Test func differentOperationsOnDifferentRanksAreAMismatchNotAStaleBuffer() {
        let group = ThreadGroup(size: 2, timeoutSeconds: 60)
        let results = Self.onThreads(2) { rank -> Bool in
            let collective = ThreadCollective(group: group, rank: rank)
            if rank == 0 {
                try collective.barrier()
            } else {
                var buffer = [Float](repeating: 1, count: 0)
                try buffer.withUnsafeMutableBufferPointer { try collective.allReduceSum($0) }
            }
            return true
        }
        for result in results {
            #expect(throws: CollectiveError.self) { try result.get() }
        }
    }

    @Test func anAbortedGroupReleasesTheRanksWaitingForTheOneThatFailed() {
        let group = ThreadGroup(size: 3, timeoutSeconds: 60)
        let results = Self.onThreads(3) { rank -> Bool in
            if rank == 2 {
                Thread.sleep(forTimeInterval: 0.05)
                group.abort(reason: "rank 2 failed on purpose")
                return false
            }
            try ThreadCollective(group: group, rank: rank).barrier()
            return true
        }
        for rank in 0..<2 {
            #expect(throws: CollectiveError.self) { try results[rank].get() }
        }
        if case .failure(let error) = results[0] {
            #expect("\(error)".contains("rank 2 failed on purpose"))
        }
    }

    @Test func aMissingRankTimesOut() {
        let group = ThreadGroup(size: 2, timeoutSeconds: 0.2)
        #expect(throws: CollectiveError.self) { try ThreadCollective(group: group, rank: 0).barrier() }
    }

    /// Two replicas in threads, each with half of every batch, train exactly as one process
    /// accumulating the same two micro-batches: the same sums in the same order, so the same bits.
    @Test(arguments: ["sgd:lr=0.1", "adam:lr=0.01"])
    func twoThreadReplicasEqualOneProcessWithTwoMicroBatches(optimizer: String) throws {
        let reference = try DataParallelTests.trainer(try DataParallel(collective: SingleProcessCollective(), shardsPerRank: 2),
                                                      optimizer: optimizer)
        let referenceSummary = try reference.fit()
        let replicas = try ThreadReplicas.run(2) { parallel -> [[Float]] in
            let trainer = try DataParallelTests.trainer(parallel, optimizer: optimizer)
            _ = try trainer.fit()
            return trainer.model.parameters.map(\.value.scalars)
        }
        let expected = reference.model.parameters.map(\.value.scalars)
        #expect(referenceSummary.history.count > 0)
        #expect(replicas.count == expected.count)
        for (got, want) in zip(replicas, expected) {
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern))
        }
    }

    @Test func aReplicaThatFailsStopsTheOthersAndItsErrorComesBack() {
        struct Planned: Error {}
        #expect(throws: Planned.self) {
            _ = try ThreadReplicas.run(3, timeoutSeconds: 60) { parallel -> Int in
                if parallel.rank == 1 { throw Planned() }
                // The others block in a collective until the group is aborted.
                try parallel.collective.barrier()
                return parallel.rank
            }
        }
    }

    @Test func autoPicksReplicasOnlyForDistantCoresAndSmallNetworksWithoutBatchNorm() {
        func pick(threads: Int = 2, parameters: Int = 270_000, batchNorm: Bool = false, batch: Int = 128, roundTrip: Double? = 400) -> Int {
            ThreadReplicas.recommendedCount(threads: threads, parameterCount: parameters, batchNorm: batchNorm,
                                            batchSize: batch, roundTripNanoseconds: roundTrip)
        }
        #expect(pick() == 2)
        #expect(pick(threads: 4) == 4)
        #expect(pick(roundTrip: 100) == 1)          // cores on one die: split each operation instead
        #expect(pick(roundTrip: 50_000) == 1)       // the other core was busy elsewhere
        #expect(pick(roundTrip: nil) == 1)
        #expect(pick(threads: 1) == 1)
        #expect(pick(batchNorm: true) == 1)
        #expect(pick(parameters: 1_860_000) == 1)
        #expect(pick(batch: 31) == 1)               // fewer than 16 examples per replica
        #expect(pick(batch: 32) == 2)
    }

    @Test func coreRoundTripIsMeasured() throws {
        let roundTrip = TrainingBenchmark.coreRoundTripNanoseconds(roundTrips: 2_000)
        if ProcessInfo.processInfo.activeProcessorCount > 1 {
            let value = try #require(roundTrip)
            #expect(value > 0 && value.isFinite)
        } else {
            #expect(roundTrip == nil)
        }
    }
}
