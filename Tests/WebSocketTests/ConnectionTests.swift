import TestSupport
// Framing rules, limits and the close handshake, exercised on connections over socketpairs:
// a raw peer writes crafted frames and reads back what the connection under test answers.
import Testing

@testable import WebSocket

@Suite(.timeLimit(.minutes(1))) struct ConnectionTests {
    private func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test func fragmentedMessageWithInterleavedPingIsReassembled() throws {
        let (server, raw) = Harness.rawPeer(role: .server)
        try raw.write(RawPeer.frame(0x1, text("Hello, "), fin: false, masked: true))
        try raw.write(RawPeer.frame(0x9, text("are you there"), masked: true))
        try raw.write(RawPeer.frame(0x0, text("wide "), fin: false, masked: true))
        try raw.write(RawPeer.frame(0x0, text("world"), fin: true, masked: true))

        let ping = try #require(try server.receive(timeout: receiveLimit))
        #expect(ping.kind == .ping)
        #expect(ping.payload == text("are you there"))
        let message = try #require(try server.receive(timeout: receiveLimit))
        #expect(message.kind == .text)
        #expect(message.text == "Hello, wide world")
        #expect(message.receivedWallNanoseconds > 0)
        #expect(message.receivedMonotonicNanoseconds > 0)

        // The automatic pong: unmasked (server → client), same payload.
        let pong = try #require(try raw.readFrame())
        #expect(pong == WireFrame(fin: true, opcode: 0xA, masked: false, payload: text("are you there")))
    }

    @Test func textSplitInsideACodePointAcrossFragmentsIsValid() throws {
        let (server, raw) = Harness.rawPeer(role: .server)
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        try raw.write(RawPeer.frame(0x1, [0x41, euro[0]], fin: false, masked: true))
        try raw.write(RawPeer.frame(0x0, [euro[1], euro[2]], fin: true, masked: true))
        let message = try #require(try server.receive(timeout: receiveLimit))
        #expect(message.kind == .text)
        #expect(message.text == "A€")
    }

    /// Each case: a frame (or frames) a client must not send, and the close code the server answers with.
    struct Violation: Sendable, CustomStringConvertible {
        var description: String
        var frames: [[UInt8]]
        var code: UInt16
        var maxFrameSize: Int = 16 << 20
        var maxMessageSize: Int = 64 << 20
    }

    static let violations: [Violation] = [
        Violation(
            description: "unmasked client frame", frames: [RawPeer.frame(0x1, Array("hi".utf8), masked: false)],
            code: 1002),
        Violation(
            description: "RSV1 set", frames: [RawPeer.frame(0x1, Array("hi".utf8), masked: true, reserved: 4)],
            code: 1002),
        Violation(description: "reserved opcode 3", frames: [RawPeer.frame(0x3, [], masked: true)], code: 1002),
        Violation(
            description: "reserved control opcode 11", frames: [RawPeer.frame(0xB, [], masked: true)], code: 1002),
        Violation(
            description: "ping with 126 bytes",
            frames: [RawPeer.frame(0x9, [UInt8](repeating: 1, count: 126), masked: true)],
            code: 1002),
        Violation(
            description: "fragmented ping", frames: [RawPeer.frame(0x9, [1], fin: false, masked: true)], code: 1002),
        Violation(
            description: "continuation without a start", frames: [RawPeer.frame(0x0, [1], masked: true)], code: 1002),
        Violation(
            description: "new text inside a fragmented message",
            frames: [RawPeer.frame(0x1, [0x41], fin: false, masked: true), RawPeer.frame(0x1, [0x42], masked: true)],
            code: 1002),
        Violation(
            description: "invalid UTF-8 text", frames: [RawPeer.frame(0x1, [0x41, 0xC3, 0x28], masked: true)],
            code: 1007),
        Violation(
            description: "invalid UTF-8 across fragments",
            frames: [
                RawPeer.frame(0x1, [0x41, 0xED], fin: false, masked: true),
                RawPeer.frame(0x0, [0xA0, 0x80], masked: true),
            ],
            code: 1007),
        // Refused at the first fragment, before the message is complete.
        Violation(
            description: "invalid UTF-8 in the first fragment",
            frames: [RawPeer.frame(0x1, [0x41, 0xFF], fin: false, masked: true)], code: 1007),
        Violation(
            description: "truncated character at the end of a fragmented text",
            frames: [
                RawPeer.frame(0x1, [0x41], fin: false, masked: true), RawPeer.frame(0x0, [0xE2, 0x82], masked: true),
            ],
            code: 1007),
        Violation(
            description: "close with a 1-byte payload", frames: [RawPeer.frame(0x8, [0x03], masked: true)], code: 1002),
        Violation(
            description: "close with code 1005", frames: [RawPeer.frame(0x8, [0x03, 0xED], masked: true)], code: 1002),
        Violation(
            description: "close with code 999", frames: [RawPeer.frame(0x8, [0x03, 0xE7], masked: true)], code: 1002),
        Violation(
            description: "close reason not UTF-8", frames: [RawPeer.frame(0x8, [0x03, 0xE8, 0xFF], masked: true)],
            code: 1007),
        // Only the header is sent: the limit is enforced before any payload is buffered.
        Violation(
            description: "frame over maxFrameSize",
            frames: [Array(RawPeer.frame(0x2, [], masked: true, lengthOverride: 1_000_001).prefix(14))],
            code: 1009, maxFrameSize: 1_000_000),
        Violation(
            description: "message over maxMessageSize",
            frames: [
                RawPeer.frame(0x2, [UInt8](repeating: 0, count: 600), fin: false, masked: true),
                RawPeer.frame(0x0, [UInt8](repeating: 0, count: 600), masked: true),
            ],
            code: 1009, maxMessageSize: 1000),
        Violation(
            description: "64-bit length with top bit set",
            frames: [[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]], code: 1002),
    ]

    @Test(arguments: violations)
    func serverClosesOnProtocolViolation(_ violation: Violation) throws {
        let options = testOptions {
            $0.maxFrameSize = violation.maxFrameSize
            $0.maxMessageSize = violation.maxMessageSize
        }
        let (server, raw) = Harness.rawPeer(role: .server, options: options)
        for frame in violation.frames { try raw.write(frame) }

        let message = try #require(try server.receive(timeout: receiveLimit))
        #expect(message.kind == .close)
        let close = try #require(message.close)
        #expect(close.code.rawValue == violation.code)
        #expect(close.initiatedLocally)
        #expect(!close.isClean)
        guard case .protocolViolation(_, let code, let reason)? = close.error else {
            Issue.record("expected a protocolViolation error, got \(String(describing: close.error))")
            return
        }
        #expect(code == violation.code)
        #expect(!reason.isEmpty)
        // The peer got a close frame with that code, then the stream ended.
        #expect(try closeCodeOfNextFrame(raw) == violation.code)
        #expect(try raw.readsEndOfStream())
        // The end is reported once; then the connection refuses further use.
        #expect(throws: WebSocketError.self) { try server.receive(timeout: .zero) }
        #expect(throws: WebSocketError.self) { try server.send(text: "late") }
    }

    @Test func clientRejectsMaskedServerFrames() throws {
        let (client, raw) = Harness.rawPeer(role: .client)
        try raw.write(RawPeer.frame(0x1, text("masked"), masked: true))
        let message = try #require(try client.receive(timeout: receiveLimit))
        #expect(message.close?.code == .protocolError)
        // Clients mask their own frames, including the close.
        let frame = try #require(try raw.readFrame())
        #expect(frame.masked)
        #expect(frame.closeCode == 1002)
    }

    @Test func clientMasksAndFragmentsWhenAsked() throws {
        let (client, raw) = Harness.rawPeer(role: .client, options: testOptions { $0.maxSendFragmentSize = 4 })
        try client.send(text: "0123456789")
        var frames: [WireFrame] = []
        while frames.last?.fin != true, let frame = try raw.readFrame() { frames.append(frame) }
        #expect(frames.map(\.opcode) == [0x1, 0x0, 0x0])
        #expect(frames.map(\.fin) == [false, false, true])
        #expect(frames.allSatisfy { $0.masked })
        #expect(frames.flatMap(\.payload) == text("0123456789"))
        // Control frames are never fragmented.
        try client.ping(text("0123456789"))
        let ping = try #require(try raw.readFrame())
        #expect(ping == WireFrame(fin: true, opcode: 0x9, masked: true, payload: text("0123456789")))
    }

    @Test func peerCloseIsEchoedWithItsCode() throws {
        let (server, raw) = Harness.rawPeer(role: .server)
        try raw.write(RawPeer.frame(0x8, [0x0F, 0xA1] + text("bye"), masked: true))  // 4001
        let message = try #require(try server.receive(timeout: receiveLimit))
        #expect(message.kind == .close)
        #expect(message.payload == [0x0F, 0xA1] + text("bye"))
        #expect(
            message.close
                == WebSocketCloseInfo(
                    code: WebSocketCloseCode(4001), reason: "bye", initiatedLocally: false, isClean: true))
        let echo = try #require(try raw.readFrame())
        #expect(echo.opcode == 0x8)
        #expect(echo.closeCode == 4001)
        #expect(try raw.readsEndOfStream())
    }

    @Test func closeWithoutStatusReportsNoStatusAndEchoesEmpty() throws {
        let (client, raw) = Harness.rawPeer(role: .client)
        try raw.write(RawPeer.frame(0x8, [], masked: false))
        let message = try #require(try client.receive(timeout: receiveLimit))
        #expect(message.close?.code == .noStatusReceived)
        let echo = try #require(try raw.readFrame())
        #expect(echo.opcode == 0x8)
        #expect(echo.payload.isEmpty)
    }

    @Test func closeHandshakeInBothDirections() throws {
        for initiatorIsClient in [true, false] {
            let (client, server) = Harness.pair()
            let (initiator, responder) = initiatorIsClient ? (client, server) : (server, client)
            let responderSaw = Background { try? responder.receive(timeout: receiveLimit) }
            let info = try initiator.close(code: .goingAway, reason: "shutting down")
            // The initiator reports the peer's reply: the echoed code, without a reason.
            #expect(info == WebSocketCloseInfo(code: .goingAway, reason: "", initiatedLocally: true, isClean: true))
            let seen = try #require(responderSaw.wait())
            #expect(
                seen?.close
                    == WebSocketCloseInfo(
                        code: .goingAway, reason: "shutting down", initiatedLocally: false, isClean: true))
            #expect(throws: WebSocketError.connectionClosed(endpoint: initiator.endpoint)) {
                try initiator.send(text: "x")
            }
            // A second close is a no-op.
            #expect(try initiator.close() == nil)
        }
    }

    @Test func closeWithoutWaitingLeavesTheReplyToTheReceiver() throws {
        let (client, server) = Harness.pair()
        let serverSaw = Background { try? server.receive(timeout: receiveLimit) }
        #expect(try client.close(code: .goingAway, reason: "bye", waitForReply: false) == nil)
        let seenOuter = try #require(serverSaw.wait())
        #expect(seenOuter?.close?.code == .goingAway)
        // The reply reaches the client's own receive loop as its `.close`.
        let reply = try #require(try client.receive(timeout: receiveLimit))
        #expect(reply.close == WebSocketCloseInfo(code: .goingAway, reason: "", initiatedLocally: true, isClean: true))
        #expect(throws: WebSocketError.self) { try client.receive(timeout: .zero) }
    }

    @Test func closeTimesOutWhenThePeerNeverAnswers() throws {
        let (client, raw) = Harness.rawPeer(
            role: .client, options: testOptions { $0.closeTimeout = .milliseconds(200) })
        let info = try #require(try client.close(code: .normalClosure))
        #expect(info.code == .abnormalClosure)
        #expect(info.initiatedLocally)
        #expect(!info.isClean)
        #expect(info.reason.contains("no close frame"))
        #expect(try closeCodeOfNextFrame(raw) == 1000)
    }

    @Test func abruptDisconnectIsReportedAs1006() throws {
        let (client, raw) = Harness.rawPeer(role: .client)
        try raw.write(RawPeer.frame(0x1, text("last words"), masked: false))
        raw.transport.shutdown()
        let last = try #require(try client.receive(timeout: receiveLimit))
        #expect(last.text == "last words")
        let end = try #require(try client.receive(timeout: receiveLimit))
        #expect(end.kind == .close)
        #expect(end.close?.code == .abnormalClosure)
        #expect(end.close?.isClean == false)
        #expect(end.close?.initiatedLocally == false)
    }

    @Test func readTimeoutReturnsNilAndTheConnectionStaysUsable() throws {
        let (client, server) = Harness.pair()
        #expect(try client.receive(timeout: .milliseconds(30)) == nil)
        #expect(try client.receive(timeout: .zero) == nil)
        try server.send(text: "after the timeout")
        #expect(try client.receive(timeout: receiveLimit)?.text == "after the timeout")
    }

    @Test func pingIsAnsweredAutomatically() throws {
        let (client, server) = Harness.pair()
        try client.ping([1, 2, 3])
        let ping = try #require(try server.receive(timeout: receiveLimit))
        #expect(ping.kind == .ping)
        #expect(ping.payload == [1, 2, 3])
        let pong = try #require(try client.receive(timeout: receiveLimit))
        #expect(pong.kind == .pong)
        #expect(pong.payload == [1, 2, 3])
        #expect(throws: WebSocketError.self) { try client.ping([UInt8](repeating: 0, count: 126)) }
    }

    @Test(arguments: [0, 125, 126, 65535, 65536, 300_000])
    func messagesOfEverySizeRoundTripBothWays(size: Int) throws {
        let (client, server) = Harness.pair()
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        // Send and receive on different threads: a big message does not fit the socket buffer.
        let sent = Background { (try? client.send(binary: payload)) != nil }
        let atServer = try #require(try server.receive(timeout: receiveLimit))
        #expect(sent.wait() == true)
        #expect(atServer.kind == .binary)
        #expect(atServer.payload == payload)
        let back = Background { (try? server.send(textUTF8: Array(repeating: 0x61, count: size))) != nil }
        let atClient = try #require(try client.receive(timeout: receiveLimit))
        #expect(back.wait() == true)
        #expect(atClient.kind == .text)
        #expect(atClient.payload == Array(repeating: 0x61, count: size))
    }

    @Test func manySmallMessagesKeepTheirOrder() throws {
        let (client, server) = Harness.pair(client: testOptions { $0.maxSendFragmentSize = 7 })
        let count = 2000
        let sender = Background { () -> Bool in
            for i in 0..<count { guard (try? client.send(text: "message \(i)")) != nil else { return false } }
            return true
        }
        var received: [String] = []
        while received.count < count, let message = try server.receive(timeout: receiveLimit) {
            received.append(message.text)
        }
        #expect(sender.wait() == true)
        #expect(received == (0..<count).map { "message \($0)" })
    }

    @Test func bytesThatArrivedWithTheHandshakeAreDelivered() throws {
        let early = RawPeer.frame(0x1, text("early"), masked: false) + RawPeer.frame(0x2, [9], masked: false)
        let (client, _) = Harness.rawPeer(role: .client, leftover: early)
        #expect(client.hasBufferedInput)
        #expect(try client.receive(timeout: .zero)?.text == "early")
        #expect(client.hasBufferedInput)
        #expect(try client.receive(timeout: .zero)?.payload == [9])
        #expect(!client.hasBufferedInput)
    }

    @Test func messagesAreLentInPlaceWithoutCopying() throws {
        let (server, raw) = Harness.rawPeer(role: .server)
        try raw.write(RawPeer.frame(0x2, [1, 2, 3], masked: true))
        try raw.write(RawPeer.frame(0x1, text("frag"), fin: false, masked: true))
        try raw.write(RawPeer.frame(0x0, text("ments"), masked: true))
        try raw.write(RawPeer.frame(0xA, text("pong"), masked: true))
        struct Seen: Equatable, Sendable {
            var kind: WebSocketMessage.Kind
            var bytes: [UInt8]
            var stamped: Bool
        }
        func next() throws -> Seen? {
            try server.receive(timeout: receiveLimit) { view in
                Seen(kind: view.kind, bytes: Array(view.payload), stamped: view.receivedWallNanoseconds > 0)
            }
        }
        #expect(try next() == Seen(kind: .binary, bytes: [1, 2, 3], stamped: true))
        #expect(try next() == Seen(kind: .text, bytes: text("fragments"), stamped: true))
        #expect(try next() == Seen(kind: .pong, bytes: text("pong"), stamped: true))
        raw.transport.shutdown()
        let end = try server.receive(timeout: receiveLimit) { $0.close?.code }
        #expect(end == .abnormalClosure)
    }

    @Test func frameArrivingOneByteAtATimeIsDeliveredOnlyWhenComplete() throws {
        let (server, raw) = Harness.rawPeer(role: .server)
        let payload = (0..<300).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        let frame = RawPeer.frame(0x1, payload, masked: true)  // 16-bit length, masked: 8-byte header
        var delivered: [WebSocketMessage] = []
        for (index, byte) in frame.enumerated() {
            try raw.write([byte])
            // Wait until the byte is readable, then drain without blocking.
            if let message = try server.receive(timeout: index == frame.count - 1 ? receiveLimit : .milliseconds(1)) {
                delivered.append(message)
            }
        }
        #expect(delivered.count == 1)
        #expect(delivered.first?.payload == payload)
    }

    /// A seeded mix of messages, fragments and pings, written in random-sized chunks.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomChunkingPreservesEveryMessage(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let (server, raw) = Harness.rawPeer(role: .server)
        var stream: [UInt8] = []
        var expected: [WebSocketMessage.Kind: [[UInt8]]] = [:]
        var expectedOrder: [WebSocketMessage.Kind] = []
        for _ in 0..<120 {
            let size = [0, 1, 125, 126, 200, 5000, 70000][Int.random(in: 0..<7, using: &random)]
            let isText = Bool.random(using: &random)
            // Cheap patterned payloads (random start and step); printable ASCII for text.
            let base = UInt8.random(in: 0...255, using: &random)
            let step = UInt8.random(in: 1...255, using: &random)
            let payload: [UInt8] = (0..<size).map {
                let byte = base &+ UInt8(truncatingIfNeeded: $0) &* step
                return isText ? 0x20 + byte % 95 : byte
            }
            let kind: WebSocketMessage.Kind = isText ? .text : .binary
            if size > 2 && Bool.random(using: &random) {
                // Three fragments with a ping after the first.
                let cut1 = size / 3
                let cut2 = 2 * size / 3
                stream += RawPeer.frame(isText ? 0x1 : 0x2, Array(payload[..<cut1]), fin: false, masked: true)
                stream += RawPeer.frame(0x9, [UInt8(size & 0xFF)], masked: true)
                expected[.ping, default: []].append([UInt8(size & 0xFF)])
                expectedOrder.append(.ping)
                stream += RawPeer.frame(0x0, Array(payload[cut1..<cut2]), fin: false, masked: true)
                stream += RawPeer.frame(0x0, Array(payload[cut2...]), masked: true)
            } else {
                stream += RawPeer.frame(isText ? 0x1 : 0x2, payload, masked: true)
            }
            expected[kind, default: []].append(payload)
            expectedOrder.append(kind)
        }
        let chunkSizes = (0..<10_000).map { _ in Int.random(in: 1...9000, using: &random) }
        let bytes = stream
        let writer = Background { () -> Bool in
            var offset = 0
            var index = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + chunkSizes[index % chunkSizes.count])
                guard (try? raw.write(Array(bytes[offset..<end]))) != nil else { return false }
                offset = end
                index += 1
            }
            return true
        }
        var seenOrder: [WebSocketMessage.Kind] = []
        var seen: [WebSocketMessage.Kind: [[UInt8]]] = [:]
        while seenOrder.count < expectedOrder.count, let message = try server.receive(timeout: receiveLimit) {
            seenOrder.append(message.kind)
            seen[message.kind, default: []].append(message.payload)
        }
        #expect(writer.wait() == true)
        #expect(seenOrder == expectedOrder)
        #expect(seen == expected)
    }

    @Test func closeArgumentsAreChecked() throws {
        let (client, _) = Harness.pair()
        #expect(throws: WebSocketError.self) { try client.close(code: .abnormalClosure) }
        #expect(throws: WebSocketError.self) {
            try client.close(code: .normalClosure, reason: String(repeating: "x", count: 124))
        }
    }
}
