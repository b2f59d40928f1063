// A stand-in for the exchange's market channel, on the WebSocket module's server (loopback
// only). Each connection follows a scripted behaviour so that faults are injected exactly:
// drop mid-stream, stop answering PING, close when idle without a close frame.
import Foundation
import Synchronization
import WebSocket

final class MockExchange: Sendable {
    enum Fault: Sendable {
        case none
        /// Drop the TCP connection (no close frame) after sending this many frames.
        case dropAfter(frames: Int)
        /// Send a close frame with this code after this many frames.
        case closeAfter(frames: Int, code: UInt16)
        /// Never answer PING.
        case ignorePings
        /// After the last frame, stay silent this long, then drop without a close frame.
        case idleDropAfter(Duration)
        /// After the last frame, stop reading from the socket (a hung peer: the client's close
        /// handshake gets no answer).
        case stopReading
    }

    struct Behaviour: Sendable {
        /// Frames sent after the subscription, in order (nil: one `book` frame per subscribed asset).
        var frames: [[UInt8]]?
        var fault: Fault = .none
        /// Pause between frames (nil: as fast as possible).
        var pace: Duration?
        /// Keep sending `frames` in a loop until the client goes away.
        var loop = false
    }

    let server: WebSocketServer
    private let behaviour: @Sendable (_ connectionIndex: Int) -> Behaviour
    private let state = Mutex<State>(State())
    private let stopped = Atomic<Bool>(false)

    struct State {
        var connections = 0
        var subscriptions: [[String]] = []
        var subscribeTexts: [String] = []
        var pings = 0
        var framesSent = 0
        var clientCloseCodes: [UInt16] = []
    }

    init(behaviour: @escaping @Sendable (_ connectionIndex: Int) -> Behaviour) throws {
        self.behaviour = behaviour
        server = try WebSocketServer(host: "127.0.0.1", port: 0, allowedPaths: ["/ws/market"])
        server.start(handler: { [self] connection in serve(connection) })
    }

    var url: String { server.url(path: "/ws/market") }
    var snapshot: State { state.withLock { $0 } }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        server.stop()
    }

    /// One `book` frame per asset, in the compact shape of an initial dump.
    static func bookFrame(_ asset: String) -> [UInt8] {
        Array(
            #"[{"market":"0xabc","asset_id":"\#(asset)","timestamp":"1764000000000","hash":"0000000000000000000000000000000000000000","bids":[{"price":"0.48","size":"10"}],"asks":[{"price":"0.52","size":"12"}],"tick_size":"0.01","event_type":"book"}]"#
                .utf8)
    }

    private func serve(_ connection: WebSocketConnection) {
        let index = state.withLock {
            $0.connections += 1
            return $0.connections
        }
        let plan = behaviour(index)
        // 1. The subscription must come first (the real server answers an early PING with 1008).
        var assets: [String] = []
        while assets.isEmpty {
            guard let message = try? connection.receive(timeout: .seconds(5)) else {
                connection.abort()
                return
            }
            if message.kind == .close { return }
            guard message.kind == .text else { continue }
            if message.text == "PING" {
                _ = try? connection.close(code: .policyViolation, reason: "PING before subscription")
                return
            }
            assets = Self.assets(inSubscription: message.payload)
            let text = message.text
            state.withLock {
                $0.subscriptions.append(assets)
                $0.subscribeTexts.append(text)
            }
        }
        let frames = plan.frames ?? assets.map(Self.bookFrame)
        var sent = 0
        // 2. Stream, answering PINGs between frames.
        repeat {
            for frame in frames {
                if stopped.load(ordering: .relaxed) { return connection.abort() }
                switch plan.fault {
                case .dropAfter(let limit) where sent >= limit: return connection.abort()
                case .closeAfter(let limit, let code) where sent >= limit:
                    _ = try? connection.close(code: WebSocketCloseCode(code), reason: "test close")
                    return
                default: break
                }
                guard (try? connection.send(textUTF8: frame)) != nil else { return }
                sent += 1
                state.withLock { $0.framesSent += 1 }
                if !answerPings(connection, plan: plan, wait: plan.pace ?? .zero) { return }
            }
        } while plan.loop
        // 3. Then stay connected, answering PINGs, until the client leaves or a fault fires.
        if case .stopReading = plan.fault {
            while !stopped.load(ordering: .relaxed) { usleep(10_000) }
            return connection.abort()
        }
        let idleStarted = ContinuousClock.now
        while !stopped.load(ordering: .relaxed) {
            if case .idleDropAfter(let limit) = plan.fault, ContinuousClock.now - idleStarted >= limit {
                return connection.abort()
            }
            if !answerPings(connection, plan: plan, wait: .milliseconds(20)) { return }
        }
        connection.abort()
    }

    /// Handles whatever the client sent within `wait`; false once the client is gone.
    private func answerPings(_ connection: WebSocketConnection, plan: Behaviour, wait: Duration) -> Bool {
        var timeout = wait
        while true {
            let message: WebSocketMessage?
            do { message = try connection.receive(timeout: timeout) } catch { return false }
            guard let message else { return true }
            timeout = .zero
            switch message.kind {
            case .close:
                state.withLock { $0.clientCloseCodes.append(message.close?.code.rawValue ?? 0) }
                return false
            case .text where message.text == "PING":
                state.withLock { $0.pings += 1 }
                if case .ignorePings = plan.fault { continue }
                guard (try? connection.send(text: "PONG")) != nil else { return false }
            default: continue
            }
        }
    }

    static func assets(inSubscription payload: [UInt8]) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
            object["type"] as? String == "market", object["initial_dump"] as? Bool == true
        else { return [] }
        return (object["assets_ids"] as? [String]) ?? []
    }
}
