import Feed
import TestSupport
import Testing

// The exchange-hash oracle on real server hashes (events rebuilt from the vectors' books) and
// on synthetic sequences for each tolerance rule.
@testable import Book

/// The level changes that turn `from` into `to` (what the price_change messages in between did).
private func changes(from: HashVector, to: HashVector) -> [(Side, String, String)] {
    func diff(_ side: Side, _ a: [[String]], _ b: [[String]]) -> [(Side, String, String)] {
        var before: [Int64: String] = [:]
        for level in a { before[dec(level[0]).units] = level[1] }
        var after: [Int64: [String]] = [:]
        for level in b { after[dec(level[0]).units] = level }
        var out: [(Side, String, String)] = []
        for level in b where before[dec(level[0]).units].map({ dec($0) != dec(level[1]) }) ?? true {
            out.append((side, level[0], level[1]))
        }
        for level in a where after[dec(level[0]).units] == nil { out.append((side, level[0], "0")) }
        return out
    }
    return diff(.bid, from.bids, to.bids) + diff(.ask, from.asks, to.asks)
}

private func bookMessage(_ v: HashVector, tick: Bool = true) -> BookMessage {
    BookMessage(
        asset: v.assetID, market: v.market, timestampMs: Int64(v.timestamp)!,
        bids: v.bids.map { PriceLevel(price: dec($0[0]), size: dec($0[1])) },
        asks: v.asks.map { PriceLevel(price: dec($0[0]), size: dec($0[1])) },
        tickSize: tick ? v.tickSize : nil, lastTradePrice: v.lastTradePrice, hash: hashValue(v.expectedHash))
}

/// Applies the changes from `from` to `to` as one message whose last change carries `to`'s hash.
private func applyMessage(
    from: HashVector, to: HashVector, timestampMs: Int64, generation: PriceChangeGeneration, store: BookStore,
    hash: ExchangeHash? = nil
) {
    let list = changes(from: from, to: to)
    #expect(!list.isEmpty)
    for (i, change) in list.enumerated() {
        apply(
            Change(
                asset: to.assetID, market: to.market, timestampMs: timestampMs, side: change.0, price: change.1,
                size: change.2, hash: i == list.count - 1 ? (hash ?? hashValue(to.expectedHash)) : nil,
                generation: generation), to: store)
    }
}

private func checkInvariant(_ c: BookCounters) {
    #expect(c.exchangeHashUnverifiableReasons.values.reduce(0, +) == c.exchangeHashUnverifiable)
    #expect(
        c.exchangeHashChecked
            == c.exchangeHashVerified + c.exchangeHashVerifiedLate + c.exchangeHashMismatchedTransient
            + c.exchangeHashDiverged + c.exchangeHashUnverifiable + c.exchangeHashPending)
}

@Suite struct ExchangeHashOracleTests {
    /// Dec 2024 (6 fields): a WS book, six G2 messages hashed 6–9 ms before their timestamps,
    /// and a later book. Every server hash verifies.
    @Test func g2StreamVerifiesWithTheTimestampOffset() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        let opening = HashVector.named("polypy9519b11-2024-12-05-ws-book-1733411269309")
        apply(bookMessage(opening), to: store)
        var previous = opening
        for id in [
            "1733411286840", "1733411287043", "1733411293532", "1733411293814", "1733411294333", "1733411315081",
        ] {
            let vector = HashVector.named("polypy9519b11-2024-12-05-pc-\(id)")
            applyMessage(
                from: previous, to: vector, timestampMs: Int64(vector.eventTimestamp!)!, generation: .g2, store: store)
            previous = vector
        }
        #expect(store.summary(assetID: opening.assetID, depth: 0)?.hashStatus == "verified")
        apply(bookMessage(HashVector.named("polypy9519b11-2024-12-05-ws-book-1733411501338")), to: store)
        let c = store.counters
        #expect(c.exchangeHashChecked == 8)
        #expect(c.exchangeHashVerified == 8)
        #expect(c.sideDataRecovered == 1)
        checkInvariant(c)
    }

    /// Oct 2025 (9 fields): min_order_size and neg_risk are not on the stream; they are recovered
    /// from the opening book, then two G3 entries verify at their exact timestamps.
    @Test func nineFieldSideDataIsRecoveredFromTheFirstBook() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        let opening = HashVector.named("polypy-2025-10-23-ws-book")
        apply(bookMessage(opening), to: store)
        #expect(store.counters.sideDataRecovered == 1)
        var previous = opening
        for id in ["polypy-2025-10-23-pc-t1", "polypy-2025-10-23-pc-t2"] {
            let vector = HashVector.named(id)
            applyMessage(
                from: previous, to: vector, timestampMs: Int64(vector.timestamp)!, generation: .g3, store: store)
            previous = vector
        }
        let c = store.counters
        #expect(c.exchangeHashChecked == 3 && c.exchangeHashVerified == 3)
        checkInvariant(c)
    }

    /// Dec 2025 (10 fields): opening books without tick_size (tick recovered too), then G3
    /// entries whose hash already includes a trade at 0.490 that the stream had not announced.
    @Test func leadingLastTradePriceIsVerifiedLateByTheGrid() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        let yes = HashVector.named("go-2025-12-23-ws-book-25245433")
        let no = HashVector.named("go-2025-12-23-ws-book-20168250")
        apply(bookMessage(yes, tick: false), to: store)
        apply(bookMessage(no, tick: false), to: store)
        #expect(store.counters.exchangeHashVerified == 2)
        #expect(store.book(forAsset: no.assetID)?.tickSize == dec("0.01"))
        for (from, id) in [(yes, "go-2025-12-23-pc-25245433"), (no, "go-2025-12-23-pc-20168250")] {
            let vector = HashVector.named(id)
            applyMessage(from: from, to: vector, timestampMs: Int64(vector.timestamp)!, generation: .g3, store: store)
        }
        #expect(store.counters.exchangeHashPending == 2)
        #expect(store.summary(assetID: no.assetID, depth: 0)?.hashStatus == "pending")
        // The later book of one token supersedes its pending entry: the grid finds 0.490.
        apply(bookMessage(HashVector.named("go-2025-12-23-ws-book-20168250-later"), tick: false), to: store)
        let c = store.counters
        #expect(c.exchangeHashChecked == 5)
        #expect(c.exchangeHashVerified == 3)
        #expect(c.exchangeHashVerifiedLate == 1)
        #expect(c.exchangeHashPending == 1)
        #expect(c.exchangeHashDiverged == 0)
        checkInvariant(c)
    }

    /// The same entries, then the trade is announced: both pending entries verify with it.
    @Test func announcedTradeResolvesPendingEntries() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        let yes = HashVector.named("go-2025-12-23-ws-book-25245433")
        let no = HashVector.named("go-2025-12-23-ws-book-20168250")
        apply(bookMessage(yes, tick: false), to: store)
        apply(bookMessage(no, tick: false), to: store)
        for (from, id) in [(yes, "go-2025-12-23-pc-25245433"), (no, "go-2025-12-23-pc-20168250")] {
            let vector = HashVector.named(id)
            applyMessage(from: from, to: vector, timestampMs: Int64(vector.timestamp)!, generation: .g3, store: store)
        }
        applyTrade(asset: yes.assetID, market: yes.market, price: "0.49", to: store)
        let c = store.counters
        #expect(c.exchangeHashVerifiedLate == 2 && c.exchangeHashPending == 0)
        #expect(store.summary(assetID: yes.assetID, depth: 0)?.hashStatus == "verifiedLate")
        checkInvariant(c)
    }

    /// Side data from a tape header skips the search.
    @Test func headerSideDataIsUsedWithoutSearch() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        let yes = HashVector.named("nslaughter-2026-10-04-ws-book-yes")
        let no = HashVector.named("nslaughter-2026-10-04-ws-book-no")
        for v in [yes, no] {
            store.setSideData(
                MarketSideData(market: v.market, minOrderSize: "5", negRisk: true, tickSize: "0.001", hashRecipe: 10),
                forAsset: v.assetID)
        }
        apply(bookMessage(yes), to: store)
        apply(bookMessage(no), to: store)
        #expect(store.counters.exchangeHashVerified == 2)
        #expect(store.counters.sideDataRecovered == 0)
    }

    @Test func wrongSideDataMakesBooksUnverifiableNotDiverged() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        let yes = HashVector.named("nslaughter-2026-10-04-ws-book-yes")
        var message = bookMessage(yes)
        message.hash = hashValue(String(repeating: "0", count: 40))
        apply(message, to: store)
        #expect(store.summary(assetID: yes.assetID, depth: 0)?.hashStatus == "unverifiable:recipeUnknown")
        #expect(store.counters.exchangeHashUnverifiable == 1)
        #expect(store.counters.exchangeHashUnverifiableReasons == ["recipeUnknown": 1])
    }

    @Test func disabledVerificationChecksNothing() {
        let store = BookStore()
        apply(bookMessage(HashVector.named("polypy-2025-10-23-ws-book")), to: store)
        #expect(store.counters.exchangeHashChecked == 0)
        #expect(store.summaries().first?.hashStatus == "none")
    }

    @Test func untrustedBookIsNotChecked() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        let opening = HashVector.named("polypy-2025-10-23-ws-book")
        apply(bookMessage(opening), to: store)
        store.invalidateAll()
        let next = HashVector.named("polypy-2025-10-23-pc-t1")
        applyMessage(from: opening, to: next, timestampMs: Int64(next.timestamp)!, generation: .g3, store: store)
        #expect(store.summary(assetID: opening.assetID, depth: 0)?.hashStatus == "unverifiable:bookUntrusted")
    }

    @Test func priceChangeWithoutAnyHashedBookHasNoSideData() {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        var opening = bookMessage(HashVector.named("polypy-2025-10-23-ws-book"))
        opening.hash = nil
        apply(opening, to: store)
        let next = HashVector.named("polypy-2025-10-23-pc-t1")
        applyMessage(
            from: HashVector.named("polypy-2025-10-23-ws-book"), to: next, timestampMs: Int64(next.timestamp)!,
            generation: .g3, store: store)
        #expect(store.summary(assetID: next.assetID, depth: 0)?.hashStatus == "unverifiable:noSideData")
    }
}

/// Tolerance rules on synthetic books whose "exchange" hashes come from the recipe itself.
@Suite struct ExchangeHashToleranceTests {
    let store = BookStore(options: .init(verifyExchangeHash: true))
    let hasher = ExchangeHasher()
    let fields = ExchangeHashFields(
        recipe: .ten, minOrderSize: dec("5"), tickSize: dec("0.01"), negRisk: false, lastTradePrice: dec("0.5"))

    init() {
        store.setSideData(
            MarketSideData(market: marketA, minOrderSize: "5", negRisk: false, tickSize: "0.01", hashRecipe: 10),
            forAsset: yesAsset)
        var opening = BookMessage(
            asset: yesAsset, timestampMs: 1_000, bids: levels([("0.40", "10"), ("0.45", "5")]),
            asks: levels([("0.55", "5"), ("0.50", "10")]), lastTradePrice: "0.500")
        opening.hash = expected(after: [], timestampMs: 1_000)
        apply(opening, to: store)
    }

    /// The hash the exchange would send for the opening book after `changes`, at `timestampMs`.
    func expected(
        after changes: [(Side, String, String)], timestampMs: Int64, lastTradePrice: String = "0.5"
    ) -> ExchangeHash {
        var book = OrderBook()
        let bids = levels([("0.40", "10"), ("0.45", "5")])
        let asks = levels([("0.55", "5"), ("0.50", "10")])
        bids.withUnsafeBufferPointer { b in
            asks.withUnsafeBufferPointer { a in book.applySnapshot(bids: b, asks: a, timestampMs: 0) }
        }
        for (side, price, size) in changes {
            book.applyLevel(side: side, price: dec(price), size: dec(size), timestampMs: 0)
        }
        var f = fields
        f.lastTradePrice = dec(lastTradePrice)
        return hasher.hash(book: book, market: marketA, assetID: yesAsset, timestamp: String(timestampMs), fields: f)
    }

    func change(_ side: Side, _ price: String, _ size: String, ts: Int64, hash: ExchangeHash) {
        apply(
            Change(asset: yesAsset, timestampMs: ts, side: side, price: price, size: size, hash: hash), to: store)
    }

    @Test func openingBookVerifies() {
        #expect(store.counters.exchangeHashVerified == 1)
    }

    /// Two entries of one message share the hash of the book after the second.
    @Test func burstSharingTheLastHashIsVerifiedLate() {
        let c1: (Side, String, String) = (.bid, "0.46", "1")
        let c2: (Side, String, String) = (.ask, "0.49", "2")
        let shared = expected(after: [c1, c2], timestampMs: 2_000)
        change(c1.0, c1.1, c1.2, ts: 2_000, hash: shared)
        #expect(store.counters.exchangeHashPending == 1)
        change(c2.0, c2.1, c2.2, ts: 2_000, hash: shared)
        let c = store.counters
        #expect(c.exchangeHashVerifiedLate == 1 && c.exchangeHashVerified == 2 && c.exchangeHashPending == 0)
        checkInvariant(c)
    }

    /// A wrong hash followed by a right one is a transient mismatch, not a divergence.
    @Test func mismatchThatDoesNotPersistIsTransient() {
        let c1: (Side, String, String) = (.bid, "0.46", "1")
        let c2: (Side, String, String) = (.bid, "0.46", "3")
        change(c1.0, c1.1, c1.2, ts: 2_000, hash: hashValue(String(repeating: "1", count: 40)))
        change(c2.0, c2.1, c2.2, ts: 2_100, hash: expected(after: [c1, c2], timestampMs: 2_100))
        let c = store.counters
        #expect(c.exchangeHashMismatchedTransient == 1 && c.exchangeHashDiverged == 0)
        #expect(store.summary(assetID: yesAsset, depth: 0)?.hashStatus == "verified")
        checkInvariant(c)
    }

    /// A book that missed a change mismatches on and on: diverged, first divergence recorded.
    @Test func persistentMismatchDiverges() {
        let missed: (Side, String, String) = (.ask, "0.51", "4")  // never delivered to the store
        let c1: (Side, String, String) = (.bid, "0.46", "1")
        let c2: (Side, String, String) = (.bid, "0.44", "2")
        store.currentInputLine = 41
        change(c1.0, c1.1, c1.2, ts: 2_000, hash: expected(after: [missed, c1], timestampMs: 2_000))
        store.currentInputLine = 42
        change(c2.0, c2.1, c2.2, ts: 2_100, hash: expected(after: [missed, c1, c2], timestampMs: 2_100))
        let c = store.counters
        #expect(c.exchangeHashDiverged == 1 && c.exchangeHashPending == 1)
        #expect(c.firstDivergenceAssetID == yesAsset && c.firstDivergenceTimestampMs == 2_000)
        #expect(c.firstDivergenceLine == 41, "the line of the event whose hash diverged")
        checkInvariant(c)
        // A fresh snapshot heals the book; the open mismatch is closed as superseded.
        var healed = BookMessage(asset: yesAsset, timestampMs: 3_000, bids: [], asks: [], lastTradePrice: "0.500")
        healed.bids = levels([("0.40", "1")])
        apply(healed, to: store)
        #expect(store.counters.exchangeHashPending == 0)
        #expect(store.counters.exchangeHashUnverifiable == 1)
        #expect(store.counters.exchangeHashUnverifiableReasons == ["supersededBySnapshot": 1])
        checkInvariant(store.counters)
    }

    @Test func removingAnAssetClosesItsPendingMismatch() {
        change(.bid, "0.46", "1", ts: 2_000, hash: hashValue(String(repeating: "2", count: 40)))
        #expect(store.counters.exchangeHashPending == 1)
        store.remove(assetID: yesAsset)
        let c = store.counters
        #expect(c.exchangeHashPending == 0 && c.exchangeHashUnverifiableReasons == ["assetRemoved": 1])
        checkInvariant(c)
    }

    /// A hash that already includes the next change verifies late when that change arrives.
    @Test func hashIncludingTheNextChangeIsVerifiedLate() {
        let c1: (Side, String, String) = (.bid, "0.46", "1")
        let c2: (Side, String, String) = (.ask, "0.52", "7")
        change(c1.0, c1.1, c1.2, ts: 2_000, hash: expected(after: [c1, c2], timestampMs: 2_000))
        change(c2.0, c2.1, c2.2, ts: 2_000, hash: expected(after: [c1, c2], timestampMs: 2_000))
        let c = store.counters
        #expect(c.exchangeHashVerifiedLate == 1 && c.exchangeHashVerified == 2)
        checkInvariant(c)
    }

    /// The hash uses a trade price not yet announced; the next hashed change finds it on the grid.
    @Test func leadingTradePriceFoundOnTheGridAtTheNextChange() {
        let c1: (Side, String, String) = (.bid, "0.46", "1")
        let c2: (Side, String, String) = (.bid, "0.44", "2")
        change(c1.0, c1.1, c1.2, ts: 2_000, hash: expected(after: [c1], timestampMs: 2_000, lastTradePrice: "0.457"))
        change(c2.0, c2.1, c2.2, ts: 2_100, hash: expected(after: [c1, c2], timestampMs: 2_100))
        let c = store.counters
        #expect(c.exchangeHashVerifiedLate == 1 && c.exchangeHashVerified == 2)
        checkInvariant(c)
    }
}
