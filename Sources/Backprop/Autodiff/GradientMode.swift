/// Whether operations record the graph for a backward pass.
///
/// A task-local switch rather than a global flag, so concurrent tasks (parallel tests, a
/// trainer evaluating on another thread) do not see each other's setting.
public enum GradientMode {
    /// True unless inside ``withoutGradient(_:)``.
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording gradients: for inference and evaluation, where the graph
/// would only cost memory and time.
public func withoutGradient<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$isEnabled.withValue(false, operation: body)
}
