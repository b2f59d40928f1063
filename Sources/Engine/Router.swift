// The router: a FeedSink that sends every parsed event to the worker that owns its asset, as a
// binary ring record, in tape order per asset. The reference design's MessageRouter, without
// an asyncio queue in between: the parser calls the router directly.
public import Book
import CShim
public import Feed
import Foundation

/// Sends parsed feed events to worker processes. A G3 `price_change` frame with entries for
/// several assets arrives as one `onPriceChange` per entry, so each entry goes to its own
/// asset's worker; per asset, order is tape order. Events without an asset (`new_market`,
/// unknown types) are counted in `stats.unroutable`, not broadcast.
///
/// Records are published to a worker in batches of `batchSize` (one release store, and one
/// eventfd write only if that worker sleeps); call `flush()` at the end of a frame when pacing
/// (latency) and always before `WorkerManager.stop`. FeedSink callbacks cannot throw: a dead
/// worker is recorded in `failure`, later events are dropped and counted, and `flush()`
/// throws the failure.
public struct Router: FeedSink {
    /// What to do when a worker's channel is full.
    public enum Backpressure: String, Sendable, Codable {
        /// Wait for space (lossless, deterministic). The default.
        case block
        /// Drop the event and count it (live-like).
        case drop
    }

    public let workerCount: Int
    public let routing: RoutingScheme
    public let backpressure: Backpressure
    public let batchSize: Int
    public private(set) var stats = RouterStats()
    /// The first error that stopped routing (a dead worker, a stopped pool).
    public private(set) var failure: EngineError?
    /// The tape line of the frame being routed; workers record it with the book and
    /// price-change events, so a report can say on which line a book first diverged.
    public var currentInputLine: Int64 = 0

    let channels: [WorkerChannel]
    /// The channels' producer states (stable addresses owned by the channels): the hot path
    /// touches only these, so routing a message does no reference counting.
    private let producers: [UnsafeMutablePointer<RingProducer>]
    private let maxRecordSize: Int
    private var table = AssetTable()
    /// Market id → index into `marketWorkerMasks` (the table's `worker` field holds the index).
    private var marketWorkers = AssetTable()
    /// Per market, the workers holding one of its tokens (bit n = worker n; all ones = every worker).
    private var marketWorkerMasks: [UInt64] = []
    /// Per worker, the last asset slot handed out (slots count from 1).
    private var lastAssetSlot: [UInt32]
    private let md5: MD5RoutingKey
    private var nextRequestID: UInt64 = 1
    /// Enqueue timestamps: one clock read (~60 ns here) per `stampReuse` records, and always a
    /// fresh one for the first record after a publish, so paced (frame-by-frame) latency is
    /// exact and maximum-speed latency is understated by at most a few records' routing time.
    private var stampNanos: UInt64 = 0
    private var stampsLeft = 0
    static let stampReuse = 8

    /// - Parameters:
    ///   - channels: `manager.inputChannels`, one per worker in worker order.
    ///   - workerCount: if given, must equal `channels.count` (the reference API's check).
    public init(
        channels: [WorkerChannel], workerCount: Int? = nil, routing: RoutingScheme = .md5,
        backpressure: Backpressure = .block, batchSize: Int = 128
    ) throws {
        let expected = workerCount ?? channels.count
        guard expected >= 1 else { throw EngineError.invalidWorkerCount(expected) }
        guard channels.count == expected, channels.enumerated().allSatisfy({ $0.offset == $0.element.index }) else {
            throw EngineError.channelCountMismatch(channels: channels.count, expected: expected)
        }
        guard batchSize >= 1 else { throw EngineError.invalidConfiguration("batchSize must be at least 1") }
        self.channels = channels
        producers = channels.map(\.producerPointer)
        maxRecordSize = channels.map(\.ring.maxRecordSize).min()!
        self.workerCount = expected
        self.routing = routing
        self.backpressure = backpressure
        self.batchSize = batchSize
        md5 = try MD5RoutingKey()
        stats.perWorker = Array(repeating: 0, count: expected)
        lastAssetSlot = Array(repeating: 0, count: expected)
    }

    /// The worker an asset id routes to under `routing` (pure function of the id bytes).
    public static func worker(forAssetID assetID: String, workerCount: Int, routing: RoutingScheme = .md5) throws -> Int
    {
        routing.worker(forKey: try MD5RoutingKey().key(assetID), workerCount: workerCount)
    }

    /// The worker for these asset id bytes (cached after the first time).
    /// The asset's worker, and its slot there: the n-th asset routed to a worker is its slot n,
    /// which book and price-change records carry so the worker finds the book without looking
    /// the id up (`BookStore.apply(_:slot:)`).
    @inline(__always)
    mutating func destination(for asset: UnsafeRawBufferPointer) -> (worker: Int, assetSlot: UInt32) {
        let hash = AssetTable.hash(asset)
        if let known = table.lookup(asset, hash: hash) { return known }
        let worker = routing.worker(forKey: md5.key(asset), workerCount: workerCount)
        lastAssetSlot[worker] &+= 1
        let slot = lastAssetSlot[worker]
        table.insert(asset, hash: hash, worker: worker, assetSlot: slot)
        stats.assets = table.count
        return (worker, slot)
    }

    public mutating func worker(forAssetID assetID: String) -> Int {
        var copy = assetID
        return copy.withUTF8 { destination(for: UnsafeRawBufferPointer($0)).worker }
    }

    /// Reserves `size` bytes in the asset's worker's ring, lets `write` fill them, commits.
    @inline(__always)
    private mutating func route(
        asset: UnsafeRawBufferPointer, size: Int, _ write: (UnsafeMutableRawPointer, UInt64, UInt32) -> Void
    ) {
        guard failure == nil else {
            stats.dropped += 1
            return
        }
        guard asset.count > 0, asset.count <= Int(UInt16.max) else {
            stats.routingErrors += 1
            return
        }
        let (index, assetSlot) = destination(for: asset)
        guard size <= maxRecordSize else {
            stats.routingErrors += 1
            return
        }
        if send(to: index, size: size, { write($0, $1, assetSlot) }) {
            stats.routed += 1
            stats.perWorker[index] += 1
        }
    }

    /// Reserves `size` bytes in worker `index`'s ring, lets `write` fill them, commits; false
    /// when the record was dropped (counted).
    @inline(__always)
    private mutating func send(to index: Int, size: Int, _ write: (UnsafeMutableRawPointer, UInt64) -> Void) -> Bool {
        let producer = producers[index]
        guard !producer.pointee.isClosed else {
            failure = .notRunning("routing after the pool was stopped")
            stats.dropped += 1
            return false
        }
        let needed = producer.pointee.bytesNeeded(size)
        if !producer.pointee.hasSpace(needed) {
            guard waitForSpace(worker: index, needed: needed) else { return false }
        }
        if stampsLeft == 0 {
            stampNanos = cshim_monotonic_ns()
            stampsLeft = Router.stampReuse
        }
        stampsLeft -= 1
        let target = producer.pointee.claim(size)
        write(target, stampNanos)
        producer.pointee.commit(size)
        if producer.pointee.unpublishedRecords >= batchSize {
            producer.pointee.publish()
            stats.batches += 1
            stampsLeft = 0
        }
        return true
    }

    /// Remembers that worker `worker` holds a token of `market` (from books and side data).
    private mutating func noteMarket(_ market: UnsafeRawBufferPointer, worker: Int) {
        guard workerCount > 1, market.count > 0, market.count <= Int(UInt16.max) else { return }
        // Workers past the 64th cannot have a bit: their markets' trades go to every worker.
        let bit: UInt64 = worker < 64 ? 1 << UInt64(worker) : .max
        let hash = AssetTable.hash(market)
        if let (index, _) = marketWorkers.lookup(market, hash: hash) {
            marketWorkerMasks[index] |= bit
        } else {
            marketWorkers.insert(market, hash: hash, worker: marketWorkerMasks.count, assetSlot: 0)
            marketWorkerMasks.append(bit)
        }
    }

    /// Sends a copy of `event` to every other worker holding a token of its market.
    private mutating func copyTradeToMarket(_ event: LastTradeEvent, owner: Int, size: Int) {
        guard workerCount > 1, !event.market.isEmpty, event.market.count <= Int(UInt16.max),
            let (index, _) = marketWorkers.lookup(event.market, hash: AssetTable.hash(event.market))
        else { return }
        let mask = marketWorkerMasks[index]
        for worker in 0..<workerCount where worker != owner && (mask == .max || mask >> UInt64(worker) & 1 == 1) {
            let sent = send(to: worker, size: size) { target, stamp in
                RecordCodec.write(event, kind: .marketTrade, enqueueNanos: stamp, to: target, length: size)
            }
            if sent { stats.marketTradeCopies += 1 }
        }
    }

    /// The full-ring path: drop (`.drop`) or wait while the worker lives and makes progress
    /// (`.block`). Returns true when there is space; otherwise the event was dropped and counted.
    /// Either way a worker that consumes nothing for the pool's stall timeout while its ring
    /// holds messages fails routing with `EngineError.workerStalled`.
    @inline(never)
    private mutating func waitForSpace(worker index: Int, needed: Int) -> Bool {
        let channel = channels[index]
        stats.queueFullEvents += 1
        if backpressure == .drop {
            stats.dropped += 1
            if channel.producer.unpublishedRecords > 0 {
                channel.producer.publish()
                stats.batches += 1
            }
            if let stalled = channel.stalledNanos(now: cshim_monotonic_ns()) {
                failure = channel.workerStalledError(nanos: stalled)
            }
            return false
        }
        let began = cshim_monotonic_ns()
        let pool = channel.pool
        // Waiting on one worker must not hide the death of another (a slow worker's full ring
        // can hold the router for seconds): any early exit ends the wait.
        let outcome = channel.producer.waitForSpace(
            needed, deadline: .max, stallNanos: pool.stallTimeoutNanos,
            isAlive: { pool.isAlive(index) && pool.firstEarlyExit() == nil })
        stampsLeft = 0
        stats.batches += 1
        stats.blockedNanos += cshim_monotonic_ns() - began
        switch outcome {
        case .ready:
            return true
        case .stalled(let nanos):
            failure = channel.workerStalledError(nanos: nanos)
        case .consumerGone, .timedOut:
            if pool.isAlive(index), let other = pool.firstEarlyExit() {
                failure = .workerDied(worker: other.worker, pid: other.pid, exit: other.exit)
            } else {
                failure = channel.workerDiedError()
            }
        }
        stats.dropped += 1
        return false
    }

    // MARK: FeedSink

    public mutating func onBook(_ event: BookEvent) {
        stats.books += 1
        if workerCount > 1, !event.assetID.isEmpty, event.assetID.count <= Int(UInt16.max) {
            noteMarket(event.market, worker: destination(for: event.assetID).worker)
        }
        let size = RecordCodec.size(event)
        let line = currentInputLine
        route(asset: event.assetID, size: size) {
            RecordCodec.write(event, enqueueNanos: $1, inputLine: line, assetSlot: $2, to: $0, length: size)
        }
    }

    public mutating func onPriceChange(_ event: PriceChangeEvent) {
        stats.priceChanges += 1
        let size = RecordCodec.size(event)
        let line = currentInputLine
        route(asset: event.assetID, size: size) {
            RecordCodec.write(event, enqueueNanos: $1, inputLine: line, assetSlot: $2, to: $0, length: size)
        }
    }

    public mutating func onLastTrade(_ event: LastTradeEvent) {
        stats.lastTrades += 1
        let size = RecordCodec.size(event)
        route(asset: event.assetID, size: size) { target, stamp, _ in
            RecordCodec.write(event, enqueueNanos: stamp, to: target, length: size)
        }
        // The market's last trade price is in every token's exchange hash: the workers holding
        // the market's other tokens need it too (else their checks only match on the price grid).
        if workerCount > 1, failure == nil, !event.assetID.isEmpty, event.assetID.count <= Int(UInt16.max),
            size <= maxRecordSize
        {
            copyTradeToMarket(event, owner: destination(for: event.assetID).worker, size: size)
        }
    }

    /// A trade of a token that is not replayed (outside `--assets`) whose market has tokens
    /// that are: every worker holding one of the market's tokens gets it as a market trade
    /// (the market's last trade price is in every token's exchange hash). Counted in
    /// `marketTradeCopies`, not in `routed`; the trade's own asset is not routed.
    public mutating func onMarketTrade(_ event: LastTradeEvent) {
        guard failure == nil, !event.market.isEmpty, event.market.count <= Int(UInt16.max) else { return }
        let size = RecordCodec.size(event)
        guard size <= maxRecordSize else {
            stats.routingErrors += 1
            return
        }
        var mask = UInt64.max
        if workerCount > 1 {
            // Workers learn markets from books and side data, as the router does.
            guard let (index, _) = marketWorkers.lookup(event.market, hash: AssetTable.hash(event.market)) else {
                return
            }
            mask = marketWorkerMasks[index]
        }
        for worker in 0..<workerCount where mask == .max || mask >> UInt64(worker) & 1 == 1 {
            let sent = send(to: worker, size: size) { target, stamp in
                RecordCodec.write(event, kind: .marketTrade, enqueueNanos: stamp, to: target, length: size)
            }
            if sent { stats.marketTradeCopies += 1 }
        }
    }

    public mutating func onTickSizeChange(_ event: TickSizeChangeEvent) {
        stats.tickSizeChanges += 1
        let size = RecordCodec.size(event)
        route(asset: event.assetID, size: size) { target, stamp, _ in
            RecordCodec.write(event, enqueueNanos: stamp, to: target, length: size)
        }
    }

    public mutating func onBestBidAsk(_ event: BestBidAskEvent) {
        stats.bestBidAsks += 1
        let size = RecordCodec.size(event)
        route(asset: event.assetID, size: size) { target, stamp, _ in
            RecordCodec.write(event, enqueueNanos: stamp, to: target, length: size)
        }
    }

    public mutating func onOther(_ event: OtherEvent) {
        stats.others += 1
        guard event.assetID.count > 0 else {
            stats.unroutable += 1
            return
        }
        let size = RecordCodec.size(event)
        route(asset: event.assetID, size: size) { target, stamp, _ in
            RecordCodec.write(event, enqueueNanos: stamp, to: target, length: size)
        }
    }

    public mutating func onControl(_ frame: ControlFrame) {
        stats.controlFrames += 1
    }

    public mutating func onError(_ error: FeedError) {
        stats.parseErrors += 1
    }

    // MARK: publishing and control

    /// Publishes every written record to its worker. Throws the routing failure, if any,
    /// including `EngineError.workerStalled` for a worker that has left messages unread for the
    /// pool's stall timeout (a paced replay never fills a ring, so this is where it notices a
    /// stopped worker; an empty ring is never a stall).
    public mutating func flush() throws {
        stampsLeft = 0
        let now = cshim_monotonic_ns()
        for channel in channels where channel.isOpen {
            if channel.producer.unpublishedRecords > 0 {
                channel.producer.publish()
                stats.batches += 1
            }
            if failure == nil, let stalled = channel.stalledNanos(now: now) {
                failure = channel.workerStalledError(nanos: stalled)
            }
        }
        if let failure { throw failure }
    }

    /// Sends the exchange-hash side data of one asset (from the tape header) to its worker, in band.
    public mutating func setSideData(_ data: MarketSideData, forAsset assetID: String) throws {
        let json = try [UInt8](JSONEncoder().encode(data))
        let worker = worker(forAssetID: assetID)
        try sendControl(to: worker, RecordCodec.controlRecord(kind: .sideData, asset: Array(assetID.utf8), extra: json))
        if var market = data.market {
            market.withUTF8 { noteMarket(UnsafeRawBufferPointer($0), worker: worker) }
        }
    }

    /// Invalidates the books of these assets (a connection gap), each at its worker, in band:
    /// every event routed before this call is applied first, every later one after.
    public mutating func invalidate(assetIDs: [String]) throws {
        var perWorker = [[String]](repeating: [], count: workerCount)
        for id in assetIDs { perWorker[worker(forAssetID: id)].append(id) }
        for (index, ids) in perWorker.enumerated() where !ids.isEmpty {
            // Keep each record well below the ring's record limit.
            var start = 0
            while start < ids.count {
                let end = min(start + 256, ids.count)
                try sendControl(
                    to: index,
                    RecordCodec.controlRecord(
                        kind: .invalidate, extra: RecordCodec.invalidationPayload(Array(ids[start..<end]))))
                start = end
            }
        }
    }

    /// Asks the asset's worker for its book (top `depth` levels a side) while running. The
    /// query travels behind every event routed so far, so the answer reflects all of them.
    public mutating func queryBook(assetID: String, depth: Int, timeout: Duration = .seconds(10)) throws -> BookSummary?
    {
        try query(worker: worker(forAssetID: assetID), assetID: assetID, depth: depth, timeout: timeout)
    }

    /// Waits until every worker has answered a query: its process runs, its ring is mapped and
    /// it is reading. A run calls this before its clock starts, so that worker start-up is not
    /// counted as routing latency or pacing lateness.
    public mutating func awaitWorkers(timeout: Duration = .seconds(10)) throws {
        for index in 0..<workerCount {
            _ = try query(worker: index, assetID: "", depth: 0, timeout: timeout)
        }
    }

    private mutating func query(worker index: Int, assetID: String, depth: Int, timeout: Duration) throws
        -> BookSummary?
    {
        let requestID = nextRequestID
        nextRequestID += 1
        try sendControl(
            to: index,
            RecordCodec.controlRecord(
                kind: .query, asset: Array(assetID.utf8), query: QueryFixed(requestID: requestID, depth: Int64(depth))))
        let deadline = cshim_monotonic_ns() + UInt64(WorkerManager.milliseconds(timeout)) * 1_000_000
        while true {
            let payload = try channels[index].awaitReply(.queryAnswer, deadline: deadline)
            guard let answer = try? JSONDecoder().decode(QueryAnswer.self, from: Data(payload)) else {
                throw EngineError.badReply(worker: index, detail: "query answer is not valid JSON")
            }
            if answer.requestID == requestID { return answer.summary }
        }
    }

    private mutating func sendControl(to index: Int, _ record: [UInt8]) throws {
        if let failure { throw failure }
        let channel = channels[index]
        do {
            try channel.writeRecord(record, deadline: .max)
        } catch {
            failure = error
            throw error
        }
        channel.producer.publish()
        stats.batches += 1
        stats.controlMessages += 1
    }

    /// Test only: makes a worker exit at once with `status` (see `RecordKind.testExit`).
    mutating func sendTestExit(worker index: Int, status: UInt8) throws {
        try sendControl(to: index, RecordCodec.controlRecord(kind: .testExit, flags: status))
    }

    /// Test only: makes a worker hang (see `RecordKind.testHang`).
    mutating func sendTestHang(worker index: Int, ignoreTerm: Bool) throws {
        try sendControl(to: index, RecordCodec.controlRecord(kind: .testHang, flags: ignoreTerm ? 1 : 0))
    }
}
