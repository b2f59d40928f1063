// The real capture stack (WebSocket client, session, writer thread, TapeWriter) against an
// in-test exchange on loopback, with faults injected by the server. Bounded in time: every
// wait polls with a deadline, and the session timings are shortened through the policy.
import Capture
import Foundation
import Tape
import TestSupport
import Testing
import WebSocket

private func fastPolicy() -> SessionPolicy {
    var policy = SessionPolicy()
    policy.initialBackoffNanoseconds = 20 * SessionPolicy.millisecond
    policy.maxBackoffNanoseconds = 100 * SessionPolicy.millisecond
    policy.receiveSliceNanoseconds = 20 * SessionPolicy.millisecond
    policy.connectTimeoutNanoseconds = 5 * SessionPolicy.second
    return policy
}

/// Runs a capture against `exchange` until `done` holds (or 20 s pass), then stops it and reads the tape.
private func capture(
    from exchange: MockExchange, assets: [String], policy: SessionPolicy = fastPolicy(), perConnection: Int = 200,
    rotateSize: Int64? = nil, name: String, until done: (CaptureCountersSnapshot) -> Bool
) throws -> (tape: ReadBackTape, summary: CaptureSummary, finished: Bool) {
    let directory = temporaryDirectory(name)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let sink = TapeWriterSink(
        directory: directory, prefix: "test", rotateSizeBytes: rotateSize, rotateTimeNanoseconds: nil)
    var configuration = CaptureConfiguration(
        url: exchange.url, assets: assets, sideData: [AssetMetadata(assetId: assets[0], minOrderSize: "5")],
        jitterSeed: 1)
    configuration.policy = policy
    configuration.assetsPerConnection = perConnection
    let run = CaptureRun(
        configuration: configuration, factory: WebSocketConnectionFactory(), clock: SystemClock(), sink: sink)
    try run.start()
    let finished = eventually(seconds: 20) { done(run.counters.snapshot()) }
    run.requestStop()
    let summary = run.wait(tickNanoseconds: 10 * SessionPolicy.millisecond)
    exchange.stop()
    return (try ReadBackTape(directory: directory), summary, finished)
}

@Test func roundTripOfARealStreamIsByteExact() throws {
    let (frames, assets) = try enricoFrames()
    let exchange = try MockExchange { _ in .init(frames: frames) }
    let result = try capture(from: exchange, assets: assets, name: "roundtrip") { $0.framesWritten >= 110 }
    #expect(result.finished)
    #expect(result.tape.frames.map(\.bytes) == frames)
    #expect(result.tape.frames.map(\.seq) == Array(1...110))
    #expect(Set(result.tape.frames.map(\.conn)) == [1])
    #expect(result.tape.header?.assets == assets)
    #expect(result.tape.header?.sideData[assets[0]]?.minOrderSize == "5")
    #expect(result.tape.header?.source == exchange.url)
    #expect(result.tape.events.map(\.name) == ["connected", "subscribed", "disconnected"])
    #expect(result.tape.events[1].detail.assets == assets)
    #expect(result.tape.events[2].detail.closeCode == 1000)
    #expect(result.tape.report.endedWithFooter)
    #expect(result.tape.report.tornTails.isEmpty)
    #expect(result.summary.ending == "stopped")
    #expect(exchange.snapshot.subscribeTexts == [subscribeMessage(assets: assets)])
    #expect(exchange.snapshot.clientCloseCodes == [1000])
    // Receive times are real and ordered.
    let monos = result.tape.frames.map(\.monoNs)
    #expect(zip(monos, monos.dropFirst()).allSatisfy { $0 <= $1 })
}

@Test func serverDropMidStreamIsRecordedAndTheNewDumpFollows() throws {
    let (frames, assets) = try enricoFrames()
    let exchange = try MockExchange { index in
        index == 1 ? .init(frames: frames, fault: .dropAfter(frames: 40)) : .init(frames: frames)
    }
    let result = try capture(from: exchange, assets: assets, name: "drop") { $0.framesWritten >= 150 }
    #expect(result.finished)
    let tape = result.tape
    #expect(tape.frames.filter { $0.conn == 1 }.map(\.bytes) == Array(frames[0..<40]))
    #expect(tape.frames.filter { $0.conn == 2 }.map(\.bytes) == frames)
    let names = tape.events.map(\.name)
    #expect(
        names == [
            "connected", "subscribed", "disconnected", "gap", "reconnecting", "connected", "subscribed", "disconnected",
        ])
    let disconnect = tape.events[2]
    #expect(disconnect.conn == 1)
    #expect(disconnect.detail.closeCode == nil)
    #expect(disconnect.detail.reason?.contains("without a close frame") == true)
    #expect(tape.events[4].detail.attempt == 1)
    #expect(tape.events[5].conn == 2)
    // The gap sits exactly between the last frame of connection 1 and the new dump.
    let gapIndex = tape.lines.firstIndex { if case .event(let event) = $0 { event.name == "gap" } else { false } }!
    let firstOfConnection2 = tape.lines.firstIndex {
        if case .frame(let frame) = $0 { frame.conn == 2 } else { false }
    }!
    #expect(gapIndex < firstOfConnection2)
    #expect(exchange.snapshot.subscriptions.count == 2)
}

@Test func aServerThatStopsAnsweringPingIsDetectedAndReplaced() throws {
    let (frames, assets) = try enricoFrames()
    let exchange = try MockExchange { index in
        index == 1 ? .init(frames: Array(frames[0..<5]), fault: .ignorePings) : .init(frames: Array(frames[0..<5]))
    }
    var policy = fastPolicy()
    policy.pingIntervalNanoseconds = 50 * SessionPolicy.millisecond
    policy.pongTimeoutNanoseconds = 250 * SessionPolicy.millisecond
    let result = try capture(from: exchange, assets: assets, policy: policy, name: "ping") {
        $0.keepaliveTimeouts >= 1 && $0.framesWritten >= 10 && $0.pongsReceived >= 1
    }
    #expect(result.finished)
    #expect(result.summary.counters.keepaliveTimeouts >= 1)
    let disconnect = result.tape.events.first { $0.name == "disconnected" }
    #expect(disconnect?.conn == 1)
    #expect(disconnect?.detail.reason == "no PONG for 0.25 s")
    #expect(result.tape.frames.filter { $0.conn == 2 }.count == 5)
    #expect(exchange.snapshot.pings >= 4)
    #expect(result.summary.counters.pongsReceived >= 1)  // the second connection answers
}

@Test func anIdleCloseWithoutCloseFrameIsDetected() throws {
    let (frames, assets) = try enricoFrames()
    let exchange = try MockExchange { index in
        index == 1
            ? .init(frames: Array(frames[0..<3]), fault: .idleDropAfter(.milliseconds(300)))
            : .init(frames: Array(frames[0..<3]))
    }
    var policy = fastPolicy()
    policy.silenceTimeoutNanoseconds = 0
    let result = try capture(from: exchange, assets: assets, policy: policy, name: "idle") { $0.framesWritten >= 6 }
    #expect(result.finished)
    #expect(result.summary.counters.serverCloses == 1)
    let disconnect = result.tape.events.first { $0.name == "disconnected" }
    #expect(disconnect?.detail.closeCode == nil)
    #expect(disconnect?.detail.reason?.contains("without a close frame") == true)
    #expect(result.tape.events.contains { $0.name == "reconnecting" })
}

@Test func dataSilenceIsDetectedOnARealConnection() throws {
    let (frames, assets) = try enricoFrames()
    let exchange = try MockExchange { _ in .init(frames: Array(frames[0..<2])) }
    var policy = fastPolicy()
    policy.pingIntervalNanoseconds = 50 * SessionPolicy.millisecond
    policy.silenceTimeoutNanoseconds = 300 * SessionPolicy.millisecond
    let result = try capture(from: exchange, assets: assets, policy: policy, name: "silence") {
        $0.silenceTimeouts >= 1 && $0.framesWritten >= 4
    }
    #expect(result.finished)
    let reasons = result.tape.events.compactMap { $0.name == "disconnected" ? $0.detail.reason : nil }
    #expect(reasons.first == "no data for 0.3 s")
}

@Test func fourHundredFiftyAssetsOverThreeRealConnectionsAllGetTheirBook() throws {
    let assets = (0..<450).map { String(1_000_000 + $0) }
    let exchange = try MockExchange { _ in .init(frames: nil) }
    let result = try capture(from: exchange, assets: assets, perConnection: 200, name: "shards") {
        $0.framesWritten >= 450
    }
    #expect(result.finished)
    #expect(exchange.snapshot.connections == 3)
    #expect(exchange.snapshot.subscriptions.map(\.count) == [150, 150, 150])
    #expect(Set(exchange.snapshot.subscriptions.flatMap { $0 }) == Set(assets))
    #expect(Set(result.tape.frames.map(\.conn)) == [1, 2, 3])
    #expect(Set(result.tape.frames.map(\.bytes)) == Set(assets.map(MockExchange.bookFrame)))
    #expect(result.tape.events.filter { $0.name == "subscribed" }.count == 3)
}

@Test func rotationBySizeGivesSegmentsThatReadAsOneTape() throws {
    let frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
    let exchange = try MockExchange { _ in .init(frames: frames) }
    let asset = "19132077152294710079876824487679725658489209861892422335113898186089131197703"
    let result = try capture(from: exchange, assets: [asset], rotateSize: 24 << 10, name: "rotate") {
        $0.framesWritten >= UInt64(frames.count)
    }
    #expect(result.finished)
    #expect(result.tape.segmentFiles.count >= 3)
    #expect(result.tape.report.headers == result.tape.segmentFiles.count)
    #expect(result.tape.report.footers == result.tape.segmentFiles.count)
    #expect(result.tape.frames.map(\.bytes) == frames)
    #expect(result.tape.frames.map(\.seq) == Array(1...UInt64(frames.count)))
    #expect(result.tape.segmentFiles == result.tape.segmentFiles.sorted())
}

@Test func failedConnectsAreRecordedWithTheErrorAndBackOff() throws {
    let directory = temporaryDirectory("refused")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let sink = TapeWriterSink(directory: directory, prefix: "test", rotateSizeBytes: nil, rotateTimeNanoseconds: nil)
    var configuration = CaptureConfiguration(url: "ws://127.0.0.1:1/ws/market", assets: ["a"], jitterSeed: 5)
    configuration.policy = fastPolicy()
    let run = CaptureRun(
        configuration: configuration, factory: WebSocketConnectionFactory(), clock: SystemClock(), sink: sink)
    try run.start()
    #expect(eventually { run.counters.snapshot().connectAttemptsFailed >= 3 })
    run.requestStop()
    let summary = run.wait(tickNanoseconds: 10 * SessionPolicy.millisecond)
    #expect(summary.counters.connects == 0)
    // Failed attempts are not reconnects (nothing was ever up), and a run that never
    // connected is a failure that names the URL and the real transport error.
    #expect(summary.counters.reconnects == 0)
    #expect(summary.ending == "failed")
    let failedAttempts = summary.counters.connectAttemptsFailed
    #expect(summary.failure?.hasPrefix("never connected to ws://127.0.0.1:1/ws/market: ") == true)
    #expect(summary.failure?.hasSuffix("(\(failedAttempts) attempts); check --url and the network") == true)
    #expect(summary.failure?.lowercased().contains("refused") == true, "\(summary.failure ?? "")")
    let tape = try ReadBackTape(directory: directory)
    #expect(tape.frames.isEmpty)
    let failures = tape.events.filter { $0.name == "disconnected" }
    #expect(failures.count >= 3)
    #expect(failures.allSatisfy { $0.conn == 0 && $0.detail.error?.contains("127.0.0.1:1") == true })
    let attempts = tape.events.filter { $0.name == "reconnecting" }.compactMap(\.detail.attempt)
    #expect(Array(attempts.prefix(3)) == [1, 2, 3])
    #expect(tape.events.filter { $0.name == "reconnecting" }.allSatisfy { $0.detail.delayMs != nil })
    #expect(tape.report.endedWithFooter)
}
