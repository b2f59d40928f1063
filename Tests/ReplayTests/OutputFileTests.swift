// Regressions: output files (`--report`, `--chart`) that replaced a symlink or a device with a
// regular file, or were refused only after the run.
import CommandLineSupport
import Foundation
import Glibc
import ReplayKit
import TestSupport
import Testing

private typealias R = ReplayBinary

@Suite struct OutputFileTests {
    /// Regression: `--report LINK` replaced the symlink with a regular file.
    @Test func aReportThroughASymlinkWritesItsTarget() throws {
        let scratch = try ScratchDirectory()
        let target = scratch.path("real.json")
        let link = scratch.path("report.json")
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.json")
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--quiet", "--report", link])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let kind = try FileManager.default.attributesOfItem(atPath: link)[.type] as? FileAttributeType
        #expect(kind == .typeSymbolicLink)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: target)))
        #expect((report as? [String: Any])?["schema"] as? String == "polytape-report/1")
        // No temporary file is left beside it.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).sorted() == [
                "real.json", "report.json",
            ])
    }

    /// Regression: `--report /dev/full` replaced the device with a regular file (as root) and
    /// said "NSCocoaErrorDomain error 512"; a device is written in place and its error reported.
    @Test func aReportToADeviceIsWrittenInPlaceAndItsFailureNamed() throws {
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--quiet", "--report", "/dev/full"])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(run.errorLines == ["Error: cannot write the report to /dev/full: No space left on device"])
        var info = stat()
        #expect(stat("/dev/full", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    /// `--report /dev/stdout` writes to the process's standard output, whatever it is.
    @Test func aReportToDevStdoutLandsOnStandardOutput() throws {
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--quiet", "--report", "/dev/stdout"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        #expect(run.json?["schema"] as? String == "polytape-report/1", "stdout: \(run.stdoutText.prefix(200))")
    }

    /// Regression: `--report DIR` was only refused after the whole replay.
    @Test func aDirectoryAsReportIsRefusedBeforeTheRun() throws {
        let scratch = try ScratchDirectory()
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--json", "--report", scratch.url.path])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(
            run.errorLines == [
                "Error: --report \(scratch.url.path) is a directory; give a file name like \(scratch.url.path)/report.json"
            ])
    }
}

extension OutputFileTests {
    /// `replay bench --chart DIR` was refused only after the whole sweep.
    @Test func benchOutputsAreCheckedBeforeTheSweep() throws {
        let scratch = try ScratchDirectory()
        let run = try R.run(["bench", R.bundledTape, "--workers", "1", "--repeat", "1", "--chart", scratch.url.path])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(
            run.errorLines == [
                "Error: --chart \(scratch.url.path) is a directory; give a file name like \(scratch.url.path)/bench.svg"
            ])
        #expect(run.wallSeconds < 10)
    }
}
