// Minimal command-line handling shared by every subcommand, in the conventions of
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
}

/// A usage error: printed as `Error: <message>` followed by the command's usage line.
public struct UsageError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
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

/// Parsed arguments: `--name value`, `--name=value`, boolean `--flag`, and positionals.
/// Options are declared up front so that unknown options and missing values are usage errors.
public struct Arguments {
    public private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    /// - Parameters:
    ///   - arguments: the words after the subcommand name.
    ///   - options: names (without `--`) that take a value.
    ///   - flags: names (without `--`) that take none.
    public init(_ arguments: [String], options: Set<String>, flags: Set<String>) throws {
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if onlyPositionals || !word.hasPrefix("-") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            var name = String(word.drop(while: { $0 == "-" }))
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if word == "-h" { name = "help" }
            if flags.contains(name) {
                if inlineValue != nil { throw UsageError("--\(name) takes no value") }
                self.flags.insert(name)
            } else if options.contains(name) {
                if let inlineValue {
                    values[name, default: []].append(inlineValue)
                } else {
                    guard index < arguments.count else { throw UsageError("--\(name) needs a value") }
                    values[name, default: []].append(arguments[index])
                    index += 1
                }
            } else {
                throw UsageError("unknown option '\(word)'")
            }
        }
    }

    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The last value given for an option, if any.
    public func value(_ name: String) -> String? { values[name]?.last }

    /// Every value given for a repeatable option, in order.
    public func values(_ name: String) -> [String] { values[name] ?? [] }

    /// An integer option within a range, or the default.
    public func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = value(name) else { return defaultValue }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(
                "--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    /// A choice among fixed words, or the default.
    public func choice(_ name: String, _ allowed: [String], default defaultValue: String) throws -> String {
        guard let text = value(name) else { return defaultValue }
        guard allowed.contains(text) else {
            throw UsageError("--\(name) must be one of \(allowed.joined(separator: ", ")), not '\(text)'")
        }
        return text
    }
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
