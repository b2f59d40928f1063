// Entry point of a worker process. The `replay` binary re-executes itself with the hidden
// first argument `__worker`; main.swift hands control here before anything else runs.
import Book
import CShim
import Feed
import Foundation
import Glibc

/// The worker process's main function (hidden `__worker` mode of the `replay` binary).
///
/// A worker maps its input ring (fd 3), sleeps on its wake-up eventfd (fd 4) when the ring is
/// empty, frees space and wakes a blocked router through fd 5, answers queries and sends its
/// final report on its reply pipe (fd 6), and sends heartbeats (one at start-up, then every
/// heartbeat interval whether idle or busy) and periodic stats on the shared stats pipe
/// (fd 7). It ignores SIGINT (the parent coordinates shutdown) and dies with its parent
/// (PR_SET_PDEATHSIG).
public enum WorkerProcess {
    /// The hidden first argument that selects worker mode.
    public static let modeArgument = "__worker"

    struct Options {
        var index = 0
        var parent: Int32 = 0
        var ringCapacity = 0
        var heartbeatMs = 5000
        var statsMs = 30000
        var verifyExchangeHash = true
        var spinMicros = 0

        init(_ arguments: [String]) throws(EngineError) {
            var iterator = arguments.makeIterator()
            while let name = iterator.next() {
                guard let value = iterator.next(), let number = Int(value) else {
                    throw .invalidConfiguration("worker argument \(name) needs a number")
                }
                switch name {
                case "--index": index = number
                case "--parent": parent = Int32(number)
                case "--ring-capacity": ringCapacity = number
                case "--heartbeat-ms": heartbeatMs = max(1, number)
                case "--stats-ms": statsMs = max(1, number)
                case "--verify-hash": verifyExchangeHash = number != 0
                case "--spin-us": spinMicros = max(0, number)
                default: throw .invalidConfiguration("unknown worker argument \(name)")
                }
            }
        }
    }

    /// Runs a worker until it is told to stop; returns the process exit status
    /// (0 after a drained stop; 64 bad arguments; 70 setup failure or orphaned at birth).
    public static func main(arguments: [String]) -> Int32 {
        _ = cshim_ignore_signal(SIGINT)
        _ = cshim_ignore_signal(SIGPIPE)
        _ = cshim_set_parent_death_signal(SIGKILL)
        let options: Options
        do { options = try Options(arguments) } catch { return 64 }
        // The parent may have died before PR_SET_PDEATHSIG took effect.
        if options.parent != 0 && getppid() != options.parent { return 70 }
        let ring: SharedRing
        do { ring = try SharedRing(fd: 3, capacity: options.ringCapacity) } catch { return 70 }
        Glibc.close(3)
        var loop = WorkerLoop(
            core: WorkerCore(index: options.index, verifyExchangeHash: options.verifyExchangeHash),
            consumer: RingConsumer(ring: ring, dataWakeFD: 4, spaceWakeFD: 5), replyFD: 6, statsFD: 7,
            heartbeatNanos: cappedNanos(milliseconds: options.heartbeatMs),
            statsNanos: cappedNanos(milliseconds: options.statsMs), spinNanos: UInt64(options.spinMicros) * 1000)
        return loop.run()
    }
}

/// What the worker loop does after one record.
enum WorkerAction {
    case proceed
    case reply([UInt8])
    case stop
    case hang(ignoreTerm: Bool)
}

/// A worker's state and message handling, independent of processes and rings so it can be
/// tested in-process: applies data records to the BookStore and keeps stats and latency.
struct WorkerCore {
    let index: Int
    let store: BookStore
    var stats = WorkerStats()
    var latency = LatencyHistogram()
    /// Start of the current timing interval (see `settle()`).
    var clock: UInt64 = 0
    /// Enqueue stamps of applied records whose applied time has not been read yet.
    var unsettled = [UInt64](repeating: 0, count: WorkerCore.clockEvery)
    var unsettledCount = 0
    static let clockEvery = 8

    init(index: Int, verifyExchangeHash: Bool) {
        self.index = index
        store = BookStore(options: BookStore.Options(verifyExchangeHash: verifyExchangeHash))
    }

    /// Handles one decoded record (control records, and data records other than books and
    /// price changes; see `handleRecord(at:)`).
    mutating func handle(_ record: DecodedRecord, enqueueNanos: UInt64) -> WorkerAction {
        if !record.isData { settle() }
        switch record {
        case .book(let event):
            if store.apply(event) == .applied { stats.updatesApplied += 1 }
            stats.snapshotsReceived += 1
        case .priceChange(let event):
            // Only changes that reach a book count as applied (not those before any snapshot).
            if store.apply(event) == .applied { stats.updatesApplied += 1 }
            stats.priceChanges += 1
        case .lastTrade(let event):
            store.apply(event)
            stats.lastTrades += 1
        case .marketTrade(let event):
            store.applyMarketTrade(event)
            stats.controlMessages += 1
            return .proceed
        case .tickSizeChange(let event):
            if store.apply(event) == .applied { stats.updatesApplied += 1 }
            stats.tickSizeChanges += 1
        case .bestBidAsk(let event):
            store.apply(event)
            stats.bestBidAsks += 1
        case .other:
            stats.otherEvents += 1
        case .sideData(let assetID, let json):
            defer { clock = cshim_monotonic_ns() }
            stats.controlMessages += 1
            if let data = try? JSONDecoder().decode(MarketSideData.self, from: Data(json)) {
                store.setSideData(data, forAsset: String(decoding: assetID, as: UTF8.self))
            }
            return .proceed
        case .invalidate(let assetIDs):
            defer { clock = cshim_monotonic_ns() }
            stats.controlMessages += 1
            store.invalidate(assetIDs: assetIDs)
            return .proceed
        case .query(let requestID, let assetID, let depth):
            defer { clock = cshim_monotonic_ns() }
            stats.controlMessages += 1
            let summary = store.summary(assetID: String(decoding: assetID, as: UTF8.self), depth: depth)
            let payload = (try? JSONEncoder().encode(QueryAnswer(requestID: requestID, summary: summary))) ?? Data()
            return .reply(Framing.replyFrame(.queryAnswer, [UInt8](payload)))
        case .stop:
            return .stop
        case .testHang(let ignoreTerm):
            return .hang(ignoreTerm: ignoreTerm)
        case .testExit(let status):
            exit(Int32(status))
        case .unknown:
            stats.controlMessages += 1
            return .proceed
        }
        finishDataMessage(enqueueNanos: enqueueNanos)
        return .proceed
    }

    /// Handles the record at `record`: book and price-change records (nearly all traffic) are
    /// applied straight from the ring; everything else goes through `DecodedRecord`.
    @inline(__always)
    mutating func handleRecord(at record: UnsafeRawPointer) -> WorkerAction {
        let header = RecordCodec.header(at: record)
        switch header.kind {
        case RecordKind.priceChange.rawValue:
            store.currentInputLine = Int(RecordCodec.inputLine(at: record, kind: header.kind))
            let slot = RecordCodec.assetSlot(at: record, kind: header.kind)
            if store.apply(RecordCodec.priceChange(at: record, assetLength: Int(header.assetLength)), slot: slot)
                == .applied
            {
                stats.updatesApplied += 1
            }
            stats.priceChanges += 1
        case RecordKind.book.rawValue:
            store.currentInputLine = Int(RecordCodec.inputLine(at: record, kind: header.kind))
            let slot = RecordCodec.assetSlot(at: record, kind: header.kind)
            if store.apply(RecordCodec.book(at: record, assetLength: Int(header.assetLength)), slot: slot) == .applied {
                stats.updatesApplied += 1
            }
            stats.snapshotsReceived += 1
        default:
            return handle(RecordCodec.decode(at: record).record, enqueueNanos: header.enqueueNanos)
        }
        finishDataMessage(enqueueNanos: header.enqueueNanos)
        return .proceed
    }

    @inline(__always)
    mutating func finishDataMessage(enqueueNanos: UInt64) {
        stats.messagesProcessed += 1
        unsettled[unsettledCount] = enqueueNanos
        unsettledCount += 1
        if unsettledCount == WorkerCore.clockEvery { settle() }
    }

    /// Starts timing a run of records (after the worker wakes or finds data).
    mutating func beginTiming() {
        clock = cshim_monotonic_ns()
    }

    /// Reads the clock once for the records applied since the last read: each gets that time as
    /// its "applied" time (so latency is never understated, and overstated by at most
    /// `clockEvery − 1` records' apply time), and the interval goes to processing time. One
    /// clock read per record cost ~12 % of a worker's time on this VM.
    mutating func settle() {
        guard unsettledCount > 0 else { return }
        let end = cshim_monotonic_ns()
        stats.processingTimeNanos &+= end &- clock
        stats.lastMessageMonotonicNanos = end
        for slot in 0..<unsettledCount { latency.record(end &- unsettled[slot]) }
        unsettledCount = 0
        clock = end
    }

    /// Refreshes book count and memory (the heartbeat's job).
    mutating func refreshGauges() {
        settle()
        stats.bookCount = store.bookCount
        stats.memoryUsageBytes = store.memoryEstimate
        stats.residentBytes = WorkerCore.residentBytes()
    }

    func finalReport() -> FinalReport {
        FinalReport(stats: stats, counters: store.counters, latency: latency, books: store.summaries())
    }

    /// RSS from /proc/self/statm (second field, in pages). Read with read(2): /proc files
    /// report size 0, so size-based readers may return nothing.
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 255) }
        guard count > 0 else { return 0 }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// The worker's main loop: drain the ring, apply, release space in batches, sleep when empty,
/// and send heartbeats/stats on time.
struct WorkerLoop {
    var core: WorkerCore
    var consumer: RingConsumer
    let replyFD: Int32
    let statsFD: Int32
    let heartbeatNanos: UInt64
    let statsNanos: UInt64
    let spinNanos: UInt64

    /// Records between tail publications while draining (frees space for the router early).
    static let releaseEvery = 64

    init(
        core: WorkerCore, consumer: RingConsumer, replyFD: Int32, statsFD: Int32, heartbeatNanos: UInt64,
        statsNanos: UInt64, spinNanos: UInt64 = 0
    ) {
        self.spinNanos = spinNanos
        self.core = core
        self.consumer = consumer
        self.replyFD = replyFD
        self.statsFD = statsFD
        self.heartbeatNanos = heartbeatNanos
        self.statsNanos = statsNanos
    }

    mutating func run() -> Int32 {
        var now = cshim_monotonic_ns()
        // The first heartbeat says "up" at once: the pool's heartbeat watch then judges this
        // worker by the heartbeat limit instead of the longer start-up one.
        core.refreshGauges()
        send(.heartbeat)
        var nextHeartbeat = now + heartbeatNanos
        var nextStats = now + statsNanos
        while true {
            if consumer.refresh() {
                var handled = 0
                core.beginTiming()
                while let record = consumer.next() {
                    let length = Int(record.load(as: UInt32.self))
                    let action = core.handleRecord(at: record)
                    consumer.advance(length)
                    handled += 1
                    if handled % WorkerLoop.releaseEvery == 0 {
                        consumer.release()
                        // A long batch (a full ring of records checking exchange hashes can take
                        // seconds) must not silence the heartbeat. `core.clock` was read at most
                        // 8 records ago, so this costs no clock read.
                        if core.clock >= nextHeartbeat {
                            core.refreshGauges()
                            send(.heartbeat)
                            nextHeartbeat = core.clock + heartbeatNanos
                            core.beginTiming()  // the gauges' cost is not processing time
                        }
                    }
                    switch action {
                    case .proceed:
                        continue
                    case .reply(let frame):
                        frame.withUnsafeBytes { _ = SystemCalls.writeAll(replyFD, $0) }
                        core.beginTiming()
                    case .stop:
                        consumer.release()
                        return finish()
                    case .hang(let ignoreTerm):
                        consumer.release()
                        if ignoreTerm { _ = cshim_ignore_signal(SIGTERM) }
                        while true { pause() }
                    }
                }
                core.settle()
                consumer.release()
            }
            now = cshim_monotonic_ns()
            if now >= nextHeartbeat {
                core.refreshGauges()
                send(.heartbeat)
                nextHeartbeat = now + heartbeatNanos
            }
            if now >= nextStats {
                core.refreshGauges()
                send(.stats)
                nextStats = now + statsNanos
            }
            if !consumer.refresh() && !spinForData(until: now &+ spinNanos) {
                let wait = min(nextHeartbeat, nextStats) &- now
                consumer.sleep(timeoutMs: Int32(min(wait / 1_000_000 + 1, 1000)))
            }
        }
    }

    /// Polls the ring for up to `spinNanos` before sleeping: a frame that arrives within the
    /// window is applied without a wake-up (a sleeping worker costs the router an eventfd write
    /// and the frame a scheduler wake-up). Returns true when data arrived.
    mutating func spinForData(until deadline: UInt64) -> Bool {
        guard spinNanos > 0 else { return false }
        var checks = 0
        while true {
            if consumer.refresh() { return true }
            checks += 1
            if checks & 63 == 0 && cshim_monotonic_ns() >= deadline { return false }
        }
    }

    /// Best effort: a full stats pipe drops the report (the final one also goes on the reply pipe).
    func send(_ kind: StatsMessage.Kind) {
        guard let payload = try? JSONEncoder().encode(StatsMessage(worker: core.index, kind: kind, stats: core.stats)),
            let frame = Framing.statsFrame([UInt8](payload))
        else { return }
        frame.withUnsafeBytes { bytes in
            while Glibc.write(statsFD, bytes.baseAddress, bytes.count) < 0 && errno == EINTR {}
        }
    }

    mutating func finish() -> Int32 {
        core.refreshGauges()
        let report = core.finalReport()
        let payload = (try? JSONEncoder().encode(report)) ?? Data()
        let frame = Framing.replyFrame(.finalReport, [UInt8](payload))
        let delivered = frame.withUnsafeBytes { SystemCalls.writeAll(replyFD, $0) }
        send(.final)
        return delivered ? 0 : 74
    }
}

/// Milliseconds as nanoseconds, capped at 2⁶² ns (146 years) so that `now + interval` on the
/// monotonic clock can never overflow, whatever `--heartbeat-ms`/`--stats-ms` said.
func cappedNanos(milliseconds: Int) -> UInt64 {
    let (product, overflow) = UInt64(max(0, milliseconds)).multipliedReportingOverflow(by: 1_000_000)
    return overflow ? 1 << 62 : min(product, 1 << 62)
}
