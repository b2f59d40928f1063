// The counting and timing results of workers and the router. All Codable and Sendable so the
// report and golden-file layers can serialize them; counting fields are deterministic for a
// given tape, timing fields are measurements.
public import Book

/// Per-worker performance statistics (the reference design's WorkerStats). Counting fields
/// (`messagesProcessed`, `updatesApplied`, `snapshotsReceived`, `bookCount`, ...) are
/// deterministic for a tape; `processingTimeNanos`, memory and times are measurements.
public struct WorkerStats: Sendable, Codable, Equatable {
    /// Data messages taken off the input channel (control messages excluded).
    public var messagesProcessed: UInt64 = 0
    /// Messages that changed book state: snapshots, price changes, tick size changes.
    public var updatesApplied: UInt64 = 0
    /// `book` snapshots received.
    public var snapshotsReceived: UInt64 = 0
    public var priceChanges: UInt64 = 0
    public var lastTrades: UInt64 = 0
    public var tickSizeChanges: UInt64 = 0
    public var bestBidAsks: UInt64 = 0
    /// Routed events of kinds that carry no book state (e.g. market_resolved).
    public var otherEvents: UInt64 = 0
    /// In-band control messages (side data, invalidation, queries).
    public var controlMessages: UInt64 = 0
    /// Total time spent applying messages, in nanoseconds.
    public var processingTimeNanos: UInt64 = 0
    /// CLOCK_MONOTONIC time of the last applied message, ns (0 before the first).
    public var lastMessageMonotonicNanos: UInt64 = 0
    /// Books held (refreshed by the heartbeat and on every report).
    public var bookCount: Int = 0
    /// The store's own memory estimate in bytes (refreshed with bookCount).
    public var memoryUsageBytes: Int = 0
    /// Resident set size of the worker process from /proc/self/statm, bytes.
    public var residentBytes: Int = 0

    public init() {}

    /// Average per-message processing time in microseconds (0 before the first message).
    public var avgProcessingTimeMicros: Double {
        messagesProcessed == 0 ? 0 : Double(processingTimeNanos) / 1000 / Double(messagesProcessed)
    }

    /// Sums counts and times; takes the largest last-message time; sums book counts and memory
    /// (workers hold disjoint assets).
    public static func += (lhs: inout WorkerStats, rhs: WorkerStats) {
        lhs.messagesProcessed += rhs.messagesProcessed
        lhs.updatesApplied += rhs.updatesApplied
        lhs.snapshotsReceived += rhs.snapshotsReceived
        lhs.priceChanges += rhs.priceChanges
        lhs.lastTrades += rhs.lastTrades
        lhs.tickSizeChanges += rhs.tickSizeChanges
        lhs.bestBidAsks += rhs.bestBidAsks
        lhs.otherEvents += rhs.otherEvents
        lhs.controlMessages += rhs.controlMessages
        lhs.processingTimeNanos += rhs.processingTimeNanos
        lhs.lastMessageMonotonicNanos = max(lhs.lastMessageMonotonicNanos, rhs.lastMessageMonotonicNanos)
        lhs.bookCount += rhs.bookCount
        lhs.memoryUsageBytes += rhs.memoryUsageBytes
        lhs.residentBytes += rhs.residentBytes
    }
}

/// What the router did. Counting fields are deterministic for a tape in `.block` mode.
public struct RouterStats: Sendable, Codable, Equatable {
    /// Events written to a worker's channel.
    public var routed: UInt64 = 0
    /// Events dropped because a channel was full (`.drop` mode) or the pool had failed.
    public var dropped: UInt64 = 0
    /// Ring publications (each makes a batch of records visible to a worker).
    public var batches: UInt64 = 0
    /// Times a channel was found full (the router then waited, or dropped in `.drop` mode).
    public var queueFullEvents: UInt64 = 0
    /// Events that could not be routed: no asset id, or larger than a ring record.
    public var routingErrors: UInt64 = 0
    /// Per event type, events seen by the router.
    public var books: UInt64 = 0
    public var priceChanges: UInt64 = 0
    public var lastTrades: UInt64 = 0
    public var tickSizeChanges: UInt64 = 0
    public var bestBidAsks: UInt64 = 0
    public var others: UInt64 = 0
    /// Events without an asset (new_market, unknown types): counted here, not sent to workers.
    public var unroutable: UInt64 = 0
    /// PING/PONG text frames.
    public var controlFrames: UInt64 = 0
    /// Parse errors the parser reported to the router.
    public var parseErrors: UInt64 = 0
    /// In-band control messages sent (side data, invalidation, queries, stops).
    public var controlMessages: UInt64 = 0
    /// Trades sent as market trades (not in `routed`): copies to the other workers of the
    /// trade's market, and trades of tokens left out by an asset filter (`onMarketTrade`).
    public var marketTradeCopies: UInt64 = 0
    /// Distinct assets seen.
    public var assets: Int = 0
    /// Events routed to each worker.
    public var perWorker: [UInt64] = []
    /// Total time the router spent waiting for space in full channels, ns.
    public var blockedNanos: UInt64 = 0

    public init() {}

    /// Every counter by name (per-worker counts as `routedToWorker<i>`), for reports that keep
    /// router counters as a string-keyed map.
    public var namedCounts: [String: Int] {
        var counts: [String: Int] = [
            "routed": Int(routed), "dropped": Int(dropped), "batches": Int(batches),
            "queueFullEvents": Int(queueFullEvents), "routingErrors": Int(routingErrors), "books": Int(books),
            "priceChanges": Int(priceChanges), "lastTrades": Int(lastTrades), "tickSizeChanges": Int(tickSizeChanges),
            "bestBidAsks": Int(bestBidAsks), "others": Int(others), "unroutable": Int(unroutable),
            "controlFrames": Int(controlFrames), "parseErrors": Int(parseErrors),
            "controlMessages": Int(controlMessages), "marketTradeCopies": Int(marketTradeCopies), "assets": assets,
            "blockedMicros": Int(blockedNanos / 1000),
        ]
        for (index, count) in perWorker.enumerated() { counts["routedToWorker\(index)"] = Int(count) }
        return counts
    }
}

/// Which escalation step ended a worker during `stop`.
public enum StopStep: String, Sendable, Codable, Equatable {
    /// Drained every message and exited on the stop marker.
    case drained
    /// Needed SIGTERM.
    case terminated
    /// Needed SIGKILL.
    case killed
    /// Had already died before stop was called.
    case diedBeforeStop
    /// Exited on its own during stop without sending its final report (crashed while draining).
    case diedDuringStop
}

/// Everything one worker reports at the end of a run.
public struct WorkerResult: Sendable, Codable {
    public var index: Int
    public var pid: Int32
    /// Final stats (from the final report; else the last periodic report).
    public var stats: WorkerStats
    public var counters: BookCounters
    public var latency: LatencyHistogram
    /// Every book the worker held at the end, sorted by asset id (empty if it did not drain).
    public var books: [BookSummary]
    public var exit: ExitReason
    public var stopStep: StopStep
    /// True when the worker sent its final report after applying every routed message.
    public var drained: Bool
}

/// The outcome of `WorkerManager.stop`: one result per worker in index order, plus totals.
public struct RunResult: Sendable, Codable {
    public var workers: [WorkerResult]
    /// Set by the caller (the router lives outside the manager): `result.router = router.stats`.
    public var router: RouterStats?
    /// Wall time stop took, ns.
    public var stopNanos: UInt64

    /// True when every worker drained and exited with status 0.
    public var allDrained: Bool { workers.allSatisfy { $0.drained && $0.exit == .exited(status: 0) } }

    public var totalStats: WorkerStats {
        var total = WorkerStats()
        for worker in workers { total += worker.stats }
        return total
    }

    public var totalLatency: LatencyHistogram {
        var total = LatencyHistogram()
        for worker in workers { total += worker.latency }
        return total
    }
}

/// Something the pool noticed, delivered to `Configuration.eventSink` (libraries never print).
public enum PoolEvent: Sendable, Equatable {
    /// A non-fatal configuration remark, e.g. more workers than cores.
    case warning(String)
    case workerStarted(worker: Int, pid: Int32)
    /// A worker ended; `expected` is false when it died before stop.
    case workerExited(worker: Int, pid: Int32, exit: ExitReason, expected: Bool)
    case heartbeat(worker: Int, bookCount: Int, memoryUsageBytes: Int, residentBytes: Int)
    case stats(worker: Int, WorkerStats)
}
