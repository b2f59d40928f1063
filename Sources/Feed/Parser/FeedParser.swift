// The market-channel parser: one pass over each object records the spans of the keys it knows
// (lists are parsed on the way into reusable scratch buffers), then the event type decides
// which spans are decoded and which sink callback runs. Real servers put `event_type`, `hash`
// and `timestamp` after the lists, so nothing can be emitted before the object's end.

/// Parses market-channel text frames into `FeedSink` callbacks without allocating in steady
/// state: events point into the frame and into scratch buffers the parser keeps between
/// frames (their capacity only grows). Keep one parser per thread and reuse it. Bad input
/// never traps: a malformed frame yields one `FeedError` with its byte offset, a bad entry
/// yields one error while the frame's other events are still delivered.
public struct FeedParser {
    /// Book levels of the frame being parsed (all its books), reused across frames.
    @usableFromInline var bidLevels: [PriceLevel] = []
    @usableFromInline var askLevels: [PriceLevel] = []
    /// Entries of the `changes`/`price_changes` list of the object being parsed.
    var entries: [EntryFields] = []
    /// The frame's events and errors in order, handed to the sink once the frame is scanned.
    @usableFromInline var pending: [PendingEvent] = []
    @usableFromInline var pendingErrors: [FeedError] = []

    public init() {
        bidLevels.reserveCapacity(256)
        askLevels.reserveCapacity(256)
        entries.reserveCapacity(64)
        pending.reserveCapacity(64)
    }

    /// Parses one text frame. Every event, error and keepalive goes to `sink` in frame order;
    /// the summary counts them. Pointers inside events are valid only during the callback.
    ///
    /// Scanning is non-generic code compiled once in this module; only the short hand-off
    /// loop below is specialised for each sink, so callers in other modules get full speed.
    @inlinable
    public mutating func parse<Sink: FeedSink>(_ frame: UnsafeRawBufferPointer, into sink: inout Sink)
        -> FrameSummary
    {
        let summary = scanFrame(frame)
        handOff(to: &sink)
        return summary
    }

    /// Parses one text frame held in an array; see `parse(_:into:)`.
    @inlinable
    public mutating func parse<Sink: FeedSink>(_ bytes: [UInt8], into sink: inout Sink) -> FrameSummary {
        bytes.withUnsafeBytes { parse($0, into: &sink) }
    }

    /// Delivers the scanned frame's events to `sink`, rebuilding each book's level buffers.
    @inlinable
    func handOff<Sink: FeedSink>(to sink: inout Sink) {
        bidLevels.withUnsafeBufferPointer { bids in
            askLevels.withUnsafeBufferPointer { asks in
                for event in pending {
                    switch event {
                    case .book(var book, let bidRange, let askRange):
                        book.bids = UnsafeBufferPointer(rebasing: bids[bidRange])
                        book.asks = UnsafeBufferPointer(rebasing: asks[askRange])
                        sink.onBook(book)
                    case .priceChange(let change): sink.onPriceChange(change)
                    case .lastTrade(let trade): sink.onLastTrade(trade)
                    case .tickSizeChange(let change): sink.onTickSizeChange(change)
                    case .bestBidAsk(let top): sink.onBestBidAsk(top)
                    case .other(let other): sink.onOther(other)
                    case .control(let control): sink.onControl(control)
                    case .error(let index): sink.onError(pendingErrors[index])
                    }
                }
            }
        }
    }

    /// Scans a whole frame into `pending` (events point into `frame` and the level buffers).
    @usableFromInline
    mutating func scanFrame(_ frame: UnsafeRawBufferPointer) -> FrameSummary {
        pending.removeAll(keepingCapacity: true)
        pendingErrors.removeAll(keepingCapacity: true)
        bidLevels.removeAll(keepingCapacity: true)
        askLevels.removeAll(keepingCapacity: true)
        var summary = FrameSummary()
        guard let base = frame.baseAddress?.assumingMemoryBound(to: UInt8.self), frame.count > 0 else {
            summary.kind = .empty
            report(.unknownText, 0, "a JSON object or array, or PING/PONG (the frame is empty)", &summary)
            return summary
        }
        guard frame.count < Int(Int32.max) else {
            summary.kind = .text
            report(.malformedJSON, 0, "a frame smaller than 2 GiB", &summary)
            return summary
        }
        var scanner = ByteScanner(bytes: base, count: frame.count)
        let start = scanner.skipWhitespace(0)
        guard start < scanner.count else {
            summary.kind = .empty
            report(.unknownText, 0, "a JSON object or array, or PING/PONG (the frame is blank)", &summary)
            return summary
        }
        var end: Int
        switch base[start] {
        case UInt8(ascii: "{"):
            summary.kind = .object
            end = parseObject(&scanner, at: start, &summary)
        case UInt8(ascii: "["):
            end = parseArray(&scanner, at: start, &summary)
        default:
            parseText(scanner, from: start, &summary)
            return summary
        }
        if end >= 0 {
            end = scanner.skipWhitespace(end)
            if end != scanner.count { end = scanner.fail(end, "the end of the frame after the JSON value") }
        }
        if end < 0 {
            summary.malformed = true
            report(.malformedJSON, scanner.failureOffset, "\(scanner.failureExpected)", &summary)
        }
        return summary
    }

    // MARK: - Frame shapes

    private mutating func parseText(
        _ scanner: ByteScanner, from start: Int, _ summary: inout FrameSummary
    ) {
        var end = scanner.count
        while end > start {
            let byte = scanner.bytes[end - 1]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { break }
            end -= 1
        }
        if end - start == 4 && scanner.matches(start, "PING") {
            summary.kind = .ping
            pending.append(.control(.ping))
        } else if end - start == 4 && scanner.matches(start, "PONG") {
            summary.kind = .pong
            pending.append(.control(.pong))
        } else {
            summary.kind = .text
            report(.unknownText, start, "a JSON object or array, or PING/PONG", &summary)
        }
    }

    private mutating func parseArray(
        _ scanner: inout ByteScanner, at open: Int, _ summary: inout FrameSummary
    ) -> Int {
        var position = scanner.skipWhitespace(open + 1)
        guard position < scanner.count else { return scanner.fail(position, "an object or ']'") }
        if scanner.bytes[position] == UInt8(ascii: "]") {
            summary.kind = .emptyArray
            return position + 1
        }
        summary.kind = .array
        while true {
            if scanner.bytes[position] == UInt8(ascii: "{") {
                position = parseObject(&scanner, at: position, &summary)
            } else {
                let element = position
                position = scanner.skipValue(position)
                if position >= 0 {
                    report(.notAnEvent, element, "an event object as array element", &summary)
                }
            }
            if position < 0 { return -1 }
            position = scanner.skipWhitespace(position)
            guard position < scanner.count else { return scanner.fail(position, "',' or ']' in the array") }
            let byte = scanner.bytes[position]
            if byte == UInt8(ascii: "]") { return position + 1 }
            guard byte == UInt8(ascii: ",") else { return scanner.fail(position, "',' or ']' in the array") }
            position = scanner.skipWhitespace(position + 1)
            guard position < scanner.count else { return scanner.fail(position, "an array element") }
        }
    }

    /// Scans one message object, then delivers its events. Returns the offset past its `}`.
    private mutating func parseObject(
        _ scanner: inout ByteScanner, at open: Int, _ summary: inout FrameSummary
    ) -> Int {
        entries.removeAll(keepingCapacity: true)
        var fields = MessageFields()
        let end = scanMessage(&scanner, at: open, into: &fields)
        if end < 0 { return -1 }
        summary.objects += 1
        deliver(scanner, fields, objectStart: open, objectEnd: end, &summary)
        return end
    }

    // MARK: - Phase 1: scan

    private mutating func scanMessage(_ scanner: inout ByteScanner, at open: Int, into fields: inout MessageFields)
        -> Int
    {
        var position = scanner.openObject(open)
        var keyStart = 0
        var keyLength = 0
        while position >= 0 {
            position = scanner.readKey(position, keyStart: &keyStart, keyLength: &keyLength)
            if position < 0 { return -1 }
            switch MessageKey(scanner.bytes + keyStart, keyLength) {
            case .unknown: position = scanner.skipValue(position)
            case .eventType: position = scanner.recordValue(position, into: &fields.eventType)
            case .assetID: position = scanner.recordValue(position, into: &fields.assetID)
            case .market: position = scanner.recordValue(position, into: &fields.market)
            case .timestamp: position = scanner.recordValue(position, into: &fields.timestamp)
            case .hash: position = scanner.recordValue(position, into: &fields.hash)
            case .price: position = scanner.recordValue(position, into: &fields.price)
            case .size: position = scanner.recordValue(position, into: &fields.size)
            case .side: position = scanner.recordValue(position, into: &fields.side)
            case .tickSize: position = scanner.recordValue(position, into: &fields.tickSize)
            case .lastTradePrice: position = scanner.recordValue(position, into: &fields.lastTradePrice)
            case .bestBid: position = scanner.recordValue(position, into: &fields.bestBid)
            case .bestAsk: position = scanner.recordValue(position, into: &fields.bestAsk)
            case .spread: position = scanner.recordValue(position, into: &fields.spread)
            case .oldTickSize: position = scanner.recordValue(position, into: &fields.oldTickSize)
            case .newTickSize: position = scanner.recordValue(position, into: &fields.newTickSize)
            case .bids: position = FeedParser.scanLevels(&scanner, at: position, into: &bidLevels, list: &fields.bids)
            case .asks: position = FeedParser.scanLevels(&scanner, at: position, into: &askLevels, list: &fields.asks)
            case .changes: position = scanEntries(&scanner, at: position, list: &fields.changes)
            case .priceChanges: position = scanEntries(&scanner, at: position, list: &fields.priceChanges)
            }
            if position < 0 { return -1 }
            position = scanner.afterMember(position)
        }
        return position == -1 ? -1 : objectEnd(position)
    }

    /// Reads one list entry object's known keys. Returns the offset past its `}`.
    @inline(__always)
    private static func scanEntry(_ scanner: inout ByteScanner, at open: Int, into entry: inout EntryFields) -> Int {
        var position = scanner.openObject(open)
        var keyStart = 0
        var keyLength = 0
        while position >= 0 {
            position = scanner.readKey(position, keyStart: &keyStart, keyLength: &keyLength)
            if position < 0 { return -1 }
            switch EntryKey(scanner.bytes + keyStart, keyLength) {
            case .unknown: position = scanner.skipValue(position)
            case .assetID: position = scanner.recordValue(position, into: &entry.assetID)
            case .price: position = scanner.recordValue(position, into: &entry.price)
            case .size: position = scanner.recordValue(position, into: &entry.size)
            case .side: position = scanner.recordValue(position, into: &entry.side)
            case .hash: position = scanner.recordValue(position, into: &entry.hash)
            case .bestBid: position = scanner.recordValue(position, into: &entry.bestBid)
            case .bestAsk: position = scanner.recordValue(position, into: &entry.bestAsk)
            }
            if position < 0 { return -1 }
            position = scanner.afterMember(position)
        }
        return position == -1 ? -1 : objectEnd(position)
    }

    /// Reads one `{price,size}` level. Same grammar as `scanEntry`, but a level is the most
    /// repeated object on the feed (books carry hundreds), so only its two keys are matched and
    /// short decimal strings are recorded without the general string scan.
    @inline(__always)
    private static func scanLevel(_ scanner: inout ByteScanner, at open: Int, into level: inout LevelFields) -> Int {
        var position = scanner.openObject(open)
        var keyStart = 0
        var keyLength = 0
        while position >= 0 {
            position = scanner.readKey(position, keyStart: &keyStart, keyLength: &keyLength)
            if position < 0 { return -1 }
            let key = scanner.bytes + keyStart
            if keyLength == 5 && key[0] == UInt8(ascii: "p") && key[1] == UInt8(ascii: "r")
                && key[2] == UInt8(ascii: "i")
                && key[3] == UInt8(ascii: "c") && key[4] == UInt8(ascii: "e")
            {
                position = scanner.recordDecimalText(position, into: &level.price)
            } else if keyLength == 4 && key[0] == UInt8(ascii: "s") && key[1] == UInt8(ascii: "i")
                && key[2] == UInt8(ascii: "z") && key[3] == UInt8(ascii: "e")
            {
                position = scanner.recordDecimalText(position, into: &level.size)
            } else {
                position = scanner.skipValue(position)
            }
            if position < 0 { return -1 }
            position = scanner.afterMember(position)
        }
        return position == -1 ? -1 : objectEnd(position)
    }

    /// Walks a JSON array calling `element` at each element's first byte; `element` returns
    /// the offset past the element. Returns the offset past `]`. A non-array value is skipped
    /// and recorded as such in `list`.
    @inline(__always)
    private static func walkList(
        _ scanner: inout ByteScanner, at open: Int, list: inout ListInfo,
        element: (inout ByteScanner, Int) -> Int
    ) -> Int {
        list.offset = Int32(truncatingIfNeeded: open)
        guard scanner.bytes[open] == UInt8(ascii: "[") else {
            var span = ValueSpan()
            let end = scanner.recordValue(open, into: &span)
            list.kind = span.kind
            return end
        }
        list.kind = .array
        var position = scanner.skipWhitespace(open + 1)
        guard position < scanner.count else { return scanner.fail(position, "a list entry or ']'") }
        if scanner.bytes[position] == UInt8(ascii: "]") { return position + 1 }
        while true {
            position = element(&scanner, position)
            if position < 0 { return -1 }
            position = scanner.skipWhitespace(position)
            guard position < scanner.count else { return scanner.fail(position, "',' or ']' in a list") }
            let byte = scanner.bytes[position]
            if byte == UInt8(ascii: "]") { return position + 1 }
            guard byte == UInt8(ascii: ",") else { return scanner.fail(position, "',' or ']' in a list") }
            position = scanner.skipWhitespace(position + 1)
            guard position < scanner.count else { return scanner.fail(position, "a list entry") }
        }
    }

    /// Parses a `bids`/`asks` list straight into a scratch buffer of levels.
    private static func scanLevels(
        _ scanner: inout ByteScanner, at open: Int, into levels: inout [PriceLevel], list: inout ListInfo
    ) -> Int {
        list.first = Int32(truncatingIfNeeded: levels.count)
        var problem = EntryProblem.none
        var problemOffset = 0
        let end = FeedParser.walkList(&scanner, at: open, list: &list) { scanner, start in
            guard scanner.bytes[start] == UInt8(ascii: "{") else {
                if case .none = problem { (problem, problemOffset) = (.notAnObject, start) }
                return scanner.skipValue(start)
            }
            var entry = LevelFields()
            let entryEnd = FeedParser.scanLevel(&scanner, at: start, into: &entry)
            if entryEnd < 0 { return -1 }
            guard entry.price.isPresent else {
                if case .none = problem { (problem, problemOffset) = (.missing("price"), start) }
                return entryEnd
            }
            guard entry.size.isPresent else {
                if case .none = problem { (problem, problemOffset) = (.missing("size"), start) }
                return entryEnd
            }
            switch (scanner.decimal(entry.price), scanner.decimal(entry.size)) {
            case (.success(let price), .success(let size)):
                levels.append(PriceLevel(price: price, size: size))
            case (.failure(let failure), _):
                if case .none = problem {
                    (problem, problemOffset) = (.badNumber("price", failure), Int(entry.price.start))
                }
            case (_, .failure(let failure)):
                if case .none = problem {
                    (problem, problemOffset) = (.badNumber("size", failure), Int(entry.size.start))
                }
            }
            return entryEnd
        }
        list.count = Int32(truncatingIfNeeded: levels.count) - list.first
        list.problem = problem
        list.problemOffset = Int32(truncatingIfNeeded: problemOffset)
        return end
    }

    /// Records each entry of a `changes`/`price_changes` list as spans.
    private mutating func scanEntries(_ scanner: inout ByteScanner, at open: Int, list: inout ListInfo) -> Int {
        list.first = Int32(truncatingIfNeeded: entries.count)
        let end = FeedParser.walkList(&scanner, at: open, list: &list) { scanner, start in
            var entry = EntryFields()
            entry.offset = Int32(truncatingIfNeeded: start)
            var entryEnd: Int
            if scanner.bytes[start] == UInt8(ascii: "{") {
                entryEnd = FeedParser.scanEntry(&scanner, at: start, into: &entry)
            } else {
                entry.isObject = false
                entryEnd = scanner.skipValue(start)
            }
            if entryEnd >= 0 { entries.append(entry) }
            return entryEnd
        }
        list.count = Int32(truncatingIfNeeded: entries.count) - list.first
        return end
    }

    // MARK: - Phase 2: deliver

    private enum EventType {
        case absent
        case book
        case priceChange
        case lastTradePrice
        case tickSizeChange
        case bestBidAsk
        case newMarket
        case marketResolved
        case unknown
    }

    private func eventType(_ scanner: ByteScanner, _ span: ValueSpan) -> EventType {
        guard span.kind == .string else { return span.isPresent && span.kind != .null ? .unknown : .absent }
        switch span.length {
        case 4: return scanner.spanEquals(span, "book") ? .book : .unknown
        case 10: return scanner.spanEquals(span, "new_market") ? .newMarket : .unknown
        case 12:
            if scanner.spanEquals(span, "price_change") { return .priceChange }
            if scanner.spanEquals(span, "best_bid_ask") { return .bestBidAsk }
            return .unknown
        case 15: return scanner.spanEquals(span, "market_resolved") ? .marketResolved : .unknown
        case 16:
            if scanner.spanEquals(span, "last_trade_price") { return .lastTradePrice }
            if scanner.spanEquals(span, "tick_size_change") { return .tickSizeChange }
            return .unknown
        default: return .unknown
        }
    }

    private mutating func deliver(
        _ scanner: ByteScanner, _ fields: MessageFields, objectStart: Int, objectEnd: Int, _ summary: inout FrameSummary
    ) {
        switch eventType(scanner, fields.eventType) {
        case .book:
            deliverBook(scanner, fields, hadEventType: true, objectStart, objectEnd, &summary)
        case .priceChange:
            if fields.priceChanges.isPresent {
                deliverG3(scanner, fields, objectStart, &summary)
            } else if fields.changes.isPresent {
                deliverG2(scanner, fields, objectStart, &summary)
            } else if fields.price.isPresent || fields.side.isPresent || fields.size.isPresent {
                deliverG1(scanner, fields, objectStart, &summary)
            } else {
                report(
                    .missingField, objectStart, "\"price_changes\", \"changes\" or price/side/size in a price_change",
                    &summary)
            }
        case .lastTradePrice: deliverLastTrade(scanner, fields, objectStart, &summary)
        case .tickSizeChange: deliverTickSizeChange(scanner, fields, objectStart, &summary)
        case .bestBidAsk: deliverBestBidAsk(scanner, fields, objectStart, &summary)
        case .newMarket: deliverOther(.newMarket, scanner, fields, &summary)
        case .marketResolved: deliverOther(.marketResolved, scanner, fields, &summary)
        case .unknown:
            summary.unknownEventTypes += 1
            deliverOther(.unknown, scanner, fields, &summary)
        case .absent:
            // No event_type: infer the shape (REST /book objects and some archives omit it).
            if fields.bids.isPresent || fields.asks.isPresent {
                deliverBook(scanner, fields, hadEventType: false, objectStart, objectEnd, &summary)
            } else if fields.priceChanges.isPresent {
                deliverG3(scanner, fields, objectStart, &summary)
            } else if fields.changes.isPresent {
                deliverG2(scanner, fields, objectStart, &summary)
            } else if fields.assetID.isPresent && fields.price.isPresent && fields.side.isPresent
                && fields.size.isPresent
            {
                deliverG1(scanner, fields, objectStart, &summary)
            } else {
                report(
                    .notAnEvent, objectStart, "an \"event_type\" or a book/price_change shape", &summary)
            }
        }
    }

    // MARK: Shared field checks. Each returns nil after reporting the error.

    private mutating func requiredAssetID(
        _ scanner: ByteScanner, _ span: ValueSpan, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) -> UnsafeRawBufferPointer? {
        guard span.kind == .string, span.length > 0 else {
            report(.missingField, objectStart, "a non-empty string \"asset_id\"", &summary)
            return nil
        }
        guard !span.escaped else {
            report(.missingField, Int(span.start), "an \"asset_id\" without escape sequences", &summary)
            return nil
        }
        return scanner.text(span)
    }

    private mutating func requiredDecimal(
        _ scanner: ByteScanner, _ span: ValueSpan, _ name: StaticString, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) -> ExactDecimal? {
        guard span.isPresent, span.kind != .null else {
            report(.missingField, objectStart, "a \"\(name)\" decimal", &summary)
            return nil
        }
        switch scanner.decimal(span) {
        case .success(let value): return value
        case .failure(let failure):
            report(.badNumber, Int(span.start), "\"\(name)\": \(failure.expected)", &summary)
            return nil
        }
    }

    /// nil value when absent, null or ""; `ok == false` after reporting a bad one.
    private mutating func optionalDecimal(
        _ scanner: ByteScanner, _ span: ValueSpan, _ name: StaticString, _ ok: inout Bool, _ summary: inout FrameSummary
    ) -> ExactDecimal? {
        if span.isEmptyValue { return nil }
        switch scanner.decimal(span) {
        case .success(let value): return value
        case .failure(let failure):
            report(.badNumber, Int(span.start), "\"\(name)\": \(failure.expected)", &summary)
            ok = false
            return nil
        }
    }

    private mutating func requiredTimestamp(
        _ scanner: ByteScanner, _ span: ValueSpan, _ summary: inout FrameSummary
    ) -> Int64? {
        if let value = scanner.timestamp(span) { return value }
        report(.badNumber, Int(span.start), "\"timestamp\" as epoch milliseconds (digits only)", &summary)
        return nil
    }

    private mutating func optionalHash(
        _ scanner: ByteScanner, _ span: ValueSpan, _ ok: inout Bool,
        _ summary: inout FrameSummary
    ) -> ExchangeHash? {
        if span.isEmptyValue { return nil }
        if span.kind == .string, let hash = ExchangeHash.read(scanner.bytes, Int(span.start), span.length) {
            return hash
        }
        report(.badHash, Int(span.start), "\"hash\" as 40 hex digits", &summary)
        ok = false
        return nil
    }

    private mutating func requiredSide(
        _ scanner: ByteScanner, _ span: ValueSpan, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) -> Side? {
        if let side = scanner.side(span) { return side }
        if span.isPresent {
            report(.badSide, Int(span.start), "\"side\" BUY or SELL", &summary)
        } else {
            report(.missingField, objectStart, "a \"side\" (BUY or SELL)", &summary)
        }
        return nil
    }

    private mutating func listProblem(
        _ list: ListInfo, _ name: StaticString, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) -> Bool {
        guard list.kind == .array else {
            if list.isPresent {
                report(.missingField, Int(list.offset), "\"\(name)\" as a list", &summary)
            } else {
                report(.missingField, objectStart, "a \"\(name)\" list", &summary)
            }
            return true
        }
        switch list.problem {
        case .none: return false
        case .notAnObject:
            report(.missingField, Int(list.problemOffset), "a {price,size} level in \"\(name)\"", &summary)
        case .missing(let field):
            report(.missingField, Int(list.problemOffset), "\"\(field)\" in a level of \"\(name)\"", &summary)
        case .badNumber(let field, let failure):
            report(
                .badNumber, Int(list.problemOffset), "\"\(field)\" in \"\(name)\": \(failure.expected)", &summary)
        }
        return true
    }

    // MARK: Event kinds

    private mutating func deliverBook(
        _ scanner: ByteScanner, _ fields: MessageFields, hadEventType: Bool, _ objectStart: Int, _ objectEnd: Int,
        _ summary: inout FrameSummary
    ) {
        guard let assetID = requiredAssetID(scanner, fields.assetID, objectStart, &summary),
            let timestamp = requiredTimestamp(scanner, fields.timestamp, &summary)
        else { return }
        var ok = true
        let hash = optionalHash(scanner, fields.hash, &ok, &summary)
        let tickSize = optionalDecimal(scanner, fields.tickSize, "tick_size", &ok, &summary)
        let lastTradePrice = optionalDecimal(scanner, fields.lastTradePrice, "last_trade_price", &ok, &summary)
        guard ok, !listProblem(fields.bids, "bids", objectStart, &summary),
            !listProblem(fields.asks, "asks", objectStart, &summary)
        else { return }
        let market = scanner.text(fields.market)
        let empty = UnsafeBufferPointer<PriceLevel>(start: nil, count: 0)
        pending.append(
            .book(
                BookEvent(
                    assetID: assetID, market: market, timestampMs: timestamp, hash: hash, bids: empty, asks: empty,
                    tickSize: tickSize, lastTradePrice: lastTradePrice, hadEventType: hadEventType,
                    objectOffset: objectStart, objectLength: objectEnd - objectStart),
                bids: Int(fields.bids.first)..<Int(fields.bids.first + fields.bids.count),
                asks: Int(fields.asks.first)..<Int(fields.asks.first + fields.asks.count)))
        summary.books += 1
    }

    private mutating func deliverG3(
        _ scanner: ByteScanner, _ fields: MessageFields, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) {
        let list = fields.priceChanges
        guard list.kind == .array else {
            report(.missingField, Int(list.offset), "\"price_changes\" as a list", &summary)
            return
        }
        guard let timestamp = requiredTimestamp(scanner, fields.timestamp, &summary) else { return }
        let market = scanner.text(fields.market)
        let count = Int(list.count)
        for index in 0..<count {
            let entry = entries[Int(list.first) + index]
            let entryStart = Int(entry.offset)
            guard entry.isObject else {
                report(.missingField, entryStart, "a price_changes entry object", &summary)
                continue
            }
            guard let assetID = requiredAssetID(scanner, entry.assetID, entryStart, &summary),
                let price = requiredDecimal(scanner, entry.price, "price", entryStart, &summary),
                let size = requiredDecimal(scanner, entry.size, "size", entryStart, &summary),
                let side = requiredSide(scanner, entry.side, entryStart, &summary)
            else { continue }
            var ok = true
            let hash = optionalHash(scanner, entry.hash, &ok, &summary)
            let bestBid = optionalDecimal(scanner, entry.bestBid, "best_bid", &ok, &summary)
            let bestAsk = optionalDecimal(scanner, entry.bestAsk, "best_ask", &ok, &summary)
            guard ok else { continue }
            pending.append(
                .priceChange(
                    PriceChangeEvent(
                        assetID: assetID, market: market, timestampMs: timestamp, price: price, size: size, side: side,
                        hash: hash, bestBid: bestBid, bestAsk: bestAsk, generation: .g3, indexInMessage: index,
                        countInMessage: count)))
            summary.priceChanges += 1
        }
    }

    private mutating func deliverG2(
        _ scanner: ByteScanner, _ fields: MessageFields, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) {
        let list = fields.changes
        guard list.kind == .array else {
            report(.missingField, Int(list.offset), "\"changes\" as a list", &summary)
            return
        }
        guard let assetID = requiredAssetID(scanner, fields.assetID, objectStart, &summary),
            let timestamp = requiredTimestamp(scanner, fields.timestamp, &summary)
        else { return }
        var ok = true
        let hash = optionalHash(scanner, fields.hash, &ok, &summary)
        guard ok else { return }
        let market = scanner.text(fields.market)
        let count = Int(list.count)
        for index in 0..<count {
            let entry = entries[Int(list.first) + index]
            let entryStart = Int(entry.offset)
            guard entry.isObject else {
                report(.missingField, entryStart, "a changes entry object", &summary)
                continue
            }
            guard let price = requiredDecimal(scanner, entry.price, "price", entryStart, &summary),
                let size = requiredDecimal(scanner, entry.size, "size", entryStart, &summary),
                let side = requiredSide(scanner, entry.side, entryStart, &summary)
            else { continue }
            pending.append(
                .priceChange(
                    PriceChangeEvent(
                        assetID: assetID, market: market, timestampMs: timestamp, price: price, size: size, side: side,
                        hash: index == count - 1 ? hash : nil, bestBid: nil, bestAsk: nil, generation: .g2,
                        indexInMessage: index, countInMessage: count)))
            summary.priceChanges += 1
        }
    }

    private mutating func deliverG1(
        _ scanner: ByteScanner, _ fields: MessageFields, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) {
        guard let assetID = requiredAssetID(scanner, fields.assetID, objectStart, &summary),
            let timestamp = requiredTimestamp(scanner, fields.timestamp, &summary),
            let price = requiredDecimal(scanner, fields.price, "price", objectStart, &summary),
            let size = requiredDecimal(scanner, fields.size, "size", objectStart, &summary),
            let side = requiredSide(scanner, fields.side, objectStart, &summary)
        else { return }
        var ok = true
        let hash = optionalHash(scanner, fields.hash, &ok, &summary)
        guard ok else { return }
        pending.append(
            .priceChange(
                PriceChangeEvent(
                    assetID: assetID, market: scanner.text(fields.market), timestampMs: timestamp, price: price,
                    size: size, side: side, hash: hash, bestBid: nil, bestAsk: nil, generation: .g1, indexInMessage: 0,
                    countInMessage: 1)))
        summary.priceChanges += 1
    }

    private mutating func deliverLastTrade(
        _ scanner: ByteScanner, _ fields: MessageFields, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) {
        guard let assetID = requiredAssetID(scanner, fields.assetID, objectStart, &summary),
            let timestamp = requiredTimestamp(scanner, fields.timestamp, &summary),
            let price = requiredDecimal(scanner, fields.price, "price", objectStart, &summary),
            let size = requiredDecimal(scanner, fields.size, "size", objectStart, &summary)
        else { return }
        var side: Side? = nil
        if !fields.side.isEmptyValue {
            guard let known = requiredSide(scanner, fields.side, objectStart, &summary) else { return }
            side = known
        }
        pending.append(
            .lastTrade(
                LastTradeEvent(
                    assetID: assetID, market: scanner.text(fields.market), timestampMs: timestamp, price: price,
                    size: size, side: side)))
        summary.lastTrades += 1
    }

    private mutating func deliverTickSizeChange(
        _ scanner: ByteScanner, _ fields: MessageFields, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) {
        guard let assetID = requiredAssetID(scanner, fields.assetID, objectStart, &summary),
            let timestamp = requiredTimestamp(scanner, fields.timestamp, &summary),
            let newTickSize = requiredDecimal(
                scanner, fields.newTickSize, "new_tick_size", objectStart, &summary)
        else { return }
        var ok = true
        let oldTickSize = optionalDecimal(scanner, fields.oldTickSize, "old_tick_size", &ok, &summary)
        guard ok else { return }
        pending.append(
            .tickSizeChange(
                TickSizeChangeEvent(
                    assetID: assetID, market: scanner.text(fields.market), timestampMs: timestamp,
                    oldTickSize: oldTickSize, newTickSize: newTickSize)))
        summary.tickSizeChanges += 1
    }

    private mutating func deliverBestBidAsk(
        _ scanner: ByteScanner, _ fields: MessageFields, _ objectStart: Int,
        _ summary: inout FrameSummary
    ) {
        guard let assetID = requiredAssetID(scanner, fields.assetID, objectStart, &summary),
            let timestamp = requiredTimestamp(scanner, fields.timestamp, &summary)
        else { return }
        var ok = true
        let bestBid = optionalDecimal(scanner, fields.bestBid, "best_bid", &ok, &summary)
        let bestAsk = optionalDecimal(scanner, fields.bestAsk, "best_ask", &ok, &summary)
        let spread = optionalDecimal(scanner, fields.spread, "spread", &ok, &summary)
        guard ok else { return }
        pending.append(
            .bestBidAsk(
                BestBidAskEvent(
                    assetID: assetID, market: scanner.text(fields.market), timestampMs: timestamp, bestBid: bestBid,
                    bestAsk: bestAsk, spread: spread)))
        summary.bestBidAsks += 1
    }

    private mutating func deliverOther(
        _ kind: OtherEventKind, _ scanner: ByteScanner, _ fields: MessageFields,
        _ summary: inout FrameSummary
    ) {
        // Not book state: be lenient, a bad timestamp or escaped id just reads as 0 / empty.
        let assetID =
            fields.assetID.escaped ? UnsafeRawBufferPointer(start: nil, count: 0) : scanner.text(fields.assetID)
        pending.append(
            .other(
                OtherEvent(
                    kind: kind, eventType: scanner.text(fields.eventType), assetID: assetID,
                    market: scanner.text(fields.market), timestampMs: scanner.timestamp(fields.timestamp) ?? 0)))
        summary.others += 1
    }

    // MARK: Errors

    private mutating func report(
        _ kind: FeedError.Kind, _ offset: Int, _ expected: String, _ summary: inout FrameSummary
    ) {
        summary.errors += 1
        pending.append(.error(pendingErrors.count))
        pendingErrors.append(FeedError(kind: kind, offset: offset, expected: expected))
    }
}

/// One scanned event waiting for the hand-off to the sink. Books carry their level ranges;
/// the buffers are made when the level arrays can no longer move.
@usableFromInline
enum PendingEvent {
    case book(BookEvent, bids: Range<Int>, asks: Range<Int>)
    case priceChange(PriceChangeEvent)
    case lastTrade(LastTradeEvent)
    case tickSizeChange(TickSizeChangeEvent)
    case bestBidAsk(BestBidAskEvent)
    case other(OtherEvent)
    case control(ControlFrame)
    case error(Int)
}

extension ListInfo {
    var isPresent: Bool { kind != .absent }
}
