// Value types the BookStore reports: counters, summaries, side data, results.

/// What happened to one applied event.
public enum ApplyResult: Sendable, Equatable {
    /// The event changed (or confirmed) book state.
    case applied
    /// A price change for an asset without a snapshot: counted, no book invented.
    case noBook
    /// An event for an asset this store does not hold (never seen, or removed): counted, ignored.
    case unknownAsset
    /// A book-shaped object without `event_type` (REST `/book`) older than the live book.
    case rejectedStale
    /// A level with a non-positive price: counted, not applied.
    case invalidLevel
}

/// Why an exchange-hash check could not be done.
public enum HashUnverifiableReason: String, Sendable, Codable, Equatable, CaseIterable {
    /// No min_order_size / neg_risk from a tape header and no hashed book of the market to
    /// recover them from yet.
    case noSideData
    /// A hashed book was seen but no candidate (min_order_size × neg_risk × recipe) matched.
    case recipeUnknown
    /// A G1/G2 hash never matched for this asset at any timestamp offset 0–49 ms.
    case g2TimestampOffsetUnknown
    /// The book was invalidated (reconnect gap) and no snapshot has arrived since.
    case bookUntrusted
    /// A pending mismatch was overtaken by a new snapshot before it could be resolved.
    case supersededBySnapshot
    /// A pending mismatch's asset was removed (unsubscribed) before it could be resolved.
    case assetRemoved

    /// Position in `allCases` (counted in a plain array on the hot path, not a dictionary).
    var ordinal: Int {
        switch self {
        case .noSideData: 0
        case .recipeUnknown: 1
        case .g2TimestampOffsetUnknown: 2
        case .bookUntrusted: 3
        case .supersededBySnapshot: 4
        case .assetRemoved: 5
        }
    }
}

/// The result of the last exchange-hash check of one book.
public enum HashStatus: Sendable, Equatable {
    /// No hash checked (verification disabled, or no hashed event yet).
    case none
    case verified
    /// Matched after tolerance: at the end of a burst, after the next change, or with a leading
    /// last_trade_price.
    case verifiedLate
    /// A mismatch waiting for the asset's next hashed change to decide.
    case pending
    /// Mismatched once, but the next change verified.
    case mismatchedTransient
    /// Mismatched and still mismatched after the next change.
    case diverged
    case unverifiable(HashUnverifiableReason)

    /// Stable text for summaries and golden files ("verified", "unverifiable:noSideData", ...).
    public var text: String {
        switch self {
        case .none: "none"
        case .verified: "verified"
        case .verifiedLate: "verifiedLate"
        case .pending: "pending"
        case .mismatchedTransient: "mismatchedTransient"
        case .diverged: "diverged"
        case .unverifiable(let reason): "unverifiable:\(reason.rawValue)"
        }
    }
}

/// Per-market inputs of the exchange hash that the stream does not carry (from a tape header or
/// market metadata). Any field may be missing; missing ones are recovered from the first hashed
/// book of the market when verification is on.
public struct MarketSideData: Sendable, Codable, Equatable {
    /// Condition id, "0x" + 64 hex.
    public var market: String?
    /// Exchange text, e.g. "5".
    public var minOrderSize: String?
    public var negRisk: Bool?
    /// Exchange text, e.g. "0.01".
    public var tickSize: String?
    /// 6, 9 or 10 when known.
    public var hashRecipe: Int?

    public init(
        market: String? = nil, minOrderSize: String? = nil, negRisk: Bool? = nil, tickSize: String? = nil,
        hashRecipe: Int? = nil
    ) {
        self.market = market
        self.minOrderSize = minOrderSize
        self.negRisk = negRisk
        self.tickSize = tickSize
        self.hashRecipe = hashRecipe
    }
}

/// Everything counted while applying events. For a given tape every count is deterministic
/// (pacing never matters). Two depend on how assets are split across workers, because the
/// two tokens of a market share per-market state: `sideDataRecovered` (one search per market
/// per worker that holds it) and the split of exchange-hash outcomes between `verified` and
/// `verifiedLate` (a trade is announced on one token; the other token's worker finds the price
/// on the grid instead). Everything else is independent of the worker count. Merge per-worker
/// counters with `+=`.
public struct BookCounters: Sendable, Codable, Equatable {
    /// `book` messages applied.
    public var snapshots = 0
    /// Level changes applied.
    public var priceChanges = 0
    /// Price changes for an asset without a snapshot (counted, no book invented).
    public var deltasBeforeSnapshot = 0
    /// Price changes applied to a book invalidated since its last snapshot.
    public var deltasWhileUntrusted = 0
    /// Size-zero changes for a level the book did not hold.
    public var removalsOfAbsentLevels = 0
    /// Updates (snapshot or level change) after which the book was crossed or locked.
    public var crossedBooks = 0
    /// Levels (in snapshots or changes) whose price is not a multiple of the tick size.
    public var offTickLevels = 0
    /// Levels with a non-positive price (not applied).
    public var invalidLevels = 0
    /// G3 entries whose best_bid/best_ask were compared with the book's own top.
    public var topOfBookChecks = 0
    public var topOfBookMismatches = 0
    /// `best_bid_ask` events compared with the book's own top (no book change), decided when
    /// the book reaches that top or a later event makes it a mismatch (see docs/BOOK.md).
    public var bestBidAskChecks = 0
    public var bestBidAskMismatches = 0
    public var tickSizeChanges = 0
    public var lastTrades = 0
    /// Non-book events for assets this store does not hold (ignored).
    public var unknownAssetEvents = 0
    /// Books marked untrusted by `invalidate(assetIDs:)` / `invalidateAll()`.
    public var invalidations = 0
    /// REST-shaped books (no event_type) older than the live book, rejected.
    public var staleSnapshotsRejected = 0

    /// Hash-bearing events checked. checked = verified + verifiedLate + mismatchedTransient +
    /// diverged + unverifiable + pending.
    public var exchangeHashChecked = 0
    public var exchangeHashVerified = 0
    public var exchangeHashVerifiedLate = 0
    public var exchangeHashMismatchedTransient = 0
    public var exchangeHashDiverged = 0
    public var exchangeHashUnverifiable = 0
    /// `HashUnverifiableReason.rawValue` → count (sums to `exchangeHashUnverifiable`).
    public var exchangeHashUnverifiableReasons: [String: Int] = [:]
    /// Mismatches not yet decided (no later hashed change for the asset yet).
    public var exchangeHashPending = 0
    /// Markets whose side data was recovered by search from a hashed book.
    public var sideDataRecovered = 0
    /// The earliest divergence (by exchange timestamp, then asset id), if any.
    public var firstDivergenceAssetID: String?
    public var firstDivergenceTimestampMs: Int64?
    /// The input line (`BookStore.currentInputLine` when the diverging event was applied).
    public var firstDivergenceLine: Int?

    public init() {}

    public static func += (lhs: inout BookCounters, rhs: BookCounters) {
        lhs.snapshots += rhs.snapshots
        lhs.priceChanges += rhs.priceChanges
        lhs.deltasBeforeSnapshot += rhs.deltasBeforeSnapshot
        lhs.deltasWhileUntrusted += rhs.deltasWhileUntrusted
        lhs.removalsOfAbsentLevels += rhs.removalsOfAbsentLevels
        lhs.crossedBooks += rhs.crossedBooks
        lhs.offTickLevels += rhs.offTickLevels
        lhs.invalidLevels += rhs.invalidLevels
        lhs.topOfBookChecks += rhs.topOfBookChecks
        lhs.topOfBookMismatches += rhs.topOfBookMismatches
        lhs.bestBidAskChecks += rhs.bestBidAskChecks
        lhs.bestBidAskMismatches += rhs.bestBidAskMismatches
        lhs.tickSizeChanges += rhs.tickSizeChanges
        lhs.lastTrades += rhs.lastTrades
        lhs.unknownAssetEvents += rhs.unknownAssetEvents
        lhs.invalidations += rhs.invalidations
        lhs.staleSnapshotsRejected += rhs.staleSnapshotsRejected
        lhs.exchangeHashChecked += rhs.exchangeHashChecked
        lhs.exchangeHashVerified += rhs.exchangeHashVerified
        lhs.exchangeHashVerifiedLate += rhs.exchangeHashVerifiedLate
        lhs.exchangeHashMismatchedTransient += rhs.exchangeHashMismatchedTransient
        lhs.exchangeHashDiverged += rhs.exchangeHashDiverged
        lhs.exchangeHashUnverifiable += rhs.exchangeHashUnverifiable
        lhs.exchangeHashUnverifiableReasons.merge(rhs.exchangeHashUnverifiableReasons, uniquingKeysWith: +)
        lhs.exchangeHashPending += rhs.exchangeHashPending
        lhs.sideDataRecovered += rhs.sideDataRecovered
        lhs.noteDivergence(
            assetID: rhs.firstDivergenceAssetID, timestampMs: rhs.firstDivergenceTimestampMs,
            line: rhs.firstDivergenceLine)
    }

    /// Keeps the earliest divergence (ties broken by asset id, so merging order never matters).
    mutating func noteDivergence(assetID: String?, timestampMs: Int64?, line: Int?) {
        guard let assetID, let timestampMs else { return }
        if let current = firstDivergenceTimestampMs, let currentAsset = firstDivergenceAssetID,
            (current, currentAsset) <= (timestampMs, assetID)
        {
            return
        }
        firstDivergenceAssetID = assetID
        firstDivergenceTimestampMs = timestampMs
        firstDivergenceLine = line
    }
}

/// A book's state in a form for reports and golden files. Prices and sizes are the exchange's
/// own strings; `digest` is the canonical book digest (see `BookDigest`), which ignores written
/// precision and arrival order.
public struct BookSummary: Sendable, Codable, Equatable {
    public var assetID: String
    /// "" when the market is unknown.
    public var market: String
    public var digest: String
    public var bestBid: String?
    public var bestAsk: String?
    public var bidLevels: Int
    public var askLevels: Int
    /// Best first, `[price, size]`, up to the requested depth (nil when depth 0 was asked).
    public var bids: [[String]]?
    public var asks: [[String]]?
    public var tickSize: String?
    /// The market's last trade price as the exchange wrote it.
    public var lastTradePrice: String?
    public var trusted: Bool
    /// `HashStatus.text` of the last exchange-hash check.
    public var hashStatus: String
    public var lastTimestampMs: Int64
    /// Input lines of the snapshot the book's state started from and of its last change (0: not
    /// known, e.g. when the caller never set `BookStore.currentInputLine`).
    public var snapshotLine: Int
    public var lastChangeLine: Int

    public init(
        assetID: String, market: String, digest: String, bestBid: String?, bestAsk: String?, bidLevels: Int,
        askLevels: Int, bids: [[String]]?, asks: [[String]]?, tickSize: String?, lastTradePrice: String?,
        trusted: Bool, hashStatus: String, lastTimestampMs: Int64, snapshotLine: Int = 0, lastChangeLine: Int = 0
    ) {
        self.snapshotLine = snapshotLine
        self.lastChangeLine = lastChangeLine
        self.assetID = assetID
        self.market = market
        self.digest = digest
        self.bestBid = bestBid
        self.bestAsk = bestAsk
        self.bidLevels = bidLevels
        self.askLevels = askLevels
        self.bids = bids
        self.asks = asks
        self.tickSize = tickSize
        self.lastTradePrice = lastTradePrice
        self.trusted = trusted
        self.hashStatus = hashStatus
        self.lastTimestampMs = lastTimestampMs
    }
}
