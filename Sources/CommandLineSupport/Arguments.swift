// Command-line handling shared by the `replay` and `capture` executables, in the conventions
// of swift-argument-parser: `--help` to stdout with exit 0, usage errors to stderr as
// `Error: ...` followed by the usage line with exit 64, other failures exit 1.

/// A usage error: printed as `Error: <message>` followed by the command's usage line.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Parsed arguments: `--name value`, `--name=value`, boolean `--flag`, and positionals.
/// Options are declared up front so unknown options and missing values are usage errors.
public struct Arguments {
    public private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    public init(_ arguments: [String], options: Set<String>, flags: Set<String>) throws(UsageError) {
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if onlyPositionals || !word.hasPrefix("-") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            var name = String(word.drop(while: { $0 == "-" }))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if word == "-h" { name = "help" }
            if flags.contains(name) {
                if inlineValue != nil { throw UsageError("--\(name) takes no value") }
                self.flags.insert(name)
            } else if options.contains(name) {
                if let inlineValue {
                    values[name, default: []].append(inlineValue)
                } else {
                    guard index < arguments.count else { throw UsageError("--\(name) needs a value") }
                    // `--assets --quiet` forgot the value: a word naming a declared option or flag
                    // is not taken as one (values that merely start with "-", like `--to -5`, are).
                    let next = arguments[index]
                    if next.hasPrefix("--") {
                        let other = String(next.dropFirst(2).prefix(while: { $0 != "=" }))
                        if options.contains(other) || flags.contains(other) {
                            throw UsageError("--\(name) needs a value (found the option \(next) instead)")
                        }
                    }
                    values[name, default: []].append(next)
                    index += 1
                }
            } else {
                throw UsageError("unknown option '\(word)'")
            }
        }
    }

    public func flag(_ name: String) -> Bool { flags.contains(name) }
    public func value(_ name: String) -> String? { values[name]?.last }
    public func has(_ name: String) -> Bool { values[name] != nil }

    /// Every value given for a repeatable option, in order.
    public func values(_ name: String) -> [String] { values[name] ?? [] }

    /// A choice among fixed words, or the default.
    public func choice(_ name: String, _ allowed: [String], default defaultValue: String) throws(UsageError) -> String {
        guard let text = value(name) else { return defaultValue }
        guard allowed.contains(text) else {
            throw UsageError("--\(name) must be one of \(allowed.joined(separator: ", ")), not '\(text)'")
        }
        return text
    }

    /// An integer option within a range, or the default.
    public func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let text = value(name) else { return defaultValue }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(
                "--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    /// A duration option ("500ms", "45s", "30m", "1h", "2h30m", "1d"), or the default.
    public func duration(_ name: String, default defaultValue: UInt64?) throws(UsageError) -> UInt64? {
        guard let text = value(name) else { return defaultValue }
        guard let nanoseconds = parseDuration(text) else {
            throw UsageError("--\(name) must be a duration like 500ms, 45s, 30m, 1h or 2h30m, not '\(text)'")
        }
        return nanoseconds
    }

    /// A number of seconds ("5", "0.5", "0.5s") within `range`, or nil when not given. Anything
    /// outside the range (including 0, negatives, inf and nan when the range is positive) is a
    /// usage error naming the range, so later arithmetic on the value cannot overflow.
    public func seconds(_ name: String, range: ClosedRange<Double>) throws(UsageError) -> Double? {
        guard let text = value(name) else { return nil }
        let number = text.hasSuffix("s") ? String(text.dropLast()) : text
        guard let value = Double(number), value.isFinite, range.contains(value) else {
            throw UsageError(
                "--\(name) must be a number of seconds from \(describeSeconds(range.lowerBound)) to "
                    + "\(describeSeconds(range.upperBound)) (like 5 or 0.5s), not '\(text)'")
        }
        return value
    }

    /// A size option ("512MB", "1GB", "64KB", "1048576"; K/M/G are powers of 1024), or the default.
    public func size(_ name: String, default defaultValue: Int64?) throws(UsageError) -> Int64? {
        guard let text = value(name) else { return defaultValue }
        guard let bytes = parseSize(text) else {
            throw UsageError("--\(name) must be a size like 64KB, 512MB or 1GB, not '\(text)'")
        }
        return bytes
    }
}

/// "0.001", "5", "86400": a bound of a seconds range, without a trailing ".0".
func describeSeconds(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}

/// "1ms", "45s", "30d": a bound of a duration range in its largest whole unit.
public func describeNanoseconds(_ nanoseconds: UInt64) -> String {
    let units: [(String, UInt64)] = [
        ("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ]
    for (suffix, unit) in units where nanoseconds >= unit && nanoseconds % unit == 0 {
        return "\(nanoseconds / unit)\(suffix)"
    }
    return "\(nanoseconds)ns"
}

/// Parses "500ms", "45s", "30m", "1h", "2h30m", "1d", "0"; nil if malformed.
public func parseDuration(_ text: String) -> UInt64? {
    if text == "0" { return 0 }
    var total: UInt64 = 0
    var number: UInt64?
    var characters = Array(text.lowercased())
    guard !characters.isEmpty else { return nil }
    var index = 0
    while index < characters.count {
        let character = characters[index]
        if let digit = character.wholeNumberValue, character.isASCII {
            let (times10, overflow) = (number ?? 0).multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            number = times10 + UInt64(digit)
            index += 1
            continue
        }
        guard let value = number else { return nil }
        let unit: UInt64
        if character == "m" && index + 1 < characters.count && characters[index + 1] == "s" {
            unit = 1_000_000
            index += 2
        } else {
            switch character {
            case "s": unit = 1_000_000_000
            case "m": unit = 60_000_000_000
            case "h": unit = 3_600_000_000_000
            case "d": unit = 86_400_000_000_000
            default: return nil
            }
            index += 1
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: unit)
        if overflow { return nil }
        total += product
        number = nil
    }
    characters.removeAll()
    return number == nil ? total : nil
}

/// Parses "512MB", "1GB", "64KB", "64K", "1048576"; K/M/G = 1024, 1024², 1024³. nil if malformed or 0.
public func parseSize(_ text: String) -> Int64? {
    let upper = text.uppercased()
    let digits = upper.prefix { $0.isASCII && $0.isNumber }
    guard let number = Int64(digits), number > 0 else { return nil }
    let unit: Int64
    switch upper.dropFirst(digits.count) {
    case "", "B": unit = 1
    case "K", "KB", "KIB": unit = 1 << 10
    case "M", "MB", "MIB": unit = 1 << 20
    case "G", "GB", "GIB": unit = 1 << 30
    default: return nil
    }
    let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
    return overflow ? nil : bytes
}
