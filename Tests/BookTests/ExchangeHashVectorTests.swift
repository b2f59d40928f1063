import Feed
import Foundation
import TestSupport
import Testing

// The exchange hash recipe against every real server hash in Fixtures/corpus/hash-vectors.
@testable import Book

/// One line of hash-vectors/vectors.jsonl (see the corpus README, section 1).
struct HashVector: Sendable, CustomTestStringConvertible {
    var id: String
    var kind: String
    var recipe: Int
    var market: String
    var assetID: String
    var timestamp: String
    var eventTimestamp: String?
    var bids: [[String]]
    var asks: [[String]]
    var minOrderSize: String?
    var tickSize: String?
    var negRisk: Bool?
    var lastTradePrice: String?
    var expectedHash: String

    var testDescription: String { id }

    var book: OrderBook {
        var book = OrderBook()
        let bidLevels = bids.map { PriceLevel(price: dec($0[0]), size: dec($0[1])) }
        let askLevels = asks.map { PriceLevel(price: dec($0[0]), size: dec($0[1])) }
        bidLevels.withUnsafeBufferPointer { b in
            askLevels.withUnsafeBufferPointer { a in
                book.applySnapshot(bids: b, asks: a, timestampMs: Int64(timestamp)!, tickSize: tickSize.map(dec))
            }
        }
        return book
    }

    var fields: ExchangeHashFields {
        ExchangeHashFields(
            recipe: ExchangeHashRecipe(rawValue: recipe)!, minOrderSize: minOrderSize.map(dec) ?? .zero,
            tickSize: tickSize.map(dec) ?? .zero, negRisk: negRisk ?? false, lastTradePrice: lastTradePrice.map(dec))
    }

    static func load() -> [HashVector] {
        guard let lines = try? Repo.lines("corpus/hash-vectors/vectors.jsonl") else { return [] }
        return lines.compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
            func pairs(_ key: String) -> [[String]] {
                (object[key] as? [[String: String]] ?? []).map { [$0["price"] ?? "", $0["size"] ?? ""] }
            }
            return HashVector(
                id: object["id"] as? String ?? "?", kind: object["kind"] as? String ?? "",
                recipe: object["recipe"] as? Int ?? 0, market: object["market"] as? String ?? "",
                assetID: object["asset_id"] as? String ?? "", timestamp: object["timestamp"] as? String ?? "",
                eventTimestamp: object["event_timestamp"] as? String, bids: pairs("bids"), asks: pairs("asks"),
                minOrderSize: object["min_order_size"] as? String, tickSize: object["tick_size"] as? String,
                negRisk: object["neg_risk"] as? Bool, lastTradePrice: object["last_trade_price"] as? String,
                expectedHash: object["expected_hash"] as? String ?? "")
        }
    }

    static let all: [HashVector] = load()

    static func named(_ id: String) -> HashVector {
        guard let vector = all.first(where: { $0.id == id }) else { fatalError("no hash vector \(id)") }
        return vector
    }
}

@Suite struct ExchangeHashVectorTests {
    @Test func everyVectorLineIsLoaded() {
        #expect(HashVector.all.count == 23)
        #expect(Set(HashVector.all.map(\.recipe)) == [6, 9, 10])
    }

    @Test(arguments: HashVector.all)
    func serverHashIsReproduced(_ vector: HashVector) {
        let hasher = ExchangeHasher()
        let hash = hasher.hash(
            book: vector.book, market: vector.market, assetID: vector.assetID, timestamp: vector.timestamp,
            fields: vector.fields)
        #expect(ExchangeHashText.hex(hash) == vector.expectedHash)
    }

    /// The exchange hashes `timestamp` as a JSON string; as a number the hash must differ.
    @Test(arguments: HashVector.all)
    func timestampAsNumberDoesNotMatch(_ vector: HashVector) {
        let hasher = ExchangeHasher()
        let json = hasher.json(
            book: vector.book, market: vector.market, assetID: vector.assetID, timestamp: vector.timestamp,
            fields: vector.fields, timestampAsJSONNumber: true)
        #expect(String(decoding: json, as: UTF8.self).contains("\"timestamp\":\(vector.timestamp),"))
        let hash = hasher.hash(
            book: vector.book, market: vector.market, assetID: vector.assetID, timestamp: vector.timestamp,
            fields: vector.fields, timestampAsJSONNumber: true)
        #expect(ExchangeHashText.hex(hash) != vector.expectedHash)
    }

    /// Docs show other level orders than real frames: the book sorts, so the hash is the same.
    @Test(arguments: HashVector.all)
    func levelOrderInTheFrameDoesNotMatter(_ vector: HashVector) {
        var random = SeededRandom(seed: 7)
        var bids = vector.bids.map { PriceLevel(price: dec($0[0]), size: dec($0[1])) }
        var asks = vector.asks.map { PriceLevel(price: dec($0[0]), size: dec($0[1])) }
        bids.shuffle(using: &random)
        asks.shuffle(using: &random)
        var book = OrderBook()
        bids.withUnsafeBufferPointer { b in
            asks.withUnsafeBufferPointer { a in book.applySnapshot(bids: b, asks: a, timestampMs: 0) }
        }
        let hash = ExchangeHasher().hash(
            book: book, market: vector.market, assetID: vector.assetID, timestamp: vector.timestamp,
            fields: vector.fields)
        #expect(ExchangeHashText.hex(hash) == vector.expectedHash)
    }

    @Test func compactJSONHasTheDocumentedKeyOrder() {
        let vector = HashVector.named("nslaughter-2026-10-04-ws-book-yes")
        let json = String(
            decoding: ExchangeHasher().json(
                book: vector.book, market: vector.market, assetID: vector.assetID, timestamp: vector.timestamp,
                fields: vector.fields), as: UTF8.self)
        #expect(json.hasPrefix("{\"market\":\"\(vector.market)\",\"asset_id\":\"\(vector.assetID)\",\"timestamp\":\""))
        #expect(
            json.hasSuffix(
                ",\"min_order_size\":\"5\",\"tick_size\":\"0.001\",\"neg_risk\":true,\"last_trade_price\":\"0.110\"}"))
        #expect(!json.contains(" "))
    }

    /// g2-aaimek-2025-01/book_message_example.json: a real pretty-printed book whose hash
    /// recomputes with the 6-field recipe.
    @Test func aaimekBookExampleSixFieldHash() throws {
        let data = Data(try Repo.bytes("corpus/g2-aaimek-2025-01/book_message_example.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func levelList(_ key: String) -> [PriceLevel] {
            (object[key] as? [[String: String]] ?? []).map {
                PriceLevel(price: dec($0["price"]!), size: dec($0["size"]!))
            }
        }
        let bids = levelList("bids")
        let asks = levelList("asks")
        #expect(bids.count == 28 && asks.count == 12)
        var book = OrderBook()
        bids.withUnsafeBufferPointer { b in
            asks.withUnsafeBufferPointer { a in book.applySnapshot(bids: b, asks: a, timestampMs: 0) }
        }
        let hash = ExchangeHasher().hash(
            book: book, market: try #require(object["market"] as? String),
            assetID: try #require(object["asset_id"] as? String),
            timestamp: try #require(object["timestamp"] as? String), fields: ExchangeHashFields(recipe: .six))
        let hex = ExchangeHashText.hex(hash)
        #expect(hex == object["hash"] as? String)
        #expect(hex.hasPrefix("a983441a"))
    }

    @Test func hashTextRoundTrips() {
        let text = "c298a90870afa056768fc82bf5217c9aa8665284"
        #expect(ExchangeHashText.hex(hashValue(text)) == text)
        #expect(ExchangeHashText.parse("C298A90870AFA056768FC82BF5217C9AA8665284") == hashValue(text))
        #expect(ExchangeHashText.parse("c298") == nil)
        #expect(ExchangeHashText.parse(String(repeating: "g", count: 40)) == nil)
    }
}
