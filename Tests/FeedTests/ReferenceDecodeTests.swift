// Every event of the real corpus, compared field by field with an independent decoding by
// Foundation's JSONSerialization. Decimals are compared as the exchange's own strings via
// `render()`, so this is also the parse → render round trip over every real price and size.
import Feed
import Foundation
import TestSupport
import Testing

@Suite("Reference decoding")
struct ReferenceDecodeTests {
    /// One line per event, written the same way from both decodings.
    static func referenceLines(_ frame: [UInt8]) throws -> [String] {
        guard let json = try? JSONSerialization.jsonObject(with: Data(frame)) else {
            let text = String(decoding: frame, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return [text.lowercased()]  // PING / PONG
        }
        let objects = (json as? [[String: Any]]) ?? [json as! [String: Any]]
        var lines: [String] = []
        for object in objects {
            let asset = object["asset_id"] as? String ?? ""
            let timestamp = object["timestamp"].map { "\($0)" } ?? "0"
            switch object["event_type"] as? String {
            case "book":
                func levels(_ key: String) -> String {
                    (object[key] as! [[String: String]]).map { "\($0["price"]!):\($0["size"]!)" }
                        .joined(separator: ",")
                }
                lines.append(
                    "book|\(asset)|\(timestamp)|\(object["hash"] as? String ?? "")|\(levels("bids"))|\(levels("asks"))")
            case "price_change":
                if let entries = object["price_changes"] as? [[String: String]] {
                    for entry in entries {
                        let fields = ["asset_id", "price", "size", "side", "hash", "best_bid", "best_ask"].map {
                            entry[$0] ?? ""
                        }
                        lines.append("pc|\(timestamp)|" + fields.joined(separator: "|"))
                    }
                } else if let changes = object["changes"] as? [[String: String]] {
                    for (index, change) in changes.enumerated() {
                        let hash = index == changes.count - 1 ? object["hash"] as? String ?? "" : ""
                        lines.append(
                            "pc|\(timestamp)|\(asset)|\(change["price"]!)|\(change["size"]!)|\(change["side"]!)|\(hash)||"
                        )
                    }
                }
            case "best_bid_ask":
                let fields = ["best_bid", "best_ask", "spread"].map { object[$0] as? String ?? "" }
                lines.append("bba|\(asset)|\(timestamp)|" + fields.joined(separator: "|"))
            case let other:
                lines.append("other|\(other ?? "")")
            }
        }
        return lines
    }

    static func parsedLines(_ frame: [UInt8]) -> [String] {
        let (events, errors) = FeedParser.events(of: frame)
        var lines = errors.map { "error|\($0)" }
        for event in events {
            switch event {
            case .book(let book):
                let bids = book.bids.map { "\($0.price.render()):\($0.size.render())" }.joined(separator: ",")
                let asks = book.asks.map { "\($0.price.render()):\($0.size.render())" }.joined(separator: ",")
                lines.append("book|\(book.assetID)|\(book.timestampMs)|\(book.hash?.hex ?? "")|\(bids)|\(asks)")
            case .priceChange(let change):
                let side = change.side == .bid ? "BUY" : "SELL"
                let fields = [
                    change.assetID, change.price.render(), change.size.render(), side, change.hash?.hex ?? "",
                    change.bestBid?.render() ?? "", change.bestAsk?.render() ?? "",
                ]
                lines.append("pc|\(change.timestampMs)|" + fields.joined(separator: "|"))
            case .bestBidAsk(let top):
                let fields = [top.bestBid, top.bestAsk, top.spread].map { $0?.render() ?? "" }
                lines.append("bba|\(top.assetID)|\(top.timestampMs)|" + fields.joined(separator: "|"))
            case .control(let control):
                lines.append(control == .ping ? "ping" : "pong")
            case .other(let other):
                lines.append("other|\(other.eventType)")
            default:
                lines.append("unexpected|\(event)")
            }
        }
        return lines
    }

    @Test func everyCorpusEventMatchesFoundation() throws {
        var frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
        frames += try CorpusFrames.wrappedFrames("corpus/g3-enrico-2026-09/frames.jsonl", field: "payload")
        for file in ["stream-no-replay--repro.jsonl", "settled-subscription--mixed.jsonl"] {
            frames += try CorpusFrames.wrappedFrames(
                "corpus/g3-nslaughter-2026-10/\(file)", field: "text", where: { $0["kind"] as? String == "recv" })
        }
        var compared = 0
        for (index, frame) in frames.enumerated() {
            let expected = try Self.referenceLines(frame)
            let parsed = Self.parsedLines(frame)
            #expect(parsed == expected, "frame \(index)")
            compared += expected.count
        }
        #expect(compared == 6_129 + (28 + 102 + 58) + (6 + 26 + 9) + 2)
    }
}
