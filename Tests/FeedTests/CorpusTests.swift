// Every real frame in Fixtures/corpus parses, with event counts taken from the files
// themselves (counted independently with a JSON tool when the fixtures were added).
import Feed
import Foundation
import TestSupport
import Testing

@Suite("Real corpus")
struct CorpusTests {
    @Test func g2FramesFromJanuary2025() throws {
        let frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
        #expect(frames.count == 3_829)
        let (sink, summary) = CorpusFrames.parseAll(frames)
        #expect(sink.errors.isEmpty, "\(sink.errors.prefix(3))")
        #expect(summary.objects == 3_829)
        #expect(sink.priceChanges == 6_129)
        #expect(sink.generations[.g2] == 6_129)
        #expect(sink.zeroSizes == 92)
        #expect(sink.sells == 5_404)
        #expect(sink.buys == 725)
        // One hash per G2 message, carried on its last change.
        #expect(sink.hashes == 3_829)
    }

    @Test func g2DocumentationExamplesArePrettyPrinted() throws {
        let (bookEvents, bookErrors) = FeedParser.events(
            of: try Repo.bytes("corpus/g2-aaimek-2025-01/book_message_example.json"))
        #expect(bookErrors.isEmpty)
        guard case .book(let book) = try #require(bookEvents.first) else {
            Issue.record("expected a book, got \(bookEvents)")
            return
        }
        #expect(bookEvents.count == 1)
        #expect(book.bids.count == 28)
        #expect(book.asks.count == 12)
        #expect(book.timestampMs == 1_737_487_185_966)
        #expect(book.hash?.hex == "a983441a2c69866fff45bf16b8c5c66858f68379")
        #expect(book.bids.first?.price.render() == "0.001")

        let (changeEvents, changeErrors) = FeedParser.events(
            of: try Repo.bytes("corpus/g2-aaimek-2025-01/price_change_message_example.json"))
        #expect(changeErrors.isEmpty)
        guard case .priceChange(let change) = try #require(changeEvents.first) else {
            Issue.record("expected a price change, got \(changeEvents)")
            return
        }
        #expect(changeEvents.count == 1)
        #expect(change.generation == .g2)
        #expect(change.price.render() == "0.644")
        #expect(change.side == .bid)
        #expect(change.size == .zero)
        #expect(change.hash?.hex == "d7186e8abc4ed70e41e6cb6abf65b4c20150dfe3")
        #expect(change.timestampMs == 1_737_487_191_055)
    }

    @Test func nautilusBookSnapshotIsPrettyPrinted() throws {
        let (events, errors) = FeedParser.events(
            of: try Repo.bytes("corpus/book-nautilus-2026-08/nautilus_ws_book_snapshot_captured.json"))
        #expect(errors.isEmpty)
        guard case .book(let book) = try #require(events.first) else {
            Issue.record("expected a book, got \(events)")
            return
        }
        #expect(events.count == 1)
        #expect(book.hadEventType)
        #expect(book.hash?.hex == "ed47eb91f3c7985fac1cb18cb7c19535eddd3c0a")
        #expect(book.tickSize != nil)
        #expect(!book.bids.isEmpty && !book.asks.isEmpty)
    }

    /// Each line of g3-enrico is a recorder's wrapper record; the verbatim frame is its
    /// `payload` string. 110 frames: frame 1 is the initial dump (an array of 28 books), then
    /// 51 G3 price_change messages holding 102 entries (two mirrored entries each) and 58
    /// best_bid_ask events. The recorder's own `decoded_events` field counts books and
    /// price_change entries (it ignores best_bid_ask), and agrees with us frame by frame.
    @Test func g3FramesFromSeptember2026() throws {
        let frames = try CorpusFrames.wrappedFrames("corpus/g3-enrico-2026-09/frames.jsonl", field: "payload")
        #expect(frames.count == 110)
        var parser = FeedParser()
        var firstSink = CountingSink()
        let first = parser.parse(frames[0], into: &firstSink)
        #expect(first.kind == .array)
        #expect(first.books == 28)

        let (sink, summary) = CorpusFrames.parseAll(frames)
        #expect(sink.errors.isEmpty, "\(sink.errors.prefix(3))")
        #expect(sink.books == 28)
        #expect(summary.objects == 28 + 51 + 58)
        #expect(sink.priceChanges == 102)
        #expect(sink.generations[.g3] == 102)
        #expect(sink.bestBidAsks == 58)
        #expect(sink.hashes == 28 + 102)
        #expect(summary.unknownEventTypes == 0)

        // The recorder counted book and price_change events of each frame itself.
        let recorded = try Repo.lines("corpus/g3-enrico-2026-09/frames.jsonl").map { line -> Int in
            let record = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            return (record["decoded_events"] as? Int) ?? -1
        }
        for (index, frame) in frames.enumerated() {
            var perFrame = CountingSink()
            let frameSummary = parser.parse(frame, into: &perFrame)
            #expect(frameSummary.books + frameSummary.priceChanges == recorded[index], "frame \(index + 1)")
        }
    }

    /// nslaughter's captures are `{"t",...,"kind","text"}` records; `kind == "recv"` records carry
    /// the frame in `text`, including the server's PONG keepalives.
    @Test func g3CapturesWithKeepalives() throws {
        let stream = try CorpusFrames.wrappedFrames(
            "corpus/g3-nslaughter-2026-10/stream-no-replay--repro.jsonl", field: "text",
            where: { $0["kind"] as? String == "recv" })
        let (sink, summary) = CorpusFrames.parseAll(stream)
        #expect(sink.errors.isEmpty, "\(sink.errors.prefix(3))")
        #expect(sink.books == 6)
        #expect(sink.priceChanges == 26)
        #expect(summary.objects == 6 + 13)
        #expect(sink.pongs == 9)

        let settled = try CorpusFrames.wrappedFrames(
            "corpus/g3-nslaughter-2026-10/settled-subscription--mixed.jsonl", field: "text",
            where: { $0["kind"] as? String == "recv" })
        let (settledSink, _) = CorpusFrames.parseAll(settled)
        #expect(settledSink.errors.isEmpty)
        #expect(settled.count == 1)
        #expect(settledSink.books == 2)
    }

    @Test func hashVectorRawFrames() throws {
        // A Go client's capture: an initial-dump array of two books, a G3 price_change with
        // two entries, and a book whose keys come in another order.
        let go = try Repo.lines("corpus/hash-vectors/raw/go_comment_capture_2025-12-23.jsonl")
        let (goSink, _) = CorpusFrames.parseAll(go)
        #expect(goSink.errors.isEmpty)
        #expect(goSink.books == 3)
        #expect(goSink.bidLevels == 49 + 50 + 49)
        #expect(goSink.priceChanges == 2)

        // polypy's hash test data: label lines between JSON lines; the JSON lines are frames
        // (one book, two G3 messages of 2 entries, two REST /book objects without event_type,
        // one with a JSON-number timestamp).
        let lines = try Repo.lines("corpus/hash-vectors/raw/polypy__tests_orderbook_data_messages_hash.txt")
            .filter { $0.first == UInt8(ascii: "{") }
        #expect(lines.count == 5)
        var restBooks = 0
        var parser = FeedParser()
        var sink = CollectingSink()
        for line in lines { _ = parser.parse(line, into: &sink) }
        #expect(sink.errors.isEmpty)
        for case .book(let book) in sink.events where !book.hadEventType { restBooks += 1 }
        #expect(restBooks == 2)
        #expect(sink.events.count == 3 + 4)

        // A REST-shaped book without event_type, with ", " separators.
        let (yes, yesErrors) = FeedParser.events(
            of: try Repo.bytes("corpus/hash-vectors/raw/polypy__tests_orderbook_data_ws_msg_book_yes.json"))
        #expect(yesErrors.isEmpty)
        guard case .book(let yesBook) = try #require(yes.first) else { throw FixtureError.missing("book") }
        #expect(!yesBook.hadEventType)
        #expect(yesBook.bids.count == 14 && yesBook.asks.count == 4)

        // Files that wrap a book in a larger test object: the book member is the frame.
        let wrapped: [(String, String, Int, Int)] = [
            ("corpus/hash-vectors/raw/polypy__tests_order_data_book_data_a.txt", "book", 72, 79),
            ("corpus/hash-vectors/raw/polypy__tests_order_data_book_data_b.txt", "book", 42, 45),
            ("corpus/hash-vectors/raw/nslaughter_stream-no-replay_first_frame.json", "yes_book", 72, 114),
        ]
        for (path, key, bids, asks) in wrapped {
            let (events, errors) = FeedParser.events(of: try CorpusFrames.member(path, key: key))
            #expect(errors.isEmpty, "\(path)")
            guard case .book(let book) = events.first else {
                Issue.record("\(path): expected a book, got \(events)")
                continue
            }
            #expect(book.bids.count == bids && book.asks.count == asks, "\(path)")
        }
        // polypy_9519b11__tests_stream_data_test_server_messages.txt is not parsed: it holds
        // Python reprs of the messages (single quotes, True/False), not frames as sent.
    }
}
