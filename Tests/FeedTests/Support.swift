// Helpers shared by the Feed tests: a counting sink and frame extraction from the corpus's
// wrapper formats (decoded with Foundation here, in tests only).
import Feed
import Foundation
import TestSupport

/// Counts everything the parser delivers, with the details the corpus tests assert on.
struct CountingSink: FeedSink {
    var books = 0
    var bidLevels = 0
    var askLevels = 0
    var priceChanges = 0
    var generations: [PriceChangeGeneration: Int] = [:]
    var buys = 0
    var sells = 0
    var zeroSizes = 0
    var hashes = 0
    var lastTrades = 0
    var tickSizeChanges = 0
    var bestBidAsks = 0
    var others: [OtherEventKind: Int] = [:]
    var pings = 0
    var pongs = 0
    var errors: [FeedError] = []

    mutating func onBook(_ event: BookEvent) {
        books += 1
        bidLevels += event.bids.count
        askLevels += event.asks.count
        if event.hash != nil { hashes += 1 }
    }
    mutating func onPriceChange(_ event: PriceChangeEvent) {
        priceChanges += 1
        generations[event.generation, default: 0] += 1
        if event.side == .bid { buys += 1 } else { sells += 1 }
        if event.size.units == 0 { zeroSizes += 1 }
        if event.hash != nil { hashes += 1 }
    }
    mutating func onLastTrade(_ event: LastTradeEvent) { lastTrades += 1 }
    mutating func onTickSizeChange(_ event: TickSizeChangeEvent) { tickSizeChanges += 1 }
    mutating func onBestBidAsk(_ event: BestBidAskEvent) { bestBidAsks += 1 }
    mutating func onOther(_ event: OtherEvent) { others[event.kind, default: 0] += 1 }
    mutating func onControl(_ frame: ControlFrame) {
        switch frame {
        case .ping: pings += 1
        case .pong: pongs += 1
        }
    }
    mutating func onError(_ error: FeedError) { errors.append(error) }
}

enum CorpusFrames {
    /// The string field `field` of each JSON line whose other fields match `filter`.
    static func wrappedFrames(
        _ relativePath: String, field: String, where filter: ([String: Any]) -> Bool = { _ in true }
    ) throws -> [[UInt8]] {
        try Repo.lines(relativePath).compactMap { line -> [UInt8]? in
            guard let record = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                filter(record), let text = record[field] as? String
            else { return nil }
            return Array(text.utf8)
        }
    }

    /// One member object of a JSON file, re-serialised as a frame (for files that wrap a book).
    static func member(_ relativePath: String, key: String) throws -> [UInt8] {
        let object = try JSONSerialization.jsonObject(with: Data(try Repo.bytes(relativePath))) as! [String: Any]
        return [UInt8](try JSONSerialization.data(withJSONObject: object[key]!))
    }

    /// Parses every frame with one parser (the way a worker does) and returns the totals.
    static func parseAll(_ frames: [[UInt8]]) -> (CountingSink, FrameSummary) {
        var parser = FeedParser()
        var sink = CountingSink()
        var total = FrameSummary()
        for frame in frames { total.accumulate(parser.parse(frame, into: &sink)) }
        return (sink, total)
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
