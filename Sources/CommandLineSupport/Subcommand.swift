// Subcommands, exit statuses and runtime errors shared by every subcommand, in the conventions of
// swift-argument-parser: `--help` to stdout with exit 0, usage errors to stderr as
// `Error: ...` followed by the usage line with exit 64, other failures exit 1.
import Foundation

/// Exit statuses of the `replay` and `capture` executables (documented in the README).
public enum ExitStatus {
    public static let success: Int32 = 0
    /// A runtime failure: unreadable tape, dead worker, I/O error.
    public static let failure: Int32 = 1
    /// Verification ran and found a difference from the golden file or a missed target.
    public static let verificationFailed: Int32 = 3
    /// The command line was wrong (sysexits EX_USAGE).
    public static let usage: Int32 = 64
    /// Stopped by SIGINT or SIGTERM after reporting what was done (128 + SIGINT).
    public static let interrupted: Int32 = 130
    /// Standard output is a pipe whose reader went away (`| head -1`): the command ends quietly,
    /// with the status a shell shows for a process ended by SIGPIPE (128 + SIGPIPE).
    public static let brokenPipe: Int32 = 141
}

/// A runtime error with a message that says what happened, where, and what to do.
public struct CommandError: Error, CustomStringConvertible {
    public var message: String
    public var status: Int32
    public init(_ message: String, status: Int32 = ExitStatus.failure) {
        self.message = message
        self.status = status
    }
    public var description: String { message }
}

/// Writes to standard error (libraries never print; only command code calls this).
public func printError(_ text: String) {
    writeStandardError(text + "\n")
}

/// The exit status for a failed write to standard output, after saying so on standard error
/// (one `Error:` line; nothing for a broken pipe, whose reader has stopped listening).
public func outputFailed(_ error: OutputError) -> Int32 {
    if error.isBrokenPipe { return ExitStatus.brokenPipe }
    printError("Error: \(error)")
    return ExitStatus.failure
}

/// The end of an executable's `main`: flushes anything printed through C stdio and turns a failed
/// write there into exit status 1 (or the broken-pipe status), so that no output is lost silently.
public func finishStandardOutput(_ status: Int32) -> Int32 {
    do {
        try StandardOutput.flushStdio()
    } catch {
        let failed = outputFailed(error)
        return status == ExitStatus.success ? failed : status
    }
    return status
}

/// A subcommand of `replay`: its name, one-line summary, usage line and full help.
public protocol Subcommand {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static var help: String { get }
    /// Runs with the words after the subcommand name; returns the exit status.
    static func run(_ arguments: [String]) throws -> Int32
}

extension Subcommand {
    /// Runs the subcommand, mapping `--help`, usage errors and runtime errors to the
    /// conventional output and exit statuses.
    public static func main(_ arguments: [String]) -> Int32 {
        do {
            if arguments.contains("--help") || arguments.contains("-h") {
                try StandardOutput.print(help)
                return ExitStatus.success
            }
            return try run(arguments)
        } catch let error as OutputError {
            return outputFailed(error)
        } catch let error as UsageError {
            printError(
                "Error: \(error.message)\nUsage: \(usage)\n  See '\(usage.split(separator: " ").prefix(2).joined(separator: " ")) --help'."
            )
            return ExitStatus.usage
        } catch let error as CommandError {
            printError("Error: \(error.message)")
            return error.status
        } catch {
            printError("Error: \(error)")
            return ExitStatus.failure
        }
    }
}
