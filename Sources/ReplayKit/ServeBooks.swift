// `replay serve`: the book state at a tape position, and the exchange-style `book` messages
// the server sends as an initial dump.
import Book
import Feed
import Tape

/// The books of every asset at one tape position (one per client, or one for the shared
/// clock), fed frame by frame, and rendered as compact exchange `book` JSON on demand.
final class ServeBookState {
    private var store: BookStore
    private var parser = FeedParser()
    private var sink: Sink
    private let hasher = ExchangeHasher()
    private let sideData: [String: AssetSideData]

    /// Per-asset facts the book store does not hand out: the market and the exchange's last hash.
    struct AssetFacts {
        var market: String
        /// The hash on the last `book` or `price_change` entry for the asset.
        var lastHash: ExchangeHash?
        /// Exchange timestamp of that last hashed event.
        var lastHashTimestampMs: Int64
    }

    fileprivate struct Sink: FeedSink {
        var store: BookStore
        var facts: [String: AssetFacts] = [:]

        mutating func note(
            asset: UnsafeRawBufferPointer, market: UnsafeRawBufferPointer, hash: ExchangeHash?, timestampMs: Int64
        ) {
            let id = feedString(asset)
            var entry = facts[id] ?? AssetFacts(market: "", lastHash: nil, lastHashTimestampMs: 0)
            if !market.isEmpty, entry.market.isEmpty { entry.market = feedString(market) }
            if let hash {
                entry.lastHash = hash
                entry.lastHashTimestampMs = timestampMs
            }
            facts[id] = entry
        }

        mutating func onBook(_ event: BookEvent) {
            _ = store.apply(event)
            note(asset: event.assetID, market: event.market, hash: event.hash, timestampMs: event.timestampMs)
        }
        mutating func onPriceChange(_ event: PriceChangeEvent) {
            _ = store.apply(event)
            note(asset: event.assetID, market: event.market, hash: event.hash, timestampMs: event.timestampMs)
        }
        mutating func onLastTrade(_ event: LastTradeEvent) { _ = store.apply(event) }
        mutating func onTickSizeChange(_ event: TickSizeChangeEvent) { _ = store.apply(event) }
        mutating func onBestBidAsk(_ event: BestBidAskEvent) {}
        mutating func onError(_ error: FeedError) {}
    }

    init(sideData: [String: AssetSideData]) {
        self.sideData = sideData
        store = Self.makeStore(sideData)
        sink = Sink(store: store)
    }

    private static func makeStore(_ sideData: [String: AssetSideData]) -> BookStore {
        let store = BookStore()
        for (asset, data) in sideData {
            store.setSideData(
                MarketSideData(
                    market: data.market, minOrderSize: data.minOrderSize, negRisk: data.negRisk, tickSize: data.tickSize
                ),
                forAsset: asset)
        }
        return store
    }

    /// Applies one recorded frame.
    func apply(_ frame: [UInt8]) {
        _ = parser.parse(frame, into: &sink)
    }

    /// Forgets every book (a `--loop` restart: books come back from the tape's own snapshots).
    func reset() {
        store = Self.makeStore(sideData)
        sink = Sink(store: store)
    }

    /// Whether the asset has a book (a snapshot seen since the start or the last reset).
    func hasBook(_ assetID: String) -> Bool {
        store.book(forAsset: assetID)?.hasSnapshot ?? false
    }

    /// The exchange-style `book` message for the asset, nil when it has no book here.
    ///
    /// Keys in the order of the exchange's own initial dumps (market, asset_id, timestamp,
    /// hash, bids ascending, asks descending, tick_size, event_type, last_trade_price),
    /// compact, prices and sizes as the exchange wrote them. `hash` is computed with the exchange recipe when the
    /// header gives the market's min_order_size and neg_risk; otherwise it is the last hash
    /// the tape showed for the asset (exact whenever the book has not changed since).
    func bookMessage(_ assetID: String) -> [UInt8]? {
        guard let book = store.book(forAsset: assetID), book.hasSnapshot else { return nil }
        let facts = sink.facts[assetID]
        let market = facts?.market.isEmpty == false ? facts!.market : (sideData[assetID]?.market ?? "")
        let lastTrade = market.isEmpty ? nil : store.lastTradePrice(market: market)
        let timestamp = String(book.lastTimestampMs)
        var hashText = ""
        if let computed = computedHash(
            book: book, assetID: assetID, market: market, timestamp: timestamp, lastTrade: lastTrade)
        {
            hashText = computed.hex
        } else if let seen = facts?.lastHash {
            hashText = seen.hex
        }
        var out: [UInt8] = []
        out.reserveCapacity(256 + 40 * (book.bids.count + book.asks.count))
        func key(_ name: String, _ value: String) {
            out.append(contentsOf: "\"\(name)\":\"".utf8)
            out.append(contentsOf: value.utf8)
            out.append(UInt8(ascii: "\""))
        }
        func levels(_ side: BookSide) {
            out.append(UInt8(ascii: "["))
            for index in 0..<side.count {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                let level = side.level(at: index)
                out.append(contentsOf: #"{"price":""#.utf8)
                level.price.render(into: &out)
                out.append(contentsOf: #"","size":""#.utf8)
                level.size.render(into: &out)
                out.append(contentsOf: #""}"#.utf8)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "{"))
        key("market", market)
        out.append(UInt8(ascii: ","))
        key("asset_id", assetID)
        out.append(UInt8(ascii: ","))
        key("timestamp", timestamp)
        out.append(UInt8(ascii: ","))
        key("hash", hashText)
        out.append(contentsOf: #","bids":"#.utf8)
        levels(book.bids)
        out.append(contentsOf: #","asks":"#.utf8)
        levels(book.asks)
        if let tick = book.tickSize {
            out.append(UInt8(ascii: ","))
            key("tick_size", tick.render())
        }
        // The exchange's own dumps end with event_type then last_trade_price (g3-enrico).
        out.append(contentsOf: #","event_type":"book","#.utf8)
        key("last_trade_price", lastTrade.map { $0.rendered(digits: 3) } ?? "")
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The initial dump for `assets`: one JSON array of `book` messages, in the order asked,
    /// leaving out assets with no book (as the exchange does for settled markets).
    func initialDump(_ assets: [String]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        var first = true
        for asset in assets {
            guard let message = bookMessage(asset) else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: message)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    private func computedHash(
        book: OrderBook, assetID: String, market: String, timestamp: String, lastTrade: ExactDecimal?
    ) -> ExchangeHash? {
        guard !market.isEmpty, let data = sideData[assetID], let minText = data.minOrderSize,
            let minOrderSize = ExactDecimal(minText), let negRisk = data.negRisk,
            let tick = book.tickSize ?? data.tickSize.flatMap({ ExactDecimal($0) })
        else { return nil }
        let fields = ExchangeHashFields(
            recipe: Self.recipe(atMs: book.lastTimestampMs), minOrderSize: minOrderSize, tickSize: tick,
            negRisk: negRisk,
            lastTradePrice: lastTrade)
        return hasher.hash(book: book, market: market, assetID: assetID, timestamp: timestamp, fields: fields)
    }

    /// The recipe the exchange used at that time (PROTOCOL.md: 6 fields until about
    /// 2025-10-21, 9 until about 2025-11-30, 10 since).
    static func recipe(atMs timestampMs: Int64) -> ExchangeHashRecipe {
        if timestampMs >= 1_764_460_800_000 { return .ten }  // 2025-11-30T00:00Z
        if timestampMs >= 1_761_004_800_000 { return .nine }  // 2025-10-21T00:00Z
        return .six
    }
}
