// Regressions: writes to standard output whose failure trapped the process (`try!` inside
// FileHandle.write) or was ignored (exit 0 with the output lost).
import CommandLineSupport
import Foundation
import Glibc
import ReplayKit
import TestSupport
import Testing

private typealias R = ReplayBinary

@Suite struct StandardOutputFailureTests {
    /// Regression: `--json >/dev/full` trapped (SIGILL, "'try!' expression unexpectedly raised an
    /// error"), and text output to a full disk or a closed stream exited 0 with the output lost.
    @Test(arguments: [
        (["run", R.bundledTape, "--workers", "1", "--json"], ">/dev/full", "No space left on device"),
        (["run", R.bundledTape, "--workers", "1"], ">/dev/full", "No space left on device"),
        (["run", R.bundledTape, "--workers", "1", "--json"], ">&-", "Bad file descriptor"),
        (["tape", "cat", R.bundledTape], ">/dev/full", "No space left on device"),
        (["tape", "cat", R.bundledTape], ">&-", "Bad file descriptor"),
        (["tape", "info", R.bundledTape], ">/dev/full", "No space left on device"),
        (["--help"], ">/dev/full", "No space left on device"),
        (["tape", "info", "--help"], ">/dev/full", "No space left on device"),
    ])
    func aFailedWriteToStandardOutputIsOneErrorAndExit1(
        arguments: [String], redirection: String, reason: String
    ) throws {
        let run = try R.run(arguments, redirectingStdout: redirection)
        #expect(run.signal == nil, "ended by signal \(run.status); stderr: \(run.stderr)")
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(run.errorLines == ["Error: cannot write to standard output: \(reason)"], "stderr: \(run.stderr)")
        #expect(!run.stderr.contains("try!"), "stderr: \(run.stderr)")
    }

    /// The `--report` file is still written when standard output fails.
    @Test func theReportFileIsWrittenWhenStandardOutputFails() throws {
        let scratch = try ScratchDirectory()
        let report = scratch.path("report.json")
        let run = try R.run(
            ["run", R.bundledTape, "--workers", "1", "--json", "--report", report], redirectingStdout: ">/dev/full")
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(run.errorLines == ["Error: cannot write to standard output: No space left on device"])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report)))
        #expect((json as? [String: Any])?["schema"] as? String == "polytape-report/1")
    }

    /// A reader that went away (`| head -1`) ends the command quietly: killed by SIGPIPE as
    /// usual, or, when SIGPIPE is ignored, exit 141 (what a shell shows for SIGPIPE), no message.
    @Test(arguments: [false, true])
    func aBrokenPipeEndsQuietly(ignoringSIGPIPE: Bool) throws {
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        defer { try? pipe.fileHandleForWriting.close() }
        let run = try R.run(
            ["tape", "cat", R.bundledTape], redirectingStdout: "", ignoringSIGPIPE: ignoringSIGPIPE,
            stdout: pipe.fileHandleForWriting)
        #expect(run.stderr.isEmpty, "stderr: \(run.stderr)")
        if ignoringSIGPIPE {
            #expect(run.signal == nil && run.status == ExitStatus.brokenPipe, "status \(run.status)")
        } else {
            // The test runner may itself ignore SIGPIPE, which the child then inherits.
            #expect(run.signal == SIGPIPE || run.status == ExitStatus.brokenPipe, "status \(run.status)")
        }
    }
}
