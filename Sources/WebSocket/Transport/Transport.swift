// A connected byte stream: a non-blocking TCP socket, optionally wrapped in TLS. Reads and
// writes take a deadline and block only in poll(2). The descriptor is closed in deinit, never
// earlier, so another thread polling it can never see the number reused; `shutdown` is the
// thread-safe way to end the stream and wake such a thread.
import Glibc

final class Transport: Sendable {
    let fd: Int32
    let endpoint: String
    let tls: TLSSession?

    init(fd: Int32, endpoint: String, tls: TLSSession?) {
        self.fd = fd
        self.endpoint = endpoint
        self.tls = tls
    }

    deinit { Glibc.close(fd) }

    /// Outcome of a read.
    enum ReadResult {
        case bytes(Int)
        case timedOut
        case endOfStream
    }

    /// Runs the TLS handshake (if any) until done or the deadline passes.
    func tlsHandshake(until deadline: UInt64?, timeout: Duration) throws(WebSocketError) {
        guard let tls else { return }
        while true {
            let events: Int16
            switch try tls.handshakeStep(endpoint: endpoint) {
            case .done: return
            case .wantRead: events = Int16(POLLIN)
            case .wantWrite: events = Int16(POLLOUT)
            case .closed:
                throw .tlsFailed(endpoint: endpoint, reason: "the peer closed the connection during the TLS handshake")
            }
            if case .timedOut = try waitForSocket(fd, events: events, until: deadline, endpoint: endpoint) {
                throw .handshakeTimedOut(endpoint: endpoint, seconds: timeout.secondsDouble)
            }
        }
    }

    /// Reads what is available (at least one byte) into `buffer`, waiting until `deadline`.
    func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: UInt64?) throws(WebSocketError)
        -> ReadResult
    {
        while true {
            let events: Int16
            if let tls {
                switch try tls.read(into: buffer, endpoint: endpoint) {
                case .done(let count): return .bytes(count)
                case .closed: return .endOfStream
                case .wantRead: events = Int16(POLLIN)
                case .wantWrite: events = Int16(POLLOUT)
                }
            } else {
                let received = recv(fd, buffer.baseAddress, buffer.count, 0)
                if received > 0 { return .bytes(received) }
                if received == 0 { return .endOfStream }
                let code = errno
                switch code {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: events = Int16(POLLIN)
                case ECONNRESET, EPIPE, ENOTCONN: return .endOfStream
                default:
                    throw .socketFailed(endpoint: endpoint, operation: "recv", errno: code, reason: errnoText(code))
                }
            }
            if case .timedOut = try waitForSocket(fd, events: events, until: deadline, endpoint: endpoint) {
                return .timedOut
            }
        }
    }

    /// Writes all of `bytes` or throws (timeout → `.writeTimedOut`, peer gone → `.socketFailed`).
    func writeAll(_ bytes: UnsafeRawBufferPointer, until deadline: UInt64?, timeout: Duration?)
        throws(WebSocketError)
    {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let events: Int16
            if let tls {
                switch try tls.write(rest, endpoint: endpoint) {
                case .done(let count):
                    offset += count
                    continue
                case .closed:
                    throw .socketFailed(
                        endpoint: endpoint, operation: "TLS write", errno: EPIPE,
                        reason: "the peer closed the connection")
                case .wantRead: events = Int16(POLLIN)
                case .wantWrite: events = Int16(POLLOUT)
                }
            } else {
                let written = send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
                if written >= 0 {
                    offset += written
                    continue
                }
                let code = errno
                switch code {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: events = Int16(POLLOUT)
                default:
                    throw .socketFailed(endpoint: endpoint, operation: "send", errno: code, reason: errnoText(code))
                }
            }
            if case .timedOut = try waitForSocket(fd, events: events, until: deadline, endpoint: endpoint) {
                throw .writeTimedOut(endpoint: endpoint, seconds: timeout?.secondsDouble ?? 0)
            }
        }
    }

    /// Ends the stream in both directions (TLS close_notify first, best effort). Safe to call
    /// from any thread and more than once; a thread blocked in poll on this socket wakes up.
    func shutdown() {
        tls?.sendCloseNotify()
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}
