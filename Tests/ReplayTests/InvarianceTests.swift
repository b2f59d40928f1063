// `--check-invariance`: the same tape with 1 and N workers gives the same final books.
import CommandLineSupport
import Foundation
import TestSupport
import Testing

@testable import ReplayKit

@Suite(.serialized, .timeLimit(.minutes(3)))
struct InvarianceTests {
    @Test func bundledTapeHasIdenticalBooksWithOneAndTwoWorkers() throws {
        let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "2", "--check-invariance"])
        #expect(run.status == ExitStatus.success, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        let line = run.stdoutText.split(separator: "\n").first { $0.hasPrefix("invariance:") }
        #expect(line == "invariance: 28 assets have identical final books with 2 and 1 worker(s)", "\(run.stdoutText)")
        #expect(!run.stderr.contains("differs"))
    }

    /// Regression (newcomer review): with `--json` the invariance result was only a text line.
    @Test func theInvarianceResultIsInTheJSONReport() throws {
        let run = try ReplayBinary.run([
            "run", ReplayBinary.bundledTape, "--workers", "2", "--check-invariance", "--json", "--quiet",
        ])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let invariance = try #require(run.json?["invariance"] as? [String: Any], "\(run.stdoutText)")
        #expect(invariance["workers"] as? Int == 2)
        #expect(invariance["otherWorkers"] as? Int == 1)
        #expect(invariance["assets"] as? Int == 28)
        #expect((invariance["differences"] as? [Any])?.isEmpty == true)
    }

    /// Regression: the second run of the same tape told every warning again.
    @Test func theSecondRunDoesNotRepeatTheFirstRunsWarnings() throws {
        let run = try ReplayBinary.run([
            "run", ReplayBinary.bundledTape, "--workers", "2", "--check-invariance", "--quiet", "--assets", "123",
        ])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let warnings = run.stderr.split(separator: "\n").filter { $0.contains("--assets selected nothing") }
        #expect(warnings.count == 1, "stderr: \(run.stderr)")
    }

    @Test func compareNamesTheDifferingAndTheMissingAsset() {
        let one = ["111": "aa", "222": "bb", "333": "cc"]
        let two = ["111": "aa", "222": "b0", "444": "dd"]
        let lines = InvarianceCheck.compare(one, workersA: 1, two, workersB: 2)
        #expect(lines.count == 3)
        #expect(
            lines.first { $0.contains("asset 222 differs") }?.contains("1 worker(s) → bb, 2 worker(s) → b0") == true)
        #expect(lines.first { $0.contains("asset 333") }?.contains("2 worker(s) → no book") == true)
        #expect(lines.first { $0.contains("asset 444") }?.contains("1 worker(s) → no book") == true)
        #expect(!lines.contains { $0.contains("111") })
        #expect(InvarianceCheck.compare(one, workersA: 1, one, workersB: 4).isEmpty)
    }
}
