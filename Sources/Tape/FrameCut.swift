// Cutting a market-channel frame down to some of its events and `price_changes` entries:
// frames whose events are all kept go out byte-exact; mixed frames are rebuilt by copying the
// kept byte ranges of the original (so separators, key order and number texts stay as
// recorded) and dropping the rest. `replay serve` cuts frames to a client's subscription;
// `replay tape cat|slice` and `replay run` select assets with `AssetSelection`.

/// The structure of one recorded frame that cutting needs: every event object's byte range,
/// type and asset ids, and for G3 `price_change` objects the byte range and asset of each entry.
public struct FrameLayout: Sendable {
    /// One event object of the frame.
    public struct Event: Sendable {
        /// Byte range of the object within the frame.
        public var range: Range<Int>
        /// `event_type`, "" when absent (REST-shaped books).
        public var eventType: String
        /// The `market` of books and trades (what `AssetSelection` needs); nil for other events.
        public var market: String?
        /// Asset ids the event touches (empty: an asset-less event such as `new_market`).
        public var assetIDs: [String]
        /// For an object with a `price_changes` array: the array's value range and its entries.
        public var entries: EntryList?

        /// True for a `book` snapshot (`event_type` "book", or none: a REST-shaped book).
        public var isBook: Bool { eventType == "book" || eventType.isEmpty }
        public var isTrade: Bool { eventType == "last_trade_price" }
    }

    /// The entries of a `price_changes` array.
    public struct EntryList: Sendable {
        /// Byte range of the whole array value, brackets included.
        public var arrayRange: Range<Int>
        /// Each entry's object range and asset id (nil when it has none).
        public var items: [(range: Range<Int>, assetID: String?)]
    }

    /// True when the frame is a JSON array of events (the initial dump shape).
    public var isArray: Bool
    public var events: [Event]
    /// False for frames that are not JSON (`PONG`); those are never replayed.
    public var isJSON: Bool
    /// True when every event is a `book` (an exchange initial dump or a lone snapshot).
    public var isBooksOnly: Bool

    /// Scans a frame; cheap enough to run once per frame at load time.
    public static func scan(_ frame: UnsafeRawBufferPointer) -> FrameLayout {
        var events: [Event] = []
        var booksOnly = true
        let ok = FrameScan.forEachEvent(frame) { summary in
            if summary.eventType != "book" { booksOnly = false }
            let object = UnsafeRawBufferPointer(rebasing: frame[summary.range])
            var entries: EntryList?
            if let list = FrameJSON.priceChangeEntries(object) {
                let base = summary.range.lowerBound
                entries = EntryList(
                    arrayRange: (list.array.lowerBound + base)..<(list.array.upperBound + base),
                    items: list.items.map {
                        ((($0.range.lowerBound + base)..<($0.range.upperBound + base)), $0.assetID)
                    })
            }
            let type = summary.eventType
            let keepsMarket = type == "book" || type.isEmpty || type == "last_trade_price"
            events.append(
                Event(
                    range: summary.range, eventType: type, market: keepsMarket ? summary.market : nil,
                    assetIDs: summary.assetIDs, entries: entries))
        }
        let start = FrameJSON.skipSpace(frame, 0)
        let isArray = ok && start < frame.count && frame[start] == UInt8(ascii: "[")
        return FrameLayout(
            isArray: isArray, events: events, isJSON: ok, isBooksOnly: ok && booksOnly && !events.isEmpty)
    }

    /// Every asset id in the frame, in order of first appearance.
    public var assetIDs: [String] {
        var seen = Set<String>()
        var result: [String] = []
        for event in events {
            for asset in event.assetIDs where seen.insert(asset).inserted { result.append(asset) }
        }
        return result
    }

    /// What to keep of one event.
    public enum Cut: Sendable {
        case drop, whole
        /// Only these entries of the event's `price_changes` (byte ranges within the frame).
        case entries([Range<Int>])
    }

    /// The cut of an event by asset: an event with no asset id is kept whole; a `price_change`
    /// keeps the entries whose asset `keep` accepts (entries without an asset stay with them);
    /// any other event is kept whole when `keep` accepts one of its assets.
    public static func cut(_ event: Event, keeping keep: (String) -> Bool) -> Cut {
        if event.assetIDs.isEmpty { return .whole }
        if let entries = event.entries, entries.items.contains(where: { $0.assetID != nil }) {
            let kept = entries.items.filter { item in item.assetID.map(keep) ?? true }
            if !kept.contains(where: { $0.assetID != nil }) { return .drop }
            return kept.count == entries.items.count ? .whole : .entries(kept.map(\.range))
        }
        return event.assetIDs.contains(where: keep) ? .whole : .drop
    }

    /// The frame with each event cut as `cuts` says (one cut per event, in order): `.skip` when
    /// nothing is kept, `.exact` when everything is kept whole, else the rebuilt bytes (an
    /// array keeps its kept elements with the recorded separator).
    public func apply(_ cuts: [Cut], to frame: UnsafeRawBufferPointer) -> FrameCutOutcome {
        guard isJSON, !events.isEmpty, cuts.count == events.count else { return .skip }
        var allWhole = true
        var anyKept = false
        for cut in cuts {
            switch cut {
            case .drop: allWhole = false
            case .whole: anyKept = true
            case .entries:
                allWhole = false
                anyKept = true
            }
        }
        if !anyKept { return .skip }
        if allWhole { return .exact }

        var output: [UInt8] = []
        output.reserveCapacity(frame.count)
        func appendEvent(_ event: Event, _ cut: Cut) {
            switch cut {
            case .drop: return
            case .whole: output.append(contentsOf: frame[event.range])
            case .entries(let kept):
                let arrayRange = event.entries!.arrayRange
                output.append(contentsOf: frame[event.range.lowerBound..<arrayRange.lowerBound])
                output.append(UInt8(ascii: "["))
                let separator = FrameJSON.separator(frame, after: event.entries!.items)
                for (index, range) in kept.enumerated() {
                    if index > 0 { output.append(contentsOf: separator) }
                    output.append(contentsOf: frame[range])
                }
                output.append(UInt8(ascii: "]"))
                output.append(contentsOf: frame[arrayRange.upperBound..<event.range.upperBound])
            }
        }
        if isArray {
            let ranges = events.map(\.range)
            let separator = FrameJSON.separator(frame, between: ranges)
            output.append(UInt8(ascii: "["))
            var first = true
            for (event, cut) in zip(events, cuts) {
                if case .drop = cut { continue }
                if !first { output.append(contentsOf: separator) }
                first = false
                appendEvent(event, cut)
            }
            output.append(UInt8(ascii: "]"))
        } else {
            appendEvent(events[0], cuts[0])
        }
        return .rewritten(output)
    }
}

/// What is left of a frame after cutting.
public enum FrameCutOutcome: Equatable, Sendable {
    /// Nothing: no event of the frame is kept (or the frame is not JSON).
    case skip
    /// The recorded bytes, unchanged.
    case exact
    /// A rebuilt frame holding only the kept events and entries.
    case rewritten([UInt8])

    /// Calls `body` with the bytes to keep: the rebuilt frame, or `original` (the recorded bytes)
    /// when it is kept exactly. Not for `.skip`.
    @discardableResult
    public func withKeptBytes<R>(
        of original: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        if case .rewritten(let bytes) = self { return try bytes.withUnsafeBytes(body) }
        return try body(original)
    }
}

/// The few byte-level JSON steps filtering needs (strings with escapes, nesting). Frames were
/// validated as JSON by `FrameScan` before any of this runs.
enum FrameJSON {
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    static func skipSpace(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var index = start
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        return index
    }

    /// The index just past the JSON value starting at `start`, nil if it is cut short.
    static func skipValue(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        var index = start
        if bytes[index] == UInt8(ascii: "\"") { return skipString(bytes, index) }
        if bytes[index] == UInt8(ascii: "{") || bytes[index] == UInt8(ascii: "[") {
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    guard let end = skipString(bytes, index) else { return nil }
                    index = end
                    continue
                }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return index + 1 }
                }
                index += 1
            }
            return nil
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || isSpace(byte) {
                break
            }
            index += 1
        }
        return index
    }

    static func skipString(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        var index = start + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        return nil
    }

    /// Walks the members of the object at `object[0...]`, giving each key (raw, without
    /// quotes) and value range; stops early when `body` returns false.
    static func forEachMember(
        _ object: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, Range<Int>) -> Bool
    ) {
        var index = skipSpace(object, 0)
        guard index < object.count, object[index] == UInt8(ascii: "{") else { return }
        index = skipSpace(object, index + 1)
        while index < object.count, object[index] == UInt8(ascii: "\"") {
            guard let keyEnd = skipString(object, index) else { return }
            let key = UnsafeRawBufferPointer(rebasing: object[(index + 1)..<(keyEnd - 1)])
            index = skipSpace(object, keyEnd)
            guard index < object.count, object[index] == UInt8(ascii: ":") else { return }
            let valueStart = skipSpace(object, index + 1)
            guard let valueEnd = skipValue(object, valueStart) else { return }
            if !body(key, valueStart..<valueEnd) { return }
            index = skipSpace(object, valueEnd)
            if index < object.count, object[index] == UInt8(ascii: ",") { index = skipSpace(object, index + 1) }
        }
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        let other = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        return bytes.elementsEqual(other)
    }

    /// A top-level string member's text (no escape decoding: ids and numbers never need it).
    static func stringMember(_ object: UnsafeRawBufferPointer, _ name: StaticString) -> String? {
        var result: String?
        forEachMember(object) { key, range in
            guard equals(key, name) else { return true }
            if object[range.lowerBound] == UInt8(ascii: "\""), range.count >= 2 {
                result = String(decoding: object[(range.lowerBound + 1)..<(range.upperBound - 1)], as: UTF8.self)
            }
            return false
        }
        return result
    }

    /// The `price_changes` array of an object: its range and each entry's range and asset id.
    static func priceChangeEntries(
        _ object: UnsafeRawBufferPointer
    ) -> (array: Range<Int>, items: [(range: Range<Int>, assetID: String?)])? {
        var arrayRange: Range<Int>?
        forEachMember(object) { key, range in
            if equals(key, "price_changes"), object[range.lowerBound] == UInt8(ascii: "[") {
                arrayRange = range
                return false
            }
            return true
        }
        guard let arrayRange else { return nil }
        var items: [(range: Range<Int>, assetID: String?)] = []
        var index = skipSpace(object, arrayRange.lowerBound + 1)
        while index < arrayRange.upperBound - 1 {
            guard let end = skipValue(object, index) else { break }
            let asset =
                object[index] == UInt8(ascii: "{")
                ? stringMember(UnsafeRawBufferPointer(rebasing: object[index..<end]), "asset_id") : nil
            items.append((index..<end, asset))
            index = skipSpace(object, end)
            if index < arrayRange.upperBound, object[index] == UInt8(ascii: ",") {
                index = skipSpace(object, index + 1)
            }
        }
        return (arrayRange, items)
    }

    /// The bytes between the first two items (", " in `price_change` frames, "," in dumps);
    /// "," when there is only one.
    static func separator(_ bytes: UnsafeRawBufferPointer, between ranges: [Range<Int>]) -> [UInt8] {
        guard ranges.count >= 2, ranges[0].upperBound <= ranges[1].lowerBound else { return [UInt8(ascii: ",")] }
        return Array(bytes[ranges[0].upperBound..<ranges[1].lowerBound])
    }

    static func separator(
        _ bytes: UnsafeRawBufferPointer, after items: [(range: Range<Int>, assetID: String?)]
    ) -> [UInt8] {
        separator(bytes, between: items.map(\.range))
    }
}
