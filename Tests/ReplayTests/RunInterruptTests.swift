import CommandLineSupport
import Foundation
import Glibc
import TestSupport
import Testing

/// Ctrl-C during a paced replay: the run stops reading, drains its workers, prints the report
/// of what was replayed, says it was interrupted, exits 130, and leaves no worker behind.
@Test func sigintStopsARunCleanlyWithAPartialReport() throws {
    let scratch = try ScratchDirectory()
    let tape = try scratch.synthTape("synth.ndjson.zst", assets: 20, duration: "30s", rate: "200", seed: 3)
    var workers: [pid_t] = []
    let run = try ReplayBinary.run(["run", tape, "--workers", "2", "--speed", "1x"], timeout: .seconds(60)) {
        process in
        let parent = process.processIdentifier
        workers = waitForWorkerProcesses(of: parent, count: 2)
        usleep(500_000)  // let some frames through, so the partial report has something in it
        kill(parent, SIGINT)
    }
    #expect(!run.timedOut, "replay run did not stop after SIGINT")
    #expect(run.status == ExitStatus.interrupted, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
    #expect(run.stderr.contains("interrupted at \(tape) line"), "stderr: \(run.stderr)")
    #expect(run.stderr.contains("nothing was verified or recorded"), "stderr: \(run.stderr)")
    #expect(run.stdoutText.contains("status    failed"), "stdout: \(run.stdoutText)")
    #expect(run.stdoutText.contains("interrupted at \(tape) line"), "the status says why: \(run.stdoutText)")
    // Regression (newcomer review): the digest line was blank, or (with the reader thread ahead)
    // the whole tape's digest; an interrupted run now never claims one.
    #expect(run.stdoutText.contains("digest not computed (the run stopped before the end of the tape)"))
    #expect(run.wallSeconds < 25, "the 30 s tape should have been cut short, took \(run.wallSeconds) s")
    #expect(workers.count == 2)
    expectAllGone(workers)
}

/// Regression (newcomer review): on a sparse tape at 1x, Ctrl-C waited for the next frame's
/// time (seconds away) before stopping. Frames here are ~10 s apart; the run must stop well
/// before the next one is due.
@Test func sigintDoesNotWaitForTheNextFrameOfASparseTape() throws {
    let scratch = try ScratchDirectory()
    let tape = try scratch.synthTape("sparse.ndjson.zst", assets: 2, duration: "60s", rate: "1", seed: 3)
    var signalled = Date.distantFuture
    // About 1 frame a second, replayed at 0.1x: about 10 s between frames.
    let run = try ReplayBinary.run(["run", tape, "--workers", "1", "--speed", "0.1x"], timeout: .seconds(60)) {
        process in
        _ = waitForWorkerProcesses(of: process.processIdentifier, count: 1)
        usleep(1_000_000)
        signalled = Date()
        kill(process.processIdentifier, SIGINT)
    }
    let stopped = Date()
    #expect(run.status == ExitStatus.interrupted, "stderr: \(run.stderr)")
    #expect(stopped.timeIntervalSince(signalled) < 5, "took \(stopped.timeIntervalSince(signalled)) s after SIGINT")
}

/// Regression: a second Ctrl-C ended the run without a word. It still ends it at once (the
/// default action of the signal), but says so, and the workers do not outlive it. A stopped
/// worker keeps the first interrupt's drain waiting, so the second one finds the run still going.
@Test func aSecondSigintEndsTheRunAtOnceAndSaysSo() throws {
    let scratch = try ScratchDirectory()
    let tape = try scratch.synthTape("synth.ndjson.zst", assets: 4, duration: "60s", rate: "20", seed: 5)
    var workers: [pid_t] = []
    defer { for pid in workers where processIsAlive(pid) { kill(pid, SIGKILL) } }
    let run = try ReplayBinary.run(["run", tape, "--workers", "2", "--speed", "1x"], timeout: .seconds(60)) {
        process in
        workers = waitForWorkerProcesses(of: process.processIdentifier, count: 2)
        if let first = workers.first { kill(first, SIGSTOP) }
        kill(process.processIdentifier, SIGINT)
        usleep(500_000)  // a second signal within 0.3 s is taken as the same request
        kill(process.processIdentifier, SIGINT)
    }
    #expect(!run.timedOut)
    #expect(run.stderr.contains("second interrupt: stopping at once, without a report"), "stderr: \(run.stderr)")
    #expect(workers.count == 2)
    expectAllGone(workers)
}

/// Regression: SIGTERM sent to the whole process group (`timeout`, `kill -- -PGID`, a cancelled
/// CI job) also hit the workers, so the run failed with "worker killed by signal 15" instead of
/// draining and reporting; and `timeout`'s two deliveries (to the child, then to its group) were
/// taken for a second interrupt. Workers now lead their own groups, and a repeat within 0.3 s is
/// the same request.
@Test func sigtermToTheProcessGroupDrainsAndReports() throws {
    let scratch = try ScratchDirectory()
    let tape = try scratch.synthTape("synth.ndjson.zst", assets: 4, duration: "60s", rate: "20", seed: 5)
    var ownGroup = false
    var argv0: [String] = []
    let run = try ReplayBinary.run(
        ["run", tape, "--workers", "2", "--speed", "1x", "--json"], timeout: .seconds(60)
    ) { process in
        let pid = process.processIdentifier
        let workers = waitForWorkerProcesses(of: pid, count: 2)
        // `ps` names the workers by their role (argv[0]).
        argv0 = workers.compactMap { worker in
            FileManager.default.contents(atPath: "/proc/\(worker)/cmdline").map {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        // Foundation starts a child as the leader of its own process group, which the test can
        // signal as a whole without signalling itself (a group that is not is refused below).
        ownGroup = getpgid(pid) == pid
        kill(pid, SIGTERM)
        if ownGroup { kill(-pid, SIGTERM) }
    }
    #expect(ownGroup, "the replay process does not lead its own process group")
    #expect(argv0 == ["polytape-worker", "polytape-worker"])
    #expect(!run.timedOut)
    #expect(run.status == ExitStatus.interrupted, "stderr: \(run.stderr)")
    #expect(!run.stderr.contains("killed by signal"), "stderr: \(run.stderr)")
    let report = try #require(run.json, "stdout: \(run.stdoutText)")
    #expect(report.array("workers").allSatisfy { $0.string("exit") == "normal" }, "\(report.array("workers"))")
}

/// Regression: SIGHUP (the terminal closed) ended a run with 129 and no report; it stops the run
/// like Ctrl-C, so `--report` still gets what was replayed.
@Test func sighupStopsARunLikeCtrlC() throws {
    let scratch = try ScratchDirectory()
    let tape = try scratch.synthTape("synth.ndjson.zst", assets: 4, duration: "60s", rate: "20", seed: 5)
    let report = scratch.path("report.json")
    let run = try ReplayBinary.run(
        ["run", tape, "--workers", "1", "--speed", "1x", "--quiet", "--report", report], timeout: .seconds(60)
    ) { process in
        _ = waitForWorkerProcesses(of: process.processIdentifier, count: 1)
        kill(process.processIdentifier, SIGHUP)
    }
    #expect(!run.timedOut)
    #expect(run.status == ExitStatus.interrupted, "stderr: \(run.stderr)")
    let data = try #require(FileManager.default.contents(atPath: report), "no report written")
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["status"] as? String == "failed")
}
