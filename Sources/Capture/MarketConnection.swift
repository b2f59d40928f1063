// The seam between the capture session logic and the transport. The session is generic
// over these protocols so that the reconnect, keepalive and sharding rules are tested with
// in-memory fakes, and the same code runs over the real RFC 6455 client in production.

/// One message taken off a market-channel connection.
public enum IncomingMessage: Sendable {
    /// A text frame, byte-exact as the server sent it.
    case text([UInt8])
    /// A binary frame (the market channel does not send these; they are counted, not recorded).
    case binary([UInt8])
    /// A protocol-level ping or pong (the transport answers pings itself).
    case ping
    case pong
    /// The server's close frame, or the end of the TCP stream without one (`code == nil`).
    case close(code: UInt16?, reason: String)
    /// Nothing arrived within the timeout.
    case timeout
}

/// An open websocket to the market channel, owned by exactly one session thread.
public protocol MarketConnection: AnyObject {
    func send(text: String) throws
    /// Waits up to `nanoseconds` for the next message; throws on a transport error.
    func receive(timeoutNanoseconds: UInt64) throws -> IncomingMessage
    /// Sends a close frame (best effort) and releases the socket.
    func close(code: UInt16, reason: String)
}

/// Opens market-channel connections. Called from several session threads at once.
public protocol MarketConnectionFactory: Sendable {
    associatedtype Connection: MarketConnection
    func connect(url: String, timeoutNanoseconds: UInt64) throws -> Connection
}
