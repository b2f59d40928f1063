import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

@testable import Engine

/// A configuration with a short heartbeat and stall timeout, so heartbeat-age checks resolve in
/// about a second.
func heartbeatConfiguration(
    heartbeat: Duration = .milliseconds(100), stallTimeout: Duration = .seconds(1),
    sink: (@Sendable (PoolEvent) -> Void)? = nil
) -> WorkerManager.Configuration {
    var configuration = testConfiguration(ringCapacity: 1 << 16, sink: sink)
    configuration.heartbeatInterval = heartbeat
    configuration.stallTimeout = stallTimeout
    return configuration
}

/// Waits (bounded) until the monitor has read a heartbeat from every worker.
func waitForFirstHeartbeats(_ manager: WorkerManager) -> Bool {
    waitUntil(seconds: 20) { manager.shared.data.withLock { $0.lastHeartbeatNanos.allSatisfy { $0 > 0 } } }
}

/// Polls `checkHealth()` every 20 ms until it throws or `seconds` pass; returns the error.
func awaitHealthFailure(_ manager: WorkerManager, seconds: Double = 30) -> EngineError? {
    var failure: EngineError?
    _ = waitUntil(seconds: seconds) {
        do throws(EngineError) { try manager.checkHealth() } catch { failure = error }
        return failure != nil
    }
    return failure
}

@Suite struct HeartbeatWatchRuleTests {
    static let second: UInt64 = 1_000_000_000
    static let watch = HeartbeatWatch(stallTimeoutNanos: second, heartbeatNanos: second / 10)

    @Test func limitIsTheStallTimeoutButAtLeastThreeHeartbeats() {
        let second = Self.second
        #expect(HeartbeatWatch(stallTimeoutNanos: second, heartbeatNanos: second / 10).limitNanos == second)
        #expect(HeartbeatWatch(stallTimeoutNanos: second, heartbeatNanos: 5 * second).limitNanos == 15 * second)
        #expect(HeartbeatWatch(stallTimeoutNanos: 15 * second, heartbeatNanos: 5 * second).limitNanos == 15 * second)
        #expect(HeartbeatWatch(stallTimeoutNanos: .max, heartbeatNanos: .max / 2).limitNanos == .max)
        // Start-up gets at least 10 s; the monitor polls at a quarter of the limit, within 10 ms...1 s.
        #expect(Self.watch.startupLimitNanos == 10 * second)
        #expect(Self.watch.monitorPollMs == 250)
        #expect(HeartbeatWatch(stallTimeoutNanos: 60 * second, heartbeatNanos: second).monitorPollMs == 1000)
        #expect(HeartbeatWatch(stallTimeoutNanos: second / 100, heartbeatNanos: 1).monitorPollMs == 10)
    }

    @Test(arguments: [
        // (ns since the last heartbeat, expected report)
        (UInt64(900_000_000), false), (1_000_000_000, false), (1_100_000_000, true), (30_000_000_000, true),
    ])
    func silenceBeyondTheLimitIsReported(age: UInt64, reported: Bool) {
        let start: UInt64 = 1000 * Self.second
        let now = start + 60 * Self.second
        let silent = Self.watch.silentNanos(
            now: now, lastHeartbeat: now - age, spawned: start, watchingSince: start, monitorAwake: now - 1000)
        #expect(silent == (reported ? age : nil))
    }

    /// Before the first heartbeat, a slow start (exec, dynamic linking on a loaded machine) is
    /// judged by the start-up limit (10 s here), not the 1 s heartbeat limit.
    @Test func beforeTheFirstHeartbeatTheStartupLimitApplies() {
        let spawned: UInt64 = 1000 * Self.second
        func silent(after seconds: UInt64) -> UInt64? {
            let now = spawned + seconds * Self.second
            return Self.watch.silentNanos(
                now: now, lastHeartbeat: 0, spawned: spawned, watchingSince: spawned, monitorAwake: now)
        }
        #expect(silent(after: 2) == nil)
        #expect(silent(after: 10) == nil)
        #expect(silent(after: 11) == 11 * Self.second)
    }

    /// A monitor that has not woken lately means this process was not running: no judgement.
    @Test func noJudgementWhileTheMonitorIsNotAwake() {
        let now: UInt64 = 1000 * Self.second
        let gap = Self.watch.monitorGapNanos
        let args = (lastHeartbeat: now - 5 * Self.second, spawned: now - 9 * Self.second)
        #expect(
            Self.watch.silentNanos(
                now: now, lastHeartbeat: args.lastHeartbeat, spawned: args.spawned, watchingSince: args.spawned,
                monitorAwake: now - gap - 1) == nil)
        #expect(
            Self.watch.silentNanos(
                now: now, lastHeartbeat: args.lastHeartbeat, spawned: args.spawned, watchingSince: args.spawned,
                monitorAwake: 0) == nil)
        #expect(
            Self.watch.silentNanos(
                now: now, lastHeartbeat: args.lastHeartbeat, spawned: 0, watchingSince: args.spawned,
                monitorAwake: now) == nil)
        #expect(
            Self.watch.silentNanos(
                now: now, lastHeartbeat: args.lastHeartbeat, spawned: args.spawned, watchingSince: args.spawned,
                monitorAwake: now - gap) == 5 * Self.second)
    }

    /// The whole process stopped (Ctrl-Z) for 20 s and continued: the monitor's wake-up gap
    /// restarts the watch, so old heartbeats accuse nobody until the limit passes again with
    /// the monitor awake.
    @Test func aGapInTheMonitorRestartsTheWatch() {
        let second = Self.second
        let shared = PoolShared(workerCount: 1, stallTimeoutNanos: second, heartbeatNanos: second / 10, eventSink: nil)
        let t0: UInt64 = 1000 * second
        shared.data.withLock { state in
            state.pids[0] = 4242
            state.spawnNanos[0] = t0
            state.lastHeartbeatNanos[0] = t0 + second / 10
        }
        shared.monitorAwake(now: t0)
        shared.monitorAwake(now: t0 + second / 4)
        let resumed = t0 + 20 * second
        #expect(shared.unresponsiveWorkers(now: resumed).isEmpty, "monitor not awake yet after the stop")
        shared.monitorAwake(now: resumed)
        #expect(shared.unresponsiveWorkers(now: resumed + second / 2).isEmpty)
        shared.monitorAwake(now: resumed + second / 4)
        shared.monitorAwake(now: resumed + second / 2)
        shared.monitorAwake(now: resumed + second * 3 / 4)
        shared.monitorAwake(now: resumed + second)
        shared.monitorAwake(now: resumed + second * 5 / 4)
        let found = shared.unresponsiveWorkers(now: resumed + second * 5 / 4)
        #expect(found.map(\.worker) == [0])
        #expect(found.first?.pid == 4242)
        #expect(found.first?.silentNanos == resumed + second * 5 / 4 - (t0 + second / 10))
        // A dead worker, or one after stop began, is not "unresponsive".
        shared.data.withLock { $0.stopping = true }
        #expect(shared.unresponsiveWorkers(now: resumed + second * 5 / 4).isEmpty)
    }

    @Test func theErrorNamesWorkerPidSilenceAndWhatToDo() {
        let error = EngineError.workerUnresponsive(worker: 3, pid: 777, secondsSinceHeartbeat: 12.34, limitSeconds: 10)
        let text = error.description
        #expect(text.contains("worker 3 (pid 777) sent no heartbeat for 12.3 s (limit 10.0 s)"), "\(text)")
        #expect(text.contains("SIGSTOP"), "\(text)")
        #expect(text.contains("ps -o pid,stat,wchan -p 777"), "\(text)")
        #expect(text.contains("--stall-timeout"), "\(text)")
    }
}

/// Two workers with the short heartbeat settings, both up and heartbeating, and their router.
func startedHeartbeatPool() throws -> (WorkerManager, Router) {
    let manager = try WorkerManager(workerCount: 2, configuration: heartbeatConfiguration())
    try manager.start()
    var router = try Router(channels: manager.inputChannels)
    try router.awaitWorkers()
    #expect(waitForFirstHeartbeats(manager))
    return (manager, router)
}

@Suite struct HeartbeatAgeTests {
    /// A worker stopped with SIGSTOP while its queue is empty: the ring's stall watch cannot
    /// see it (nothing waits for it), the heartbeat-age check does, naming it; continued, it
    /// heartbeats again and the pool drains normally.
    @Test func sigstoppedWorkerWithAnEmptyQueueIsReportedAndRecoversWhenContinued() throws {
        var (manager, router) = try startedHeartbeatPool()
        let victim = manager.pids[0]
        try manager.checkHealth()
        #expect(kill(victim, SIGSTOP) == 0)
        var stopped = true
        defer { if stopped { kill(victim, SIGKILL) } }
        let failure = withWatchdog(killing: victim, after: 60) { awaitHealthFailure(manager) }
        guard case .workerUnresponsive(let worker, let pid, let seconds, let limit)? = failure else {
            Issue.record("expected workerUnresponsive, got \(String(describing: failure))")
            return
        }
        #expect(worker == 0)
        #expect(pid == victim)
        #expect(seconds >= 1.0)
        #expect(limit == 1.0)
        #expect(failure?.description.contains("worker 0 (pid \(victim)) sent no heartbeat") == true)
        #expect(!manager.isHealthy)
        #expect(manager.unresponsiveWorkers.map(\.worker) == [0])
        #expect(manager.unresponsiveWorkers.first?.pid == victim)
        #expect(manager.deadWorkers.isEmpty)
        // Nothing waited in its ring: the router saw no stall.
        try router.flush()
        #expect(router.failure == nil)

        #expect(kill(victim, SIGCONT) == 0)
        stopped = false
        #expect(waitUntil(seconds: 20) { manager.isHealthy }, "a continued worker heartbeats again")
        try manager.checkHealth()
        let result = try manager.stop(timeout: .seconds(10))
        #expect(result.allDrained)
    }

    /// `stop` kills an unresponsive (SIGSTOPped) worker at once instead of waiting 60 % of its
    /// budget for a drain that cannot come (SIGKILL, not the SIGTERM step), reaps it, and
    /// drains the other.
    @Test func stopKillsAnUnresponsiveWorkerAtOnce() throws {
        let (manager, _) = try startedHeartbeatPool()
        let victim = manager.pids[1]
        #expect(kill(victim, SIGSTOP) == 0)
        var stopped = true
        defer { if stopped { kill(victim, SIGKILL) } }
        let failure = withWatchdog(killing: victim, after: 60) { awaitHealthFailure(manager) }
        guard case .workerUnresponsive(1, victim, _, _)? = failure else {
            Issue.record("expected workerUnresponsive for worker 1, got \(String(describing: failure))")
            return
        }
        let result = try manager.stop(timeout: .seconds(30))
        stopped = false
        #expect(result.workers[1].stopStep == .killed)
        #expect(result.workers[1].exit == .signaled(signal: SIGKILL))
        #expect(result.workers[0].drained)
        #expect(!processExists(victim) || !isZombieChild(victim))
    }

    /// A worker wedged in a loop (the test-only hang record) after consuming everything: no
    /// signal involved, the heartbeat-age check still finds it.
    @Test func wedgedWorkerWithAnEmptyQueueIsReported() throws {
        var (manager, router) = try startedHeartbeatPool()
        let victim = manager.pids[0]
        try router.sendTestHang(worker: 0, ignoreTerm: false)
        #expect(waitUntil { manager.inputChannels[0].producer.unreadBytes == 0 })
        let failure = withWatchdog(killing: victim, after: 60) { awaitHealthFailure(manager) }
        guard case .workerUnresponsive(0, victim, let seconds, _)? = failure else {
            Issue.record("expected workerUnresponsive for worker 0, got \(String(describing: failure))")
            _ = try manager.stop(timeout: .seconds(2))
            return
        }
        #expect(seconds >= 1.0)
        let result = try manager.stop(timeout: .seconds(30))
        #expect(result.workers[0].stopStep == .killed)
        #expect(result.workers[1].drained)
    }

    /// Idle workers (no messages at all) keep heartbeating on their interval, so with the same
    /// short settings they are never reported over several stall-timeout periods.
    @Test func idleWorkersHeartbeatAndAreNotReported() throws {
        let beats = Mutex<[Int: Int]>([:])
        let manager = try WorkerManager(
            workerCount: 2,
            configuration: heartbeatConfiguration(sink: { event in
                if case .heartbeat(let worker, _, _, _) = event { beats.withLock { $0[worker, default: 0] += 1 } }
            }))
        try manager.start()
        var router = try Router(channels: manager.inputChannels)
        try router.awaitWorkers()
        #expect(waitForFirstHeartbeats(manager))
        let counted = beats.withLock { $0 }
        // 4 stall timeouts of idleness, checked every 20 ms.
        let idleUntil = ContinuousClock.now + .seconds(4)
        var reported: EngineError?
        while ContinuousClock.now < idleUntil && reported == nil {
            do throws(EngineError) { try manager.checkHealth() } catch { reported = error }
            usleep(20_000)
        }
        #expect(reported == nil, "\(String(describing: reported))")
        #expect(manager.isHealthy)
        #expect(manager.unresponsiveWorkers.isEmpty)
        // Several heartbeats each while idle (100 ms interval over 4 s; the count is not timed).
        #expect(
            waitUntil {
                beats.withLock { now in (0..<2).allSatisfy { now[$0, default: 0] >= counted[$0, default: 0] + 5 } }
            }
        )
        try router.flush()
        let result = try manager.stop(timeout: .seconds(10))
        #expect(result.allDrained)
    }

    @Test func checkHealthOutsideARunSaysSo() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: heartbeatConfiguration())
        #expect(manager.unresponsiveWorkers.isEmpty)
        #expect(throws: EngineError.self) { try manager.checkHealth() }
        #expect(manager.heartbeatAgeLimit == .seconds(1))
        #expect(try WorkerManager(workerCount: 1, configuration: testConfiguration()).heartbeatAgeLimit == .seconds(15))
    }
}

/// Regression: `replay run --heartbeat 1e9` trapped in `stop` (budget × 6 overflowed). Duration
/// arithmetic in the pool saturates.
@Test func poolDurationsSaturateInsteadOfTrapping() {
    #expect(WorkerManager.milliseconds(.seconds(Int64.max)) == Int.max)
    #expect(WorkerManager.nanoseconds(.seconds(Int64.max)) == .max)
    #expect(WorkerManager.nanoseconds(.milliseconds(1500)) == 1_500_000_000)
    #expect(WorkerManager.milliseconds(.zero) == 1)
    #expect(cappedNanos(milliseconds: Int.max) == 1 << 62)
}
