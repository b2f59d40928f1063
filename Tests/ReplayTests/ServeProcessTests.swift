// `replay serve` as a process: the built binary prints its URL first, serves, and stops
// cleanly on SIGTERM; Python's `websockets` (an independent client) receives exactly the
// tape's frames for its assets. Loopback only; every wait is bounded.
import CommandLineSupport
import Feed
import Foundation
import Glibc
import ReplayKit
import TestSupport
import Testing
import WebSocket

enum PythonWebsockets {
    static let script = Repo.root.appendingPathComponent("tools/ws-interop-peer.py").path

    /// True when python3 with the websockets package is available.
    static let isAvailable: Bool = {
        guard
            let child = try? ChildProcess(
                executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", "import websockets"])
        else { return false }
        return child.waitForExit(timeout: .seconds(20)) == 0
    }()
}

@Suite(.serialized, .timeLimit(.minutes(1)))
struct ServeProcessTests {
    typealias F = ServeFixture

    @Test func binaryPrintsTheURLFirstServesAndStopsOnSIGTERM() throws {
        let server = try ChildProcess(
            executable: Repo.executable("replay"), arguments: ["serve", F.tapePath, "--port", "0", "--speed", "max"])
        let url = try #require(server.readLine(timeout: .seconds(20)), "no URL line on stdout")
        #expect(url.hasPrefix("ws://127.0.0.1:"))
        #expect(url.hasSuffix("/ws/market"))
        let client = try MarketClient(url: url)
        try client.subscribe([F.assetA])
        let dump = try #require(try client.nextData())
        #expect(bookObjects(dump)?.map(\.0) == [F.assetA])
        kill(server.process.processIdentifier, SIGTERM)
        #expect(server.waitForExit(timeout: .seconds(15)) == 0)
        // The server said goodbye with 1001 (or the connection ended).
        let ending = try client.waitForClose(timeout: .seconds(10))
        #expect(ending != nil)
    }

    @Test func binaryReportsAMissingTapeInOneLine() throws {
        let process = Process()
        process.executableURL = Repo.executable("replay")
        process.arguments = ["serve", "/nonexistent/tape.ndjson.zst"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == ExitStatus.failure)
        #expect(text.split(separator: "\n").count == 1)
        #expect(text.contains("/nonexistent/tape.ndjson.zst"))
    }

    @Test func binaryUsageErrorExits64() throws {
        let child = try ChildProcess(executable: Repo.executable("replay"), arguments: ["serve", "--speed", "fast"])
        #expect(child.waitForExit(timeout: .seconds(15)) == ExitStatus.usage)
    }

    @Test(.enabled(if: PythonWebsockets.isAvailable, "python3 -c 'import websockets' failed: pip install websockets"))
    func pythonWebsocketsClientReceivesTheTapesFramesForItsAssets() throws {
        let assets = [F.assetA, F.assetB]
        let expected = try expectedStream(for: Set(assets))
        let opening = try openingBookObjects()
        try withServer { server, _ in
            let python = try ChildProcess(
                executable: URL(fileURLWithPath: "/usr/bin/env"),
                arguments: [
                    "python3", PythonWebsockets.script, "market-client", "--url", server.url, "--assets",
                    assets.joined(separator: ","), "--count", String(expected.count + 1), "--max-seconds", "30",
                ])
            var messages: [[UInt8]] = []
            var verdict = ""
            while let line = python.readLine(timeout: .seconds(40)) {
                if line.hasPrefix("MSG ") {
                    let decoded = try JSONSerialization.jsonObject(
                        with: Data(line.dropFirst(4).utf8), options: [.fragmentsAllowed])
                    messages.append(Array(try #require(decoded as? String).utf8))
                } else {
                    verdict = line
                    break
                }
            }
            #expect(verdict == "OK")
            #expect(python.waitForExit(timeout: .seconds(20)) == 0)
            try #require(messages.count == expected.count + 1)
            let books = try #require(bookObjects(messages[0]))
            #expect(books.map(\.0) == assets)
            for (asset, object) in books { #expect(object == opening[asset]) }
            #expect(messages.dropFirst().map(normalizedEvents) == expected)
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct ServeTLSTests {
    /// A throwaway self-signed certificate for 127.0.0.1 made with /usr/bin/openssl.
    static func makeCertificate() throws -> (directory: URL, certificate: String, key: String) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("polytape-serve-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = try ChildProcess(
            executable: URL(fileURLWithPath: "/usr/bin/openssl"),
            arguments: [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key,
                "-out", certificate,
            ])
        try #require(openssl.waitForExit(timeout: .seconds(20)) == 0)
        return (directory, certificate, key)
    }

    @Test func servesOverTLS() throws {
        let files = try Self.makeCertificate()
        defer { try? FileManager.default.removeItem(at: files.directory) }
        try withServer({ options in
            options.tlsCertificateFile = files.certificate
            options.tlsKeyFile = files.key
        }) { server, _ in
            #expect(server.url.hasPrefix("wss://127.0.0.1:"))
            var options = WebSocketOptions()
            options.tls.caFile = files.certificate
            options.handshakeTimeout = .seconds(10)
            let client = MarketClient(connection: try WebSocketClient.connect(url: server.url, options: options))
            try client.subscribe([ServeFixture.assetA])
            let dump = try #require(try client.nextData())
            #expect(bookObjects(dump)?.map(\.0) == [ServeFixture.assetA])
            let next = try #require(try client.nextData())
            #expect(normalizedEvents(next).contains { $0.assetID == ServeFixture.assetA })
        }
    }
}
