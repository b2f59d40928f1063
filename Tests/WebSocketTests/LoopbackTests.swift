// WebSocketClient ↔ WebSocketServer over TCP on 127.0.0.1: handshake, messages, limits,
// close codes in both directions, abrupt disconnects and timeouts.
import Glibc
import Testing

@testable import WebSocket

/// Runs an echo loop on a server connection until it ends; returns how it ended.
@discardableResult
func echo(_ connection: WebSocketConnection) -> WebSocketCloseInfo? {
    while true {
        guard let message = try? connection.receive(timeout: receiveLimit) else { return nil }
        switch message.kind {
        case .text: try? connection.send(textUTF8: message.payload)
        case .binary: try? connection.send(binary: message.payload)
        case .ping, .pong: continue
        case .close: return message.close
        }
    }
}

/// A server, a connected client and the server's side of that connection.
func connectedPair(
    path: String = "/ws/market", server serverOptions: WebSocketOptions = testOptions(),
    client clientOptions: WebSocketOptions = testOptions()
) throws -> (WebSocketServer, WebSocketConnection, WebSocketConnection) {
    let server = try WebSocketServer(allowedPaths: ["/ws/market"], options: serverOptions)
    let accepted = Background { try? server.accept(timeout: receiveLimit) }
    let client = try WebSocketClient.connect(url: server.url(path: path), options: clientOptions)
    let serverSideOuter = try #require(accepted.wait())
    let serverSide = try #require(serverSideOuter)
    return (server, client, serverSide)
}

@Suite(.timeLimit(.minutes(1))) struct LoopbackTests {
    @Test func echoServerRoundTripsTextBinaryAndPings() throws {
        let server = try WebSocketServer(allowedPaths: ["/ws/market"], options: testOptions())
        #expect(server.host == "127.0.0.1")
        #expect(server.port != 0)
        server.start(handler: { echo($0) })
        defer { server.stop() }

        let client = try WebSocketClient.connect(url: server.url(path: "/ws/market"), options: testOptions())
        #expect(client.role == .client)
        #expect(client.endpoint == "127.0.0.1:\(server.port)")
        #expect(!client.isSecure)

        try client.send(text: "{\"assets_ids\":[\"1\"],\"type\":\"market\"}")
        let text = try #require(try client.receive(timeout: receiveLimit))
        #expect(text.kind == .text)
        #expect(text.text == "{\"assets_ids\":[\"1\"],\"type\":\"market\"}")

        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 131) }
        try client.send(binary: big)
        let binary = try #require(try client.receive(timeout: receiveLimit))
        #expect(binary.kind == .binary)
        #expect(binary.payload == big)

        try client.ping(Array("keepalive".utf8))
        let pong = try #require(try client.receive(timeout: receiveLimit))
        #expect(pong.kind == .pong)
        #expect(pong.payload == Array("keepalive".utf8))

        let info = try #require(try client.close(code: .normalClosure, reason: "done"))
        #expect(info.code == .normalClosure)
        #expect(info.isClean)
    }

    @Test func fragmentedMessagesWithAPingInBetweenOverTCP() throws {
        let (server, client, serverSide) = try connectedPair()
        defer { server.stop() }
        // Hand-made fragments from the client (masked), with a ping between them.
        func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool) -> [UInt8] {
            WebSocketFrameCodec.encode(opcode: opcode, fin: fin, payload: Array(text.utf8), maskingKey: 0x0102_0304)
        }
        let bytes =
            frame(.text, "frag", fin: false) + frame(.ping, "mid", fin: true) + frame(.continuation, "ment", fin: false)
            + frame(.continuation, "ed", fin: true)
        try bytes.withUnsafeBytes { try client.transport.writeAll($0, until: nil, timeout: nil) }
        #expect(try serverSide.receive(timeout: receiveLimit)?.kind == .ping)
        #expect(try serverSide.receive(timeout: receiveLimit)?.text == "fragmented")
        #expect(try client.receive(timeout: receiveLimit)?.payload == Array("mid".utf8))
        // And the library's own fragmentation, server → client.
        let fragmenting = testOptions { $0.maxSendFragmentSize = 1000 }
        let (server2, client2, serverSide2) = try connectedPair(server: fragmenting)
        defer { server2.stop() }
        let long = String(repeating: "0123456789", count: 1000)
        try serverSide2.send(text: long)
        #expect(try client2.receive(timeout: receiveLimit)?.text == long)
    }

    @Test func closeCodesTravelInBothDirections() throws {
        let (server, client, serverSide) = try connectedPair()
        defer { server.stop() }
        let clientSaw = Background { try? client.receive(timeout: receiveLimit) }
        let serverInfo = try #require(try serverSide.close(code: .goingAway, reason: "restarting"))
        #expect(serverInfo.code == .goingAway)
        #expect(serverInfo.isClean)
        let seenOuter = try #require(clientSaw.wait())
        let seen = try #require(seenOuter)
        #expect(
            seen.close
                == WebSocketCloseInfo(code: .goingAway, reason: "restarting", initiatedLocally: false, isClean: true))

        let (server2, client2, serverSide2) = try connectedPair()
        defer { server2.stop() }
        let serverSaw = Background { try? serverSide2.receive(timeout: receiveLimit) }
        let clientInfo = try #require(try client2.close(code: .policyViolation, reason: "bad subscription"))
        #expect(clientInfo.code == .policyViolation)
        let seenByServerOuter = try #require(serverSaw.wait())
        let seenByServer = try #require(seenByServerOuter)
        #expect(seenByServer.close?.code == .policyViolation)
        #expect(seenByServer.close?.reason == "bad subscription")
    }

    @Test func oversizedFrameIsRefusedWith1009() throws {
        let (server, client, serverSide) = try connectedPair(server: testOptions { $0.maxFrameSize = 1024 })
        defer { server.stop() }
        let serverSaw = Background { try? serverSide.receive(timeout: receiveLimit) }
        try? client.send(binary: [UInt8](repeating: 1, count: 4096))  // may fail once the server hangs up
        let atServerOuter = try #require(serverSaw.wait())
        let atServer = try #require(atServerOuter)
        #expect(atServer.close?.code == .messageTooBig)
        let atClient = try #require(try client.receive(timeout: receiveLimit))
        #expect(atClient.close?.code == .messageTooBig)
        #expect(atClient.close?.initiatedLocally == false)
    }

    @Test func invalidUTF8IsRefusedWith1007() throws {
        let (server, client, serverSide) = try connectedPair()
        defer { server.stop() }
        try client.send(textUTF8: [0x7B, 0xC3, 0x28, 0x7D])
        #expect(try serverSide.receive(timeout: receiveLimit)?.close?.code == .invalidPayload)
        #expect(try client.receive(timeout: receiveLimit)?.close?.code == .invalidPayload)
    }

    @Test func unmaskedClientFrameIsRefusedWith1002() throws {
        let (server, client, serverSide) = try connectedPair()
        defer { server.stop() }
        let unmasked = WebSocketFrameCodec.encode(opcode: .text, payload: Array("plain".utf8), maskingKey: nil)
        try unmasked.withUnsafeBytes { try client.transport.writeAll($0, until: nil, timeout: nil) }
        let atServer = try #require(try serverSide.receive(timeout: receiveLimit))
        #expect(atServer.close?.code == .protocolError)
        #expect(atServer.close?.error?.description.contains("unmasked") == true)
        #expect(try client.receive(timeout: receiveLimit)?.close?.code == .protocolError)
    }

    @Test func abruptDisconnectIsReported1006WithoutHanging() throws {
        let (server, client, serverSide) = try connectedPair()
        defer { server.stop() }
        serverSide.abort()
        let end = try #require(try client.receive(timeout: receiveLimit))
        #expect(end.close?.code == .abnormalClosure)
        #expect(end.close?.isClean == false)
        #expect(throws: WebSocketError.self) { try client.receive(timeout: .zero) }
    }

    @Test func abortWakesAThreadBlockedInReceive() throws {
        let (server, client, _) = try connectedPair()
        defer { server.stop() }
        let blocked = Background { try? client.receive(timeout: nil) }
        client.abort()
        let result = try #require(blocked.wait())
        #expect(result?.close?.code == .abnormalClosure)
    }

    /// Writing to a peer whose socket is gone must throw (EPIPE/ECONNRESET), never raise SIGPIPE.
    @Test func sendingToAVanishedPeerThrows() throws {
        let server = try WebSocketServer(options: testOptions())
        let accepted = Background { try? server.accept(timeout: receiveLimit) }
        var client: WebSocketConnection? = try WebSocketClient.connect(url: server.url(), options: testOptions())
        let serverSideOuter = try #require(accepted.wait())
        let serverSide = try #require(serverSideOuter)
        #expect(client != nil)
        client = nil  // closes the descriptor
        #expect(throws: WebSocketError.self) {
            for _ in 0..<1000 { try serverSide.send(binary: [UInt8](repeating: 0x55, count: 65536)) }
        }
    }

    @Test func readTimeoutOverTCP() throws {
        let (server, client, serverSide) = try connectedPair()
        defer { server.stop() }
        #expect(try client.receive(timeout: .milliseconds(50)) == nil)
        try serverSide.send(text: "still here")
        #expect(try client.receive(timeout: receiveLimit)?.text == "still here")
    }

    @Test func handshakeIsRejectedForAnUnknownPath() throws {
        let server = try WebSocketServer(allowedPaths: ["/ws/market"], options: testOptions())
        let accepted = Background { () -> WebSocketError? in
            do throws(WebSocketError) {
                _ = try server.accept(timeout: receiveLimit)
                return nil
            } catch {
                return error
            }
        }
        #expect {
            try WebSocketClient.connect(url: server.url(path: "/nowhere"), options: testOptions())
        } throws: { error in
            guard case .handshakeFailed(let endpoint, let reason) = error as? WebSocketError else { return false }
            return endpoint == "127.0.0.1:\(server.port)" && reason.contains("404")
        }
        let serverError: WebSocketError?? = accepted.wait()
        guard case .handshakeRejected(_, let status, let reason)?? = serverError else {
            Issue.record("expected handshakeRejected, got \(String(describing: serverError))")
            return
        }
        #expect(status == 404)
        #expect(reason.contains("/nowhere"))
    }

    /// A client that sends its first frame in the same segment as the upgrade request.
    @Test func frameSentWithTheRequestIsNotLost() throws {
        let server = try WebSocketServer(options: testOptions())
        let accepted = Background { try? server.accept(timeout: receiveLimit) }
        let fd = try PosixSocket.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5))
        let raw = RawPeer(Transport(fd: fd, endpoint: server.endpoint, tls: nil))
        let request =
            "GET /eager HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try raw.write(Array(request.utf8) + RawPeer.frame(0x1, Array("eager".utf8), masked: true))
        let serverSideOuter = try #require(accepted.wait())
        let serverSide = try #require(serverSideOuter)
        #expect(serverSide.requestTarget == "/eager")
        #expect(try serverSide.receive(timeout: receiveLimit)?.text == "eager")
    }

    /// A request with an unsupported version gets 426 and the version the server speaks.
    @Test func unsupportedVersionGets426OverTheWire() throws {
        let server = try WebSocketServer(options: testOptions())
        let accepted = Background { () -> WebSocketError? in
            do throws(WebSocketError) {
                _ = try server.accept(timeout: receiveLimit)
                return nil
            } catch {
                return error
            }
        }
        let fd = try PosixSocket.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5))
        let transport = Transport(fd: fd, endpoint: server.endpoint, tls: nil)
        let request =
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        try Array(request.utf8).withUnsafeBytes { try transport.writeAll($0, until: nil, timeout: nil) }
        let (head, _) = try readHead(
            transport, until: deadline(after: receiveLimit), timeout: receiveLimit, what: "response")
        let text = String(decoding: head, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
        #expect(text.contains("Sec-WebSocket-Version: 13\r\n"))
        let serverError: WebSocketError?? = accepted.wait()
        guard case .handshakeRejected(_, 426, _)?? = serverError else {
            Issue.record("expected a 426 rejection, got \(String(describing: serverError))")
            return
        }
    }

    @Test func headersTravelBothWays() throws {
        let (server, client, serverSide) = try connectedPair(
            server: testOptions { $0.extraHeaders = [WebSocketHeader("X-Server-Name", "polytape-test")] },
            client: testOptions { $0.extraHeaders = [WebSocketHeader("User-Agent", "polytape-capture")] })
        defer { server.stop() }
        #expect(serverSide.peerHeaders.contains(WebSocketHeader("User-Agent", "polytape-capture")))
        #expect(serverSide.requestTarget == "/ws/market")
        #expect(client.peerHeaders.contains(WebSocketHeader("X-Server-Name", "polytape-test")))
    }

    @Test func connectionRefusedSaysWhereAndWhat() throws {
        // Bind a port, then close it, so nothing listens there.
        let port: UInt16 = try {
            let server = try WebSocketServer()
            return server.port
        }()
        #expect {
            try WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws", options: testOptions())
        } throws: { error in
            guard case .socketFailed(let endpoint, "connect", let code, _) = error as? WebSocketError else {
                return false
            }
            return endpoint == "127.0.0.1:\(port)" && code == ECONNREFUSED
                && "\(error)".contains("127.0.0.1:\(port)")
        }
    }

    @Test func handshakeTimesOutWhenTheServerNeverAnswers() throws {
        // A plain TCP listener that accepts (via the kernel backlog) but never speaks.
        let (listener, port) = try PosixSocket.listen(host: "127.0.0.1", port: 0, backlog: 4)
        defer { close(listener) }
        #expect {
            try WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/", options: testOptions { $0.handshakeTimeout = .milliseconds(200) })
        } throws: { error in
            guard case .handshakeTimedOut(let endpoint, _) = error as? WebSocketError else { return false }
            return endpoint == "127.0.0.1:\(port)"
        }
    }

    @Test func serverHandlesManyConcurrentClients() throws {
        let server = try WebSocketServer(options: testOptions())
        server.start(handler: { echo($0) })
        defer { server.stop() }
        let clients = 16
        let workers = (0..<clients).map { index in
            Background { () -> Bool in
                guard
                    let connection = try? WebSocketClient.connect(
                        url: server.url(path: "/c\(index)"), options: testOptions())
                else { return false }
                for round in 0..<50 {
                    guard (try? connection.send(text: "client \(index) round \(round)")) != nil,
                        let reply = try? connection.receive(timeout: receiveLimit),
                        reply.text == "client \(index) round \(round)"
                    else { return false }
                }
                return (try? connection.close())?.isClean == true
            }
        }
        let results = workers.map { $0.wait() }
        #expect(results.allSatisfy { $0 == true })
    }

    @Test func stopEndsAcceptAndRefusesNewClients() throws {
        let server = try WebSocketServer(options: testOptions())
        let waiting = Background { (try? server.accept(timeout: nil)) ?? nil }
        server.stop()
        let accepted = try #require(waiting.wait())
        #expect(accepted == nil)
        #expect(throws: WebSocketError.self) {
            try WebSocketClient.connect(url: server.url(), options: testOptions())
        }
    }
}
