// `replay serve`: a local stand-in for Polymarket's market channel that plays a tape to
// websocket clients. Threads: the websocket server's acceptor; per client a receive thread
// (subscriptions, PING, idle timer) and a send thread (drains the client's bounded queue);
// and players that walk the tape and fill the queues — one per client, or one for all
// with `sharedClock`.
import Dispatch
import Foundation
import Glibc
import Synchronization
import WebSocket

/// Serves a tape over the market-channel protocol (see docs/SERVE.md).
///
/// Create it with a loaded `ServeTape`, read `url`, call `start()`, and `stop()` when done.
/// Everything worth logging goes to `onEvent` (from any thread); the server never prints.
public final class ReplayServer: Sendable {
    public let options: ServeOptions
    let tape: ServeTape
    let onEvent: @Sendable (ServeEvent) -> Void
    private let server: WebSocketServer
    private let state = Mutex(State())
    private let sessionThreads = DispatchGroup()
    private let sharedPlayer: ServePlayer?

    private struct State {
        var nextClient = 1
        var sessions: [Int: ServeSession] = [:]
        var stopping = false
        var started = false
    }

    /// Binds the listening socket (nothing is served before `start()`).
    public init(tape: ServeTape, options: ServeOptions, onEvent: @escaping @Sendable (ServeEvent) -> Void = { _ in })
        throws
    {
        self.tape = tape
        self.options = options
        self.onEvent = onEvent
        var tls: WebSocketTLSServerConfiguration?
        if let certificate = options.tlsCertificateFile, let key = options.tlsKeyFile {
            tls = WebSocketTLSServerConfiguration(certificateChainFile: certificate, privateKeyFile: key)
        }
        var socketOptions = WebSocketOptions()
        socketOptions.maxFrameSize = 1 << 20
        socketOptions.maxMessageSize = 4 << 20
        socketOptions.autoReplyToPing = true
        server = try WebSocketServer(
            host: options.host, port: options.port, tls: tls, allowedPaths: [options.path], options: socketOptions)
        sharedPlayer =
            options.sharedClock ? ServePlayer(tape: tape, options: options, shared: true, onEvent: onEvent) : nil
    }

    /// The bound port.
    public var port: UInt16 { server.port }

    /// The URL clients connect to, e.g. `ws://127.0.0.1:43121/ws/market`.
    public var url: String { server.url(path: options.path) }

    /// Open client connections.
    public var clientCount: Int { state.withLock { $0.sessions.count } }

    /// Starts accepting clients (and the shared clock, if asked for).
    public func start() {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopping
        }
        guard first else { return }
        if let sharedPlayer { sharedPlayer.start() }
        onEvent(ServeEvent(kind: .listening, message: "serving \(tape.frameCount) frames on \(url)"))
        server.start(
            handler: { [self] connection in serve(connection) },
            onError: { [self] error in
                onEvent(ServeEvent(kind: .handshakeFailed, message: "\(error)"))
            })
    }

    /// Stops accepting, closes every client with 1001 (going away) and waits up to `timeout`
    /// for their threads to end. Idempotent.
    public func stop(timeout: Duration = .seconds(5)) {
        let sessions = state.withLock { state -> [ServeSession]? in
            if state.stopping { return nil }
            state.stopping = true
            return Array(state.sessions.values)
        }
        guard let sessions else { return }
        server.stop()
        sharedPlayer?.stop()
        for session in sessions { session.shutDown(code: .goingAway, reason: "server stopping") }
        let (seconds, attoseconds) = timeout.components
        _ = sessionThreads.wait(
            timeout: .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)))
        onEvent(ServeEvent(kind: .stopped, message: "stopped"))
    }

    private func serve(_ connection: WebSocketConnection) {
        sessionThreads.enter()
        defer { sessionThreads.leave() }
        let admitted = state.withLock { state -> Int? in
            if state.stopping { return nil }
            if let limit = options.maxClients, state.sessions.count >= limit { return -1 }
            let id = state.nextClient
            state.nextClient += 1
            return id
        }
        guard let id = admitted, id > 0 else {
            let reason = admitted == nil ? "server stopping" : "server full (--max-clients \(options.maxClients ?? 0))"
            onEvent(ServeEvent(kind: .clientRefused, message: "\(connection.endpoint): \(reason)"))
            _ = try? connection.close(code: admitted == nil ? .goingAway : WebSocketCloseCode(1013), reason: reason)
            connection.abort()
            return
        }
        if let bytes = options.socketSendBufferBytes {
            var value = Int32(clamping: bytes)
            _ = setsockopt(
                connection.fileDescriptor, SOL_SOCKET, SO_SNDBUF, &value, socklen_t(MemoryLayout<Int32>.size))
        }
        let player = sharedPlayer ?? ServePlayer(tape: tape, options: options, shared: false, onEvent: onEvent)
        let session = ServeSession(id: id, connection: connection, options: options, player: player, onEvent: onEvent)
        state.withLock { $0.sessions[id] = session }
        onEvent(ServeEvent(kind: .clientConnected, client: id, message: "connected from \(connection.endpoint)"))
        player.attach(session)
        if sharedPlayer == nil { player.start() }
        session.run()
        if sharedPlayer == nil { player.stop() }
        state.withLock { _ = $0.sessions.removeValue(forKey: id) }
    }
}

/// One client connection: its subscription, its outbound queue and its send thread.
///
/// `@unchecked Sendable`: every mutable field below `condition` is read and written only
/// while `condition` is locked; `connection` is itself Sendable and thread-safe for sends,
/// and only `run()` (one thread) receives from it.
final class ServeSession: @unchecked Sendable {
    let id: Int
    let connection: WebSocketConnection
    let options: ServeOptions
    let player: ServePlayer
    let onEvent: @Sendable (ServeEvent) -> Void

    private let condition = NSCondition()
    private var queue: [Item] = []
    private var queueHead = 0
    private var dataQueued = 0
    private(set) var subscribed = Set<String>()
    private var hasSubscribedFlag = false
    private var closed = false
    private var dataSent = 0

    enum Item {
        case data([UInt8])
        case control(String)
    }

    init(
        id: Int, connection: WebSocketConnection, options: ServeOptions, player: ServePlayer,
        onEvent: @escaping @Sendable (ServeEvent) -> Void
    ) {
        self.id = id
        self.connection = connection
        self.options = options
        self.player = player
        self.onEvent = onEvent
    }

    var isClosed: Bool { locked { closed } }
    var hasSubscribed: Bool { locked { hasSubscribedFlag } }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    /// Ends the session: nothing more is sent, the send thread and a waiting player wake up.
    func markClosed() {
        locked {
            closed = true
            condition.broadcast()
        }
    }

    /// Sends a close frame (when possible) and drops the connection.
    func shutDown(code: WebSocketCloseCode, reason: String) {
        markClosed()
        _ = try? connection.close(code: code, reason: reason, waitForReply: false)
        connection.abort()
    }

    // MARK: Receive side (the server's thread for this client)

    func run() {
        let sender = Thread { [self] in sendLoop() }
        sender.start()
        var lastTraffic = ContinuousClock.now
        receiving: while true {
            var timeout: Duration?
            if let idle = options.idleClose {
                timeout = idle - (ContinuousClock.now - lastTraffic)
                if timeout! <= .zero {
                    onEvent(
                        ServeEvent(
                            kind: .idleClose, client: id,
                            message: "no client traffic for \(idle); closing the TCP connection without a close frame"))
                    markClosed()
                    connection.abort()
                    break
                }
            }
            let message: WebSocketMessage?
            do {
                message = try connection.receive(timeout: timeout)
            } catch {
                break
            }
            guard let message else { continue }
            lastTraffic = ContinuousClock.now
            switch message.kind {
            case .close:
                let info = message.close
                onEvent(
                    ServeEvent(
                        kind: .clientClosed, client: id,
                        message:
                            "closed (\(info?.code.rawValue ?? 1006)\(info?.reason.isEmpty == false ? " \(info!.reason)" : ""))"
                    ))
                break receiving
            case .text:
                if !handle(text: message.payload) { continue }
            case .binary, .ping, .pong:
                continue
            }
        }
        markClosed()
        connection.abort()
        sender.cancel()
    }

    /// Handles one client text message. Returns false when the connection is being closed.
    private func handle(text payload: [UInt8]) -> Bool {
        if payload == Array("PING".utf8) {
            if !hasSubscribed {
                policyClose("PING before a subscription")
                return false
            }
            if options.answerPings { enqueueControl("PONG") }
            return true
        }
        guard let request = ServeClientRequest.parse(payload) else {
            if !hasSubscribed {
                policyClose("expected a subscription: {\"assets_ids\":[...],\"type\":\"market\"}")
                return false
            }
            return true
        }
        switch request.operation {
        case .subscribe:
            let (fresh, current) = locked { () -> ([String], Int) in
                var seen = subscribed
                return (request.assetIDs.filter { seen.insert($0).inserted }, subscribed.count)
            }
            let total = current + fresh.count
            if let limit = options.maxAssets, total > limit {
                policyClose("too many assets: \(total) (limit \(limit))")
                return false
            }
            locked { hasSubscribedFlag = true }
            onEvent(
                ServeEvent(
                    kind: .subscribed, client: id, message: "subscribed to \(fresh.count) asset(s), \(total) in all"))
            // Books for every asset named (already subscribed ones again, as a resubscription).
            var named = Set<String>()
            let requested = request.assetIDs.filter { named.insert($0).inserted }
            player.request(session: self, assets: requested, dump: request.initialDump)
        case .unsubscribe:
            locked {
                subscribed.subtract(request.assetIDs)
            }
            onEvent(
                ServeEvent(
                    kind: .unsubscribed, client: id, message: "unsubscribed from \(request.assetIDs.count) asset(s)"))
        }
        return true
    }

    private func policyClose(_ reason: String) {
        onEvent(ServeEvent(kind: .policyClose, client: id, message: "closing with 1008: \(reason)"))
        markClosed()
        _ = try? connection.close(
            code: .policyViolation, reason: String(reason.utf8.prefix(120)) ?? "policy", waitForReply: false)
    }

    // MARK: Player side

    /// Adds assets (called by the player, so the dump and later frames stay in order) and
    /// queues their books. Returns false when the client was dropped.
    @discardableResult
    func subscribe(_ assets: [String], dump: [UInt8]?, blocking: Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        subscribed.formUnion(assets)
        guard let dump else { return !closed }
        return enqueueDataLocked(dump, blocking: blocking)
    }

    /// Filters one tape frame for this client and queues what is left.
    @discardableResult
    func deliver(_ frame: ServeTapeFrame, blocking: Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        guard !subscribed.isEmpty else { return true }
        let outcome = frame.bytes.withUnsafeBytes {
            ServeFrameFilter.filter($0, layout: frame.layout, subscribed: subscribed)
        }
        switch outcome {
        case .skip: return true
        case .exact: return enqueueDataLocked(frame.bytes, blocking: blocking)
        case .rewritten(let bytes): return enqueueDataLocked(bytes, blocking: blocking)
        }
    }

    private func enqueueDataLocked(_ bytes: [UInt8], blocking: Bool) -> Bool {
        if closed { return false }
        if dataQueued >= options.clientBufferFrames {
            if blocking {
                while dataQueued >= options.clientBufferFrames && !closed { condition.wait() }
                if closed { return false }
            } else {
                closed = true
                condition.broadcast()
                onEvent(
                    ServeEvent(
                        kind: .slowConsumer, client: id,
                        message:
                            "slow consumer: \(dataQueued) frames queued (limit \(options.clientBufferFrames)); disconnecting"
                    ))
                connection.abort()
                return false
            }
        }
        queue.append(.data(bytes))
        dataQueued += 1
        condition.broadcast()
        return true
    }

    private func enqueueControl(_ text: String) {
        locked {
            guard !closed else { return }
            queue.append(.control(text))
            condition.broadcast()
        }
    }

    // MARK: Send side (own thread)

    private func sendLoop() {
        while true {
            condition.lock()
            while queueHead == queue.count && !closed { condition.wait() }
            if closed {
                condition.unlock()
                return
            }
            let item = queue[queueHead]
            queueHead += 1
            if case .data = item { dataQueued -= 1 }
            if queueHead > 1024 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            condition.broadcast()
            condition.unlock()
            do {
                switch item {
                case .data(let bytes): try connection.send(textUTF8: bytes)
                case .control(let text): try connection.send(text: text)
                }
            } catch {
                markClosed()
                connection.abort()
                return
            }
            if case .data = item, let limit = options.dropAfterFrames {
                let count = locked {
                    dataSent += 1
                    return dataSent
                }
                if count >= limit {
                    onEvent(
                        ServeEvent(
                            kind: .dropped, client: id,
                            message: "--drop-at \(limit): dropping the connection after \(count) frames"))
                    markClosed()
                    connection.abort()
                    return
                }
            }
        }
    }
}

/// A client message the server understands.
struct ServeClientRequest {
    enum Operation {
        case subscribe, unsubscribe
    }
    var operation: Operation
    var assetIDs: [String]
    var initialDump: Bool

    /// `{"assets_ids":[...],"type":"market",...}` (a subscription) or
    /// `{"operation":"subscribe"|"unsubscribe","assets_ids":[...]}`; nil for anything else.
    static func parse(_ payload: [UInt8]) -> ServeClientRequest? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
            let assets = object["assets_ids"] as? [Any]
        else { return nil }
        let ids = assets.compactMap { value -> String? in
            if let text = value as? String { return text }
            if let number = value as? NSNumber { return number.stringValue }
            return nil
        }
        guard ids.count == assets.count else { return nil }
        var operation = Operation.subscribe
        if let name = object["operation"] {
            switch name as? String {
            case "subscribe": operation = .subscribe
            case "unsubscribe": operation = .unsubscribe
            default: return nil
            }
        }
        let dump = (object["initial_dump"] as? Bool) ?? true
        return ServeClientRequest(operation: operation, assetIDs: ids, initialDump: dump)
    }
}

/// Walks the tape for one client (or for all, with the shared clock): paces frames, keeps
/// the book state of its position, answers subscriptions with dumps, and hands each frame
/// to its sessions.
///
/// `@unchecked Sendable`: the fields below `condition` are touched only with it locked;
/// `books`, `cursor` and the pacing fields only by the player thread (`run`).
final class ServePlayer: @unchecked Sendable {
    let tape: ServeTape
    let options: ServeOptions
    let shared: Bool
    let onEvent: @Sendable (ServeEvent) -> Void

    private let condition = NSCondition()
    private var sessions: [ServeSession] = []
    private var requests: [(session: ServeSession, assets: [String], dump: Bool)] = []
    private var stopped = false
    private var running = false

    private var books: ServeBookState
    private var cursor = 0
    private var absorbedOpening = false
    private var reportedEnd = false
    private var wallBase = ContinuousClock.now
    private var clockBase: Int64 = 0
    private var lastClock: Int64 = 0

    init(tape: ServeTape, options: ServeOptions, shared: Bool, onEvent: @escaping @Sendable (ServeEvent) -> Void) {
        self.tape = tape
        self.options = options
        self.shared = shared
        self.onEvent = onEvent
        self.books = ServeBookState(sideData: tape.sideData)
    }

    /// Per client at `max` speed the tape waits for the client; otherwise the clock never
    /// waits and a client that falls behind is dropped.
    private var blocking: Bool { !shared && options.speed == .max }

    func attach(_ session: ServeSession) {
        condition.lock()
        sessions.append(session)
        condition.unlock()
    }

    func request(session: ServeSession, assets: [String], dump: Bool) {
        condition.lock()
        requests.append((session, assets, dump))
        condition.broadcast()
        condition.unlock()
    }

    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !running else { return }
        running = true
        let thread = Thread { [self] in run() }
        thread.start()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func rebase() {
        wallBase = ContinuousClock.now
        clockBase = cursor < tape.frames.count ? tape.frames[cursor].clockNs : 0
        lastClock = clockBase
    }

    /// Applies the tape's opening `book` frames (its recorded initial dump) and any `slice`
    /// warm-up frames without sending them: they are the book state the first dump is built from.
    private func absorbOpening() {
        guard !absorbedOpening else { return }
        absorbedOpening = true
        while cursor < tape.frames.count, tape.frames[cursor].layout.isBooksOnly || tape.frames[cursor].warmup {
            books.apply(tape.frames[cursor].bytes)
            cursor += 1
        }
        rebase()
    }

    private func run() {
        if shared { absorbOpening() }
        while true {
            condition.lock()
            if stopped {
                condition.unlock()
                return
            }
            let pending = requests
            requests = []
            sessions.removeAll { $0.isClosed }
            let active = sessions
            condition.unlock()

            for request in pending {
                absorbOpening()
                let dump = request.dump ? books.initialDump(request.assets) : nil
                request.session.subscribe(request.assets, dump: dump, blocking: blocking)
            }
            if !shared && (active.isEmpty || !absorbedOpening) {
                if active.isEmpty { return }
                waitForSignal(until: nil)
                continue
            }
            if shared && options.speed == .max && !active.contains(where: { $0.hasSubscribed }) {
                // Unpaced, the shared clock would spin through the tape (forever with --loop)
                // with nobody listening: it advances only while someone is subscribed.
                waitForSignal(until: nil)
                continue
            }
            if cursor >= tape.frames.count {
                if options.loop && !tape.frames.isEmpty {
                    cursor = 0
                    books.reset()
                    rebase()
                    onEvent(
                        ServeEvent(
                            kind: .loopRestarted, client: shared ? nil : active.first?.id,
                            message: "tape restarted (--loop)"))
                    continue
                }
                if !reportedEnd {
                    reportedEnd = true
                    onEvent(
                        ServeEvent(kind: .tapeEnded, client: shared ? nil : active.first?.id, message: "end of tape"))
                }
                waitForSignal(until: nil)
                continue
            }
            let frame = tape.frames[cursor]
            if frame.warmup {
                books.apply(frame.bytes)
                cursor += 1
                rebase()
                continue
            }
            if case .factor(let factor) = options.speed {
                if frame.clockNs < lastClock {
                    // A clock that went backwards (a new segment or connection): no wait.
                    rebase()
                }
                let offset = Double(frame.clockNs - clockBase) / factor
                let due = wallBase + .nanoseconds(Int64(offset))
                if ContinuousClock.now < due {
                    waitForSignal(until: due)
                    continue
                }
                lastClock = frame.clockNs
            }
            books.apply(frame.bytes)
            for session in active { session.deliver(frame, blocking: blocking) }
            cursor += 1
        }
    }

    private func waitForSignal(until due: ContinuousClock.Instant?) {
        condition.lock()
        defer { condition.unlock() }
        guard requests.isEmpty, !stopped else { return }
        if let due {
            let remaining = due - ContinuousClock.now
            guard remaining > .zero else { return }
            let (seconds, attoseconds) = remaining.components
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18))
        } else {
            // Woken by a request, a new session or stop; a bounded wait also notices closed sessions.
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.2))
        }
    }
}
