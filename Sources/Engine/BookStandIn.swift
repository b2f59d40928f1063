// TEMPORARY stand-in for the Book module's BookStore API, so the pool can be built and tested
// before Book lands on main. Deleted when Engine switches to `import Book`.
import Feed

public struct BookCounters: Sendable, Codable, Equatable {
    public var snapshots: UInt64 = 0
    public var changes: UInt64 = 0
    public var changesWithoutBook: UInt64 = 0
    public var invalidations = 0
    public init() {}
    public static func += (lhs: inout BookCounters, rhs: BookCounters) {
        lhs.snapshots += rhs.snapshots
        lhs.changes += rhs.changes
        lhs.changesWithoutBook += rhs.changesWithoutBook
        lhs.invalidations += rhs.invalidations
    }
}

public struct BookSummary: Sendable, Codable, Equatable {
    public var assetID: String
    public var digest: String
    public var bidLevels: Int
    public var askLevels: Int
    public var trusted: Bool
}

enum ApplyResult { case applied, noBook }

public struct MarketSideData: Sendable, Codable, Equatable {
    public var market: String?
    public var minOrderSize: String?
    public var negRisk: Bool?
    public init(market: String? = nil, minOrderSize: String? = nil, negRisk: Bool? = nil) {
        self.market = market
        self.minOrderSize = minOrderSize
        self.negRisk = negRisk
    }
}

final class BookStore {
    struct Options { var verifyExchangeHash: Bool }
    var books: [String: (bids: [Int64: Int64], asks: [Int64: Int64])] = [:]
    var untrusted: Set<String> = []
    var counters = BookCounters()
    var sideData: [String: MarketSideData] = [:]
    init() {}
    init(options: Options) {}

    static func key(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
    @discardableResult func apply(_ e: BookEvent) -> ApplyResult {
        var bids: [Int64: Int64] = [:]
        var asks: [Int64: Int64] = [:]
        for level in e.bids where level.size.units > 0 { bids[level.price.units] = level.size.units }
        for level in e.asks where level.size.units > 0 { asks[level.price.units] = level.size.units }
        books[Self.key(e.assetID)] = (bids, asks)
        untrusted.remove(Self.key(e.assetID))
        counters.snapshots += 1
        return .applied
    }
    @discardableResult func apply(_ e: PriceChangeEvent) -> ApplyResult {
        let key = Self.key(e.assetID)
        guard var book = books[key] else {
            counters.changesWithoutBook += 1
            return .noBook
        }
        let size: Int64? = e.size.units == 0 ? nil : e.size.units
        if e.side == .bid { book.bids[e.price.units] = size } else { book.asks[e.price.units] = size }
        books[key] = book
        counters.changes += 1
        return .applied
    }
    @discardableResult func apply(_ e: LastTradeEvent) -> ApplyResult { .applied }
    @discardableResult func apply(_ e: TickSizeChangeEvent) -> ApplyResult { .applied }
    @discardableResult func apply(_ e: BestBidAskEvent) -> ApplyResult { .applied }
    func invalidate(assetIDs: [String]) {
        for id in assetIDs where books[id] != nil && !untrusted.contains(id) {
            untrusted.insert(id)
            counters.invalidations += 1
        }
    }
    func setSideData(_ data: MarketSideData, forAsset asset: String) { sideData[asset] = data }
    var bookCount: Int { books.count }
    var memoryEstimate: Int { books.values.reduce(0) { $0 + 64 + 16 * ($1.bids.count + $1.asks.count) } }
    func summaries() -> [BookSummary] {
        books.keys.sorted().map { summary(assetID: $0, depth: 0)! }
    }
    func summary(assetID: String, depth: Int) -> BookSummary? {
        guard let book = books[assetID] else { return nil }
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for (price, size) in book.bids.sorted(by: { $0.key < $1.key }) + [(-1, -1)]
            + book.asks.sorted(by: { $0.key < $1.key })
        {
            digest = (digest ^ UInt64(bitPattern: price)) &* 0x100_0000_01b3
            digest = (digest ^ UInt64(bitPattern: size)) &* 0x100_0000_01b3
        }
        return BookSummary(
            assetID: assetID, digest: String(digest, radix: 16), bidLevels: book.bids.count,
            askLevels: book.asks.count, trusted: !untrusted.contains(assetID))
    }
}
