// The worker pool: spawns worker processes, watches them, collects their stats, and stops them
// with a drain-then-escalate sequence. The reference design's WorkerManager, with real OS
// processes, shared-memory channels and a stop that loses nothing.
import Book
import CShim
import Dispatch
public import Foundation
import Glibc
import Synchronization

/// A pool of worker processes, each owning a `BookStore` for the assets routed to it.
///
/// Usage: `let manager = try WorkerManager(workerCount: 2, configuration: .init())`,
/// `try manager.start()`, route with `Router(channels: manager.inputChannels, ...)`,
/// then `let result = try manager.stop(timeout: .seconds(5))`. The manager creates one input
/// channel per worker (a shared-memory ring) and one shared stats pipe; a monitor thread
/// notices any worker's exit at once (pidfd + poll) and drains the stats pipe. Not thread-safe:
/// call it from one thread (the monitor thread is internal).
public final class WorkerManager {
    /// How workers are started and how often they report.
    public struct Configuration: Sendable {
        /// The executable to run in worker mode; nil means this process's own (/proc/self/exe).
        public var executable: URL?
        /// Bytes of each worker's input ring (a power of two ≥ 64 KiB).
        public var ringCapacity: Int
        /// How often each worker sends a heartbeat on the stats pipe, idle or busy; a live worker
        /// silent for longer than `stallTimeout` (at least 3 intervals) is unresponsive.
        public var heartbeatInterval: Duration
        public var statsInterval: Duration
        /// Passed to each worker's BookStore.
        public var verifyExchangeHash: Bool
        /// How long an idle worker polls its ring before sleeping (0: sleep at once). A short
        /// spin lowers paced latency at the cost of CPU while idle.
        public var spinBeforeSleep: Duration
        /// How long a worker may leave messages in its ring without consuming any before the
        /// router fails with `EngineError.workerStalled` and `stop` kills it at once (a stopped
        /// or hung process would otherwise block the router forever). Progress is the ring's
        /// tail advancing, so a slow worker that keeps consuming, or an idle one with an empty
        /// ring, is never stalled. Default: 3 × `heartbeatInterval`, at least 10 s.
        ///
        /// Also the heartbeat-age limit (never below 3 × `heartbeatInterval`): a live worker that
        /// sends no heartbeat for longer is unresponsive (`isHealthy` false, `checkHealth()`
        /// throws `EngineError.workerUnresponsive`) even with an empty queue, and `stop` kills it
        /// at once.
        public var stallTimeout: Duration
        /// Receives warnings, worker starts/exits, heartbeats and stats (on the monitor thread).
        public var eventSink: (@Sendable (PoolEvent) -> Void)?

        public init(
            executable: URL? = nil, ringCapacity: Int = 8 << 20, heartbeatInterval: Duration = .seconds(5),
            statsInterval: Duration = .seconds(30), verifyExchangeHash: Bool = true,
            spinBeforeSleep: Duration = .zero, stallTimeout: Duration? = nil,
            eventSink: (@Sendable (PoolEvent) -> Void)? = nil
        ) {
            self.stallTimeout = stallTimeout ?? Self.defaultStallTimeout(heartbeatInterval: heartbeatInterval)
            self.spinBeforeSleep = spinBeforeSleep
            self.executable = executable
            self.ringCapacity = ringCapacity
            self.heartbeatInterval = heartbeatInterval
            self.statsInterval = statsInterval
            self.verifyExchangeHash = verifyExchangeHash
            self.eventSink = eventSink
        }

        /// 3 × the heartbeat interval, but at least 10 s.
        public static func defaultStallTimeout(heartbeatInterval: Duration) -> Duration {
            max(heartbeatInterval * 3, .seconds(10))
        }
    }

    public let workerCount: Int
    public let configuration: Configuration
    /// One input channel per worker, in worker order: pass them to `Router`.
    public let inputChannels: [WorkerChannel]
    /// Non-fatal remarks about the configuration (e.g. more workers than CPU cores).
    public private(set) var warnings: [String] = []

    let shared: PoolShared
    private var statsReadFD: Int32
    private var statsWriteFD: Int32
    private var monitorWakeFD: Int32
    private var monitorDone: DispatchSemaphore?
    private var started = false
    private var stopped = false

    /// Creates the channels (no processes yet). Throws for `workerCount < 1`.
    public init(workerCount: Int, configuration: Configuration = Configuration()) throws {
        guard workerCount >= 1 else { throw EngineError.invalidWorkerCount(workerCount) }
        guard configuration.ringCapacity >= RingLayout.minimumCapacity,
            configuration.ringCapacity & (configuration.ringCapacity - 1) == 0
        else {
            throw EngineError.invalidConfiguration(
                "ringCapacity must be a power of two of at least \(RingLayout.minimumCapacity) bytes, "
                    + "got \(configuration.ringCapacity)")
        }
        self.workerCount = workerCount
        self.configuration = configuration
        guard configuration.stallTimeout > .zero else {
            throw EngineError.invalidConfiguration("stallTimeout must be positive, got \(configuration.stallTimeout)")
        }
        shared = PoolShared(
            workerCount: workerCount,
            stallTimeoutNanos: Self.nanoseconds(configuration.stallTimeout),
            heartbeatNanos: Self.nanoseconds(configuration.heartbeatInterval),
            eventSink: configuration.eventSink)
        let cores = SystemCalls.onlineCPUCount
        if workerCount > cores {
            let warning =
                "\(workerCount) workers exceed the \(cores) CPU cores; "
                + "workers will compete for cores and context switches will cost throughput "
                + "(--workers \(cores) or fewer is usually faster)"
            warnings.append(warning)
            configuration.eventSink?(.warning(warning))
        }
        var channels: [WorkerChannel] = []
        var fds: [Int32] = []
        do {
            for index in 0..<workerCount {
                channels.append(try WorkerChannel(index: index, capacity: configuration.ringCapacity, pool: shared))
            }
            let stats = try SystemCalls.makePipe("creating the shared stats pipe")
            fds = [stats.read, stats.write]
            statsReadFD = stats.read
            statsWriteFD = stats.write
            monitorWakeFD = try SystemCalls.makeEventFD("creating the monitor's wake-up eventfd")
        } catch {
            channels.forEach { $0.closeAll() }
            fds.forEach(SystemCalls.close)
            throw error
        }
        _ = cshim_set_nonblocking(statsReadFD)
        // Workers never block on stats: a full pipe drops a periodic report (the final one
        // also travels on the reply pipe).
        _ = cshim_set_nonblocking(statsWriteFD)
        inputChannels = channels
    }

    deinit {
        if started && !stopped {
            // Abandoned without stop: kill and reap so nothing outlives the manager.
            _ = try? stop(timeout: .milliseconds(200))
        } else if !stopped {
            releaseResources()
        }
    }

    /// The worker processes' ids, in worker order (0 before start).
    public var pids: [Int32] { shared.data.withLock { $0.pids } }

    /// Spawns every worker (posix_spawn of the worker executable in `__worker` mode).
    /// Calling it twice is a no-op; a stopped pool cannot restart (make a new one).
    public func start() throws {
        if started { return }
        guard !stopped else { throw EngineError.notRunning("a stopped pool cannot be restarted; create a new one") }
        let executable = configuration.executable?.path ?? "/proc/self/exe"
        let plan = SpawnPlan(
            executable: executable, parentPID: getpid(), ringCapacity: configuration.ringCapacity,
            heartbeatMs: Self.milliseconds(configuration.heartbeatInterval),
            statsMs: Self.milliseconds(configuration.statsInterval),
            verifyExchangeHash: configuration.verifyExchangeHash,
            spinMicros: Int(configuration.spinBeforeSleep.components.seconds) * 1_000_000
                + Int(configuration.spinBeforeSleep.components.attoseconds / 1_000_000_000_000),
            channelFDs: inputChannels.map {
                [$0.ringFD, $0.dataWakeFD, $0.spaceWakeFD, $0.replyWriteFD]
            }, statsWriteFD: statsWriteFD, statsReadFD: statsReadFD, wakeFD: monitorWakeFD)
        // Spawn from the monitor thread: PR_SET_PDEATHSIG fires when the *thread* that spawned
        // a child exits, and the monitor thread lives exactly as long as the workers.
        let outcome = Mutex<Result<[Int32], EngineError>?>(nil)
        let spawned = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let shared = self.shared
        let thread = Thread {
            // Visible in /proc/<pid>/task/*/comm and debuggers (15 characters at most).
            _ = cshim_set_thread_name("polytape-pool")
            Monitor.run(
                plan: plan, shared: shared,
                spawned: { result in
                    outcome.withLock { $0 = result }
                    spawned.signal()
                })
            done.signal()
        }
        thread.start()
        spawned.wait()
        monitorDone = done
        started = true
        // The spawned workers hold their own copies now; the parent keeps only its ends (so a
        // reply pipe reaches end-of-file exactly when its worker exits).
        for channel in inputChannels {
            SystemCalls.close(channel.ringFD)
            channel.ringFD = -1
            SystemCalls.close(channel.replyWriteFD)
            channel.replyWriteFD = -1
        }
        SystemCalls.close(statsWriteFD)
        statsWriteFD = -1
        if case .failure(let error) = outcome.withLock({ $0 })! {
            _ = try? stop(timeout: .milliseconds(500))
            throw error
        }
    }

    /// Whole milliseconds, at least 1; saturates instead of trapping for huge durations.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = Int(seconds).multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? 1 : Int.max }
        return max(1, whole.addingReportingOverflow(Int(attoseconds / 1_000_000_000_000_000)).partialValue)
    }

    /// `duration` in nanoseconds, at least 1 ms, saturating at `UInt64.max`.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (product, overflow) = UInt64(milliseconds(duration)).multipliedReportingOverflow(by: 1_000_000)
        return overflow ? .max : product
    }

    /// True while started, not stopped, every worker is alive and none is unresponsive (see
    /// `unresponsiveWorkers`).
    public var isHealthy: Bool {
        guard started && !stopped else { return false }
        let alive = shared.data.withLock { state in
            state.exits.allSatisfy { $0 == nil } && state.pids.allSatisfy { $0 > 0 }
        }
        return alive && shared.unresponsiveWorkers(now: cshim_monotonic_ns()).isEmpty
    }

    /// How long a live worker may send no heartbeat before it is unresponsive: the stall
    /// timeout, but at least 3 heartbeat intervals (10 s at least before its first heartbeat).
    public var heartbeatAgeLimit: Duration {
        .nanoseconds(Int64(clamping: shared.heartbeatWatch.limitNanos))
    }

    /// Live workers that have sent no heartbeat (nor stats) for longer than `heartbeatAgeLimit`:
    /// stopped (SIGSTOP) or stuck, whether or not messages wait for them. Heartbeats come at the
    /// configured interval from idle and busy workers alike. Empty before start and after stop.
    public var unresponsiveWorkers: [(worker: Int, pid: Int32, secondsSinceHeartbeat: Double)] {
        guard started && !stopped else { return [] }
        return shared.unresponsiveWorkers(now: cshim_monotonic_ns()).map {
            ($0.worker, $0.pid, Double($0.silentNanos / 1_000_000) / 1000)
        }
    }

    /// The run loop's health check: throws `EngineError.workerDied` for the first worker that
    /// died before stop, else `EngineError.workerUnresponsive` for the longest-silent worker
    /// (see `unresponsiveWorkers`). Cheap (one lock, one clock read): call it between frames
    /// and while waiting.
    public func checkHealth() throws(EngineError) {
        guard started && !stopped else { throw .notRunning("checkHealth called before start or after stop") }
        if let dead = deadWorkers.first { throw .workerDied(worker: dead.worker, pid: dead.pid, exit: dead.exit) }
        let silent = shared.unresponsiveWorkers(now: cshim_monotonic_ns())
        if let worst = silent.max(by: { $0.silentNanos < $1.silentNanos }) {
            throw .workerUnresponsive(
                worker: worst.worker, pid: worst.pid,
                secondsSinceHeartbeat: Double(worst.silentNanos / 1_000_000) / 1000,
                limitSeconds: Double(shared.heartbeatWatch.limitNanos / 1_000_000) / 1000)
        }
    }

    /// Number of worker processes currently alive.
    public var aliveCount: Int {
        guard started else { return 0 }
        return shared.data.withLock { state in
            zip(state.pids, state.exits).filter { $0.0 > 0 && $0.1 == nil }.count
        }
    }

    /// Workers that died before `stop`: index, pid and how they ended.
    public var deadWorkers: [(worker: Int, pid: Int32, exit: ExitReason)] {
        shared.data.withLock { state in
            state.unexpectedDeaths.map { ($0, state.pids[$0], state.exits[$0]!) }
        }
    }

    /// The latest stats each worker reported (periodic report or heartbeat), by worker index.
    public func stats() -> [Int: WorkerStats] {
        shared.data.withLock { $0.latestStats }
    }

    /// Stops every worker: a stop marker travels behind the data already routed, so each worker
    /// applies everything, sends its final report and exits; workers still running after 60 %
    /// of `timeout` get SIGTERM, after 85 % SIGKILL. Every child is reaped before returning.
    /// Call after the router's last `flush()`; the channels are closed afterwards.
    public func stop(timeout: Duration = .seconds(10)) throws -> RunResult {
        guard started else { throw EngineError.notRunning("stop called before start") }
        guard !stopped else { throw EngineError.notRunning("stop was already called") }
        let begin = cshim_monotonic_ns()
        // Saturating: a huge timeout means "no deadline", never a trap.
        let budget = Self.nanoseconds(timeout)
        func after(_ nanos: UInt64) -> UInt64 {
            let (sum, overflow) = begin.addingReportingOverflow(nanos)
            return overflow ? .max : sum
        }
        let gracefulDeadline = after(budget / 10 * 6)
        let terminateDeadline = after(budget / 100 * 85)
        var steps = [StopStep](repeating: .drained, count: workerCount)
        // Judged before `stopping` is set (which ends the heartbeat watch).
        let unresponsive = Set(shared.unresponsiveWorkers(now: begin).map(\.worker))
        shared.data.withLock { state in
            state.stopping = true
            for index in 0..<workerCount where state.exits[index] != nil { steps[index] = .diedBeforeStop }
        }
        for channel in inputChannels where shared.isAlive(channel.index) && channel.isOpen {
            // A stalled worker (stopped or stuck with messages waiting) or an unresponsive one
            // (no heartbeat) would only burn the budget: kill it now. SIGKILL also ends a
            // stopped (SIGSTOP) process.
            if channel.stalledNanos(now: cshim_monotonic_ns()) != nil || unresponsive.contains(channel.index) {
                signal(worker: channel.index, SIGKILL, step: .killed, steps: &steps)
                continue
            }
            do {
                try channel.writeRecord(RecordCodec.controlRecord(kind: .stop), deadline: gracefulDeadline)
                channel.producer.publish()
            } catch EngineError.workerStalled {
                signal(worker: channel.index, SIGKILL, step: .killed, steps: &steps)
            } catch {
                continue  // dead or stuck: escalation below handles it
            }
        }
        collectReplies(until: gracefulDeadline)
        signalRemaining(SIGTERM, step: .terminated, steps: &steps)
        collectReplies(until: terminateDeadline)
        signalRemaining(SIGKILL, step: .killed, steps: &steps)
        // SIGKILL cannot be caught; wait for the monitor to reap (bounded by the budget plus a margin).
        collectReplies(until: max(after(budget), cshim_monotonic_ns() + 2_000_000_000))
        stopped = true
        SystemCalls.signalEventFD(monitorWakeFD)
        monitorDone?.wait()
        monitorDone = nil

        var results: [WorkerResult] = []
        let state = shared.data.withLock { $0 }
        for channel in inputChannels {
            let index = channel.index
            var stats = state.latestStats[index] ?? WorkerStats()
            var counters = BookCounters()
            var latency = LatencyHistogram()
            var books: [BookSummary] = []
            var drained = false
            if let payload = channel.takeFrame(.finalReport),
                let report = try? JSONDecoder().decode(FinalReport.self, from: Data(payload))
            {
                stats = report.stats
                counters = report.counters
                latency = report.latency
                books = report.books
                drained = steps[index] == .drained
            } else if steps[index] == .drained {
                steps[index] = .diedDuringStop
            }
            results.append(
                WorkerResult(
                    index: index, pid: state.pids[index], stats: stats, counters: counters, latency: latency,
                    books: books, exit: state.exits[index] ?? .signaled(signal: SIGKILL), stopStep: steps[index],
                    drained: drained))
        }
        releaseResources()
        return RunResult(workers: results, router: nil, stopNanos: cshim_monotonic_ns() - begin)
    }

    private func allReaped() -> Bool {
        shared.data.withLock { state in
            zip(state.pids, state.exits).allSatisfy { $0.0 <= 0 || $0.1 != nil }
        }
    }

    /// Reads reply pipes until every worker is reaped with its pipe at EOF, or `deadline`.
    private func collectReplies(until deadline: UInt64) {
        while true {
            let open = inputChannels.filter { !$0.replyEOF && $0.isOpen }
            if open.isEmpty && allReaped() { return }
            let now = cshim_monotonic_ns()
            if now >= deadline { return }
            var pfds = open.map { pollfd(fd: $0.replyReadFD, events: Int16(POLLIN), revents: 0) }
            let timeoutMs = Int32(min((deadline - now) / 1_000_000 + 1, 10))
            if pfds.isEmpty {
                var none = pollfd(fd: -1, events: 0, revents: 0)
                _ = poll(&none, 0, timeoutMs)
                continue
            }
            _ = poll(&pfds, nfds_t(pfds.count), timeoutMs)
            for (slot, channel) in open.enumerated() where pfds[slot].revents != 0 {
                channel.pumpReplies()
            }
        }
    }

    private func signal(worker index: Int, _ signal: Int32, step: StopStep, steps: inout [StopStep]) {
        // Under the lock the monitor cannot reap, so a live pid cannot be reused meanwhile.
        shared.data.withLock { state in
            guard state.pids[index] > 0 && state.exits[index] == nil else { return }
            kill(state.pids[index], signal)
            steps[index] = step
        }
    }

    private func signalRemaining(_ signal: Int32, step: StopStep, steps: inout [StopStep]) {
        // Under the lock the monitor cannot reap, so a live pid cannot be reused meanwhile.
        shared.data.withLock { state in
            for index in 0..<workerCount
            where state.pids[index] > 0 && state.exits[index] == nil && steps[index] != .killed {
                kill(state.pids[index], signal)
                steps[index] = step
            }
        }
    }

    private func releaseResources() {
        inputChannels.forEach { $0.closeAll() }
        for fd in [statsReadFD, statsWriteFD, monitorWakeFD] { SystemCalls.close(fd) }
        statsReadFD = -1
        statsWriteFD = -1
        monitorWakeFD = -1
    }

    // MARK: test hooks

    /// Test only: makes worker `index` stop reading its channel forever (optionally ignoring
    /// SIGTERM), to exercise stop's escalation.
    func sendTestHang(worker index: Int, ignoreTerm: Bool) throws {
        let channel = inputChannels[index]
        try channel.writeRecord(
            RecordCodec.controlRecord(kind: .testHang, flags: ignoreTerm ? 1 : 0),
            deadline: cshim_monotonic_ns() + 1_000_000_000)
        channel.producer.publish()
    }
}

/// Everything the monitor thread needs to spawn the workers (plain values: Sendable).
struct SpawnPlan: Sendable {
    var executable: String
    var parentPID: Int32
    var ringCapacity: Int
    var heartbeatMs: Int
    var statsMs: Int
    var verifyExchangeHash: Bool
    var spinMicros: Int
    /// Per worker: ring memfd, data eventfd, space eventfd, reply pipe write end.
    var channelFDs: [[Int32]]
    var statsWriteFD: Int32
    var statsReadFD: Int32
    var wakeFD: Int32
}

/// The pool's monitor thread: spawns the workers, then waits on their pidfds and the stats pipe.
enum Monitor {
    /// Fixed fd numbers in a worker: ring, data wake-up, space wake-up, reply pipe, stats pipe.
    static let workerFDs: [Int32] = [3, 4, 5, 6, 7]

    static func run(plan: SpawnPlan, shared: PoolShared, spawned: (Result<[Int32], EngineError>) -> Void) {
        var pidfds: [Int32] = Array(repeating: -1, count: plan.channelFDs.count)
        var pids: [Int32] = []
        var failure: EngineError?
        for index in plan.channelFDs.indices {
            do {
                let pid = try spawnWorker(index: index, plan: plan)
                pids.append(pid)
                pidfds[index] = cshim_pidfd_open(pid)
                let spawned = cshim_monotonic_ns()
                shared.data.withLock { state in
                    state.pids[index] = pid
                    state.spawnNanos[index] = spawned
                }
                shared.eventSink?(.workerStarted(worker: index, pid: pid))
            } catch {
                failure = error
                break
            }
        }
        spawned(failure.map { .failure($0) } ?? .success(pids))
        shared.monitorAwake(now: cshim_monotonic_ns())

        var statsBuffer: [UInt8] = []
        // Once every worker has exited the stats pipe reports end-of-file forever; it leaves
        // the poll set then, or the monitor would spin.
        var statsOpen = true
        while true {
            var pfds = [pollfd(fd: plan.wakeFD, events: Int16(POLLIN), revents: 0)]
            pfds.append(pollfd(fd: statsOpen ? plan.statsReadFD : -1, events: Int16(POLLIN), revents: 0))
            for fd in pidfds where fd >= 0 { pfds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            // The wake fd is only written when the pool has reaped everything or gives up. The
            // timeout keeps the heartbeat watch's view of this thread fresh (`monitorAwake`).
            if poll(&pfds, nfds_t(pfds.count), shared.heartbeatWatch.monitorPollMs) < 0 && errno != EINTR { break }
            shared.monitorAwake(now: cshim_monotonic_ns())
            if statsOpen && pfds[1].revents != 0 {
                statsOpen = drainStats(fd: plan.statsReadFD, buffer: &statsBuffer, shared: shared)
            }
            for index in pidfds.indices where pidfds[index] >= 0 {
                var ready = false
                for pfd in pfds.dropFirst(2) where pfd.fd == pidfds[index] && pfd.revents != 0 { ready = true }
                guard ready else { continue }
                reap(index: index, shared: shared)
                if shared.exitInfo(index) != nil {
                    SystemCalls.close(pidfds[index])
                    pidfds[index] = -1
                }
            }
            if pfds[0].revents != 0 { break }
        }
        if statsOpen { _ = drainStats(fd: plan.statsReadFD, buffer: &statsBuffer, shared: shared) }
        // Stop has sent SIGKILL to anything still running; a child whose pidfd could not be
        // opened still needs reaping. Blocking is bounded: SIGKILL cannot be ignored.
        for index in pidfds.indices where shared.exitInfo(index) == nil {
            reap(index: index, shared: shared, blocking: true)
        }
        pidfds.forEach(SystemCalls.close)
    }

    /// Reaps worker `index` if it has exited (waitpid under the shared lock, see `signalRemaining`).
    static func reap(index: Int, shared: PoolShared, blocking: Bool = false) {
        let event: PoolEvent? = shared.data.withLock { state in
            let pid = state.pids[index]
            guard pid > 0, state.exits[index] == nil else { return nil }
            var status: Int32 = 0
            var result: Int32
            repeat { result = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while result < 0 && errno == EINTR
            guard result == pid else { return nil }
            let exit: ExitReason =
                cshim_wifsignaled(status) != 0
                ? .signaled(signal: cshim_wtermsig(status)) : .exited(status: cshim_wexitstatus(status))
            state.exits[index] = exit
            if !state.stopping { state.unexpectedDeaths.append(index) }
            return .workerExited(worker: index, pid: pid, exit: exit, expected: state.stopping)
        }
        if let event { shared.eventSink?(event) }
    }

    /// Reads and applies every complete stats frame; returns false at end-of-file (no writers).
    static func drainStats(fd: Int32, buffer: inout [UInt8], shared: PoolShared) -> Bool {
        var result = 1
        while result > 0 { result = SystemCalls.readAvailable(fd, into: &buffer) }
        var offset = 0
        let decoder = JSONDecoder()
        let received = cshim_monotonic_ns()
        while offset + 2 <= buffer.count {
            let length = Int(buffer[offset]) | Int(buffer[offset + 1]) << 8
            guard offset + 2 + length <= buffer.count else { break }
            if let message = try? decoder.decode(
                StatsMessage.self, from: Data(buffer[(offset + 2)..<(offset + 2 + length)]))
            {
                // Any report is a sign of life (the heartbeat watch); a heartbeat is merely
                // the one sent when nothing else is due.
                shared.data.withLock { state in
                    state.latestStats[message.worker] = message.stats
                    if state.lastHeartbeatNanos.indices.contains(message.worker) {
                        state.lastHeartbeatNanos[message.worker] = received
                    }
                }
                let stats = message.stats
                switch message.kind {
                case .heartbeat:
                    shared.eventSink?(
                        .heartbeat(
                            worker: message.worker, bookCount: stats.bookCount,
                            memoryUsageBytes: stats.memoryUsageBytes, residentBytes: stats.residentBytes))
                case .stats, .final:
                    shared.eventSink?(.stats(worker: message.worker, stats))
                }
            }
            offset += 2 + length
        }
        buffer.removeFirst(offset)
        return result == -1
    }

    /// posix_spawn of one worker with its channel fds at 3...7 and nothing else inherited.
    static func spawnWorker(index: Int, plan: SpawnPlan) throws(EngineError) -> Int32 {
        // Move sources above every target first, so a dup2 onto 3...7 never clobbers a source.
        let sources = plan.channelFDs[index] + [plan.statsWriteFD]
        var high: [Int32] = []
        defer { high.forEach(SystemCalls.close) }
        for fd in sources {
            let copy = cshim_dup_cloexec_above(fd, 64)
            if copy < 0 {
                throw .systemCall(
                    name: "fcntl(F_DUPFD_CLOEXEC)", errno: errno, context: "preparing worker \(index)'s fds")
            }
            high.append(copy)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (source, target) in zip(high, workerFDs) {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        _ = withUnsafeMutablePointer(to: &actions) { cshim_spawn_addclosefrom($0, workerFDs.last! + 1) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // Each worker leads its own process group, so signals sent to the replay's group (Ctrl-C
        // at a terminal, `timeout`, `kill -- -PGID`, a CI job cancelled) reach only the parent,
        // which drains the workers and reports; the workers still die with it (PR_SET_PDEATHSIG).
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let arguments = [
            // argv[0] names the role (`ps` shows `polytape-worker __worker --index 0 …`, not
            // `/proc/self/exe`); the executable itself is `plan.executable`.
            "polytape-worker", WorkerProcess.modeArgument, "--index", "\(index)", "--parent", "\(plan.parentPID)",
            "--ring-capacity", "\(plan.ringCapacity)", "--heartbeat-ms", "\(plan.heartbeatMs)",
            "--stats-ms", "\(plan.statsMs)", "--verify-hash", plan.verifyExchangeHash ? "1" : "0",
            "--spin-us", "\(plan.spinMicros)",
        ]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, plan.executable, &actions, &attributes, argv, environ)
        if result != 0 { throw .spawnFailed(worker: index, executable: plan.executable, errno: result) }
        return pid
    }
}
