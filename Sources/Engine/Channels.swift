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
    }

    let data: Mutex<Data>
    let eventSink: (@Sendable (PoolEvent) -> Void)?
    /// `Configuration.stallTimeout` in ns: how long a worker may leave bytes in its ring without
    /// releasing any before the router gives up on it (`EngineError.workerStalled`).
    let stallTimeoutNanos: UInt64

    init(workerCount: Int, stallTimeoutNanos: UInt64 = .max, eventSink: (@Sendable (PoolEvent) -> Void)?) {
        data = Mutex(
            Data(pids: Array(repeating: 0, count: workerCount), exits: Array(repeating: nil, count: workerCount)))
        self.stallTimeoutNanos = stallTimeoutNanos
        self.eventSink = eventSink
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
