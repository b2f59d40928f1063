// Opening a client connection: URL → TCP connect → TLS (wss) → HTTP upgrade → connection.
import Glibc

/// A parsed `ws://` / `wss://` URL.
public struct WebSocketURL: Sendable, Equatable {
    public var isSecure: Bool
    /// Host name or IP literal (IPv6 without brackets).
    public var host: String
    public var port: UInt16
    /// Path and query, starting with "/".
    public var requestTarget: String

    /// Parses `ws://host[:port][/path][?query]` or `wss://...`; IPv6 hosts in brackets.
    public init(_ text: String) throws(WebSocketError) {
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("ws://") {
            isSecure = false
            rest = text.dropFirst(5)
        } else if lowered.hasPrefix("wss://") {
            isSecure = true
            rest = text.dropFirst(6)
        } else {
            throw .invalidURL(text, reason: "the scheme must be ws:// or wss://")
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        if target.isEmpty { target = "/" }
        if target.hasPrefix("?") { target = "/" + target }
        requestTarget = target
        if authority.contains("@") { throw .invalidURL(text, reason: "user information is not supported") }
        var hostPart: Substring
        var portPart: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidURL(text, reason: "unterminated IPv6 literal")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                portPart = after.dropFirst()
            } else if !after.isEmpty {
                throw .invalidURL(text, reason: "unexpected text after the IPv6 literal")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { throw .invalidURL(text, reason: "the host is empty") }
        host = String(hostPart)
        if let portPart {
            guard let value = UInt16(portPart), value > 0 else {
                throw .invalidURL(text, reason: "the port '\(portPart)' is not a number in 1...65535")
            }
            port = value
        } else {
            port = isSecure ? 443 : 80
        }
    }

    /// The Host header value: the port is omitted when it is the scheme's default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        let defaultPort: UInt16 = isSecure ? 443 : 80
        return port == defaultPort ? name : "\(name):\(port)"
    }

    /// "host:port" for messages.
    public var endpoint: String { formatEndpoint(host: host, port: port) }
}

/// Opens client connections.
///
/// `connect` blocks the calling thread through name resolution, TCP connect (bounded by
/// `connectTimeout` per address), the TLS handshake for `wss://` and the HTTP upgrade (both
/// bounded by `handshakeTimeout`). Name resolution uses getaddrinfo, which has no timeout of
/// its own; IP literals skip it.
public enum WebSocketClient {
    /// Connects to `url` (`ws://` or `wss://`) and completes the opening handshake.
    public static func connect(url: String, options: WebSocketOptions = WebSocketOptions()) throws(WebSocketError)
        -> WebSocketConnection
    {
        let parsed = try WebSocketURL(url)
        return try connect(to: parsed, options: options)
    }

    /// Connects to a parsed URL and completes the opening handshake.
    public static func connect(to url: WebSocketURL, options: WebSocketOptions = WebSocketOptions())
        throws(WebSocketError) -> WebSocketConnection
    {
        let endpoint = url.endpoint
        let fd = try PosixSocket.connect(host: url.host, port: url.port, timeout: options.connectTimeout)
        var tls: TLSSession? = nil
        if url.isSecure {
            do {
                let context = try TLSContext(client: options.tls, endpoint: endpoint)
                tls = try TLSSession(
                    context: context, fd: fd, hostName: options.tls.serverName ?? url.host, endpoint: endpoint)
            } catch {
                Glibc.close(fd)
                throw error
            }
        }
        // From here the Transport owns (and closes) the descriptor.
        let transport = Transport(fd: fd, endpoint: endpoint, tls: tls)
        let handshakeDeadline = deadline(after: options.handshakeTimeout)
        try transport.tlsHandshake(until: handshakeDeadline, timeout: options.handshakeTimeout)

        let key = WebSocketHandshake.makeKey()
        let request = WebSocketHandshake.request(
            path: url.requestTarget, hostHeader: url.hostHeader, key: key, extraHeaders: options.extraHeaders)
        do {
            try typedThrows {
                try request.withUnsafeBytes { raw in
                    try transport.writeAll(raw, until: handshakeDeadline, timeout: options.handshakeTimeout)
                }
            }
        } catch .writeTimedOut {
            throw .handshakeTimedOut(endpoint: endpoint, seconds: options.handshakeTimeout.secondsDouble)
        }
        let (headBytes, leftover) = try readHead(
            transport, until: handshakeDeadline, timeout: options.handshakeTimeout, what: "response")
        guard let head = headBytes.withUnsafeBytes({ WebSocketHandshake.Head.parse($0) }) else {
            throw .handshakeFailed(endpoint: endpoint, reason: "the response head is not valid HTTP")
        }
        if let (_, reason) = WebSocketHandshake.validateResponse(head, key: key) {
            throw .handshakeFailed(endpoint: endpoint, reason: reason)
        }
        return WebSocketConnection(
            transport: transport, role: .client, options: options, requestTarget: url.requestTarget,
            peerHeaders: head.headers, leftover: leftover)
    }
}

/// Reads an HTTP head (up to CRLFCRLF) and returns it plus any bytes that followed it (the
/// peer may send its first frames in the same segment as the handshake).
func readHead(_ transport: Transport, until deadline: UInt64?, timeout: Duration, what: String)
    throws(WebSocketError) -> ([UInt8], [UInt8])
{
    var buffer = [UInt8](repeating: 0, count: 4096)
    var count = 0
    while true {
        if count == buffer.count {
            guard buffer.count < WebSocketHandshake.maxHeadLength else {
                throw .handshakeFailed(
                    endpoint: transport.endpoint,
                    reason: "the HTTP \(what) head exceeds \(WebSocketHandshake.maxHeadLength) bytes")
            }
            buffer.append(contentsOf: repeatElement(0, count: buffer.count))
        }
        let start = count
        let result = try typedThrows {
            try buffer.withUnsafeMutableBytes { raw in
                try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]), until: deadline)
            }
        }
        switch result {
        case .bytes(let n): count += n
        case .timedOut: throw .handshakeTimedOut(endpoint: transport.endpoint, seconds: timeout.secondsDouble)
        case .endOfStream:
            throw .handshakeFailed(
                endpoint: transport.endpoint,
                reason: "the peer closed the connection before the HTTP \(what) was complete (\(count) bytes read)")
        }
        // Search from a little before the new bytes, in case CRLFCRLF straddles reads.
        let searchFrom = max(0, start - 3)
        let end = buffer.withUnsafeBytes {
            WebSocketHandshake.headEnd(in: UnsafeRawBufferPointer(rebasing: $0[searchFrom..<count]))
        }
        if let end {
            let headEnd = searchFrom + end
            return (Array(buffer[0..<headEnd]), Array(buffer[headEnd..<count]))
        }
    }
}
