// The order book of one asset (one outcome token).
public import Feed

/// The order book of one asset, kept exactly: prices and sizes as fixed-point millionths with
/// the exchange's written digits, both sides in sorted contiguous storage (see `BookSide`). A
/// book is trusted only after a snapshot and until the caller invalidates it (for example on a
/// reconnect gap). Top of book, spread and mid always come from the levels themselves, never
/// from the level that changed last. No I/O, no locks: one owner mutates it.
public struct OrderBook: Sendable {
    public internal(set) var bids = BookSide(side: .bid)
    public internal(set) var asks = BookSide(side: .ask)
    /// From the book's `tick_size` or the last `tick_size_change` (nil until one is seen).
    public internal(set) var tickSize: ExactDecimal?
    /// Exchange timestamp (epoch ms) of the newest event applied (never moves backwards).
    public internal(set) var lastTimestampMs: Int64 = 0
    /// True once a snapshot has been applied (whatever happened since).
    public internal(set) var hasSnapshot = false
    /// True after a snapshot until `invalidate()`; a new snapshot makes it true again.
    public internal(set) var isTrusted = false

    public init() {}

    /// Replaces every level (the `book` message); levels may come in any order.
    public mutating func applySnapshot(
        bids: UnsafeBufferPointer<PriceLevel>, asks: UnsafeBufferPointer<PriceLevel>, timestampMs: Int64,
        tickSize: ExactDecimal? = nil
    ) {
        self.bids.replace(with: bids)
        self.asks.replace(with: asks)
        if let tickSize { self.tickSize = tickSize }
        lastTimestampMs = timestampMs
        hasSnapshot = true
        isTrusted = true
    }

    /// Sets one level to `size` (the new total at that price); zero removes it.
    @discardableResult
    public mutating func applyLevel(side: Side, price: ExactDecimal, size: ExactDecimal, timestampMs: Int64) -> Bool {
        let change: LevelChange
        switch side {
        case .bid: change = bids.set(price: price, size: size)
        case .ask: change = asks.set(price: price, size: size)
        }
        if timestampMs > lastTimestampMs { lastTimestampMs = timestampMs }
        return change != .removedAbsent
    }

    public mutating func setTickSize(_ tick: ExactDecimal) { tickSize = tick }

    /// Marks the book untrusted (levels stay) until the next snapshot.
    public mutating func invalidate() { isTrusted = false }

    /// Best bid / best ask with the exchange's strings.
    public var bestBid: PriceLevel? { bids.best }
    public var bestAsk: PriceLevel? { asks.best }

    /// Best ask − best bid in millionths (negative when crossed), nil if a side is empty.
    public var spreadUnits: Int64? {
        guard let bid = bids.bestPriceUnits, let ask = asks.bestPriceUnits else { return nil }
        return ask - bid
    }

    /// Twice the mid price, in millionths: bid + ask. Kept doubled so it stays exact (the mid of
    /// 0.01-tick prices can be a half tick, e.g. 0.505, and of 0.001 ticks half a unit of 10^-3;
    /// doubling keeps every case an integer). nil if a side is empty.
    public var midDoubledUnits: Int64? {
        guard let bid = bids.bestPriceUnits, let ask = asks.bestPriceUnits else { return nil }
        return bid + ask
    }

    /// Crossed (bid > ask) or locked (bid == ask).
    public var isCrossedOrLocked: Bool {
        guard let bid = bids.bestPriceUnits, let ask = asks.bestPriceUnits else { return false }
        return bid >= ask
    }

    /// Level count and total size (millionths) of one side.
    public func depth(_ side: Side) -> (levels: Int, totalSizeUnits: Int64) {
        let bookSide = side == .bid ? bids : asks
        return (bookSide.count, bookSide.totalSizeUnits)
    }

    /// The best `depth` levels of a side, best first.
    public func levels(_ side: Side, depth: Int) -> [PriceLevel] {
        side == .bid ? bids.levels(depth: depth) : asks.levels(depth: depth)
    }

    /// True when `price` is not a multiple of the known tick size.
    public func isOffTick(_ price: ExactDecimal) -> Bool {
        guard let tick = tickSize, tick.units > 0 else { return false }
        return price.units % tick.units != 0
    }

    /// Heap bytes held by this book's level storage.
    public var heapBytes: Int { bids.heapBytes + asks.heapBytes }
}
