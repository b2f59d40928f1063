import Feed
import Foundation
import TestSupport
import Testing

// Real G2 frames without any snapshot (Fixtures/corpus/g2-aaimek-2025-01/frames.ndjson: 3,829
// frames, 6,129 changes, one asset). Decoded with Foundation here (test-only).
@testable import Book

private let aaimekAsset = "19132077152294710079876824487679725658489209861892422335113898186089131197703"

/// Calls `body` once per frame with the frame's changes.
private func forEachFrame(_ body: ([Change]) -> Void) throws {
    for line in try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson") {
        let frame = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        let timestamp = Int64(frame["timestamp"] as? String ?? "") ?? 0
        let list = frame["changes"] as? [[String: String]] ?? []
        let hash = (frame["hash"] as? String).map(hashValue)
        body(
            list.enumerated().map { i, c in
                Change(
                    asset: frame["asset_id"] as! String, market: frame["market"] as! String, timestampMs: timestamp,
                    side: c["side"] == "BUY" ? .bid : .ask, price: c["price"]!, size: c["size"]!,
                    hash: i == list.count - 1 ? hash : nil, generation: .g2)
            })
    }
}

@Suite struct AaimekCorpusTests {
    /// PROTOCOL.md: price_change before any book [count, do not invent a book].
    @Test func changesWithoutASnapshotAreCountedAndInventNoBook() throws {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        try forEachFrame { changes in
            for change in changes { #expect(apply(change, to: store) == .noBook) }
        }
        #expect(store.counters.deltasBeforeSnapshot == 6_129)
        #expect(store.bookCount == 0 && store.counters.priceChanges == 0)
        #expect(store.counters.exchangeHashChecked == 0)
    }

    /// From an empty snapshot the partial book is crossed or locked after 493 of the 3,829
    /// frames (the corpus README's own count); the store flags it and keeps going.
    @Test func emptySnapshotThenTheStreamMatchesTheCorpusCrossCount() throws {
        let store = BookStore()
        apply(BookMessage(asset: aaimekAsset, bids: [], asks: [], tickSize: nil), to: store)
        var framesCrossed = 0
        var frames = 0
        try forEachFrame { changes in
            for change in changes { apply(change, to: store) }
            frames += 1
            if store.book(forAsset: aaimekAsset)?.isCrossedOrLocked == true { framesCrossed += 1 }
        }
        #expect(frames == 3_829)
        #expect(framesCrossed == 493)
        #expect(store.counters.priceChanges == 6_129)
        let summary = try #require(store.summary(assetID: aaimekAsset, depth: 0))
        #expect(summary.bidLevels == 17 && summary.askLevels == 26)
        #expect(store.counters.crossedBooks > 0)
    }
}
