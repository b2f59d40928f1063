// Reading and writing the exchange's 40-character hex SHA-1 `hash`.

extension ExchangeHash {
    /// Reads 40 hex digits (either case) at `bytes[start..<start+40]`; nil if any is not hex.
    /// Eight digits at a time without branches: hash digits are random, so a per-digit
    /// "digit or letter?" branch mispredicts about every other byte.
    @inline(__always)
    static func read(_ bytes: UnsafePointer<UInt8>, _ start: Int, _ count: Int) -> ExchangeHash? {
        guard count == 40 else { return nil }
        let raw = UnsafeRawPointer(bytes + start)
        let (word0, invalid0) = hexWord(raw.loadUnaligned(as: UInt64.self))
        let (word1, invalid1) = hexWord(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let (word2, invalid2) = hexWord(raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let (word3, invalid3) = hexWord(raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        let (word4, invalid4) = hexWord(raw.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        guard invalid0 | invalid1 | invalid2 | invalid3 | invalid4 == 0 else { return nil }
        return ExchangeHash(
            high: UInt64(word0) << 32 | UInt64(word1), middle: UInt64(word2) << 32 | UInt64(word3), low: word4)
    }

    /// Eight hex digits, as loaded little-endian from memory (first digit in the low byte),
    /// to their 32-bit value, plus a mask that is zero iff all eight were hex digits.
    @inline(__always)
    static func hexWord(_ word: UInt64) -> (UInt32, UInt64) {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        // Per byte (ASCII only, checked below): high bit set iff byte >= n.
        @inline(__always) func atLeast(_ value: UInt64, _ n: UInt64) -> UInt64 {
            ((value | highs) &- n &* ones) & highs
        }
        let lowered = word | 0x2020_2020_2020_2020
        let digits = atLeast(word, 0x30) & ~atLeast(word, 0x3A)
        let letters = atLeast(lowered, 0x61) & ~atLeast(lowered, 0x67)
        let invalid = (word & highs) | ((digits | letters) ^ highs)
        // '0'-'9' → low nibble; 'a'-'f'/'A'-'F' → low nibble + 9 (bit 6 marks letters).
        let nibbles = (word & 0x0F0F_0F0F_0F0F_0F0F) &+ ((word >> 6) & ones) &* 9
        // Pack: first digit is the most significant nibble.
        var packed = nibbles.byteSwapped
        packed = (packed | (packed >> 4)) & 0x00FF_00FF_00FF_00FF
        packed = (packed | (packed >> 8)) & 0x0000_FFFF_0000_FFFF
        packed = (packed | (packed >> 16)) & 0x0000_0000_FFFF_FFFF
        return (UInt32(truncatingIfNeeded: packed), invalid)
    }

    /// Parses the exchange's 40-character hex form (either case); nil otherwise.
    public init?(hex: String) {
        var copy = hex
        let parsed = copy.withUTF8 { utf8 -> ExchangeHash? in
            guard let base = utf8.baseAddress else { return nil }
            return ExchangeHash.read(base, 0, utf8.count)
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// The 40 lowercase hex characters the exchange sends.
    public var hex: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(40)
        appendHex(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the 40 lowercase hex characters to `output`.
    public func appendHex(into output: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        let table = digits.utf8Start
        for shift in stride(from: 60, through: 0, by: -4) { output.append(table[Int((high >> UInt64(shift)) & 0xF)]) }
        for shift in stride(from: 60, through: 0, by: -4) { output.append(table[Int((middle >> UInt64(shift)) & 0xF)]) }
        for shift in stride(from: 28, through: 0, by: -4) { output.append(table[Int((low >> UInt32(shift)) & 0xF)]) }
    }
}

extension ExchangeHash: CustomStringConvertible {
    /// The lowercase hex form.
    public var description: String { hex }
}
