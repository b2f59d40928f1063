// The binary record format of the router → worker rings. A record is
//
//   [u32 length][u8 kind][u8 flags][u16 asset length][u64 enqueue ns]   16-byte header
//   [fixed fields of the kind, a plain struct]                          8-aligned
//   [asset id bytes][market bytes][extra bytes]                          unaligned
//   [bid levels][ask levels]                                             8-aligned PriceLevel arrays
//
// padded to a multiple of 8. Router and worker run the same executable, so the fixed structs
// and `PriceLevel` have the same layout on both sides and are copied as raw bytes: the worker
// decodes without parsing, and hands BookStore events whose pointers point into the ring.
import Feed

/// The kinds of ring records. Data kinds mirror the Feed events; the rest are in-band control.
enum RecordKind: UInt8 {
    case book = 1
    case priceChange = 2
    case lastTrade = 3
    case tickSizeChange = 4
    case bestBidAsk = 5
    case other = 6
    /// A copy of a `lastTrade` for a worker that holds another token of the trade's market: the
    /// market's last trade price is part of every token's exchange hash (recipe 10), so each
    /// worker holding the market needs it. Applied without counting a trade (not a data message).
    case marketTrade = 7
    case sideData = 16
    case invalidate = 17
    case query = 18
    case stop = 19
    /// Test only: the worker stops reading (and with `flags & 1` ignores SIGTERM), so tests
    /// can prove that stop escalates to SIGKILL within its budget.
    case testHang = 32
    /// Test only: the worker exits at once with status `flags` (a crash with a known status).
    case testExit = 33
}

struct RecordHeader {
    var length: UInt32
    var kind: UInt8
    var flags: UInt8
    var assetLength: UInt16
    var enqueueNanos: UInt64
}

struct BookFixed {
    var timestampMs: Int64
    /// The tape line the event came from (for reports that name where a book went wrong).
    var inputLine: Int64
    var hash: ExchangeHash?
    var tickSize: ExactDecimal?
    var lastTradePrice: ExactDecimal?
    var bidCount: UInt32
    var askCount: UInt32
    var marketLength: UInt32
    /// The router's number for the asset (`BookStore.apply(_:slot:)`); 0: none.
    var assetSlot: UInt32
    var hadEventType: Bool
}

struct PriceChangeFixed {
    var timestampMs: Int64
    /// The tape line the event came from.
    var inputLine: Int64
    var price: ExactDecimal
    var size: ExactDecimal
    var hash: ExchangeHash?
    var bestBid: ExactDecimal?
    var bestAsk: ExactDecimal?
    var indexInMessage: Int32
    var countInMessage: Int32
    /// 0: the worker does not need a price change's market (its book's snapshot linked it), so
    /// the router leaves those bytes out.
    var marketLength: UInt32
    /// The router's number for the asset (`BookStore.apply(_:slot:)`); 0: none.
    var assetSlot: UInt32
    var side: Side
    var generation: PriceChangeGeneration
}

struct LastTradeFixed {
    var timestampMs: Int64
    var price: ExactDecimal
    var size: ExactDecimal
    var side: Side?
    var marketLength: UInt32
}

struct TickSizeFixed {
    var timestampMs: Int64
    var oldTickSize: ExactDecimal?
    var newTickSize: ExactDecimal
    var marketLength: UInt32
}

struct BestBidAskFixed {
    var timestampMs: Int64
    var bestBid: ExactDecimal?
    var bestAsk: ExactDecimal?
    var spread: ExactDecimal?
    var marketLength: UInt32
}

struct OtherFixed {
    var timestampMs: Int64
    var marketLength: UInt32
    var eventTypeLength: UInt32
    var kind: OtherEventKind
}

struct QueryFixed {
    var requestID: UInt64
    var depth: Int64
}

struct ExtraFixed {
    var extraLength: UInt32
}

struct EmptyFixed {}

/// One decoded record. Pointers point into the ring and are valid until the consumer
/// releases the record.
enum DecodedRecord {
    case book(BookEvent)
    case priceChange(PriceChangeEvent)
    case lastTrade(LastTradeEvent)
    case marketTrade(LastTradeEvent)
    case tickSizeChange(TickSizeChangeEvent)
    case bestBidAsk(BestBidAskEvent)
    case other(OtherEvent)
    case sideData(assetID: UnsafeRawBufferPointer, json: UnsafeRawBufferPointer)
    case invalidate(assetIDs: [String])
    case query(requestID: UInt64, assetID: UnsafeRawBufferPointer, depth: Int)
    case stop
    case testHang(ignoreTerm: Bool)
    case testExit(status: UInt8)
    /// A record this build does not know (never written by the same executable).
    case unknown(kind: UInt8)

    /// Feed events (counted as processed messages), as opposed to control records.
    var isData: Bool {
        switch self {
        case .book, .priceChange, .lastTrade, .tickSizeChange, .bestBidAsk, .other: true
        default: false
        }
    }
}

/// Encodes and decodes ring records. Sizes are computed first so the ring can reserve one
/// contiguous span; `write*` then fills it without allocating.
enum RecordCodec {
    static let headerSize = MemoryLayout<RecordHeader>.size  // 16
    static let wrapMarker: UInt32 = .max

    @inline(__always)
    static func align8(_ value: Int) -> Int { (value + 7) & ~7 }

    @inline(__always)
    static func recordSize<Fixed>(_ fixed: Fixed.Type, variableBytes: Int, levelCount: Int) -> Int {
        let levelsOffset = align8(headerSize + align8(MemoryLayout<Fixed>.size) + variableBytes)
        return align8(levelsOffset + levelCount * MemoryLayout<PriceLevel>.stride)
    }

    /// Writes header, fixed struct and byte fields; returns the offset where levels go.
    @inline(__always)
    static func writePrefix<Fixed>(
        to base: UnsafeMutableRawPointer, length: Int, kind: RecordKind, flags: UInt8, enqueueNanos: UInt64,
        fixed: Fixed, asset: UnsafeRawBufferPointer, market: UnsafeRawBufferPointer,
        extra: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) -> Int {
        base.storeBytes(
            of: RecordHeader(
                length: UInt32(length), kind: kind.rawValue, flags: flags, assetLength: UInt16(asset.count),
                enqueueNanos: enqueueNanos),
            as: RecordHeader.self)
        withUnsafeBytes(of: fixed) { (base + headerSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var offset = headerSize + align8(MemoryLayout<Fixed>.size)
        // Field by field (an array of the three would allocate on every message).
        if asset.count > 0 {
            (base + offset).copyMemory(from: asset.baseAddress!, byteCount: asset.count)
            offset += asset.count
        }
        if market.count > 0 {
            (base + offset).copyMemory(from: market.baseAddress!, byteCount: market.count)
            offset += market.count
        }
        if extra.count > 0 {
            (base + offset).copyMemory(from: extra.baseAddress!, byteCount: extra.count)
            offset += extra.count
        }
        return align8(offset)
    }

    // MARK: sizes

    static func size(_ e: BookEvent) -> Int {
        recordSize(
            BookFixed.self, variableBytes: e.assetID.count + e.market.count, levelCount: e.bids.count + e.asks.count)
    }
    static func size(_ e: PriceChangeEvent) -> Int {
        recordSize(PriceChangeFixed.self, variableBytes: e.assetID.count, levelCount: 0)
    }
    static func size(_ e: LastTradeEvent) -> Int {
        recordSize(LastTradeFixed.self, variableBytes: e.assetID.count + e.market.count, levelCount: 0)
    }
    static func size(_ e: TickSizeChangeEvent) -> Int {
        recordSize(TickSizeFixed.self, variableBytes: e.assetID.count + e.market.count, levelCount: 0)
    }
    static func size(_ e: BestBidAskEvent) -> Int {
        recordSize(BestBidAskFixed.self, variableBytes: e.assetID.count + e.market.count, levelCount: 0)
    }
    static func size(_ e: OtherEvent) -> Int {
        recordSize(OtherFixed.self, variableBytes: e.assetID.count + e.market.count + e.eventType.count, levelCount: 0)
    }

    // MARK: writers (the span at `base` holds exactly `size(e)` bytes)

    static func write(
        _ e: BookEvent, enqueueNanos: UInt64, inputLine: Int64 = 0, assetSlot: UInt32 = 0,
        to base: UnsafeMutableRawPointer, length: Int
    ) {
        let fixed = BookFixed(
            timestampMs: e.timestampMs, inputLine: inputLine, hash: e.hash, tickSize: e.tickSize,
            lastTradePrice: e.lastTradePrice,
            bidCount: UInt32(e.bids.count), askCount: UInt32(e.asks.count), marketLength: UInt32(e.market.count),
            assetSlot: assetSlot, hadEventType: e.hadEventType)
        let levels = writePrefix(
            to: base, length: length, kind: .book, flags: 0, enqueueNanos: enqueueNanos, fixed: fixed,
            asset: e.assetID, market: e.market)
        let stride = MemoryLayout<PriceLevel>.stride
        if e.bids.count > 0 {
            (base + levels).copyMemory(from: e.bids.baseAddress!, byteCount: e.bids.count * stride)
        }
        if e.asks.count > 0 {
            (base + levels + e.bids.count * stride).copyMemory(
                from: e.asks.baseAddress!, byteCount: e.asks.count * stride)
        }
    }

    static func write(
        _ e: PriceChangeEvent, enqueueNanos: UInt64, inputLine: Int64 = 0, assetSlot: UInt32 = 0,
        to base: UnsafeMutableRawPointer, length: Int
    ) {
        let fixed = PriceChangeFixed(
            timestampMs: e.timestampMs, inputLine: inputLine, price: e.price, size: e.size, hash: e.hash,
            bestBid: e.bestBid,
            bestAsk: e.bestAsk, indexInMessage: Int32(truncatingIfNeeded: e.indexInMessage),
            countInMessage: Int32(truncatingIfNeeded: e.countInMessage), marketLength: 0, assetSlot: assetSlot,
            side: e.side, generation: e.generation)
        _ = writePrefix(
            to: base, length: length, kind: .priceChange, flags: 0, enqueueNanos: enqueueNanos, fixed: fixed,
            asset: e.assetID, market: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// `kind` is `.lastTrade`, or `.marketTrade` for a copy to another worker of the market.
    static func write(
        _ e: LastTradeEvent, kind: RecordKind = .lastTrade, enqueueNanos: UInt64, to base: UnsafeMutableRawPointer,
        length: Int
    ) {
        let fixed = LastTradeFixed(
            timestampMs: e.timestampMs, price: e.price, size: e.size, side: e.side,
            marketLength: UInt32(e.market.count))
        _ = writePrefix(
            to: base, length: length, kind: kind, flags: 0, enqueueNanos: enqueueNanos, fixed: fixed,
            asset: e.assetID, market: e.market)
    }

    static func write(_ e: TickSizeChangeEvent, enqueueNanos: UInt64, to base: UnsafeMutableRawPointer, length: Int) {
        let fixed = TickSizeFixed(
            timestampMs: e.timestampMs, oldTickSize: e.oldTickSize, newTickSize: e.newTickSize,
            marketLength: UInt32(e.market.count))
        _ = writePrefix(
            to: base, length: length, kind: .tickSizeChange, flags: 0, enqueueNanos: enqueueNanos, fixed: fixed,
            asset: e.assetID, market: e.market)
    }

    static func write(_ e: BestBidAskEvent, enqueueNanos: UInt64, to base: UnsafeMutableRawPointer, length: Int) {
        let fixed = BestBidAskFixed(
            timestampMs: e.timestampMs, bestBid: e.bestBid, bestAsk: e.bestAsk, spread: e.spread,
            marketLength: UInt32(e.market.count))
        _ = writePrefix(
            to: base, length: length, kind: .bestBidAsk, flags: 0, enqueueNanos: enqueueNanos, fixed: fixed,
            asset: e.assetID, market: e.market)
    }

    static func write(_ e: OtherEvent, enqueueNanos: UInt64, to base: UnsafeMutableRawPointer, length: Int) {
        let fixed = OtherFixed(
            timestampMs: e.timestampMs, marketLength: UInt32(e.market.count),
            eventTypeLength: UInt32(e.eventType.count), kind: e.kind)
        _ = writePrefix(
            to: base, length: length, kind: .other, flags: 0, enqueueNanos: enqueueNanos, fixed: fixed,
            asset: e.assetID, market: e.market, extra: e.eventType)
    }

    // MARK: control records (cold path: may allocate)

    /// A control record as bytes: side data (asset + JSON), invalidation (u16-length-prefixed
    /// asset ids), query, stop, test hang.
    static func controlRecord(
        kind: RecordKind, flags: UInt8 = 0, asset: [UInt8] = [], extra: [UInt8] = [], query: QueryFixed? = nil
    ) -> [UInt8] {
        let length: Int
        if let query {
            length = recordSize(QueryFixed.self, variableBytes: asset.count, levelCount: 0)
            var bytes = [UInt8](repeating: 0, count: length)
            bytes.withUnsafeMutableBytes { buffer in
                asset.withUnsafeBytes { assetBytes in
                    _ = writePrefix(
                        to: buffer.baseAddress!, length: length, kind: kind, flags: flags, enqueueNanos: 0,
                        fixed: query, asset: assetBytes, market: UnsafeRawBufferPointer(start: nil, count: 0))
                }
            }
            return bytes
        }
        length = recordSize(ExtraFixed.self, variableBytes: asset.count + extra.count, levelCount: 0)
        var bytes = [UInt8](repeating: 0, count: length)
        bytes.withUnsafeMutableBytes { buffer in
            asset.withUnsafeBytes { assetBytes in
                extra.withUnsafeBytes { extraBytes in
                    _ = writePrefix(
                        to: buffer.baseAddress!, length: length, kind: kind, flags: flags, enqueueNanos: 0,
                        fixed: ExtraFixed(extraLength: UInt32(extra.count)), asset: assetBytes,
                        market: UnsafeRawBufferPointer(start: nil, count: 0), extra: extraBytes)
                }
            }
        }
        return bytes
    }

    static func invalidationPayload(_ assetIDs: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for id in assetIDs {
            let utf8 = Array(id.utf8)
            bytes.append(UInt8(utf8.count & 0xFF))
            bytes.append(UInt8(utf8.count >> 8))
            bytes.append(contentsOf: utf8)
        }
        return bytes
    }

    // MARK: decoding

    @inline(__always)
    static func header(at base: UnsafeRawPointer) -> RecordHeader {
        base.load(as: RecordHeader.self)
    }

    /// The book event of a `.book` record (the worker's fast path calls this directly, without
    /// going through `DecodedRecord`).
    @inline(__always)
    static func book(at base: UnsafeRawPointer, assetLength: Int) -> BookEvent {
        let fixed = (base + headerSize).load(as: BookFixed.self)
        let start = headerSize + align8(MemoryLayout<BookFixed>.size)
        let marketLength = Int(fixed.marketLength)
        let levelsOffset = align8(start + assetLength + marketLength)
        let bidCount = Int(fixed.bidCount)
        let askCount = Int(fixed.askCount)
        let levels = UnsafeMutableRawPointer(mutating: base + levelsOffset)
            .bindMemory(to: PriceLevel.self, capacity: bidCount + askCount)
        return BookEvent(
            assetID: UnsafeRawBufferPointer(start: base + start, count: assetLength),
            market: UnsafeRawBufferPointer(start: base + start + assetLength, count: marketLength),
            timestampMs: fixed.timestampMs, hash: fixed.hash,
            bids: UnsafeBufferPointer(start: levels, count: bidCount),
            asks: UnsafeBufferPointer(start: levels + bidCount, count: askCount), tickSize: fixed.tickSize,
            lastTradePrice: fixed.lastTradePrice, hadEventType: fixed.hadEventType, objectOffset: 0, objectLength: 0)
    }

    /// The tape line of a book or price-change record (0 when the router was not told).
    @inline(__always)
    static func inputLine(at base: UnsafeRawPointer, kind: UInt8) -> Int64 {
        kind == RecordKind.book.rawValue
            ? (base + headerSize).load(as: BookFixed.self).inputLine
            : (base + headerSize).load(as: PriceChangeFixed.self).inputLine
    }

    /// The router's asset slot of a book or price-change record (0: none).
    @inline(__always)
    static func assetSlot(at base: UnsafeRawPointer, kind: UInt8) -> Int {
        kind == RecordKind.book.rawValue
            ? Int((base + headerSize).load(as: BookFixed.self).assetSlot)
            : Int((base + headerSize).load(as: PriceChangeFixed.self).assetSlot)
    }

    /// The event of a `.priceChange` record (fast path, see `book(at:assetLength:)`).
    @inline(__always)
    static func priceChange(at base: UnsafeRawPointer, assetLength: Int) -> PriceChangeEvent {
        let fixed = (base + headerSize).load(as: PriceChangeFixed.self)
        let start = headerSize + align8(MemoryLayout<PriceChangeFixed>.size)
        return PriceChangeEvent(
            assetID: UnsafeRawBufferPointer(start: base + start, count: assetLength),
            market: UnsafeRawBufferPointer(start: base + start + assetLength, count: Int(fixed.marketLength)),
            timestampMs: fixed.timestampMs, price: fixed.price, size: fixed.size, side: fixed.side, hash: fixed.hash,
            bestBid: fixed.bestBid, bestAsk: fixed.bestAsk, generation: fixed.generation,
            indexInMessage: Int(fixed.indexInMessage), countInMessage: Int(fixed.countInMessage))
    }

    /// Decodes the record at `base` (8-aligned, `header.length` bytes valid).
    static func decode(at base: UnsafeRawPointer) -> (header: RecordHeader, record: DecodedRecord) {
        let header = base.load(as: RecordHeader.self)
        guard let kind = RecordKind(rawValue: header.kind) else { return (header, .unknown(kind: header.kind)) }
        let assetLength = Int(header.assetLength)

        func bytes(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: base + offset, count: count)
        }
        func fields<Fixed>(_: Fixed.Type) -> (Fixed, Int) {
            let offset = headerSize + align8(MemoryLayout<Fixed>.size)
            return ((base + headerSize).load(as: Fixed.self), offset)
        }

        switch kind {
        case .book:
            return (header, .book(book(at: base, assetLength: assetLength)))
        case .priceChange:
            return (header, .priceChange(priceChange(at: base, assetLength: assetLength)))
        case .lastTrade, .marketTrade:
            let (fixed, start) = fields(LastTradeFixed.self)
            let event = LastTradeEvent(
                assetID: bytes(start, assetLength), market: bytes(start + assetLength, Int(fixed.marketLength)),
                timestampMs: fixed.timestampMs, price: fixed.price, size: fixed.size, side: fixed.side)
            return (header, kind == .lastTrade ? .lastTrade(event) : .marketTrade(event))
        case .tickSizeChange:
            let (fixed, start) = fields(TickSizeFixed.self)
            let event = TickSizeChangeEvent(
                assetID: bytes(start, assetLength), market: bytes(start + assetLength, Int(fixed.marketLength)),
                timestampMs: fixed.timestampMs, oldTickSize: fixed.oldTickSize, newTickSize: fixed.newTickSize)
            return (header, .tickSizeChange(event))
        case .bestBidAsk:
            let (fixed, start) = fields(BestBidAskFixed.self)
            let event = BestBidAskEvent(
                assetID: bytes(start, assetLength), market: bytes(start + assetLength, Int(fixed.marketLength)),
                timestampMs: fixed.timestampMs, bestBid: fixed.bestBid, bestAsk: fixed.bestAsk, spread: fixed.spread)
            return (header, .bestBidAsk(event))
        case .other:
            let (fixed, start) = fields(OtherFixed.self)
            let marketLength = Int(fixed.marketLength)
            let event = OtherEvent(
                kind: fixed.kind, eventType: bytes(start + assetLength + marketLength, Int(fixed.eventTypeLength)),
                assetID: bytes(start, assetLength), market: bytes(start + assetLength, marketLength),
                timestampMs: fixed.timestampMs)
            return (header, .other(event))
        case .query:
            let (fixed, start) = fields(QueryFixed.self)
            return (
                header, .query(requestID: fixed.requestID, assetID: bytes(start, assetLength), depth: Int(fixed.depth))
            )
        case .sideData:
            let (fixed, start) = fields(ExtraFixed.self)
            return (
                header,
                .sideData(assetID: bytes(start, assetLength), json: bytes(start + assetLength, Int(fixed.extraLength)))
            )
        case .invalidate:
            let (fixed, start) = fields(ExtraFixed.self)
            let payload = bytes(start + assetLength, Int(fixed.extraLength))
            var ids: [String] = []
            var offset = 0
            while offset + 2 <= payload.count {
                let count = Int(payload[offset]) | Int(payload[offset + 1]) << 8
                offset += 2
                guard offset + count <= payload.count else { break }
                ids.append(
                    String(decoding: UnsafeRawBufferPointer(rebasing: payload[offset..<offset + count]), as: UTF8.self))
                offset += count
            }
            return (header, .invalidate(assetIDs: ids))
        case .stop:
            return (header, .stop)
        case .testHang:
            return (header, .testHang(ignoreTerm: header.flags & 1 != 0))
        case .testExit:
            return (header, .testExit(status: header.flags))
        }
    }
}
