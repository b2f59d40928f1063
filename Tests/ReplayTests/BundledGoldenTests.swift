import CommandLineSupport
import Foundation
import TestSupport
import Testing

@testable import ReplayKit

/// Every bundled real tape replays to exactly its recorded golden, with 1 and with 2 workers:
/// the regression gate CI runs on real data.
@Suite struct BundledGoldenTests {
    static let tapes = [
        "g3-enrico-2026-09", "g2-aaimek-2025-01", "go-comment-2025-12-23", "nslaughter-settled-mixed",
        "nslaughter-stream-no-replay",
    ]

    @Test(arguments: tapes, [1, 2])
    func bundledTapeMatchesItsGolden(tape: String, workers: Int) throws {
        let golden = Repo.fixture("golden/\(tape).w\(workers).golden.json").path
        #expect(FileManager.default.fileExists(atPath: golden), "missing golden \(golden)")
        let run = try ReplayBinary.run([
            "run", Repo.fixture("tapes/\(tape).ndjson.zst").path, "--workers", String(workers), "--quiet", "--golden",
            golden,
        ])
        #expect(run.status == ExitStatus.success, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
    }

    @Test func connectionBreaksInTheTapeMakeBooksUntrustedUntilTheirNextSnapshot() throws {
        // Three connections: the first two break mid-tape (2 invalidations; 10 price changes
        // arrive before the new connection's snapshot), the last one ends with the tape.
        let run = try ReplayBinary.run([
            "run", Repo.fixture("tapes/nslaughter-stream-no-replay.ndjson.zst").path, "--workers", "1", "--json",
        ])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        let counters = report.array("workers").first?.intMap("counters") ?? [:]
        #expect(counters["invalidations"] == 2)
        #expect(counters["deltasWhileUntrusted"] == 10)
        #expect(report.object("exchangeHash").intMap("unverifiableReasons") == ["bookUntrusted": 10])
        // Every book got a new snapshot after its break, so none is untrusted at the end.
        #expect(report.array("untrustedBooks").isEmpty)
        #expect(report.string("status") == "ok")
    }

    /// Regression (found replaying a capture stopped with Ctrl-C): a disconnect on the last line
    /// of a tape loses nothing the tape holds, so it must not leave the books untrusted.
    @Test func aDisconnectAtTheEndOfTheTapeLeavesTheBooksTrusted() throws {
        let run = try ReplayBinary.run([
            "run", Repo.fixture("tapes/nslaughter-settled-mixed.ndjson.zst").path, "--workers", "1", "--json",
        ])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        #expect(report.array("workers").first?.intMap("counters")["invalidations"] == 0)
        #expect(report.array("untrustedBooks").isEmpty)
        #expect(report.string("status") == "ok")
    }

    @Test func aTapeThatNeverSendsASnapshotCountsEveryChangeAndInventsNoBook() throws {
        let run = try ReplayBinary.run([
            "run", Repo.fixture("tapes/g2-aaimek-2025-01.ndjson.zst").path, "--workers", "2", "--json",
        ])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        let total = report.array("workers").reduce(0) { $0 + ($1.intMap("counters")["deltasBeforeSnapshot"] ?? 0) }
        #expect(total == 6_129)
        let snapshots = report.array("workers").reduce(0) { $0 + ($1.int("snapshots") ?? 0) }
        #expect(snapshots == 0)
    }
}
