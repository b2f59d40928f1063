// Public value types shared by the client and the server: options, messages, close codes.

/// A websocket close status code (RFC 6455 §7.4).
///
/// Codes are plain `UInt16` values on the wire; the named constants are the ones this module
/// sends itself or reports. 1005 and 1006 are never sent: they describe "no status in the close
/// frame" and "the connection dropped without a close frame".
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection is fulfilled.
    public static let normalClosure = WebSocketCloseCode(1000)
    /// 1001: the endpoint is going away (server shutdown, client navigating away).
    public static let goingAway = WebSocketCloseCode(1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = WebSocketCloseCode(1002)
    /// 1003: a data type the endpoint cannot accept.
    public static let unsupportedData = WebSocketCloseCode(1003)
    /// 1005: reported when a close frame carried no status code (never sent).
    public static let noStatusReceived = WebSocketCloseCode(1005)
    /// 1006: reported when the connection dropped without a close frame (never sent).
    public static let abnormalClosure = WebSocketCloseCode(1006)
    /// 1007: a text message was not valid UTF-8.
    public static let invalidPayload = WebSocketCloseCode(1007)
    /// 1008: a message violated the endpoint's policy.
    public static let policyViolation = WebSocketCloseCode(1008)
    /// 1009: a frame or message exceeded the configured size limit.
    public static let messageTooBig = WebSocketCloseCode(1009)
    /// 1011: the server hit an unexpected condition.
    public static let internalError = WebSocketCloseCode(1011)

    /// Whether a peer may put this code in a close frame (RFC 6455 §7.4.1 and the IANA registry).
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014: return true
        case 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(rawValue) }
}

/// One HTTP header field, used for extra request headers (client) or response headers (server).
public struct WebSocketHeader: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// How a client verifies a `wss://` server.
///
/// By default the server certificate must chain to the system CA store and name the URL's
/// host (DNS name or IP address). `caFile` adds a PEM bundle (for tests and private CAs).
public struct WebSocketTLSClientOptions: Sendable {
    /// Verify the certificate chain and host name. Turning this off is for diagnosis only.
    public var verifyPeer: Bool = true
    /// Trust the system CA store (SSL_CTX_set_default_verify_paths).
    public var useSystemTrustStore: Bool = true
    /// An extra PEM file of trusted CA certificates.
    public var caFile: String? = nil
    /// The name to send as SNI and to verify, when it differs from the URL host.
    public var serverName: String? = nil
    public init() {}
}

/// The certificate and key a `WebSocketServer` presents for TLS (PEM files).
public struct WebSocketTLSServerConfiguration: Sendable {
    /// PEM certificate chain, leaf first.
    public var certificateChainFile: String
    /// PEM private key matching the leaf certificate.
    public var privateKeyFile: String
    public init(certificateChainFile: String, privateKeyFile: String) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
    }
}

/// Limits, timeouts and behaviour of one websocket connection (client or server side).
///
/// Timeouts bound every blocking step: TCP connect, the opening handshake (TLS included),
/// each frame write, and the wait for the peer's close reply. Size limits are checked on the
/// frame header, before the payload is buffered, and end the connection with 1009.
public struct WebSocketOptions: Sendable {
    /// TCP connect (per resolved address).
    public var connectTimeout: Duration = .seconds(10)
    /// TLS handshake plus HTTP upgrade, from the first byte to the 101.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Writing one whole frame; a peer that does not read for this long is dropped.
    public var writeTimeout: Duration = .seconds(10)
    /// How long to wait for the peer's close reply after sending a close frame.
    public var closeTimeout: Duration = .seconds(5)
    /// Largest accepted frame payload, in bytes.
    public var maxFrameSize: Int = 16 << 20
    /// Largest accepted message (all fragments together), in bytes.
    public var maxMessageSize: Int = 64 << 20
    /// When set, outgoing data messages are split into fragments of at most this many bytes.
    public var maxSendFragmentSize: Int? = nil
    /// Client: added to the upgrade request. Server: added to the 101 response.
    public var extraHeaders: [WebSocketHeader] = []
    /// Answer every ping with a pong carrying the same payload (RFC 6455 §5.5.2).
    public var autoReplyToPing: Bool = true
    /// Client-side TLS verification for `wss://`.
    public var tls = WebSocketTLSClientOptions()
    public init() {}
}

/// Which side of the connection this endpoint is; it decides masking (clients mask).
public enum WebSocketRole: Sendable, Equatable {
    case client
    case server
}

/// How a connection ended, as reported by the `.close` message.
public struct WebSocketCloseInfo: Sendable, Equatable {
    /// The peer's status code, the code we sent on a protocol violation, 1005 when the close
    /// frame had no code, or 1006 when the connection dropped without a close frame.
    public var code: WebSocketCloseCode
    /// The close reason text (possibly empty).
    public var reason: String
    /// True when this endpoint sent the first close frame (on request or after a violation).
    public var initiatedLocally: Bool
    /// True when both close frames were exchanged.
    public var isClean: Bool
    /// The violation or I/O failure that ended the connection, when there was one.
    public var error: WebSocketError?

    public init(
        code: WebSocketCloseCode, reason: String, initiatedLocally: Bool, isClean: Bool,
        error: WebSocketError? = nil
    ) {
        self.code = code
        self.reason = reason
        self.initiatedLocally = initiatedLocally
        self.isClean = isClean
        self.error = error
    }
}

/// One event received on a connection: a complete data message or a control frame.
///
/// `payload` holds the message bytes exactly as sent (unmasked, fragments joined); for a
/// close frame it is the raw close payload (2-byte code + reason) and `close` describes the
/// ending. `receivedWallNanoseconds`/`receivedMonotonicNanoseconds` are taken right after the
/// read that completed the message (CLOCK_REALTIME / CLOCK_MONOTONIC via CShim).
public struct WebSocketMessage: Sendable, Equatable {
    /// What kind of frame or message this is.
    public enum Kind: Sendable, Equatable {
        case text
        case binary
        case ping
        case pong
        case close
    }

    public var kind: Kind
    public var payload: [UInt8]
    public var close: WebSocketCloseInfo?
    public var receivedWallNanoseconds: UInt64
    public var receivedMonotonicNanoseconds: UInt64

    public init(
        kind: Kind, payload: [UInt8], close: WebSocketCloseInfo? = nil, receivedWallNanoseconds: UInt64,
        receivedMonotonicNanoseconds: UInt64
    ) {
        self.kind = kind
        self.payload = payload
        self.close = close
        self.receivedWallNanoseconds = receivedWallNanoseconds
        self.receivedMonotonicNanoseconds = receivedMonotonicNanoseconds
    }

    /// The payload decoded as UTF-8 (text messages are validated on receipt).
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

extension Duration {
    /// Nanoseconds, clamped at zero, for deadline arithmetic on the monotonic clock.
    var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        if seconds > Int64(UInt64.max / 1_000_000_000) - 1 { return UInt64.max / 2 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }

    var secondsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A received message lent in place by `WebSocketConnection.receive(timeout:_:)`.
///
/// `payload` points into the connection's receive buffer and is valid only inside the closure
/// it was passed to; copy what must outlive it (`makeMessage()` copies everything).
public struct WebSocketMessageView {
    public let kind: WebSocketMessage.Kind
    public let payload: UnsafeRawBufferPointer
    public let close: WebSocketCloseInfo?
    public let receivedWallNanoseconds: UInt64
    public let receivedMonotonicNanoseconds: UInt64

    /// An owned copy of this message.
    public func makeMessage() -> WebSocketMessage {
        WebSocketMessage(
            kind: kind, payload: Array(payload), close: close, receivedWallNanoseconds: receivedWallNanoseconds,
            receivedMonotonicNanoseconds: receivedMonotonicNanoseconds)
    }
}
