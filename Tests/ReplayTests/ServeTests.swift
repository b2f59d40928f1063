// `replay serve` over 127.0.0.1: the server runs in-process (or as the built binary) and
// clients on our WebSocket module (and Python's `websockets`) check what it sends against
// the bundled real tape g3-enrico-2026-09 (28 opening books, G3 mirrored price changes).
import CommandLineSupport
import Dispatch
import Feed
import Foundation
import Glibc
import ReplayKit
import Synchronization
import Tape
import TestSupport
import Testing
import WebSocket

@Suite(.serialized, .timeLimit(.minutes(1)))
struct ServeTests {
    typealias F = ServeFixture

    @Test func initialDumpAndFilteredStreamMatchTheTape() throws {
        let assets = [F.assetA, F.assetB]
        let expected = try expectedStream(for: Set(assets))
        let opening = try openingBookObjects()
        #expect(opening.count == 28)
        #expect(expected.count > 50)
        try withServer { server, _ in
            let client = try MarketClient(url: server.url)
            try client.subscribe(assets)
            let dump = try #require(try client.nextData())
            let books = try #require(bookObjects(dump), "the first message must be an array of books")
            // Exactly the subscribed assets, in the order asked, byte-identical to the
            // exchange's own opening books (same levels, hash, tick size, last trade price).
            #expect(books.map(\.0) == assets)
            for (asset, object) in books {
                #expect(
                    String(decoding: object, as: UTF8.self)
                        == opening[asset].map { String(decoding: $0, as: UTF8.self) },
                    "book of \(asset) differs from the tape's opening book")
            }
            var received: [[OwnedEvent]] = []
            while received.count < expected.count, let frame = try client.nextData(timeout: .seconds(10)) {
                received.append(normalizedEvents(frame))
            }
            #expect(received.count == expected.count)
            #expect(received == expected)
            // Both tokens' entries appear in the tape's G3 frames; only ours arrive.
            let seenAssets = Set(received.flatMap { $0.map(\.assetID) })
            #expect(seenAssets == Set(assets))
            try client.connection.send(text: "PING")
            let pong = try #require(try client.next(timeout: .seconds(10)))
            #expect(pong.text == "PONG")
            try client.connection.close()
        }
    }

    @Test func framesForBothTokensOfAMarketAreSentByteExact() throws {
        // Subscribed to both tokens of one market, every G3 frame of that market is wholly
        // ours and must arrive exactly as recorded.
        let assets: Set<String> = [F.assetA, F.assetAPartner]
        let frames = try ServeFixture.recordedFrames()
        let ours = frames.dropFirst().filter { frame in
            let ids = normalizedEvents(frame).map(\.assetID)
            return !ids.isEmpty && ids.allSatisfy { assets.contains($0) }
        }
        #expect(ours.count > 50)
        try withServer { server, _ in
            let client = try MarketClient(url: server.url)
            try client.subscribe(Array(assets))
            _ = try #require(try client.nextData())
            var received: [[UInt8]] = []
            while received.count < ours.count, let frame = try client.nextData() { received.append(frame) }
            #expect(received == Array(ours))
        }
    }

    @Test func pingBeforeSubscriptionIsClosedWith1008() throws {
        try withServer { server, log in
            let client = try MarketClient(url: server.url)
            try client.connection.send(text: "PING")
            let close = try #require(try client.waitForClose())
            #expect(close.code == .policyViolation)
            #expect(log.wait { $0.kind == .policyClose } != nil)
        }
    }

    @Test func anythingButASubscriptionFirstIsClosedWith1008() throws {
        try withServer { server, _ in
            let client = try MarketClient(url: server.url)
            try client.connection.send(text: #"{"hello":"world"}"#)
            let close = try #require(try client.waitForClose())
            #expect(close.code == .policyViolation)
            #expect(close.reason.contains("subscription"))
        }
    }

    @Test func unsubscribeStopsAnAssetsFrames() throws {
        try withServer({ $0.loop = true }) { server, _ in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA, F.assetB])
            _ = try #require(try client.nextData())
            try client.operation("unsubscribe", [F.assetB])
            // PONG goes through the same queue as frames: everything after it was filtered
            // with the new subscription.
            try client.connection.send(text: "PING")
            while let message = try client.next(), message.text != "PONG" {}
            var assetAEvents = 0
            for _ in 0..<300 {
                let frame = try #require(try client.nextData())
                let ids = normalizedEvents(frame).map(\.assetID)
                #expect(!ids.contains(F.assetB))
                assetAEvents += ids.filter { $0 == F.assetA }.count
            }
            #expect(assetAEvents > 0)
        }
    }

    @Test func subscribeOperationSendsTheNewBooksFirst() throws {
        try withServer({ $0.loop = true }) { server, _ in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA])
            let message = try #require(try client.nextData())
            let first = try #require(bookObjects(message))
            #expect(first.map(\.0) == [F.assetA])
            try client.operation("subscribe", [F.assetB])
            // The first message mentioning B is a books-only message holding B's book: B's own
            // dump, or, when the subscription lands just after a --loop restart (no book known
            // yet), the replayed opening dump, which also holds A's book.
            var sawBFrameAfterDump = false
            var dumpSeen = false
            for _ in 0..<2_000 {
                let frame = try #require(try client.nextData())
                let ids = normalizedEvents(frame).map(\.assetID)
                guard ids.contains(F.assetB) else { continue }
                if !dumpSeen {
                    let books = try #require(bookObjects(frame), "B's first message must be its book")
                    let assets = books.map(\.0)
                    #expect(assets == [F.assetB] || Set(assets) == [F.assetA, F.assetB], "\(assets)")
                    dumpSeen = true
                } else if bookObjects(frame) == nil {
                    sawBFrameAfterDump = true
                    break
                }
            }
            #expect(dumpSeen)
            #expect(sawBFrameAfterDump)
        }
    }

    @Test func subscriptionOverTheAssetLimitIsRefused() throws {
        try withServer({ $0.maxAssets = 1 }) { server, _ in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA, F.assetB])
            let close = try #require(try client.waitForClose())
            #expect(close.code == .policyViolation)
            #expect(close.reason.contains("too many assets: 2 (limit 1)"))
        }
    }

    @Test func dropAtDropsTheConnectionAfterNFrames() throws {
        try withServer({ $0.dropAfterFrames = 5 }) { server, log in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA])
            var frames = 0
            var ending: WebSocketCloseInfo?
            while let message = try client.connection.receive(timeout: .seconds(10)) {
                if message.kind == .text { frames += 1 }
                if message.kind == .close {
                    ending = message.close
                    break
                }
            }
            #expect(frames == 5)
            #expect(ending?.code == .abnormalClosure)
            #expect(log.wait { $0.kind == .dropped } != nil)
        }
    }

    @Test func idleCloseEndsTheConnectionWithoutACloseFrame() throws {
        try withServer({ $0.idleClose = .milliseconds(300) }) { server, log in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA])
            let close = try #require(try client.waitForClose(timeout: .seconds(20)))
            #expect(close.code == .abnormalClosure)
            #expect(!close.isClean)
            #expect(log.wait { $0.kind == .idleClose } != nil)
        }
    }

    @Test func noPongLeavesPingUnanswered() throws {
        try withServer({ $0.answerPings = false }) { server, _ in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA])
            try client.connection.send(text: "PING")
            let expected = try expectedStream(for: [F.assetA]).count + 1
            var texts: [String] = []
            while let message = try client.next(timeout: .milliseconds(1500)), message.kind == .text {
                texts.append(message.text)
            }
            #expect(texts.count == expected)
            #expect(!texts.contains("PONG"))
        }
    }

    @Test func clientsBeyondMaxClientsAreRefused() throws {
        try withServer({ $0.maxClients = 1 }) { server, log in
            let first = try MarketClient(url: server.url)
            try first.subscribe([F.assetA])
            _ = try #require(try first.nextData())
            let second = try MarketClient(url: server.url)
            let close = try #require(try second.waitForClose())
            #expect(close.code.rawValue == 1013)
            #expect(log.wait { $0.kind == .clientRefused } != nil)
        }
    }

    @Test func slowClientIsDisconnectedWhileAFastOneKeepsReceiving() throws {
        try withServer(Self.slowClientOptions, Self.slowAndFastClients)
    }

    static func slowClientOptions(_ options: inout ServeOptions) {
        options.speed = .factor(1000)
        options.loop = true
        options.clientBufferFrames = 3000
        options.socketSendBufferBytes = 4096
    }

    static func shrinkReceiveBuffer(_ descriptor: Int32) {
        var small: Int32 = 4096
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
    }

    static func slowAndFastClients(_ server: ReplayServer, _ log: ServeEventLog) throws {
        let all = ServeFixture.tape.assetIDs
        let slow = try MarketClient(url: server.url)
        shrinkReceiveBuffer(slow.connection.fileDescriptor)
        try slow.subscribe(all)
        #expect(log.wait { $0.kind == .subscribed && $0.client == 1 } != nil)
        let fast = try MarketClient(url: server.url)
        try fast.subscribe(all)
        // The fast client reads until the slow one (never reading) has been dropped.
        var fastFrames = 0
        let end = ContinuousClock.now + .seconds(40)
        while ContinuousClock.now < end, !log.all.contains(where: { $0.kind == .slowConsumer && $0.client == 1 }) {
            _ = try #require(try fast.nextData())
            fastFrames += 1
        }
        let dropped = log.all.first { $0.kind == .slowConsumer }
        #expect(dropped?.client == 1)
        // ...and keeps receiving afterwards.
        for _ in 0..<200 { _ = try #require(try fast.nextData()) }
        #expect(!log.all.contains { $0.kind == .slowConsumer && $0.client == 2 })
        let ending = try #require(try slow.waitForClose(timeout: .seconds(20)))
        #expect(ending.code == .abnormalClosure)
        #expect(fastFrames > 0)
    }

    @Test func sharedClockGivesLateClientsTheCurrentBooks() throws {
        try withServer({ $0.sharedClock = true }) { server, log in
            let early = try MarketClient(url: server.url)
            try early.subscribe([F.assetA])
            let opening = try #require(try early.nextData())
            #expect(bookObjects(opening)?.map(\.0) == [F.assetA])
            // At max speed the shared clock runs while someone is subscribed.
            #expect(log.wait { $0.kind == .tapeEnded } != nil)
            let late = try MarketClient(url: server.url)
            try late.subscribe([F.assetA])
            let message = try #require(try late.nextData())
            let books = try #require(bookObjects(message))
            #expect(books.map(\.0) == [F.assetA])
            // The book at the end of the tape carries the hash of the tape's last change for A.
            let lastHash = try ServeFixture.recordedFrames().flatMap(normalizedEvents).compactMap {
                event -> ExchangeHash? in
                if case .priceChange(let change) = event, change.assetID == F.assetA { return change.hash }
                return nil
            }.last
            #expect(lastHash != nil)
            guard case .book(let book) = normalizedEvents(books[0].1).first else {
                Issue.record("not a book")
                return
            }
            #expect(book.hash == lastHash)
            #expect(books[0].1 != opening.dropFirst().dropLast().map { $0 })
        }
    }

    @Test func loopPlaysTheTapeAgainFromItsOpeningDump() throws {
        let expected = try expectedStream(for: [F.assetA])
        let opening = try openingBookObjects()
        try withServer({ $0.loop = true }) { server, log in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA])
            _ = try #require(try client.nextData())
            for round in 0..<2 {
                if round > 0 {
                    // The tape's opening dump again, cut down to our asset: the books re-snapshot.
                    let again = try #require(try client.nextData())
                    let books = try #require(bookObjects(again))
                    #expect(books.map(\.0) == [F.assetA])
                    #expect(books.first?.1 == opening[F.assetA])
                }
                var received: [[OwnedEvent]] = []
                while received.count < expected.count, let frame = try client.nextData() {
                    received.append(normalizedEvents(frame))
                }
                #expect(received == expected)
            }
            #expect(log.wait { $0.kind == .loopRestarted } != nil)
        }
    }

    @Test func pacedSpeedNeverRunsAheadOfTheTapeClock() throws {
        // Frames are due at (recv_mono - recv_mono of the first streamed frame) / factor after
        // the dump. Only this lower bound is checked: a loaded machine may be slower, never faster.
        let expected = try expectedStream(for: [F.assetA])
        var clocks: [(Int64, Bool)] = []  // (mono_ns, has an event for A)
        try TapeReader(paths: [F.tapePath]).forEachFrame { frame in
            let events = normalizedEvents(Array(frame.bytes))
            clocks.append((frame.monoNs, events.contains { $0.assetID == F.assetA }))
        }
        let lastA = try #require(clocks.last(where: { $0.1 })?.0)
        let span = Duration.nanoseconds((lastA - clocks[1].0) / 200)
        #expect(span > .milliseconds(100))
        try withServer({ $0.speed = .factor(200) }) { server, _ in
            let client = try MarketClient(url: server.url)
            try client.subscribe([F.assetA])
            _ = try #require(try client.nextData())
            let start = ContinuousClock.now
            var received = 0
            while received < expected.count, try client.nextData() != nil { received += 1 }
            #expect(received == expected.count)
            #expect(ContinuousClock.now - start >= span * 0.9)
        }
    }

    /// The go-comment tape (two opening books without tick_size, hashed with the 10-field
    /// recipe) with the market's side data (corpus hash-vectors: min_order_size 5, tick 0.01)
    /// added to its header, written as plain NDJSON into a temporary directory.
    static func goCommentTape(negRisk: Bool) throws -> (URL, String) {
        let reader = try TapeReader(paths: [Repo.fixture("tapes/go-comment-2025-12-23.ndjson.zst").path])
        var lines: [String] = []
        while let line = try reader.nextLine() { lines.append(String(decoding: line, as: UTF8.self)) }
        let marketEnd = #"dfde4"}"#
        #expect(lines[0].contains(marketEnd))
        lines[0] = lines[0].replacingOccurrences(
            of: marketEnd, with: #"dfde4","min_order_size":"5","neg_risk":\#(negRisk),"tick_size":"0.01"}"#)
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("polytape-serve-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("go-comment.ndjson").path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return (directory, path)
    }

    @Test(arguments: [false, true])
    func dumpHashIsComputedWithTheExchangeRecipeWhenSideDataIsKnown(negRisk: Bool) throws {
        let (directory, path) = try Self.goCommentTape(negRisk: negRisk)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tape = try ServeTape(paths: [path])
        let recorded = try TapeReader(paths: [path])
        var opening: [UInt8] = []
        try recorded.forEachFrame { if opening.isEmpty { opening = Array($0.bytes) } }
        let recordedBooks = try #require(bookObjects(opening))
        #expect(recordedBooks.count == 2)
        var options = ServeOptions()
        options.speed = .max
        let server = try ReplayServer(tape: tape, options: options)
        server.start()
        defer { server.stop() }
        let client = try MarketClient(url: server.url)
        try client.subscribe(recordedBooks.map(\.0))
        let message = try #require(try client.nextData())
        let served = try #require(bookObjects(message))
        #expect(served.map(\.0) == recordedBooks.map(\.0))
        for (mine, theirs) in zip(served, recordedBooks) {
            guard case .book(let book) = normalizedEvents(mine.1).first,
                case .book(let original) = normalizedEvents(theirs.1).first
            else {
                Issue.record("not books")
                continue
            }
            #expect(book.bids == original.bids && book.asks == original.asks)
            // Right side data: the recomputed hash is the exchange's. Wrong neg_risk: it is not,
            // which shows the hash was computed rather than copied from the tape.
            #expect((book.hash == original.hash) == !negRisk)
        }
    }

    @Test func manyConcurrentClientsEachGetTheirOwnStreamFromTheStart() throws {
        let assets = ServeFixture.tape.assetIDs
        #expect(assets.count == 28)
        // Eight clients, each on a different pair of assets, connected one after another so
        // later ones start while earlier ones are mid-tape: every one still gets the whole tape.
        let pairs = (0..<8).map { [assets[$0 * 3], assets[$0 * 3 + 1]] }
        let expected = try pairs.map { try expectedStream(for: Set($0)) }
        #expect(expected.filter { !$0.isEmpty }.count >= 2)
        try withServer({ $0.speed = .factor(500) }) { server, _ in
            let clients = try pairs.map { pair -> MarketClient in
                let client = try MarketClient(url: server.url)
                try client.subscribe(pair)
                return client
            }
            let results = Mutex<[Int: [[OwnedEvent]]]>([:])
            let dumps = Mutex<[Int: [String]]>([:])
            DispatchQueue.concurrentPerform(iterations: clients.count) { index in
                let client = clients[index]
                guard let dump = try? client.nextData(), let books = bookObjects(dump) else { return }
                dumps.withLock { $0[index] = books.map(\.0) }
                var received: [[OwnedEvent]] = []
                while received.count < expected[index].count, let frame = try? client.nextData() {
                    received.append(normalizedEvents(frame))
                }
                results.withLock { $0[index] = received }
            }
            for index in pairs.indices {
                #expect(dumps.withLock { $0[index] } == pairs[index])
                #expect(results.withLock { $0[index] } == expected[index], "client \(index)")
            }
        }
    }

    @Test func slicedTapeStartsFromItsWarmUpBooks() throws {
        // `replay tape slice --from` keeps the frames before the window as warm-up: they are
        // applied to the books (so the dump is the book at the window's start) but never sent.
        let from: Int64 = 1_790_267_400_000  // ms, about 21 s into the tape
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("polytape-serve-slice-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let slice = directory.appendingPathComponent("window.ndjson.zst").path
        let cutter = try ChildProcess(
            executable: Repo.executable("replay"),
            arguments: ["tape", "slice", F.tapePath, "--from", String(from), "-o", slice])
        try #require(cutter.waitForExit(timeout: .seconds(30)) == 0)

        var before: [[UInt8]] = []
        var window: [[UInt8]] = []
        try TapeReader(paths: [F.tapePath]).forEachFrame { frame in
            if frame.recvWallNs < from * 1_000_000 {
                before.append(Array(frame.bytes))
            } else {
                window.append(Array(frame.bytes))
            }
        }
        let lastHashBefore = before.flatMap(normalizedEvents).compactMap { event -> ExchangeHash? in
            switch event {
            case .book(let book) where book.assetID == F.assetA: return book.hash
            case .priceChange(let change) where change.assetID == F.assetA: return change.hash
            default: return nil
            }
        }.last
        let expected = window.map { normalizedEvents($0).filter { $0.assetID == F.assetA } }.filter { !$0.isEmpty }
        #expect(!expected.isEmpty)

        var options = ServeOptions()
        options.speed = .max
        let server = try ReplayServer(tape: try ServeTape(paths: [slice]), options: options)
        server.start()
        defer { server.stop() }
        let client = try MarketClient(url: server.url)
        try client.subscribe([F.assetA])
        let message = try #require(try client.nextData())
        let books = try #require(bookObjects(message))
        guard case .book(let book) = normalizedEvents(books[0].1).first else {
            Issue.record("not a book")
            return
        }
        #expect(book.hash == lastHashBefore)
        var received: [[OwnedEvent]] = []
        while received.count < expected.count, let frame = try client.nextData() {
            received.append(normalizedEvents(frame))
        }
        #expect(received == expected)
    }

    @Test func speedParsing() {
        #expect(ServeSpeed("max") == .max)
        #expect(ServeSpeed("1x") == .factor(1))
        #expect(ServeSpeed("2.5x") == .factor(2.5))
        #expect(ServeSpeed("10") == .factor(10))
        #expect(ServeSpeed("0x") == nil)
        #expect(ServeSpeed("fast") == nil)
    }

    @Test func commandLineErrors() throws {
        #expect(throws: UsageError.self) { try ServeCommand.parse([]) }
        #expect(throws: UsageError.self) { try ServeCommand.parse([F.tapePath, "--speed", "warp"]) }
        #expect(throws: UsageError.self) { try ServeCommand.parse([F.tapePath, "--tls-cert", "a.pem"]) }
        #expect(throws: UsageError.self) { try ServeCommand.parse([F.tapePath, "--port", "70000"]) }
        #expect(throws: UsageError.self) { try ServeCommand.parse([F.tapePath, "--bogus"]) }
        let parsed = try ServeCommand.parse([
            F.tapePath, "--port", "0", "--speed", "10x", "--loop", "--drop-at", "7", "--max-assets", "3",
            "--idle-close", "1.5", "--no-pong",
        ])
        #expect(parsed.options.speed == .factor(10))
        #expect(parsed.options.loop)
        #expect(parsed.options.dropAfterFrames == 7)
        #expect(parsed.options.maxAssets == 3)
        #expect(parsed.options.idleClose == .milliseconds(1500))
        #expect(!parsed.options.answerPings)
        #expect(ServeCommand.main([]) == ExitStatus.usage)
        #expect(ServeCommand.main(["/nonexistent/tape.ndjson.zst"]) == ExitStatus.failure)
    }
}
