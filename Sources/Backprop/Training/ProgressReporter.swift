import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shows training progress: on a terminal, a live bar redrawn in place with step, loss,
/// accuracy, samples/s and time left; otherwise (a pipe, a log file, CI) one plain line per
/// evaluation, so logs stay readable.
public final class ProgressReporter: @unchecked Sendable {
    /// Whether to draw a live bar (standard output is a terminal) or plain lines.
    public let isInteractive: Bool
    /// Whether to print anything at all.
    public let isQuiet: Bool
    private var lastDraw = Date.distantPast

    /// A reporter for standard output.
    ///
    /// - Parameters:
    ///   - interactive: draw a live bar; nil decides from whether standard output is a terminal.
    ///   - quiet: print nothing.
    public init(interactive: Bool? = nil, quiet: Bool = false) {
        isInteractive = interactive ?? (isatty(STDOUT_FILENO) == 1)
        isQuiet = quiet
    }

    /// Redraws the live bar (at most ten times a second); does nothing when not interactive.
    public func step(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Float, accuracy: Float,
                     samplesPerSecond: Double, secondsLeft: Double) {
        guard isInteractive, !isQuiet else { return }
        let now = Date()
        guard batch == batches || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let width = 24
        let filled = batches == 0 ? width : width * batch / batches
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "\r\u{1B}[2Kepoch %d/%d %@ %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  ETA %@",
                          epoch, epochs, bar, batch, batches, loss, 100 * accuracy, samplesPerSecond,
                          Self.duration(secondsLeft))
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    /// Prints a line (ending any live bar first).
    public func line(_ text: String) {
        guard !isQuiet else { return }
        if isInteractive { FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8)) }
        print(text)
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
