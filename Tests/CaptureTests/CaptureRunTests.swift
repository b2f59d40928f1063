import Capture
import Foundation
import Glibc
import Testing

/// The asset ids of a subscribe message (test helper; the format is fixed by `subscribeMessage`).
func assetsOf(subscribe text: String) -> [String] {
    guard let open = text.range(of: "[\""), let close = text.range(of: "\"]") else { return [] }
    return text[open.upperBound..<close.lowerBound].components(separatedBy: "\",\"")
}

/// A fake exchange that answers every subscription with one `book` frame per asset.
private func bookPerAssetResponder() -> @Sendable (String) -> [FakeStep] {
    { subscribe in
        var steps: [FakeStep] = [.answerPings]
        for asset in assetsOf(subscribe: subscribe) {
            steps.append(.message(.text(Array(#"{"event_type":"book","asset_id":"\#(asset)"}"#.utf8))))
        }
        return steps
    }
}

/// Polls `condition` every 10 ms for up to `seconds`; true if it became true.
func eventually(seconds: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = SystemClock().monotonicNanoseconds() + UInt64(seconds * 1e9)
    while SystemClock().monotonicNanoseconds() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

@Test func fourHundredFiftyAssetsUseThreeConnectionsAndEveryBookArrives() throws {
    let assets = (0..<450).map { "asset\($0)" }
    let stop = StopSignal()
    let factory = FakeFactory(responder: bookPerAssetResponder(), clock: SystemClock(), stop: stop)
    let sink = MemorySink()
    var configuration = CaptureConfiguration(url: "ws://127.0.0.1:9/ws/market", assets: assets)
    configuration.assetsPerConnection = 200
    let run = CaptureRun(configuration: configuration, factory: factory, clock: SystemClock(), sink: sink)
    #expect(run.shards.count == 3)
    try run.start()
    #expect(eventually { run.counters.snapshot().framesReceived >= 450 })
    run.requestStop()
    let summary = run.wait(tickNanoseconds: 20_000_000)
    #expect(summary.ending == "stopped")
    #expect(summary.shards == 3)
    #expect(summary.counters.framesWritten == 450)
    #expect(summary.counters.connects == 3)
    #expect(sink.summary != nil)
    let subscribed = sink.events.compactMap { event -> [String]? in
        if case .subscribed(_, _, let assets) = event { assets } else { nil }
    }
    #expect(subscribed.count == 3)
    #expect(subscribed.allSatisfy { $0.count == 150 })
    #expect(Set(subscribed.flatMap { $0 }) == Set(assets))
    let booked = Set(sink.frames.map { $0.text.split(separator: "\"")[7] }.map(String.init))
    #expect(booked == Set(assets))
    #expect(Set(sink.frames.map(\.connection)).count == 3)
    #expect(sink.header?.assets == assets)
    #expect(sink.events.filter { $0.name == "disconnected" }.count == 3)
}

@Test func durationStopsTheCaptureByItself() throws {
    let stop = StopSignal()
    let factory = FakeFactory(responder: bookPerAssetResponder(), clock: SystemClock(), stop: stop)
    let sink = MemorySink()
    var configuration = CaptureConfiguration(url: "ws://127.0.0.1:9/ws/market", assets: ["a", "b"])
    configuration.durationNanoseconds = 300_000_000
    let run = CaptureRun(configuration: configuration, factory: factory, clock: SystemClock(), sink: sink)
    try run.start()
    let summary = run.wait(tickNanoseconds: 50_000_000)
    #expect(summary.ending == "stopped")
    #expect(sink.frames.count == 2)
    #expect(sink.summary?.ending == "stopped")
}

@Test func aWriterFailureStopsTheCaptureAndSaysWhy() throws {
    let stop = StopSignal()
    let factory = FakeFactory(responder: bookPerAssetResponder(), clock: SystemClock(), stop: stop)
    let sink = MemorySink()
    sink.failAfterFrames = 3
    let configuration = CaptureConfiguration(url: "ws://x", assets: (0..<10).map { "a\($0)" })
    let run = CaptureRun(configuration: configuration, factory: factory, clock: SystemClock(), sink: sink)
    try run.start()
    let summary = run.wait(tickNanoseconds: 20_000_000)
    #expect(summary.ending == "failed")
    #expect(summary.failure?.contains("disk full (test)") == true)
    #expect(run.failure != nil)
}

@Test func forceStopClosesTheTapeWithoutWaitingForSockets() throws {
    let stop = StopSignal()
    let factory = FakeFactory(responder: bookPerAssetResponder(), clock: SystemClock(), stop: stop)
    let sink = MemorySink()
    let run = CaptureRun(
        configuration: CaptureConfiguration(url: "ws://x", assets: ["a"]), factory: factory, clock: SystemClock(),
        sink: sink)
    try run.start()
    #expect(eventually { run.counters.snapshot().framesWritten == 1 })
    #expect(run.forceStop())
    #expect(sink.summary?.ending == "forced")
    _ = run.wait(tickNanoseconds: 10_000_000)
}

@Test func startRefusesAnEmptyAssetList() {
    let run = CaptureRun(
        configuration: CaptureConfiguration(url: "ws://x", assets: []),
        factory: FakeFactory(plan: [], clock: SystemClock(), stop: StopSignal()), clock: SystemClock(),
        sink: MemorySink())
    #expect(throws: CaptureError.self) { try run.start() }
}

/// Refuses every connect, like a URL where nothing listens.
private struct RefusingFactory: MarketConnectionFactory {
    func connect(url: String, timeoutNanoseconds: UInt64) throws -> FakeResponderConnection {
        throw FakeTransportError(description: "connection refused")
    }
}

/// Regression: a capture that never reached the exchange ended "stopped", exit 0, with
/// "reconnects 3": a cron job could not tell it from a good run.
@Test func aRunThatNeverConnectedFailsNamingTheURLAndTheLastError() throws {
    let sink = MemorySink()
    var configuration = CaptureConfiguration(url: "ws://127.0.0.1:1/ws/market", assets: ["a"])
    configuration.policy.initialBackoffNanoseconds = SessionPolicy.millisecond
    configuration.policy.maxBackoffNanoseconds = SessionPolicy.millisecond
    let run = CaptureRun(configuration: configuration, factory: RefusingFactory(), clock: SystemClock(), sink: sink)
    try run.start()
    #expect(eventually { run.counters.snapshot().connectAttemptsFailed >= 3 })
    run.requestStop()
    let summary = run.wait(tickNanoseconds: 10_000_000)
    let attempts = summary.counters.connectAttemptsFailed
    #expect(summary.ending == "failed")
    #expect(
        summary.failure
            == "never connected to ws://127.0.0.1:1/ws/market: connection refused (\(attempts) attempts); "
            + "check --url and the network")
    #expect(summary.counters.connects == 0)
    #expect(summary.counters.reconnects == 0)
    // The tape is still closed properly, and its summary says the same.
    #expect(sink.summary?.ending == "failed")
    #expect(sink.events.filter { $0.name == "connect_failed" }.count == Int(attempts))
}
