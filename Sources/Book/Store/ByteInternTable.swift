// Interning of asset and market ids straight from frame bytes.

/// Maps id bytes (an asset id or market id as it appears in a frame) to a small dense index with
/// open addressing (linear probing, load ≤ 1/2, backward-shift deletion) over the raw bytes, so a
/// lookup from an `UnsafeRawBufferPointer` never allocates. Key bytes live in one arena; the
/// hash is a fixed function (never Swift's per-process seeded `Hasher`), so behaviour is the same
/// in every run and every process.
struct ByteInternTable {
    /// 0 = empty, otherwise value + 1.
    private var slots: [Int32] = Array(repeating: 0, count: 64)
    private var mask = 63
    /// Per value: where its key bytes are in the arena, and its hash (for rehashing).
    private var keyOffsets: [Int32] = []
    private var keyLengths: [Int32] = []
    private var keyHashes: [UInt64] = []
    private var arena: [UInt8] = []
    private(set) var liveCount = 0

    /// Fixed 64-bit hash over the bytes, eight at a time.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var offset = 0
        let n = bytes.count
        while offset + 8 <= n {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            h = (h ^ word) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < n {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
        return h
    }

    /// The value interned for `key`, or nil.
    func find(_ key: UnsafeRawBufferPointer) -> Int? {
        let h = Self.hash(key)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let stored = slots[slot]
            if stored == 0 { return nil }
            let value = Int(stored - 1)
            if keyHashes[value] == h && keyEquals(value, key) { return value }
            slot = (slot + 1) & mask
        }
    }

    private func keyEquals(_ value: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let length = Int(keyLengths[value])
        guard length == key.count else { return false }
        if length == 0 { return true }
        let offset = Int(keyOffsets[value])
        return arena.withUnsafeBytes { arenaBytes in
            memcmpBytes(arenaBytes.baseAddress! + offset, key.baseAddress!, length)
        }
    }

    /// Interns `key` as `value` (the caller's dense index; may reuse a freed value). The key
    /// must not be present.
    mutating func insert(_ key: UnsafeRawBufferPointer, value: Int) {
        let h = Self.hash(key)
        if value >= keyOffsets.count {
            let missing = value + 1 - keyOffsets.count
            keyOffsets.append(contentsOf: repeatElement(0, count: missing))
            keyLengths.append(contentsOf: repeatElement(0, count: missing))
            keyHashes.append(contentsOf: repeatElement(0, count: missing))
        }
        keyOffsets[value] = Int32(arena.count)
        keyLengths[value] = Int32(key.count)
        keyHashes[value] = h
        arena.append(contentsOf: key)
        if (liveCount + 1) * 2 > slots.count { grow() }
        place(value: value, hash: h)
        liveCount += 1
    }

    private mutating func place(value: Int, hash: UInt64) {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(value + 1)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        for stored in old where stored != 0 {
            let value = Int(stored - 1)
            place(value: value, hash: keyHashes[value])
        }
    }

    /// Removes `key`; returns its value. Its arena bytes are not reclaimed (removal is rare:
    /// unsubscribes), which `heapBytes` reports honestly.
    @discardableResult
    mutating func remove(_ key: UnsafeRawBufferPointer) -> Int? {
        let h = Self.hash(key)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let stored = slots[slot]
            if stored == 0 { return nil }
            let value = Int(stored - 1)
            if keyHashes[value] == h && keyEquals(value, key) { break }
            slot = (slot + 1) & mask
        }
        let removed = Int(slots[slot] - 1)
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        var hole = slot
        var next = (hole + 1) & mask
        while slots[next] != 0 {
            let home = Int(truncatingIfNeeded: keyHashes[Int(slots[next] - 1)]) & mask
            let distanceFromHome = (next - home) & mask
            let distanceToHole = (next - hole) & mask
            if distanceFromHome >= distanceToHole {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = 0
        liveCount -= 1
        return removed
    }

    /// Calls `body` with the key bytes of `value` (no copy).
    func withKey<R>(_ value: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let offset = Int(keyOffsets[value])
        let length = Int(keyLengths[value])
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + length])) }
    }

    var heapBytes: Int {
        MemoryEstimate.arrayBytes(capacity: slots.capacity, stride: 4)
            + MemoryEstimate.arrayBytes(capacity: keyOffsets.capacity, stride: 4)
            + MemoryEstimate.arrayBytes(capacity: keyLengths.capacity, stride: 4)
            + MemoryEstimate.arrayBytes(capacity: keyHashes.capacity, stride: 8)
            + MemoryEstimate.arrayBytes(capacity: arena.capacity, stride: 1)
    }
}

/// Byte equality without Foundation.
@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var offset = 0
    while offset + 8 <= count {
        if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        {
            return false
        }
        offset += 8
    }
    while offset < count {
        if a.load(fromByteOffset: offset, as: UInt8.self) != b.load(fromByteOffset: offset, as: UInt8.self) {
            return false
        }
        offset += 1
    }
    return true
}
