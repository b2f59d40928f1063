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
        // Books that never had a snapshot are incomplete: the run says so in its status.
        #expect(report.string("status") == "warnings")
        let reasons = report["statusReasons"] as? [String] ?? []
        #expect(
            reasons.contains { $0.hasPrefix("6129 price changes for books that had no snapshot yet") }, "\(reasons)")
    }

    /// A book that differs from its golden says where to look: the tape lines of the snapshot its
    /// state started from and of its last change.
    @Test func aDifferingBookNamesTheTapeLinesWhereItLastChanged() throws {
        let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
        let run = try ReplayBinary.run(["run", tape, "--workers", "1", "--json", "--quiet"])
        let report = try #require(run.json)
        let books = report.array("workers").flatMap { $0.array("books") }
        #expect(books.count == 28)
        for book in books {
            let lines = book.object("lastChangeLines")
            let first = lines.int("first") ?? 0
            let last = lines.int("last") ?? 0
            #expect(first == 3, "every book starts from the opening snapshot on line 3: \(book)")
            #expect(last >= first && last <= 113, "\(book)")
        }
        // Tamper with one book's digest in a copy of the golden: the diff names its line range.
        let golden = Repo.fixture("golden/g3-enrico-2026-09.w1.golden.json")
        var text = try String(contentsOf: golden, encoding: .utf8)
        let digest = try #require(books.first { $0.object("lastChangeLines").int("last") ?? 0 > 3 }?.string("digest"))
        text = text.replacingOccurrences(of: digest, with: String(repeating: "0", count: digest.count))
        let scratch = try ScratchDirectory()
        let tampered = scratch.path("tampered.golden.json")
        try text.write(toFile: tampered, atomically: true, encoding: .utf8)
        let verify = try ReplayBinary.run(["run", tape, "--workers", "1", "--quiet", "--golden", tampered])
        #expect(verify.status == ExitStatus.verificationFailed)
        #expect(verify.stdoutText.contains("tape lines 3"), "stdout: \(verify.stdoutText)")
    }

    /// Reading the tape on its own thread (`--read-ahead on`) must give the same frames, books
    /// and content digest as reading it on the router thread, for every tape.
    @Test(arguments: tapes)
    func readingOnItsOwnThreadGivesTheSameRun(tape: String) throws {
        let path = Repo.fixture("tapes/\(tape).ndjson.zst").path
        let inline = try ReplayBinary.run(["run", path, "--workers", "2", "--json", "--quiet", "--read-ahead", "off"])
        let threaded = try ReplayBinary.run(
            ["run", path, "--workers", "2", "--json", "--quiet", "--read-ahead", "on"])
        let a = try #require(inline.json, "stderr: \(inline.stderr)")
        let b = try #require(threaded.json, "stderr: \(threaded.stderr)")
        #expect(a.object("tape").string("contentDigest") == b.object("tape").string("contentDigest"))
        #expect(a.object("tape").int("frameCount") == b.object("tape").int("frameCount"))
        #expect(a.stringMap("assetDigests") == b.stringMap("assetDigests"))
        #expect(a.object("input").intMap("messagesByType") == b.object("input").intMap("messagesByType"))
    }

    @Test func aRunEndingAtToStillNamesTheWholeTape() throws {
        let path = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
        let whole = try #require(try ReplayBinary.run(["run", path, "--json", "--quiet"]).json)
        for readAhead in ["on", "off"] {
            let cut = try #require(
                try ReplayBinary.run([
                    "run", path, "--json", "--quiet", "--to", "1790267400000", "--read-ahead", readAhead,
                ]).json)
            #expect(cut.object("tape").string("contentDigest") == whole.object("tape").string("contentDigest"))
            #expect((cut.object("tape").int("frameCount") ?? 0) < 110)
        }
    }
}
