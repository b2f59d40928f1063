// Exit statuses of the `capture` executable (the shared ones plus a forced stop).

/// Exit statuses of the `capture` executable.
public enum CaptureExitStatus {
    public static let success: Int32 = 0
    /// A runtime failure: unreachable REST API, unwritable output folder, tape write error.
    public static let failure: Int32 = 1
    /// The command line was wrong (sysexits EX_USAGE).
    public static let usage: Int32 = 64
    /// Stopped by a second SIGINT/SIGTERM (the tape was flushed and closed first): 128 + SIGINT.
    public static let forced: Int32 = 130
}
