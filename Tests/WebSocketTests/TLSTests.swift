// wss:// on loopback with a throwaway self-signed certificate made at test time by
// /usr/bin/openssl (CN=localhost, SAN DNS:localhost and IP:127.0.0.1).
import Foundation
import Testing

@testable import WebSocket

/// A self-signed certificate and key in a fresh temporary directory, made once per test run.
struct ThrowawayCertificate: Sendable {
    let certificateFile: String
    let keyFile: String

    static let shared: Result<ThrowawayCertificate, CertificateError> = make()

    struct CertificateError: Error, CustomStringConvertible {
        var description: String
    }

    private static func make() -> Result<ThrowawayCertificate, CertificateError> {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("polytape-ws-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            return .failure(CertificateError(description: "cannot create \(directory.path): \(error)"))
        }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", key, "-out", certificate,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .failure(CertificateError(description: "cannot run /usr/bin/openssl: \(error)"))
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(CertificateError(description: "openssl req exited with \(process.terminationStatus)"))
        }
        return .success(ThrowawayCertificate(certificateFile: certificate, keyFile: key))
    }

    var serverConfiguration: WebSocketTLSServerConfiguration {
        WebSocketTLSServerConfiguration(certificateChainFile: certificateFile, privateKeyFile: keyFile)
    }
}

@Suite(.timeLimit(.minutes(1))) struct TLSTests {
    private func tlsServer() throws -> (WebSocketServer, ThrowawayCertificate) {
        let certificate = try ThrowawayCertificate.shared.get()
        let server = try WebSocketServer(
            tls: certificate.serverConfiguration, allowedPaths: ["/ws/market"], options: testOptions())
        return (server, certificate)
    }

    private func trusting(_ certificate: ThrowawayCertificate, serverName: String? = nil) -> WebSocketOptions {
        testOptions {
            $0.tls.caFile = certificate.certificateFile
            $0.tls.serverName = serverName
        }
    }

    @Test func roundTripOverTLSWithHostNameVerification() throws {
        let (server, certificate) = try tlsServer()
        server.start(handler: { echo($0) })
        defer { server.stop() }
        #expect(server.url(path: "/ws/market").hasPrefix("wss://127.0.0.1:"))

        let client = try WebSocketClient.connect(
            url: server.url(path: "/ws/market"), options: trusting(certificate, serverName: "localhost"))
        #expect(client.isSecure)
        try client.send(text: "over TLS")
        #expect(try client.receive(timeout: receiveLimit)?.text == "over TLS")
        // Larger than a TLS record and the socket buffer: exercises partial writes and WANT_READ.
        let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 17) }
        try client.send(binary: big)
        #expect(try client.receive(timeout: receiveLimit)?.payload == big)
        try client.ping([7])
        #expect(try client.receive(timeout: receiveLimit)?.kind == .pong)
        #expect(try client.close()?.isClean == true)
    }

    @Test func ipAddressIsVerifiedAgainstTheCertificate() throws {
        let (server, certificate) = try tlsServer()
        server.start(handler: { echo($0) })
        defer { server.stop() }
        let client = try WebSocketClient.connect(url: server.url(path: "/ws/market"), options: trusting(certificate))
        try client.send(text: "ip")
        #expect(try client.receive(timeout: receiveLimit)?.text == "ip")
    }

    @Test func untrustedCertificateFailsWithAClearError() throws {
        let (server, _) = try tlsServer()
        let serverSide = Background { () -> WebSocketError? in
            do throws(WebSocketError) {
                _ = try server.accept(timeout: receiveLimit)
                return nil
            } catch {
                return error
            }
        }
        #expect {
            try WebSocketClient.connect(url: server.url(path: "/ws/market"), options: testOptions())
        } throws: { error in
            guard case .tlsFailed(let endpoint, let reason) = error as? WebSocketError else { return false }
            return endpoint == "127.0.0.1:\(server.port)" && reason.contains("certificate verify failed")
                && reason.contains("self-signed") && "\(error)".contains("CA file")
        }
        // The server sees the client give up during the TLS handshake.
        let serverErrorOuter = try #require(serverSide.wait())
        #expect(serverErrorOuter != nil)
    }

    @Test func wrongHostNameFailsVerification() throws {
        let (server, certificate) = try tlsServer()
        let serverSide = Background { _ = try? server.accept(timeout: receiveLimit) }
        #expect {
            try WebSocketClient.connect(
                url: server.url(path: "/ws/market"), options: trusting(certificate, serverName: "example.org"))
        } throws: { error in
            guard case .tlsFailed(_, let reason) = error as? WebSocketError else { return false }
            return reason.contains("hostname mismatch")
        }
        _ = serverSide.wait()
    }

    @Test func plainClientAgainstATLSServerFailsInsteadOfHanging() throws {
        let (server, _) = try tlsServer()
        let serverSide = Background { _ = try? server.accept(timeout: receiveLimit) }
        let plainURL = server.url(path: "/ws/market").replacingOccurrences(of: "wss://", with: "ws://")
        #expect(throws: WebSocketError.self) {
            try WebSocketClient.connect(url: plainURL, options: testOptions { $0.handshakeTimeout = .seconds(3) })
        }
        _ = serverSide.wait()
    }

    /// TLS writes go through our BIO with MSG_NOSIGNAL: a vanished peer gives an error, not SIGPIPE.
    @Test func sendingToAVanishedTLSPeerThrows() throws {
        let (server, certificate) = try tlsServer()
        let accepted = Background { try? server.accept(timeout: receiveLimit) }
        var client: WebSocketConnection? = try WebSocketClient.connect(
            url: server.url(path: "/ws/market"), options: trusting(certificate))
        let serverSideOuter = try #require(accepted.wait())
        let serverSide = try #require(serverSideOuter)
        #expect(client?.isSecure == true)
        client = nil  // closes the descriptor without close_notify
        #expect(throws: WebSocketError.self) {
            for _ in 0..<1000 { try serverSide.send(binary: [UInt8](repeating: 0x55, count: 65536)) }
        }
    }

    @Test func missingCertificateFileIsReported() {
        #expect {
            try WebSocketServer(
                tls: WebSocketTLSServerConfiguration(
                    certificateChainFile: "/nonexistent/cert.pem", privateKeyFile: "/nonexistent/key.pem"))
        } throws: { error in
            guard case .tlsFailed(_, let reason) = error as? WebSocketError else { return false }
            return reason.contains("/nonexistent/cert.pem")
        }
    }
}
