// All books of one worker, fed straight from Feed events.
public import Feed

/// The books of many assets, applied straight from the Feed's non-owning events. Asset and
/// market ids are interned from the event bytes (a String is allocated once per new asset), so
/// applying a price change allocates nothing in steady state. The store counts every anomaly
/// the protocol is known for (see `BookCounters`), keeps the last trade price per market (both
/// tokens of a market share it), and, when `Options.verifyExchangeHash` is on, checks the
/// exchange's own `hash` with the tolerance rules of PROTOCOL.md (see docs/BOOK.md).
///
/// One owner, one thread: a worker process owns its store; there are no locks. The state is a
/// value (`BookStoreCore`) held by this class, so each call is one exclusive access.
public final class BookStore {
    /// Store configuration.
    public struct Options: Sendable, Equatable {
        /// Check each `book` and price-change `hash` against the book (off: zero cost).
        public var verifyExchangeHash: Bool

        public init(verifyExchangeHash: Bool = false) {
            self.verifyExchangeHash = verifyExchangeHash
        }
    }

    public let options: Options
    /// `@exclusivity(unchecked)`: every method makes one access to `core` that calls nothing
    /// outside it (no callbacks, no other store), and a store is not shared between threads,
    /// so the runtime's per-call exclusivity check (several % of a worker) can never fire.
    @exclusivity(unchecked) var core: BookStoreCore

    public convenience init() {
        self.init(options: Options())
    }

    public init(options: Options) {
        self.options = options
        core = BookStoreCore(options: options)
    }

    /// The caller's position in its input (e.g. the tape line of the message being applied).
    /// Only recorded: the first exchange-hash divergence reports it as `firstDivergenceLine`.
    public var currentInputLine: Int {
        get { core.currentInputLine }
        set { core.currentInputLine = newValue }
    }

    // MARK: - Applying events

    /// A `book` snapshot: replaces the asset's book (creating it if new). A book-shaped object
    /// without `event_type` older than the live book is rejected (stale REST snapshot).
    @discardableResult
    public func apply(_ e: BookEvent) -> ApplyResult { core.apply(e) }

    /// `apply(_:)` with the caller's slot number for the event's asset: a positive number the
    /// caller gives every event of that asset id and no other (the router numbers assets as it
    /// first routes them). The store then finds the book without hashing and comparing the id.
    /// 0 means no slot.
    @discardableResult
    public func apply(_ e: BookEvent, slot: Int) -> ApplyResult { core.apply(e, slot: slot) }

    /// One level change (a G3 entry, a G2 `changes` item or a G1 message). Without a snapshot
    /// it is counted (`deltasBeforeSnapshot`) and no book is invented.
    @discardableResult
    public func apply(_ e: PriceChangeEvent) -> ApplyResult { core.apply(e) }

    /// `apply(_:)` with the caller's slot for the event's asset (see `apply(_:slot:)` for books).
    @discardableResult
    public func apply(_ e: PriceChangeEvent, slot: Int) -> ApplyResult { core.apply(e, slot: slot) }

    /// A trade: sets the market's last trade price (no book change).
    @discardableResult
    public func apply(_ e: LastTradeEvent) -> ApplyResult { core.apply(e) }

    /// A trade on another token of a market this store holds (a router sends it to every
    /// worker of the market): sets the market's last trade price, which every token's exchange
    /// hash includes, without counting a trade here. Unknown markets are ignored.
    public func applyMarketTrade(_ e: LastTradeEvent) { core.applyMarketTrade(e) }

    /// A tick size change: the book keeps its levels and takes the new tick.
    @discardableResult
    public func apply(_ e: TickSizeChangeEvent) -> ApplyResult { core.apply(e) }

    /// A `best_bid_ask` event: compared with the book's own top, never changes the book.
    @discardableResult
    public func apply(_ e: BestBidAskEvent) -> ApplyResult { core.apply(e) }

    /// Marks these assets' books untrusted until their next snapshot (a connection gap).
    public func invalidate(assetIDs: [String]) { core.invalidate(assetIDs: assetIDs) }

    /// Marks every book untrusted until its next snapshot.
    public func invalidateAll() { core.invalidateAll() }

    // MARK: - Registry

    /// Registers an asset (e.g. on subscribe) so a later price change before its snapshot counts
    /// as `deltasBeforeSnapshot`. Returns its dense index. Idempotent.
    @discardableResult
    public func register(assetID: String, market: String? = nil) -> Int {
        core.register(assetID: assetID, market: market)
    }

    /// Forgets an asset (unsubscribe): its book is dropped and its later events are counted as
    /// unknown and ignored. Returns false if the asset was not held.
    @discardableResult
    public func remove(assetID: String) -> Bool { core.remove(assetID: assetID) }

    /// Side data for an asset's market from a tape header or metadata (registers the asset).
    public func setSideData(_ data: MarketSideData, forAsset assetID: String) {
        core.setSideData(data, forAsset: assetID)
    }

    /// A copy of the asset's book (cheap: copy-on-write storage), nil if not held.
    public func book(forAsset assetID: String) -> OrderBook? { core.book(forAsset: assetID) }

    /// Asset ids of the market's books held here, sorted.
    public func assetIDs(inMarket market: String) -> [String] { core.assetIDs(inMarket: market) }

    /// The market's last trade price as written, nil if none seen.
    public func lastTradePrice(market: String) -> ExactDecimal? { core.lastTradePrice(market: market) }

    // MARK: - Reports

    /// Number of books held (registered assets, with or without a snapshot).
    public var bookCount: Int { core.bookCount }

    /// Everything counted so far (with the current number of undecided hash mismatches).
    public var counters: BookCounters { core.counters }

    /// Summaries of every book held, sorted by asset id (no levels).
    public func summaries() -> [BookSummary] { core.summaries() }

    /// One book's summary with its best `depth` levels per side (nil if the asset is not held).
    public func summary(assetID: String, depth: Int) -> BookSummary? { core.summary(assetID: assetID, depth: depth) }

    /// Heap and inline bytes this store holds, counted from actual capacities (array buffers with
    /// headers and malloc rounding, heap strings, intern tables, pending hash copies).
    public var memoryEstimate: Int {
        core.memoryEstimate + MemoryEstimate.mallocChunk(16 + MemoryLayout<Options>.size + 8)
    }
}
