import COpenSSL
// An open websocket connection (either role): framing, fragmentation, control frames, limits
// and the close handshake on top of a Transport.
import CShim
import Synchronization

/// An open RFC 6455 connection, client or server side.
///
/// Threading: one thread at a time receives (`receive` holds the receive lock for the whole
/// call); any thread may send, ping or close at any time (each frame is written whole under the
/// send lock, so frames never interleave). Pongs to pings and the echo of a peer's close frame
/// are sent automatically from inside `receive`. A typical capture loop runs `receive(timeout:)`
/// on its own thread while a timer thread sends application keepalives; a server keeps one
/// thread per client.
///
/// Buffers: received bytes go into one growable buffer per connection (64 KiB to start, grown to
/// the largest frame seen, shrunk back when idle); a frame is unmasked in place there, and only
/// the returned message's payload is copied out. Fragmented messages are joined in a second
/// reusable buffer. Sends encode into a reusable output buffer and write it with one call.
///
/// Ending: `receive` reports the end of the connection exactly once, as a `.close` message
/// (peer's close frame, a protocol violation we answered with 1002/1007/1009, or a dropped
/// connection reported as 1006); after that it throws `.connectionClosed`.
public final class WebSocketConnection: Sendable {
    /// Which side we are (clients mask their frames, servers must not).
    public let role: WebSocketRole
    /// The peer as "host:port" (used in every error message).
    public let endpoint: String
    /// The request target of the upgrade (path and query), as sent by the client.
    public let requestTarget: String
    /// The peer's handshake headers (a client sees the server's 101 response headers; a server
    /// sees the client's request headers).
    public let peerHeaders: [WebSocketHeader]
    /// The limits and timeouts this connection runs with.
    public let options: WebSocketOptions

    let transport: Transport
    private let reader: Mutex<ReceiveState>
    private let writer: Mutex<SendState>
    private let lifecycle: Mutex<Lifecycle>

    struct ReceiveState {
        var buffer: [UInt8]
        var start = 0
        var end = 0
        var fragmentKind: WebSocketOpcode? = nil
        var fragments: [UInt8] = []
        /// `fragments[..<fragmentsValidated]` is complete, valid UTF-8 (text messages only).
        var fragmentsValidated = 0
        var reportedClose = false
        var lastReadWallNanoseconds: UInt64 = 0
        var lastReadMonotonicNanoseconds: UInt64 = 0
    }

    struct SendState {
        var output: [UInt8] = []
    }

    struct Lifecycle {
        var closeSent = false
        var closeSentAtMonotonic: UInt64 = 0
        var closeReceived = false
    }

    static let initialReceiveBufferSize = 64 * 1024

    init(
        transport: Transport, role: WebSocketRole, options: WebSocketOptions, requestTarget: String,
        peerHeaders: [WebSocketHeader], leftover: [UInt8]
    ) {
        self.transport = transport
        self.role = role
        self.endpoint = transport.endpoint
        self.requestTarget = requestTarget
        self.peerHeaders = peerHeaders
        self.options = options
        var state = ReceiveState(buffer: [UInt8](repeating: 0, count: Self.initialReceiveBufferSize))
        if !leftover.isEmpty {
            if leftover.count > state.buffer.count { state.buffer = [UInt8](repeating: 0, count: leftover.count) }
            state.buffer.replaceSubrange(0..<leftover.count, with: leftover)
            state.end = leftover.count
            state.lastReadWallNanoseconds = cshim_wall_ns()
            state.lastReadMonotonicNanoseconds = cshim_monotonic_ns()
        }
        self.reader = Mutex(state)
        self.writer = Mutex(SendState())
        self.lifecycle = Mutex(Lifecycle())
    }

    /// The socket descriptor, for poll(2)/epoll by callers multiplexing many connections.
    /// Bytes may already be buffered (in this connection or in TLS): call `receive(timeout: .zero)`
    /// until it returns nil before waiting on the descriptor, or check `hasBufferedInput`.
    public var fileDescriptor: Int32 { transport.fd }

    /// True when received bytes are already buffered (in this connection or inside TLS), so a
    /// `receive` may complete without the descriptor becoming readable.
    public var hasBufferedInput: Bool {
        // The receive lock is free between receive calls; a caller checking this is not receiving.
        reader.withLock { $0.end > $0.start } || (transport.tls?.hasPendingBytes ?? false)
    }

    /// True when TLS protects this connection.
    public var isSecure: Bool { transport.tls != nil }

    // MARK: Sending

    /// Sends a text message (UTF-8 of `text`).
    public func send(text: String) throws(WebSocketError) {
        var copy = text
        try typedThrows { try copy.withUTF8 { utf8 in try sendMessage(.text, UnsafeRawBufferPointer(utf8)) } }
    }

    /// Sends a text message from bytes the caller guarantees to be UTF-8 (for example a
    /// recorded frame being replayed byte-exact). The bytes are not re-validated.
    public func send(textUTF8 bytes: UnsafeRawBufferPointer) throws(WebSocketError) {
        try sendMessage(.text, bytes)
    }

    /// Sends a text message from UTF-8 bytes (not re-validated).
    public func send(textUTF8 bytes: [UInt8]) throws(WebSocketError) {
        try typedThrows { try bytes.withUnsafeBytes { raw in try sendMessage(.text, raw) } }
    }

    /// Sends a binary message.
    public func send(binary bytes: [UInt8]) throws(WebSocketError) {
        try typedThrows { try bytes.withUnsafeBytes { raw in try sendMessage(.binary, raw) } }
    }

    /// Sends a binary message from a buffer.
    public func send(binary bytes: UnsafeRawBufferPointer) throws(WebSocketError) {
        try sendMessage(.binary, bytes)
    }

    /// Sends a ping (payload at most 125 bytes). The pong arrives as a `.pong` message.
    public func ping(_ payload: [UInt8] = []) throws(WebSocketError) {
        try sendControl(.ping, payload)
    }

    /// Sends an unsolicited pong (payload at most 125 bytes).
    public func pong(_ payload: [UInt8] = []) throws(WebSocketError) {
        try sendControl(.pong, payload)
    }

    private func sendControl(_ opcode: WebSocketOpcode, _ payload: [UInt8]) throws(WebSocketError) {
        guard payload.count <= 125 else {
            throw .invalidArgument("a \(opcode) payload may hold at most 125 bytes, got \(payload.count)")
        }
        try typedThrows { try payload.withUnsafeBytes { raw in try sendMessage(opcode, raw) } }
    }

    private func nextMaskingKey() -> UInt32? {
        guard role == .client else { return nil }
        var key: UInt32 = 0
        if withUnsafeMutableBytes(of: &key, { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 4) })
            != 1
        {
            key = UInt32.random(in: 0...UInt32.max)
        }
        return key
    }

    /// Encodes one message (fragmented when `maxSendFragmentSize` says so) and writes it whole.
    func sendMessage(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) throws(WebSocketError) {
        try writer.withLock { state throws(WebSocketError) in
            let closed = lifecycle.withLock { $0.closeSent }
            if closed { throw .connectionClosed(endpoint: endpoint) }
            state.output.removeAll(keepingCapacity: true)
            let fragmentSize = opcode.isControl ? payload.count : (options.maxSendFragmentSize ?? payload.count)
            if fragmentSize <= 0 || payload.count <= fragmentSize {
                WebSocketFrameCodec.encode(
                    opcode: opcode, fin: true, payload: payload, maskingKey: nextMaskingKey(), into: &state.output)
            } else {
                var offset = 0
                while offset < payload.count {
                    let end = min(offset + fragmentSize, payload.count)
                    WebSocketFrameCodec.encode(
                        opcode: offset == 0 ? opcode : .continuation, fin: end == payload.count,
                        payload: UnsafeRawBufferPointer(rebasing: payload[offset..<end]),
                        maskingKey: nextMaskingKey(), into: &state.output)
                    offset = end
                }
            }
            try writeOutput(&state)
        }
    }

    private func writeOutput(_ state: inout SendState) throws(WebSocketError) {
        defer {
            // Do not keep a huge buffer alive after one big message.
            if state.output.capacity > 4 << 20 { state.output = [] }
        }
        do {
            try typedThrows {
                try state.output.withUnsafeBytes { raw in
                    try transport.writeAll(
                        raw, until: deadline(after: options.writeTimeout), timeout: options.writeTimeout)
                }
            }
        } catch {
            // A peer that cannot take our bytes is gone; end the stream so the receiver sees it now.
            transport.shutdown()
            throw error
        }
    }

    // MARK: Closing

    /// Starts the close handshake: sends a close frame with `code` and `reason` (≤ 123 bytes of
    /// UTF-8). Calling it on a closing or closed connection sends nothing.
    ///
    /// With `waitForReply` (the default) and no other thread inside `receive`, it then waits up to
    /// `options.closeTimeout` for the peer's close frame (discarding data that arrives meanwhile),
    /// shuts the socket down and returns how the connection ended; a later `receive` throws
    /// `.connectionClosed`. Without `waitForReply`, or while another thread is receiving, it
    /// returns nil at once and the receiving side gets the `.close` message (the peer's reply, or
    /// 1006 after `closeTimeout`). A receive loop on its own thread should use `waitForReply: false`.
    @discardableResult
    public func close(code: WebSocketCloseCode = .normalClosure, reason: String = "", waitForReply: Bool = true)
        throws(WebSocketError) -> WebSocketCloseInfo?
    {
        guard code.isValidOnWire else {
            throw .invalidArgument("close code \(code.rawValue) may not be sent (RFC 6455 §7.4)")
        }
        let reasonBytes = Array(reason.utf8)
        guard reasonBytes.count <= 123 else {
            throw .invalidArgument("a close reason may hold at most 123 bytes of UTF-8, got \(reasonBytes.count)")
        }
        do {
            try sendClose(code: code, reason: reasonBytes)
        } catch .connectionClosed(_) {
            // Already closing or closed.
        }
        guard waitForReply else { return nil }
        let outcome = reader.withLockIfAvailable { state -> WebSocketCloseInfo? in
            while !state.reportedClose {
                do {
                    if let ending = try receiveLocked(&state, until: nil, { $0.close }), let ending {
                        return ending
                    }
                } catch {
                    return nil
                }
            }
            return nil
        }
        return outcome ?? nil
    }

    /// Ends the connection at once without a close frame (the peer sees the TCP connection
    /// drop, 1006). Safe from any thread; a thread blocked in `receive` returns a `.close`.
    public func abort() {
        transport.shutdown()
    }

    /// Sends a close frame unless one was sent already (then throws `.connectionClosed`).
    private func sendClose(code: WebSocketCloseCode?, reason: [UInt8]) throws(WebSocketError) {
        try writer.withLock { state throws(WebSocketError) in
            let alreadySent = lifecycle.withLock { lifecycle in
                if lifecycle.closeSent { return true }
                lifecycle.closeSent = true
                lifecycle.closeSentAtMonotonic = monotonicNow()
                return false
            }
            if alreadySent { throw .connectionClosed(endpoint: endpoint) }
            var payload: [UInt8] = []
            if let code {
                payload.append(UInt8(code.rawValue >> 8))
                payload.append(UInt8(code.rawValue & 0xFF))
                payload.append(contentsOf: reason)
            }
            state.output.removeAll(keepingCapacity: true)
            payload.withUnsafeBytes {
                WebSocketFrameCodec.encode(
                    opcode: .close, fin: true, payload: $0, maskingKey: nextMaskingKey(), into: &state.output)
            }
            try writeOutput(&state)
        }
    }

    // MARK: Receiving

    /// Waits up to `timeout` (nil: no limit) for the next complete message or control frame.
    ///
    /// Returns nil when the timeout passes first. Pings are answered automatically and still
    /// returned (as `.ping`) so a recorder sees them. The end of the connection is returned once
    /// as `.close`; later calls throw `.connectionClosed`. Peer protocol violations never throw:
    /// they produce that `.close` (with `close.error` set) after we sent the matching close code.
    public func receive(timeout: Duration?) throws(WebSocketError) -> WebSocketMessage? {
        try receive(timeout: timeout) { $0.makeMessage() }
    }

    /// Like `receive(timeout:)`, but lends the message to `body` in place instead of copying its
    /// payload into an array: no allocation per message. `view.payload` is valid only inside
    /// `body`. Returns `body`'s result, or nil when the timeout passes first.
    public func receive<Result: Sendable>(timeout: Duration?, _ body: (WebSocketMessageView) -> Result)
        throws(WebSocketError) -> Result?
    {
        try reader.withLock { state throws(WebSocketError) -> Result? in
            try receiveLocked(&state, until: deadline(after: timeout), body)
        }
    }

    private enum Delivery {
        /// The payload is `buffer[range]` (an unfragmented frame, unmasked in place).
        case inBuffer(WebSocketMessage.Kind, Range<Int>)
        /// The payload is the joined fragments.
        case inFragments(WebSocketMessage.Kind)
        /// A message made here (the end of the connection).
        case made(WebSocketMessage)
    }

    private enum FrameStep {
        case deliver(Delivery)
        case needBytes(Int)
        case consumed
    }

    private func receiveLocked<Result>(
        _ state: inout ReceiveState, until userDeadline: UInt64?, _ body: (WebSocketMessageView) -> Result
    ) throws(WebSocketError) -> Result? {
        if state.reportedClose { throw .connectionClosed(endpoint: endpoint) }
        while true {
            let needed: Int
            switch processFrame(&state) {
            case .deliver(let delivery): return deliver(delivery, &state, body)
            case .consumed: continue
            case .needBytes(let count): needed = count
            }
            // Make room for `needed` bytes from `start`, then read as much as is available.
            makeRoom(&state, needed: needed)
            let closeDeadline: UInt64? = lifecycle.withLock { lifecycle in
                lifecycle.closeSent ? lifecycle.closeSentAtMonotonic + options.closeTimeout.nanosecondsClamped : nil
            }
            let effectiveDeadline: UInt64? =
                switch (userDeadline, closeDeadline) {
                case (nil, nil): nil
                case (let user?, nil): user
                case (nil, let close?): close
                case (let user?, let close?): min(user, close)
                }
            let result: Transport.ReadResult
            do {
                let end = state.end
                result = try typedThrows {
                    try state.buffer.withUnsafeMutableBytes { raw in
                        try transport.read(
                            into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]), until: effectiveDeadline)
                    }
                }
            } catch {
                let ending = finishAbnormally(&state, reason: "the connection failed: \(error)", error: error)
                return deliver(.made(ending), &state, body)
            }
            switch result {
            case .bytes(let count):
                state.end += count
                state.lastReadWallNanoseconds = cshim_wall_ns()
                state.lastReadMonotonicNanoseconds = cshim_monotonic_ns()
            case .endOfStream:
                let ending = finishAbnormally(
                    &state, reason: "the peer closed the TCP connection without a close frame", error: nil)
                return deliver(.made(ending), &state, body)
            case .timedOut:
                if let closeDeadline, monotonicNow() >= closeDeadline {
                    let ending = finishAbnormally(
                        &state,
                        reason: "no close frame from the peer within \(options.closeTimeout.secondsDouble) s",
                        error: nil)
                    return deliver(.made(ending), &state, body)
                }
                if let userDeadline, monotonicNow() >= userDeadline { return nil }
            }
        }
    }

    private func deliver<Result>(
        _ delivery: Delivery, _ state: inout ReceiveState, _ body: (WebSocketMessageView) -> Result
    ) -> Result {
        let wall = state.lastReadWallNanoseconds
        let monotonic = state.lastReadMonotonicNanoseconds
        switch delivery {
        case .made(let message):
            return message.payload.withUnsafeBytes {
                body(
                    WebSocketMessageView(
                        kind: message.kind, payload: $0, close: message.close,
                        receivedWallNanoseconds: message.receivedWallNanoseconds,
                        receivedMonotonicNanoseconds: message.receivedMonotonicNanoseconds))
            }
        case .inBuffer(let kind, let range):
            return state.buffer.withUnsafeBytes {
                body(
                    WebSocketMessageView(
                        kind: kind, payload: UnsafeRawBufferPointer(rebasing: $0[range]), close: nil,
                        receivedWallNanoseconds: wall, receivedMonotonicNanoseconds: monotonic))
            }
        case .inFragments(let kind):
            defer {
                // Do not keep the memory of one huge message alive.
                if state.fragments.capacity > 4 << 20 { state.fragments = [] }
            }
            return state.fragments.withUnsafeBytes {
                body(
                    WebSocketMessageView(
                        kind: kind, payload: $0, close: nil, receivedWallNanoseconds: wall,
                        receivedMonotonicNanoseconds: monotonic))
            }
        }
    }

    /// Makes sure `needed` bytes fit from `start` and there is free space after `end` to read into.
    private func makeRoom(_ state: inout ReceiveState, needed: Int) {
        if state.start == state.end {
            state.start = 0
            state.end = 0
            if state.buffer.count > 4 << 20 {
                // Give back the memory of one huge frame once it has been consumed.
                state.buffer = [UInt8](repeating: 0, count: Self.initialReceiveBufferSize)
            }
        }
        let capacity = state.buffer.count
        if state.start > 0 && (capacity - state.start < needed || capacity - state.end < 4096) {
            let unread = state.end - state.start
            let from = state.start
            state.buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + from, byteCount: unread)
            }
            state.start = 0
            state.end = unread
        }
        if state.buffer.count - state.start < needed || state.buffer.count == state.end {
            let target = max(state.start + needed, state.end + 4096)
            var size = max(state.buffer.count, 1)
            while size < target { size *= 2 }
            state.buffer.append(contentsOf: repeatElement(0, count: size - state.buffer.count))
        }
    }

    /// Decodes the frame at `start`, if it is complete, and acts on it.
    private func processFrame(_ state: inout ReceiveState) -> FrameStep {
        let available = state.end - state.start
        let parse = state.buffer.withUnsafeBytes {
            WebSocketFrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: $0[state.start..<state.end]))
        }
        let header: WebSocketFrameHeader
        switch parse {
        case .incomplete(let needed): return .needBytes(needed)
        case .invalidLength:
            return Self.made(fail(&state, .protocolError, "64-bit payload length with its top bit set"))
        case .header(let parsed): header = parsed
        }
        if header.reservedBits != 0 {
            return Self.made(fail(&state, .protocolError, "RSV bits set but no extension was negotiated"))
        }
        guard let opcode = header.opcode else {
            return Self.made(fail(&state, .protocolError, "reserved opcode \(header.opcodeValue)"))
        }
        if opcode.isControl {
            if !header.fin { return Self.made(fail(&state, .protocolError, "fragmented \(opcode) frame")) }
            if header.payloadLength > 125 {
                return Self.made(
                    fail(&state, .protocolError, "\(opcode) frame with \(header.payloadLength) bytes (limit 125)"))
            }
        }
        switch role {
        case .server where header.maskingKey == nil:
            return Self.made(fail(&state, .protocolError, "unmasked frame from a client"))
        case .client where header.maskingKey != nil:
            return Self.made(fail(&state, .protocolError, "masked frame from a server"))
        default: break
        }
        if header.payloadLength > UInt64(options.maxFrameSize) {
            return Self.made(
                fail(
                    &state, .messageTooBig,
                    "frame of \(header.payloadLength) bytes exceeds the limit of \(options.maxFrameSize)"))
        }
        if !opcode.isControl {
            if opcode == .continuation && state.fragmentKind == nil {
                return Self.made(fail(&state, .protocolError, "continuation frame without a message in progress"))
            }
            if opcode != .continuation && state.fragmentKind != nil {
                return Self.made(
                    fail(&state, .protocolError, "new \(opcode) message while a fragmented message is in progress"))
            }
            let soFar = state.fragmentKind == nil ? 0 : state.fragments.count
            if UInt64(soFar) + header.payloadLength > UInt64(options.maxMessageSize) {
                return Self.made(
                    fail(
                        &state, .messageTooBig,
                        "message of at least \(UInt64(soFar) + header.payloadLength) bytes exceeds the limit of "
                            + "\(options.maxMessageSize)"))
            }
        }
        let frameLength = header.headerLength + Int(header.payloadLength)
        if available < frameLength { return .needBytes(frameLength) }
        let payloadStart = state.start + header.headerLength
        let payloadEnd = state.start + frameLength
        if let key = header.maskingKey {
            state.buffer.withUnsafeMutableBytes {
                WebSocketFrameCodec.applyMask(
                    key: key, to: UnsafeMutableRawBufferPointer(rebasing: $0[payloadStart..<payloadEnd]), keyOffset: 0)
            }
        }
        state.start = payloadEnd

        switch opcode {
        case .ping:
            if options.autoReplyToPing {
                // A failed pong means the peer is gone; the next read reports that.
                state.buffer.withUnsafeBytes {
                    try? sendMessage(.pong, UnsafeRawBufferPointer(rebasing: $0[payloadStart..<payloadEnd]))
                }
            }
            return .deliver(.inBuffer(.ping, payloadStart..<payloadEnd))
        case .pong:
            return .deliver(.inBuffer(.pong, payloadStart..<payloadEnd))
        case .close:
            return Self.made(handleClose(&state, Array(state.buffer[payloadStart..<payloadEnd])))
        case .text, .binary, .continuation:
            if header.fin && state.fragmentKind == nil {
                if opcode == .text {
                    let valid = state.buffer.withUnsafeBytes {
                        UTF8Validation.isValid(UnsafeRawBufferPointer(rebasing: $0[payloadStart..<payloadEnd]))
                    }
                    if !valid { return Self.made(fail(&state, .invalidPayload, "text message is not valid UTF-8")) }
                }
                return .deliver(.inBuffer(opcode == .text ? .text : .binary, payloadStart..<payloadEnd))
            }
            if state.fragmentKind == nil {
                state.fragmentKind = opcode
                state.fragments.removeAll(keepingCapacity: true)
                state.fragmentsValidated = 0
            }
            state.fragments.append(contentsOf: state.buffer[payloadStart..<payloadEnd])
            let kind = state.fragmentKind!
            if kind == .text {
                // Validate as fragments arrive: a bad message is refused at its first bad fragment.
                let from = state.fragmentsValidated
                let result = state.fragments.withUnsafeBytes {
                    UTF8Validation.check(UnsafeRawBufferPointer(rebasing: $0[from...]))
                }
                state.fragmentsValidated = from + result.completeUpTo
                if !result.isValidSoFar || (header.fin && state.fragmentsValidated != state.fragments.count) {
                    return Self.made(fail(&state, .invalidPayload, "text message is not valid UTF-8"))
                }
            }
            guard header.fin else { return .consumed }
            state.fragmentKind = nil
            return .deliver(.inFragments(kind == .text ? .text : .binary))
        }
    }

    private static func made(_ message: WebSocketMessage) -> FrameStep { .deliver(.made(message)) }

    private func stamped(_ state: inout ReceiveState, _ kind: WebSocketMessage.Kind, _ payload: [UInt8])
        -> WebSocketMessage
    {
        WebSocketMessage(
            kind: kind, payload: payload, receivedWallNanoseconds: state.lastReadWallNanoseconds,
            receivedMonotonicNanoseconds: state.lastReadMonotonicNanoseconds)
    }

    private func handleClose(_ state: inout ReceiveState, _ payload: [UInt8]) -> WebSocketMessage {
        var code = WebSocketCloseCode.noStatusReceived
        var reason = ""
        if payload.count == 1 {
            return fail(&state, .protocolError, "close frame with a 1-byte payload")
        }
        if payload.count >= 2 {
            code = WebSocketCloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
            guard code.isValidOnWire else {
                return fail(&state, .protocolError, "close frame with invalid code \(code.rawValue)")
            }
            let reasonBytes = Array(payload[2...])
            guard UTF8Validation.isValid(reasonBytes) else {
                return fail(&state, .invalidPayload, "close reason is not valid UTF-8")
            }
            reason = String(decoding: reasonBytes, as: UTF8.self)
        }
        let weStarted = lifecycle.withLock { lifecycle in
            lifecycle.closeReceived = true
            return lifecycle.closeSent
        }
        if !weStarted {
            // Echo the peer's status code (RFC 6455 §5.5.1); no code if it sent none.
            try? sendClose(code: code == .noStatusReceived ? nil : code, reason: [])
        }
        transport.shutdown()
        state.reportedClose = true
        var message = stamped(&state, .close, payload)
        message.close = WebSocketCloseInfo(code: code, reason: reason, initiatedLocally: weStarted, isClean: true)
        return message
    }

    /// Answers a protocol violation: close frame with `code`, shut down, report `.close`.
    private func fail(_ state: inout ReceiveState, _ code: WebSocketCloseCode, _ reason: String) -> WebSocketMessage {
        let error = WebSocketError.protocolViolation(endpoint: endpoint, closeCode: code.rawValue, reason: reason)
        let wireReason = Array(reason.utf8.prefix(123))
        let validReason = UTF8Validation.isValid(wireReason) ? wireReason : []
        try? sendClose(code: code, reason: validReason)
        transport.shutdown()
        state.reportedClose = true
        state.start = state.end
        var message = stamped(&state, .close, [])
        message.close = WebSocketCloseInfo(
            code: code, reason: reason, initiatedLocally: true, isClean: false, error: error)
        return message
    }

    private func finishAbnormally(_ state: inout ReceiveState, reason: String, error: WebSocketError?)
        -> WebSocketMessage
    {
        transport.shutdown()
        state.reportedClose = true
        let initiated = lifecycle.withLock { $0.closeSent }
        var message = stamped(&state, .close, [])
        message.receivedWallNanoseconds = cshim_wall_ns()
        message.receivedMonotonicNanoseconds = cshim_monotonic_ns()
        message.close = WebSocketCloseInfo(
            code: .abnormalClosure, reason: reason, initiatedLocally: initiated, isClean: false, error: error)
        return message
    }
}
