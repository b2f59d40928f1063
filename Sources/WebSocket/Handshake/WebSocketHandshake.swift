// The opening handshake (RFC 6455 §4): key generation, the accept hash, and the HTTP/1.1
// request and response texts. Pure functions over bytes and strings; the I/O lives in
// WebSocketClient / WebSocketServer.
import COpenSSL

/// Helpers for the RFC 6455 opening handshake.
///
/// The accept value is base64(SHA-1(key + GUID)), computed with OpenSSL's EVP interface.
/// Header parsing is deliberately small: the request/response head is ASCII lines ending in
/// CRLF, header names compare case-insensitively, and list-valued headers (Connection) are
/// matched by token.
public enum WebSocketHandshake {
    /// The GUID appended to the client key (RFC 6455 §1.3).
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// Largest request or response head accepted (bytes up to and including CRLFCRLF).
    public static let maxHeadLength = 16 * 1024

    /// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
    public static func acceptValue(forKey key: String) -> String {
        let input = Array((key + guid).utf8)
        return Base64.encode(sha1(input))
    }

    /// A fresh Sec-WebSocket-Key: 16 random bytes, base64 (24 characters).
    static func makeKey() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        if RAND_bytes(&bytes, 16) != 1 {
            var generator = SystemRandomNumberGenerator()
            for i in 0..<16 { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        }
        return Base64.encode(bytes)
    }

    /// SHA-1 through EVP (the one-shot SHA1() is deprecated in OpenSSL 3).
    static func sha1(_ input: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &digest, &length, EVP_sha1(), nil)
        }
        precondition(ok == 1, "EVP_Digest(SHA-1) failed; the OpenSSL installation is broken")
        return Array(digest[0..<Int(length)])
    }

    /// Finds the end of an HTTP head (index just past CRLFCRLF) in `bytes`, if complete.
    static func headEnd(in bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var i = 3
        while i < bytes.count {
            if bytes[i] == 0x0A && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D {
                return i + 1
            }
            i += 1
        }
        return nil
    }

    /// An HTTP head split into its first line and header fields.
    struct Head {
        var startLine: String
        var headers: [WebSocketHeader]

        func value(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        /// True when a comma-separated header contains `token` (case-insensitive).
        func hasToken(_ name: String, _ token: String) -> Bool {
            headers.contains { header in
                header.name.lowercased() == name.lowercased()
                    && header.value.split(separator: ",").contains {
                        $0.trimmingSpaces().lowercased() == token.lowercased()
                    }
            }
        }

        static func parse(_ bytes: UnsafeRawBufferPointer) -> Head? {
            let text = String(decoding: bytes, as: UTF8.self)
            var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
            while let last = lines.last, last.isEmpty { lines.removeLast() }
            guard let first = lines.first, !first.isEmpty else { return nil }
            var headers: [WebSocketHeader] = []
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { return nil }
                let name = String(line[..<colon]).trimmingSpaces()
                let value = String(line[line.index(after: colon)...]).trimmingSpaces()
                guard !name.isEmpty else { return nil }
                headers.append(WebSocketHeader(name, value))
            }
            return Head(startLine: first, headers: headers)
        }
    }

    /// The client's upgrade request.
    static func request(path: String, hostHeader: String, key: String, extraHeaders: [WebSocketHeader]) -> [UInt8] {
        var text = "GET \(path) HTTP/1.1\r\n"
        text += "Host: \(hostHeader)\r\n"
        text += "Upgrade: websocket\r\n"
        text += "Connection: Upgrade\r\n"
        text += "Sec-WebSocket-Key: \(key)\r\n"
        text += "Sec-WebSocket-Version: 13\r\n"
        for header in extraHeaders { text += "\(header.name): \(header.value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Checks a server's response to our request; returns nil when it accepts, else the reason.
    static func validateResponse(_ head: Head, key: String) -> (status: Int, reason: String)? {
        let parts = head.startLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            return (0, "not an HTTP response: '\(head.startLine.prefix(80))'")
        }
        guard status == 101 else {
            return (status, "expected HTTP 101 Switching Protocols, got '\(head.startLine.prefix(120))'")
        }
        guard head.value("Upgrade")?.lowercased() == "websocket" else {
            return (status, "the 101 response lacks 'Upgrade: websocket'")
        }
        guard head.hasToken("Connection", "upgrade") else {
            return (status, "the 101 response lacks 'Connection: Upgrade'")
        }
        let expected = acceptValue(forKey: key)
        guard let accept = head.value("Sec-WebSocket-Accept") else {
            return (status, "the 101 response lacks Sec-WebSocket-Accept")
        }
        guard accept == expected else {
            return (status, "Sec-WebSocket-Accept is '\(accept)', expected '\(expected)'")
        }
        if let extensions = head.value("Sec-WebSocket-Extensions"), !extensions.isEmpty {
            return (status, "the server enabled extensions we did not offer: '\(extensions)'")
        }
        return nil
    }

    /// The server's verdict on a request: the 101 response, or an error response and why.
    enum ServerDecision {
        case accept(response: [UInt8], path: String)
        case reject(response: [UInt8], status: Int, reason: String)
    }

    /// Decides a client's request. `allowedPaths` nil accepts any path.
    static func decide(request head: Head, allowedPaths: Set<String>?, extraHeaders: [WebSocketHeader])
        -> ServerDecision
    {
        let parts = head.startLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return reject(400, "malformed request line '\(head.startLine.prefix(80))'")
        }
        guard parts[0] == "GET" else { return reject(400, "method \(parts[0]) is not GET") }
        let target = String(parts[1])
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        guard head.value("Host") != nil else { return reject(400, "missing Host header") }
        guard head.value("Upgrade")?.lowercased() == "websocket" else {
            return reject(400, "missing 'Upgrade: websocket' (not a websocket request)")
        }
        guard head.hasToken("Connection", "upgrade") else { return reject(400, "missing 'Connection: Upgrade'") }
        guard head.value("Sec-WebSocket-Version") == "13" else {
            return reject(
                426, "unsupported Sec-WebSocket-Version '\(head.value("Sec-WebSocket-Version") ?? "")', need 13",
                extra: [WebSocketHeader("Sec-WebSocket-Version", "13")])
        }
        guard let key = head.value("Sec-WebSocket-Key"), let decoded = Base64.decode(key), decoded.count == 16 else {
            return reject(400, "Sec-WebSocket-Key is missing or not 16 bytes of base64")
        }
        if let allowed = allowedPaths, !allowed.contains(path) {
            return reject(404, "no websocket endpoint at path '\(path)'")
        }
        var text = "HTTP/1.1 101 Switching Protocols\r\n"
        text += "Upgrade: websocket\r\n"
        text += "Connection: Upgrade\r\n"
        text += "Sec-WebSocket-Accept: \(acceptValue(forKey: key))\r\n"
        for header in extraHeaders { text += "\(header.name): \(header.value)\r\n" }
        text += "\r\n"
        return .accept(response: Array(text.utf8), path: target)
    }

    static func reject(_ status: Int, _ reason: String, extra: [WebSocketHeader] = []) -> ServerDecision {
        let phrase: String
        switch status {
        case 400: phrase = "Bad Request"
        case 404: phrase = "Not Found"
        case 426: phrase = "Upgrade Required"
        default: phrase = "Error"
        }
        let body = reason + "\n"
        var text = "HTTP/1.1 \(status) \(phrase)\r\n"
        text += "Content-Type: text/plain; charset=utf-8\r\n"
        text += "Content-Length: \(body.utf8.count)\r\n"
        text += "Connection: close\r\n"
        for header in extra { text += "\(header.name): \(header.value)\r\n" }
        text += "\r\n" + body
        return .reject(response: Array(text.utf8), status: status, reason: reason)
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}

/// Standard base64 (RFC 4648 §4) with padding, for handshake keys.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int((n >> UInt32(shift)) & 0x3F)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int((n >> 18) & 0x3F)])
            out.append(alphabet[Int((n >> 12) & 0x3F)])
            out.append(contentsOf: Array("==".utf8))
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int((n >> 18) & 0x3F)])
            out.append(alphabet[Int((n >> 12) & 0x3F)])
            out.append(alphabet[Int((n >> 6) & 0x3F)])
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            var n: UInt32 = 0
            var padding = 0
            for j in 0..<4 {
                let c = chars[i + j]
                let value: UInt32
                switch c {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(c - UInt8(ascii: "A"))
                case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - UInt8(ascii: "a")) + 26
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(c - UInt8(ascii: "0")) + 52
                case UInt8(ascii: "+"): value = 62
                case UInt8(ascii: "/"): value = 63
                case UInt8(ascii: "=") where i + 4 == chars.count && j >= 2:
                    value = 0
                    padding += 1
                default: return nil
                }
                if padding > 0 && c != UInt8(ascii: "=") { return nil }
                n = n << 6 | value
            }
            out.append(UInt8((n >> 16) & 0xFF))
            if padding < 2 { out.append(UInt8((n >> 8) & 0xFF)) }
            if padding < 1 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}
