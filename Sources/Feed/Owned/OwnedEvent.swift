// Owned copies of feed events, for tests, tools and anything off the hot path. Building these
// allocates (Strings, arrays); the hot path uses `FeedParser.parse(_:into:)` with a sink.

/// A feed event copied out of the frame: strings instead of pointers, arrays instead of
/// buffers, so it can be stored, compared and printed. Decimals keep their written precision
/// (`render()` gives the exchange's text back).
public enum OwnedEvent: Sendable, Equatable {
    case book(OwnedBook)
    case priceChange(OwnedPriceChange)
    case lastTrade(OwnedLastTrade)
    case tickSizeChange(OwnedTickSizeChange)
    case bestBidAsk(OwnedBestBidAsk)
    case other(OwnedOther)
    case control(ControlFrame)

    /// The asset the event is about ("" for keepalives and asset-less events).
    public var assetID: String {
        switch self {
        case .book(let event): event.assetID
        case .priceChange(let event): event.assetID
        case .lastTrade(let event): event.assetID
        case .tickSizeChange(let event): event.assetID
        case .bestBidAsk(let event): event.assetID
        case .other(let event): event.assetID
        case .control: ""
        }
    }
}

/// An owned `BookEvent`.
public struct OwnedBook: Sendable, Equatable {
    public var assetID: String
    public var market: String
    public var timestampMs: Int64
    public var hash: ExchangeHash?
    public var bids: [PriceLevel]
    public var asks: [PriceLevel]
    public var tickSize: ExactDecimal?
    public var lastTradePrice: ExactDecimal?
    public var hadEventType: Bool

    public init(_ event: BookEvent) {
        assetID = feedString(event.assetID)
        market = feedString(event.market)
        timestampMs = event.timestampMs
        hash = event.hash
        bids = Array(event.bids)
        asks = Array(event.asks)
        tickSize = event.tickSize
        lastTradePrice = event.lastTradePrice
        hadEventType = event.hadEventType
    }
}

/// An owned `PriceChangeEvent`.
public struct OwnedPriceChange: Sendable, Equatable {
    public var assetID: String
    public var market: String
    public var timestampMs: Int64
    public var price: ExactDecimal
    public var size: ExactDecimal
    public var side: Side
    public var hash: ExchangeHash?
    public var bestBid: ExactDecimal?
    public var bestAsk: ExactDecimal?
    public var generation: PriceChangeGeneration
    public var indexInMessage: Int
    public var countInMessage: Int

    public init(_ event: PriceChangeEvent) {
        assetID = feedString(event.assetID)
        market = feedString(event.market)
        timestampMs = event.timestampMs
        price = event.price
        size = event.size
        side = event.side
        hash = event.hash
        bestBid = event.bestBid
        bestAsk = event.bestAsk
        generation = event.generation
        indexInMessage = event.indexInMessage
        countInMessage = event.countInMessage
    }
}

/// An owned `LastTradeEvent`.
public struct OwnedLastTrade: Sendable, Equatable {
    public var assetID: String
    public var market: String
    public var timestampMs: Int64
    public var price: ExactDecimal
    public var size: ExactDecimal
    public var side: Side?

    public init(_ event: LastTradeEvent) {
        assetID = feedString(event.assetID)
        market = feedString(event.market)
        timestampMs = event.timestampMs
        price = event.price
        size = event.size
        side = event.side
    }
}

/// An owned `TickSizeChangeEvent`.
public struct OwnedTickSizeChange: Sendable, Equatable {
    public var assetID: String
    public var market: String
    public var timestampMs: Int64
    public var oldTickSize: ExactDecimal?
    public var newTickSize: ExactDecimal

    public init(_ event: TickSizeChangeEvent) {
        assetID = feedString(event.assetID)
        market = feedString(event.market)
        timestampMs = event.timestampMs
        oldTickSize = event.oldTickSize
        newTickSize = event.newTickSize
    }
}

/// An owned `BestBidAskEvent`.
public struct OwnedBestBidAsk: Sendable, Equatable {
    public var assetID: String
    public var market: String
    public var timestampMs: Int64
    public var bestBid: ExactDecimal?
    public var bestAsk: ExactDecimal?
    public var spread: ExactDecimal?

    public init(_ event: BestBidAskEvent) {
        assetID = feedString(event.assetID)
        market = feedString(event.market)
        timestampMs = event.timestampMs
        bestBid = event.bestBid
        bestAsk = event.bestAsk
        spread = event.spread
    }
}

/// An owned `OtherEvent`.
public struct OwnedOther: Sendable, Equatable {
    public var kind: OtherEventKind
    public var eventType: String
    public var assetID: String
    public var market: String
    public var timestampMs: Int64

    public init(_ event: OtherEvent) {
        kind = event.kind
        eventType = feedString(event.eventType)
        assetID = feedString(event.assetID)
        market = feedString(event.market)
        timestampMs = event.timestampMs
    }
}

/// The UTF-8 text of an event's byte view (asset ids, markets, event types) as a `String`.
/// Allocates; for tools and tests, or for interning an asset id once.
public func feedString(_ bytes: UnsafeRawBufferPointer) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// A sink that copies every event and error; see `FeedParser.events(of:)`.
public struct CollectingSink: FeedSink {
    public var events: [OwnedEvent] = []
    public var errors: [FeedError] = []

    public init() {}

    public mutating func onBook(_ event: BookEvent) { events.append(.book(OwnedBook(event))) }
    public mutating func onPriceChange(_ event: PriceChangeEvent) {
        events.append(.priceChange(OwnedPriceChange(event)))
    }
    public mutating func onLastTrade(_ event: LastTradeEvent) { events.append(.lastTrade(OwnedLastTrade(event))) }
    public mutating func onTickSizeChange(_ event: TickSizeChangeEvent) {
        events.append(.tickSizeChange(OwnedTickSizeChange(event)))
    }
    public mutating func onBestBidAsk(_ event: BestBidAskEvent) {
        events.append(.bestBidAsk(OwnedBestBidAsk(event)))
    }
    public mutating func onOther(_ event: OtherEvent) { events.append(.other(OwnedOther(event))) }
    public mutating func onControl(_ frame: ControlFrame) { events.append(.control(frame)) }
    public mutating func onError(_ error: FeedError) { errors.append(error) }
}

extension FeedParser {
    /// Parses one frame into owned events and errors (in frame order). Not for hot paths.
    public static func events(of frame: [UInt8]) -> ([OwnedEvent], [FeedError]) {
        var parser = FeedParser()
        var sink = CollectingSink()
        _ = parser.parse(frame, into: &sink)
        return (sink.events, sink.errors)
    }

    /// Parses one frame given as text; see `events(of:)`.
    public static func events(of frame: String) -> ([OwnedEvent], [FeedError]) {
        events(of: Array(frame.utf8))
    }
}
