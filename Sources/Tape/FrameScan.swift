// Light, structural look into market-channel frames for tools (info, import, cat filters):
// event types, asset ids, markets, tick sizes and exchange timestamps. Walks the JSON
// properly (strings and escapes) but decodes only the few fields asked for. Replay's hot
// path uses the Feed parser instead.

/// What `FrameScan` reports about one event object inside a frame.
public struct FrameEventSummary: Sendable, Equatable {
    /// `event_type`, or "" when absent (e.g. REST-shaped books).
    public var eventType: String
    /// Every asset id the event touches, in order (G3 price_change: one per entry).
    public var assetIDs: [String]
    public var market: String?
    /// `tick_size` of a book, `new_tick_size` of a tick_size_change.
    public var tickSize: String?
    /// The event's exchange `timestamp` in epoch ms.
    public var timestampMs: Int64?
    /// Byte range of the event object within the frame.
    public var range: Range<Int>
}

/// Structural frame inspection for tools; see the file comment.
public enum FrameScan {
    /// Calls `body` for every event object in the frame (a JSON object, or each object of a
    /// JSON array). Returns false when the frame is not JSON.
    @discardableResult
    public static func forEachEvent(_ frame: UnsafeRawBufferPointer, _ body: (FrameEventSummary) -> Void) -> Bool {
        let start = JSONBytes.skipSpace(frame, 0)
        guard start < frame.count else { return false }
        if frame[start] == JSONBytes.openBrace {
            guard let end = JSONBytes.skipValue(frame, start) else { return false }
            body(summarize(frame, start..<end))
            return true
        }
        guard frame[start] == JSONBytes.openBracket else { return false }
        var index = JSONBytes.skipSpace(frame, start + 1)
        while index < frame.count, frame[index] != JSONBytes.closeBracket {
            guard let end = JSONBytes.skipValue(frame, index) else { return false }
            if frame[index] == JSONBytes.openBrace { body(summarize(frame, index..<end)) }
            index = JSONBytes.skipSpace(frame, end)
            if index < frame.count, frame[index] == JSONBytes.comma { index = JSONBytes.skipSpace(frame, index + 1) }
        }
        return true
    }

    /// True when the bytes are exactly one JSON value (no text around it).
    public static func isSingleJSONValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = JSONBytes.skipSpace(bytes, 0)
        return start < bytes.count && JSONBytes.skipValue(bytes, start) == bytes.count
    }

    /// The largest exchange `timestamp` (epoch ms) among the frame's events, if any.
    public static func maxTimestampMs(_ frame: UnsafeRawBufferPointer) -> Int64? {
        var best: Int64?
        forEachEvent(frame) { event in
            if let value = event.timestampMs { best = max(best ?? value, value) }
        }
        return best
    }

    static func summarize(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>) -> FrameEventSummary {
        let object = UnsafeRawBufferPointer(rebasing: frame[range])
        var summary = FrameEventSummary(
            eventType: "", assetIDs: [], market: nil, tickSize: nil, timestampMs: nil, range: range)
        summary.eventType = string(object, "event_type") ?? ""
        summary.market = string(object, "market")
        if let asset = string(object, "asset_id") { summary.assetIDs.append(asset) }
        summary.tickSize = string(object, "tick_size") ?? string(object, "new_tick_size")
        if let valueRange = JSONBytes.findKey(object, "timestamp") {
            var start = valueRange.lowerBound
            var end = valueRange.upperBound
            if object[start] == JSONBytes.quote {
                start += 1
                end -= 1
            }
            summary.timestampMs = JSONBytes.parseInt(object, start, end)
        }
        if let changes = JSONBytes.findKey(object, "price_changes") {
            var index = JSONBytes.skipSpace(object, changes.lowerBound + 1)
            while index < changes.upperBound, object[index] == JSONBytes.openBrace {
                guard let end = JSONBytes.skipValue(object, index) else { break }
                if let asset = string(UnsafeRawBufferPointer(rebasing: object[index..<end]), "asset_id"),
                    !summary.assetIDs.contains(asset)
                {
                    summary.assetIDs.append(asset)
                }
                index = JSONBytes.skipSpace(object, end)
                if index < changes.upperBound, object[index] == JSONBytes.comma {
                    index = JSONBytes.skipSpace(object, index + 1)
                }
            }
        }
        return summary
    }

    static func string(_ object: UnsafeRawBufferPointer, _ key: StaticString) -> String? {
        guard let range = JSONBytes.findKey(object, key), object[range.lowerBound] == JSONBytes.quote else {
            return nil
        }
        var output: [UInt8] = []
        guard JSONBytes.decodeString(object, range.lowerBound, into: &output) != nil else { return nil }
        return String(decoding: output, as: UTF8.self)
    }
}
