// The wire model of the Polymarket market channel, as the parser hands it to consumers.
//
// Events are non-owning views: every `UnsafeRawBufferPointer` and `UnsafeBufferPointer` in
// them points into the frame being parsed (or into the parser's reusable scratch buffers)
// and is valid only during the sink callback that receives the event. Consumers that keep
// an asset id intern it (once per asset), which keeps steady-state parsing allocation-free.

/// An exact decimal as the exchange writes it: the value in millionths plus the number of
/// fraction digits that were written, so that "0.5" and "0.50" compare equal while each can
/// still be re-rendered byte-exact for the exchange hash. Prices (≤ 4 decimals), book sizes
/// (≤ 2) and trade sizes (≤ 6) all fit exactly; no floating point is involved anywhere.
public struct ExactDecimal: Sendable {
    /// Value × 10^6.
    public var units: Int64
    /// Fraction digits as written ("0.50" → 2, "2226" → 0, ".48" → 2).
    public var digits: UInt8
    /// True when the writer omitted the leading zero (".48"), so rendering can repeat it.
    public var leadingDot: Bool

    public static let scale: Int64 = 1_000_000
    public static let maxDigits: UInt8 = 6

    public init(units: Int64, digits: UInt8, leadingDot: Bool = false) {
        self.units = units
        self.digits = digits
        self.leadingDot = leadingDot
    }

    public static let zero = ExactDecimal(units: 0, digits: 0)
}

extension ExactDecimal: Equatable, Hashable, Comparable {
    /// Equal values are equal whatever their written precision: "0.5" == "0.50".
    public static func == (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool { lhs.units == rhs.units }
    public func hash(into hasher: inout Hasher) { hasher.combine(units) }
    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool { lhs.units < rhs.units }
}

/// Which side of the book a level or change belongs to. The feed says BUY (bid) / SELL (ask).
public enum Side: UInt8, Sendable, Hashable {
    case bid = 0
    case ask = 1
}

/// A SHA-1 digest as the exchange sends it in `hash` (40 lowercase hex characters).
public struct ExchangeHash: Sendable, Hashable {
    public var high: UInt64
    public var middle: UInt64
    public var low: UInt32

    public init(high: UInt64, middle: UInt64, low: UInt32) {
        self.high = high
        self.middle = middle
        self.low = low
    }
}

/// One `{price, size}` level of a `book` message, in the order the frame lists it.
public struct PriceLevel: Sendable, Hashable {
    public var price: ExactDecimal
    public var size: ExactDecimal

    public init(price: ExactDecimal, size: ExactDecimal) {
        self.price = price
        self.size = size
    }
}

/// The three `price_change` layouts found in real archives (see PROTOCOL.md).
public enum PriceChangeGeneration: UInt8, Sendable {
    /// Mid-2024: one flat level per message.
    case g1 = 1
    /// Late 2024 – 2025-09-15: top-level `asset_id`/`hash` with a `changes` list.
    case g2 = 2
    /// Since 2025-09-15: `price_changes` entries, each with its own asset, hash and top of book.
    case g3 = 3
}

/// A `book` message: a full snapshot that replaces the asset's book.
public struct BookEvent {
    public var assetID: UnsafeRawBufferPointer
    public var market: UnsafeRawBufferPointer
    /// Exchange timestamp, epoch milliseconds (0 when absent).
    public var timestampMs: Int64
    public var hash: ExchangeHash?
    /// Levels in frame order (real frames: bids ascending, asks descending; docs: otherwise).
    public var bids: UnsafeBufferPointer<PriceLevel>
    public var asks: UnsafeBufferPointer<PriceLevel>
    public var tickSize: ExactDecimal?
    /// nil when absent or "".
    public var lastTradePrice: ExactDecimal?
    /// False for book-shaped objects without `event_type` (REST `/book`, some archives).
    public var hadEventType: Bool
    /// Byte range of this object inside the frame.
    public var objectOffset: Int
    public var objectLength: Int

    public init(
        assetID: UnsafeRawBufferPointer, market: UnsafeRawBufferPointer, timestampMs: Int64,
        hash: ExchangeHash?, bids: UnsafeBufferPointer<PriceLevel>, asks: UnsafeBufferPointer<PriceLevel>,
        tickSize: ExactDecimal?, lastTradePrice: ExactDecimal?, hadEventType: Bool,
        objectOffset: Int, objectLength: Int
    ) {
        self.assetID = assetID
        self.market = market
        self.timestampMs = timestampMs
        self.hash = hash
        self.bids = bids
        self.asks = asks
        self.tickSize = tickSize
        self.lastTradePrice = lastTradePrice
        self.hadEventType = hadEventType
        self.objectOffset = objectOffset
        self.objectLength = objectLength
    }
}

/// One level change, whatever the generation: one G3 entry, one G2 `changes` item, or one
/// G1 message. `size` is the new total at that level; zero removes it.
public struct PriceChangeEvent {
    public var assetID: UnsafeRawBufferPointer
    /// Empty when the message has no `market`.
    public var market: UnsafeRawBufferPointer
    public var timestampMs: Int64
    public var price: ExactDecimal
    public var size: ExactDecimal
    public var side: Side
    /// G3: the entry's own hash. G1/G2: the message's hash, carried on its last change only.
    public var hash: ExchangeHash?
    /// G3 only: the exchange's top of book for this asset after this entry. An empty side is
    /// sent as "0" (bid) or "1"/"0" (ask); the parser passes the value through unchanged.
    public var bestBid: ExactDecimal?
    public var bestAsk: ExactDecimal?
    public var generation: PriceChangeGeneration
    /// Position of this change within its message (0-based) and the message's change count.
    public var indexInMessage: Int
    public var countInMessage: Int

    public init(
        assetID: UnsafeRawBufferPointer, market: UnsafeRawBufferPointer, timestampMs: Int64,
        price: ExactDecimal, size: ExactDecimal, side: Side, hash: ExchangeHash?,
        bestBid: ExactDecimal?, bestAsk: ExactDecimal?, generation: PriceChangeGeneration,
        indexInMessage: Int, countInMessage: Int
    ) {
        self.assetID = assetID
        self.market = market
        self.timestampMs = timestampMs
        self.price = price
        self.size = size
        self.side = side
        self.hash = hash
        self.bestBid = bestBid
        self.bestAsk = bestAsk
        self.generation = generation
        self.indexInMessage = indexInMessage
        self.countInMessage = countInMessage
    }
}

/// A `last_trade_price` message. Does not change the book.
public struct LastTradeEvent {
    public var assetID: UnsafeRawBufferPointer
    public var market: UnsafeRawBufferPointer
    public var timestampMs: Int64
    public var price: ExactDecimal
    public var size: ExactDecimal
    public var side: Side?
    public init(
        assetID: UnsafeRawBufferPointer, market: UnsafeRawBufferPointer, timestampMs: Int64,
        price: ExactDecimal, size: ExactDecimal, side: Side?
    ) {
        self.assetID = assetID
        self.market = market
        self.timestampMs = timestampMs
        self.price = price
        self.size = size
        self.side = side
    }
}

/// A `tick_size_change` message: a book epoch change.
public struct TickSizeChangeEvent {
    public var assetID: UnsafeRawBufferPointer
    public var market: UnsafeRawBufferPointer
    public var timestampMs: Int64
    public var oldTickSize: ExactDecimal?
    public var newTickSize: ExactDecimal
    public init(
        assetID: UnsafeRawBufferPointer, market: UnsafeRawBufferPointer, timestampMs: Int64,
        oldTickSize: ExactDecimal?, newTickSize: ExactDecimal
    ) {
        self.assetID = assetID
        self.market = market
        self.timestampMs = timestampMs
        self.oldTickSize = oldTickSize
        self.newTickSize = newTickSize
    }
}

/// A `best_bid_ask` custom-feature message.
public struct BestBidAskEvent {
    public var assetID: UnsafeRawBufferPointer
    public var market: UnsafeRawBufferPointer
    public var timestampMs: Int64
    public var bestBid: ExactDecimal?
    public var bestAsk: ExactDecimal?
    public var spread: ExactDecimal?
    public init(
        assetID: UnsafeRawBufferPointer, market: UnsafeRawBufferPointer, timestampMs: Int64,
        bestBid: ExactDecimal?, bestAsk: ExactDecimal?, spread: ExactDecimal?
    ) {
        self.assetID = assetID
        self.market = market
        self.timestampMs = timestampMs
        self.bestBid = bestBid
        self.bestAsk = bestAsk
        self.spread = spread
    }
}

/// Event types that carry no book state: `new_market`, `market_resolved`, and any type the
/// parser does not know (counted, never fatal).
public enum OtherEventKind: UInt8, Sendable {
    case newMarket
    case marketResolved
    case unknown
}

public struct OtherEvent {
    public var kind: OtherEventKind
    /// The `event_type` string as sent (empty if none).
    public var eventType: UnsafeRawBufferPointer
    /// `asset_id` when present (e.g. `market_resolved`'s `winning_asset_id` is not this), else empty.
    public var assetID: UnsafeRawBufferPointer
    public var market: UnsafeRawBufferPointer
    public var timestampMs: Int64
    public init(
        kind: OtherEventKind, eventType: UnsafeRawBufferPointer, assetID: UnsafeRawBufferPointer,
        market: UnsafeRawBufferPointer, timestampMs: Int64
    ) {
        self.kind = kind
        self.eventType = eventType
        self.assetID = assetID
        self.market = market
        self.timestampMs = timestampMs
    }
}

/// Application-level keepalive text frames (not JSON).
public enum ControlFrame: Sendable {
    case ping
    case pong
}

/// Receives the events of one frame, in frame order. Generic (never an existential) so the
/// hot path is specialised and allocation-free.
public protocol FeedSink {
    mutating func onBook(_ event: BookEvent)
    mutating func onPriceChange(_ event: PriceChangeEvent)
    mutating func onLastTrade(_ event: LastTradeEvent)
    mutating func onTickSizeChange(_ event: TickSizeChangeEvent)
    mutating func onBestBidAsk(_ event: BestBidAskEvent)
    mutating func onOther(_ event: OtherEvent)
    mutating func onControl(_ frame: ControlFrame)
    /// A bad entry, object or frame. Parsing goes on with the next event where it can.
    mutating func onError(_ error: FeedError)
}

extension FeedSink {
    public mutating func onLastTrade(_ event: LastTradeEvent) {}
    public mutating func onTickSizeChange(_ event: TickSizeChangeEvent) {}
    public mutating func onBestBidAsk(_ event: BestBidAskEvent) {}
    public mutating func onOther(_ event: OtherEvent) {}
    public mutating func onControl(_ frame: ControlFrame) {}
}

/// A parse failure: where (byte offset in the frame) and what was expected there.
public struct FeedError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The bytes are not JSON at all, or the JSON is cut short.
        case malformedJSON = "malformed JSON"
        /// Valid JSON, but a required field is missing or has the wrong type.
        case missingField = "missing field"
        case badNumber = "bad number"
        case badSide = "bad side"
        case badHash = "bad hash"
        /// An object that is not a market-channel event (no event_type and no known shape).
        case notAnEvent = "not an event"
        /// A text frame that is neither JSON nor PING/PONG.
        case unknownText = "unknown text frame"
    }

    public var kind: Kind
    /// Byte offset in the frame where the problem was found.
    public var offset: Int
    /// What the parser expected there, e.g. "string value for \"price\"".
    public var expected: String

    public init(kind: Kind, offset: Int, expected: String) {
        self.kind = kind
        self.offset = offset
        self.expected = expected
    }

    public var description: String { "\(kind.rawValue) at byte \(offset): expected \(expected)" }
}
