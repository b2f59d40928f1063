// Reading and writing `ExactDecimal` as the exchange's decimal strings. The byte-level reader is
// the one the parser uses on the hot path; the String entry points are conveniences for tools,
// tests and side data (REST metadata, golden files).

/// Why a decimal could not be read; the parser turns this into a `FeedError`.
enum DecimalFailure: Error {
    case notADecimal
    case tooManyFractionDigits
    case overflow

    var expected: String {
        switch self {
        case .notADecimal: "a decimal like \"0.29\", \"2226\" or \".48\""
        case .tooManyFractionDigits: "a decimal with at most 6 fraction digits"
        case .overflow: "a decimal below 9,223,372,036,854 (Int64 millionths)"
        }
    }
}

/// Powers of ten used to scale fraction digits to millionths (index = digits written).
let fractionScale: (Int64, Int64, Int64, Int64, Int64, Int64, Int64) =
    (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)

@inline(__always)
func scaleForFractionDigits(_ digits: Int) -> Int64 {
    switch digits {
    case 0: fractionScale.0
    case 1: fractionScale.1
    case 2: fractionScale.2
    case 3: fractionScale.3
    case 4: fractionScale.4
    case 5: fractionScale.5
    default: fractionScale.6
    }
}

extension ExactDecimal {
    /// Reads `[start, end)` of `bytes` as a plain decimal: optional `-`, digits, optional `.`
    /// and 1–6 fraction digits (or `.48` without the leading zero). No exponent, no `+`, no
    /// spaces: the exchange never writes them, and accepting them would make re-rendering lie.
    @inline(__always)
    static func read(_ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Result<ExactDecimal, DecimalFailure> {
        var index = start
        var negative = false
        if index < end && bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        // Up to 18 digits cannot overflow Int64, so the loop needs no checks; more digits
        // are rejected below, and the final scaling is checked once.
        let integerStart = index
        var integerPart: Int64 = 0
        while index < end {
            let digit = bytes[index] &- 48
            if digit > 9 { break }
            integerPart = integerPart &* 10 &+ Int64(digit)
            index += 1
        }
        let integerDigits = index - integerStart
        if integerDigits > 18 { return .failure(.overflow) }
        var fraction: Int64 = 0
        var fractionDigits = 0
        var leadingDot = false
        if index < end && bytes[index] == UInt8(ascii: ".") {
            index += 1
            leadingDot = integerDigits == 0
            while index < end {
                let digit = bytes[index] &- 48
                if digit > 9 { break }
                if fractionDigits == Int(ExactDecimal.maxDigits) { return .failure(.tooManyFractionDigits) }
                fraction = fraction * 10 + Int64(digit)
                fractionDigits += 1
                index += 1
            }
            if fractionDigits == 0 { return .failure(.notADecimal) }
        }
        if index != end || (integerDigits == 0 && fractionDigits == 0) { return .failure(.notADecimal) }
        let (scaled, overflow) = integerPart.multipliedReportingOverflow(by: ExactDecimal.scale)
        if overflow { return .failure(.overflow) }
        let (units, overflowFraction) = scaled.addingReportingOverflow(
            fraction * scaleForFractionDigits(fractionDigits))
        if overflowFraction { return .failure(.overflow) }
        return .success(
            ExactDecimal(units: negative ? -units : units, digits: UInt8(fractionDigits), leadingDot: leadingDot))
    }

    /// Parses the exchange's decimal text ("0.29", "0.50", "2226", "3641.8", ".48"); nil when the
    /// text is not a plain decimal, has more than 6 fraction digits, or overflows.
    public init?(_ text: String) {
        var copy = text
        let result = copy.withUTF8 { utf8 -> Result<ExactDecimal, DecimalFailure>? in
            guard let base = utf8.baseAddress else { return nil }
            return ExactDecimal.read(base, 0, utf8.count)
        }
        guard case .success(let value) = result else { return nil }
        self = value
    }

    /// Parses a slice of a larger string; see `init?(_: String)`.
    public init?(_ text: Substring) {
        self.init(String(text))
    }

    /// Parses raw UTF-8 bytes; see `init?(_: String)`.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
            case .success(let value) = ExactDecimal.read(base, 0, bytes.count)
        else { return nil }
        self = value
    }

    /// Fraction digits needed to write `units` without loss (0...6).
    var significantFractionDigits: Int {
        var fraction = units.magnitude % UInt64(ExactDecimal.scale)
        if fraction == 0 { return 0 }
        var digits = 6
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        return digits
    }

    /// Appends the exchange's own text for this value: `digits` fraction digits (more only if
    /// the value cannot be written exactly with `digits`), and no leading zero when the
    /// original text had none (".48"). Parsing then rendering returns the input bytes.
    public func render(into output: inout [UInt8]) {
        let fractionDigits = Swift.max(Int(digits), significantFractionDigits)
        ExactDecimal.append(
            magnitude: units.magnitude, negative: units < 0, fractionDigits: fractionDigits,
            omitLeadingZero: leadingDot, into: &output)
    }

    /// The exchange's own text for this value; see `render(into:)`.
    public func render() -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        render(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value written with exactly `digits` fraction digits (0...6) and a leading zero, the
    /// way the exchange hash writes `last_trade_price` ("0.5" → "0.500" for 3). Extra precision
    /// is rounded half away from zero; the exchange's own values never need it.
    public func rendered(digits requested: Int) -> String {
        let fractionDigits = Swift.min(Swift.max(requested, 0), Int(ExactDecimal.maxDigits))
        let step = UInt64(scaleForFractionDigits(fractionDigits))
        var magnitude = units.magnitude
        let remainder = magnitude % step
        magnitude -= remainder
        if step > 1 && remainder * 2 >= step { magnitude += step }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        ExactDecimal.append(
            magnitude: magnitude, negative: units < 0 && magnitude != 0, fractionDigits: fractionDigits,
            omitLeadingZero: false, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func append(
        magnitude: UInt64, negative: Bool, fractionDigits: Int, omitLeadingZero: Bool, into output: inout [UInt8]
    ) {
        if negative { output.append(UInt8(ascii: "-")) }
        let scale = UInt64(ExactDecimal.scale)
        let integerPart = magnitude / scale
        if !(omitLeadingZero && integerPart == 0 && fractionDigits > 0) {
            appendInteger(integerPart, into: &output)
        }
        guard fractionDigits > 0 else { return }
        output.append(UInt8(ascii: "."))
        var fraction = (magnitude % scale) / UInt64(scaleForFractionDigits(fractionDigits))
        var digitsReversed: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48, 48, 48)
        withUnsafeMutableBytes(of: &digitsReversed) { buffer in
            for position in 0..<fractionDigits {
                buffer[position] = UInt8(48 + fraction % 10)
                fraction /= 10
            }
            for position in stride(from: fractionDigits - 1, through: 0, by: -1) {
                output.append(buffer[position])
            }
        }
    }

    static func appendInteger(_ value: UInt64, into output: inout [UInt8]) {
        if value == 0 {
            output.append(48)
            return
        }
        let start = output.count
        var rest = value
        while rest > 0 {
            output.append(UInt8(48 + rest % 10))
            rest /= 10
        }
        output[start...].reverse()
    }
}

extension ExactDecimal: CustomStringConvertible {
    /// The exchange's own text, as `render()` writes it.
    public var description: String { render() }
}
