// Regression: `replay run --golden FILE` (or `--targets FILE`) that was missing, binary or a run
// report was found only after the whole replay.
import CommandLineSupport
import Foundation
import ReplayKit
import TestSupport
import Testing

private typealias R = ReplayBinary

@Suite struct GoldenCheckedBeforeTheRunTests {
    /// Regression: a missing, binary or wrong kind of golden (or targets) file was found only after
    /// the whole replay, and `--json` had already printed a report saying `status: ok`.
    @Test(
        arguments: [
            ("missing.json", nil, "--golden", "cannot read"),
            (
                "binary.json", Data([0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xFF]), "--golden",
                "is not a valid golden file: zstd-compressed data (a tape?), not JSON"
            ),
            (
                "report.json", Data(#"{"schema": "polytape-report/1"}"#.utf8), "--golden",
                "found 'polytape-report/1 (a run report, not a golden)'"
            ),
            ("targets.json", Data(#"{"maxLatencyP99Micro": 100}"#.utf8), "--targets", "is not a valid targets file"),
        ] as [(String, Data?, String, String)])
    func aBadGoldenIsRefusedBeforeTheRun(name: String, contents: Data?, option: String, message: String) throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path(name)
        if let contents { try contents.write(to: URL(fileURLWithPath: path)) }
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--json", option, path])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty, "stdout: \(run.stdoutText.prefix(200))")
        let errors = run.errorLines
        #expect(errors.count == 1 && errors[0].contains(path) && errors[0].contains(message), "stderr: \(run.stderr)")
    }
}

extension GoldenCheckedBeforeTheRunTests {
    /// An existing `--write-golden` file without `--bless` was refused only after the replay.
    @Test func anExistingGoldenWithoutBlessIsRefusedBeforeTheRun() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path("existing.golden.json")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: path))
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--write-golden", path])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty, "stdout: \(run.stdoutText.prefix(200))")
        #expect(!run.stderr.contains("replaying"), "stderr: \(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("already exists; pass --bless"))
    }
}
