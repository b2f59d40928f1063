// The exchange's book `hash`: SHA-1 of a compact JSON rendering of the token's book summary.
internal import COpenSSL
public import Feed

/// The three book-summary layouts the exchange has hashed over time (PROTOCOL.md, corpus README
/// section 1). The raw value is the number of JSON fields.
public enum ExchangeHashRecipe: Int, Sendable, Codable, CaseIterable {
    /// market, asset_id, timestamp, hash, bids, asks (until about 2025-10-21).
    case six = 6
    /// + min_order_size, tick_size, neg_risk (until about 2025-11-30).
    case nine = 9
    /// + last_trade_price, written with 3 decimals (since about 2025-11-30).
    case ten = 10
}

/// Text forms of `ExchangeHash` (40 lowercase hex characters; `high` holds the first 8 digest
/// bytes big-endian, `middle` the next 8, `low` the last 4).
public enum ExchangeHashText {
    public static func hex(_ hash: ExchangeHash) -> String {
        var bytes = [UInt8](repeating: 0, count: 40)
        func put(_ value: UInt64, digits: Int, at start: Int) {
            for i in 0..<digits {
                let nibble = UInt8((value >> UInt64(4 * (digits - 1 - i))) & 0xF)
                bytes[start + i] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            }
        }
        put(hash.high, digits: 16, at: 0)
        put(hash.middle, digits: 16, at: 16)
        put(UInt64(hash.low), digits: 8, at: 32)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses 40 hex digits (either case); nil otherwise.
    public static func parse(_ text: String) -> ExchangeHash? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 40 else { return nil }
        var words: [UInt64] = [0, 0, 0]
        for (i, c) in utf8.enumerated() {
            let nibble: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            let word = i < 16 ? 0 : (i < 32 ? 1 : 2)
            words[word] = words[word] << 4 | nibble
        }
        return ExchangeHash(high: words[0], middle: words[1], low: UInt32(words[2]))
    }

    static func fromDigest(_ digest: UnsafeRawPointer) -> ExchangeHash {
        ExchangeHash(
            high: UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            middle: UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            low: UInt32(bigEndian: digest.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
    }
}

/// The inputs of the exchange hash that are not the levels themselves.
public struct ExchangeHashFields: Sendable, Equatable {
    public var recipe: ExchangeHashRecipe
    /// Recipes 9 and 10. Written exactly as given ("5", "15").
    public var minOrderSize: ExactDecimal
    /// Recipes 9 and 10. Written exactly as given ("0.01", "0.001").
    public var tickSize: ExactDecimal
    public var negRisk: Bool
    /// Recipe 10, written with 3 decimals ("0.500"); nil is written as "".
    public var lastTradePrice: ExactDecimal?

    public init(
        recipe: ExchangeHashRecipe, minOrderSize: ExactDecimal = .zero, tickSize: ExactDecimal = .zero,
        negRisk: Bool = false, lastTradePrice: ExactDecimal? = nil
    ) {
        self.recipe = recipe
        self.minOrderSize = minOrderSize
        self.tickSize = tickSize
        self.negRisk = negRisk
        self.lastTradePrice = lastTradePrice
    }
}

/// Renders the compact JSON the exchange hashes and takes its SHA-1 with OpenSSL EVP (one
/// `EVP_MD_CTX`, reused). Owns a growable render buffer, so steady-state hashing allocates
/// nothing. One owner at a time (not Sendable); each worker has its own.
public final class ExchangeHasher {
    private let context: OpaquePointer
    private let sha1: OpaquePointer
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int

    public init() {
        // An explicitly fetched digest (OpenSSL 3): with the legacy EVP_sha1() every
        // EVP_DigestInit_ex fetches and frees the implementation again.
        guard let context = EVP_MD_CTX_new(), let sha1 = EVP_MD_fetch(nil, "SHA1", nil) else {
            fatalError("OpenSSL could not create a SHA-1 digest context (out of memory or broken libcrypto)")
        }
        self.context = context
        self.sha1 = sha1
        capacity = 16 * 1024
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(sha1)
        buffer.deallocate()
    }

    /// SHA-1 of `bytes`.
    public func sha1(_ bytes: UnsafeRawBufferPointer) -> ExchangeHash {
        var digest: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes ≥ SHA-1's 20
        var length: UInt32 = 0
        return withUnsafeMutableBytes(of: &digest) { out in
            let ok =
                EVP_DigestInit_ex(context, sha1, nil) == 1
                && EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1
                && EVP_DigestFinal_ex(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1
            precondition(ok && length == 20, "OpenSSL EVP SHA-1 failed")
            return ExchangeHashText.fromDigest(out.baseAddress!)
        }
    }

    /// The exact JSON the exchange hashes for this book (public form, for tests and tools).
    /// `timestamp` is written as a JSON string unless `timestampAsJSONNumber` (a negative
    /// control: the exchange never does that, and the hash then does not match).
    public func json(
        book: OrderBook, market: String, assetID: String, timestamp: String, fields: ExchangeHashFields,
        timestampAsJSONNumber: Bool = false
    ) -> [UInt8] {
        var market = market
        var assetID = assetID
        var timestamp = timestamp
        let count = market.withUTF8 { m in
            assetID.withUTF8 { a in
                timestamp.withUTF8 { t in
                    render(
                        market: UnsafeRawBufferPointer(m), assetID: UnsafeRawBufferPointer(a),
                        timestamp: UnsafeRawBufferPointer(t), timestampQuoted: !timestampAsJSONNumber,
                        bids: book.bids, asks: book.asks, fields: fields)
                }
            }
        }
        return Array(UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// The exchange hash of this book (public form).
    public func hash(
        book: OrderBook, market: String, assetID: String, timestamp: String, fields: ExchangeHashFields,
        timestampAsJSONNumber: Bool = false
    ) -> ExchangeHash {
        let bytes = json(
            book: book, market: market, assetID: assetID, timestamp: timestamp, fields: fields,
            timestampAsJSONNumber: timestampAsJSONNumber)
        return bytes.withUnsafeBytes { sha1($0) }
    }

    /// The hot form used by the oracle: ids as raw bytes, the timestamp as epoch ms.
    func hash(
        market: UnsafeRawBufferPointer, assetID: UnsafeRawBufferPointer, timestampMs: Int64,
        bids: BookSide, asks: BookSide, fields: ExchangeHashFields
    ) -> ExchangeHash {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = withUnsafeMutableBytes(of: &digits) { scratch in
            let n = DecimalText.writeInteger(UInt64(max(0, timestampMs)), to: scratch.baseAddress!)
            return render(
                market: market, assetID: assetID, timestamp: UnsafeRawBufferPointer(rebasing: scratch[0..<n]),
                timestampQuoted: true, bids: bids, asks: asks, fields: fields)
        }
        return sha1(UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// Heap bytes held: the render buffer plus OpenSSL's context and digest (approximate).
    var heapBytes: Int { MemoryEstimate.mallocChunk(capacity) + 512 }

    private func ensureCapacity(_ needed: Int) {
        if needed <= capacity { return }
        buffer.deallocate()
        capacity = max(needed, capacity * 2)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// Little-endian words of the fixed text around each level.
    private static let priceOpen = word(#"{"price""#)
    private static let sizeOpen = word(#"","size""#)
    private static let colonQuote = UInt16(UInt8(ascii: ":")) | UInt16(UInt8(ascii: "\"")) << 8
    private static let quoteClose = UInt16(UInt8(ascii: "\"")) | UInt16(UInt8(ascii: "}")) << 8

    private static func word(_ eight: String) -> UInt64 {
        precondition(eight.utf8.count == 8)
        var value: UInt64 = 0
        for (i, byte) in eight.utf8.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        return value
    }

    /// Writes the JSON into `buffer`; returns its length.
    private func render(
        market: UnsafeRawBufferPointer, assetID: UnsafeRawBufferPointer, timestamp: UnsafeRawBufferPointer,
        timestampQuoted: Bool, bids: BookSide, asks: BookSide, fields: ExchangeHashFields
    ) -> Int {
        // Each level is at most {"price":"<≤32>","size":"<≤32>"}, = 87 bytes; the rest is small.
        ensureCapacity(512 + market.count + assetID.count + timestamp.count + 90 * (bids.count + asks.count))
        var p = buffer
        func raw(_ s: StaticString) {
            s.withUTF8Buffer { b in
                p.copyMemory(from: b.baseAddress!, byteCount: b.count)
                p += b.count
            }
        }
        func bytes(_ b: UnsafeRawBufferPointer) {
            if b.count > 0 { p.copyMemory(from: b.baseAddress!, byteCount: b.count) }
            p += b.count
        }
        func decimal(_ d: ExactDecimal) {
            p += DecimalText.write(d, to: p)
        }
        func side(_ s: BookSide) {
            raw("[")
            s.keys.withUnsafeBufferPointer { keys in
                s.sizes.withUnsafeBufferPointer { sizes in
                    s.forms.withUnsafeBufferPointer { forms in
                        // The fixed parts of a level are written as whole words (unaligned
                        // stores), not byte copies: this loop is half the cost of a hash.
                        for i in 0..<keys.count {
                            if i > 0 {
                                p.storeBytes(of: UInt8(ascii: ","), as: UInt8.self)
                                p += 1
                            }
                            p.storeBytes(of: Self.priceOpen.littleEndian, as: UInt64.self)  // {"price"
                            p.storeBytes(of: Self.colonQuote.littleEndian, toByteOffset: 8, as: UInt16.self)  // :"
                            p += 10
                            let form = forms[i]
                            decimal(WrittenForm.unpack(units: s.price(forKey: keys[i]), form: form & 0xF))
                            p.storeBytes(of: Self.sizeOpen.littleEndian, as: UInt64.self)  // ","size"
                            p.storeBytes(of: Self.colonQuote.littleEndian, toByteOffset: 8, as: UInt16.self)  // :"
                            p += 10
                            decimal(WrittenForm.unpack(units: sizes[i], form: form >> 4))
                            p.storeBytes(of: Self.quoteClose.littleEndian, as: UInt16.self)  // "}
                            p += 2
                        }
                    }
                }
            }
            raw("]")
        }
        raw("{\"market\":\"")
        bytes(market)
        raw("\",\"asset_id\":\"")
        bytes(assetID)
        raw("\",\"timestamp\":")
        if timestampQuoted { raw("\"") }
        bytes(timestamp)
        if timestampQuoted { raw("\"") }
        raw(",\"hash\":\"\",\"bids\":")
        side(bids)
        raw(",\"asks\":")
        side(asks)
        if fields.recipe != .six {
            raw(",\"min_order_size\":\"")
            decimal(fields.minOrderSize)
            raw("\",\"tick_size\":\"")
            decimal(fields.tickSize)
            raw(fields.negRisk ? "\",\"neg_risk\":true" : "\",\"neg_risk\":false")
            if fields.recipe == .ten {
                raw(",\"last_trade_price\":\"")
                if let price = fields.lastTradePrice {
                    decimal(
                        ExactDecimal(units: price.units, digits: max(3, DecimalText.significantDigits(price.units))))
                }
                raw("\"")
            }
        }
        raw("}")
        return p - buffer
    }
}
