// `replay serve`: options and the events the server reports (the CLI prints them).
import Foundation

/// The speed `replay serve` plays its tape at: the same choices as `replay run --speed`.
public typealias ServeSpeed = ReplaySpeed

/// Everything `ReplayServer` can be asked to do; see docs/SERVE.md for each option's meaning.
public struct ServeOptions: Sendable {
    /// Address to bind (loopback by default).
    public var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one (read `ReplayServer.port`/`url`).
    public var port: UInt16 = 0
    /// The websocket path clients connect to.
    public var path = "/ws/market"
    public var speed: ServeSpeed = .factor(1)
    /// Start over at the end of the tape.
    public var loop = false
    /// All clients follow one clock started with the server, instead of each playing from the start.
    public var sharedClock = false
    /// PEM certificate chain and key: serve `wss://`.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// Close the TCP connection (no close frame) after this long without client traffic.
    public var idleClose: Duration?
    /// Drop each connection abruptly right after the Nth data frame sent to it (dumps included).
    public var dropAfterFrames: Int?
    /// Refuse subscriptions over this many assets (close 1008 with a reason).
    public var maxAssets: Int?
    /// Answer text `PING` with `PONG` (off: `--no-pong`).
    public var answerPings = true
    /// Refuse clients beyond this many open connections (close 1013).
    public var maxClients: Int?
    /// Frames queued per client before it counts as a slow consumer and is disconnected
    /// (paced speeds and the shared clock; at `max` speed per client the tape waits instead).
    public var clientBufferFrames = 4096
    /// SO_SNDBUF for each client socket (smaller: slow clients are detected sooner).
    public var socketSendBufferBytes: Int?

    public init() {}
}

/// What kind of thing happened in the server (for logs and tests).
public enum ServeEventKind: String, Sendable {
    case listening
    /// Damage found while loading the tape (torn tail, corrupt data, skipped line).
    case warning
    case clientConnected = "client_connected"
    case clientRefused = "client_refused"
    case subscribed
    case unsubscribed
    case policyClose = "policy_close"
    case idleClose = "idle_close"
    case dropped
    case slowConsumer = "slow_consumer"
    case clientClosed = "client_closed"
    case tapeEnded = "tape_ended"
    case loopRestarted = "loop_restarted"
    case handshakeFailed = "handshake_failed"
    case stopped
}

/// One thing the server reports: a kind, the client it concerns (numbered from 1 in
/// connection order) and a human sentence.
public struct ServeEvent: Sendable, CustomStringConvertible {
    public var kind: ServeEventKind
    public var client: Int?
    public var message: String

    public init(kind: ServeEventKind, client: Int? = nil, message: String) {
        self.kind = kind
        self.client = client
        self.message = message
    }

    /// `client 3: message` (or just the message).
    public var description: String { client.map { "client \($0): \(message)" } ?? message }

    /// One JSON object on one line: `{"ts":...,"event":...,"client":...,"message":...}`.
    public func jsonLine() -> String {
        let wallTime = Date()
        var object: [String: Any] = [
            "ts": ISO8601DateFormatter().string(from: wallTime), "event": kind.rawValue, "message": message,
        ]
        if let client { object["client"] = client }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
