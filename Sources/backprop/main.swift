import Backprop
import CBackpropSupport
import Foundation

// Progress lines must appear as they are printed even when stdout is a pipe or a file.
bp_line_buffer_stdout()
// An unknown or unsupported BACKPROP_CPU is refused here, before any kernel runs, with the
// levels this CPU has (the library would stop the process at its first kernel instead).
do {
    _ = try KernelTable.requestedLevel()
} catch {
    FileHandle.standardError.write(Data("backprop: \(error)\n".utf8))
    exit(2)
}
// The entry point: argument parsing and dispatch live in BackpropCommand.
BackpropCommand.main()
