// The examples in `--help` are meant to be pasted: the repository files they name exist, and
// the golden workflow of `replay verify --help` runs as written.
import CommandLineSupport
import Foundation
import TestSupport
import Testing

@Suite struct HelpExamplesTests {
    static let commands: [[String]] = [
        ["run"], ["verify"], ["serve"], ["bench"], ["bench-parser"], ["bench-book"], ["bench-engine"], ["tape"],
        ["tape", "info"], ["tape", "cat"], ["tape", "import"], ["tape", "slice"], ["tape", "repair"],
        ["tape", "synth"], ["tape", "bench"],
    ]

    /// Regression: `replay verify --help` named `Fixtures/corpus/tape.ndjson.zst` and
    /// `Tests/goldens/`, which do not exist.
    @Test(arguments: commands)
    func everyRepositoryPathInTheHelpExists(command: [String]) throws {
        let run = try ReplayBinary.run(command + ["--help"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let words = run.stdoutText.split(whereSeparator: { " \n'\"(),`".contains($0) })
        let paths = words.filter { $0.hasPrefix("Fixtures/") }.map { String($0) }
        for path in paths where !path.contains("*") {
            #expect(
                FileManager.default.fileExists(atPath: Repo.root.appendingPathComponent(path).path),
                "replay \(command.joined(separator: " ")) --help names \(path), which does not exist")
        }
    }

    @Test func theGoldenWorkflowOfVerifyHelpRunsAsWritten() throws {
        let help = try ReplayBinary.run(["verify", "--help"]).stdoutText
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let workflow = lines.drop { !$0.hasPrefix("# Record a golden once") }.dropFirst().prefix { !$0.isEmpty }
        #expect(workflow.count == 3, "\(workflow)")
        let scratch = try ScratchDirectory()
        try FileManager.default.createSymbolicLink(
            atPath: scratch.path("Fixtures"), withDestinationPath: Repo.root.appendingPathComponent("Fixtures").path)
        for line in workflow {
            let words = line.split(separator: " ").map(String.init)
            #expect(words.first == "replay", "\(line)")
            let quiet = words.dropFirst().first == "run" ? ["--quiet"] : []
            let run = try ReplayBinary.run(Array(words.dropFirst()) + quiet, in: scratch.url)
            #expect(run.status == ExitStatus.success, "\(line): \(run.stdoutText) \(run.stderr)")
        }
    }
}
