import Capture
import Testing

private let second = SessionPolicy.second

/// Runs one shard's session on the calling thread against a scripted fake server and
/// returns what reached the tape, the fake server's log and how each connection ended.
private func runSession(
    policy: SessionPolicy = SessionPolicy(), _ plan: [FakeConnect], assets: [String] = ["A1", "A2"],
    queueCapacity: Int = 10_000
) throws -> (
    sink: MemorySink, log: FakeLog, endings: [ConnectionEnding], clock: FakeClock, counters: CaptureCountersSnapshot
) {
    let clock = FakeClock()
    let stop = StopSignal()
    let counters = CaptureCounters()
    let factory = FakeFactory(plan: plan, clock: clock, stop: stop)
    let queue = WriterQueue(
        capacityFrames: queueCapacity, capacityBytes: 1 << 30, fullWaitNanoseconds: 0, counters: counters)
    let session = ConnectionSession(
        shard: 0, assets: assets, url: "ws://127.0.0.1:1/ws/market", policy: policy, factory: factory,
        clock: clock, queue: queue, counters: counters, stop: stop, connectionIDs: ConnectionIDSource(),
        jitterSeed: 42)
    let endings = session.run()
    let sink = MemorySink()
    try drain(queue, into: sink)
    return (sink, factory.log, endings, clock, counters.snapshot())
}

private func text(_ string: String, after: UInt64 = 0) -> FakeStep {
    .message(.text(Array(string.utf8)), after: after)
}

private let dump = #"[{"event_type":"book","asset_id":"A1"},{"event_type":"book","asset_id":"A2"}]"#
private let change = #"{"market":"0xm","price_changes":[],"event_type":"price_change"}"#

@Test func subscribeMessageIsTheExchangeFormat() {
    #expect(
        subscribeMessage(assets: ["1", "2"])
            == #"{"assets_ids":["1","2"],"type":"market","custom_feature_enabled":true,"initial_dump":true,"level":2}"#)
    #expect(subscribeMessage(assets: ["a\"b"]).hasPrefix(#"{"assets_ids":["a\"b"]"#))
}

@Test(arguments: [
    (450, 200, [150, 150, 150]), (200, 200, [200]), (201, 200, [101, 100]), (1, 200, [1]), (0, 200, []),
])
func shardingSplitsEvenlyUnderTheCap(count: Int, perConnection: Int, sizes: [Int]) {
    let assets = (0..<count).map { "asset-\($0)" }
    let shards = shardAssets(assets, perConnection: perConnection)
    #expect(shards.map(\.count) == sizes)
    #expect(shards.flatMap { $0 } == assets)
}

@Test func backoffDoublesFromOneSecondToThirtyAndJitterStaysInRange() {
    let policy = SessionPolicy()
    #expect((1...7).map { policy.baseBackoff(attempt: $0) / second } == [1, 2, 4, 8, 16, 30, 30])
    #expect(policy.baseBackoff(attempt: 500) == 30 * second)
    var jitter = JitterSource(seed: 7)
    for attempt in 1...10 {
        let delay = policy.backoff(attempt: attempt, unit: jitter.nextUnit())
        let base = policy.baseBackoff(attempt: attempt)
        #expect(delay <= base && delay >= base / 2)
    }
}

@Test func subscribesThenPingsEveryTenSecondsAndRecordsFrames() throws {
    let result = try runSession([
        .accept([.answerPings, text(dump), text(change, after: 25 * second), .stop])
    ])
    let sent = result.log.sent
    #expect(sent.first?.text == subscribeMessage(assets: ["A1", "A2"]))
    let pings = sent.filter { $0.text == "PING" }
    #expect(pings.count == 2)  // at 10 s and 20 s; the change arrives at 25 s
    if pings.count == 2 { #expect(pings[1].at - pings[0].at == 10 * second) }
    #expect(result.sink.frames.map(\.text) == [dump, change])  // PONGs are not recorded
    #expect(result.sink.frames.map(\.sequence) == [1, 2])
    #expect(result.endings == [.stopped])
    #expect(
        result.sink.events.map(\.name) == ["connected", "subscribed", "disconnected"])
    #expect(result.log.closes.map(\.1) == [1000])
}

@Test func serverDropMidStreamReconnectsResubscribesAndRecordsTheNewDump() throws {
    let result = try runSession([
        .accept([text(dump), text(change), .message(.close(code: 1006, reason: "going away"))]),
        .accept([text(dump), text(change), .stop]),
    ])
    let events = result.sink.events
    #expect(
        events.map(\.name) == [
            "connected", "subscribed", "disconnected", "gap", "reconnecting", "connected", "subscribed", "disconnected",
        ])
    if case .disconnected(let id, _, let code, _) = events[2] {
        #expect(id == 1)
        #expect(code == 1006)
    } else {
        Issue.record("expected disconnected, got \(events[2])")
    }
    if case .reconnecting(_, let attempt, let delay) = events[4] {
        #expect(attempt == 1)
        #expect(delay >= second / 2 && delay <= second)
    }
    if case .connected(let id, _, _, _) = events[5] { #expect(id == 2) }
    // Frames of the second connection restart their sequence and carry the new id.
    #expect(result.sink.frames.map { "\($0.connection).\($0.sequence)" } == ["1.1", "1.2", "2.1", "2.2"])
    #expect(result.sink.frames.map(\.text) == [dump, change, dump, change])
    #expect(result.log.sent.filter { $0.text.hasPrefix("{") }.count == 2)  // resubscribed
}

@Test func missingPongForThirtySecondsIsDetectedAndReconnected() throws {
    let result = try runSession([
        .accept([text(dump)]),  // never answers PING, never closes
        .accept([.answerPings, text(dump), .stop]),
    ])
    #expect(result.endings == [.keepaliveTimeout, .stopped])
    let firstConnection = result.log.sent.filter { $0.connection == 1 }
    #expect(firstConnection.filter { $0.text == "PING" }.count == 3)  // 10, 20, 30 s; dead at 40 s
    let disconnect = result.sink.events.first { $0.name == "disconnected" }
    if case .disconnected(_, _, let code, let reason) = disconnect {
        #expect(code == nil)
        #expect(reason.contains("no PONG for 30 s"))
    } else {
        Issue.record("no disconnected event")
    }
    #expect(result.log.closes.first?.1 == 1001)
    #expect(result.sink.events.contains { $0.name == "gap" })
}

@Test func dataSilenceIsDetectedEvenWhilePongsArrive() throws {
    var policy = SessionPolicy()
    policy.silenceTimeoutNanoseconds = 45 * second
    let result = try runSession(
        policy: policy, [.accept([.answerPings, text(dump)]), .accept([.answerPings, text(dump), .stop])])
    #expect(result.endings == [.silenceTimeout, .stopped])
    let reasons = result.sink.events.compactMap { event -> String? in
        if case .disconnected(_, _, _, let reason) = event { reason } else { nil }
    }
    #expect(reasons.first == "no data for 45 s")
}

@Test func idleCloseWithoutCloseFrameIsRecordedAndReconnected() throws {
    var policy = SessionPolicy()
    policy.silenceTimeoutNanoseconds = 0  // let the server's own idle close happen first
    let result = try runSession(
        policy: policy,
        [
            .accept([.answerPings, text(dump), .message(.close(code: nil, reason: ""), after: 125 * second)]),
            .accept([text(dump), .stop]),
        ])
    #expect(result.endings == [.serverClosed, .stopped])
    let disconnect = result.sink.events.first { $0.name == "disconnected" }
    if case .disconnected(_, _, let code, let reason) = disconnect {
        #expect(code == nil)
        #expect(reason == "server ended the stream without a close frame")
    } else {
        Issue.record("no disconnected event")
    }
}

@Test func transportErrorIsRecordedWithItsMessage() throws {
    let result = try runSession([.accept([text(dump), .fail("connection reset by peer")]), .accept([.stop])])
    #expect(result.endings == [.transportError, .stopped])
    #expect(
        result.sink.events.contains(
            .disconnected(connection: 1, shard: 0, closeCode: nil, reason: "connection reset by peer")))
}

@Test func failedConnectsBackOffExponentiallyWithJitter() throws {
    let result = try runSession([
        .refuse("connection refused"), .refuse("connection refused"), .refuse("connection refused"),
        .refuse("connection refused"), .accept([text(dump), .stop]),
    ])
    #expect(result.endings == [.connectFailed, .connectFailed, .connectFailed, .connectFailed, .stopped])
    let delays = result.sink.events.compactMap { event -> (Int, UInt64)? in
        if case .reconnecting(_, let attempt, let delay) = event { (attempt, delay) } else { nil }
    }
    #expect(delays.map(\.0) == [1, 2, 3, 4])
    for (attempt, delay) in delays {
        let base = SessionPolicy().baseBackoff(attempt: attempt)
        #expect(delay <= base && delay >= base / 2, "attempt \(attempt): \(delay)")
    }
    let failures = result.sink.events.filter { $0.name == "connect_failed" }
    #expect(failures.count == 4)
    // Nothing was up before, so the connection that finally came is not a reconnect.
    #expect(result.counters.connectAttemptsFailed == 4)
    #expect(result.counters.lastConnectError == "connection refused")
    #expect(result.counters.connects == 1)
    #expect(result.counters.reconnects == 0)
    // The successful connection reports how many attempts failed before it.
    #expect(result.sink.events.contains { if case .connected(_, _, _, 4) = $0 { true } else { false } })
}

@Test func aHealthyPeriodResetsTheBackoff() throws {
    let result = try runSession([
        .refuse("refused"), .refuse("refused"),
        .accept([.answerPings, text(dump), text(change, after: 61 * second), .message(.close(code: 1001, reason: ""))]),
        .accept([.stop]),
    ])
    let attempts = result.sink.events.compactMap { event -> Int? in
        if case .reconnecting(_, let attempt, _) = event { attempt } else { nil }
    }
    #expect(attempts == [1, 2, 1])
}

@Test func aShortLivedConnectionKeepsBackingOff() throws {
    let result = try runSession([
        .accept([text(dump), .message(.close(code: 1011, reason: ""))]),
        .accept([text(dump), .message(.close(code: 1011, reason: ""))]),
        .accept([.stop]),
    ])
    let attempts = result.sink.events.compactMap { event -> Int? in
        if case .reconnecting(_, let attempt, _) = event { attempt } else { nil }
    }
    #expect(attempts == [1, 2])
}

@Test func binaryFramesAreCountedNotRecorded() throws {
    let result = try runSession([.accept([.message(.binary([1, 2, 3])), text(dump), .stop])])
    #expect(result.sink.frames.map(\.text) == [dump])
}

/// Regression: "reconnects 3" was printed with 0 connects: every retry counted as a reconnect.
/// A reconnect is a new connection after an earlier one was up; failed attempts count apart.
@Test func reconnectsCountOnlyConnectionsAfterOneWasUp() throws {
    let result = try runSession([
        .refuse("connection refused"), .accept([text(dump), .fail("connection reset by peer")]),
        .refuse("connection refused"), .accept([text(dump), .stop]),
    ])
    #expect(result.endings == [.connectFailed, .transportError, .connectFailed, .stopped])
    #expect(result.counters.connects == 2)
    #expect(result.counters.reconnects == 1)
    #expect(result.counters.connectAttemptsFailed == 2)
}
