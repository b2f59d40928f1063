// What the capture sessions hand to the tape writer thread: received frames and
// connection lifecycle events, each stamped with wall-clock and monotonic receive times.

/// One received text frame, byte-exact, with where and when it arrived.
public struct CapturedFrame: Sendable {
    /// Physical connection id: unique for the whole run, a reconnect gets a new one.
    public var connection: UInt32
    /// 1-based sequence of data frames on this connection (PONGs are not counted).
    public var sequence: UInt64
    public var wallNanoseconds: UInt64
    public var monotonicNanoseconds: UInt64
    public var bytes: [UInt8]

    public init(
        connection: UInt32, sequence: UInt64, wallNanoseconds: UInt64, monotonicNanoseconds: UInt64,
        bytes: [UInt8]
    ) {
        self.connection = connection
        self.sequence = sequence
        self.wallNanoseconds = wallNanoseconds
        self.monotonicNanoseconds = monotonicNanoseconds
        self.bytes = bytes
    }
}

/// A connection lifecycle event, written into the tape so replay knows where book state
/// becomes untrustworthy (every `disconnected` and `gap`) and trustworthy again (the
/// initial dump after `subscribed`).
public enum ConnectionEvent: Sendable, Equatable {
    /// A websocket upgrade succeeded. `shard` is the asset group; `attempt` counts failures before it.
    case connected(connection: UInt32, shard: Int, url: String, attempt: Int)
    /// The subscribe message was sent for these assets.
    case subscribed(connection: UInt32, shard: Int, assets: [String])
    /// The connection ended: the server's close code (nil when the stream ended without a
    /// close frame, or on a transport error or a local keepalive verdict) and why.
    case disconnected(connection: UInt32, shard: Int, closeCode: UInt16?, reason: String)
    /// A connect attempt failed before the upgrade completed.
    case connectFailed(shard: Int, attempt: Int, reason: String)
    /// The session will try again after `delayNanoseconds`.
    case reconnecting(shard: Int, attempt: Int, delayNanoseconds: UInt64)
    /// Frames may be missing for these assets on this connection since `sinceMonotonicNanoseconds`
    /// (the last frame known good): a lost connection, or frames dropped by a full writer queue.
    case gap(connection: UInt32, shard: Int, reason: String, droppedFrames: UInt64, sinceMonotonicNanoseconds: UInt64)

    /// The event's name as written into the tape.
    public var name: String {
        switch self {
        case .connected: "connected"
        case .subscribed: "subscribed"
        case .disconnected: "disconnected"
        case .connectFailed: "connect_failed"
        case .reconnecting: "reconnecting"
        case .gap: "gap"
        }
    }
}

/// A lifecycle event with the times it happened.
public struct TimedConnectionEvent: Sendable, Equatable {
    public var wallNanoseconds: UInt64
    public var monotonicNanoseconds: UInt64
    public var event: ConnectionEvent

    public init(wallNanoseconds: UInt64, monotonicNanoseconds: UInt64, event: ConnectionEvent) {
        self.wallNanoseconds = wallNanoseconds
        self.monotonicNanoseconds = monotonicNanoseconds
        self.event = event
    }
}

extension ConnectionEvent: CustomStringConvertible {
    /// One log line's worth: "shard 1 conn 4 disconnected: no PONG for 30 s (no close code)".
    public var description: String {
        switch self {
        case .connected(let connection, let shard, let url, let attempt):
            "shard \(shard) conn \(connection) connected to \(url)"
                + (attempt > 0 ? " after \(attempt) failed attempt(s)" : "")
        case .subscribed(let connection, let shard, let assets):
            "shard \(shard) conn \(connection) subscribed to \(assets.count) asset(s)"
        case .disconnected(let connection, let shard, let code, let reason):
            "shard \(shard) conn \(connection) disconnected: \(reason)"
                + (code.map { " (close code \($0))" } ?? " (no close code)")
        case .connectFailed(let shard, let attempt, let reason):
            "shard \(shard) connect attempt \(attempt + 1) failed: \(reason)"
        case .reconnecting(let shard, let attempt, let delay):
            "shard \(shard) reconnecting in \(Double(delay / 1_000_000) / 1000) s (attempt \(attempt))"
        case .gap(let connection, let shard, let reason, _, _):
            "shard \(shard) conn \(connection) GAP: \(reason)"
        }
    }
}
