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
    FileHandle.standardError.write(Data((text + "\n").utf8))
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
        if arguments.contains("--help") || arguments.contains("-h") {
            print(help)
            return ExitStatus.success
        }
        do {
            return try run(arguments)
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
