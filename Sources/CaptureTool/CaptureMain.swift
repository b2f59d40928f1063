import Capture
// Subcommand dispatch and the conventions every subcommand shares.
import CommandLineSupport
import Foundation

/// A `capture` subcommand.
protocol CaptureSubcommand {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static var help: String { get }
    static func run(_ arguments: [String]) throws -> Int32
}

extension CaptureSubcommand {
    /// Maps `--help`, usage errors and runtime errors to output and exit statuses.
    static func main(_ arguments: [String]) -> Int32 {
        do {
            if arguments.contains("--help") || arguments.contains("-h") {
                try StandardOutput.print(help)
                return CaptureExitStatus.success
            }
            return try run(arguments)
        } catch let error as OutputError {
            return outputFailed(error)
        } catch let error as UsageError {
            printError("Error: \(error.message)\nUsage: \(usage)\n  See 'capture \(name) --help'.")
            return CaptureExitStatus.usage
        } catch {
            printError("Error: \(error)")
            return CaptureExitStatus.failure
        }
    }
}

enum CaptureMain {
    static var commands: [any CaptureSubcommand.Type] { [RecordCommand.self, MarketsCommand.self, BenchCommand.self] }

    static func main(_ arguments: [String]) -> Int32 {
        guard let first = arguments.first else { return usage(toStandardError: true) }
        if first == "--help" || first == "-h" || first == "help" { return usage(toStandardError: false) }
        if first == "--version" {
            do {
                try StandardOutput.print(CaptureVersion.writer)
            } catch {
                return outputFailed(error)
            }
            return CaptureExitStatus.success
        }
        if let command = commands.first(where: { $0.name == first }) {
            return command.main(Array(arguments.dropFirst()))
        }
        printError("Error: unknown subcommand '\(first)'")
        return usage(toStandardError: true)
    }

    static func usage(toStandardError: Bool) -> Int32 {
        var text = """
            capture — record Polymarket's public market-channel feed to tapes for replay

            Usage: capture <subcommand> [options]

            Subcommands:
            """
        for command in commands {
            text += "\n  \(command.name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(command.summary)"
        }
        text += """


            Examples:
              capture markets --top 10
              capture record --top 20 --out tapes/ --duration 1h

            See 'capture <subcommand> --help' for options and examples.
            """
        if toStandardError {
            printError(text)
            return CaptureExitStatus.usage
        }
        do {
            try StandardOutput.print(text)
        } catch {
            return outputFailed(error)
        }
        return CaptureExitStatus.success
    }
}
