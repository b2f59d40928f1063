// Entry point of a worker process. The `replay` binary re-executes itself with the hidden
// first argument `__worker`; main.swift hands control here before anything else runs.

/// The worker process's main function (hidden `__worker` mode of the `replay` binary).
public enum WorkerProcess {
    /// The hidden first argument that selects worker mode.
    public static let modeArgument = "__worker"

    /// Runs a worker until it is told to stop; returns the process exit status.
    public static func main(arguments: [String]) -> Int32 {
        1  // replaced by the real worker loop
    }
}
