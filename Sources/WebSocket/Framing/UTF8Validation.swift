// Strict UTF-8 validation for text messages (RFC 6455 §8.1 → close 1007 on failure).
// Rejects overlong forms, surrogates (U+D800–DFFF) and code points above U+10FFFF, the same
// rules as RFC 3629. ASCII runs are checked eight bytes at a time.

enum UTF8Validation {
    /// The result of checking a prefix of a message.
    struct Check: Equatable {
        /// False as soon as a byte makes the text invalid whatever follows.
        var isValidSoFar: Bool
        /// Bytes before this index are complete, valid characters; the rest (at most 3 bytes)
        /// is the valid start of a character that continues in the next fragment.
        var completeUpTo: Int
    }

    /// Checks `bytes` as the start of a text that may continue (fragments are validated as
    /// they arrive, so a bad message is refused at its first bad fragment).
    static func check(_ bytes: UnsafeRawBufferPointer) -> Check {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return Check(isValidSoFar: true, completeUpTo: 0) }
        var i = 0
        while i < count {
            // Fast path: eight ASCII bytes at once.
            if i + 8 <= count, base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            var needed: Int
            var lowerBound: UInt8 = 0x80
            var upperBound: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: needed = 1
            case 0xE0:
                needed = 2
                lowerBound = 0xA0  // no overlong 3-byte forms
            case 0xE1...0xEC, 0xEE...0xEF: needed = 2
            case 0xED:
                needed = 2
                upperBound = 0x9F  // no surrogates
            case 0xF0:
                needed = 3
                lowerBound = 0x90  // no overlong 4-byte forms
            case 0xF1...0xF3: needed = 3
            case 0xF4:
                needed = 3
                upperBound = 0x8F  // nothing above U+10FFFF
            default: return Check(isValidSoFar: false, completeUpTo: i)
            }
            let available = min(needed, count - 1 - i)
            if available >= 1 {
                let second = bytes[i + 1]
                if second < lowerBound || second > upperBound { return Check(isValidSoFar: false, completeUpTo: i) }
            }
            var j = 2
            while j <= available {
                if bytes[i + j] & 0xC0 != 0x80 { return Check(isValidSoFar: false, completeUpTo: i) }
                j += 1
            }
            if available < needed { return Check(isValidSoFar: true, completeUpTo: i) }  // continues later
            i += needed + 1
        }
        return Check(isValidSoFar: true, completeUpTo: count)
    }

    /// True when `bytes` is a complete, well-formed UTF-8 text.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let result = check(bytes)
        return result.isValidSoFar && result.completeUpTo == bytes.count
    }

    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }
}
