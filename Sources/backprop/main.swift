import CBackpropSupport

// Progress lines must appear as they are printed even when stdout is a pipe or a file.
bp_line_buffer_stdout()
// The entry point: argument parsing and dispatch live in BackpropCommand.
BackpropCommand.main()
