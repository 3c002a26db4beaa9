import Foundation
import Testing
import Backprop

/// Learning-rate schedules against their formulas at chosen steps (t = steps already taken).
@Suite struct ScheduleTests {
    static func expectClose(_ a: Float, _ e: Double, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let error: Double = abs(Double(a) - e)
        let bound: Double = 1e-6 * abs(e)
        #expect(error <= bound, "\(label): got \(a), expected \(e)", sourceLocation: sourceLocation)
    }

    @Test func constant() {
        for t in [0, 1, 1000] { #expect(LearningRateSchedule.constant.learningRate(base: 0.3, step: t) == 0.3) }
    }

    @Test func step() {
        // η·γ^⌊t/k⌋ with η = 0.8, k = 3, γ = 0.5: t = 0…2 → 0.8, 3…5 → 0.4, 6 → 0.2, 10 → 0.8·0.5³ = 0.1.
        let s = LearningRateSchedule.step(every: 3, gamma: 0.5)
        for (t, e) in [(0, 0.8), (2, 0.8), (3, 0.4), (5, 0.4), (6, 0.2), (10, 0.1)] {
            Self.expectClose(s.learningRate(base: 0.8, step: t), e, "t=\(t)")
        }
    }

    @Test func exponential() {
        // η·γᵗ with η = 1, γ = 0.9: 1, 0.9, 0.81, and 0.9¹⁰ = 0.3486784401.
        let s = LearningRateSchedule.exponential(gamma: 0.9)
        for (t, e) in [(0, 1.0), (1, 0.9), (2, 0.81), (10, 0.3486784401)] {
            Self.expectClose(s.learningRate(base: 1, step: t), e, "t=\(t)")
        }
    }

    @Test func inverseTime() {
        // η/(1 + kt) with η = 1, k = 0.5: 1, 1/1.5, 1/3 at t = 4, 1/51 at t = 100.
        let s = LearningRateSchedule.inverseTime(k: 0.5)
        for (t, e) in [(0, 1.0), (1, 1 / 1.5), (4, 1 / 3.0), (100, 1 / 51.0)] {
            Self.expectClose(s.learningRate(base: 1, step: t), e, "t=\(t)")
        }
    }

    @Test func cosineWithWarmup() {
        // η = 1, w = 4, T = 14, η_min = 0.1.
        // Warm-up η(t+1)/w: t = 0 → 0.25, 1 → 0.5, 3 → 1.
        // Cosine 0.1 + 0.9·½(1 + cos(π(t−4)/10)): t = 4 → 1, t = 6 → 0.1 + 0.45(1 + cos 0.2π)
        // = 0.1 + 0.45·1.809016994 = 0.9140576474, t = 9 → 0.1 + 0.45 = 0.55, t = 14 and later → 0.1.
        let s = LearningRateSchedule.cosine(warmupSteps: 4, totalSteps: 14, minimumLearningRate: 0.1)
        for (t, e) in [(0, 0.25), (1, 0.5), (3, 1.0), (4, 1.0), (6, 0.9140576474), (9, 0.55), (14, 0.1), (100, 0.1)] {
            Self.expectClose(s.learningRate(base: 1, step: t), e, "t=\(t)")
        }
        // Monotone after the warm-up.
        var previous = Float.infinity
        for t in 4...14 {
            let lr = s.learningRate(base: 1, step: t)
            #expect(lr <= previous)
            previous = lr
        }
    }

    /// Reduce-on-plateau with factor 0.5, patience 2, relative threshold 0.1, cooldown 1,
    /// minimum 0.1, from η = 1. Worked through:
    /// e0 10: first value, best 10.  e1 9: not below 10·0.9 = 9, bad 1.  e2 8.5: best 8.5, bad 0.
    /// e3 8.2, e4 8.1: not below 7.65, bad 1, 2.  e5 8.0: bad 3 > 2 → η 0.5, cooldown 1, bad 0.
    /// e6 7.0: best 7; cooldown uses its epoch.  e7, e8 7.0: bad 1, 2.  e9: bad 3 → η 0.25.
    /// e10: cooldown.  e11, e12: bad 1, 2.  e13 → η 0.125.  e14 cooldown, e15, e16, e17 → η max(0.0625, 0.1) = 0.1.
    /// e21 would reduce again but 0.1 is the floor: no change, not counted.
    @Test func reduceOnPlateauSequence() {
        var s = LearningRateScheduler(.reduceOnPlateau(ReduceOnPlateau(factor: 0.5, patience: 2, threshold: 0.1,
                                                                      cooldown: 1, minimumLearningRate: 0.1)),
                                      baseLearningRate: 1)
        let losses: [Float] = [10, 9, 8.5, 8.2, 8.1, 8.0] + Array(repeating: 7, count: 18)
        var rates: [Float] = []
        var reducedAt: [Int] = []
        for (epoch, loss) in losses.enumerated() {
            if s.recordValidationLoss(loss) { reducedAt.append(epoch) }
            rates.append(s.learningRate(atStep: 12345))   // the step does not matter for a plateau schedule
        }
        #expect(reducedAt == [5, 9, 13, 17])
        #expect(Array(rates[0...4]) == [1, 1, 1, 1, 1])
        #expect(Array(rates[5...8]) == [0.5, 0.5, 0.5, 0.5])
        #expect(Array(rates[9...12]) == [0.25, 0.25, 0.25, 0.25])
        #expect(Array(rates[13...16]) == [0.125, 0.125, 0.125, 0.125])
        #expect(rates[17...].allSatisfy { $0 == 0.1 })
        #expect(s.reductions == 4)
        #expect(s.bestLoss == 7)
    }

    @Test func stepScheduleIgnoresValidationLoss() {
        var s = LearningRateScheduler(.step(every: 2, gamma: 0.5), baseLearningRate: 1)
        let reduced = s.recordValidationLoss(5)
        #expect(!reduced)
        #expect(s.learningRate(atStep: 2) == 0.5)
    }

    @Test func applySetsTheOptimizersRateForItsNextStep() {
        let p = Variable(Tensor([0]), requiresGrad: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("p", p)])], rule: SGD(), learningRate: 1)
        let s = LearningRateScheduler(.exponential(gamma: 0.5), baseLearningRate: 1)
        var rates: [Float] = []
        for _ in 0..<3 {
            s.apply(to: optimizer)
            rates.append(optimizer.learningRate)
            p.grad = Tensor([1])
            optimizer.step()
        }
        #expect(rates == [1, 0.5, 0.25])
        #expect(p.value.scalars == [-1.75])
    }

    @Test func schedulerRoundTripsThroughJSON() throws {
        var s = LearningRateScheduler(.reduceOnPlateau(ReduceOnPlateau(patience: 0)), baseLearningRate: 0.1)
        s.recordValidationLoss(1)
        s.recordValidationLoss(2)
        let copy = try JSONDecoder().decode(LearningRateScheduler.self, from: JSONEncoder().encode(s))
        #expect(copy == s)
        #expect(copy.learningRate(atStep: 0) == s.learningRate(atStep: 0))
    }

    @Test func parsing() throws {
        #expect(try LearningRateSchedule(parsing: "constant") == .constant)
        #expect(try LearningRateSchedule(parsing: "step:every=1000,gamma=0.5") == .step(every: 1000, gamma: 0.5))
        #expect(try LearningRateSchedule(parsing: "exponential:gamma=0.999") == .exponential(gamma: 0.999))
        #expect(try LearningRateSchedule(parsing: "inverse-time:k=0.01") == .inverseTime(k: 0.01))
        #expect(try LearningRateSchedule(parsing: "cosine:warmup=500,total=10000")
                    == .cosine(warmupSteps: 500, totalSteps: 10000, minimumLearningRate: 0))
        #expect(try LearningRateSchedule(parsing: "Cosine: total=100, min=0.001")
                    == .cosine(warmupSteps: 0, totalSteps: 100, minimumLearningRate: 0.001))
        #expect(try LearningRateSchedule(parsing: "plateau:factor=0.5,patience=3")
                    == .reduceOnPlateau(ReduceOnPlateau(factor: 0.5, patience: 3)))
    }

    @Test func parsingErrors() {
        #expect(throws: LearningRateScheduleError.unknownSchedule("linear", valid: LearningRateSchedule.names)) {
            try LearningRateSchedule(parsing: "linear")
        }
        #expect(throws: LearningRateScheduleError.unknownKey("gama", schedule: "step", valid: ["every", "gamma"])) {
            try LearningRateSchedule(parsing: "step:every=10,gama=0.5")
        }
        #expect(throws: LearningRateScheduleError.missingKey("gamma", schedule: "step")) {
            try LearningRateSchedule(parsing: "step:every=10")
        }
        #expect(throws: LearningRateScheduleError.self) { try LearningRateSchedule(parsing: "step:every=0,gamma=0.5") }
        #expect(throws: LearningRateScheduleError.self) { try LearningRateSchedule(parsing: "step:every=2.5,gamma=0.5") }
        #expect(throws: LearningRateScheduleError.self) { try LearningRateSchedule(parsing: "exponential:gamma=1.5") }
        #expect(throws: LearningRateScheduleError.self) { try LearningRateSchedule(parsing: "cosine:warmup=100,total=100") }
        #expect(throws: LearningRateScheduleError.self) { try LearningRateSchedule(parsing: "plateau:factor=1") }
        #expect(throws: LearningRateScheduleError.self) { try LearningRateSchedule(parsing: "step:every") }
        #expect(throws: LearningRateScheduleError.self) { try LearningRateSchedule(parsing: "inverse-time:k=nan") }
        let message = LearningRateScheduleError.unknownSchedule("linear", valid: LearningRateSchedule.names).description
        #expect(message.contains("cosine") && message.contains("plateau"))
    }
}
