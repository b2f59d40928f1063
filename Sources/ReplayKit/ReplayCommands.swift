// Registry of `replay` subcommands. Each module's helper adds its command here.

/// Every `replay` subcommand, in the order `replay --help` lists them.
public enum ReplayCommands {
    public static var all: [any Subcommand.Type] {
        [
            VerifyCommand.self,
            TapeCommand.self,
            ServeCommand.self,
        ]
    }
}
