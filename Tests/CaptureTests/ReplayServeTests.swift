// Capture against `replay serve` (the project's own stand-in for the exchange, fed from a
// real tape), loopback only: what the server sends is exactly what the tape records.
import Capture
import Foundation
import Glibc
import Tape
import TestSupport
import Testing

/// A running `replay serve` process; `url` is the first line it prints.
private final class ServeProcess {
    let process = Process()
    let url: String

    init(_ arguments: [String]) throws {
        process.executableURL = Repo.executable("replay")
        process.arguments = ["serve"] + arguments + ["--port", "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var bytes: [UInt8] = []
        let handle = output.fileHandleForReading
        while !bytes.contains(0x0A) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            bytes += chunk
        }
        url = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        if !eventually(seconds: 10, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// The text frames of a tape and its header's assets, read with the Tape module.
private func tapeFrames(_ path: String) throws -> (frames: [[UInt8]], assets: [String]) {
    let reader = try TapeReader(path: path)
    var frames: [[UInt8]] = []
    try reader.forEachFrame { frames.append(Array($0.bytes)) }
    return (frames, reader.header?.assets ?? [])
}

/// True when both texts parse to equal JSON values (key order and spacing ignored).
private func sameJSON(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard let left = try? JSONSerialization.jsonObject(with: Data(a)) as? NSArray,
        let right = try? JSONSerialization.jsonObject(with: Data(b)) as? NSArray
    else { return false }
    return left == right
}

private func record(
    from url: String, assets: [String], name: String, policy: SessionPolicy? = nil,
    until done: (CaptureCountersSnapshot) -> Bool
) throws -> (ReadBackTape, Bool) {
    let directory = temporaryDirectory(name)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = CaptureConfiguration(url: url, assets: assets, jitterSeed: 9)
    configuration.policy.initialBackoffNanoseconds = 20 * SessionPolicy.millisecond
    configuration.policy.receiveSliceNanoseconds = 20 * SessionPolicy.millisecond
    if let policy { configuration.policy = policy }
    let sink = TapeWriterSink(directory: directory, prefix: "serve", rotateSizeBytes: nil, rotateTimeNanoseconds: nil)
    let run = CaptureRun(
        configuration: configuration, factory: WebSocketConnectionFactory(), clock: SystemClock(), sink: sink)
    try run.start()
    let finished = eventually(seconds: 30) { done(run.counters.snapshot()) }
    run.requestStop()
    _ = run.wait(tickNanoseconds: 10 * SessionPolicy.millisecond)
    return (try ReadBackTape(directory: directory), finished)
}

@Test func capturingReplayServeGivesBackTheServedTapeByteForByte() throws {
    let tapePath = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
    let (served, assets) = try tapeFrames(tapePath)
    #expect(served.count == 110 && assets.count == 28)
    let serve = try ServeProcess([tapePath, "--speed", "max"])
    defer { serve.stop() }
    #expect(serve.url.hasPrefix("ws://127.0.0.1:"))
    let (tape, finished) = try record(from: serve.url, assets: assets, name: "serve") {
        $0.framesWritten >= UInt64(served.count)
    }
    #expect(finished)
    // Every frame after the opening dump is sent as recorded and must come back byte-exact.
    #expect(tape.frames.count == served.count)
    let laterFramesEqual = Array(tape.frames.dropFirst().map(\.bytes)) == Array(served.dropFirst())
    #expect(laterFramesEqual, "frames 2…\(served.count) differ from the served tape")
    // The opening dump is rebuilt by the server from its books (its own key order), so it is
    // compared as JSON: the same 28 books.
    #expect(sameJSON(tape.frames.first?.bytes ?? [], served[0]))
    #expect(tape.events.map(\.name) == ["connected", "subscribed", "disconnected"])
}

@Test func aReplayServeDropIsRecordedAndTheReconnectReplaysFromTheDump() throws {
    let tapePath = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
    let (served, assets) = try tapeFrames(tapePath)
    let serve = try ServeProcess([tapePath, "--speed", "max", "--drop-at", "30"])
    defer { serve.stop() }
    // Every connection is dropped after 30 frames; record three of them.
    let (tape, finished) = try record(from: serve.url, assets: assets, name: "serve-drop") {
        $0.framesWritten >= 90 && $0.reconnects >= 2
    }
    #expect(finished)
    for connection: UInt32 in 1...3 {
        let frames = tape.frames.filter { $0.conn == connection }.map(\.bytes)
        #expect(frames.count == 30, "connection \(connection)")
        #expect(sameJSON(frames.first ?? [], served[0]), "connection \(connection) starts with the dump")
        let rest = Array(frames.dropFirst()) == Array(served[1..<30])
        #expect(rest, "connection \(connection): frames 2…30 differ from the served tape")
    }
    let disconnects = tape.events.filter { $0.name == "disconnected" && $0.conn <= 2 }
    #expect(disconnects.count == 2)
    #expect(disconnects.allSatisfy { $0.detail.closeCode == nil })
    #expect(tape.events.filter { $0.name == "gap" }.count >= 2)
}

@Test func replayServeWithoutPongIsDetectedAsDead() throws {
    let tapePath = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
    let (_, assets) = try tapeFrames(tapePath)
    let serve = try ServeProcess([tapePath, "--speed", "max", "--no-pong"])
    defer { serve.stop() }
    var policy = SessionPolicy()
    policy.pingIntervalNanoseconds = 50 * SessionPolicy.millisecond
    policy.pongTimeoutNanoseconds = 250 * SessionPolicy.millisecond
    policy.initialBackoffNanoseconds = 20 * SessionPolicy.millisecond
    policy.receiveSliceNanoseconds = 20 * SessionPolicy.millisecond
    let (tape, finished) = try record(from: serve.url, assets: assets, name: "serve-nopong", policy: policy) {
        $0.keepaliveTimeouts >= 2
    }
    #expect(finished)
    let reasons = tape.events.filter { $0.name == "disconnected" }.compactMap(\.detail.reason)
    #expect(reasons.prefix(2).allSatisfy { $0 == "no PONG for 0.25 s" })
    #expect(tape.events.filter { $0.name == "subscribed" }.count >= 2)
}

@Test func replayServeIdleCloseWithoutCloseFrameIsRecorded() throws {
    let tapePath = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
    let (_, assets) = try tapeFrames(tapePath)
    let serve = try ServeProcess([tapePath, "--speed", "max", "--idle-close", "0.3"])
    defer { serve.stop() }
    // PINGs every 10 s (the default) leave the client silent long enough for the idle close.
    let (tape, finished) = try record(from: serve.url, assets: assets, name: "serve-idle") { $0.serverCloses >= 1 }
    #expect(finished)
    let disconnect = tape.events.first { $0.name == "disconnected" }
    #expect(disconnect?.detail.closeCode == nil)
    #expect(disconnect?.detail.reason?.contains("without a close frame") == true)
    #expect(tape.events.contains { $0.name == "gap" })
}
