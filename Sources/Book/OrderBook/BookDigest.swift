// The canonical book digest used by golden files.

/// A canonical digest of a book's state: SHA-1 over a fixed binary rendering that depends only
/// on the asset id, the tick size and the levels' exact values, never on written precision
/// ("0.5" = "0.50"), arrival order, platform or worker count. Layout (all integers
/// little-endian; prices and sizes in millionths):
///
///     "polytape-book/1\n"  asset id bytes  "\n"
///     tick size units (Int64, −1 when unknown)
///     bid count (UInt32), then per bid in ascending price: price (Int64), size (Int64)
///     ask count (UInt32), then per ask in ascending price: price (Int64), size (Int64)
///
/// Rendered as 40 lowercase hex characters. See docs/BOOK.md.
public enum BookDigest {
    /// The canonical bytes (exposed so other implementations can be checked against it).
    public static func canonicalBytes(book: OrderBook, assetID: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + assetID.utf8.count + 16 * (book.bids.count + book.asks.count))
        out.append(contentsOf: "polytape-book/1\n".utf8)
        out.append(contentsOf: assetID.utf8)
        out.append(UInt8(ascii: "\n"))
        func int64(_ value: Int64) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        func uint32(_ value: Int) {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { out.append(contentsOf: $0) }
        }
        int64(book.tickSize?.units ?? -1)
        uint32(book.bids.count)
        for i in 0..<book.bids.count {  // stored ascending by price
            int64(book.bids.keys[i])
            int64(book.bids.sizes[i])
        }
        uint32(book.asks.count)
        var i = book.asks.count - 1
        while i >= 0 {  // stored descending by price; the digest wants ascending
            int64(-book.asks.keys[i])
            int64(book.asks.sizes[i])
            i -= 1
        }
        return out
    }

    /// The digest as 40 lowercase hex characters.
    public static func hex(book: OrderBook, assetID: String, hasher: ExchangeHasher) -> String {
        let bytes = canonicalBytes(book: book, assetID: assetID)
        return ExchangeHashText.hex(bytes.withUnsafeBytes { hasher.sha1($0) })
    }
}
