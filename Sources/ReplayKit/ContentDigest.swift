// The tape's identity in reports and goldens: a digest of its decompressed lines.

/// Streaming XXH64 (the xxHash 64-bit algorithm, seed 0) over the tape's lines, each followed
/// by a newline. A non-cryptographic 64-bit digest is enough to tell tapes apart for regression
/// checks, and at several GB/s it keeps the router thread free for parsing (SHA-256 cost about
/// a fifth of a max-speed replay; see docs/BENCHMARKS.md).
struct ContentDigest {
    static let algorithm = "xxh64"

    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private var v1: UInt64 = prime1 &+ prime2
    private var v2: UInt64 = prime2
    private var v3: UInt64 = 0
    private var v4: UInt64 = 0 &- prime1
    private var totalLength: UInt64 = 0
    /// Bytes not yet forming a whole 32-byte stripe.
    private var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var pendingCount = 0

    init() {}

    @inline(__always)
    private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        let mixed = accumulator &+ input &* prime2
        return ((mixed << 31) | (mixed >> 33)) &* prime1
    }

    @inline(__always)
    private static func merge(_ hash: UInt64, _ value: UInt64) -> UInt64 {
        (hash ^ round(0, value)) &* prime1 &+ prime4
    }

    @inline(__always)
    private mutating func stripe(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) {
        v1 = Self.round(v1, a)
        v2 = Self.round(v2, b)
        v3 = Self.round(v3, c)
        v4 = Self.round(v4, d)
    }

    /// Adds `line` and a newline.
    mutating func update(line: UnsafeRawBufferPointer) {
        update(line)
        withUnsafeBytes(of: UInt8(0x0A)) { update($0) }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        totalLength &+= UInt64(bytes.count)
        var offset = 0
        let count = bytes.count
        if pendingCount > 0 {
            let take = min(32 - pendingCount, count)
            withUnsafeMutableBytes(of: &pending) { buffer in
                buffer.baseAddress!.advanced(by: pendingCount).copyMemory(from: base, byteCount: take)
            }
            pendingCount += take
            offset = take
            guard pendingCount == 32 else { return }
            stripe(
                UInt64(littleEndian: pending.0), UInt64(littleEndian: pending.1), UInt64(littleEndian: pending.2),
                UInt64(littleEndian: pending.3))
            pendingCount = 0
        }
        while offset + 32 <= count {
            let p = base + offset
            stripe(
                UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)),
                UInt64(littleEndian: (p + 8).loadUnaligned(as: UInt64.self)),
                UInt64(littleEndian: (p + 16).loadUnaligned(as: UInt64.self)),
                UInt64(littleEndian: (p + 24).loadUnaligned(as: UInt64.self)))
            offset += 32
        }
        if offset < count {
            let rest = count - offset
            withUnsafeMutableBytes(of: &pending) { buffer in
                buffer.baseAddress!.copyMemory(from: base + offset, byteCount: rest)
            }
            pendingCount = rest
        }
    }

    /// The digest as 16 lowercase hex digits.
    func finish() -> String {
        var hash: UInt64
        if totalLength >= 32 {
            hash =
                ((v1 << 1) | (v1 >> 63)) &+ ((v2 << 7) | (v2 >> 57)) &+ ((v3 << 12) | (v3 >> 52))
                &+ ((v4 << 18) | (v4 >> 46))
            hash = Self.merge(hash, v1)
            hash = Self.merge(hash, v2)
            hash = Self.merge(hash, v3)
            hash = Self.merge(hash, v4)
        } else {
            hash = Self.prime5
        }
        hash &+= totalLength
        var tail = pending
        withUnsafeBytes(of: &tail) { bytes in
            var index = 0
            while index + 8 <= pendingCount {
                let k = Self.round(0, UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
                hash ^= k
                hash = ((hash << 27) | (hash >> 37)) &* Self.prime1 &+ Self.prime4
                index += 8
            }
            if index + 4 <= pendingCount {
                let k = UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self)))
                hash ^= k &* Self.prime1
                hash = ((hash << 23) | (hash >> 41)) &* Self.prime2 &+ Self.prime3
                index += 4
            }
            while index < pendingCount {
                hash ^= UInt64(bytes[index]) &* Self.prime5
                hash = ((hash << 11) | (hash >> 53)) &* Self.prime1
                index += 1
            }
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
