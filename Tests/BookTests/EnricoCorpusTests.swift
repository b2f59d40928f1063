import Feed
import Foundation
import TestSupport
import Testing

// Real G3 frames (Fixtures/corpus/g3-enrico-2026-09): 28 opening books, 51 price_change frames
// (102 entries with hash and best_bid/best_ask) and 58 best_bid_ask events. The frames are
// decoded here with Foundation (test-only) so this suite does not depend on the Feed parser;
// every check below is an exchange-provided oracle.
@testable import Book

private func replayEnrico(into store: BookStore) throws {
    let lines = try Repo.lines("corpus/g3-enrico-2026-09/frames.jsonl")
    #expect(lines.count == 110)
    func pairs(_ value: Any?) -> [PriceLevel] {
        (value as? [[String: String]] ?? []).map { PriceLevel(price: dec($0["price"]!), size: dec($0["size"]!)) }
    }
    for line in lines {
        let record = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        let payload = try #require(record["payload"] as? String)
        let frame = try JSONSerialization.jsonObject(with: Data(payload.utf8))
        let events = frame as? [[String: Any]] ?? [frame as? [String: Any] ?? [:]]
        for event in events {
            let market = event["market"] as? String ?? ""
            let timestamp = Int64(event["timestamp"] as? String ?? "") ?? 0
            switch event["event_type"] as? String {
            case "book":
                apply(
                    BookMessage(
                        asset: event["asset_id"] as! String, market: market, timestampMs: timestamp,
                        bids: pairs(event["bids"]), asks: pairs(event["asks"]), tickSize: event["tick_size"] as? String,
                        lastTradePrice: event["last_trade_price"] as? String,
                        hash: (event["hash"] as? String).map(hashValue)), to: store)
            case "price_change":
                for entry in event["price_changes"] as? [[String: String]] ?? [] {
                    apply(
                        Change(
                            asset: entry["asset_id"]!, market: market, timestampMs: timestamp,
                            side: entry["side"] == "BUY" ? .bid : .ask, price: entry["price"]!, size: entry["size"]!,
                            hash: entry["hash"].map(hashValue), bestBid: entry["best_bid"], bestAsk: entry["best_ask"]),
                        to: store)
                }
            case "best_bid_ask":
                applyBestBidAsk(
                    asset: event["asset_id"] as! String, bid: event["best_bid"] as? String,
                    ask: event["best_ask"] as? String, timestampMs: timestamp, to: store)
            default:
                Issue.record("unexpected event in the enrico corpus: \(event["event_type"] ?? "nil")")
            }
        }
    }
}

@Suite struct EnricoCorpusTests {
    @Test func everyExchangeOracleAgreesWithTheBooks() throws {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        try replayEnrico(into: store)
        let c = store.counters
        #expect(c.snapshots == 28 && c.priceChanges == 102 && store.bookCount == 28)
        #expect(c.topOfBookChecks == 102 && c.topOfBookMismatches == 0)
        #expect(c.bestBidAskChecks == 58 && c.bestBidAskMismatches == 0)
        #expect(c.crossedBooks == 0 && c.deltasBeforeSnapshot == 0 && c.offTickLevels == 0)
        // min_order_size 5 / neg_risk false / 10 fields, recovered once per market (14 markets).
        #expect(c.sideDataRecovered == 14)
        #expect(c.exchangeHashChecked == 130)
        #expect(c.exchangeHashVerified == 130)
        #expect(c.firstDivergenceAssetID == nil)
        #expect(store.summaries().allSatisfy { $0.hashStatus == "verified" && $0.trusted })
    }

    /// Final digests, cross-checked with an independent Python replay of the same frames over
    /// the documented digest layout: SHA-1 of the sorted "asset:digest\n" lines.
    @Test func finalDigestsMatchAnIndependentReplay() throws {
        let store = BookStore()
        try replayEnrico(into: store)
        let lines = store.summaries().map { "\($0.assetID):\($0.digest)\n" }.joined()
        let combined = ExchangeHashText.hex(Array(lines.utf8).withUnsafeBytes { ExchangeHasher().sha1($0) })
        #expect(combined == "0a849183d1841f3b3404af0d968cb57a741d20e3")
        #expect(
            store.summaries().first?.digest == "701a0f5834910571d8fd4661a7166639dc609976")
        #expect(store.counters.exchangeHashChecked == 0, "verification off checks nothing")
    }
}
