// Reading and writing the exchange's 40-character hex SHA-1 `hash`.

extension ExchangeHash {
    /// Reads 40 hex digits (either case) at `bytes[start..<start+40]`; nil if any is not hex.
    @inline(__always)
    static func read(_ bytes: UnsafePointer<UInt8>, _ start: Int, _ count: Int) -> ExchangeHash? {
        guard count == 40 else { return nil }
        var high: UInt64 = 0
        var middle: UInt64 = 0
        var low: UInt64 = 0
        var invalid: UInt8 = 0
        for index in 0..<16 {
            let nibble = hexValue(bytes[start + index])
            invalid |= nibble
            high = high << 4 | UInt64(nibble & 0x0F)
        }
        for index in 16..<32 {
            let nibble = hexValue(bytes[start + index])
            invalid |= nibble
            middle = middle << 4 | UInt64(nibble & 0x0F)
        }
        for index in 32..<40 {
            let nibble = hexValue(bytes[start + index])
            invalid |= nibble
            low = low << 4 | UInt64(nibble & 0x0F)
        }
        if invalid & 0xF0 != 0 { return nil }
        return ExchangeHash(high: high, middle: middle, low: UInt32(truncatingIfNeeded: low))
    }

    /// The value of one hex digit, or 0xFF when the byte is not a hex digit.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 48...57: byte &- 48
        case 97...102: byte &- 87
        case 65...70: byte &- 55
        default: 0xFF
        }
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
