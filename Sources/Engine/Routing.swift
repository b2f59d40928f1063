// Stable asset → worker routing, compatible with the reference system: MD5 of the asset id's
// UTF-8 bytes, first 8 bytes little-endian, modulo the worker count. Never Swift's Hasher
// (seeded per process). Optional: jump consistent hashing seeded with the same 64-bit value.
import COpenSSL
import Glibc

/// How the router maps an asset id to a worker.
public enum RoutingScheme: String, Sendable, Codable {
    /// MD5(asset id) first 8 bytes little-endian, modulo the worker count (the reference system's).
    case md5 = "md5"
    /// Lamping–Veach jump consistent hash seeded with the same MD5-derived 64-bit key: adding a
    /// worker moves only 1/N of the assets.
    case jump = "jump"

    /// The worker index for a 64-bit routing key.
    public func worker(forKey key: UInt64, workerCount: Int) -> Int {
        switch self {
        case .md5: Int(key % UInt64(workerCount))
        case .jump: RoutingScheme.jumpConsistentHash(key: key, buckets: workerCount)
        }
    }

    /// Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014).
    public static func jumpConsistentHash(key: UInt64, buckets: Int) -> Int {
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(Int64(1) << 31) / Double((key >> 33) + 1)))
        }
        return Int(bucket)
    }
}

/// MD5 through OpenSSL's EVP interface (fetched once, context reused). Used once per new asset;
/// the router caches the result. Not thread-safe (one EVP context): one per router.
public final class MD5RoutingKey {
    private let algorithm: OpaquePointer
    private let context: OpaquePointer

    public init() throws {
        guard let algorithm = EVP_MD_fetch(nil, "MD5", nil) else {
            throw EngineError.invalidConfiguration("OpenSSL has no MD5 (is the default provider available?)")
        }
        guard let context = EVP_MD_CTX_new() else {
            EVP_MD_free(algorithm)
            throw EngineError.invalidConfiguration("EVP_MD_CTX_new failed")
        }
        self.algorithm = algorithm
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(algorithm)
    }

    /// The full 16-byte digest.
    public func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        EVP_DigestInit_ex(context, algorithm, nil)
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        output.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return output
    }

    /// The routing key: the digest's first 8 bytes read little-endian.
    public func key(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let digest = digest(bytes)
        var key: UInt64 = 0
        for index in (0..<8).reversed() { key = key << 8 | UInt64(digest[index]) }
        return key
    }

    public func key(_ assetID: String) -> UInt64 {
        var copy = assetID
        return copy.withUTF8 { key(UnsafeRawBufferPointer($0)) }
    }
}

/// Asset id bytes → worker index: open addressing over an arena of interned ids, so a routed
/// message costs one hash of its id bytes and one compare, with no String and no allocation.
struct AssetTable {
    struct Slot {
        var hash: UInt64 = 0
        var offset: UInt32 = 0
        var length: UInt32 = 0  // 0: empty (asset ids are never empty)
        var worker: Int32 = 0
        /// The asset's number among its worker's assets, from 1 (the record's `assetSlot`).
        var assetSlot: UInt32 = 0
    }

    private(set) var slots: [Slot] = Array(repeating: Slot(), count: 1024)
    private(set) var arena: [UInt8] = []
    private(set) var count = 0

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var index = 0
        let base = bytes.baseAddress!
        while index + 8 <= bytes.count {
            hash = (hash ^ base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 31
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            tail |= UInt64(base.load(fromByteOffset: index, as: UInt8.self)) << shift
            shift += 8
            index += 1
        }
        hash = (hash ^ tail) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 29)
    }

    /// The worker and asset slot of `bytes`, or nil if not routed yet.
    @inline(__always)
    func lookup(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> (worker: Int, assetSlot: UInt32)? {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot.length == 0 { return nil }
            if slot.hash == hash && Int(slot.length) == bytes.count {
                let equal = arena.withUnsafeBytes { arenaBytes in
                    memcmp(arenaBytes.baseAddress! + Int(slot.offset), bytes.baseAddress!, bytes.count) == 0
                }
                if equal { return (Int(slot.worker), slot.assetSlot) }
            }
            index = (index + 1) & mask
        }
    }

    mutating func insert(_ bytes: UnsafeRawBufferPointer, hash: UInt64, worker: Int, assetSlot: UInt32) {
        if (count + 1) * 2 > slots.count { grow() }
        let offset = arena.count
        arena.append(contentsOf: bytes)
        place(
            Slot(
                hash: hash, offset: UInt32(offset), length: UInt32(bytes.count), worker: Int32(worker),
                assetSlot: assetSlot))
        count += 1
    }

    private mutating func place(_ slot: Slot) {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: slot.hash) & mask
        while slots[index].length != 0 { index = (index + 1) & mask }
        slots[index] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(), count: old.count * 2)
        for slot in old where slot.length != 0 { place(slot) }
    }
}
