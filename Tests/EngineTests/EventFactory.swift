// Builds Feed events for tests. Events hold pointers, so each builder runs a closure while
// the bytes they point to are alive.
import Feed

func decimal(_ units: Int64, digits: UInt8 = 2) -> ExactDecimal { ExactDecimal(units: units, digits: digits) }

/// Price in hundredths (e.g. 48 → 0.48) and size in whole units.
func level(_ cents: Int64, _ size: Int64) -> PriceLevel {
    PriceLevel(price: decimal(cents * 10_000), size: decimal(size * 1_000_000, digits: 0))
}

func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { body($0) }
}

func withBook<R>(
    asset: String, market: String = "0xmarket", bids: [PriceLevel], asks: [PriceLevel], timestampMs: Int64 = 1,
    hash: ExchangeHash? = nil, _ body: (BookEvent) -> R
) -> R {
    withBytes(asset) { assetBytes in
        withBytes(market) { marketBytes in
            bids.withUnsafeBufferPointer { bidLevels in
                asks.withUnsafeBufferPointer { askLevels in
                    body(
                        BookEvent(
                            assetID: assetBytes, market: marketBytes, timestampMs: timestampMs, hash: hash,
                            bids: bidLevels,
                            asks: askLevels, tickSize: decimal(10_000), lastTradePrice: decimal(500_000, digits: 3),
                            hadEventType: true, objectOffset: 0, objectLength: 0))
                }
            }
        }
    }
}

func withPriceChange<R>(
    asset: String, cents: Int64, size: Int64, side: Side, timestampMs: Int64 = 2, _ body: (PriceChangeEvent) -> R
) -> R {
    withBytes(asset) { assetBytes in
        withBytes("0xmarket") { marketBytes in
            body(
                PriceChangeEvent(
                    assetID: assetBytes, market: marketBytes, timestampMs: timestampMs, price: decimal(cents * 10_000),
                    size: decimal(size * 1_000_000, digits: 0), side: side,
                    hash: ExchangeHash(high: 1, middle: 2, low: 3), bestBid: decimal(480_000), bestAsk: nil,
                    generation: .g3, indexInMessage: 1, countInMessage: 2))
        }
    }
}

func withLastTrade<R>(asset: String, market: String = "0xmarket", _ body: (LastTradeEvent) -> R) -> R {
    withBytes(asset) { a in
        withBytes(market) { m in
            body(
                LastTradeEvent(
                    assetID: a, market: m, timestampMs: 3, price: decimal(510_000), size: decimal(1_234_567, digits: 6),
                    side: .ask))
        }
    }
}

func withTickSize<R>(asset: String, _ body: (TickSizeChangeEvent) -> R) -> R {
    withBytes(asset) { a in
        withBytes("0xmarket") { m in
            body(
                TickSizeChangeEvent(
                    assetID: a, market: m, timestampMs: 4, oldTickSize: decimal(10_000),
                    newTickSize: decimal(1_000, digits: 3)))
        }
    }
}

func withBestBidAsk<R>(asset: String, _ body: (BestBidAskEvent) -> R) -> R {
    withBytes(asset) { a in
        withBytes("0xmarket") { m in
            body(
                BestBidAskEvent(
                    assetID: a, market: m, timestampMs: 5, bestBid: decimal(480_000), bestAsk: decimal(520_000),
                    spread: nil))
        }
    }
}

func withOther<R>(asset: String, eventType: String = "market_resolved", _ body: (OtherEvent) -> R) -> R {
    withBytes(asset) { a in
        withBytes("0xmarket") { m in
            withBytes(eventType) { t in
                body(OtherEvent(kind: .marketResolved, eventType: t, assetID: a, market: m, timestampMs: 6))
            }
        }
    }
}

func string(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
