import Feed
import Foundation
import Testing

@testable import Engine

/// Encodes with `write` into 8-aligned scratch memory and decodes it back.
func roundTrip<R>(size: Int, write: (UnsafeMutableRawPointer) -> Void, check: (RecordHeader, DecodedRecord) -> R) -> R {
    let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
    defer { memory.deallocate() }
    write(memory)
    let (header, record) = RecordCodec.decode(at: memory)
    return check(header, record)
}

@Suite struct RecordCodecTests {
    @Test func bookRoundTrip() {
        let bids = [level(47, 100), level(48, 250)]
        let asks = [level(55, 10), level(52, 30), level(50, 5)]
        withBook(asset: "asset-A", bids: bids, asks: asks, hash: ExchangeHash(high: 9, middle: 8, low: 7)) { event in
            let size = RecordCodec.size(event)
            #expect(size % 8 == 0)
            roundTrip(size: size, write: { RecordCodec.write(event, enqueueNanos: 42, to: $0, length: size) }) {
                header, record in
                #expect(header.enqueueNanos == 42)
                #expect(Int(header.length) == size)
                guard case .book(let decoded) = record else {
                    Issue.record("expected a book, got \(record)")
                    return
                }
                #expect(string(decoded.assetID) == "asset-A")
                #expect(string(decoded.market) == "0xmarket")
                #expect(Array(decoded.bids) == bids)
                #expect(Array(decoded.asks) == asks)
                #expect(decoded.hash == ExchangeHash(high: 9, middle: 8, low: 7))
                #expect(decoded.tickSize == decimal(10_000))
                #expect(decoded.lastTradePrice?.digits == 3)
                #expect(decoded.timestampMs == 1)
                #expect(decoded.hadEventType)
            }
        }
    }

    @Test func maximumSizeBookFitsExactlyAndOneMoreLevelDoesNot() throws {
        let capacity = RingLayout.minimumCapacity
        let limit = capacity / 2
        // Find the largest level count whose record is within the ring's record limit.
        let asset = String(repeating: "9", count: 77)
        let perLevel = MemoryLayout<PriceLevel>.stride
        let levels = (0..<(limit / perLevel)).map { level(Int64($0 % 99 + 1), Int64($0 + 1)) }
        var fitting = 0
        for count in stride(from: levels.count, through: 0, by: -1) {
            let size = withBook(
                asset: asset, bids: Array(levels[0..<count / 2]), asks: Array(levels[count / 2..<count])
            ) {
                RecordCodec.size($0)
            }
            if size <= limit {
                fitting = count
                break
            }
        }
        #expect(fitting > 900)
        let bids = Array(levels[0..<fitting / 2])
        let asks = Array(levels[fitting / 2..<fitting])
        withBook(asset: asset, bids: bids, asks: asks) { event in
            let size = RecordCodec.size(event)
            #expect(size <= limit)
            roundTrip(size: size, write: { RecordCodec.write(event, enqueueNanos: 1, to: $0, length: size) }) {
                _, record in
                guard case .book(let decoded) = record else {
                    Issue.record("expected a book")
                    return
                }
                #expect(Array(decoded.bids) == bids)
                #expect(Array(decoded.asks) == asks)
                #expect(string(decoded.assetID) == asset)
            }
        }
        let tooBig = withBook(asset: asset, bids: bids + [level(1, 1)], asks: asks + [level(2, 2)]) {
            RecordCodec.size($0)
        }
        #expect(tooBig > limit)
    }

    @Test func priceChangeRoundTrip() {
        withPriceChange(asset: "B", cents: 48, size: 7, side: .bid) { event in
            let size = RecordCodec.size(event)
            roundTrip(
                size: size, write: { RecordCodec.write(event, enqueueNanos: 7, assetSlot: 9, to: $0, length: size) }
            ) {
                header, record in
                guard case .priceChange(let d) = record else {
                    Issue.record("expected a price change")
                    return
                }
                #expect(header.kind == RecordKind.priceChange.rawValue)
                #expect(string(d.assetID) == "B")
                // The worker takes a price change's market from its book, so the record leaves it out.
                #expect(d.market.isEmpty)
                #expect(d.price == event.price && d.size == event.size && d.side == .bid)
                #expect(d.hash == event.hash && d.bestBid == event.bestBid && d.bestAsk == nil)
                #expect(d.generation == .g3 && d.indexInMessage == 1 && d.countInMessage == 2 && d.timestampMs == 2)
            }
        }
    }

    @Test func lastTradeTickSizeBestBidAskAndOtherRoundTrip() {
        withLastTrade(asset: "C") { event in
            let size = RecordCodec.size(event)
            roundTrip(size: size, write: { RecordCodec.write(event, enqueueNanos: 1, to: $0, length: size) }) {
                _, record in
                guard case .lastTrade(let d) = record else {
                    Issue.record("expected last trade")
                    return
                }
                #expect(string(d.assetID) == "C" && d.price == event.price && d.size.digits == 6 && d.side == .ask)
            }
        }
        withTickSize(asset: "D") { event in
            let size = RecordCodec.size(event)
            roundTrip(size: size, write: { RecordCodec.write(event, enqueueNanos: 1, to: $0, length: size) }) {
                _, record in
                guard case .tickSizeChange(let d) = record else {
                    Issue.record("expected tick size change")
                    return
                }
                #expect(string(d.assetID) == "D" && d.oldTickSize == event.oldTickSize && d.newTickSize.digits == 3)
            }
        }
        withBestBidAsk(asset: "E") { event in
            let size = RecordCodec.size(event)
            roundTrip(size: size, write: { RecordCodec.write(event, enqueueNanos: 1, to: $0, length: size) }) {
                _, record in
                guard case .bestBidAsk(let d) = record else {
                    Issue.record("expected best bid/ask")
                    return
                }
                #expect(
                    string(d.assetID) == "E" && d.bestBid == event.bestBid && d.bestAsk == event.bestAsk
                        && d.spread == nil)
            }
        }
        withOther(asset: "F") { event in
            let size = RecordCodec.size(event)
            roundTrip(size: size, write: { RecordCodec.write(event, enqueueNanos: 1, to: $0, length: size) }) {
                _, record in
                guard case .other(let d) = record else {
                    Issue.record("expected other")
                    return
                }
                #expect(
                    string(d.assetID) == "F" && string(d.eventType) == "market_resolved" && d.kind == .marketResolved)
            }
        }
    }

    @Test func controlRecordsRoundTrip() {
        func decode(_ bytes: [UInt8]) -> DecodedRecord {
            roundTrip(size: bytes.count, write: { $0.copyMemory(from: bytes, byteCount: bytes.count) }) { $1 }
        }
        if case .invalidate(let ids) = decode(
            RecordCodec.controlRecord(kind: .invalidate, extra: RecordCodec.invalidationPayload(["a", "", "ccc"])))
        {
            #expect(ids == ["a", "", "ccc"])
        } else {
            Issue.record("expected invalidate")
        }
        if case .query(let id, let asset, let depth) = decode(
            RecordCodec.controlRecord(
                kind: .query, asset: Array("xyz".utf8), query: QueryFixed(requestID: 77, depth: 5)))
        {
            #expect(id == 77 && string(asset) == "xyz" && depth == 5)
        } else {
            Issue.record("expected query")
        }
        if case .sideData(let asset, let json) = decode(
            RecordCodec.controlRecord(kind: .sideData, asset: Array("A1".utf8), extra: Array("{}".utf8)))
        {
            #expect(string(asset) == "A1" && string(json) == "{}")
        } else {
            Issue.record("expected side data")
        }
        if case .stop = decode(RecordCodec.controlRecord(kind: .stop)) {} else { Issue.record("expected stop") }
        if case .testHang(let ignoreTerm) = decode(RecordCodec.controlRecord(kind: .testHang, flags: 1)) {
            #expect(ignoreTerm)
        } else {
            Issue.record("expected test hang")
        }
    }
}

@Suite struct WorkerCoreTests {
    /// Encodes an event as a ring record and hands it to the core, as the worker loop does.
    /// Goes through `handleRecord(at:)`, the worker loop's entry (fast path for books and price
    /// changes, `DecodedRecord` for the rest).
    func feed(_ core: inout WorkerCore, size: Int, write: (UnsafeMutableRawPointer) -> Void) -> WorkerAction {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { memory.deallocate() }
        write(memory)
        core.beginTiming()
        let action = core.handleRecord(at: memory)
        core.settle()
        return action
    }

    @Test func eachEventTypeIsCountedAndBooksChange() {
        var core = WorkerCore(index: 0, verifyExchangeHash: false)
        withBook(asset: "A", bids: [level(48, 10)], asks: [level(52, 10)]) { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        #expect(core.stats.snapshotsReceived == 1 && core.stats.updatesApplied == 1)
        let before = core.store.summary(assetID: "A", depth: 10)
        withPriceChange(asset: "A", cents: 49, size: 5, side: .bid) { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        #expect(core.stats.priceChanges == 1 && core.stats.updatesApplied == 2)
        #expect(core.store.summary(assetID: "A", depth: 10) != before)
        withLastTrade(asset: "A") { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        withTickSize(asset: "A") { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        withBestBidAsk(asset: "A") { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        withOther(asset: "A") { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        #expect(core.stats.lastTrades == 1)
        #expect(core.stats.tickSizeChanges == 1)
        #expect(core.stats.bestBidAsks == 1)
        #expect(core.stats.otherEvents == 1)
        #expect(core.stats.messagesProcessed == 6)
        #expect(core.stats.updatesApplied == 3)
        #expect(core.latency.count == 6)
        core.refreshGauges()
        #expect(core.stats.bookCount == 1)
        #expect(core.stats.residentBytes > 0)
    }

    @Test func latencyIsSettledWithOneClockReadPerRunOfRecords() {
        var core = WorkerCore(index: 0, verifyExchangeHash: false)
        core.beginTiming()
        let start = core.clock
        for index in 0..<(WorkerCore.clockEvery + 3) {
            withPriceChange(asset: "A", cents: 40, size: Int64(index + 1), side: .bid) { e in
                let size = RecordCodec.size(e)
                let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
                defer { memory.deallocate() }
                RecordCodec.write(e, enqueueNanos: start, to: memory, length: size)
                _ = core.handleRecord(at: memory)
            }
        }
        // A full run of `clockEvery` records was settled; the last 3 wait for the next read.
        #expect(core.stats.messagesProcessed == UInt64(WorkerCore.clockEvery + 3))
        #expect(core.latency.count == UInt64(WorkerCore.clockEvery))
        core.settle()
        #expect(core.latency.count == UInt64(WorkerCore.clockEvery + 3))
        #expect(core.stats.processingTimeNanos == core.stats.lastMessageMonotonicNanos - start)
        #expect(core.latency.max <= core.stats.lastMessageMonotonicNanos - start + 1)
    }

    @Test func priceChangeBeforeAnyBookIsProcessedButNotApplied() {
        var core = WorkerCore(index: 0, verifyExchangeHash: false)
        withPriceChange(asset: "no-book-yet", cents: 49, size: 5, side: .bid) { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        #expect(core.stats.messagesProcessed == 1)
        #expect(core.stats.priceChanges == 1)
        #expect(core.stats.updatesApplied == 0)
        #expect(core.store.bookCount == 0)
    }

    @Test func controlMessagesAreNotDataMessages() {
        var core = WorkerCore(index: 0, verifyExchangeHash: false)
        withBook(asset: "A", bids: [level(48, 10)], asks: []) { e in
            let size = RecordCodec.size(e)
            _ = feed(&core, size: size) { RecordCodec.write(e, enqueueNanos: 1, to: $0, length: size) }
        }
        let query = RecordCodec.controlRecord(
            kind: .query, asset: Array("A".utf8), query: QueryFixed(requestID: 3, depth: 1))
        let action = feed(&core, size: query.count) { $0.copyMemory(from: query, byteCount: query.count) }
        guard case .reply(let frame) = action else {
            Issue.record("a query must produce a reply")
            return
        }
        #expect(frame[4] == ReplyType.queryAnswer.rawValue)
        let answer = try? JSONDecoder().decode(QueryAnswer.self, from: Data(frame[5...]))
        #expect(answer?.requestID == 3)
        #expect(answer?.summary != nil)
        let invalidate = RecordCodec.controlRecord(kind: .invalidate, extra: RecordCodec.invalidationPayload(["A"]))
        _ = feed(&core, size: invalidate.count) { $0.copyMemory(from: invalidate, byteCount: invalidate.count) }
        // Invalidation marks the book untrusted until its next snapshot (a connection gap).
        #expect(core.store.summary(assetID: "A", depth: 0)?.trusted == false)
        let stop = RecordCodec.controlRecord(kind: .stop)
        if case .stop = feed(&core, size: stop.count, write: { $0.copyMemory(from: stop, byteCount: stop.count) }) {
        } else {
            Issue.record("stop must stop")
        }
        #expect(core.stats.messagesProcessed == 1)
        #expect(core.stats.controlMessages == 2)
    }
}
