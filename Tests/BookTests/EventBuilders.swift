import Feed
import TestSupport

// Builds Feed events from plain values. Events are non-owning views, so each builder keeps its
// bytes alive for the duration of `body`, exactly like the parser's sink callback.
@testable import Book

func dec(_ text: String) -> ExactDecimal {
    guard let value = DecimalText.parse(text) else { fatalError("bad decimal literal in test: \(text)") }
    return value
}

func hashValue(_ hex: String) -> ExchangeHash {
    guard let value = ExchangeHashText.parse(hex) else { fatalError("bad hash literal in test: \(hex)") }
    return value
}

func levels(_ pairs: [(String, String)]) -> [PriceLevel] {
    pairs.map { PriceLevel(price: dec($0.0), size: dec($0.1)) }
}

let marketA = "0x" + String(repeating: "a1", count: 32)
let marketB = "0x" + String(repeating: "b2", count: 32)
let yesAsset = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
let noAsset = "52114319501245915516055106046884209969926127482827954674443846427813813222426"

struct BookMessage {
    var asset: String
    var market: String = marketA
    var timestampMs: Int64 = 1_790_000_000_000
    var bids: [PriceLevel]
    var asks: [PriceLevel]
    var tickSize: String? = "0.01"
    var lastTradePrice: String? = nil
    var hash: ExchangeHash? = nil
    var hadEventType = true
}

/// Applies `m`; `slot` > 0 goes through `apply(_:slot:)` (the worker's path).
@discardableResult
func apply(_ m: BookMessage, slot: Int = 0, to store: BookStore) -> ApplyResult {
    var asset = Array(m.asset.utf8)
    var market = Array(m.market.utf8)
    return asset.withUnsafeMutableBytes { a in
        market.withUnsafeMutableBytes { mk in
            m.bids.withUnsafeBufferPointer { b in
                m.asks.withUnsafeBufferPointer { s in
                    let event = BookEvent(
                        assetID: UnsafeRawBufferPointer(a), market: UnsafeRawBufferPointer(mk),
                        timestampMs: m.timestampMs, hash: m.hash, bids: b, asks: s,
                        tickSize: m.tickSize.map(dec), lastTradePrice: m.lastTradePrice.map(dec),
                        hadEventType: m.hadEventType, objectOffset: 0, objectLength: 0)
                    return slot > 0 ? store.apply(event, slot: slot) : store.apply(event)
                }
            }
        }
    }
}

struct Change {
    var asset: String
    var market: String = marketA
    var timestampMs: Int64 = 1_790_000_000_100
    var side: Side
    var price: String
    var size: String
    var hash: ExchangeHash? = nil
    var bestBid: String? = nil
    var bestAsk: String? = nil
    var generation: PriceChangeGeneration = .g3
}

/// Applies `c`; `slot` > 0 goes through `apply(_:slot:)` (the worker's path).
@discardableResult
func apply(_ c: Change, slot: Int = 0, to store: BookStore) -> ApplyResult {
    var asset = Array(c.asset.utf8)
    var market = Array(c.market.utf8)
    return asset.withUnsafeMutableBytes { a in
        market.withUnsafeMutableBytes { mk in
            let event = PriceChangeEvent(
                assetID: UnsafeRawBufferPointer(a), market: UnsafeRawBufferPointer(mk), timestampMs: c.timestampMs,
                price: dec(c.price), size: dec(c.size), side: c.side, hash: c.hash,
                bestBid: c.bestBid.map(dec), bestAsk: c.bestAsk.map(dec), generation: c.generation,
                indexInMessage: 0, countInMessage: 1)
            return slot > 0 ? store.apply(event, slot: slot) : store.apply(event)
        }
    }
}

@discardableResult
func applyTrade(asset: String, market: String = marketA, price: String, to store: BookStore) -> ApplyResult {
    var a = Array(asset.utf8)
    var m = Array(market.utf8)
    return a.withUnsafeMutableBytes { ab in
        m.withUnsafeMutableBytes { mb in
            store.apply(
                LastTradeEvent(
                    assetID: UnsafeRawBufferPointer(ab), market: UnsafeRawBufferPointer(mb), timestampMs: 1,
                    price: dec(price), size: dec("10"), side: .bid))
        }
    }
}

@discardableResult
func applyTickChange(asset: String, old: String, new: String, to store: BookStore) -> ApplyResult {
    var a = Array(asset.utf8)
    var m = Array(marketA.utf8)
    return a.withUnsafeMutableBytes { ab in
        m.withUnsafeMutableBytes { mb in
            store.apply(
                TickSizeChangeEvent(
                    assetID: UnsafeRawBufferPointer(ab), market: UnsafeRawBufferPointer(mb), timestampMs: 1,
                    oldTickSize: dec(old), newTickSize: dec(new)))
        }
    }
}

@discardableResult
func applyBestBidAsk(
    asset: String, bid: String?, ask: String?, timestampMs: Int64 = 1_790_000_000_100, to store: BookStore
) -> ApplyResult {
    var a = Array(asset.utf8)
    var m = Array(marketA.utf8)
    return a.withUnsafeMutableBytes { ab in
        m.withUnsafeMutableBytes { mb in
            store.apply(
                BestBidAskEvent(
                    assetID: UnsafeRawBufferPointer(ab), market: UnsafeRawBufferPointer(mb), timestampMs: timestampMs,
                    bestBid: bid.map(dec), bestAsk: ask.map(dec), spread: nil))
        }
    }
}

/// A realistic two-sided book on a 0.001 grid around `midThousandths` with `depth` levels a
/// side, in real frame order (bids ascending, asks descending).
func realisticLevels(midThousandths: Int, depth: Int, random: inout SeededRandom) -> (
    bids: [PriceLevel], asks: [PriceLevel]
) {
    var bids: [PriceLevel] = []
    var asks: [PriceLevel] = []
    for i in 0..<depth {
        let bidPrice = Int64(midThousandths - 1 - i) * 1_000
        let askPrice = Int64(midThousandths + 1 + i) * 1_000
        let bidSize = Int64(random.next() % 500_000 + 1) * 10_000
        let askSize = Int64(random.next() % 500_000 + 1) * 10_000
        bids.append(
            PriceLevel(price: ExactDecimal(units: bidPrice, digits: 3), size: ExactDecimal(units: bidSize, digits: 2)))
        asks.append(
            PriceLevel(price: ExactDecimal(units: askPrice, digits: 3), size: ExactDecimal(units: askSize, digits: 2)))
    }
    return (bids.reversed(), asks.reversed())
}
