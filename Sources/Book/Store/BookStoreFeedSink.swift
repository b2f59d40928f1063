// A ready-made Feed sink that applies every event of a frame to a BookStore.
public import Feed

/// Applies parsed events straight to a `BookStore` (generic `FeedSink`, so the parser's hot
/// path is specialised: no existentials, no allocation). Events without book state and parse
/// errors are counted here; everything about books is counted by the store.
public struct BookStoreFeedSink: FeedSink {
    public let store: BookStore
    /// `new_market`, `market_resolved` and unknown event types.
    public private(set) var otherEvents = 0
    public private(set) var unknownEventTypes = 0
    public private(set) var controlFrames = 0
    public private(set) var parseErrors = 0
    /// The first parse error, kept for the report.
    public private(set) var firstParseError: FeedError?

    public init(store: BookStore) {
        self.store = store
    }

    public mutating func onBook(_ event: BookEvent) { store.apply(event) }
    public mutating func onPriceChange(_ event: PriceChangeEvent) { store.apply(event) }
    public mutating func onLastTrade(_ event: LastTradeEvent) { store.apply(event) }
    public mutating func onTickSizeChange(_ event: TickSizeChangeEvent) { store.apply(event) }
    public mutating func onBestBidAsk(_ event: BestBidAskEvent) { store.apply(event) }

    public mutating func onOther(_ event: OtherEvent) {
        otherEvents += 1
        if event.kind == .unknown { unknownEventTypes += 1 }
    }

    public mutating func onControl(_ frame: ControlFrame) { controlFrames += 1 }

    public mutating func onError(_ error: FeedError) {
        parseErrors += 1
        if firstParseError == nil { firstParseError = error }
    }
}
