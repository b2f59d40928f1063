/// What one text frame turned out to be, and how many events and errors it produced. The
/// parser returns one per frame so callers can count without writing a sink for it; the
/// counts match the sink callbacks that were made for the frame.
public struct FrameSummary: Sendable, Equatable {
    /// The outer shape of a frame.
    public enum Kind: UInt8, Sendable {
        /// Empty or only whitespace.
        case empty
        /// The `PING` keepalive text.
        case ping
        /// The `PONG` keepalive text.
        case pong
        /// One JSON object.
        case object
        /// A JSON array with at least one element.
        case array
        /// `[]`.
        case emptyArray
        /// Text that is neither JSON nor a keepalive (one `unknownText` error).
        case text
    }

    public var kind: Kind = .empty
    /// JSON objects read (top-level object or array elements), whatever their type.
    public var objects = 0
    public var books = 0
    /// One per delivered level change (a G2 message with 3 changes counts 3).
    public var priceChanges = 0
    public var lastTrades = 0
    public var tickSizeChanges = 0
    public var bestBidAsks = 0
    /// `onOther` deliveries: new_market, market_resolved and unknown event types.
    public var others = 0
    /// Objects whose `event_type` the parser does not know (also counted in `others`).
    public var unknownEventTypes = 0
    /// `onError` deliveries.
    public var errors = 0
    /// True when the frame stopped early on bad JSON (events before that point were delivered).
    public var malformed = false

    public init() {}

    /// Events delivered to the sink (errors and keepalives not included).
    public var events: Int { books + priceChanges + lastTrades + tickSizeChanges + bestBidAsks + others }

    /// Adds another frame's counts to these (for totals over many frames); `kind` is left as it
    /// is and `malformed` becomes true if either was.
    public mutating func accumulate(_ other: FrameSummary) {
        objects += other.objects
        books += other.books
        priceChanges += other.priceChanges
        lastTrades += other.lastTrades
        tickSizeChanges += other.tickSizeChanges
        bestBidAsks += other.bestBidAsks
        others += other.others
        unknownEventTypes += other.unknownEventTypes
        errors += other.errors
        malformed = malformed || other.malformed
    }
}
