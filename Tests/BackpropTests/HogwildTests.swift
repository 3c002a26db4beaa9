import Foundation
import Testing
import Backprop

@Suite struct HogwildTests {
    static let data = SparseExamples.synthetic(count: 4000, features: 2000, nonZeros: 10, flip: 0.02, seed: 8)

    /// Serial SGD on logistic loss written out here, independently of Hogwild's loop.
    static func serial(epochs: Int, learningRate: Float, seed: UInt64) -> [Float] {
        var w = [Float](repeating: 0, count: data.featureCount)
        for epoch in 0..<epochs {
            var generator = BatchOrder.generator(seed: seed, epoch: epoch)
            let eta = learningRate / Float(epoch + 1)
            for i in generator.permutation(data.count) {
                let nonZeros = data.rowStarts[i]..<data.rowStarts[i + 1]
                let score = nonZeros.reduce(Float(0)) { $0 + w[Int(data.indices[$1])] * data.values[$1] }
                let y = data.labels[i]
                let sigmoid = 1 / (1 + exp(Double(y * score)))   // σ(−y·score)
                for k in nonZeros { w[Int(data.indices[k])] += eta * y * Float(sigmoid) * data.values[k] }
            }
        }
        return w
    }

    @Test func oneThreadIsSerialSGD() throws {
        guard #available(macOS 15.0, *) else { return }
        let hogwild = Hogwild.train(Self.data, threads: 1, epochs: 3, learningRate: 0.5, seed: 4)
        let reference = Self.serial(epochs: 3, learningRate: 0.5, seed: 4)
        let scale = reference.map(abs).max() ?? 1
        let worst = zip(hogwild, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5 * scale, "max difference \(worst) for weights up to \(scale)")
    }

    @Test(arguments: [false, true])
    func twoThreadsWithoutLocksLearnAsWellAsOne(_ locked: Bool) throws {
        guard #available(macOS 15.0, *) else { return }
        let serial = Self.data.evaluate(Self.serial(epochs: 5, learningRate: 0.5, seed: 4))
        let parallel = Self.data.evaluate(Hogwild.train(Self.data, threads: 2, epochs: 5, learningRate: 0.5, seed: 4, locked: locked))
        // Learned at all: the zero vector's loss is log 2 ≈ 0.693, its accuracy 0 (no margin).
        #expect(serial.loss < 0.35 && serial.accuracy > 0.9)
        // Races on a sparse problem cost (almost) nothing.
        #expect(abs(parallel.loss - serial.loss) < 0.02, "hogwild \(parallel) vs serial \(serial)")
        #expect(parallel.accuracy > serial.accuracy - 0.02)
    }
}
