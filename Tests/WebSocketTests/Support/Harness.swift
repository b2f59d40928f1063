// Test plumbing: connections over socketpairs (no TCP, no handshake), raw peers that write
// crafted bytes and read frames back, and a bounded wait for work on another thread.
import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

@testable import WebSocket

/// Options with short timeouts so that a misbehaving test fails fast instead of hanging.
func testOptions(_ configure: (inout WebSocketOptions) -> Void = { _ in }) -> WebSocketOptions {
    var options = WebSocketOptions()
    options.connectTimeout = .seconds(5)
    options.handshakeTimeout = .seconds(5)
    options.writeTimeout = .seconds(5)
    options.closeTimeout = .seconds(3)
    configure(&options)
    return options
}

/// The longest any single receive in a test waits.
let receiveLimit: Duration = .seconds(10)

enum Harness {
    static func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let rc = socketpair(
            AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0,
            &fds)
        precondition(rc == 0, "socketpair failed: errno \(errno)")
        return (fds[0], fds[1])
    }

    /// A client and a server connection joined by a socketpair.
    static func pair(client: WebSocketOptions = testOptions(), server: WebSocketOptions = testOptions())
        -> (client: WebSocketConnection, server: WebSocketConnection)
    {
        let (a, b) = socketPair()
        let clientSide = WebSocketConnection(
            transport: Transport(fd: a, endpoint: "pair-server", tls: nil), role: .client, options: client,
            requestTarget: "/", peerHeaders: [], leftover: [])
        let serverSide = WebSocketConnection(
            transport: Transport(fd: b, endpoint: "pair-client", tls: nil), role: .server, options: server,
            requestTarget: "/", peerHeaders: [], leftover: [])
        return (clientSide, serverSide)
    }

    /// A connection in `role` whose peer is a raw byte stream the test drives by hand.
    static func rawPeer(role: WebSocketRole, options: WebSocketOptions = testOptions(), leftover: [UInt8] = [])
        -> (connection: WebSocketConnection, raw: RawPeer)
    {
        let (a, b) = socketPair()
        let connection = WebSocketConnection(
            transport: Transport(fd: a, endpoint: "raw-peer", tls: nil), role: role, options: options,
            requestTarget: "/", peerHeaders: [], leftover: leftover)
        return (connection, RawPeer(Transport(fd: b, endpoint: "connection-under-test", tls: nil)))
    }
}

/// A frame as seen on the wire by a raw peer (payload already unmasked).
struct WireFrame: Equatable {
    var fin: Bool
    var opcode: UInt8
    var masked: Bool
    var payload: [UInt8]

    /// The close code in a close frame's payload, if any.
    var closeCode: UInt16? {
        guard opcode == 0x8, payload.count >= 2 else { return nil }
        return UInt16(payload[0]) << 8 | UInt16(payload[1])
    }
}

/// One end of a byte stream that writes crafted bytes and parses what comes back.
final class RawPeer: Sendable {
    let transport: Transport
    private let pending = Mutex<[UInt8]>([])

    init(_ transport: Transport) { self.transport = transport }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            try transport.writeAll(raw, until: deadline(after: .seconds(5)), timeout: .seconds(5))
        }
    }

    /// A frame from a client (masked with a fixed key) or from a server (unmasked).
    static func frame(
        _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool, reserved: UInt8 = 0,
        lengthOverride: UInt64? = nil
    ) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | (reserved << 4) | opcode]
        let length = lengthOverride ?? UInt64(payload.count)
        let maskBit: UInt8 = masked ? 0x80 : 0
        if length <= 125 {
            out.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            out.append(contentsOf: [maskBit | 126, UInt8(length >> 8), UInt8(length & 0xFF)])
        } else {
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((length >> UInt64(shift)) & 0xFF)) }
        }
        let key: [UInt8] = [0x11, 0x22, 0x33, 0x44]
        if masked { out.append(contentsOf: key) }
        for (i, byte) in payload.enumerated() { out.append(masked ? byte ^ key[i % 4] : byte) }
        return out
    }

    /// Reads until one complete frame is available (nil on end of stream or timeout).
    func readFrame(timeout: Duration = receiveLimit) throws -> WireFrame? {
        let until = deadline(after: timeout)
        while true {
            if let frame = takeFrame() { return frame }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let result = try chunk.withUnsafeMutableBytes { try transport.read(into: $0, until: until) }
            switch result {
            case .bytes(let count): pending.withLock { $0.append(contentsOf: chunk[0..<count]) }
            case .endOfStream, .timedOut: return nil
            }
        }
    }

    /// True when the stream reaches end-of-stream (the other side shut down) before `timeout`.
    func readsEndOfStream(timeout: Duration = receiveLimit) throws -> Bool {
        let until = deadline(after: timeout)
        while true {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let result = try chunk.withUnsafeMutableBytes { try transport.read(into: $0, until: until) }
            switch result {
            case .bytes: continue
            case .endOfStream: return true
            case .timedOut: return false
            }
        }
    }

    private func takeFrame() -> WireFrame? {
        pending.withLock { bytes -> WireFrame? in
            let parse = bytes.withUnsafeBytes { WebSocketFrameCodec.parseHeader($0) }
            guard case .header(let header) = parse else { return nil }
            let total = header.headerLength + Int(header.payloadLength)
            guard bytes.count >= total else { return nil }
            var payload = Array(bytes[header.headerLength..<total])
            if let key = header.maskingKey {
                payload.withUnsafeMutableBytes { WebSocketFrameCodec.applyMask(key: key, to: $0, keyOffset: 0) }
            }
            bytes.removeFirst(total)
            return WireFrame(
                fin: header.fin, opcode: header.opcodeValue, masked: header.maskingKey != nil, payload: payload)
        }
    }
}

/// Runs `work` on another thread; `wait` returns its result, or nil if it took longer than `timeout`.
final class Background<Result: Sendable>: Sendable {
    private let result = Mutex<Result?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () -> Result) {
        Thread.detachNewThread { [self] in
            let value = work()
            result.withLock { $0 = value }
            done.signal()
        }
    }

    func wait(timeout: Duration = .seconds(20)) -> Result? {
        let nanoseconds = Int(timeout.components.seconds) * 1_000_000_000
        guard done.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success else { return nil }
        return result.withLock { $0 }
    }
}

/// A close code taken from the close frame a raw peer received.
func closeCodeOfNextFrame(_ raw: RawPeer) throws -> UInt16? {
    while let frame = try raw.readFrame() {
        if frame.opcode == 0x8 { return frame.closeCode }
    }
    return nil
}
