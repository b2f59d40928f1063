// The JSON layer under `FeedParser`: finds where values start and end without building
// anything. Positions are byte offsets into the frame. A function that hits bad JSON records
// where and what it expected in `failureOffset`/`failureExpected` and returns -1; callers
// propagate -1 without inspecting anything else, so no Swift error is thrown on the hot path.

/// What a recorded value is. `absent` means the key was not in the object.
enum JSONKind: UInt8 {
    case absent
    case string
    case number
    case null
    case boolean
    case object
    case array
}

/// Where one value sits in the frame. For strings the span is the text between the quotes
/// (escapes not decoded, `escaped` says whether there were any); for everything else it is
/// the whole value.
struct ValueSpan {
    var start: Int32 = 0
    var end: Int32 = 0
    var kind: JSONKind = .absent
    var escaped = false

    init() {}

    init(start: Int, end: Int, kind: JSONKind, escaped: Bool = false) {
        self.start = Int32(truncatingIfNeeded: start)
        self.end = Int32(truncatingIfNeeded: end)
        self.kind = kind
        self.escaped = escaped
    }

    @inline(__always) var isPresent: Bool { kind != .absent }
    @inline(__always) var length: Int { Int(end) - Int(start) }
    /// Absent, `null` or `""`: the exchange's ways of saying "no value".
    @inline(__always) var isEmptyValue: Bool {
        kind == .absent || kind == .null || (kind == .string && start == end)
    }
}

/// Byte-level JSON scanning over one frame. Never reads outside `bytes[0..<count]`.
struct ByteScanner {
    let bytes: UnsafePointer<UInt8>
    let count: Int
    var failureOffset = -1
    var failureExpected: StaticString = ""

    init(bytes: UnsafePointer<UInt8>, count: Int) {
        self.bytes = bytes
        self.count = count
    }

    @inline(__always)
    mutating func fail(_ offset: Int, _ expected: StaticString) -> Int {
        failureOffset = offset
        failureExpected = expected
        return -1
    }

    @inline(__always)
    func skipWhitespace(_ index: Int) -> Int {
        var position = index
        while position < count {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { break }
            position += 1
        }
        return position
    }

    /// `index` is the first byte after an opening quote. Returns the closing quote's offset.
    /// Eight bytes at a time: strings (asset ids, hashes) are most of a frame's bytes.
    @inline(__always)
    mutating func scanString(_ index: Int, escaped: inout Bool) -> Int {
        var position = index
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while true {
            while position &+ 8 <= count {
                let word = UnsafeRawPointer(bytes + position).loadUnaligned(as: UInt64.self)
                let quotes = word ^ 0x2222_2222_2222_2222
                let backslashes = word ^ 0x5C5C_5C5C_5C5C_5C5C
                let found =
                    ((quotes &- ones) & ~quotes & highs) | ((backslashes &- ones) & ~backslashes & highs)
                if found != 0 {
                    // The lowest flagged byte is exact (later ones may be false positives).
                    position &+= found.trailingZeroBitCount >> 3
                    break
                }
                position &+= 8
            }
            while position < count {
                let byte = bytes[position]
                if byte == 0x22 { return position }
                if byte == 0x5C {
                    escaped = true
                    position &+= 2
                    break
                }
                position &+= 1
            }
            if position >= count { return fail(index - 1, "a closing quote for the string starting here") }
        }
    }

    /// Skips any JSON value starting at `index` (no leading whitespace); returns the offset
    /// just past it. Nested objects and arrays are skipped by bracket balance, not validated.
    mutating func skipValue(_ index: Int) -> Int {
        var span = ValueSpan()
        return recordValue(index, into: &span)
    }

    /// Records the value starting at `index` into `span`; returns the offset just past it.
    @inline(__always)
    mutating func recordValue(_ index: Int, into span: inout ValueSpan) -> Int {
        guard index < count else { return fail(index, "a value") }
        let byte = bytes[index]
        switch byte {
        case 0x22:
            var escaped = false
            let close = scanString(index + 1, escaped: &escaped)
            if close < 0 { return -1 }
            span = ValueSpan(start: index + 1, end: close, kind: .string, escaped: escaped)
            return close + 1
        case 0x30...0x39, UInt8(ascii: "-"):
            var position = index + 1
            while position < count {
                let next = bytes[position]
                let isNumberByte =
                    (next &- 0x30) <= 9 || next == UInt8(ascii: ".") || next == UInt8(ascii: "e")
                    || next == UInt8(ascii: "E") || next == UInt8(ascii: "+") || next == UInt8(ascii: "-")
                guard isNumberByte else { break }
                position += 1
            }
            span = ValueSpan(start: index, end: position, kind: .number)
            return position
        case UInt8(ascii: "t"):
            guard matches(index, "true") else { return fail(index, "a JSON value (true)") }
            span = ValueSpan(start: index, end: index + 4, kind: .boolean)
            return index + 4
        case UInt8(ascii: "f"):
            guard matches(index, "false") else { return fail(index, "a JSON value (false)") }
            span = ValueSpan(start: index, end: index + 5, kind: .boolean)
            return index + 5
        case UInt8(ascii: "n"):
            guard matches(index, "null") else { return fail(index, "a JSON value (null)") }
            span = ValueSpan(start: index, end: index + 4, kind: .null)
            return index + 4
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let end = skipContainer(index)
            if end < 0 { return -1 }
            span = ValueSpan(start: index, end: end, kind: byte == UInt8(ascii: "{") ? .object : .array)
            return end
        default:
            return fail(index, "a JSON value")
        }
    }

    /// `recordValue` for values that are usually short decimal strings ("0.48", "1234.56"):
    /// walks the decimal's own bytes up to the closing quote instead of running the general
    /// string scan. Anything unusual (escapes, other characters, non-strings) takes the
    /// general path, so the result is always the same as `recordValue`'s.
    @inline(__always)
    mutating func recordDecimalText(_ index: Int, into span: inout ValueSpan) -> Int {
        if bytes[index] == 0x22 {
            var position = index + 1
            while position < count {
                let byte = bytes[position]
                guard (byte &- 0x30) <= 9 || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") else { break }
                position += 1
            }
            if position < count && bytes[position] == 0x22 {
                span = ValueSpan(start: index + 1, end: position, kind: .string)
                return position + 1
            }
        }
        return recordValue(index, into: &span)
    }

    /// Skips a whole object or array at `index` by bracket depth, honouring strings.
    mutating func skipContainer(_ index: Int) -> Int {
        var depth = 0
        var position = index
        while position < count {
            let byte = bytes[position]
            switch byte {
            case 0x22:
                var escaped = false
                let close = scanString(position + 1, escaped: &escaped)
                if close < 0 { return -1 }
                position = close + 1
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return position + 1 }
            default:
                break
            }
            position += 1
        }
        return fail(index, "a closing bracket for the value starting here")
    }

    @inline(__always)
    func matches(_ index: Int, _ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard index + length <= count else { return false }
        let text = literal.utf8Start
        for offset in 0..<length where bytes[index + offset] != text[offset] { return false }
        return true
    }

    /// True when `span` holds exactly `literal` (raw bytes, escapes not decoded).
    @inline(__always)
    func spanEquals(_ span: ValueSpan, _ literal: StaticString) -> Bool {
        span.length == literal.utf8CodeUnitCount && matches(Int(span.start), literal)
    }

    /// Reads `"key"` at `index` and the `:` after it. Returns the offset of the value (after
    /// whitespace); `keyStart`/`keyLength` locate the raw key text.
    @inline(__always)
    mutating func readKey(_ index: Int, keyStart: inout Int, keyLength: inout Int) -> Int {
        guard index < count, bytes[index] == 0x22 else { return fail(index, "a quoted key") }
        var escaped = false
        let close = scanString(index + 1, escaped: &escaped)
        if close < 0 { return -1 }
        keyStart = index + 1
        keyLength = close - index - 1
        var position = skipWhitespace(close + 1)
        guard position < count, bytes[position] == UInt8(ascii: ":") else {
            return fail(position, "':' after a key")
        }
        position = skipWhitespace(position + 1)
        guard position < count else { return fail(position, "a value after ':'") }
        return position
    }

    /// After a member's value: returns the next key's offset, or `-2 - end` when the object
    /// closed at `end - 1` (decode with `objectEnd(_:)`), or -1 on bad JSON.
    @inline(__always)
    mutating func afterMember(_ index: Int) -> Int {
        let position = skipWhitespace(index)
        guard position < count else { return fail(position, "',' or '}' after a value") }
        let byte = bytes[position]
        if byte == UInt8(ascii: ",") { return skipWhitespace(position + 1) }
        if byte == UInt8(ascii: "}") { return -2 - (position + 1) }
        return fail(position, "',' or '}' after a value")
    }

    /// After `{`: the first key's offset, or `-2 - end` for `{}`, or -1.
    @inline(__always)
    mutating func openObject(_ index: Int) -> Int {
        let position = skipWhitespace(index + 1)
        guard position < count else { return fail(position, "a key or '}'") }
        if bytes[position] == UInt8(ascii: "}") { return -2 - (position + 1) }
        return position
    }
}

/// Decodes the `-2 - end` convention of `afterMember`/`openObject`.
@inline(__always) func objectEnd(_ code: Int) -> Int { -2 - code }

// MARK: - Values

extension ByteScanner {
    /// A decimal from a string or number value.
    @inline(__always)
    func decimal(_ span: ValueSpan) -> Result<ExactDecimal, DecimalFailure> {
        guard span.kind == .string || span.kind == .number else { return .failure(.notADecimal) }
        return ExactDecimal.read(bytes, Int(span.start), Int(span.end))
    }

    /// Epoch milliseconds from a string or number of digits; 0 when absent, null or "".
    @inline(__always)
    func timestamp(_ span: ValueSpan) -> Int64? {
        if span.isEmptyValue { return 0 }
        guard span.kind == .string || span.kind == .number, span.length <= 18 else { return nil }
        var value: Int64 = 0
        for index in Int(span.start)..<Int(span.end) {
            let digit = bytes[index] &- 48
            if digit > 9 { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// BUY/buy → bid, SELL/sell → ask.
    @inline(__always)
    func side(_ span: ValueSpan) -> Side? {
        guard span.kind == .string else { return nil }
        if spanEquals(span, "BUY") || spanEquals(span, "buy") { return .bid }
        if spanEquals(span, "SELL") || spanEquals(span, "sell") { return .ask }
        return nil
    }

    /// The raw bytes of a string value (empty for anything else).
    @inline(__always)
    func text(_ span: ValueSpan) -> UnsafeRawBufferPointer {
        guard span.kind == .string else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: bytes + Int(span.start), count: span.length)
    }
}
