// Interoperability with an independent implementation: Python's `websockets` package, driven by
// tools/ws-interop-peer.py on 127.0.0.1, in both directions.
//
// These tests are skipped (with a message) when `python3 -c "import websockets"` fails;
// `pip install websockets` enables them. CI installs it.
import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

@testable import WebSocket

enum PythonPeer {
    static let script = Repo.root.appendingPathComponent("tools/ws-interop-peer.py").path

    /// True when python3 with the websockets package is available.
    static let isAvailable: Bool = {
        guard let process = try? start(["-c", "import websockets"]) else { return false }
        return process.waitForExit(timeout: .seconds(20)) == 0
    }()

    /// A running python3 process whose stdout the test reads line by line.
    final class Running {
        let process: Process
        let stdout: Pipe
        private var buffered: [UInt8] = []

        init(process: Process, stdout: Pipe) {
            self.process = process
            self.stdout = stdout
        }

        /// The next stdout line, or nil when none arrives before the timeout / end of output.
        func readLine(timeout: Duration) -> String? {
            let fd = stdout.fileHandleForReading.fileDescriptor
            let until = deadline(after: timeout)
            while true {
                if let newline = buffered.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffered[..<newline], as: UTF8.self)
                    buffered.removeFirst(newline + 1)
                    return line
                }
                var poller = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
                let ready = poll(&poller, 1, pollTimeoutMilliseconds(until: until))
                if ready <= 0 { return nil }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = read(fd, &chunk, chunk.count)
                if count <= 0 { return nil }
                buffered.append(contentsOf: chunk[0..<count])
            }
        }

        /// The rest of stdout after the process ended (bounded by `timeout`).
        func remainingOutput(timeout: Duration) -> String {
            var lines: [String] = []
            while let line = readLine(timeout: timeout) { lines.append(line) }
            return lines.joined(separator: "\n")
        }

        /// Waits for exit; kills the process and returns nil if it outlives the timeout.
        func waitForExit(timeout: Duration) -> Int32? { process.waitForExit(timeout: timeout) }
    }

    static func start(_ arguments: [String]) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        return Running(process: process, stdout: stdout)
    }
}

extension Process {
    /// Exit status, or nil (after SIGKILL) if the process is still running after `timeout`.
    func waitForExit(timeout: Duration) -> Int32? {
        let until = deadline(after: timeout) ?? UInt64.max
        while isRunning && monotonicNow() < until { usleep(5_000) }
        if isRunning {
            kill(processIdentifier, SIGKILL)
            waitUntilExit()
            return nil
        }
        return terminationStatus
    }
}

@Suite(
    .timeLimit(.minutes(1)),
    // `pip install websockets` enables this suite.
    .enabled(if: PythonPeer.isAvailable, "python3 with the websockets package is missing: pip install websockets"))
struct InteropTests {
    @Test func ourClientTalksToPythonServer() throws {
        let peer = try PythonPeer.start([PythonPeer.script, "server", "--path", "/echo", "--max-seconds", "20"])
        defer { _ = peer.waitForExit(timeout: .seconds(20)) }
        let portLine = try #require(peer.readLine(timeout: .seconds(15)), "the python server did not print its port")
        let port = try #require(UInt16(portLine.replacingOccurrences(of: "PORT ", with: "")))

        let options = testOptions { $0.maxSendFragmentSize = 16384 }
        let client = try WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/echo?client=swift", options: options)
        let cases: [(WebSocketMessage.Kind, [UInt8])] = [
            (.text, Array("hello from swift".utf8)),
            (.binary, [0, 1, 2, 255]),
            (.text, Array("{\"price\":\"0.48\",\"note\":\"€ ünïcödé\"}".utf8)),
            (.binary, (0..<70_000).map { UInt8(truncatingIfNeeded: $0) }),  // sent in 5 fragments
            (.text, []),
        ]
        for (kind, payload) in cases {
            if kind == .text { try client.send(textUTF8: payload) } else { try client.send(binary: payload) }
            let echo = try #require(try client.receive(timeout: receiveLimit))
            #expect(echo.kind == kind)
            #expect(echo.payload == payload)
        }
        try client.ping(Array("swift-ping".utf8))
        let pong = try #require(try client.receive(timeout: receiveLimit))
        #expect(pong.kind == .pong)
        #expect(pong.payload == Array("swift-ping".utf8))

        let info = try #require(try client.close(code: .normalClosure, reason: "swift done"))
        #expect(info.code == .normalClosure)
        #expect(info.isClean)
        #expect(peer.waitForExit(timeout: .seconds(20)) == 0)
        #expect(peer.remainingOutput(timeout: .seconds(5)).contains("CLOSED 1000"))
    }

    @Test func pythonClientTalksToOurServer() throws {
        let server = try WebSocketServer(allowedPaths: ["/echo"], options: testOptions())
        let ending = Mutex<WebSocketCloseInfo?>(nil)
        let handled = DispatchSemaphore(value: 0)
        server.start(handler: { connection in
            let info = echo(connection)
            ending.withLock { $0 = info }
            handled.signal()
        })
        defer { server.stop() }

        let peer = try PythonPeer.start([
            PythonPeer.script, "client", "--url", server.url(path: "/echo"), "--max-seconds", "20",
        ])
        let status = peer.waitForExit(timeout: .seconds(30))
        let output = peer.remainingOutput(timeout: .seconds(5))
        #expect(status == 0, "python client output: \(output)")
        #expect(output.contains("OK"))
        #expect(handled.wait(timeout: .now() + .seconds(10)) == .success)
        let info = ending.withLock { $0 }
        #expect(info?.code == .normalClosure)
        #expect(info?.reason == "python done")
        #expect(info?.initiatedLocally == false)
        #expect(info?.isClean == true)
    }
}
