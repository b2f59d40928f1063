public import CommandLineSupport

// The table of `replay` subcommands. Each subcommand lives in its own file; add one line here.

/// Every `replay` subcommand, in the order `replay --help` lists them.
public enum ReplayCommands {
    public static var all: [any Subcommand.Type] {
        [
            RunCommand.self,
            VerifyCommand.self,
            TapeCommand.self,
            ServeCommand.self,
            BenchCommand.self,
            BenchParserCommand.self,
            BenchBookCommand.self,
            BenchEngineCommand.self,
        ]
    }
}
