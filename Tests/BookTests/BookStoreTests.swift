import Feed
import TestSupport
import Testing

// BookStore: applying Feed events and counting the feed's known failure patterns.
@testable import Book

private func openingBook(_ asset: String = yesAsset, timestampMs: Int64 = 1_790_000_000_000) -> BookMessage {
    BookMessage(
        asset: asset, timestampMs: timestampMs,
        bids: levels([("0.40", "100"), ("0.45", "50"), ("0.48", "10")]),
        asks: levels([("0.60", "100"), ("0.55", "50"), ("0.52", "10")]), lastTradePrice: "0.500")
}

@Suite struct BookStoreTests {
    @Test func snapshotThenChangesBuildTheBook() {
        let store = BookStore()
        #expect(apply(openingBook(), to: store) == .applied)
        #expect(apply(Change(asset: yesAsset, side: .bid, price: "0.49", size: "5"), to: store) == .applied)
        #expect(apply(Change(asset: yesAsset, side: .ask, price: "0.52", size: "0"), to: store) == .applied)
        let summary = store.summary(assetID: yesAsset, depth: 2)!
        #expect(summary.bestBid == "0.49" && summary.bestAsk == "0.55")
        #expect(summary.bids == [["0.49", "5"], ["0.48", "10"]])
        #expect(summary.asks == [["0.55", "50"], ["0.60", "100"]])
        #expect(summary.market == marketA && summary.trusted && summary.tickSize == "0.01")
        #expect(summary.lastTradePrice == "0.500")
        #expect(summary.lastTimestampMs == 1_790_000_000_100)
        #expect(store.counters.snapshots == 1 && store.counters.priceChanges == 2)
        #expect(store.bookCount == 1)
    }

    @Test func priceChangeBeforeAnySnapshotIsCountedAndInventsNoBook() {
        let store = BookStore()
        #expect(apply(Change(asset: yesAsset, side: .bid, price: "0.49", size: "5"), to: store) == .noBook)
        #expect(store.bookCount == 0)
        store.register(assetID: noAsset, market: marketA)
        #expect(apply(Change(asset: noAsset, side: .bid, price: "0.49", size: "5"), to: store) == .noBook)
        #expect(store.counters.deltasBeforeSnapshot == 2)
        #expect(store.book(forAsset: noAsset)?.bids.isEmpty == true)
        #expect(store.summary(assetID: yesAsset, depth: 1) == nil)
    }

    @Test func crossedOrLockedBookIsFlaggedAndReplayGoesOn() {
        let store = BookStore()
        apply(openingBook(), to: store)
        apply(Change(asset: yesAsset, side: .bid, price: "0.52", size: "1"), to: store)  // locked
        apply(Change(asset: yesAsset, side: .bid, price: "0.53", size: "1"), to: store)  // crossed
        #expect(store.counters.crossedBooks == 2)
        apply(Change(asset: yesAsset, side: .bid, price: "0.53", size: "0"), to: store)  // locked again
        apply(Change(asset: yesAsset, side: .bid, price: "0.52", size: "0"), to: store)  // clear
        #expect(store.counters.crossedBooks == 3)
        #expect(store.counters.priceChanges == 4)
        #expect(store.book(forAsset: yesAsset)?.isCrossedOrLocked == false)
    }

    @Test func offTickLevelsAreCountedButKept() {
        let store = BookStore()
        var opening = openingBook()
        opening.bids.append(PriceLevel(price: dec("0.485"), size: dec("1")))
        apply(opening, to: store)
        #expect(store.counters.offTickLevels == 1)
        apply(Change(asset: yesAsset, side: .ask, price: "0.515", size: "3"), to: store)
        #expect(store.counters.offTickLevels == 2)
        #expect(store.book(forAsset: yesAsset)?.bestAsk?.price == dec("0.515"))
    }

    @Test func nonPositivePriceIsCountedAndNotApplied() {
        let store = BookStore()
        apply(openingBook(), to: store)
        #expect(apply(Change(asset: yesAsset, side: .bid, price: "0", size: "3"), to: store) == .invalidLevel)
        #expect(store.counters.invalidLevels == 1)
        #expect(store.book(forAsset: yesAsset)?.bids.count == 3)
    }

    @Test func g3TopOfBookIsComparedWithTheBooksOwnTop() {
        let store = BookStore()
        apply(openingBook(), to: store)
        // Right: the top after this entry is 0.49 / 0.52.
        apply(
            Change(asset: yesAsset, side: .bid, price: "0.49", size: "5", bestBid: "0.49", bestAsk: "0.52"), to: store)
        // Wrong: the changed level is not the top (0.47 < 0.49); a book that took the top from the
        // changed level would say 0.47.
        apply(
            Change(asset: yesAsset, side: .bid, price: "0.47", size: "5", bestBid: "0.47", bestAsk: "0.52"), to: store)
        #expect(store.counters.topOfBookChecks == 2)
        #expect(store.counters.topOfBookMismatches == 1)
    }

    @Test func emptySidesAreSentAsZeroOrOne() {
        let store = BookStore()
        apply(BookMessage(asset: yesAsset, bids: levels([("0.40", "1")]), asks: levels([("0.60", "1")])), to: store)
        apply(Change(asset: yesAsset, side: .bid, price: "0.40", size: "0", bestBid: "0", bestAsk: "0.60"), to: store)
        apply(Change(asset: yesAsset, side: .ask, price: "0.60", size: "0", bestBid: "0", bestAsk: "1"), to: store)
        apply(Change(asset: yesAsset, side: .ask, price: "0.70", size: "0", bestBid: "0", bestAsk: "0"), to: store)
        #expect(store.counters.topOfBookChecks == 3)
        #expect(store.counters.topOfBookMismatches == 0)
        #expect(store.counters.removalsOfAbsentLevels == 1)
    }

    @Test func bestBidAskEventIsComparedAndChangesNothing() {
        let store = BookStore()
        apply(openingBook(), to: store)
        let digest = store.summary(assetID: yesAsset, depth: 0)!.digest
        #expect(applyBestBidAsk(asset: yesAsset, bid: "0.48", ask: "0.52", to: store) == .applied)
        #expect(store.counters.bestBidAskChecks == 1 && store.counters.bestBidAskMismatches == 0)
        // Wrong top: it waits for the following changes, and a later change decides it.
        applyBestBidAsk(asset: yesAsset, bid: "0.47", ask: "0.52", timestampMs: 1_790_000_000_100, to: store)
        #expect(store.counters.bestBidAskChecks == 1)
        #expect(store.summary(assetID: yesAsset, depth: 0)!.digest == digest)
        apply(Change(asset: yesAsset, timestampMs: 1_790_000_000_200, side: .ask, price: "0.59", size: "1"), to: store)
        #expect(store.counters.bestBidAskChecks == 2 && store.counters.bestBidAskMismatches == 1)
    }

    /// The exchange sends best_bid_ask just before the price change with the same timestamp.
    @Test func bestBidAskAnnouncedBeforeItsChangeMatches() {
        let store = BookStore()
        apply(openingBook(), to: store)
        applyBestBidAsk(asset: yesAsset, bid: "0.48", ask: "0.51", timestampMs: 1_790_000_000_300, to: store)
        apply(Change(asset: yesAsset, timestampMs: 1_790_000_000_300, side: .ask, price: "0.51", size: "4"), to: store)
        #expect(store.counters.bestBidAskChecks == 1 && store.counters.bestBidAskMismatches == 0)
        // One waiting when another arrives is a mismatch; one waiting at a snapshot is checked there.
        applyBestBidAsk(asset: yesAsset, bid: "0.30", ask: "0.51", timestampMs: 1_790_000_000_400, to: store)
        applyBestBidAsk(asset: yesAsset, bid: "0.40", ask: "0.60", timestampMs: 1_790_000_000_500, to: store)
        #expect(store.counters.bestBidAskChecks == 2 && store.counters.bestBidAskMismatches == 1)
        apply(
            BookMessage(
                asset: yesAsset, timestampMs: 1_790_000_000_600, bids: levels([("0.40", "1")]),
                asks: levels([("0.60", "1")])), to: store)
        #expect(store.counters.bestBidAskChecks == 3 && store.counters.bestBidAskMismatches == 1)
    }

    @Test func duplicateMessagesAreIdempotent() {
        let once = BookStore()
        let twice = BookStore()
        let changes = [
            Change(asset: yesAsset, side: .bid, price: "0.49", size: "5"),
            Change(asset: yesAsset, side: .ask, price: "0.52", size: "0"),
            Change(asset: yesAsset, side: .ask, price: "0.53", size: "7.5"),
        ]
        apply(openingBook(), to: once)
        for change in changes { apply(change, to: once) }
        apply(openingBook(), to: twice)
        apply(openingBook(), to: twice)
        for change in changes {
            apply(change, to: twice)
            apply(change, to: twice)
        }
        #expect(once.summaries() == twice.summaries())
        #expect(once.summary(assetID: yesAsset, depth: 10) == twice.summary(assetID: yesAsset, depth: 10))
    }

    @Test func tickSizeChangeWithMixedPrecision() {
        let store = BookStore()
        apply(openingBook(), to: store)
        #expect(applyTickChange(asset: yesAsset, old: "0.01", new: "0.001", to: store) == .applied)
        apply(Change(asset: yesAsset, side: .bid, price: "0.485", size: "4"), to: store)
        apply(Change(asset: yesAsset, side: .bid, price: "0.480", size: "11"), to: store)  // same level as "0.48"
        let summary = store.summary(assetID: yesAsset, depth: 3)!
        #expect(summary.tickSize == "0.001")
        #expect(summary.bids == [["0.485", "4"], ["0.480", "11"], ["0.45", "50"]])
        #expect(store.counters.tickSizeChanges == 1 && store.counters.offTickLevels == 0)
        #expect(summary.bidLevels == 4)
    }

    /// PROTOCOL.md: three price_change generations in one stream [apply all alike].
    @Test func allGenerationsApplyAlike() {
        let mixed = BookStore()
        let g3Only = BookStore()
        apply(openingBook(), to: mixed)
        apply(openingBook(), to: g3Only)
        let steps: [(PriceChangeGeneration, Side, String, String)] = [
            (.g1, .bid, "0.49", "5"), (.g2, .ask, "0.52", "0"), (.g3, .ask, "0.51", "2"), (.g2, .bid, "0.40", "0"),
        ]
        for (generation, side, price, size) in steps {
            apply(Change(asset: yesAsset, side: side, price: price, size: size, generation: generation), to: mixed)
            apply(Change(asset: yesAsset, side: side, price: price, size: size), to: g3Only)
        }
        #expect(mixed.summary(assetID: yesAsset, depth: 5) == g3Only.summary(assetID: yesAsset, depth: 5))
        #expect(mixed.counters == g3Only.counters)
    }

    @Test func staleRestSnapshotIsRejected() {
        let store = BookStore()
        apply(openingBook(timestampMs: 2_000), to: store)
        apply(Change(asset: yesAsset, timestampMs: 3_000, side: .bid, price: "0.49", size: "5"), to: store)
        var rest = openingBook(timestampMs: 2_500)
        rest.hadEventType = false
        rest.bids = levels([("0.30", "1")])
        #expect(apply(rest, to: store) == .rejectedStale)
        #expect(store.counters.staleSnapshotsRejected == 1)
        #expect(store.book(forAsset: yesAsset)?.bestBid?.price == dec("0.49"))
        // A websocket `book` is always applied, and a fresh REST book is too.
        var wsOld = openingBook(timestampMs: 1_000)
        wsOld.bids = levels([("0.31", "1")])
        #expect(apply(wsOld, to: store) == .applied)
        rest.timestampMs = 4_000
        #expect(apply(rest, to: store) == .applied)
        #expect(store.book(forAsset: yesAsset)?.bestBid?.price == dec("0.30"))
        #expect(store.counters.snapshots == 3)
    }

    @Test func slotHintsGiveTheSameBooksAndCountersAsIdLookups() {
        let hinted = BookStore()
        let plain = BookStore()
        let slots = [yesAsset: 1, noAsset: 2]
        for store in [hinted, plain] {
            let slotted = store === hinted
            for asset in [yesAsset, noAsset] {
                apply(openingBook(asset), slot: slotted ? slots[asset]! : 0, to: store)
            }
            let changes = [
                Change(asset: yesAsset, side: .bid, price: "0.49", size: "5"),
                Change(asset: noAsset, side: .ask, price: "0.52", size: "0"),
                Change(asset: yesAsset, side: .ask, price: "0.51", size: "7"),
                Change(asset: noAsset, side: .bid, price: "0.40", size: "3"),
                Change(asset: yesAsset, side: .bid, price: "0.45", size: "0"),
            ]
            for change in changes { apply(change, slot: slotted ? slots[change.asset]! : 0, to: store) }
            // A hinted event for an asset without a book is still counted as before a snapshot.
            apply(Change(asset: "12345", side: .bid, price: "0.1", size: "1"), slot: slotted ? 3 : 0, to: store)
        }
        #expect(hinted.summaries() == plain.summaries())
        #expect(hinted.counters == plain.counters)
        #expect(hinted.counters.priceChanges == 5)
        #expect(hinted.counters.deltasBeforeSnapshot == 1)
        #expect(hinted.summary(assetID: yesAsset, depth: 0)?.bestBid == "0.49")
    }

    @Test func aRemovedAssetsSlotNeverReachesTheAssetThatReusesItsIndex() {
        let store = BookStore()
        apply(openingBook(yesAsset), slot: 1, to: store)
        apply(openingBook(noAsset), slot: 2, to: store)
        #expect(store.remove(assetID: yesAsset))
        // The next new asset takes the freed index; its own slot is 3.
        let third = "333"
        apply(openingBook(third), slot: 3, to: store)
        #expect(
            apply(Change(asset: yesAsset, side: .bid, price: "0.49", size: "5"), slot: 1, to: store) == .unknownAsset)
        #expect(store.summary(assetID: third, depth: 0)?.bestBid == "0.48")
        #expect(apply(Change(asset: third, side: .bid, price: "0.49", size: "5"), slot: 3, to: store) == .applied)
        #expect(store.summary(assetID: third, depth: 0)?.bestBid == "0.49")
        // Re-subscribing the removed asset under its old slot gives it a book of its own again.
        apply(openingBook(yesAsset), slot: 1, to: store)
        #expect(apply(Change(asset: yesAsset, side: .bid, price: "0.47", size: "1"), slot: 1, to: store) == .applied)
        #expect(store.summary(assetID: third, depth: 0)?.bestBid == "0.49")
        #expect(store.summary(assetID: yesAsset, depth: 0)?.bestBid == "0.48")
        #expect(store.book(forAsset: yesAsset)?.bids.count == 4)
    }

    /// A trade on a token another worker holds reaches this store as a market trade: it sets the
    /// market's price (seen by this market's books) without counting a trade; unknown markets
    /// are ignored.
    @Test func aMarketTradeSetsTheMarketsPriceWithoutCountingATrade() {
        let store = BookStore()
        apply(openingBook(yesAsset), to: store)
        func marketTrade(market: String, price: String) {
            var trade = Array(noAsset.utf8)
            var marketBytes = Array(market.utf8)
            trade.withUnsafeMutableBytes { a in
                marketBytes.withUnsafeMutableBytes { m in
                    store.applyMarketTrade(
                        LastTradeEvent(
                            assetID: UnsafeRawBufferPointer(a), market: UnsafeRawBufferPointer(m), timestampMs: 2,
                            price: dec(price), size: dec("5"), side: .bid))
                }
            }
        }
        marketTrade(market: marketA, price: "0.61")
        #expect(store.summary(assetID: yesAsset, depth: 0)?.lastTradePrice == "0.61")
        #expect(store.counters.lastTrades == 0)
        marketTrade(market: marketB, price: "0.9")
        #expect(store.summary(assetID: yesAsset, depth: 0)?.lastTradePrice == "0.61")
        #expect(store.counters.snapshots == 1 && store.counters.unknownAssetEvents == 0)
    }

    @Test func removedAndUnknownAssetsAreIgnoredAndCounted() {
        let store = BookStore()
        apply(openingBook(), to: store)
        apply(openingBook(noAsset), to: store)
        #expect(store.remove(assetID: noAsset))
        #expect(!store.remove(assetID: noAsset))
        #expect(store.bookCount == 1)
        #expect(apply(Change(asset: noAsset, side: .bid, price: "0.1", size: "1"), to: store) == .unknownAsset)
        #expect(applyTickChange(asset: noAsset, old: "0.01", new: "0.001", to: store) == .unknownAsset)
        #expect(applyBestBidAsk(asset: noAsset, bid: "0.1", ask: "0.2", to: store) == .unknownAsset)
        #expect(applyTrade(asset: "999", market: marketB, price: "0.5", to: store) == .unknownAsset)
        #expect(store.counters.unknownAssetEvents == 4)
        // A trade on the removed token still sets the market's price (both tokens share it).
        #expect(applyTrade(asset: noAsset, price: "0.61", to: store) == .applied)
        #expect(store.summary(assetID: yesAsset, depth: 0)?.lastTradePrice == "0.61")
        #expect(store.summaries().map(\.assetID) == [yesAsset])
        // Re-subscribing works and reuses the slot.
        apply(openingBook(noAsset), to: store)
        #expect(store.bookCount == 2)
        #expect(store.assetIDs(inMarket: marketA) == [noAsset, yesAsset].sorted())
    }

    @Test func invalidationMakesBooksUntrustedUntilTheNextSnapshot() {
        let store = BookStore()
        apply(openingBook(), to: store)
        apply(openingBook(noAsset), to: store)
        store.invalidate(assetIDs: [yesAsset, "not-held"])
        #expect(store.summary(assetID: yesAsset, depth: 0)?.trusted == false)
        #expect(store.summary(assetID: noAsset, depth: 0)?.trusted == true)
        apply(Change(asset: yesAsset, side: .bid, price: "0.49", size: "5"), to: store)
        #expect(store.counters.deltasWhileUntrusted == 1)
        store.invalidateAll()
        store.invalidateAll()
        #expect(store.counters.invalidations == 2, "already-untrusted books are not counted again")
        apply(openingBook(), to: store)
        #expect(store.summary(assetID: yesAsset, depth: 0)?.trusted == true)
        #expect(store.summary(assetID: noAsset, depth: 0)?.trusted == false)
    }

    @Test func lastTradePriceIsPerMarket() {
        let store = BookStore()
        apply(openingBook(), to: store)
        apply(openingBook(noAsset), to: store)
        applyTrade(asset: yesAsset, price: "0.47", to: store)
        #expect(store.summary(assetID: noAsset, depth: 0)?.lastTradePrice == "0.47")
        #expect(store.lastTradePrice(market: marketA) == dec("0.47"))
        #expect(store.counters.lastTrades == 1)
    }

    @Test func digestIgnoresWrittenDigitsAndArrivalOrder() {
        let a = BookStore()
        let b = BookStore()
        apply(BookMessage(asset: yesAsset, bids: levels([("0.5", "10"), ("0.4", "1")]), asks: []), to: a)
        apply(BookMessage(asset: yesAsset, bids: levels([("0.40", "1.00"), ("0.50", "10.0")]), asks: []), to: b)
        let da = a.summary(assetID: yesAsset, depth: 0)!.digest
        #expect(da == b.summary(assetID: yesAsset, depth: 0)!.digest)
        #expect(da.count == 40)
        apply(Change(asset: yesAsset, side: .bid, price: "0.4", size: "2"), to: b)
        #expect(da != b.summary(assetID: yesAsset, depth: 0)!.digest)
    }

    /// Pinned (value computed independently with Python hashlib over the documented layout) so the digest stays stable across releases and platforms; changing the canonical
    /// rendering is a format change (bump "polytape-book/1" and re-record goldens).
    @Test func digestIsPinned() {
        let store = BookStore()
        apply(BookMessage(asset: "123", bids: levels([("0.5", "10")]), asks: levels([("0.6", "2.5")])), to: store)
        let bytes = BookDigest.canonicalBytes(book: store.book(forAsset: "123")!, assetID: "123")
        #expect(bytes.count == 16 + 4 + 8 + 4 + 16 + 4 + 16)
        #expect(store.summary(assetID: "123", depth: 0)!.digest == "349e7ce50e7a4242c28c01e64d04b617d097d6da")
    }

    @Test func summariesAreSortedByAssetID() {
        let store = BookStore()
        for asset in ["30", "100", "2", "9"] {
            apply(BookMessage(asset: asset, bids: levels([("0.5", "1")]), asks: []), to: store)
        }
        #expect(store.summaries().map(\.assetID) == ["100", "2", "30", "9"])
    }

    @Test func sideDataRegistersTheAssetAndItsTick() {
        let store = BookStore()
        store.setSideData(
            MarketSideData(market: marketA, minOrderSize: "5", negRisk: false, tickSize: "0.001"), forAsset: yesAsset)
        #expect(store.bookCount == 1)
        #expect(store.book(forAsset: yesAsset)?.tickSize == dec("0.001"))
        #expect(store.assetIDs(inMarket: marketA) == [yesAsset])
    }

    @Test func countersMergeAndKeepTheEarliestDivergence() {
        var a = BookCounters()
        a.snapshots = 2
        a.noteDivergence(assetID: "7", timestampMs: 500, line: 90)
        var b = BookCounters()
        b.snapshots = 3
        b.exchangeHashDiverged = 1
        b.noteDivergence(assetID: "5", timestampMs: 400, line: 12)
        b.exchangeHashUnverifiableReasons = ["noSideData": 2]
        a.exchangeHashUnverifiableReasons = ["noSideData": 1, "bookUntrusted": 1]
        var ab = a
        ab += b
        var ba = b
        ba += a
        #expect(ab == ba)
        #expect(ab.snapshots == 5 && ab.exchangeHashDiverged == 1)
        #expect(ab.firstDivergenceAssetID == "5" && ab.firstDivergenceTimestampMs == 400)
        #expect(ab.firstDivergenceLine == 12)
        #expect(ab.exchangeHashUnverifiableReasons == ["noSideData": 3, "bookUntrusted": 1])
    }

    /// Many assets through the intern table: growth, removal (backward shift) and re-adding.
    @Test func internTableSurvivesGrowthAndRemoval() {
        let store = BookStore()
        var random = SeededRandom(seed: 42)
        var ids: [String] = []
        for _ in 0..<3_000 { ids.append(String(random.next()) + String(random.next())) }
        for id in ids { apply(BookMessage(asset: id, bids: levels([("0.5", "1")]), asks: []), to: store) }
        #expect(store.bookCount == 3_000)
        for id in ids.enumerated() where id.offset % 3 == 0 { #expect(store.remove(assetID: id.element)) }
        #expect(store.bookCount == 2_000)
        for (offset, id) in ids.enumerated() {
            #expect((store.book(forAsset: id) != nil) == (offset % 3 != 0))
        }
        for id in ids.enumerated() where id.offset % 3 == 0 {
            apply(BookMessage(asset: id.element, bids: levels([("0.4", "2")]), asks: []), to: store)
        }
        #expect(store.bookCount == 3_000)
        #expect(store.summary(assetID: ids[0], depth: 0)?.bestBid == "0.4")
        #expect(store.summary(assetID: ids[1], depth: 0)?.bestBid == "0.5")
    }
}

@Suite struct BookStoreFeedSinkTests {
    @Test func sinkRoutesEveryEventKindToTheStore() {
        let store = BookStore()
        var sink = BookStoreFeedSink(store: store)
        var asset = Array(yesAsset.utf8)
        var market = Array(marketA.utf8)
        let bids = levels([("0.40", "1")])
        let asks = levels([("0.60", "1")])
        asset.withUnsafeMutableBytes { a in
            market.withUnsafeMutableBytes { m in
                let assetID = UnsafeRawBufferPointer(a)
                let marketID = UnsafeRawBufferPointer(m)
                bids.withUnsafeBufferPointer { b in
                    asks.withUnsafeBufferPointer { s in
                        sink.onBook(
                            BookEvent(
                                assetID: assetID, market: marketID, timestampMs: 1, hash: nil, bids: b, asks: s,
                                tickSize: dec("0.01"), lastTradePrice: nil, hadEventType: true, objectOffset: 0,
                                objectLength: 0))
                    }
                }
                sink.onPriceChange(
                    PriceChangeEvent(
                        assetID: assetID, market: marketID, timestampMs: 2, price: dec("0.41"), size: dec("3"),
                        side: .bid, hash: nil, bestBid: dec("0.41"), bestAsk: dec("0.60"), generation: .g3,
                        indexInMessage: 0, countInMessage: 1))
                sink.onLastTrade(
                    LastTradeEvent(
                        assetID: assetID, market: marketID, timestampMs: 3, price: dec("0.41"), size: dec("1"),
                        side: .bid))
                sink.onTickSizeChange(
                    TickSizeChangeEvent(
                        assetID: assetID, market: marketID, timestampMs: 4, oldTickSize: dec("0.01"),
                        newTickSize: dec("0.001")))
                sink.onBestBidAsk(
                    BestBidAskEvent(
                        assetID: assetID, market: marketID, timestampMs: 5, bestBid: dec("0.41"), bestAsk: dec("0.6"),
                        spread: nil))
                sink.onOther(
                    OtherEvent(kind: .unknown, eventType: marketID, assetID: assetID, market: marketID, timestampMs: 6))
            }
        }
        sink.onControl(.pong)
        sink.onError(FeedError(kind: .malformedJSON, offset: 7, expected: "a value"))
        let c = store.counters
        #expect(c.snapshots == 1 && c.priceChanges == 1 && c.lastTrades == 1 && c.tickSizeChanges == 1)
        #expect(c.topOfBookChecks == 1 && c.topOfBookMismatches == 0)
        #expect(c.bestBidAskChecks == 1 && c.bestBidAskMismatches == 0)
        #expect(sink.otherEvents == 1 && sink.unknownEventTypes == 1 && sink.controlFrames == 1)
        #expect(sink.parseErrors == 1 && sink.firstParseError?.offset == 7)
    }
}
