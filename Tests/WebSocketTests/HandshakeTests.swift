// Opening-handshake pieces without sockets: accept hash, base64, URL parsing, the server's
// verdict on requests and the client's check of responses.
import Testing

@testable import WebSocket

@Suite struct HandshakeTests {
    /// RFC 6455 §1.3 worked example.
    @Test func acceptValueMatchesTheRFCExample() {
        #expect(WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func sha1MatchesAKnownVector() {
        let digest = WebSocketHandshake.sha1(Array("abc".utf8))
        let hex = digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        #expect(hex.joined() == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 16, 20, 31])
    func base64RoundTrips(length: Int) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let encoded = Base64.encode(bytes)
        #expect(encoded.utf8.count == (length + 2) / 3 * 4)
        #expect(Base64.decode(encoded) == bytes)
    }

    @Test func base64MatchesRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE="]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.decode("Zg=") == nil)
        #expect(Base64.decode("Z===") == nil)
        #expect(Base64.decode("Zm9v!A==") == nil)
    }

    @Test func generatedKeysAreSixteenRandomBytes() {
        let first = WebSocketHandshake.makeKey()
        let second = WebSocketHandshake.makeKey()
        #expect(Base64.decode(first)?.count == 16)
        #expect(first != second)
    }

    @Test func parsesURLs() throws {
        let plain = try WebSocketURL("ws://127.0.0.1:8080/ws/market?x=1#frag")
        #expect(!plain.isSecure)
        #expect(plain.host == "127.0.0.1")
        #expect(plain.port == 8080)
        #expect(plain.requestTarget == "/ws/market?x=1")
        #expect(plain.hostHeader == "127.0.0.1:8080")

        let secure = try WebSocketURL("wss://ws-subscriptions-clob.polymarket.com/ws/market")
        #expect(secure.isSecure)
        #expect(secure.port == 443)
        #expect(secure.hostHeader == "ws-subscriptions-clob.polymarket.com")

        let v6 = try WebSocketURL("ws://[::1]:9000")
        #expect(v6.host == "::1")
        #expect(v6.requestTarget == "/")
        #expect(v6.hostHeader == "[::1]:9000")
        #expect(v6.endpoint == "[::1]:9000")

        #expect(throws: WebSocketError.self) { try WebSocketURL("http://example.com/") }
        #expect(throws: WebSocketError.self) { try WebSocketURL("ws://:80/") }
        #expect(throws: WebSocketError.self) { try WebSocketURL("ws://host:99999/") }
        #expect(throws: WebSocketError.self) { try WebSocketURL("ws://[::1/") }
    }

    private func head(_ text: String) -> WebSocketHandshake.Head {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { WebSocketHandshake.Head.parse($0) }!
    }

    private func request(path: String = "/ws", version: String = "13", extra: String = "") -> WebSocketHandshake.Head {
        head(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: \(version)\r\n\(extra)\r\n")
    }

    @Test func serverAcceptsAValidRequestWithTheRightAcceptValue() {
        let decision = WebSocketHandshake.decide(
            request: request(path: "/ws?token=1"), allowedPaths: ["/ws"],
            extraHeaders: [WebSocketHeader("X-Server", "polytape")])
        guard case .accept(let response, let target) = decision else {
            Issue.record("rejected: \(decision)")
            return
        }
        let text = String(decoding: response, as: UTF8.self)
        #expect(target == "/ws?token=1")
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(text.contains("X-Server: polytape\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func serverRejectsWithTheRightStatus() {
        func status(_ decision: WebSocketHandshake.ServerDecision) -> (Int, String) {
            switch decision {
            case .accept: return (101, "")
            case .reject(let response, let status, _): return (status, String(decoding: response, as: UTF8.self))
            }
        }
        let notFound = status(
            WebSocketHandshake.decide(request: request(path: "/other"), allowedPaths: ["/ws"], extraHeaders: []))
        #expect(notFound.0 == 404)
        #expect(notFound.1.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(notFound.1.contains("/other"))

        let oldVersion = status(
            WebSocketHandshake.decide(request: request(version: "8"), allowedPaths: nil, extraHeaders: []))
        #expect(oldVersion.0 == 426)
        #expect(oldVersion.1.contains("Sec-WebSocket-Version: 13\r\n"))

        let plainHTTP = head("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(status(WebSocketHandshake.decide(request: plainHTTP, allowedPaths: nil, extraHeaders: [])).0 == 400)

        let post = head(
            "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(status(WebSocketHandshake.decide(request: post, allowedPaths: nil, extraHeaders: [])).0 == 400)

        let shortKey = head(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(status(WebSocketHandshake.decide(request: shortKey, allowedPaths: nil, extraHeaders: [])).0 == 400)
    }

    @Test func clientValidatesTheResponse() {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let good = head(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        #expect(WebSocketHandshake.validateResponse(good, key: key) == nil)

        let wrongAccept = head(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
        #expect(WebSocketHandshake.validateResponse(wrongAccept, key: key)?.reason.contains("expected") == true)

        let forbidden = head("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        #expect(WebSocketHandshake.validateResponse(forbidden, key: key)?.status == 403)

        let noUpgrade = head(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        #expect(WebSocketHandshake.validateResponse(noUpgrade, key: key) != nil)
    }

    @Test func findsTheEndOfAHead() {
        let bytes = Array("HTTP/1.1 101 OK\r\nA: b\r\n\r\n\u{81}\u{00}".utf8)
        let end = bytes.withUnsafeBytes { WebSocketHandshake.headEnd(in: $0) }
        #expect(end == 25)  // 17 + 6 + 2 bytes of head; the frame bytes follow
        let partial = Array("HTTP/1.1 101 OK\r\nA: b\r\n\r".utf8)
        #expect(partial.withUnsafeBytes { WebSocketHandshake.headEnd(in: $0) } == nil)
    }
}
