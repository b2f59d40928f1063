import CommandLineSupport
import Foundation
import Glibc
import TestSupport
import Testing

/// A quiet one-market tape (its two assets, about one frame a second) and the index of a worker,
/// of 3, that receives nothing from it (found with a run at max speed).
func quietTapeWithAnIdleWorker(in scratch: ScratchDirectory, duration: String) throws -> (tape: String, idle: Int) {
    let tape = try scratch.synthTape("quiet.ndjson.zst", assets: 1, duration: duration, rate: "1", seed: 3)
    let probe = try ReplayBinary.run(["run", tape, "--workers", "3", "--json"])
    let workers = probe.json?["workers"] as? [[String: Any]] ?? []
    let idle = workers.first { ($0["messagesProcessed"] as? Int) == 0 }?["index"] as? Int
    #expect(idle != nil, "no idle worker in \(probe.stdoutText.prefix(2000)) \(probe.stderr)")
    return (tape, idle ?? 0)
}

/// A paced replay of a quiet tape spends its time in the pacer: at 0.001x the second frame of
/// this tape is due 132 s after the first. A worker stopped with SIGSTOP while it gets no
/// messages (its queue stays empty, so the ring's stall watch sees nothing, and no frame comes
/// for the per-frame check) is found by the heartbeat-age check that runs while the router
/// waits: the run exits 1 naming the worker and pid well within the 90 s limit, and leaves no
/// process.
@Test func aStoppedIdleWorkerAbortsAQuietPacedRunByHeartbeatAge() throws {
    let scratch = try ScratchDirectory()
    let (tape, idle) = try quietTapeWithAnIdleWorker(in: scratch, duration: "120s")
    var workers: [pid_t] = []
    var stoppedPID: pid_t = 0
    defer {
        for pid in workers where processIsAlive(pid) { kill(pid, SIGKILL) }
    }
    let run = try ReplayBinary.run(
        ["run", tape, "--workers", "3", "--speed", "0.001x", "--heartbeat", "0.2", "--stall-timeout", "2"],
        timeout: .seconds(90)
    ) { process in
        workers = waitForWorkerProcesses(of: process.processIdentifier, count: 3)
        usleep(1_000_000)  // past start-up (every worker answers a query) into the pacer's wait
        if let victim = workers.first(where: { workerIndex(pid: $0) == idle }) {
            stoppedPID = victim
            kill(victim, SIGSTOP)
        }
    }
    #expect(stoppedPID != 0)
    #expect(!run.timedOut, "replay run did not notice the stopped worker")
    #expect(run.status == ExitStatus.failure, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
    #expect(run.stderr.contains("worker \(idle) (pid \(stoppedPID)) sent no heartbeat for"), "stderr: \(run.stderr)")
    #expect(run.stderr.contains("--stall-timeout"), "stderr: \(run.stderr)")
    #expect(!run.stderr.contains("did not drain"), "stderr: \(run.stderr)")
    expectAllGone(workers)
}

/// The same quiet tape at recorded speed with a 100 ms heartbeat and a 1 s stall timeout: a
/// worker idle all along, the router idle in the pacer between frames; nobody is reported.
@Test func aQuietPacedRunWithShortHeartbeatSettingsSucceeds() throws {
    let scratch = try ScratchDirectory()
    let (tape, _) = try quietTapeWithAnIdleWorker(in: scratch, duration: "6s")
    let run = try ReplayBinary.run(
        ["run", tape, "--workers", "3", "--speed", "1x", "--heartbeat", "0.1", "--stall-timeout", "1", "--json"],
        timeout: .seconds(90))
    #expect(run.status == ExitStatus.success, "stdout: \(run.stdoutText.prefix(2000))\nstderr: \(run.stderr)")
    #expect(!run.stderr.contains("heartbeat"), "stderr: \(run.stderr)")
    let wall = (run.json?["throughput"] as? [String: Any])?["wallSeconds"] as? Double
    #expect((wall ?? 0) >= 2, "the run was not paced: \(String(describing: wall))")
}
