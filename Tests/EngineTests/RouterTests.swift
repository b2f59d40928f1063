import Feed
import Testing

@testable import Engine

/// Router behaviour checked by reading the rings in-process (no worker processes needed:
/// an unstarted pool's channels accept records).
@Suite struct RouterTests {
    /// Every record in a channel's ring, decoded to (kind, asset, timestamp).
    func drain(_ channel: WorkerChannel) -> [(kind: UInt8, asset: String, timestampMs: Int64)] {
        var consumer = RingConsumer(
            ring: channel.ring, dataWakeFD: channel.dataWakeFD, spaceWakeFD: channel.spaceWakeFD)
        var records: [(UInt8, String, Int64)] = []
        guard consumer.refresh() else { return [] }
        while let pointer = consumer.next() {
            let (header, record) = RecordCodec.decode(at: pointer)
            switch record {
            case .priceChange(let e): records.append((header.kind, string(e.assetID), e.timestampMs))
            case .book(let e): records.append((header.kind, string(e.assetID), e.timestampMs))
            case .other(let e): records.append((header.kind, string(e.assetID), e.timestampMs))
            default: records.append((header.kind, "", 0))
            }
            consumer.advance(Int(header.length))
        }
        consumer.release()
        return records
    }

    /// Every record in a channel's ring, described by `describe` (header, decoded record, and
    /// the record's address for fields `DecodedRecord` leaves out).
    func records(
        _ channel: WorkerChannel, _ describe: (RecordHeader, DecodedRecord, UnsafeRawPointer) -> String
    ) -> [String] {
        var consumer = RingConsumer(
            ring: channel.ring, dataWakeFD: channel.dataWakeFD, spaceWakeFD: channel.spaceWakeFD)
        var seen: [String] = []
        guard consumer.refresh() else { return [] }
        while let pointer = consumer.next() {
            let (header, record) = RecordCodec.decode(at: pointer)
            seen.append(describe(header, record, pointer))
            consumer.advance(Int(header.length))
        }
        consumer.release()
        return seen
    }

    @Test func entriesOfOneFrameGoToTheirAssetsWorkersInTapeOrder() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        var router = try Router(channels: manager.inputChannels, batchSize: 4)
        // Like a G3 frame with mirrored entries: asset-1 (worker 1) and asset-2 (worker 0) alternate.
        for sequence in 0..<50 {
            let asset = sequence % 2 == 0 ? "asset-1" : "asset-2"
            withPriceChange(asset: asset, cents: 40, size: 1, side: .bid, timestampMs: Int64(sequence)) {
                router.onPriceChange($0)
            }
        }
        try router.flush()
        let worker0 = drain(manager.inputChannels[0])
        let worker1 = drain(manager.inputChannels[1])
        #expect(worker0.count == 25 && worker1.count == 25)
        #expect(worker0.allSatisfy { $0.asset == "asset-2" })
        #expect(worker1.allSatisfy { $0.asset == "asset-1" })
        #expect(worker0.map(\.timestampMs) == Array(stride(from: 1, to: 50, by: 2)))
        #expect(worker1.map(\.timestampMs) == Array(stride(from: 0, to: 50, by: 2)))
        #expect(router.stats.priceChanges == 50 && router.stats.routed == 50)
        // 4-record batches plus the final flush of each ring.
        #expect(router.stats.batches == 14)
    }

    @Test func booksAndPriceChangesCarryTheAssetsSlotAtItsWorkerCountingFromOne() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        var router = try Router(channels: manager.inputChannels)
        let order = ["asset-1", "asset-2", "asset-4", "asset-1", "asset-6", "asset-2", "asset-4"]
        for asset in order {
            withBook(asset: asset, bids: [level(40, 1)], asks: []) { router.onBook($0) }
            withPriceChange(asset: asset, cents: 41, size: 1, side: .bid) { router.onPriceChange($0) }
        }
        try router.flush()
        func slots(_ channel: WorkerChannel) -> [String] {
            records(channel) { header, record, pointer in
                let slot = RecordCodec.assetSlot(at: pointer, kind: header.kind)
                switch record {
                case .book(let e): return "book \(string(e.assetID)) \(slot)"
                case .priceChange(let e): return "change \(string(e.assetID)) \(slot)"
                default: return "other"
                }
            }
        }
        // Expected: per worker, an asset's slot is its rank among that worker's assets by first appearance.
        for worker in 0..<2 {
            var firstSeen: [String] = []
            var expected: [String] = []
            for asset in order where try Router.worker(forAssetID: asset, workerCount: 2) == worker {
                if !firstSeen.contains(asset) { firstSeen.append(asset) }
                let slot = firstSeen.firstIndex(of: asset)! + 1
                expected += ["book \(asset) \(slot)", "change \(asset) \(slot)"]
            }
            #expect(slots(manager.inputChannels[worker]) == expected)
            #expect(firstSeen.count == 2, "the four assets split two and two over the workers")
        }
    }

    /// A trade is announced on one token, but the market's last trade price is in every token's
    /// exchange hash: the workers holding the market's other tokens get a `marketTrade` copy, in
    /// order with their other records; a worker holding no token of the market gets nothing.
    @Test func aTradeReachesEveryWorkerHoldingATokenOfItsMarket() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        var router = try Router(channels: manager.inputChannels)
        // asset-1 → worker 1, asset-2 → worker 0 (RoutingTests); asset-4 shares a worker with one.
        let w1 = try Router.worker(forAssetID: "asset-1", workerCount: 2)
        let w2 = try Router.worker(forAssetID: "asset-2", workerCount: 2)
        #expect(w1 != w2)
        withBook(asset: "asset-1", market: "0xboth", bids: [level(40, 1)], asks: []) { router.onBook($0) }
        withBook(asset: "asset-2", market: "0xboth", bids: [level(40, 1)], asks: []) { router.onBook($0) }
        withBook(asset: "asset-1", market: "0xalone", bids: [level(40, 1)], asks: []) { router.onBook($0) }
        withLastTrade(asset: "asset-1", market: "0xboth") { router.onLastTrade($0) }
        withLastTrade(asset: "asset-1", market: "0xalone") { router.onLastTrade($0) }
        withLastTrade(asset: "asset-2", market: "0xnobook") { router.onLastTrade($0) }
        try router.flush()
        func kinds(_ worker: Int) -> [String] {
            records(manager.inputChannels[worker]) { _, record, _ in
                switch record {
                case .book(let e): return "book \(string(e.assetID)) \(string(e.market))"
                case .lastTrade(let e): return "trade \(string(e.assetID)) \(string(e.market))"
                case .marketTrade(let e): return "copy \(string(e.assetID)) \(string(e.market))"
                default: return "other"
                }
            }
        }
        #expect(
            kinds(w1) == [
                "book asset-1 0xboth", "book asset-1 0xalone", "trade asset-1 0xboth", "trade asset-1 0xalone",
            ])
        #expect(kinds(w2) == ["book asset-2 0xboth", "copy asset-1 0xboth", "trade asset-2 0xnobook"])
        #expect(router.stats.marketTradeCopies == 1)
        #expect(router.stats.routed == 6)
        #expect(router.stats.perWorker.reduce(0, +) == 6)
    }

    @Test func withOneWorkerTradesAreNotCopied() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: testConfiguration())
        var router = try Router(channels: manager.inputChannels)
        withBook(asset: "asset-1", market: "0xboth", bids: [level(40, 1)], asks: []) { router.onBook($0) }
        withBook(asset: "asset-2", market: "0xboth", bids: [level(40, 1)], asks: []) { router.onBook($0) }
        withLastTrade(asset: "asset-1", market: "0xboth") { router.onLastTrade($0) }
        try router.flush()
        #expect(router.stats.marketTradeCopies == 0)
        #expect(router.stats.routed == 3)
    }

    @Test func eventsWithoutAnAssetAreCountedNotRouted() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        var router = try Router(channels: manager.inputChannels)
        withBytes("new_market") { type in
            router.onOther(
                OtherEvent(
                    kind: .newMarket, eventType: type, assetID: UnsafeRawBufferPointer(start: nil, count: 0),
                    market: UnsafeRawBufferPointer(start: nil, count: 0), timestampMs: 1))
        }
        withOther(asset: "asset-2") { router.onOther($0) }
        router.onControl(.ping)
        router.onControl(.pong)
        router.onError(FeedError(kind: .malformedJSON, offset: 3, expected: "a value"))
        withPriceChange(asset: "", cents: 40, size: 1, side: .bid) { router.onPriceChange($0) }
        try router.flush()
        #expect(router.stats.others == 2)
        #expect(router.stats.unroutable == 1)
        #expect(router.stats.controlFrames == 2)
        #expect(router.stats.parseErrors == 1)
        #expect(router.stats.routingErrors == 1)
        #expect(router.stats.routed == 1)
        let worker0 = drain(manager.inputChannels[0])
        #expect(worker0.map(\.kind) == [RecordKind.other.rawValue])
        #expect(drain(manager.inputChannels[1]).isEmpty)
    }

    @Test func aBookLargerThanHalfTheRingIsARoutingErrorNotAHang() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: testConfiguration(ringCapacity: 1 << 16))
        var router = try Router(channels: manager.inputChannels)
        let levels = (0..<1100).map { level(Int64($0 % 99 + 1), 1) }
        withBook(asset: "huge", bids: levels, asks: levels) { router.onBook($0) }
        withBook(asset: "small", bids: [level(40, 1)], asks: []) { router.onBook($0) }
        try router.flush()
        #expect(router.stats.routingErrors == 1)
        #expect(router.stats.routed == 1)
        #expect(drain(manager.inputChannels[0]).map(\.asset) == ["small"])
    }

    @Test func ringWrapsKeepEveryRecordIntact() throws {
        // 64 KiB ring, records of varying size, drained as they go: many wrap-arounds.
        let manager = try WorkerManager(workerCount: 1, configuration: testConfiguration(ringCapacity: 1 << 16))
        var router = try Router(channels: manager.inputChannels, batchSize: 1)
        var seen: [Int64] = []
        for sequence in 0..<3000 {
            let levels = (0..<(sequence % 37)).map { level(Int64($0 + 1), Int64(sequence)) }
            withBook(asset: "wrap-\(sequence % 7)", bids: levels, asks: [], timestampMs: Int64(sequence)) {
                router.onBook($0)
            }
            if sequence % 50 == 49 { seen += drain(manager.inputChannels[0]).map(\.timestampMs) }
        }
        try router.flush()
        seen += drain(manager.inputChannels[0]).map(\.timestampMs)
        #expect(seen == (0..<3000).map(Int64.init))
        #expect(router.stats.queueFullEvents == 0)
    }
}
