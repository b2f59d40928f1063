// Router + worker processes on a synthetic in-memory stream (no tape, no decompression): the
// engine's own throughput and router → worker latency. Wired as `replay bench-engine`.
import CShim
import Dispatch
import Feed
public import Foundation
import Glibc

/// A seeded synthetic feed: one book per asset (20 levels a side), then price changes at
/// random levels near the top. Deterministic for a seed, so results can be compared.
struct SyntheticFeed {
    let assetIDs: [[UInt8]]
    private var state: UInt64
    private var bids: [PriceLevel] = []
    private var asks: [PriceLevel] = []
    let market = Array("0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1".utf8)
    /// The ids and the market in one buffer that lives as long as the feed, so emitting a change
    /// costs no retain/release (the benchmark should measure the router, not its input).
    private let storage: ByteStorage
    private let idLength: Int
    private let marketBytes: UnsafeRawBufferPointer

    init(assets: Int, seed: UInt64) {
        state = seed
        let ids = (0..<assets).map { index in
            // 77-digit ids like the exchange's token ids.
            var digits = String(UInt64(index) &* 0x9E37_79B9_7F4A_7C15 % 1_000_000_000_000)
            while digits.count < 77 { digits += String(UInt64(digits.count * 7919 + index) % 10) }
            return Array(digits.utf8)
        }
        assetIDs = ids
        idLength = 77
        storage = ByteStorage(ids.flatMap { $0 } + market)
        marketBytes = UnsafeRawBufferPointer(start: storage.base + assets * 77, count: market.count)
    }

    @inline(__always)
    private func assetBytes(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.base + index * idLength, count: idLength)
    }

    mutating func random() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Emits one book per asset into `sink`.
    mutating func emitBooks<Sink: FeedSink>(into sink: inout Sink) {
        for asset in assetIDs {
            bids.removeAll(keepingCapacity: true)
            asks.removeAll(keepingCapacity: true)
            for step in 0..<20 {
                let size = Int64(random() % 10_000 + 1) * 1_000_000
                bids.append(
                    PriceLevel(
                        price: ExactDecimal(units: Int64(30 + step) * 10_000, digits: 2),
                        size: ExactDecimal(units: size, digits: 0)))
                asks.append(
                    PriceLevel(
                        price: ExactDecimal(units: Int64(70 - step) * 10_000, digits: 2),
                        size: ExactDecimal(units: size, digits: 0)))
            }
            asset.withUnsafeBytes { assetBytes in
                market.withUnsafeBytes { marketBytes in
                    bids.withUnsafeBufferPointer { bidLevels in
                        asks.withUnsafeBufferPointer { askLevels in
                            sink.onBook(
                                BookEvent(
                                    assetID: assetBytes, market: marketBytes, timestampMs: 1_700_000_000_000, hash: nil,
                                    bids: bidLevels, asks: askLevels, tickSize: ExactDecimal(units: 10_000, digits: 2),
                                    lastTradePrice: nil, hadEventType: true, objectOffset: 0, objectLength: 0))
                        }
                    }
                }
            }
        }
    }

    /// Emits `count` price changes (size 0 removes a level one time in eight).
    mutating func emitChanges<Sink: FeedSink>(_ count: Int, into sink: inout Sink) {
        let assetCount = UInt64(assetIDs.count)
        for sequence in 0..<count {
            let r = random()
            let side: Side = (r >> 20) & 1 == 0 ? .bid : .ask
            let cents = side == .bid ? Int64(40 + (r >> 24) % 10) : Int64(51 + (r >> 24) % 10)
            let size: Int64 = (r >> 32) % 8 == 0 ? 0 : Int64((r >> 36) % 5000 + 1) * 1_000_000
            sink.onPriceChange(
                PriceChangeEvent(
                    assetID: assetBytes(Int(r % assetCount)), market: marketBytes,
                    timestampMs: 1_700_000_000_000 + Int64(sequence),
                    price: ExactDecimal(units: cents * 10_000, digits: 2), size: ExactDecimal(units: size, digits: 0),
                    side: side, hash: nil, bestBid: nil, bestAsk: nil, generation: .g3, indexInMessage: 0,
                    countInMessage: 1))
        }
    }
}

/// Owns a byte buffer for the life of a `SyntheticFeed`.
final class ByteStorage {
    let base: UnsafeMutableRawPointer
    init(_ bytes: [UInt8]) {
        base = .allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }
    deinit { base.deallocate() }
}

/// The engine benchmark: router + N worker processes applying a synthetic stream.
public enum EngineBenchmark {
    /// Runs `messages` price changes over 1,000 assets through `workers` worker processes
    /// (the worker executable defaults to this process's own) and returns a one-line report:
    /// messages/s, and router → worker latency p50/p99/p99.9/max.
    ///
    /// - Parameter ratePerSecond: nil for maximum speed (latency then measures queueing in
    ///   full rings); otherwise frames of 10 changes are paced to this rate and flushed one by
    ///   one, as a 1× replay does, so latency measures the IPC path itself.
    public static func run(
        workers: Int, messages: Int, ratePerSecond: Int? = nil, spinMicros: Int = 0, executable: URL? = nil
    ) throws -> String {
        let manager = try WorkerManager(
            workerCount: workers,
            configuration: .init(
                executable: executable, verifyExchangeHash: false, spinBeforeSleep: .microseconds(spinMicros)))
        let startBegin = cshim_monotonic_ns()
        try manager.start()
        let startNanos = cshim_monotonic_ns() - startBegin
        var router = try Router(channels: manager.inputChannels)
        var feed = SyntheticFeed(assets: 1000, seed: 42)
        feed.emitBooks(into: &router)
        try router.flush()
        let begin = cshim_monotonic_ns()
        if let ratePerSecond, ratePerSecond > 0 {
            let frame = 10
            let interval = UInt64(frame) * 1_000_000_000 / UInt64(ratePerSecond)
            var due = begin
            for _ in 0..<(messages / frame) {
                sleepUntil(monotonicNanos: due)
                feed.emitChanges(frame, into: &router)
                try router.flush()
                due += interval
            }
        } else {
            feed.emitChanges(messages, into: &router)
        }
        try router.flush()
        var result = try manager.stop(timeout: .seconds(60))
        let elapsed = Double(cshim_monotonic_ns() - begin) / 1e9
        result.router = router.stats
        let total = result.totalStats
        let latency = result.totalLatency
        func micros(_ nanos: UInt64) -> String { String(format: "%.1f", Double(nanos) / 1000) }
        let rate = Double(total.messagesProcessed) / elapsed
        let mode =
            (ratePerSecond.map { "paced=\($0)/s" } ?? "max-speed") + (spinMicros > 0 ? " spin=\(spinMicros)us" : "")
        return
            "workers=\(workers) \(mode) messages=\(total.messagesProcessed) seconds=\(String(format: "%.3f", elapsed)) "
            + "rate=\(String(format: "%.0f", rate))/s "
            + "latency_us p50=\(micros(latency.p50)) p99=\(micros(latency.p99)) p99.9=\(micros(latency.p999)) "
            + "max=\(micros(latency.max)) router_blocked_ms=\(String(format: "%.1f", Double(router.stats.blockedNanos) / 1e6)) "
            + "batches=\(router.stats.batches) start_ms=\(String(format: "%.1f", Double(startNanos) / 1e6)) "
            + "stop_ms=\(String(format: "%.1f", Double(result.stopNanos) / 1e6)) drained=\(result.allDrained)"
    }

    static func sleepUntil(monotonicNanos due: UInt64) {
        var spec = timespec(tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &spec, nil) == EINTR {}
    }
}

extension EngineBenchmark {
    /// The ring alone: a producer thread writes `messages` records of `recordSize` bytes in
    /// batches of 128, a consumer thread reads them (same code paths and wake-up protocol as
    /// router and worker; threads instead of processes share memory the same way).
    public static func ringThroughput(messages: Int, recordSize: Int = 512, capacity: Int = 8 << 20) throws -> String {
        let (ring, memfd) = try SharedRing.create(capacity: capacity, name: "polytape-ring-bench")
        SystemCalls.close(memfd)
        let dataFD = try SystemCalls.makeEventFD("ring benchmark")
        let spaceFD = try SystemCalls.makeEventFD("ring benchmark")
        defer {
            SystemCalls.close(dataFD)
            SystemCalls.close(spaceFD)
        }
        let size = RecordCodec.align8(recordSize)
        let consumerDone = DispatchSemaphore(value: 0)
        let box = RingBox(ring: ring)
        let consumerThread = Thread {
            var consumer = RingConsumer(ring: box.ring, dataWakeFD: dataFD, spaceWakeFD: spaceFD)
            var seen = 0
            let copy = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { copy.deallocate() }
            while seen < messages {
                if consumer.refresh() {
                    while let record = consumer.next() {
                        copy.copyMemory(from: record, byteCount: size)  // a consumer reads the bytes
                        consumer.advance(Int(copy.load(as: UInt32.self)))
                        seen += 1
                        if seen % 64 == 0 { consumer.release() }
                    }
                    consumer.release()
                } else {
                    consumer.sleep(timeoutMs: 100)
                }
            }
            consumerDone.signal()
        }
        var producer = RingProducer(ring: ring, dataWakeFD: dataFD, spaceWakeFD: spaceFD)
        let source = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { source.deallocate() }
        source.initializeMemory(as: UInt8.self, repeating: 0x5A, count: size)
        source.storeBytes(of: UInt32(size), as: UInt32.self)
        let begin = cshim_monotonic_ns()
        consumerThread.start()
        for _ in 0..<messages {
            let needed = producer.bytesNeeded(size)
            if !producer.hasSpace(needed) { _ = producer.waitForSpace(needed, deadline: .max, isAlive: { true }) }
            let target = producer.claim(size)
            target.copyMemory(from: source, byteCount: size)
            producer.commit(size)
            if producer.unpublishedRecords >= 128 { producer.publish() }
        }
        producer.publish()
        consumerDone.wait()
        let seconds = Double(cshim_monotonic_ns() - begin) / 1e9
        return "ring records=\(messages) record_bytes=\(size) seconds=\(String(format: "%.3f", seconds)) "
            + "rate=\(String(format: "%.0f", Double(messages) / seconds))/s "
            + "throughput=\(String(format: "%.0f", Double(messages * size) / seconds / 1e6)) MB/s"
    }
}

/// Hands the ring to the consumer thread. Safe to share: the ring's memory is only accessed
/// through the SPSC protocol (producer writes data then releases head; consumer reads after
/// acquiring it), and the class's own fields are immutable.
private final class RingBox: @unchecked Sendable {
    let ring: SharedRing
    init(ring: SharedRing) { self.ring = ring }
}

extension EngineBenchmark {
    /// `replay bench-engine [--workers N] [--messages M] [--rate R] [--spin-us S] [--ring | --router-only]`: the words after
    /// the subcommand name; returns the report line. Throws `EngineError.invalidConfiguration`
    /// for an unknown option or a bad number.
    public static func run(arguments: [String]) throws -> String {
        var workers = 1
        var messages = 5_000_000
        var rate: Int?
        var ring = false
        var routerOnly = false
        var spin = 0
        var index = 0
        func number(_ name: String) throws -> Int {
            index += 1
            guard index < arguments.count, let value = Int(arguments[index]), value > 0 else {
                throw EngineError.invalidConfiguration("\(name) needs a positive whole number")
            }
            return value
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--workers": workers = try number("--workers")
            case "--messages": messages = try number("--messages")
            case "--rate": rate = try number("--rate")
            case "--ring": ring = true
            case "--router-only": routerOnly = true
            case "--spin-us": spin = try number("--spin-us")
            default:
                throw EngineError.invalidConfiguration(
                    "unknown bench-engine option '\(arguments[index])' "
                        + "(use --workers, --messages, --rate, --spin-us, --ring, --router-only)")
            }
            index += 1
        }
        if ring { return try ringThroughput(messages: messages) }
        if routerOnly { return try routerThroughput(messages: messages) }
        return try run(workers: workers, messages: messages, ratePerSecond: rate, spinMicros: spin)
    }
}

extension EngineBenchmark {
    /// Router + codec + ring without worker processes or BookStore: the synthetic feed is routed
    /// into one unstarted pool channel while a thread of this process decodes every record, as a
    /// worker does before applying. Separates the router/IPC cost from the apply cost.
    public static func routerThroughput(messages: Int) throws -> String {
        let manager = try WorkerManager(workerCount: 1, configuration: .init(verifyExchangeHash: false))
        let channel = manager.inputChannels[0]
        // No worker process: the consumer is a thread of this process, so the router's
        // liveness check (used while it waits for space) must see this process as the worker.
        manager.shared.data.withLock { $0.pids[0] = getpid() }
        let box = RingBox(ring: channel.ring)
        let dataFD = channel.dataWakeFD
        let spaceFD = channel.spaceWakeFD
        let consumerDone = DispatchSemaphore(value: 0)
        let expected = messages + 1000
        let consumerThread = Thread {
            var consumer = RingConsumer(ring: box.ring, dataWakeFD: dataFD, spaceWakeFD: spaceFD)
            var seen = 0
            var checksum: Int64 = 0
            while seen < expected {
                if consumer.refresh() {
                    while let record = consumer.next() {
                        let (header, decoded) = RecordCodec.decode(at: record)
                        if case .priceChange(let event) = decoded { checksum &+= event.price.units }
                        consumer.advance(Int(header.length))
                        seen += 1
                        if seen % 64 == 0 { consumer.release() }
                    }
                    consumer.release()
                } else {
                    consumer.sleep(timeoutMs: 100)
                }
            }
            if checksum == 42 { print("") }  // keeps the decode from being optimized away
            consumerDone.signal()
        }
        var router = try Router(channels: manager.inputChannels)
        var feed = SyntheticFeed(assets: 1000, seed: 42)
        consumerThread.start()
        let begin = cshim_monotonic_ns()
        feed.emitBooks(into: &router)
        feed.emitChanges(messages, into: &router)
        try router.flush()
        consumerDone.wait()
        let seconds = Double(cshim_monotonic_ns() - begin) / 1e9
        return "router+ring (no workers, no apply) messages=\(expected) seconds=\(String(format: "%.3f", seconds)) "
            + "rate=\(String(format: "%.0f", Double(expected) / seconds))/s "
            + "router_blocked_ms=\(String(format: "%.1f", Double(router.stats.blockedNanos) / 1e6))"
    }
}
