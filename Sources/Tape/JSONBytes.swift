// A small byte-level JSON scanner for tape envelopes and importers. It never builds a
// document: it skips values (correctly through nested strings and escapes), finds keys,
// reads integers and decodes strings. No Foundation JSON, no allocation on the hot path.

/// Byte-level JSON helpers over an `UnsafeRawBufferPointer`. Positions are offsets into
/// the buffer; every function returns `nil` on malformed input instead of trapping.
enum JSONBytes {
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C

    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    @inline(__always)
    static func skipSpace(_ bytes: UnsafeRawBufferPointer, _ position: Int) -> Int {
        var index = position
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        return index
    }

    /// Skips a string starting at the opening quote; returns the offset after the closing quote.
    /// Control characters inside a string are malformed JSON.
    @inline(__always)
    static func skipString(_ bytes: UnsafeRawBufferPointer, _ position: Int) -> Int? {
        var index = position + 1
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte == quote { return index + 1 }
            if byte == backslash {
                index += 2
                continue
            }
            if byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    /// Skips one JSON value of any kind starting at `position` (no leading space); returns the
    /// offset just after it. Validates structure (brackets, strings, literals, number shape)
    /// without decoding anything.
    static func skipValue(_ bytes: UnsafeRawBufferPointer, _ position: Int) -> Int? {
        guard position < bytes.count else { return nil }
        let first = bytes[position]
        switch first {
        case quote:
            return skipString(bytes, position)
        case openBrace, openBracket:
            return skipContainer(bytes, position)
        case 0x74:  // true
            return matchLiteral(bytes, position, "true")
        case 0x66:
            return matchLiteral(bytes, position, "false")
        case 0x6E:
            return matchLiteral(bytes, position, "null")
        default:
            return skipNumber(bytes, position)
        }
    }

    static func matchLiteral(_ bytes: UnsafeRawBufferPointer, _ position: Int, _ literal: StaticString) -> Int? {
        let length = literal.utf8CodeUnitCount
        guard position + length <= bytes.count else { return nil }
        let pointer = literal.utf8Start
        for offset in 0..<length where bytes[position + offset] != pointer[offset] { return nil }
        return position + length
    }

    static func skipNumber(_ bytes: UnsafeRawBufferPointer, _ position: Int) -> Int? {
        var index = position
        if index < bytes.count, bytes[index] == 0x2D { index += 1 }
        let digitsStart = index
        while index < bytes.count {
            let byte = bytes[index]
            if (byte >= 0x30 && byte <= 0x39) || byte == 0x2E || byte == 0x65 || byte == 0x45 || byte == 0x2B
                || byte == 0x2D
            {
                index += 1
            } else {
                break
            }
        }
        guard index > digitsStart, bytes[digitsStart] >= 0x30, bytes[digitsStart] <= 0x39 else { return nil }
        return index
    }

    /// Skips an object or array with an explicit stack-free depth counter: the grammar is
    /// checked loosely (commas/colons in place), strings fully.
    static func skipContainer(_ bytes: UnsafeRawBufferPointer, _ position: Int) -> Int? {
        // Recursive descent keeps the grammar exact; depth is bounded to avoid stack blow-up.
        return skipContainer(bytes, position, depth: 0)
    }

    private static func skipContainer(_ bytes: UnsafeRawBufferPointer, _ position: Int, depth: Int) -> Int? {
        guard depth < 512 else { return nil }
        let isObject = bytes[position] == openBrace
        let close = isObject ? closeBrace : closeBracket
        var index = skipSpace(bytes, position + 1)
        guard index < bytes.count else { return nil }
        if bytes[index] == close { return index + 1 }
        while true {
            if isObject {
                guard index < bytes.count, bytes[index] == quote, let afterKey = skipString(bytes, index) else {
                    return nil
                }
                index = skipSpace(bytes, afterKey)
                guard index < bytes.count, bytes[index] == colon else { return nil }
                index = skipSpace(bytes, index + 1)
            }
            guard index < bytes.count else { return nil }
            let byte = bytes[index]
            let next: Int?
            if byte == openBrace || byte == openBracket {
                next = skipContainer(bytes, index, depth: depth + 1)
            } else {
                next = skipValue(bytes, index)
            }
            guard let afterValue = next else { return nil }
            index = skipSpace(bytes, afterValue)
            guard index < bytes.count else { return nil }
            if bytes[index] == comma {
                index = skipSpace(bytes, index + 1)
                continue
            }
            if bytes[index] == close { return index + 1 }
            return nil
        }
    }

    /// Finds the end of the object or array starting at `position` by tracking nesting depth
    /// and skipping strings (escapes included), without checking the grammar in between. It is
    /// the reader's hot path: a frame the writer embedded raw was validated when written, and
    /// a damaged line still fails here (unbalanced brackets, unterminated string) or in the
    /// envelope check that follows. Strings are scanned 8 bytes at a time.
    static func skipContainerFast(_ bytes: UnsafeRawBufferPointer, _ position: Int) -> Int? {
        guard let base = bytes.baseAddress, position < bytes.count else { return nil }
        var index = position
        let count = bytes.count
        var depth = 0
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            if byte == quote {
                index += 1
                // Skip the string body: find the next quote or backslash, a word at a time.
                while true {
                    while index + 8 <= count {
                        let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                        if hasByte(word, 0x22) || hasByte(word, 0x5C) { break }
                        index += 8
                    }
                    guard index < count else { return nil }
                    let inner = base.load(fromByteOffset: index, as: UInt8.self)
                    if inner == quote { break }
                    index += inner == backslash ? 2 : 1
                }
                index += 1
                continue
            }
            if byte == openBrace || byte == openBracket {
                depth += 1
            } else if byte == closeBrace || byte == closeBracket {
                depth -= 1
                if depth == 0 { return index + 1 }
                if depth < 0 { return nil }
            }
            index += 1
        }
        return nil
    }

    /// True when any byte of `word` equals `value` (the classic SWAR zero-byte test).
    @inline(__always)
    static func hasByte(_ word: UInt64, _ value: UInt8) -> Bool {
        let pattern = word ^ (0x0101_0101_0101_0101 &* UInt64(value))
        return (pattern &- 0x0101_0101_0101_0101) & ~pattern & 0x8080_8080_8080_8080 != 0
    }

    /// True when the bytes are exactly one JSON value with no surrounding text.
    static func isSingleValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = skipSpace(bytes, 0)
        guard start < bytes.count, let end = skipValue(bytes, start) else { return false }
        return skipSpace(bytes, end) == bytes.count
    }

    /// Compares the key string at `position` (opening quote) with `key` (no escapes in `key`).
    @inline(__always)
    static func keyEquals(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ key: StaticString) -> Bool {
        // start..<end is the key's content between the quotes.
        let length = key.utf8CodeUnitCount
        guard end - start == length else { return false }
        let pointer = key.utf8Start
        for offset in 0..<length where bytes[start + offset] != pointer[offset] { return false }
        return true
    }

    /// Reads an unsigned or negative integer; nil if not a plain integer.
    static func parseInt(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int64? {
        var index = start
        var negative = false
        if index < end, bytes[index] == 0x2D {
            negative = true
            index += 1
        }
        guard index < end else { return nil }
        var value: Int64 = 0
        while index < end {
            let digit = bytes[index] &- 0x30
            guard digit < 10 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(digit))
            if overflow1 || overflow2 { return nil }
            value = sum
            index += 1
        }
        return negative ? -value : value
    }

    /// Parses a decimal number like `1791128517.992564` or `2e-06` exactly into an integer
    /// count of 10^-9 units (seconds → ns). No floating point involved.
    static func parseDecimalNanos(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int64? {
        var index = start
        var negative = false
        if index < end, bytes[index] == 0x2D {
            negative = true
            index += 1
        }
        var mantissa: Int64 = 0
        var fractionDigits = 0
        var sawDigit = false
        var inFraction = false
        var exponent = 0
        while index < end {
            let byte = bytes[index]
            if byte >= 0x30 && byte <= 0x39 {
                sawDigit = true
                if mantissa < 100_000_000_000_000_000 {
                    mantissa = mantissa * 10 + Int64(byte - 0x30)
                    if inFraction { fractionDigits += 1 }
                } else if !inFraction {
                    return nil
                }
            } else if byte == 0x2E, !inFraction {
                inFraction = true
            } else if byte == 0x65 || byte == 0x45 {
                guard index + 1 < end,
                    let value = parseInt(bytes, bytes[index + 1] == 0x2B ? index + 2 : index + 1, end)
                else {
                    return nil
                }
                exponent = Int(value)
                break
            } else {
                return nil
            }
            index += 1
        }
        guard sawDigit else { return nil }
        var shift = 9 + exponent - fractionDigits
        var value = mantissa
        while shift > 0 {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            value = times
            shift -= 1
        }
        while shift < 0 {
            value /= 10
            shift += 1
        }
        return negative ? -value : value
    }

    /// Decodes the string whose opening quote is at `position` into UTF-8 bytes, appending
    /// to `output`. Returns the offset after the closing quote.
    static func decodeString(_ bytes: UnsafeRawBufferPointer, _ position: Int, into output: inout [UInt8]) -> Int? {
        var index = position + 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == quote { return index + 1 }
            if byte != backslash {
                if byte < 0x20 { return nil }
                output.append(byte)
                index += 1
                continue
            }
            guard index + 1 < bytes.count else { return nil }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case 0x22: output.append(0x22)
            case 0x5C: output.append(0x5C)
            case 0x2F: output.append(0x2F)
            case 0x62: output.append(0x08)
            case 0x66: output.append(0x0C)
            case 0x6E: output.append(0x0A)
            case 0x72: output.append(0x0D)
            case 0x74: output.append(0x09)
            case 0x75:
                guard var scalar = hex4(bytes, index) else { return nil }
                index += 4
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate must be followed by \uDC00-DFFF.
                    if index + 6 <= bytes.count, bytes[index] == backslash, bytes[index + 1] == 0x75,
                        let low = hex4(bytes, index + 2), low >= 0xDC00, low < 0xE000
                    {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &output)
            default:
                return nil
            }
        }
        return nil
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, _ position: Int) -> UInt32? {
        guard position + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[position + offset]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            case 0x41...0x46: digit = byte - 0x41 + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | (scalar >> 6)))
            output.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | (scalar >> 12)))
            output.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            output.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            output.append(UInt8(0xF0 | (scalar >> 18)))
            output.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            output.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            output.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    /// Appends `text` as a JSON string literal (with quotes). Non-ASCII UTF-8 passes through;
    /// control characters, quote and backslash are escaped, so decoding gives the bytes back.
    static func appendEscaped(_ text: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        output.append(quote)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for byte in text {
            switch byte {
            case quote: output.append(backslash); output.append(quote)
            case backslash: output.append(backslash); output.append(backslash)
            case 0x0A: output.append(backslash); output.append(0x6E)
            case 0x0D: output.append(backslash); output.append(0x72)
            case 0x09: output.append(backslash); output.append(0x74)
            case 0..<0x20:
                output.append(contentsOf: [backslash, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: output.append(byte)
            }
        }
        output.append(quote)
    }

    static func appendEscaped(_ text: String, to output: inout [UInt8]) {
        var copy = text
        copy.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0), to: &output) }
    }

    /// True when the bytes are well-formed UTF-8 (websocket text frames must be).
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var minimum: UInt32
            var scalar: UInt32
            if byte & 0xE0 == 0xC0 {
                length = 2
                minimum = 0x80
                scalar = UInt32(byte & 0x1F)
            } else if byte & 0xF0 == 0xE0 {
                length = 3
                minimum = 0x800
                scalar = UInt32(byte & 0x0F)
            } else if byte & 0xF8 == 0xF0 {
                length = 4
                minimum = 0x10000
                scalar = UInt32(byte & 0x07)
            } else {
                return false
            }
            guard index + length <= count else { return false }
            for offset in 1..<length {
                let next = bytes[index + offset]
                guard next & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            if scalar < minimum || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar < 0xE000) { return false }
            minimum = 0
            index += length
        }
        return true
    }

    /// Finds the value of top-level `key` in the object spanning `bytes` (starting at its
    /// `{`). Returns the value's byte range, or nil if absent or malformed.
    static func findKey(_ bytes: UnsafeRawBufferPointer, _ key: StaticString) -> Range<Int>? {
        var index = skipSpace(bytes, 0)
        guard index < bytes.count, bytes[index] == openBrace else { return nil }
        index = skipSpace(bytes, index + 1)
        while index < bytes.count, bytes[index] == quote {
            guard let afterKey = skipString(bytes, index) else { return nil }
            let matches = keyEquals(bytes, index + 1, afterKey - 1, key)
            index = skipSpace(bytes, afterKey)
            guard index < bytes.count, bytes[index] == colon else { return nil }
            index = skipSpace(bytes, index + 1)
            guard let afterValue = skipValue(bytes, index) else { return nil }
            if matches { return index..<afterValue }
            index = skipSpace(bytes, afterValue)
            guard index < bytes.count else { return nil }
            if bytes[index] == comma {
                index = skipSpace(bytes, index + 1)
            } else {
                return nil
            }
        }
        return nil
    }
}

/// Convenience accessors over a whole JSON object held in an array (importers, tools; not hot).
struct JSONObjectView {
    let bytes: [UInt8]

    func range(_ key: StaticString) -> Range<Int>? {
        bytes.withUnsafeBytes { JSONBytes.findKey($0, key) }
    }

    func string(_ key: StaticString) -> String? {
        guard let range = range(key) else { return nil }
        return bytes.withUnsafeBytes { raw -> String? in
            guard raw[range.lowerBound] == JSONBytes.quote else { return nil }
            var output: [UInt8] = []
            guard JSONBytes.decodeString(raw, range.lowerBound, into: &output) != nil else { return nil }
            return String(decoding: output, as: UTF8.self)
        }
    }

    func stringBytes(_ key: StaticString) -> [UInt8]? {
        guard let range = range(key) else { return nil }
        return bytes.withUnsafeBytes { raw -> [UInt8]? in
            guard raw[range.lowerBound] == JSONBytes.quote else { return nil }
            var output: [UInt8] = []
            guard JSONBytes.decodeString(raw, range.lowerBound, into: &output) != nil else { return nil }
            return output
        }
    }

    func int(_ key: StaticString) -> Int64? {
        guard let range = range(key) else { return nil }
        return bytes.withUnsafeBytes { JSONBytes.parseInt($0, range.lowerBound, range.upperBound) }
    }

    func nanos(_ key: StaticString) -> Int64? {
        guard let range = range(key) else { return nil }
        return bytes.withUnsafeBytes { JSONBytes.parseDecimalNanos($0, range.lowerBound, range.upperBound) }
    }

    func raw(_ key: StaticString) -> [UInt8]? {
        guard let range = range(key) else { return nil }
        return Array(bytes[range])
    }
}
