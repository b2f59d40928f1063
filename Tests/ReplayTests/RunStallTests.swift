import CommandLineSupport
import Foundation
import Glibc
import TestSupport
import Testing

/// A worker stopped with SIGSTOP during a run: the router notices that it consumes nothing
/// while messages wait (within --stall-timeout), or the pool that it sends no heartbeat (within
/// 3 heartbeats, 15 s here); the run exits 1 with a message naming the worker and its pid, and
/// the pool kills and reaps the stopped process. The timeout is 5 s, not 1 s: a debug-build
/// worker verifying exchange hashes on a loaded 2-core machine can legitimately go a second
/// without releasing a batch of 64 records.
@Test(arguments: ["1x", "max"])
func aStoppedWorkerAbortsTheRunNamingItAndLeavesNoProcess(speed: String) throws {
    let scratch = try ScratchDirectory()
    // At max speed the stopped worker's ring fills and the blocked router notices; at 1x the
    // ring never fills and the per-frame flush notices.
    let (rate, duration) = speed == "max" ? ("20000", "10s") : ("500", "30s")
    let tape = try scratch.synthTape(assets: 20, duration: duration, rate: rate, seed: 5)
    var workers: [pid_t] = []
    var stoppedPID: pid_t = 0
    var stoppedIndex = -1
    defer {
        // Never leave a stopped child behind, even when the run misbehaved.
        for pid in workers where processIsAlive(pid) { kill(pid, SIGKILL) }
    }
    let run = try ReplayBinary.run(
        ["run", tape, "--workers", "2", "--speed", speed, "--stall-timeout", "5"], timeout: .seconds(90)
    ) { process in
        let parent = process.processIdentifier
        workers = waitForWorkerProcesses(of: parent, count: 2)
        usleep(300_000)  // let the replay get going
        if let victim = workers.first {
            stoppedPID = victim
            stoppedIndex = workerIndex(pid: victim) ?? -1
            kill(victim, SIGSTOP)
        }
    }
    #expect(!run.timedOut, "replay run hung on a stopped worker")
    #expect(run.status == ExitStatus.failure, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
    // Whichever check looks first names it: the ring's stall watch (messages wait for it) or the
    // heartbeat age (at max speed the router can be blocked on the other, slow worker's full ring
    // and not look at the stopped one's until its heartbeat limit has passed).
    let named = "worker \(stoppedIndex) (pid \(stoppedPID))"
    #expect(
        run.stderr.contains("\(named) consumed nothing from its queue")
            || run.stderr.contains("\(named) sent no heartbeat for"),
        "stderr: \(run.stderr)")
    #expect(run.stderr.contains("SIGSTOP"), "stderr: \(run.stderr)")
    #expect(!run.stderr.contains("before draining"), "stderr: \(run.stderr)")
    #expect(workers.count == 2)
    expectAllGone(workers)
}
