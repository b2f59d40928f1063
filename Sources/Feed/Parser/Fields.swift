// The keys the parser understands and where their values were found in one object. Key
// matching is by length first, then bytes, so unknown keys cost one or two comparisons.

/// Keys of a market-channel message object (top level or array element).
enum MessageKey {
    case unknown
    case eventType
    case assetID
    case market
    case timestamp
    case hash
    case bids
    case asks
    case changes
    case priceChanges
    case price
    case size
    case side
    case tickSize
    case lastTradePrice
    case bestBid
    case bestAsk
    case spread
    case oldTickSize
    case newTickSize

    @inline(__always)
    init(_ key: UnsafePointer<UInt8>, _ length: Int) {
        @inline(__always) func equals(_ literal: StaticString) -> Bool {
            let text = literal.utf8Start
            for index in 0..<length where key[index] != text[index] { return false }
            return true
        }
        switch length {
        case 4:
            switch key[0] {
            case UInt8(ascii: "h"): self = equals("hash") ? .hash : .unknown
            case UInt8(ascii: "b"): self = equals("bids") ? .bids : .unknown
            case UInt8(ascii: "a"): self = equals("asks") ? .asks : .unknown
            case UInt8(ascii: "s"): self = equals("side") ? .side : (equals("size") ? .size : .unknown)
            default: self = .unknown
            }
        case 5: self = equals("price") ? .price : .unknown
        case 6: self = equals("market") ? .market : (equals("spread") ? .spread : .unknown)
        case 7: self = equals("changes") ? .changes : .unknown
        case 8:
            if equals("asset_id") {
                self = .assetID
            } else if equals("best_bid") {
                self = .bestBid
            } else if equals("best_ask") {
                self = .bestAsk
            } else {
                self = .unknown
            }
        case 9: self = equals("timestamp") ? .timestamp : (equals("tick_size") ? .tickSize : .unknown)
        case 10: self = equals("event_type") ? .eventType : .unknown
        case 13:
            if equals("price_changes") {
                self = .priceChanges
            } else if equals("new_tick_size") {
                self = .newTickSize
            } else if equals("old_tick_size") {
                self = .oldTickSize
            } else {
                self = .unknown
            }
        case 16: self = equals("last_trade_price") ? .lastTradePrice : .unknown
        default: self = .unknown
        }
    }
}

/// Keys inside list entries: a `{price,size}` level, a G2 change, or a G3 entry.
enum EntryKey {
    case unknown
    case assetID
    case price
    case size
    case side
    case hash
    case bestBid
    case bestAsk

    @inline(__always)
    init(_ key: UnsafePointer<UInt8>, _ length: Int) {
        @inline(__always) func equals(_ literal: StaticString) -> Bool {
            let text = literal.utf8Start
            for index in 0..<length where key[index] != text[index] { return false }
            return true
        }
        switch length {
        case 4:
            switch key[1] {
            case UInt8(ascii: "i"): self = equals("size") ? .size : (equals("side") ? .side : .unknown)
            case UInt8(ascii: "a"): self = equals("hash") ? .hash : .unknown
            default: self = .unknown
            }
        case 5: self = equals("price") ? .price : .unknown
        case 8:
            if equals("asset_id") {
                self = .assetID
            } else if equals("best_bid") {
                self = .bestBid
            } else if equals("best_ask") {
                self = .bestAsk
            } else {
                self = .unknown
            }
        default: self = .unknown
        }
    }
}

/// A problem found while reading one list entry; turned into a `FeedError` only if the list
/// is used (a `bids` key inside an unknown event type costs nothing).
enum EntryProblem {
    case none
    case notAnObject
    case missing(StaticString)
    case badNumber(StaticString, DecimalFailure)
}

/// What happened to a list-valued key (`bids`, `asks`, `changes`, `price_changes`).
struct ListInfo {
    var kind: JSONKind = .absent
    /// Offset of the value (the `[`).
    var offset: Int32 = 0
    /// Range of this list's entries in the parser's scratch buffer.
    var first: Int32 = 0
    var count: Int32 = 0
    /// Levels only: the first bad level (a book with a bad level is not delivered).
    var problem: EntryProblem = .none
    var problemOffset: Int32 = 0
}

/// The recorded keys of one message object. Lists are parsed while scanning (into scratch
/// buffers); everything else is a span decoded only once the event type is known.
struct MessageFields {
    var eventType = ValueSpan()
    var assetID = ValueSpan()
    var market = ValueSpan()
    var timestamp = ValueSpan()
    var hash = ValueSpan()
    var price = ValueSpan()
    var size = ValueSpan()
    var side = ValueSpan()
    var tickSize = ValueSpan()
    var lastTradePrice = ValueSpan()
    var bestBid = ValueSpan()
    var bestAsk = ValueSpan()
    var spread = ValueSpan()
    var oldTickSize = ValueSpan()
    var newTickSize = ValueSpan()
    var bids = ListInfo()
    var asks = ListInfo()
    var changes = ListInfo()
    var priceChanges = ListInfo()
}

/// One entry of a `changes` or `price_changes` list, as spans.
struct EntryFields {
    var assetID = ValueSpan()
    var price = ValueSpan()
    var size = ValueSpan()
    var side = ValueSpan()
    var hash = ValueSpan()
    var bestBid = ValueSpan()
    var bestAsk = ValueSpan()
    /// Offset of the entry's `{` (or of the non-object value).
    var offset: Int32 = 0
    var isObject = true
}

/// One `{price,size}` book level, as spans.
struct LevelFields {
    var price = ValueSpan()
    var size = ValueSpan()
}
