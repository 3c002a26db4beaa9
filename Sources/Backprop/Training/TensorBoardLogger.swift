import Foundation

/// A training callback that logs to a TensorBoard event file in the run folder: every step's
/// training loss (`train/loss_step`), and at every evaluation the learning rate, the training,
/// validation and test loss and accuracy (`loss/train`, `accuracy/validation`, …) and a
/// histogram of every parameter (`weights/0.weight`, …).
///
/// Callbacks cannot throw, so a write failure is kept in ``error`` (the first one) and logging
/// stops; the caller reports it after training.
public final class TensorBoardLogger: TrainingCallback {
    /// The event file being written.
    public let writer: TensorBoardWriter
    /// The first write failure, if any.
    public private(set) var error: WriteError?

    /// Opens a new event file in `directory`.
    public init(directory: String) throws(WriteError) {
        writer = try TensorBoardWriter(directory: directory)
    }

    /// Logs the step's training loss as `train/loss_step`.
    public func trainer(_ trainer: Trainer, didStep step: Int, loss: Float) {
        log { () throws(WriteError) in try writer.addScalars([("train/loss_step", loss)], step: step) }
    }

    /// Logs the record's scalars and every parameter's histogram; never stops training.
    public func trainer(_ trainer: Trainer, didEvaluate record: MetricsRecord) -> Bool {
        log { () throws(WriteError) in try log(record, parameters: trainer.model.namedParameters()) }
        return true
    }

    /// Writes one evaluation's scalars and the parameters' histograms at `record.step`.
    public func log(_ record: MetricsRecord, parameters: [(name: String, parameter: Variable)]) throws(WriteError) {
        var scalars: [(tag: String, value: Float)] = [
            ("learning_rate", record.learningRate),
            ("loss/train", record.trainLoss),
            ("accuracy/train", record.trainAccuracy),
            ("epoch", Float(record.epoch)),
        ]
        if let v = record.validationLoss { scalars.append(("loss/validation", v)) }
        if let v = record.validationAccuracy { scalars.append(("accuracy/validation", v)) }
        if let v = record.testLoss { scalars.append(("loss/test", v)) }
        if let v = record.testAccuracy { scalars.append(("accuracy/test", v)) }
        try writer.addScalars(scalars, step: record.step)
        try writer.addHistograms(parameters.map { ("weights/\($0.name)", $0.parameter.value.scalars) }, step: record.step)
    }

    private func log(_ body: () throws(WriteError) -> Void) {
        guard error == nil else { return }
        do { try body() } catch { self.error = error }
    }
}
