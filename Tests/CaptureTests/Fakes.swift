// In-memory stand-ins for the transport, the clock and the tape, so that the session
// rules (keepalive, reconnect, backoff, sharding, queue overflow) are tested exactly and fast.
import Capture
import Synchronization

/// A clock whose time only moves when someone sleeps or waits on it.
final class FakeClock: CaptureClock {
    let now = Atomic<UInt64>(1_000_000_000)
    let wallOffset: UInt64 = 1_764_000_000_000_000_000
    func monotonicNanoseconds() -> UInt64 { now.load(ordering: .relaxed) }
    func wallNanoseconds() -> UInt64 { wallOffset &+ now.load(ordering: .relaxed) }
    func sleep(nanoseconds: UInt64, unlessStopped stop: StopSignal) -> Bool {
        if stop.isRaised { return false }
        now.add(nanoseconds, ordering: .relaxed)
        return !stop.isRaised
    }
    func advance(_ nanoseconds: UInt64) { now.add(nanoseconds, ordering: .relaxed) }
}

struct FakeTransportError: Error, CustomStringConvertible {
    var description: String
}

/// One scripted step of a fake server connection.
enum FakeStep: Sendable {
    /// Deliver this message after `after` nanoseconds of (fake) time.
    case message(IncomingMessage, after: UInt64 = 0)
    /// Throw a transport error.
    case fail(String)
    /// Answer every PING with PONG from now on.
    case answerPings
    /// Raise the stop signal (ends the test run).
    case stop
}

/// What a fake server does for one connect attempt.
enum FakeConnect: Sendable {
    case refuse(String)
    case accept([FakeStep])
}

final class FakeConnection: MarketConnection {
    private var steps: [FakeStep]
    private let clock: any CaptureClock
    private let stop: StopSignal
    private let log: FakeLog
    private var answerPings = false
    private var pendingPongs = 0
    let index: Int

    init(index: Int, steps: [FakeStep], clock: any CaptureClock, stop: StopSignal, log: FakeLog) {
        self.index = index
        self.steps = steps
        self.clock = clock
        self.stop = stop
        self.log = log
    }

    func send(text: String) throws {
        log.append(sent: text, connection: index, at: clock.monotonicNanoseconds())
        if text == "PING" && answerPings { pendingPongs += 1 }
    }

    func receive(timeoutNanoseconds: UInt64) throws -> IncomingMessage {
        if pendingPongs > 0 {
            pendingPongs -= 1
            return .text(Array("PONG".utf8))
        }
        while let step = steps.first {
            switch step {
            case .answerPings:
                answerPings = true
                steps.removeFirst()
            case .stop:
                steps.removeFirst()
                stop.raise()
                return .timeout
            case .fail(let reason):
                steps.removeFirst()
                throw FakeTransportError(description: reason)
            case .message(let message, let after):
                if after > timeoutNanoseconds {
                    steps[0] = .message(message, after: after - timeoutNanoseconds)
                    _ = clock.sleep(nanoseconds: timeoutNanoseconds, unlessStopped: StopSignal())
                    return .timeout
                }
                _ = clock.sleep(nanoseconds: after, unlessStopped: StopSignal())
                steps.removeFirst()
                return message
            }
        }
        // Script exhausted: the server stays silent.
        _ = clock.sleep(nanoseconds: timeoutNanoseconds, unlessStopped: stop)
        return .timeout
    }

    func close(code: UInt16, reason: String) {
        log.append(closed: code, connection: index)
    }
}

/// Thread-safe record of what the fake servers saw.
final class FakeLog: Sendable {
    struct Sent: Sendable, Equatable {
        var connection: Int
        var text: String
        var at: UInt64
    }
    private let state = Mutex<(sent: [Sent], closes: [(Int, UInt16)], connects: Int)>(([], [], 0))
    func append(sent text: String, connection: Int, at: UInt64) {
        state.withLock { $0.sent.append(Sent(connection: connection, text: text, at: at)) }
    }
    func append(closed code: UInt16, connection: Int) { state.withLock { $0.closes.append((connection, code)) } }
    func countConnect() -> Int {
        state.withLock {
            $0.connects += 1; return $0.connects
        }
    }
    var sent: [Sent] { state.withLock { $0.sent } }
    var closes: [(Int, UInt16)] { state.withLock { $0.closes } }
}

/// Hands out scripted connections in order; when the script runs out it raises stop.
final class FakeFactory: MarketConnectionFactory {
    private let plan: Mutex<[FakeConnect]>
    /// Optional: build a script from the subscribe message (for multi-shard tests).
    private let responder: (@Sendable (String) -> [FakeStep])?
    let clock: any CaptureClock
    let stop: StopSignal
    let log = FakeLog()

    init(plan: [FakeConnect], clock: any CaptureClock, stop: StopSignal) {
        self.plan = Mutex(plan)
        self.responder = nil
        self.clock = clock
        self.stop = stop
    }

    init(responder: @escaping @Sendable (String) -> [FakeStep], clock: any CaptureClock, stop: StopSignal) {
        self.plan = Mutex([])
        self.responder = responder
        self.clock = clock
        self.stop = stop
    }

    func connect(url: String, timeoutNanoseconds: UInt64) throws -> FakeResponderConnection {
        let index = log.countConnect()
        if let responder {
            return FakeResponderConnection(
                inner: nil, responder: responder, index: index, clock: clock, stop: stop, log: log)
        }
        let next: FakeConnect? = plan.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        switch next {
        case nil:
            stop.raise()
            throw FakeTransportError(description: "script exhausted")
        case .refuse(let reason):
            throw FakeTransportError(description: reason)
        case .accept(let steps):
            return FakeResponderConnection(
                inner: FakeConnection(index: index, steps: steps, clock: clock, stop: stop, log: log),
                responder: nil, index: index, clock: clock, stop: stop, log: log)
        }
    }
}

/// Either a scripted connection, or one whose script is built from the subscribe message.
final class FakeResponderConnection: MarketConnection {
    private var inner: FakeConnection?
    private let responder: (@Sendable (String) -> [FakeStep])?
    private let index: Int
    private let clock: any CaptureClock
    private let stop: StopSignal
    private let log: FakeLog

    init(
        inner: FakeConnection?, responder: (@Sendable (String) -> [FakeStep])?, index: Int,
        clock: any CaptureClock, stop: StopSignal, log: FakeLog
    ) {
        self.inner = inner
        self.responder = responder
        self.index = index
        self.clock = clock
        self.stop = stop
        self.log = log
    }

    func send(text: String) throws {
        if inner == nil, let responder {
            inner = FakeConnection(index: index, steps: responder(text), clock: clock, stop: stop, log: log)
        }
        try inner!.send(text: text)
    }

    func receive(timeoutNanoseconds: UInt64) throws -> IncomingMessage {
        try inner!.receive(timeoutNanoseconds: timeoutNanoseconds)
    }

    func close(code: UInt16, reason: String) { inner?.close(code: code, reason: reason) }
}

/// Keeps everything written, in order.
final class MemorySink: CaptureTapeSink {
    enum Line: Equatable {
        case frame(connection: UInt32, sequence: UInt64, text: String)
        case event(ConnectionEvent)
    }
    var header: CaptureHeader?
    var lines: [Line] = []
    var flushes = 0
    var summary: CaptureSummary?
    var uncompressed: UInt64 = 0
    var failAfterFrames: Int?

    func begin(header: CaptureHeader) throws { self.header = header }
    func write(frame: CapturedFrame) throws {
        if let limit = failAfterFrames, frames.count >= limit {
            throw FakeTransportError(description: "disk full (test)")
        }
        lines.append(
            .frame(
                connection: frame.connection, sequence: frame.sequence,
                text: String(decoding: frame.bytes, as: UTF8.self)))
        uncompressed += UInt64(frame.bytes.count)
    }
    func write(event: TimedConnectionEvent) throws { lines.append(.event(event.event)) }
    func flush() throws { flushes += 1 }
    func finish(summary: CaptureSummary) throws { self.summary = summary }
    var byteCounts: SinkByteCounts {
        SinkByteCounts(uncompressed: uncompressed, written: uncompressed / 4, segments: 1)
    }

    var events: [ConnectionEvent] {
        lines.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }
    var frames: [(connection: UInt32, sequence: UInt64, text: String)] {
        lines.compactMap {
            if case .frame(let connection, let sequence, let text) = $0 { (connection, sequence, text) } else { nil }
        }
    }
}

/// Drains a writer queue synchronously (single-threaded session tests).
func drain(_ queue: WriterQueue, into sink: MemorySink) throws {
    var batch: [WriterItem] = []
    queue.close()
    while queue.take(into: &batch, maxWaitNanoseconds: 0) {
        for item in batch {
            switch item {
            case .frame(let frame): try sink.write(frame: frame)
            case .event(let event): try sink.write(event: event)
            }
        }
        batch.removeAll()
    }
}
