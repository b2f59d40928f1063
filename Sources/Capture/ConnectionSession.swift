// One shard of the capture: keeps one market-channel connection alive for a fixed set of
// assets, forever, and reports everything that happens to it into the writer queue.
import Synchronization

/// Why one physical connection ended.
public enum ConnectionEnding: Sendable, Equatable {
    case stopped
    case connectFailed
    case serverClosed
    case transportError
    case keepaliveTimeout
    case silenceTimeout
}

/// Keeps one shard's connection alive: connect, subscribe, PING every interval, detect a
/// dead peer (missing PONG, data silence, close, transport error), record the disconnect
/// and a `gap`, back off with jitter, reconnect and resubscribe, until `stop` is raised.
/// Runs on its own thread; everything it learns goes into the writer queue and counters.
public final class ConnectionSession<Factory: MarketConnectionFactory, Clock: CaptureClock> {
    public let shard: Int
    public let assets: [String]
    private let url: String
    private let policy: SessionPolicy
    private let factory: Factory
    private let clock: Clock
    private let queue: WriterQueue
    private let counters: CaptureCounters
    private let stop: StopSignal
    private let connectionIDs: ConnectionIDSource
    private var jitter: JitterSource
    private let subscribeText: String

    public init(
        shard: Int, assets: [String], url: String, policy: SessionPolicy, factory: Factory, clock: Clock,
        queue: WriterQueue, counters: CaptureCounters, stop: StopSignal, connectionIDs: ConnectionIDSource,
        jitterSeed: UInt64
    ) {
        self.shard = shard
        self.assets = assets
        self.url = url
        self.policy = policy
        self.factory = factory
        self.clock = clock
        self.queue = queue
        self.counters = counters
        self.stop = stop
        self.connectionIDs = connectionIDs
        self.jitter = JitterSource(seed: jitterSeed)
        self.subscribeText = subscribeMessage(assets: assets)
    }

    /// Runs until `stop` is raised. Returns how each physical connection ended, in order.
    @discardableResult
    public func run() -> [ConnectionEnding] {
        var endings: [ConnectionEnding] = []
        var failures = 0
        while !stop.isRaised {
            let started = clock.monotonicNanoseconds()
            // A reconnect is a new connection after an earlier one of this shard was up;
            // failed attempts in between are counted as such, not as reconnects.
            let wasUpBefore = endings.contains { $0 != .connectFailed }
            let ending = runOneConnection(attempt: failures, isReconnect: wasUpBefore)
            endings.append(ending)
            if ending == .stopped || stop.isRaised { break }
            let lived = clock.monotonicNanoseconds() &- started
            if ending != .connectFailed && lived >= policy.healthyAfterNanoseconds { failures = 0 }
            failures += 1
            let delay = policy.backoff(attempt: failures, unit: jitter.nextUnit())
            record(.reconnecting(shard: shard, attempt: failures, delayNanoseconds: delay))
            if !clock.sleep(nanoseconds: delay, unlessStopped: stop) { break }
        }
        return endings
    }

    private func record(_ event: ConnectionEvent) {
        queue.push(
            event: TimedConnectionEvent(
                wallNanoseconds: clock.wallNanoseconds(), monotonicNanoseconds: clock.monotonicNanoseconds(),
                event: event))
    }

    private func runOneConnection(attempt: Int, isReconnect: Bool) -> ConnectionEnding {
        let connection: Factory.Connection
        do {
            connection = try factory.connect(url: url, timeoutNanoseconds: policy.connectTimeoutNanoseconds)
        } catch {
            let reason = "\(error)"
            counters.lastConnectError.withLock { $0 = reason }
            counters.connectAttemptsFailed.add(1, ordering: .relaxed)
            record(.connectFailed(shard: shard, attempt: attempt, reason: reason))
            return .connectFailed
        }
        let id = connectionIDs.next()
        counters.connects.add(1, ordering: .relaxed)
        if isReconnect { counters.reconnects.add(1, ordering: .relaxed) }
        record(.connected(connection: id, shard: shard, url: url, attempt: attempt))
        do {
            try connection.send(text: subscribeText)
        } catch {
            record(.disconnected(connection: id, shard: shard, closeCode: nil, reason: "subscribe failed: \(error)"))
            connection.close(code: 1011, reason: "subscribe failed")
            return .transportError
        }
        record(.subscribed(connection: id, shard: shard, assets: assets))
        counters.connectionsUp.add(1, ordering: .relaxed)
        defer { counters.connectionsUp.subtract(1, ordering: .relaxed) }
        return pump(connection, id: id)
    }

    /// Reads until the connection dies or a stop is requested.
    private func pump(_ connection: Factory.Connection, id: UInt32) -> ConnectionEnding {
        let subscribedAt = clock.monotonicNanoseconds()
        var lastData = subscribedAt
        var sequence: UInt64 = 0
        var nextPing = subscribedAt &+ policy.pingIntervalNanoseconds
        var oldestUnansweredPing: UInt64?

        func end(_ ending: ConnectionEnding, code: UInt16?, reason: String, closeWith localCode: UInt16?) {
            if let localCode { connection.close(code: localCode, reason: reason) }
            record(.disconnected(connection: id, shard: shard, closeCode: code, reason: reason))
            if ending != .stopped {
                record(
                    .gap(
                        connection: id, shard: shard, reason: "connection lost: \(reason)", droppedFrames: 0,
                        sinceMonotonicNanoseconds: lastData))
            }
        }

        while true {
            if stop.isRaised {
                end(.stopped, code: 1000, reason: "capture stopped", closeWith: 1000)
                return .stopped
            }
            let now = clock.monotonicNanoseconds()
            if let sent = oldestUnansweredPing, now &- sent >= policy.pongTimeoutNanoseconds {
                counters.keepaliveTimeouts.add(1, ordering: .relaxed)
                end(
                    .keepaliveTimeout, code: nil,
                    reason: "no PONG for \(seconds(policy.pongTimeoutNanoseconds)) s", closeWith: 1001)
                return .keepaliveTimeout
            }
            if policy.silenceTimeoutNanoseconds > 0, now &- lastData >= policy.silenceTimeoutNanoseconds {
                counters.silenceTimeouts.add(1, ordering: .relaxed)
                end(
                    .silenceTimeout, code: nil,
                    reason: "no data for \(seconds(policy.silenceTimeoutNanoseconds)) s", closeWith: 1001)
                return .silenceTimeout
            }
            if now >= nextPing {
                do {
                    try connection.send(text: "PING")
                } catch {
                    end(.transportError, code: nil, reason: "PING failed: \(error)", closeWith: nil)
                    connection.close(code: 1011, reason: "transport error")
                    return .transportError
                }
                counters.pingsSent.add(1, ordering: .relaxed)
                if oldestUnansweredPing == nil { oldestUnansweredPing = now }
                nextPing = now &+ policy.pingIntervalNanoseconds
            }
            var deadline = min(nextPing, now &+ policy.receiveSliceNanoseconds)
            if let sent = oldestUnansweredPing { deadline = min(deadline, sent &+ policy.pongTimeoutNanoseconds) }
            if policy.silenceTimeoutNanoseconds > 0 {
                deadline = min(deadline, lastData &+ policy.silenceTimeoutNanoseconds)
            }
            let message: IncomingMessage
            do {
                message = try connection.receive(timeoutNanoseconds: deadline > now ? deadline - now : 0)
            } catch {
                end(.transportError, code: nil, reason: "\(error)", closeWith: nil)
                connection.close(code: 1011, reason: "transport error")
                return .transportError
            }
            switch message {
            case .text(let bytes):
                let wall = clock.wallNanoseconds()
                let mono = clock.monotonicNanoseconds()
                if isPong(bytes) {
                    counters.pongsReceived.add(1, ordering: .relaxed)
                    oldestUnansweredPing = nil
                    continue
                }
                sequence += 1
                lastData = mono
                counters.framesReceived.add(1, ordering: .relaxed)
                counters.bytesReceived.add(UInt64(bytes.count), ordering: .relaxed)
                counters.lastFrameMonotonic.store(mono, ordering: .relaxed)
                queue.push(
                    frame: CapturedFrame(
                        connection: id, sequence: sequence, wallNanoseconds: wall, monotonicNanoseconds: mono,
                        bytes: bytes),
                    shard: shard)
            case .binary:
                counters.binaryFramesIgnored.add(1, ordering: .relaxed)
            case .ping, .pong, .timeout:
                continue
            case .close(let code, let reason):
                counters.serverCloses.add(1, ordering: .relaxed)
                let why =
                    code == nil
                    ? (reason.isEmpty ? "server ended the stream without a close frame" : reason)
                    : "server closed: \(reason.isEmpty ? "no reason" : reason)"
                end(.serverClosed, code: code, reason: why, closeWith: nil)
                connection.close(code: 1000, reason: "")
                return .serverClosed
            }
        }
    }

    private func isPong(_ bytes: [UInt8]) -> Bool {
        bytes.count == 4 && bytes[0] == 0x50 && bytes[1] == 0x4F && bytes[2] == 0x4E && bytes[3] == 0x47
    }

    private func seconds(_ nanoseconds: UInt64) -> String {
        let value = Double(nanoseconds) / 1e9
        return value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// Hands out run-unique connection ids (1, 2, 3, …) to every session of a capture.
public final class ConnectionIDSource: Sendable {
    private let counter = Atomic<UInt32>(0)
    public init() {}
    public func next() -> UInt32 { counter.add(1, ordering: .relaxed).newValue }
}
