// The on-disk vocabulary of a tape (docs/TAPE_FORMAT.md): format identifiers, the header,
// connection event kinds, the footer, and the rules for segment file names.
import Foundation

/// Format identifiers and limits of the PolyTape tape format.
public enum TapeFormat {
    /// The format this library writes and the only major version it reads.
    public static let current = "polytape/1"
    public static let currentVersion = 1
    /// The version string written into every header's `writer` field.
    public static let writerVersion = "polytape-tape 1.0.0"
    /// zstd frames begin with these four bytes; anything else is read as plain NDJSON.
    public static let zstdMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    /// Extension of compressed segments.
    public static let compressedExtension = ".ndjson.zst"
    public static let plainExtension = ".ndjson"

    /// Parses "polytape/N" into N; nil for anything that is not a polytape format string.
    public static func version(of format: String) -> Int? {
        guard format.hasPrefix("polytape/") else { return nil }
        return Int(format.dropFirst("polytape/".count))
    }

    /// `<prefix>-<UTC yyyyMMdd'T'HHmmss.SSS>-<seq, 6 digits>.ndjson.zst`: names of one
    /// session's segments sort in time order, and a restart never reuses a name.
    public static func segmentName(prefix: String, wallNs: Int64, sequence: Int) -> String {
        "\(prefix)-\(compactUTC(wallNs: wallNs))-\(String(format: "%06d", sequence))\(compressedExtension)"
    }

    /// `yyyyMMdd'T'HHmmss.SSS` in UTC, computed with integer calendar arithmetic.
    public static func compactUTC(wallNs: Int64) -> String {
        let parts = UTCParts(wallNs: wallNs)
        return String(
            format: "%04d%02d%02dT%02d%02d%02d.%03d", parts.year, parts.month, parts.day, parts.hour, parts.minute,
            parts.second, parts.millisecond)
    }

    /// ISO-8601 UTC with milliseconds, e.g. `2026-09-24T15:09:39.153Z`.
    public static func iso8601(wallNs: Int64) -> String {
        let parts = UTCParts(wallNs: wallNs)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.year, parts.month, parts.day, parts.hour, parts.minute,
            parts.second, parts.millisecond)
    }

    /// What `parseInstant` made of a text.
    public enum ParsedInstant: Equatable, Sendable {
        /// Epoch nanoseconds.
        case instant(Int64)
        /// Well formed, but epoch ns cannot hold it (before 1677-09-21 or after 2262-04-11).
        case outOfRange
        /// Not epoch milliseconds and not an ISO-8601 date or date-time.
        case invalid
    }

    /// Parses epoch milliseconds or ISO-8601: a date (`2026-09-24`, midnight UTC) or a date-time
    /// with `T` or a space, minutes, optional seconds and fraction, and an optional zone: `Z`
    /// or an offset `+HH:MM`, `+HHMM`, `+HH` (no zone: UTC). Every field is range-checked:
    /// `2026-02-30`, `25:00` and a `+25:00` offset are invalid, not read as something else.
    public static func parseInstant(_ text: String) -> ParsedInstant {
        if let milliseconds = Int64(text) {
            let (ns, overflow) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
            return overflow ? .outOfRange : .instant(ns)
        }
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ length: Int) -> Int? {
            guard start + length <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<start + length] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 10, let year = number(0, 4), bytes[4] == 0x2D, let month = number(5, 2),
            bytes[7] == 0x2D, let day = number(8, 2), (1...12).contains(month),
            (1...daysIn(month: month, year: year)).contains(day)
        else { return .invalid }
        var hour = 0
        var minute = 0
        var second = 0
        var fractionNs: Int64 = 0
        var index = 10
        if index < bytes.count, bytes[index] == 0x54 || bytes[index] == 0x74 || bytes[index] == 0x20 {
            guard let h = number(11, 2), bytes.count > 13, bytes[13] == 0x3A, let m = number(14, 2), h < 24, m < 60
            else { return .invalid }
            hour = h
            minute = m
            index = 16
            if index < bytes.count, bytes[index] == 0x3A {
                guard let s = number(17, 2), s < 60 else { return .invalid }
                second = s
                index = 19
                if index < bytes.count, bytes[index] == 0x2E || bytes[index] == 0x2C {
                    index += 1
                    let digitsStart = index
                    var scale: Int64 = 100_000_000
                    while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                        fractionNs += Int64(bytes[index] - 0x30) * scale
                        scale /= 10
                        index += 1
                    }
                    guard index > digitsStart else { return .invalid }
                }
            }
        }
        var offsetSeconds = 0
        if index < bytes.count {
            switch bytes[index] {
            case 0x5A, 0x7A:  // Z, z
                guard index + 1 == bytes.count else { return .invalid }
            case 0x2B, 0x2D:  // +, -
                let sign = bytes[index] == 0x2D ? -1 : 1
                guard let offsetHours = number(index + 1, 2), offsetHours < 24 else { return .invalid }
                var offsetMinutes = 0
                switch bytes.count - index {
                case 3: break
                case 5: offsetMinutes = number(index + 3, 2) ?? 60
                case 6 where bytes[index + 3] == 0x3A: offsetMinutes = number(index + 4, 2) ?? 60
                default: return .invalid
                }
                guard offsetMinutes < 60 else { return .invalid }
                offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
            default:
                return .invalid
            }
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .outOfRange }
        let (total, overflowAgain) = ns.addingReportingOverflow(fractionNs)
        return overflowAgain ? .outOfRange : .instant(total)
    }

    /// `parseInstant` as epoch ns; nil for invalid text and for instants epoch ns cannot hold.
    public static func parseTime(_ text: String) -> Int64? {
        if case .instant(let ns) = parseInstant(text) { return ns }
        return nil
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    struct UTCParts {
        var year = 0
        var month = 0
        var day = 0
        var hour = 0
        var minute = 0
        var second = 0
        var millisecond = 0

        init(wallNs: Int64) {
            let milliseconds = wallNs >= 0 ? wallNs / 1_000_000 : (wallNs - 999_999) / 1_000_000
            var seconds = milliseconds / 1000
            millisecond = Int(milliseconds - seconds * 1000)
            if millisecond < 0 {
                millisecond += 1000
                seconds -= 1
            }
            var days = seconds / 86_400
            var secondOfDay = seconds - days * 86_400
            if secondOfDay < 0 {
                secondOfDay += 86_400
                days -= 1
            }
            hour = Int(secondOfDay / 3600)
            minute = Int(secondOfDay % 3600 / 60)
            second = Int(secondOfDay % 60)
            (year, month, day) = civilFromDays(Int(days))
        }
    }

    // Howard Hinnant's civil calendar algorithms: exact for any proleptic Gregorian date.
    static func civilFromDays(_ daysSinceEpoch: Int) -> (Int, Int, Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Per-asset data the exchange hash needs but the stream does not always carry. Every
/// field is optional: a tape records what its writer knew, never a guess.
public struct AssetSideData: Sendable, Equatable {
    public var market: String?
    /// As the exchange writes it, e.g. "5".
    public var minOrderSize: String?
    public var negRisk: Bool?
    /// As the exchange writes it, e.g. "0.01".
    public var tickSize: String?

    public init(market: String? = nil, minOrderSize: String? = nil, negRisk: Bool? = nil, tickSize: String? = nil) {
        self.market = market
        self.minOrderSize = minOrderSize
        self.negRisk = negRisk
        self.tickSize = tickSize
    }

    public var isEmpty: Bool { market == nil && minOrderSize == nil && negRisk == nil && tickSize == nil }
}

/// The first line of every segment: what the tape is, when and where it was recorded, and
/// which assets it covers. Later format versions are refused by the reader with a message
/// that names the version found.
public struct TapeHeader: Sendable, Equatable {
    /// "polytape/1".
    public var format: String = TapeFormat.current
    /// Wall-clock creation time, epoch ns. Imported tapes take it from the source data so a
    /// re-import is byte-identical.
    public var createdNs: Int64
    /// Websocket URL for live captures, `import:<shape>:<file name>` for imports, `synth:...` for synthetic tapes.
    public var source: String
    /// Writer name and version.
    public var writer: String = TapeFormat.writerVersion
    /// Identifies one recording session; all its segments carry the same value.
    public var session: String
    /// 1-based index of this segment within the session.
    public var segment: Int = 1
    /// Subscribed (or, for imports, observed) asset ids in subscription order.
    public var assets: [String]
    /// Side data per asset id, where known.
    public var sideData: [String: AssetSideData]
    /// True for tapes produced by `replay tape synth`.
    public var synthetic: Bool = false
    /// Free-form provenance notes (importer shape, source file name).
    public var notes: [String: String] = [:]

    public init(
        createdNs: Int64, source: String, session: String, assets: [String] = [],
        sideData: [String: AssetSideData] = [:], segment: Int = 1
    ) {
        self.createdNs = createdNs
        self.source = source
        self.session = session
        self.assets = assets
        self.sideData = sideData
        self.segment = segment
    }

    /// The header as one NDJSON line (without the newline). Keys are written in a fixed
    /// order and side data sorted by asset position, so output is deterministic.
    public func renderLine() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + assets.count * 200)
        out.append(contentsOf: Array(#"{"kind":"header","format":"#.utf8))
        JSONBytes.appendEscaped(format, to: &out)
        out.append(contentsOf: Array(#","created_ns":\#(createdNs),"created":"#.utf8))
        JSONBytes.appendEscaped(TapeFormat.iso8601(wallNs: createdNs), to: &out)
        out.append(contentsOf: Array(#","source":"#.utf8))
        JSONBytes.appendEscaped(source, to: &out)
        out.append(contentsOf: Array(#","writer":"#.utf8))
        JSONBytes.appendEscaped(writer, to: &out)
        out.append(contentsOf: Array(#","session":"#.utf8))
        JSONBytes.appendEscaped(session, to: &out)
        out.append(contentsOf: Array(#","segment":\#(segment)"#.utf8))
        if synthetic { out.append(contentsOf: Array(#","synthetic":true"#.utf8)) }
        out.append(contentsOf: Array(#","assets":["#.utf8))
        for (index, asset) in assets.enumerated() {
            if index > 0 { out.append(JSONBytes.comma) }
            JSONBytes.appendEscaped(asset, to: &out)
        }
        out.append(contentsOf: Array(#"],"side_data":{"#.utf8))
        var orderedIDs = assets.filter { sideData[$0] != nil }
        let listed = Set(assets)
        orderedIDs += sideData.keys.filter { !listed.contains($0) }.sorted()
        for (index, asset) in orderedIDs.enumerated() {
            guard let data = sideData[asset] else { continue }
            if index > 0 { out.append(JSONBytes.comma) }
            JSONBytes.appendEscaped(asset, to: &out)
            out.append(contentsOf: Array(":{".utf8))
            var first = true
            func field(_ name: String, _ value: String?) {
                guard let value else { return }
                if !first { out.append(JSONBytes.comma) }
                first = false
                JSONBytes.appendEscaped(name, to: &out)
                out.append(JSONBytes.colon)
                JSONBytes.appendEscaped(value, to: &out)
            }
            field("market", data.market)
            field("min_order_size", data.minOrderSize)
            field("tick_size", data.tickSize)
            if let negRisk = data.negRisk {
                if !first { out.append(JSONBytes.comma) }
                out.append(contentsOf: Array(#""neg_risk":\#(negRisk)"#.utf8))
            }
            out.append(JSONBytes.closeBrace)
        }
        out.append(JSONBytes.closeBrace)
        if !notes.isEmpty {
            out.append(contentsOf: Array(#","notes":{"#.utf8))
            for (index, key) in notes.keys.sorted().enumerated() {
                if index > 0 { out.append(JSONBytes.comma) }
                JSONBytes.appendEscaped(key, to: &out)
                out.append(JSONBytes.colon)
                JSONBytes.appendEscaped(notes[key] ?? "", to: &out)
            }
            out.append(JSONBytes.closeBrace)
        }
        out.append(JSONBytes.closeBrace)
        return out
    }

    /// Parses a header line. Throws `TapeError.unsupportedFormat` for other format
    /// versions and `TapeError.notATape` when the line is not a header at all.
    public static func parse(line: UnsafeRawBufferPointer, file: String) throws(TapeError) -> TapeHeader {
        let object = JSONObjectView(bytes: Array(line))
        guard JSONBytes.isSingleValue(line), object.string("kind") == "header" else {
            // Text has no NUL and few control bytes; a program or an image has many.
            let control = line.prefix(4096).filter { $0 < 0x09 || ($0 > 0x0D && $0 < 0x20) }.count
            if line.contains(0) || control * 20 > min(line.count, 4096) {
                throw .notATape(file: file, reason: TapeError.binaryReason)
            }
            // A pretty-printed JSON document (a run report, a golden) opens with a lone brace.
            if line.allSatisfy({ $0 == 0x7B || $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) && line.contains(0x7B) {
                throw .notATape(file: file, reason: TapeError.jsonDocumentReason)
            }
            throw .notATape(file: file, reason: "the first line is not a polytape header")
        }
        guard let format = object.string("format") else {
            throw .notATape(file: file, reason: "the header has no \"format\" field")
        }
        guard let version = TapeFormat.version(of: format) else {
            throw .notATape(file: file, reason: "the header's format is \"\(format)\", not polytape/N")
        }
        guard version == TapeFormat.currentVersion else {
            throw .unsupportedFormat(file: file, found: format)
        }
        var header = TapeHeader(
            createdNs: object.int("created_ns") ?? 0, source: object.string("source") ?? "",
            session: object.string("session") ?? "")
        header.format = format
        header.writer = object.string("writer") ?? ""
        header.segment = Int(object.int("segment") ?? 1)
        header.synthetic = object.range("synthetic").map { Array(object.bytes[$0]) == Array("true".utf8) } ?? false
        if let assets = object.raw("assets") {
            header.assets = JSONArrayOfStrings.decode(assets)
        }
        if let sideData = object.raw("side_data") {
            JSONMembers.forEach(sideData) { key, value in
                let entry = JSONObjectView(bytes: value)
                var data = AssetSideData()
                data.market = entry.string("market")
                data.minOrderSize = entry.string("min_order_size")
                data.tickSize = entry.string("tick_size")
                if let negRisk = entry.raw("neg_risk") {
                    data.negRisk = negRisk == Array("true".utf8)
                }
                header.sideData[key] = data
            }
        }
        if let notes = object.raw("notes") {
            JSONMembers.forEach(notes) { key, value in
                let view = [UInt8](#"{"v":"#.utf8) + value + [JSONBytes.closeBrace]
                header.notes[key] = JSONObjectView(bytes: view).string("v") ?? ""
            }
        }
        return header
    }
}

/// Iterates the members of a JSON object held in an array (headers and tools only).
enum JSONMembers {
    static func forEach(_ object: [UInt8], _ body: (String, [UInt8]) -> Void) {
        object.withUnsafeBytes { bytes in
            var index = JSONBytes.skipSpace(bytes, 0)
            guard index < bytes.count, bytes[index] == JSONBytes.openBrace else { return }
            index = JSONBytes.skipSpace(bytes, index + 1)
            while index < bytes.count, bytes[index] == JSONBytes.quote {
                var key: [UInt8] = []
                guard let afterKey = JSONBytes.decodeString(bytes, index, into: &key) else { return }
                index = JSONBytes.skipSpace(bytes, afterKey)
                guard index < bytes.count, bytes[index] == JSONBytes.colon else { return }
                index = JSONBytes.skipSpace(bytes, index + 1)
                guard let afterValue = JSONBytes.skipValue(bytes, index) else { return }
                body(String(decoding: key, as: UTF8.self), Array(bytes[index..<afterValue]))
                index = JSONBytes.skipSpace(bytes, afterValue)
                guard index < bytes.count, bytes[index] == JSONBytes.comma else { return }
                index = JSONBytes.skipSpace(bytes, index + 1)
            }
        }
    }
}

/// Decodes a JSON array of strings (header asset lists, subscription messages).
enum JSONArrayOfStrings {
    static func decode(_ array: [UInt8]) -> [String] {
        var result: [String] = []
        array.withUnsafeBytes { bytes in
            var index = JSONBytes.skipSpace(bytes, 0)
            guard index < bytes.count, bytes[index] == JSONBytes.openBracket else { return }
            index = JSONBytes.skipSpace(bytes, index + 1)
            while index < bytes.count, bytes[index] == JSONBytes.quote {
                var text: [UInt8] = []
                guard let after = JSONBytes.decodeString(bytes, index, into: &text) else { return }
                result.append(String(decoding: text, as: UTF8.self))
                index = JSONBytes.skipSpace(bytes, after)
                guard index < bytes.count, bytes[index] == JSONBytes.comma else { return }
                index = JSONBytes.skipSpace(bytes, index + 1)
            }
        }
        return result
    }
}

/// Connection lifecycle events recorded as explicit lines, so replay knows where book
/// state becomes untrustworthy.
public enum TapeEventKind: String, Sendable, CaseIterable {
    /// A websocket connection was established (upgrade done).
    case connected
    /// A subscription message was sent on the connection.
    case subscribed
    /// The connection ended: close code and reason, or the error.
    case disconnected
    /// The writer's owner is about to reconnect (attempt number, delay).
    case reconnecting
    /// Frames may be missing between the previous and the next frame on this connection.
    case gap
}

/// Optional details of a connection event; only fields that are set are written.
public struct TapeEventDetail: Sendable, Equatable {
    public var url: String?
    /// A human name for the connection (e.g. the importer's original connection label).
    public var name: String?
    public var assets: [String]?
    public var closeCode: Int?
    public var reason: String?
    public var error: String?
    public var attempt: Int?
    public var delayMs: Int?
    /// The subscription or other message text sent, verbatim.
    public var text: String?

    public init(
        url: String? = nil, name: String? = nil, assets: [String]? = nil, closeCode: Int? = nil,
        reason: String? = nil, error: String? = nil, attempt: Int? = nil, delayMs: Int? = nil, text: String? = nil
    ) {
        self.url = url
        self.name = name
        self.assets = assets
        self.closeCode = closeCode
        self.reason = reason
        self.error = error
        self.attempt = attempt
        self.delayMs = delayMs
        self.text = text
    }

    func render(into out: inout [UInt8]) {
        out.append(JSONBytes.openBrace)
        var first = true
        func key(_ name: String) {
            if !first { out.append(JSONBytes.comma) }
            first = false
            JSONBytes.appendEscaped(name, to: &out)
            out.append(JSONBytes.colon)
        }
        if let url { key("url"); JSONBytes.appendEscaped(url, to: &out) }
        if let name { key("name"); JSONBytes.appendEscaped(name, to: &out) }
        if let assets {
            key("assets")
            out.append(JSONBytes.openBracket)
            for (index, asset) in assets.enumerated() {
                if index > 0 { out.append(JSONBytes.comma) }
                JSONBytes.appendEscaped(asset, to: &out)
            }
            out.append(JSONBytes.closeBracket)
        }
        if let closeCode { key("close_code"); out.append(contentsOf: Array(String(closeCode).utf8)) }
        if let reason { key("reason"); JSONBytes.appendEscaped(reason, to: &out) }
        if let error { key("error"); JSONBytes.appendEscaped(error, to: &out) }
        if let attempt { key("attempt"); out.append(contentsOf: Array(String(attempt).utf8)) }
        if let delayMs { key("delay_ms"); out.append(contentsOf: Array(String(delayMs).utf8)) }
        if let text { key("text"); JSONBytes.appendEscaped(text, to: &out) }
        out.append(JSONBytes.closeBrace)
    }

    /// Decodes a rendered detail object (tools, tests; not the hot path).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> TapeEventDetail {
        let object = JSONObjectView(bytes: Array(bytes))
        var detail = TapeEventDetail()
        detail.url = object.string("url")
        detail.name = object.string("name")
        detail.assets = object.raw("assets").map(JSONArrayOfStrings.decode)
        detail.closeCode = object.int("close_code").map { Int($0) }
        detail.reason = object.string("reason")
        detail.error = object.string("error")
        detail.attempt = object.int("attempt").map { Int($0) }
        detail.delayMs = object.int("delay_ms").map { Int($0) }
        detail.text = object.string("text")
        return detail
    }
}

/// Counts written into the footer line on rotation and clean close.
public struct TapeFooter: Sendable, Equatable {
    /// Frames and events in this segment.
    public var frames: Int64
    public var events: Int64
    /// Frames in the whole session so far (all segments).
    public var sessionFrames: Int64
    public var firstRecvNs: Int64?
    public var lastRecvNs: Int64?
    /// "close" on a clean close, "rotate" when a new segment follows.
    public var reason: String

    public init(
        frames: Int64, events: Int64, sessionFrames: Int64, firstRecvNs: Int64?, lastRecvNs: Int64?, reason: String
    ) {
        self.frames = frames
        self.events = events
        self.sessionFrames = sessionFrames
        self.firstRecvNs = firstRecvNs
        self.lastRecvNs = lastRecvNs
        self.reason = reason
    }

    func renderLine() -> [UInt8] {
        var text = #"{"kind":"footer","reason":"\#(reason)","frames":\#(frames),"events":\#(events)"#
        text += #","session_frames":\#(sessionFrames)"#
        if let firstRecvNs { text += #","first_recv_ns":\#(firstRecvNs)"# }
        if let lastRecvNs { text += #","last_recv_ns":\#(lastRecvNs)"# }
        text += "}"
        return Array(text.utf8)
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> TapeFooter {
        let object = JSONObjectView(bytes: Array(bytes))
        return TapeFooter(
            frames: object.int("frames") ?? 0, events: object.int("events") ?? 0,
            sessionFrames: object.int("session_frames") ?? 0, firstRecvNs: object.int("first_recv_ns"),
            lastRecvNs: object.int("last_recv_ns"), reason: object.string("reason") ?? "")
    }
}
