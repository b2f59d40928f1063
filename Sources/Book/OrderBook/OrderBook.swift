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
    /// The input (tape) lines of the snapshot this state started from and of the last change
    /// applied since: where to look when the book differs from a golden. 0 when not known.
    public internal(set) var snapshotLine = 0
    public internal(set) var lastChangeLine = 0
    /// True once a snapshot has been applied (whatever happened since).
    public internal(set) var hasSnapshot = false
    /// True after a snapshot until `invalidate()`; a new snapshot makes it true again.
    public internal(set) var isTrusted = false
    /// A `best_bid_ask` not yet matched by the book: the exchange sends it just before the
    /// price change with the same timestamp, so it is decided by the following changes.
    var pendingTop: PendingTop?

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

    /// Compares an exchange top of book with the book's own. An empty bid side is sent as "0",
    /// an empty ask side as "1" or "0"; a missing field is not compared.
    func topMatches(bestBid: ExactDecimal?, bestAsk: ExactDecimal?) -> Bool {
        if let bestBid {
            let own = bids.bestPriceUnits ?? 0
            if own != bestBid.units { return false }
        }
        if let bestAsk {
            if let own = asks.bestPriceUnits {
                if own != bestAsk.units { return false }
            } else if bestAsk.units != 0 && bestAsk.units != ExactDecimal.scale {
                return false
            }
        }
        return true
    }

    /// The store's whole per-book part of a price change, in one in-place call.
    mutating func apply(_ e: PriceChangeEvent, inputLine: Int = 0) -> ChangeOutcome {
        guard hasSnapshot else { return .noSnapshot }
        if e.price.units <= 0 { return .invalidPrice }
        lastChangeLine = inputLine
        var outcome: ChangeOutcome = []
        if let pending = pendingTop, e.timestampMs > pending.timestampMs {
            outcome.insert([.bestBidAskChecked, .bestBidAskMismatch])
            pendingTop = nil
        }
        if !isTrusted { outcome.insert(.untrusted) }
        if isOffTick(e.price) { outcome.insert(.offTick) }
        if !applyLevel(side: e.side, price: e.price, size: e.size, timestampMs: e.timestampMs) {
            outcome.insert(.removedAbsent)
        }
        if isCrossedOrLocked { outcome.insert(.crossed) }
        if e.bestBid != nil || e.bestAsk != nil {
            outcome.insert(.topChecked)
            if !topMatches(bestBid: e.bestBid, bestAsk: e.bestAsk) { outcome.insert(.topMismatch) }
        }
        if let pending = pendingTop, topMatches(bestBid: pending.bestBid, bestAsk: pending.bestAsk) {
            outcome.insert(.bestBidAskChecked)
            pendingTop = nil
        }
        return outcome
    }
}

/// What applying one price change found (the store turns these into counters).
struct ChangeOutcome: OptionSet {
    let rawValue: UInt16
    static let noSnapshot = ChangeOutcome(rawValue: 1 << 0)
    static let invalidPrice = ChangeOutcome(rawValue: 1 << 1)
    static let untrusted = ChangeOutcome(rawValue: 1 << 2)
    static let offTick = ChangeOutcome(rawValue: 1 << 3)
    static let removedAbsent = ChangeOutcome(rawValue: 1 << 4)
    static let crossed = ChangeOutcome(rawValue: 1 << 5)
    static let topChecked = ChangeOutcome(rawValue: 1 << 6)
    static let topMismatch = ChangeOutcome(rawValue: 1 << 7)
    static let bestBidAskChecked = ChangeOutcome(rawValue: 1 << 8)
    static let bestBidAskMismatch = ChangeOutcome(rawValue: 1 << 9)
}

/// A `best_bid_ask` waiting for the book to reach it.
struct PendingTop: Sendable {
    var timestampMs: Int64
    var bestBid: ExactDecimal?
    var bestAsk: ExactDecimal?
}
