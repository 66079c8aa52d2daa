// Text output: the sink that text-printing extensions write to, and warnings on standard error.
// Support layer: used by Serializers, Datasets and Training; uses nothing above Array.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where text-printing extensions write: standard output by default. Not `Sendable`: a sink may hold any closure,
/// and the trainer calls it from the thread that runs the training loop.
public struct TextSink {
    /// Writes a piece of text.
    public let write: (String) -> Void
    /// Whether the destination is a terminal (progress bars redraw in place only then).
    public let isTerminal: Bool

    /// A sink that passes each piece of text to `write`; `isTerminal` says whether it reaches a terminal (to redraw
    /// progress bars in place).
    public init(isTerminal: Bool, _ write: @escaping (String) -> Void) {
        self.write = write
        self.isTerminal = isTerminal
    }

    /// Standard output, through the C library's buffer that Swift's `print` also uses, flushed after every write:
    /// the trainer's lines and the program's own `print`s stay in the order they were made even when standard
    /// output is a file or a pipe (where `print` is fully buffered).
    public static var standardOutput: TextSink {
        TextSink(isTerminal: isatty(1) != 0) { text in
            print(text, terminator: "")
            fflush(nil)   // every C stream, standard output included
        }
    }

    /// Standard error, flushed after every write (after flushing standard output, so that what was printed
    /// before comes first when both go to one place).
    public static var standardError: TextSink {
        TextSink(isTerminal: isatty(2) != 0) { text in
            fflush(nil)
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Where progress goes: standard output when it is a terminal; otherwise standard error, so that a table
    /// printed to a file or a pipe is not interleaved with progress lines (and a terminal on standard error still
    /// shows a live bar while standard output goes to a file).
    public static var progress: TextSink { isatty(1) != 0 ? .standardOutput : .standardError }
}

/// Writes a warning line to standard error (after flushing standard output, so the two stay in order).
func printWarning(_ message: String) {
    fflush(nil)
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
