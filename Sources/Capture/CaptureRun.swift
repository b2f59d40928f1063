// A whole capture: shards the assets over connections, runs one session thread per shard
// and one tape writer thread, and stops cleanly (footer written) on request.
import Glibc
import Synchronization

/// Everything a capture needs to know besides where the bytes go.
public struct CaptureConfiguration: Sendable {
    public var url: String
    public var assets: [String]
    public var sideData: [AssetMetadata]
    public var assetsPerConnection: Int = 200
    public var policy = SessionPolicy()
    /// Stop by itself after this long (monotonic); nil runs until stopped.
    public var durationNanoseconds: UInt64?
    /// Writer-queue bounds: frames and bytes held between the readers and the writer.
    public var queueCapacityFrames = 262_144
    public var queueCapacityBytes = 256 << 20
    /// How long a reader waits for room in a full queue before dropping (and recording a gap).
    public var queueFullWaitNanoseconds: UInt64 = 200 * SessionPolicy.millisecond
    /// The writer flushes unflushed data at least this often (kill -9 loses at most this much).
    public var flushIntervalNanoseconds: UInt64 = 80 * SessionPolicy.millisecond
    /// Seeds the reconnect jitter (tests pin it).
    public var jitterSeed: UInt64
    /// Called on the writer thread with every lifecycle event right after it was written to the
    /// tape (for a log on stderr); must return quickly.
    public var onEvent: (@Sendable (TimedConnectionEvent) -> Void)?

    public init(url: String, assets: [String], sideData: [AssetMetadata] = [], jitterSeed: UInt64 = 0) {
        self.url = url
        self.assets = assets
        self.sideData = sideData
        self.jitterSeed = jitterSeed
    }
}

/// Failures that stop a capture.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A running capture. `start()` writes the header and starts the threads; `wait` returns
/// the summary once a stop was requested (signal, duration or a fatal writer error) and
/// every segment was closed with a footer.
public final class CaptureRun<Factory: MarketConnectionFactory, Clock: CaptureClock, Sink: CaptureTapeSink>: Sendable {
    public let configuration: CaptureConfiguration
    public let counters = CaptureCounters()
    public let shards: [[String]]
    private let factory: Factory
    private let clock: Clock
    private let stopSignal = StopSignal()
    private let writerDone = StopSignal()
    private let forced = Atomic<Bool>(false)
    private let queue: WriterQueue
    private let state = Mutex(RunState())
    private let sinkBox: SinkBox<Sink>

    private struct RunState {
        var threads: [pthread_t] = []
        var writerThread: pthread_t?
        var started = false
        var startedWall: UInt64 = 0
        var startedMonotonic: UInt64 = 0
        var failure: String?
        var summary: CaptureSummary?
        var endings: [[ConnectionEnding]] = []
    }

    public init(configuration: CaptureConfiguration, factory: Factory, clock: Clock, sink: Sink) {
        self.configuration = configuration
        self.factory = factory
        self.clock = clock
        self.shards = shardAssets(configuration.assets, perConnection: configuration.assetsPerConnection)
        self.queue = WriterQueue(
            capacityFrames: configuration.queueCapacityFrames, capacityBytes: configuration.queueCapacityBytes,
            fullWaitNanoseconds: configuration.queueFullWaitNanoseconds, counters: counters)
        self.sinkBox = SinkBox(sink)
        state.withLock { $0.endings = Array(repeating: [], count: shards.count) }
    }

    /// The stop flag: raise it (from any thread) to end the capture cleanly.
    public var stop: StopSignal { stopSignal }

    /// Writes the tape header and starts the writer and one session thread per shard.
    public func start() throws {
        guard !configuration.assets.isEmpty else {
            throw CaptureError("no assets to capture: give --assets, --assets-file, --markets or --top")
        }
        let wall = clock.wallNanoseconds()
        let header = CaptureHeader(
            sourceURL: configuration.url, assets: configuration.assets, sideData: configuration.sideData,
            createdWallNanoseconds: wall)
        try sinkBox.sink.begin(header: header)
        state.withLock {
            $0.started = true
            $0.startedWall = wall
            $0.startedMonotonic = clock.monotonicNanoseconds()
        }
        let writer = try spawnThread { [self] in writerLoop() }
        state.withLock { $0.writerThread = writer }
        let ids = ConnectionIDSource()
        for (index, assets) in shards.enumerated() {
            let seed = configuration.jitterSeed &+ UInt64(index) &* 0x9E37_79B9
            let thread = try spawnThread { [self] in
                let session = ConnectionSession(
                    shard: index, assets: assets, url: configuration.url, policy: configuration.policy,
                    factory: factory, clock: clock, queue: queue, counters: counters, stop: stopSignal,
                    connectionIDs: ids, jitterSeed: seed)
                let endings = session.run()
                state.withLock { $0.endings[index] = endings }
                counters.addCallingThreadCPUTime()
            }
            state.withLock { $0.threads.append(thread) }
        }
    }

    /// Requests a clean stop: sessions close their sockets, the writer drains and writes the footer.
    public func requestStop() { stopSignal.raise() }

    /// Requests an immediate stop: the writer writes what is queued, the footer, and closes,
    /// without waiting for the sockets. Returns once the tape is closed or after `timeout`.
    @discardableResult
    public func forceStop(timeoutNanoseconds: UInt64 = 2 * SessionPolicy.second) -> Bool {
        forced.store(true, ordering: .releasing)
        stopSignal.raise()
        queue.close()
        return writerDone.wait(nanoseconds: timeoutNanoseconds)
    }

    /// Waits until the capture ends, calling `onTick` with fresh counters every `tickNanoseconds`
    /// (for a status line) and stopping by itself when the configured duration has elapsed.
    public func wait(
        tickNanoseconds: UInt64 = SessionPolicy.second, onTick: (CaptureCountersSnapshot) -> Void = { _ in }
    ) -> CaptureSummary {
        let startedMonotonic = state.withLock { $0.startedMonotonic }
        while !stopSignal.isRaised {
            var slice = tickNanoseconds
            if let duration = configuration.durationNanoseconds {
                let elapsed = clock.monotonicNanoseconds() &- startedMonotonic
                if elapsed >= duration {
                    stopSignal.raise()
                    break
                }
                slice = min(slice, duration - elapsed)
            }
            _ = clock.sleep(nanoseconds: slice, unlessStopped: stopSignal)
            onTick(counters.snapshot())
        }
        let threads = state.withLock { $0.threads }
        for thread in threads { pthread_join(thread, nil) }
        queue.close()
        if let writer = state.withLock({ $0.writerThread }) { pthread_join(writer, nil) }
        return state.withLock { $0.summary } ?? makeSummary(ending: "failed")
    }

    /// How each physical connection of each shard ended (for tests and diagnostics).
    public var connectionEndings: [[ConnectionEnding]] { state.withLock { $0.endings } }

    /// The fatal error that stopped the capture, if any.
    public var failure: String? { state.withLock { $0.failure } }

    private func makeSummary(ending: String) -> CaptureSummary {
        let (wall, failure) = state.withLock { ($0.startedWall, $0.failure) }
        return CaptureSummary(
            startedWallNanoseconds: wall, endedWallNanoseconds: clock.wallNanoseconds(),
            assets: configuration.assets.count, shards: shards.count, ending: failure == nil ? ending : "failed",
            failure: failure, counters: counters.snapshot())
    }

    private func fail(_ message: String) {
        state.withLock { if $0.failure == nil { $0.failure = message } }
        stopSignal.raise()
        queue.close()
    }

    private func writerLoop() {
        defer { writerDone.raise() }
        let sink = sinkBox.sink
        var batch: [WriterItem] = []
        batch.reserveCapacity(4096)
        let interval = configuration.flushIntervalNanoseconds
        var lastFlush = clock.monotonicNanoseconds()
        var dirty = false
        var failed = false
        while true {
            let now = clock.monotonicNanoseconds()
            let sinceFlush = now &- lastFlush
            let more = queue.take(into: &batch, maxWaitNanoseconds: sinceFlush >= interval ? 0 : interval - sinceFlush)
            do {
                var frames: UInt64 = 0
                var events: UInt64 = 0
                for item in batch {
                    switch item {
                    case .frame(let frame):
                        try sink.write(frame: frame)
                        frames += 1
                    case .event(let event):
                        try sink.write(event: event)
                        events += 1
                        configuration.onEvent?(event)
                    }
                }
                if !batch.isEmpty { dirty = true }
                counters.framesWritten.add(frames, ordering: .relaxed)
                counters.eventsWritten.add(events, ordering: .relaxed)
                batch.removeAll(keepingCapacity: true)
                let after = clock.monotonicNanoseconds()
                if after &- lastFlush >= interval {
                    if dirty {
                        try sink.flush()
                        counters.flushes.add(1, ordering: .relaxed)
                        publish(sink.byteCounts)
                        dirty = false
                    }
                    lastFlush = after
                }
            } catch {
                fail("writing the tape failed: \(error)")
                failed = true
                break
            }
            if !more || forced.load(ordering: .acquiring) { break }
        }
        if forced.load(ordering: .acquiring) && !failed {
            // A forced stop still writes what the readers had already queued.
            _ = queue.take(into: &batch, maxWaitNanoseconds: 0)
            for item in batch {
                switch item {
                case .frame(let frame): try? sink.write(frame: frame)
                case .event(let event): try? sink.write(event: event)
                }
            }
        }
        if !forced.load(ordering: .acquiring), let verdict = neverConnectedVerdict(counters.snapshot()) {
            // Every session has ended (the queue closes only after they are joined), so no
            // connection will come any more: a run that never had one did not record anything.
            state.withLock { if $0.failure == nil { $0.failure = verdict } }
        }
        var summary = makeSummary(ending: forced.load(ordering: .acquiring) ? "forced" : "stopped")
        do {
            try sink.finish(summary: summary)
        } catch {
            fail("closing the tape failed: \(error)")
        }
        publish(sink.byteCounts)
        counters.addCallingThreadCPUTime()
        summary.counters = counters.snapshot()
        if let failure = state.withLock({ $0.failure }) {
            summary.ending = "failed"
            summary.failure = failure
        }
        let final = summary
        state.withLock { $0.summary = final }
    }

    /// The failure message of a run in which no connection was ever established, or nil
    /// when one was: "never connected to URL: <last error> (3 attempts); check --url and the network".
    private func neverConnectedVerdict(_ counters: CaptureCountersSnapshot) -> String? {
        guard counters.connects == 0 else { return nil }
        let attempts = counters.connectAttemptsFailed
        let why =
            if let error = counters.lastConnectError, attempts > 0 {
                "\(firstSentence(error)) (\(attempts) \(attempts == 1 ? "attempt" : "attempts"))"
            } else {
                "no connect attempt finished before the capture stopped"
            }
        return "never connected to \(configuration.url): \(why); check --url and the network"
    }

    /// A transport error without the advice it may end with ("… (errno 111). Check that …"):
    /// the verdict gives its own.
    private func firstSentence(_ error: String) -> String {
        var sentence = error.components(separatedBy: ". ").first ?? error
        while sentence.hasSuffix(".") { sentence.removeLast() }
        return sentence
    }

    private func publish(_ counts: SinkByteCounts) {
        counters.bytesUncompressed.store(counts.uncompressed, ordering: .relaxed)
        counters.bytesWritten.store(counts.written, ordering: .relaxed)
        counters.segments.store(counts.segments, ordering: .relaxed)
    }
}

/// Hands the sink to the writer thread.
private final class SinkBox<Sink: CaptureTapeSink>: @unchecked Sendable {
    // @unchecked: the sink is used by the creating thread only for `begin(header:)`, strictly
    // before the writer thread is spawned (pthread_create is a happens-before edge), and
    // afterwards only by the writer thread.
    let sink: Sink
    init(_ sink: Sink) { self.sink = sink }
}

/// Starts a joinable POSIX thread running `body`.
func spawnThread(_ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { raw in
            let box = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! Box
            box.body()
            return nil
        }, context)
    guard result == 0 else {
        Unmanaged<AnyObject>.fromOpaque(context).release()
        throw CaptureError("could not start a capture thread: error \(result)")
    }
    return thread
}
