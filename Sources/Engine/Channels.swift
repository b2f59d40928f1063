// The parent's side of one worker: its input ring (producer end), wake-up eventfds and reply
// pipe, plus the state the pool's monitor thread shares with the router.
import Book
import CShim
import Foundation
import Glibc
import Synchronization

/// What the pool's monitor thread and the callers share: pids, exits, latest stats.
final class PoolShared: Sendable {
    struct Data {
        var pids: [Int32]
        var exits: [ExitReason?]
        var stopping = false
        var latestStats: [Int: WorkerStats] = [:]
        /// Workers that died before stop, in the order noticed.
        var unexpectedDeaths: [Int] = []
        /// CLOCK_MONOTONIC ns at which the monitor last read a stats-pipe message (heartbeat,
        /// stats or final) from each worker; 0 before the first.
        var lastHeartbeatNanos: [UInt64]
        /// When each worker was spawned: the reference before its first heartbeat (0: not yet).
        var spawnNanos: [UInt64]
        /// The monitor thread's last wake-up, and since when it has woken without a gap (see
        /// `HeartbeatWatch`); 0 before its loop starts.
        var monitorAwakeNanos: UInt64 = 0
        var watchingSinceNanos: UInt64 = 0
    }

    let data: Mutex<Data>
    let eventSink: (@Sendable (PoolEvent) -> Void)?
    /// `Configuration.stallTimeout` in ns: how long a worker may leave bytes in its ring without
    /// releasing any before the router gives up on it (`EngineError.workerStalled`).
    let stallTimeoutNanos: UInt64
    /// The heartbeat-age rule (`EngineError.workerUnresponsive`).
    let heartbeatWatch: HeartbeatWatch

    init(
        workerCount: Int, stallTimeoutNanos: UInt64 = .max, heartbeatNanos: UInt64 = 5_000_000_000,
        eventSink: (@Sendable (PoolEvent) -> Void)?
    ) {
        data = Mutex(
            Data(
                pids: Array(repeating: 0, count: workerCount), exits: Array(repeating: nil, count: workerCount),
                lastHeartbeatNanos: Array(repeating: 0, count: workerCount),
                spawnNanos: Array(repeating: 0, count: workerCount)))
        self.stallTimeoutNanos = stallTimeoutNanos
        heartbeatWatch = HeartbeatWatch(stallTimeoutNanos: stallTimeoutNanos, heartbeatNanos: heartbeatNanos)
        self.eventSink = eventSink
    }

    /// Called by the monitor thread on every wake-up: a gap longer than the watch allows means
    /// this process was not running (stopped with Ctrl-Z, starved of CPU), so heartbeat ages
    /// count again from now.
    func monitorAwake(now: UInt64) {
        data.withLock { state in
            if state.monitorAwakeNanos == 0 || now &- state.monitorAwakeNanos > heartbeatWatch.monitorGapNanos {
                state.watchingSinceNanos = now
            }
            state.monitorAwakeNanos = now
        }
    }

    /// Live workers whose last heartbeat is older than the watch's limit, with the ns since it
    /// (since the spawn before the first one). Empty once stop has begun.
    func unresponsiveWorkers(now: UInt64) -> [(worker: Int, pid: Int32, silentNanos: UInt64)] {
        data.withLock { state in
            guard !state.stopping else { return [] }
            var found: [(worker: Int, pid: Int32, silentNanos: UInt64)] = []
            for index in state.pids.indices where state.pids[index] > 0 && state.exits[index] == nil {
                if let silent = heartbeatWatch.silentNanos(
                    now: now, lastHeartbeat: state.lastHeartbeatNanos[index], spawned: state.spawnNanos[index],
                    watchingSince: state.watchingSinceNanos, monitorAwake: state.monitorAwakeNanos)
                {
                    found.append((index, state.pids[index], silent))
                }
            }
            return found
        }
    }

    func pid(_ worker: Int) -> Int32 {
        data.withLock { $0.pids[worker] }
    }

    func isAlive(_ worker: Int) -> Bool {
        data.withLock { $0.pids[worker] > 0 && $0.exits[worker] == nil }
    }

    func exitInfo(_ worker: Int) -> (pid: Int32, exit: ExitReason)? {
        data.withLock { state in state.exits[worker].map { (state.pids[worker], $0) } }
    }

    /// The first worker that has exited before stop began, if any.
    func firstEarlyExit() -> (worker: Int, pid: Int32, exit: ExitReason)? {
        data.withLock { state in
            guard !state.stopping else { return nil }
            for index in state.exits.indices {
                if let exit = state.exits[index] { return (index, state.pids[index], exit) }
            }
            return nil
        }
    }
}

/// The heartbeat-age health rule, a pure function of times so that it can be tested without
/// processes. Workers send a heartbeat on the stats pipe every heartbeat interval, idle or busy;
/// a live worker whose last one is older than `limitNanos` is stopped (SIGSTOP) or stuck even
/// if its queue is empty, which the ring's stall watch cannot see.
///
/// It must not accuse a healthy worker, so it judges only what this process could observe:
/// before a worker's first heartbeat the limit is at least 10 s (process start-up on a loaded
/// machine); and ages count only from the moment the monitor thread has been waking without a
/// gap (a parent stopped with Ctrl-Z, or starved of CPU, reads no heartbeats either, and its
/// workers were stopped with it), and not at all while the monitor has not woken recently.
struct HeartbeatWatch: Sendable, Equatable {
    /// The stall timeout, but at least 3 heartbeat intervals (with a short explicit stall
    /// timeout, silence between two heartbeats is normal).
    let limitNanos: UInt64
    /// The limit before a worker's first heartbeat.
    let startupLimitNanos: UInt64
    /// How long the monitor thread waits in poll at most (a quarter of the limit, 10 ms to 1 s).
    let monitorPollMs: Int32
    /// A monitor wake-up gap longer than this restarts the watch (twice the poll timeout).
    let monitorGapNanos: UInt64

    static let minimumStartupNanos: UInt64 = 10_000_000_000

    init(stallTimeoutNanos: UInt64, heartbeatNanos: UInt64) {
        let threeBeats = heartbeatNanos.multipliedReportingOverflow(by: 3)
        limitNanos = max(stallTimeoutNanos, threeBeats.overflow ? .max : threeBeats.partialValue)
        startupLimitNanos = max(limitNanos, Self.minimumStartupNanos)
        monitorPollMs = Int32(min(1000, max(10, limitNanos / 4 / 1_000_000)))
        monitorGapNanos = UInt64(monitorPollMs) * 2_000_000
    }

    /// Ns since the worker's last heartbeat (or its spawn, before the first) when that breaks
    /// the limit; nil while it is within it, or when the watch cannot judge (not spawned, the
    /// monitor not awake recently).
    func silentNanos(
        now: UInt64, lastHeartbeat: UInt64, spawned: UInt64, watchingSince: UInt64, monitorAwake: UInt64
    ) -> UInt64? {
        guard spawned > 0, monitorAwake > 0, now >= monitorAwake, now - monitorAwake <= monitorGapNanos else {
            return nil
        }
        let lastSign = lastHeartbeat > 0 ? lastHeartbeat : spawned
        let watchedFrom = max(lastSign, watchingSince)
        guard now > watchedFrom else { return nil }
        let limit = lastHeartbeat > 0 ? limitNanos : startupLimitNanos
        return now - watchedFrom > limit ? now - lastSign : nil
    }
}

/// Reply frames a worker writes on its reply pipe: [u32 payload length][u8 type][payload].
enum ReplyType: UInt8 {
    case queryAnswer = 1
    case finalReport = 2
}

/// The input channel of one worker, created by `WorkerManager` and handed to `Router`. Not
/// thread-safe: one thread at a time writes to a channel (the router's thread; `stop` after
/// the router is done).
public final class WorkerChannel {
    /// The worker this channel feeds (0-based).
    public let index: Int
    let ring: SharedRing
    /// The producer state lives at a stable address shared by the router and `stop`, so the
    /// hot path mutates it without exclusivity checks and `stop` sees the router's last writes.
    let producerPointer: UnsafeMutablePointer<RingProducer>
    var producer: RingProducer {
        unsafeAddress { UnsafePointer(producerPointer) }
        unsafeMutableAddress { producerPointer }
    }
    let pool: PoolShared
    /// fds: the ring memfd and the worker's ends are closed once the worker is spawned.
    var ringFD: Int32
    let dataWakeFD: Int32
    let spaceWakeFD: Int32
    let replyReadFD: Int32
    var replyWriteFD: Int32
    var isOpen = true
    var replyBuffer: [UInt8] = []
    var replyEOF = false

    init(index: Int, capacity: Int, pool: PoolShared) throws(EngineError) {
        self.index = index
        self.pool = pool
        let (ring, fd) = try SharedRing.create(capacity: capacity, name: "polytape-ring-\(index)")
        var opened: [Int32] = [fd]
        do {
            let data = try SystemCalls.makeEventFD("creating worker \(index)'s wake-up eventfd")
            opened.append(data)
            let space = try SystemCalls.makeEventFD("creating worker \(index)'s space eventfd")
            opened.append(space)
            let reply = try SystemCalls.makePipe("creating worker \(index)'s reply pipe")
            self.ring = ring
            ringFD = fd
            dataWakeFD = data
            spaceWakeFD = space
            replyReadFD = reply.read
            replyWriteFD = reply.write
            producerPointer = .allocate(capacity: 1)
            producerPointer.initialize(to: RingProducer(ring: ring, dataWakeFD: data, spaceWakeFD: space))
            _ = cshim_set_nonblocking(replyReadFD)
        } catch {
            opened.forEach(SystemCalls.close)
            throw error
        }
    }

    deinit {
        producerPointer.deinitialize(count: 1)
        producerPointer.deallocate()
    }

    /// Closes every fd. The mapping stays until the last reference goes away.
    func closeAll() {
        isOpen = false
        producer.isClosed = true
        for fd in [ringFD, dataWakeFD, spaceWakeFD, replyReadFD, replyWriteFD] { SystemCalls.close(fd) }
        ringFD = -1
        replyWriteFD = -1
    }

    func workerDiedError() -> EngineError {
        if let (pid, exit) = pool.exitInfo(index) { return .workerDied(worker: index, pid: pid, exit: exit) }
        return .notRunning("worker \(index) is not running")
    }

    /// The error for a worker that released nothing for `nanos` while bytes waited in its ring
    /// (a dead one is reported as dead instead).
    func workerStalledError(nanos: UInt64) -> EngineError {
        if !pool.isAlive(index) { return workerDiedError() }
        return .workerStalled(worker: index, pid: pool.pid(index), seconds: Double(nanos / 1_000_000) / 1000)
    }

    /// True when the worker has left bytes in its ring unread for at least the pool's stall
    /// timeout (see `RingProducer.pendingNanos`); then `stalledNanos` says for how long.
    func stalledNanos(now: UInt64) -> UInt64? {
        let pending = producer.pendingNanos(now: now)
        return pending >= pool.stallTimeoutNanos ? pending : nil
    }

    /// Writes one prebuilt record (a control message), waiting for space until `deadline`.
    func writeRecord(_ bytes: [UInt8], deadline: UInt64) throws(EngineError) {
        guard isOpen else { throw .notRunning("channel \(index) is closed (the pool was stopped)") }
        guard bytes.count <= ring.maxRecordSize else {
            throw .messageTooLarge(bytes: bytes.count, limit: ring.maxRecordSize, asset: "(control)")
        }
        let needed = producer.bytesNeeded(bytes.count)
        if !producer.hasSpace(needed) {
            let pool = self.pool
            let index = self.index
            switch producer.waitForSpace(
                needed, deadline: deadline, stallNanos: pool.stallTimeoutNanos, isAlive: { pool.isAlive(index) })
            {
            case .ready: break
            case .consumerGone: throw workerDiedError()
            case .stalled(let nanos): throw workerStalledError(nanos: nanos)
            case .timedOut:
                if !pool.isAlive(index) { throw workerDiedError() }
                throw .timedOut(worker: index, what: "a control message (its channel stayed full)")
            }
        }
        let target = producer.claim(bytes.count)
        bytes.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        producer.commit(bytes.count)
    }

    /// Reads the reply pipe until a frame of `type` arrives (other frames are kept), or the
    /// worker dies, or `deadline` passes.
    func awaitReply(_ type: ReplyType, deadline: UInt64) throws(EngineError) -> [UInt8] {
        while true {
            if let frame = takeFrame(type) { return frame }
            if replyEOF {
                // The pipe closes as the process ends, a moment before the pool reaps it: wait
                // for the exit (briefly) so that the error says how the worker died.
                let reapDeadline = cshim_monotonic_ns() + 1_000_000_000
                while pool.exitInfo(index) == nil && cshim_monotonic_ns() < reapDeadline { usleep(1_000) }
                if let (pid, exit) = pool.exitInfo(index) { throw .workerDied(worker: index, pid: pid, exit: exit) }
                throw .badReply(worker: index, detail: "reply pipe closed")
            }
            let now = cshim_monotonic_ns()
            if now >= deadline { throw .timedOut(worker: index, what: "a reply") }
            if SystemCalls.waitReadable(replyReadFD, timeoutMs: Int32(min((deadline - now) / 1_000_000 + 1, 50))) {
                pumpReplies()
            } else if !pool.isAlive(index) {
                pumpReplies()
                if takeFrame(type) == nil, let (pid, exit) = pool.exitInfo(index) {
                    throw .workerDied(worker: index, pid: pid, exit: exit)
                }
            }
        }
    }

    /// Reads whatever the reply pipe holds without blocking.
    func pumpReplies() {
        while !replyEOF {
            let result = SystemCalls.readAvailable(replyReadFD, into: &replyBuffer)
            if result == 0 || result == -2 { replyEOF = true }
            if result <= 0 { return }
        }
    }

    /// Removes and returns the payload of the first complete frame of `type`.
    func takeFrame(_ type: ReplyType) -> [UInt8]? {
        var offset = 0
        while offset + 5 <= replyBuffer.count {
            let length =
                Int(replyBuffer[offset]) | Int(replyBuffer[offset + 1]) << 8 | Int(replyBuffer[offset + 2]) << 16
                | Int(replyBuffer[offset + 3]) << 24
            guard offset + 5 + length <= replyBuffer.count else { return nil }
            if replyBuffer[offset + 4] == type.rawValue {
                let payload = Array(replyBuffer[(offset + 5)..<(offset + 5 + length)])
                replyBuffer.removeSubrange(offset..<(offset + 5 + length))
                return payload
            }
            offset += 5 + length
        }
        return nil
    }
}

/// Encodes reply and stats frames (worker side).
enum Framing {
    static func replyFrame(_ type: ReplyType, _ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        var frame: [UInt8] = [
            UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24),
            type.rawValue,
        ]
        frame.append(contentsOf: payload)
        return frame
    }

    /// A stats-pipe frame: [u16 length][JSON]; nil when it would exceed PIPE_BUF (not atomic).
    static func statsFrame(_ payload: [UInt8]) -> [UInt8]? {
        guard payload.count + 2 <= Int(cshim_pipe_buf()) else { return nil }
        return [UInt8(payload.count & 0xFF), UInt8(payload.count >> 8)] + payload
    }
}

/// A message on the shared stats pipe.
struct StatsMessage: Codable {
    enum Kind: String, Codable {
        case heartbeat, stats, final
    }
    var worker: Int
    var kind: Kind
    var stats: WorkerStats
}

/// A query answer on a reply pipe.
struct QueryAnswer: Codable {
    var requestID: UInt64
    var summary: BookSummary?
}

/// The final report a worker sends after draining.
struct FinalReport: Codable {
    var stats: WorkerStats
    var counters: BookCounters
    var latency: LatencyHistogram
    var books: [BookSummary]
}
