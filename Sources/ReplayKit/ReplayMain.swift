// Top-level dispatch of the `replay` executable.
import CommandLineSupport
import Foundation

/// Picks the subcommand named by the first argument (default: `run` on the bundled tape).
public enum ReplayMain {
    public static func main(_ arguments: [String]) -> Int32 {
        let commands = ReplayCommands.all
        guard let first = arguments.first else {
            return commands.first(where: { $0.name == "run" })?.main([]) ?? usage(to: true)
        }
        if first == "--help" || first == "-h" || first == "help" {
            return usage(to: false)
        }
        if let command = commands.first(where: { $0.name == first }) {
            return command.main(Array(arguments.dropFirst()))
        }
        if first.hasPrefix("-"), let run = commands.first(where: { $0.name == "run" }) {
            return run.main(arguments)
        }
        printError("Error: unknown subcommand '\(first)'")
        return usage(to: true)
    }

    static func usage(to standardError: Bool) -> Int32 {
        var text = """
            replay — replay Polymarket market-channel tapes through a router and worker processes

            Usage: replay <subcommand> [options]
              (no subcommand: `replay run` on the bundled real tape)

            Subcommands:
            """
        for command in ReplayCommands.all {
            text += "\n  \(command.name.padding(toLength: 13, withPad: " ", startingAt: 0)) \(command.summary)"
        }
        text += "\n\nSee 'replay <subcommand> --help' for options and examples."
        if standardError {
            printError(text)
            return ExitStatus.usage
        }
        do {
            try StandardOutput.print(text)
        } catch {
            return outputFailed(error)
        }
        return ExitStatus.success
    }
}
