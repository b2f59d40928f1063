// Regressions: a run that failed or was interrupted wrote no `--junit` (a stale file of an
// earlier passing run stayed, so CI showed its PASS) and no `--dump-books`.
import CommandLineSupport
import Foundation
import Glibc
import ReplayKit
import TestSupport
import Testing

private typealias R = ReplayBinary

@Suite struct FailedRunOutputTests {
    private static let stale = Data(
        "<testsuites><testsuite name=\"stale\" tests=\"1\" failures=\"0\"/></testsuites>\n".utf8)

    /// `--strict` stopping at a malformed frame (exit 2) replaces `--junit` and `--dump-books`
    /// with files that say the run failed and why.
    @Test func aStrictFailureWritesAFailingJUnitAndBookDump() throws {
        let scratch = try ScratchDirectory()
        let header = try tapeLines(R.bundledTape)[0]
        let broken = Array(
            #"{"kind":"frame","recv_ns":1790267379153000000,"mono_ns":1,"conn":0,"seq":1,"text":"{\"event_type\":\"book\",\"asset_id\":"}"#
                .utf8)
        let tape = try scratch.writeLines([header, broken], to: "bad.ndjson")
        try Self.stale.write(to: scratch.url.appendingPathComponent("j.xml"))
        try Self.stale.write(to: scratch.url.appendingPathComponent("d.json"))
        let run = try R.run(
            [
                "run", tape, "--workers", "1", "--strict", "--quiet", "--golden", R.goldenW1, "--junit", "j.xml",
                "--dump-books", "d.json",
            ], in: scratch.url)
        #expect(run.status == TapeExitStatus.damaged, "stderr: \(run.stderr)")
        let junit = try String(contentsOf: scratch.url.appendingPathComponent("j.xml"), encoding: .utf8)
        #expect(junit.contains("tests=\"1\" failures=\"1\""), "\(junit)")
        #expect(junit.contains("type=\"run-failed\""), "\(junit)")
        #expect(junit.contains("the run failed: \(tape):2: malformed frame"), "\(junit)")
        let dump = try JSONSerialization.jsonObject(
            with: Data(contentsOf: scratch.url.appendingPathComponent("d.json")))
        let object = try #require(dump as? [String: Any])
        #expect(object.string("status") == "failed")
        #expect(object.array("workers").isEmpty)
    }

    /// SIGTERM during a run (exit 130) replaces `--junit` with a failing test case saying the run
    /// was interrupted.
    @Test func anInterruptedRunWritesAFailingJUnit() throws {
        let scratch = try ScratchDirectory()
        let tape = try scratch.synthTape("synth.ndjson.zst", assets: 4, duration: "30s", rate: "100", seed: 3)
        try Data("{}".utf8).write(to: scratch.url.appendingPathComponent("targets.json"))
        try Self.stale.write(to: scratch.url.appendingPathComponent("j.xml"))
        let run = try R.run(
            [
                "run", tape, "--workers", "1", "--speed", "1x", "--quiet", "--targets", "targets.json", "--junit",
                "j.xml",
            ],
            in: scratch.url, timeout: .seconds(60)
        ) { process in
            _ = waitForWorkerProcesses(of: process.processIdentifier, count: 1)
            usleep(300_000)
            kill(process.processIdentifier, SIGTERM)
        }
        #expect(run.status == ExitStatus.interrupted, "stderr: \(run.stderr)")
        let junit = try String(contentsOf: scratch.url.appendingPathComponent("j.xml"), encoding: .utf8)
        #expect(junit.contains("type=\"run-failed\""), "\(junit)")
        #expect(junit.contains("the run was interrupted"), "\(junit)")
    }
}
