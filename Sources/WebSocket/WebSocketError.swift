// The one error type of the WebSocket module. Every case carries where it happened
// (`endpoint` is "host:port") and `description` says what to do about it.

import Glibc

/// Everything that can go wrong while opening, using or serving a websocket connection.
///
/// Each case names the endpoint ("host:port") it concerns. `description` is a complete
/// sentence for a log or a CLI: what happened, where, and what to try next. Protocol
/// violations by the peer do not throw from `receive`; they end the connection with the
/// matching close code and surface as a `.close` message whose `closeInfo.error` holds one
/// of these values.
public enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not a usable `ws://` or `wss://` URL.
    case invalidURL(String, reason: String)
    /// Name resolution (getaddrinfo) failed.
    case resolveFailed(endpoint: String, reason: String)
    /// A socket call failed (errno text included).
    case socketFailed(endpoint: String, operation: String, errno: Int32, reason: String)
    /// The TCP connection was not established within the connect timeout.
    case connectTimedOut(endpoint: String, seconds: Double)
    /// The TLS layer failed (handshake, certificate verification, I/O).
    case tlsFailed(endpoint: String, reason: String)
    /// The opening handshake did not finish within the handshake timeout.
    case handshakeTimedOut(endpoint: String, seconds: Double)
    /// The peer answered the opening handshake with something other than a valid upgrade.
    case handshakeFailed(endpoint: String, reason: String)
    /// The server refused a client's upgrade request (the HTTP status sent back is included).
    case handshakeRejected(endpoint: String, status: Int, reason: String)
    /// A write could not complete within the write timeout (the peer does not read).
    case writeTimedOut(endpoint: String, seconds: Double)
    /// The peer broke the protocol; the connection was closed with `closeCode`.
    case protocolViolation(endpoint: String, closeCode: UInt16, reason: String)
    /// The caller used the API wrongly (for example a control payload over 125 bytes).
    case invalidArgument(String)
    /// The connection is closed (or closing) and cannot send or receive any more.
    case connectionClosed(endpoint: String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            return "Invalid websocket URL '\(url)': \(reason). Use ws://host:port/path or wss://host/path."
        case .resolveFailed(let endpoint, let reason):
            return "Cannot resolve \(endpoint): \(reason). Check the host name and the resolver configuration."
        case .socketFailed(let endpoint, let operation, let errno, let reason):
            if errno == EADDRINUSE {
                return "\(operation) failed for \(endpoint): \(reason). Another process listens on that port: "
                    + "choose another port, or port 0 for a free one."
            }
            return "\(operation) failed for \(endpoint): \(reason) (errno \(errno)). "
                + "Check that the peer is reachable and the port is right."
        case .connectTimedOut(let endpoint, let seconds):
            return "TCP connect to \(endpoint) did not complete within \(seconds) s. "
                + "Check that the server is up and reachable, or raise the connect timeout."
        case .tlsFailed(let endpoint, let reason):
            return "TLS with \(endpoint) failed: \(reason). Check the server certificate, the host name "
                + "and the CA store (add a CA file for private certificates)."
        case .handshakeTimedOut(let endpoint, let seconds):
            return "Websocket handshake with \(endpoint) did not complete within \(seconds) s. "
                + "Check that the endpoint speaks websocket (and TLS for wss://), or raise the handshake timeout."
        case .handshakeFailed(let endpoint, let reason):
            return "Websocket handshake with \(endpoint) failed: \(reason). "
                + "Check the URL path and that the endpoint is a websocket server."
        case .handshakeRejected(let endpoint, let status, let reason):
            return "Refused websocket upgrade from \(endpoint) with HTTP \(status): \(reason)."
        case .writeTimedOut(let endpoint, let seconds):
            return "Write to \(endpoint) did not complete within \(seconds) s; the peer is not reading. "
                + "The connection should be dropped."
        case .protocolViolation(let endpoint, let closeCode, let reason):
            return "Websocket protocol violation by \(endpoint): \(reason); closed with code \(closeCode)."
        case .invalidArgument(let reason):
            return "Invalid websocket API use: \(reason)."
        case .connectionClosed(let endpoint):
            return "The websocket connection to \(endpoint) is closed; open a new connection."
        }
    }
}

/// Runs `body` (typically a `withUnsafeBytes` closure, which only rethrows untyped errors) and
/// gives its error back its type. Only WebSocketError is ever thrown inside this module.
@inline(__always)
func typedThrows<Result>(_ body: () throws -> Result) throws(WebSocketError) -> Result {
    do {
        return try body()
    } catch let error as WebSocketError {
        throw error
    } catch {
        throw .invalidArgument("unexpected error \(error)")
    }
}
