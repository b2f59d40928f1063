// A listening websocket server: TCP accept, optional TLS, the HTTP upgrade, and either a
// pull API (`accept(timeout:)`) or an acceptor thread that hands each client to a handler
// on its own thread.
import CShim
import Dispatch
import Foundation
import Glibc
import Synchronization

/// A websocket server on one listening socket (127.0.0.1 and an ephemeral port by default).
///
/// Two ways to use it: call `accept(timeout:)` in a loop (each call accepts one TCP connection
/// and runs its handshake on the calling thread), or call `start(handler:onError:)`, which runs
/// an acceptor thread and gives every client its own thread for the handshake and the handler,
/// so a slow or silent client never holds up the others. `stop()` wakes and ends the acceptor
/// and refuses new clients; connections already handed out stay open until their owners close them.
///
/// Requests are answered with 101 when they are valid websocket upgrades for an allowed path,
/// 400 (malformed or not an upgrade), 404 (path not allowed) or 426 (version other than 13).
public final class WebSocketServer: Sendable {
    /// The address the socket is bound to.
    public let host: String
    /// The bound port (the ephemeral port chosen by the kernel when 0 was asked for).
    public let port: UInt16
    /// Paths (without query) that accept upgrades; nil accepts every path.
    public let allowedPaths: Set<String>?
    /// Options every accepted connection runs with (extra headers go into the 101 response).
    public let options: WebSocketOptions

    private let listener: Int32
    private let wakeDescriptor: Int32
    private let tls: TLSContext?
    private let stopped = Atomic<Bool>(false)
    private let acceptorGroup = DispatchGroup()

    /// Binds and listens. `tls` makes it a `wss://` server presenting that certificate.
    public init(
        host: String = "127.0.0.1", port: UInt16 = 0, tls: WebSocketTLSServerConfiguration? = nil,
        allowedPaths: Set<String>? = nil, options: WebSocketOptions = WebSocketOptions(), backlog: Int32 = 128
    ) throws(WebSocketError) {
        let endpoint = formatEndpoint(host: host, port: port)
        self.tls = try tls.map { configuration throws(WebSocketError) in
            try TLSContext(server: configuration, endpoint: endpoint)
        }
        let wake = cshim_eventfd(0, cshim_efd_cloexec() | cshim_efd_nonblock())
        guard wake >= 0 else {
            let code = errno
            throw .socketFailed(endpoint: endpoint, operation: "eventfd", errno: code, reason: errnoText(code))
        }
        let bound: (Int32, UInt16)
        do {
            bound = try PosixSocket.listen(host: host, port: port, backlog: backlog)
        } catch {
            Glibc.close(wake)
            throw error
        }
        self.wakeDescriptor = wake
        self.listener = bound.0
        self.port = bound.1
        self.host = host
        self.allowedPaths = allowedPaths
        self.options = options
    }

    deinit {
        Glibc.close(listener)
        Glibc.close(wakeDescriptor)
    }

    /// "host:port" of the listening socket.
    public var endpoint: String { formatEndpoint(host: host, port: port) }

    /// The URL clients use to reach `path` on this server.
    public func url(path: String = "/") -> String {
        let scheme = tls == nil ? "ws" : "wss"
        let name = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(name):\(port)\(path)"
    }

    /// Waits up to `timeout` (nil: no limit) for a client, then runs its handshake (bounded by
    /// `options.handshakeTimeout`) on this thread. Returns nil on timeout or after `stop()`.
    /// Throws `.handshakeRejected` (after answering 4xx) or `.handshakeFailed`/`.tlsFailed` for a
    /// client that did not complete the handshake; the server stays usable either way.
    public func accept(timeout: Duration?) throws(WebSocketError) -> WebSocketConnection? {
        guard let (fd, peer) = try acceptSocket(until: deadline(after: timeout)) else { return nil }
        return try handshake(fd: fd, peer: peer)
    }

    /// Starts an acceptor thread. Each client gets its own thread that runs the handshake and
    /// then `handler` with the open connection (the thread ends when the handler returns).
    /// Failed handshakes and accept errors go to `onError`.
    public func start(
        handler: @escaping @Sendable (WebSocketConnection) -> Void,
        onError: @escaping @Sendable (WebSocketError) -> Void = { _ in }
    ) {
        acceptorGroup.enter()
        Thread.detachNewThread { [self] in
            defer { acceptorGroup.leave() }
            while !stopped.load(ordering: .acquiring) {
                do throws(WebSocketError) {
                    guard let (fd, peer) = try acceptSocket(until: nil) else { continue }
                    Thread.detachNewThread { [self] in
                        do throws(WebSocketError) {
                            let connection = try handshake(fd: fd, peer: peer)
                            handler(connection)
                        } catch {
                            onError(error)
                        }
                    }
                } catch {
                    onError(error)
                    if stopped.load(ordering: .acquiring) { break }
                    // Persistent accept failures (EMFILE) would spin; back off briefly.
                    usleep(10_000)
                }
            }
        }
    }

    /// Stops accepting: wakes `accept` and the acceptor thread (waiting up to `timeout` for it to
    /// exit) and shuts the listening socket so new clients are refused. Idempotent.
    public func stop(timeout: Duration = .seconds(5)) {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        var one: UInt64 = 1
        _ = Glibc.write(wakeDescriptor, &one, 8)
        _ = Glibc.shutdown(listener, Int32(SHUT_RDWR))
        _ = acceptorGroup.wait(timeout: .now() + .nanoseconds(Int(clamping: timeout.nanosecondsClamped)))
    }

    /// Accepts one TCP connection; nil on timeout or when stopped.
    private func acceptSocket(until deadline: UInt64?) throws(WebSocketError) -> (Int32, String)? {
        while !stopped.load(ordering: .acquiring) {
            if let accepted = try PosixSocket.accept(listener, endpoint: endpoint) { return accepted }
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            if !(try pollDescriptors(&fds, until: deadline, endpoint: endpoint)) { return nil }
        }
        return nil
    }

    /// Runs TLS (if configured) and the HTTP upgrade on an accepted socket.
    private func handshake(fd: Int32, peer: String) throws(WebSocketError) -> WebSocketConnection {
        let session: TLSSession?
        do {
            session = try tls.map { context throws(WebSocketError) in
                try TLSSession(context: context, fd: fd, hostName: nil, endpoint: peer)
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        let transport = Transport(fd: fd, endpoint: peer, tls: session)
        let until = deadline(after: options.handshakeTimeout)
        try transport.tlsHandshake(until: until, timeout: options.handshakeTimeout)
        let (headBytes, leftover) = try readHead(
            transport, until: until, timeout: options.handshakeTimeout, what: "request")
        let decision: WebSocketHandshake.ServerDecision
        let head = headBytes.withUnsafeBytes { WebSocketHandshake.Head.parse($0) }
        if let head {
            decision = WebSocketHandshake.decide(
                request: head, allowedPaths: allowedPaths, extraHeaders: options.extraHeaders)
        } else {
            decision = WebSocketHandshake.reject(400, "the request head is not valid HTTP")
        }
        switch decision {
        case .accept(let response, let target):
            try typedThrows {
                try response.withUnsafeBytes { raw in
                    try transport.writeAll(raw, until: until, timeout: options.handshakeTimeout)
                }
            }
            return WebSocketConnection(
                transport: transport, role: .server, options: options, requestTarget: target,
                peerHeaders: head?.headers ?? [], leftover: leftover)
        case .reject(let response, let status, let reason):
            response.withUnsafeBytes { raw in
                try? transport.writeAll(raw, until: until, timeout: options.handshakeTimeout)
            }
            transport.shutdown()
            throw .handshakeRejected(endpoint: peer, status: status, reason: reason)
        }
    }
}
