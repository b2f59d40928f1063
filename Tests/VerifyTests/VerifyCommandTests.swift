// End-to-end: the built `replay` binary on report and golden files written to a temp directory.
import Foundation
import TestSupport
import Testing
import Verify

struct CommandOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

func runReplay(_ arguments: [String]) throws -> CommandOutput {
    let process = Process()
    process.executableURL = Repo.executable("replay")
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes to the end before waiting, so a large output cannot block the child.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandOutput(
        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self))
}

@Suite struct VerifyCommandTests {
    /// Writes the sample report and its golden; returns (directory, report path, golden path).
    /// The caller removes the directory.
    func files(report: RunReport = Samples.report()) throws -> (URL, String, String) {
        let directory = try Samples.temporaryDirectory()
        let reportPath = directory.appendingPathComponent("run.json").path
        let goldenPath = directory.appendingPathComponent("golden.json").path
        try report.jsonData().write(to: URL(fileURLWithPath: reportPath))
        try Golden.make(from: Samples.report()).write(to: goldenPath, overwrite: false)
        return (directory, reportPath, goldenPath)
    }

    @Test func matchingReportExitsZero() throws {
        let (directory, report, golden) = try files()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try runReplay(["verify", report, golden])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.hasPrefix("PASS: \(report) against golden \(golden)"))
        #expect(output.stderr.isEmpty)
    }

    @Test func mismatchExitsThreeWithTheDiffOnStdout() throws {
        var changed = Samples.report()
        changed.workers[0].books[1].bestAsk = "0.55"
        changed.workers[0].books[1].digest = "0123"
        changed.assetDigests[changed.workers[0].books[1].assetID] = "0123"
        let (directory, report, golden) = try files(report: changed)
        defer { try? FileManager.default.removeItem(at: directory) }
        let goldenBefore = try Data(contentsOf: URL(fileURLWithPath: golden))
        let junit = directory.appendingPathComponent("junit.xml").path
        let output = try runReplay(["verify", report, golden, "--junit", junit])
        #expect(output.status == 3)
        #expect(output.stdout.hasPrefix("FAIL: \(report) against golden \(golden): 1 difference"))
        #expect(output.stdout.contains("worker 0, book \(changed.workers[0].books[1].assetID): digest, bestAsk differ"))
        #expect(output.stdout.contains("bestAsk: expected 0.48 / actual 0.55"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: golden)) == goldenBefore, "verify must not rewrite")
        #expect(try String(contentsOfFile: junit, encoding: .utf8).contains("<failure message=\"worker 0, book "))

        let json = try runReplay(["verify", report, golden, "--json"])
        #expect(json.status == 3)
        let result = try JSONDecoder().decode(VerificationResult.self, from: Data(json.stdout.utf8))
        #expect(result.differences.map(\.kind) == [.bookChanged])
    }

    @Test(arguments: [
        [] as [String], ["only-report.json"], ["a.json", "b.json", "c.json"], ["a.json", "b.json", "--bogus"],
        ["a.json", "b.json", "--junit"],
    ])
    func badUsageExits64(arguments: [String]) throws {
        let output = try runReplay(["verify"] + arguments)
        #expect(output.status == 64)
        #expect(output.stderr.hasPrefix("Error: "))
        #expect(output.stderr.contains("Usage: replay verify REPORT.json"))
        #expect(output.stdout.isEmpty)
    }

    @Test func maxDiffsLimitsTheTextDiff() throws {
        var changed = Samples.report()
        for index in 0..<5 { changed.assetDigests["extra-\(index)"] = "00" }
        let (directory, report, golden) = try files(report: changed)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try runReplay(["verify", report, golden, "--max-diffs", "2"])
        #expect(output.status == 3)
        #expect(output.stdout.contains("[2] asset extra-1"))
        #expect(!output.stdout.contains("[3] "))
        #expect(output.stdout.contains("… and 3 more differences (use --json to see all)"))
        #expect(try runReplay(["verify", report, golden, "--max-diffs", "0"]).status == 64)
    }

    @Test func missingFileExitsOneNamingIt() throws {
        let (directory, report, _) = try files()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("no-such-golden.json").path
        let output = try runReplay(["verify", report, missing])
        #expect(output.status == 1)
        #expect(output.stderr.contains("Error: cannot read \(missing): no such file"))
        #expect(output.stdout.isEmpty)
    }

    @Test func reportAndGoldenSwappedExitsOneWithWrongFormat() throws {
        let (directory, report, golden) = try files()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try runReplay(["verify", golden, report])
        #expect(output.status == 1)
        #expect(output.stderr.contains("\(golden) is not a run report this version reads"))
    }

    @Test func targetsOnlyRunShowsNotApplicableAndPasses() throws {
        let (directory, report, _) = try files()
        defer { try? FileManager.default.removeItem(at: directory) }
        let targets = directory.appendingPathComponent("targets.json")
        try Data(#"{"minMessagesPerSecond": 1000000, "maxLatenessP99Micros": 1000}"#.utf8).write(to: targets)
        let output = try runReplay(["verify", report, "--targets", targets.path])
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("PASS throughput: 1,500,000 messages/s"))
        #expect(output.stdout.contains("N/A  pacing lateness p99 at 1×"))
    }

    @Test func helpListsExamplesAndTheSubcommandIsRegistered() throws {
        let help = try runReplay(["verify", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Examples:"))
        #expect(help.stdout.contains("--bless"))
        #expect(help.stdout.contains("3   verification failed"))
        let top = try runReplay(["--help"])
        #expect(top.stdout.contains("verify "))
    }
}
