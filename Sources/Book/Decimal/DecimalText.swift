// Exact decimal text <-> ExactDecimal, for the few places the Book module meets text: side data
// from a tape header, summaries for golden files, and the exchange-hash JSON. The wire parser
// (Feed) does the hot-path parsing; these helpers are deliberately namespaced so they never
// collide with anything Feed adds to ExactDecimal.
public import Feed

/// The written form of a decimal (fraction digits and a leading-dot flag), packed in 4 bits so a
/// book level keeps both its price's and its size's exact spelling in one byte.
enum WrittenForm {
    static func pack(_ d: ExactDecimal) -> UInt8 {
        let digits = min(d.digits, 7)
        return digits | (d.leadingDot ? 0x8 : 0)
    }

    static func unpack(units: Int64, form: UInt8) -> ExactDecimal {
        ExactDecimal(units: units, digits: form & 0x7, leadingDot: form & 0x8 != 0)
    }
}

/// Text helpers for `ExactDecimal` used by the Book module (never on the per-message path).
public enum DecimalText {
    static let powersOfTen: [Int64] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000]

    /// Parses "0.5", "0.50", ".48", "2226", "3641.8" exactly (at most 6 fraction digits).
    /// Returns nil for anything else (signs, exponents, empty text, too many digits).
    public static func parse(_ text: String) -> ExactDecimal? {
        var copy = text
        return copy.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Byte-level form of `parse(_:)`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ExactDecimal? {
        if bytes.isEmpty { return nil }
        var integer: Int64 = 0
        var fraction: Int64 = 0
        var digits: UInt8 = 0
        var seenDot = false
        var integerDigits = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if seenDot { return nil }
                seenDot = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                let value = Int64(byte &- UInt8(ascii: "0"))
                if seenDot {
                    if digits >= ExactDecimal.maxDigits { return nil }
                    fraction = fraction * 10 + value
                    digits += 1
                } else {
                    if integerDigits >= 12 { return nil }
                    integer = integer * 10 + value
                    integerDigits += 1
                }
            } else {
                return nil
            }
        }
        if integerDigits == 0 && digits == 0 { return nil }
        if seenDot && digits == 0 { return nil }
        let units = integer * ExactDecimal.scale + fraction * powersOfTen[Int(ExactDecimal.maxDigits - digits)]
        return ExactDecimal(units: units, digits: digits, leadingDot: integerDigits == 0)
    }

    /// The exchange's own spelling of `value` (its written digits and leading dot).
    public static func render(_ value: ExactDecimal) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = bytes.withUnsafeMutableBytes { write(value, to: $0.baseAddress!) }
        return String(decoding: bytes[0..<count], as: UTF8.self)
    }

    /// `value` with at least `minimumDigits` fraction digits (and more if the value needs them),
    /// as the exchange writes `last_trade_price` in its hash ("0.5" → "0.500").
    public static func render(_ value: ExactDecimal, minimumDigits: UInt8) -> String {
        render(ExactDecimal(units: value.units, digits: max(minimumDigits, significantDigits(value.units))))
    }

    /// The fewest fraction digits that represent `units` exactly.
    static func significantDigits(_ units: Int64) -> UInt8 {
        var fraction = units % ExactDecimal.scale
        if fraction == 0 { return 0 }
        var digits: UInt8 = 6
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        return digits
    }

    /// Writes the decimal's written form at `out` (needs ≤ 32 bytes); returns the byte count.
    static func write(_ value: ExactDecimal, to out: UnsafeMutableRawPointer) -> Int {
        // Unsigned arithmetic with constant divisors: the compiler turns every division here
        // into a multiply (this runs twice per level on the exchange-hash path).
        var count = 0
        var magnitude = UInt64(bitPattern: value.units)
        if value.units < 0 {
            out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 0, as: UInt8.self)
            count = 1
            magnitude = UInt64(bitPattern: -value.units)
        }
        let integer = magnitude / 1_000_000
        if !(value.leadingDot && integer == 0 && value.digits > 0) {
            if integer == 0 {
                out.storeBytes(of: UInt8(ascii: "0"), toByteOffset: count, as: UInt8.self)
                count += 1
            } else {
                count += writeInteger(integer, to: out + count)
            }
        }
        let digits = Int(min(value.digits, ExactDecimal.maxDigits))
        if digits > 0 {
            out.storeBytes(of: UInt8(ascii: "."), toByteOffset: count, as: UInt8.self)
            count += 1
            var fraction = magnitude % 1_000_000
            switch digits {
            case 1: fraction /= 100_000
            case 2: fraction /= 10_000
            case 3: fraction /= 1_000
            case 4: fraction /= 100
            case 5: fraction /= 10
            default: break
            }
            var index = digits - 1
            while index >= 0 {
                out.storeBytes(
                    of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: fraction % 10), toByteOffset: count + index,
                    as: UInt8.self)
                fraction /= 10
                index -= 1
            }
            count += digits
        }
        return count
    }

    /// Writes a non-negative integer in decimal; returns the byte count (≤ 20).
    static func writeInteger(_ value: UInt64, to out: UnsafeMutableRawPointer) -> Int {
        if value == 0 {
            out.storeBytes(of: UInt8(ascii: "0"), as: UInt8.self)
            return 1
        }
        var digits = 0
        var probe = value
        while probe > 0 {
            digits += 1
            probe /= 10
        }
        var remaining = value
        var index = digits - 1
        while index >= 0 {
            out.storeBytes(of: UInt8(ascii: "0") &+ UInt8(remaining % 10), toByteOffset: index, as: UInt8.self)
            remaining /= 10
            index -= 1
        }
        return digits
    }
}
