// TLS through OpenSSL 3 on non-blocking sockets. The SSL object talks to the socket through a
// small custom BIO that uses send(MSG_NOSIGNAL)/recv, so a peer that vanishes mid-write gives
// EPIPE instead of killing the process with SIGPIPE, and no process-wide signal state changes.
import COpenSSL
import Glibc
import Synchronization

/// Reads OpenSSL's per-thread error queue into one line (and clears it).
func openSSLErrorText() -> String {
    var parts: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return parts.isEmpty ? "unknown OpenSSL error" : parts.joined(separator: "; ")
}

/// The BIO_METHOD shared by every TLS session.
///
/// @unchecked Sendable is safe: the method table is built once, inside the lazy global
/// initializer (which Swift runs exactly once, thread-safely), and OpenSSL only reads it after.
struct SocketBIOMethod: @unchecked Sendable {
    let pointer: OpaquePointer

    static let shared: SocketBIOMethod = {
        let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "polytape-socket")!
        _ = BIO_meth_set_write(method) { bio, buffer, length in
            let fd = Int32(truncatingIfNeeded: Int(bitPattern: BIO_get_data(bio)))
            BIO_clear_flags(bio, 0x0F)  // BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY
            while true {
                let written = send(fd, buffer, Int(length), Int32(MSG_NOSIGNAL))
                if written >= 0 { return Int32(written) }
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    BIO_set_flags(bio, 0x02 | 0x08)  // BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY
                }
                return -1
            }
        }
        _ = BIO_meth_set_read(method) { bio, buffer, length in
            let fd = Int32(truncatingIfNeeded: Int(bitPattern: BIO_get_data(bio)))
            BIO_clear_flags(bio, 0x0F)
            while true {
                let received = recv(fd, buffer, Int(length), 0)
                if received >= 0 { return Int32(received) }
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    BIO_set_flags(bio, 0x01 | 0x08)  // BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY
                }
                return -1
            }
        }
        _ = BIO_meth_set_ctrl(method) { _, command, _, _ in
            // SSL flushes after each record; the socket has nothing buffered to flush.
            command == BIO_CTRL_FLUSH ? 1 : 0
        }
        _ = BIO_meth_set_create(method) { bio in
            BIO_set_init(bio, 1)
            return 1
        }
        return SocketBIOMethod(pointer: method)
    }()
}

/// An SSL_CTX for one role, configured once.
///
/// @unchecked Sendable is safe: the context is fully configured in `init` and only used
/// afterwards to create SSL objects with SSL_new, which OpenSSL documents as thread-safe on a
/// shared SSL_CTX (it takes the context's internal lock).
final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    let isServer: Bool

    /// A client context: TLS ≥ 1.2, peer verification as configured.
    init(client options: WebSocketTLSClientOptions, endpoint: String) throws(WebSocketError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw .tlsFailed(endpoint: endpoint, reason: "SSL_CTX_new failed: \(openSSLErrorText())")
        }
        self.context = context
        self.isServer = false
        try configureCommon(endpoint: endpoint)
        if options.verifyPeer {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if options.useSystemTrustStore && SSL_CTX_set_default_verify_paths(context) != 1 {
                throw .tlsFailed(endpoint: endpoint, reason: "cannot load the system CA store: \(openSSLErrorText())")
            }
            if let caFile = options.caFile, SSL_CTX_load_verify_locations(context, caFile, nil) != 1 {
                throw .tlsFailed(endpoint: endpoint, reason: "cannot load CA file '\(caFile)': \(openSSLErrorText())")
            }
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
    }

    /// A server context presenting the configured certificate chain and key.
    init(server configuration: WebSocketTLSServerConfiguration, endpoint: String) throws(WebSocketError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw .tlsFailed(endpoint: endpoint, reason: "SSL_CTX_new failed: \(openSSLErrorText())")
        }
        self.context = context
        self.isServer = true
        try configureCommon(endpoint: endpoint)
        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificateChainFile) == 1 else {
            throw .tlsFailed(
                endpoint: endpoint,
                reason: "cannot load certificate chain '\(configuration.certificateChainFile)': \(openSSLErrorText())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, configuration.privateKeyFile, SSL_FILETYPE_PEM) == 1,
            SSL_CTX_check_private_key(context) == 1
        else {
            throw .tlsFailed(
                endpoint: endpoint,
                reason: "cannot use private key '\(configuration.privateKeyFile)': \(openSSLErrorText())")
        }
    }

    private func configureCommon(endpoint: String) throws(WebSocketError) {
        // SSL_CTX_set_min_proto_version and SSL_CTX_set_mode are macros over SSL_CTX_ctrl.
        guard SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil) == 1 else {
            throw .tlsFailed(endpoint: endpoint, reason: "cannot require TLS 1.2: \(openSSLErrorText())")
        }
        _ = SSL_CTX_ctrl(
            context, SSL_CTRL_MODE, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
        // A TCP close without close_notify is reported as end of stream; the websocket close
        // handshake (or its absence → 1006) is what tells a clean close from a drop.
        // SSL_OP_IGNORE_UNEXPECTED_EOF is SSL_OP_BIT(7), a macro Swift cannot import.
        _ = SSL_CTX_set_options(context, UInt64(1) << 7)
    }

    deinit { SSL_CTX_free(context) }
}

/// One TLS session on a connected socket. Every SSL call goes through `ssl.withLock`, because
/// an SSL object must not be used by two threads at once (one thread may receive while
/// another sends). Waiting in poll(2) happens outside the lock.
final class TLSSession: Sendable {
    /// The SSL object. @unchecked Sendable is safe: `pointer` is only dereferenced by OpenSSL
    /// inside `lock.withLock` (or in deinit, when no other reference exists).
    private struct Handle: @unchecked Sendable { let pointer: OpaquePointer }
    private let handle: Handle
    private let lock = Mutex<Void>(())
    let context: TLSContext

    enum Step {
        case done(Int)
        case wantRead
        case wantWrite
        case closed
    }

    init(context: TLSContext, fd: Int32, hostName: String?, endpoint: String) throws(WebSocketError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else {
            throw .tlsFailed(endpoint: endpoint, reason: "SSL_new failed: \(openSSLErrorText())")
        }
        guard let bio = BIO_new(SocketBIOMethod.shared.pointer) else {
            SSL_free(ssl)
            throw .tlsFailed(endpoint: endpoint, reason: "BIO_new failed: \(openSSLErrorText())")
        }
        BIO_set_data(bio, UnsafeMutableRawPointer(bitPattern: Int(fd)))
        SSL_set_bio(ssl, bio, bio)
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let hostName, !hostName.isEmpty {
                if isIPAddress(hostName) {
                    // No SNI for IP literals (RFC 6066 §3); verify the address against the SAN.
                    _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hostName)
                } else {
                    // SSL_set_tlsext_host_name is a macro over SSL_ctrl.
                    _ = hostName.withCString { name in
                        SSL_ctrl(
                            ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name),
                            UnsafeMutableRawPointer(mutating: name))
                    }
                    _ = SSL_set1_host(ssl, hostName)
                }
            }
        }
        self.handle = Handle(pointer: ssl)
        self.context = context
    }

    deinit {
        SSL_free(handle.pointer)
    }

    private static func classify(_ ssl: OpaquePointer, result: Int32, endpoint: String) throws(WebSocketError) -> Step {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let code = errno
            if code == 0 || code == ECONNRESET || code == EPIPE { return .closed }
            throw .socketFailed(endpoint: endpoint, operation: "TLS I/O", errno: code, reason: errnoText(code))
        default:
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                let text = X509_verify_cert_error_string(verify).map { String(cString: $0) } ?? "unknown"
                _ = openSSLErrorText()
                throw .tlsFailed(endpoint: endpoint, reason: "certificate verify failed: \(text) (code \(verify))")
            }
            throw .tlsFailed(endpoint: endpoint, reason: openSSLErrorText())
        }
    }

    /// One step of the TLS handshake.
    func handshakeStep(endpoint: String) throws(WebSocketError) -> Step {
        try lock.withLock { _ throws(WebSocketError) -> Step in
            let ssl = handle.pointer
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 { return .done(0) }
            return try Self.classify(ssl, result: result, endpoint: endpoint)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, endpoint: String) throws(WebSocketError) -> Step {
        try lock.withLock { _ throws(WebSocketError) -> Step in
            let ssl = handle.pointer
            ERR_clear_error()
            var count = 0
            let result = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
            if result == 1 { return .done(count) }
            return try Self.classify(ssl, result: result, endpoint: endpoint)
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer, endpoint: String) throws(WebSocketError) -> Step {
        try lock.withLock { _ throws(WebSocketError) -> Step in
            let ssl = handle.pointer
            ERR_clear_error()
            var count = 0
            let result = SSL_write_ex(ssl, buffer.baseAddress, buffer.count, &count)
            if result == 1 { return .done(count) }
            return try Self.classify(ssl, result: result, endpoint: endpoint)
        }
    }

    /// True when OpenSSL holds decrypted bytes not yet read (poll would not report them).
    var hasPendingBytes: Bool {
        lock.withLock { _ in SSL_pending(handle.pointer) > 0 }
    }

    /// Sends close_notify once, best effort (non-blocking; no wait for the peer's).
    func sendCloseNotify() {
        lock.withLock { _ in
            let ssl = handle.pointer
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
    }
}

/// True for IPv4/IPv6 literals (which get IP-address verification and no SNI).
func isIPAddress(_ host: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
}
