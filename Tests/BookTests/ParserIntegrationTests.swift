import Feed
import Foundation
import TestSupport
import Testing

// The real path: corpus frames through Feed's FeedParser into a BookStore (via
// BookStoreFeedSink), checked against the Foundation-decoded replays of the same corpus files.
@testable import Book

/// The verbatim websocket frames of a recorder file whose records carry them in `field`.
private func frames(_ path: String, field: String) throws -> [[UInt8]] {
    try Repo.lines(path).compactMap { line in
        let record = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        return (record?[field] as? String).map { Array($0.utf8) }
    }
}

private func replay(_ frames: [[UInt8]], into store: BookStore) -> BookStoreFeedSink {
    var parser = FeedParser()
    var sink = BookStoreFeedSink(store: store)
    for (index, frame) in frames.enumerated() {
        store.currentInputLine = index + 1
        _ = parser.parse(frame, into: &sink)
    }
    return sink
}

@Suite struct ParserIntegrationTests {
    @Test func enricoThroughTheParserMatchesTheDecodedReplay() throws {
        let viaParser = BookStore(options: .init(verifyExchangeHash: true))
        let sink = replay(try frames("corpus/g3-enrico-2026-09/frames.jsonl", field: "payload"), into: viaParser)
        #expect(sink.parseErrors == 0 && sink.unknownEventTypes == 0)
        let c = viaParser.counters
        #expect(c.snapshots == 28 && c.priceChanges == 102)
        #expect(c.exchangeHashChecked == 130 && c.exchangeHashVerified == 130)
        #expect(c.topOfBookMismatches == 0 && c.bestBidAskChecks == 58 && c.bestBidAskMismatches == 0)
        let lines = viaParser.summaries().map { "\($0.assetID):\($0.digest)\n" }.joined()
        let combined = ExchangeHashText.hex(Array(lines.utf8).withUnsafeBytes { ExchangeHasher().sha1($0) })
        #expect(combined == "0a849183d1841f3b3404af0d968cb57a741d20e3", "same digests as the independent replay")
    }

    @Test func aaimekThroughTheParserCountsEveryChangeWithoutABook() throws {
        var parser = FeedParser()
        let store = BookStore(options: .init(verifyExchangeHash: true))
        var sink = BookStoreFeedSink(store: store)
        for line in try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson") { _ = parser.parse(line, into: &sink) }
        #expect(sink.parseErrors == 0)
        #expect(store.counters.deltasBeforeSnapshot == 6_129 && store.bookCount == 0)
    }

    /// The server's hex hash as the parser reads it is the value the hasher computes (same
    /// word order), on the 6-field example book.
    @Test func parsedHashEqualsComputedHash() throws {
        let frame = try Repo.bytes("corpus/g2-aaimek-2025-01/book_message_example.json")
        let store = BookStore(options: .init(verifyExchangeHash: true))
        var sink = BookStoreFeedSink(store: store)
        var parser = FeedParser()
        _ = parser.parse(frame, into: &sink)
        #expect(store.counters.snapshots == 1)
        #expect(store.counters.exchangeHashVerified == 1, "a983441a… recomputed from the parsed book")
        #expect(store.counters.sideDataRecovered == 1)
    }

    /// A subscription mixing settled and live tokens: only live ones get a book; the others
    /// stay registered without a snapshot, untrusted.
    @Test func settledTokensStayWithoutABook() throws {
        let records = try Repo.lines("corpus/g3-nslaughter-2026-10/settled-subscription--mixed.jsonl").compactMap {
            try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any]
        }
        let subscription = try #require(records.first { $0["kind"] as? String == "sent" }?["text"] as? String)
        let subscribed =
            try #require(
                try JSONSerialization.jsonObject(with: Data(subscription.utf8)) as? [String: Any])["assets_ids"]
            as? [String] ?? []
        let store = BookStore()
        for asset in subscribed { store.register(assetID: asset) }
        let received = records.filter { $0["kind"] as? String == "recv" }.compactMap { $0["text"] as? String }
        _ = replay(received.map { Array($0.utf8) }, into: store)
        let summaries = store.summaries()
        #expect(summaries.count == subscribed.count && subscribed.count > 2)
        #expect(summaries.filter(\.trusted).count == 2)
        #expect(store.counters.snapshots == 2)
    }
}
