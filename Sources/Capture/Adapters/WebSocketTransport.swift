// The production transport: the WebSocket module's RFC 6455 client (TCP or TLS).
public import WebSocket

/// Opens market-channel connections with `WebSocketClient`.
public struct WebSocketConnectionFactory: MarketConnectionFactory {
    public var options: WebSocketOptions

    /// The default options, except a 2 s close timeout: a peer that does not answer a close
    /// frame promptly is already dead, and a reconnect or a stop should not wait for it.
    public static var defaultOptions: WebSocketOptions {
        var options = WebSocketOptions()
        options.closeTimeout = .seconds(2)
        return options
    }

    public init(options: WebSocketOptions = WebSocketConnectionFactory.defaultOptions) {
        self.options = options
    }

    public func connect(url: String, timeoutNanoseconds: UInt64) throws -> WebSocketMarketConnection {
        var options = self.options
        options.connectTimeout = .nanoseconds(Int64(clamping: timeoutNanoseconds))
        options.handshakeTimeout = .nanoseconds(Int64(clamping: timeoutNanoseconds))
        return WebSocketMarketConnection(try WebSocketClient.connect(url: url, options: options))
    }
}

/// A `WebSocketConnection` seen through the capture session's `MarketConnection` seam.
public final class WebSocketMarketConnection: MarketConnection {
    public let connection: WebSocketConnection

    public init(_ connection: WebSocketConnection) {
        self.connection = connection
    }

    public func send(text: String) throws {
        try connection.send(text: text)
    }

    public func receive(timeoutNanoseconds: UInt64) throws -> IncomingMessage {
        guard let message = try connection.receive(timeout: .nanoseconds(Int64(clamping: timeoutNanoseconds))) else {
            return .timeout
        }
        switch message.kind {
        case .text: return .text(message.payload)
        case .binary: return .binary(message.payload)
        case .ping: return .ping
        case .pong: return .pong
        case .close:
            guard let close = message.close else { return .close(code: nil, reason: "") }
            if close.code == .abnormalClosure {
                // 1006 is never on the wire: the TCP stream ended (or failed) without a close frame.
                let why = close.error.map { "connection dropped without a close frame: \($0)" } ?? ""
                return .close(code: nil, reason: why)
            }
            if let error = close.error { return .close(code: close.code.rawValue, reason: "\(error)") }
            return .close(code: close.code.rawValue, reason: close.reason)
        }
    }

    public func close(code: UInt16, reason: String) {
        // The session has already decided the connection is over; a slow peer must not hold
        // it up, so a failed or slow close handshake ends in an abort.
        do {
            _ = try connection.close(code: WebSocketCloseCode(code), reason: reason)
        } catch {
            connection.abort()
        }
        connection.abort()
    }
}
