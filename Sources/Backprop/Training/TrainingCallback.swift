/// Code that runs at the trainer's milestones: to log somewhere else, to stop a run, to change a
/// hyper-parameter between epochs. Early stopping, the learning-rate schedule and checkpointing
/// are built into ``Trainer``; callbacks are for everything else.
public protocol TrainingCallback: AnyObject {
    /// After every optimizer step, with that step's training loss.
    func trainer(_ trainer: Trainer, didStep step: Int, loss: Float)
    /// After every evaluation (end of epoch, or every `evaluationInterval` steps). Return false
    /// to stop training (the best model so far is kept, as with early stopping).
    func trainer(_ trainer: Trainer, didEvaluate record: MetricsRecord) -> Bool
}

extension TrainingCallback {
    /// Does nothing.
    public func trainer(_ trainer: Trainer, didStep step: Int, loss: Float) {}
    /// Does nothing and continues training.
    public func trainer(_ trainer: Trainer, didEvaluate record: MetricsRecord) -> Bool { true }
}
