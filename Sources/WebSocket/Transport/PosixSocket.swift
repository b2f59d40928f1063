// The one file that calls socket syscalls directly. Every socket is non-blocking and
// close-on-exec; blocking is done only in poll(2) with a deadline; EINTR is retried;
// failures become WebSocketError values naming the endpoint.
import CShim
import Glibc

/// Monotonic nanoseconds (CLOCK_MONOTONIC) for deadlines.
@inline(__always) func monotonicNow() -> UInt64 { cshim_monotonic_ns() }

/// A deadline on the monotonic clock; `nil` means wait forever.
func deadline(after timeout: Duration?) -> UInt64? {
    guard let timeout else { return nil }
    let now = monotonicNow()
    let (sum, overflow) = now.addingReportingOverflow(timeout.nanosecondsClamped)
    return overflow ? UInt64.max : sum
}

/// Milliseconds to pass to poll(2) for a deadline (rounded up so we never spin at 0 ms early).
func pollTimeoutMilliseconds(until deadline: UInt64?) -> Int32 {
    guard let deadline else { return -1 }
    let now = monotonicNow()
    if now >= deadline { return 0 }
    let remaining = (deadline - now + 999_999) / 1_000_000
    return Int32(clamping: min(remaining, UInt64(Int32.max)))
}

func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}

enum PollOutcome {
    case ready(Int16)
    case timedOut
}

/// poll(2) on up to two descriptors until `deadline`; EINTR retried with the remaining time.
func pollDescriptors(_ fds: inout [pollfd], until deadline: UInt64?, endpoint: String) throws(WebSocketError)
    -> Bool
{
    while true {
        let timeout = pollTimeoutMilliseconds(until: deadline)
        let result = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
        if result > 0 { return true }
        if result == 0 {
            if let deadline, monotonicNow() >= deadline { return false }
            continue
        }
        let code = errno
        if code == EINTR { continue }
        throw .socketFailed(endpoint: endpoint, operation: "poll", errno: code, reason: errnoText(code))
    }
}

/// Waits until `fd` is ready for `events` or the deadline passes.
func waitForSocket(_ fd: Int32, events: Int16, until deadline: UInt64?, endpoint: String) throws(WebSocketError)
    -> PollOutcome
{
    var fds = [pollfd(fd: fd, events: events, revents: 0)]
    if try pollDescriptors(&fds, until: deadline, endpoint: endpoint) { return .ready(fds[0].revents) }
    return .timedOut
}

/// Raw socket operations.
enum PosixSocket {
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Resolves `host:port` and connects to the first address that answers within the timeout.
    static func connect(host: String, port: UInt16, timeout: Duration) throws(WebSocketError) -> Int32 {
        let endpoint = formatEndpoint(host: host, port: port)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            let reason = gai_strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
            throw .resolveFailed(endpoint: endpoint, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var lastError = WebSocketError.resolveFailed(endpoint: endpoint, reason: "no address")
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                    | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 {
                let code = errno
                lastError = .socketFailed(endpoint: endpoint, operation: "socket", errno: code, reason: errnoText(code))
                continue
            }
            do {
                try connectOne(
                    fd: fd, address: info.pointee.ai_addr, length: info.pointee.ai_addrlen,
                    timeout: timeout, endpoint: endpoint)
                setNoDelay(fd)
                return fd
            } catch {
                Glibc.close(fd)
                lastError = error
            }
        }
        throw lastError
    }

    private static func connectOne(
        fd: Int32, address: UnsafeMutablePointer<sockaddr>?, length: socklen_t, timeout: Duration, endpoint: String
    ) throws(WebSocketError) {
        let until = deadline(after: timeout)
        var rc: Int32
        repeat { rc = Glibc.connect(fd, address, length) } while rc < 0 && errno == EINTR
        if rc == 0 { return }
        let code = errno
        guard code == EINPROGRESS else {
            throw .socketFailed(endpoint: endpoint, operation: "connect", errno: code, reason: errnoText(code))
        }
        switch try waitForSocket(fd, events: Int16(POLLOUT), until: until, endpoint: endpoint) {
        case .timedOut: throw .connectTimedOut(endpoint: endpoint, seconds: timeout.secondsDouble)
        case .ready: break
        }
        var soError: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &size)
        if soError != 0 {
            throw .socketFailed(endpoint: endpoint, operation: "connect", errno: soError, reason: errnoText(soError))
        }
    }

    /// A listening socket on `host:port` (port 0 picks a free port); returns the fd and bound port.
    static func listen(host: String, port: UInt16, backlog: Int32) throws(WebSocketError) -> (Int32, UInt16) {
        let endpoint = formatEndpoint(host: host, port: port)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let info = list else {
            let reason = gai_strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
            throw .resolveFailed(endpoint: endpoint, reason: reason)
        }
        defer { freeaddrinfo(list) }
        let fd = socket(
            info.pointee.ai_family,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            let code = errno
            throw .socketFailed(endpoint: endpoint, operation: "socket", errno: code, reason: errnoText(code))
        }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .socketFailed(endpoint: endpoint, operation: "bind", errno: code, reason: errnoText(code))
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .socketFailed(endpoint: endpoint, operation: "listen", errno: code, reason: errnoText(code))
        }
        return (fd, localPort(fd) ?? port)
    }

    static func localPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return port(of: storage)
    }

    /// accept4 (non-blocking, close-on-exec); nil when no connection is pending.
    static func accept(_ listener: Int32, endpoint: String) throws(WebSocketError) -> (Int32, String)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    acceptNonBlockingCloseOnExec(listener, $0, &length)
                }
            }
            if fd >= 0 {
                setNoDelay(fd)
                return (fd, describe(storage))
            }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK, ECONNABORTED: return nil
            default:
                throw .socketFailed(endpoint: endpoint, operation: "accept", errno: code, reason: errnoText(code))
            }
        }
    }

    static func port(of storage: sockaddr_storage) -> UInt16? {
        var copy = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
        default: return nil
        }
    }

    /// "host:port" of a peer address, for messages.
    static func describe(_ storage: sockaddr_storage) -> String {
        var copy = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = Int32(storage.ss_family)
        let ok: Bool = withUnsafePointer(to: &copy) { pointer in
            switch family {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    return inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count)) != nil
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil
                }
            default: return false
            }
        }
        guard ok else { return "unknown peer" }
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return formatEndpoint(host: host, port: port(of: storage) ?? 0)
    }
}

/// "host:port", with brackets around IPv6 literals.
func formatEndpoint(host: String, port: UInt16) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC. Glibc's Swift module hides accept4 (it is a
/// _GNU_SOURCE declaration), and accept + fcntl would leave a window in which a concurrent
/// posix_spawn inherits the descriptor, so the symbol is looked up once in libc.
private let accept4Function:
    @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "accept4") else {
            fatalError("accept4 is missing from libc; Linux ≥ 2.6.28 with glibc is required")
        }
        return unsafeBitCast(
            symbol,
            to: (@convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) ->
                Int32)
                .self)
    }()

private func acceptNonBlockingCloseOnExec(
    _ listener: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>
) -> Int32 {
    accept4Function(listener, address, length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
}
