import CommandLineSupport
import Foundation
import TestSupport
import Testing

/// `replay verify` takes the golden as `--golden FILE`, like `replay run`, or as its second
/// argument, but not both (found by a newcomer who typed `--golden` and got "unknown option").
@Test func verifyTakesTheGoldenAsAnOptionToo() throws {
    let scratch = try ScratchDirectory()
    let report = scratch.path("report.json")
    let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "2", "--quiet", "--report", report])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    let viaOption = try ReplayBinary.run(["verify", report, "--golden", ReplayBinary.goldenW2])
    #expect(viaOption.status == ExitStatus.success, "stdout: \(viaOption.stdoutText)\nstderr: \(viaOption.stderr)")
    #expect(viaOption.stdoutText.hasPrefix("PASS"))
    let both = try ReplayBinary.run(["verify", report, ReplayBinary.goldenW2, "--golden", ReplayBinary.goldenW2])
    #expect(both.status == ExitStatus.usage)
    #expect(both.stderr.contains("give the golden once"))
}
