// Typed, non-owning views of tape lines and the envelope scanner that produces them.

#if canImport(Glibc)
    import Glibc
#endif

/// How a frame was embedded in its tape line.
public enum TapeFrameEncoding: UInt8, Sendable {
    /// The frame was valid JSON and is embedded raw under `"frame"`: its bytes are the line's bytes.
    case json
    /// The frame was not JSON (e.g. `PONG`) and is embedded as a JSON string under `"text"`.
    case text
    /// The frame was not valid UTF-8 and is embedded as base64 under `"base64"`.
    case base64
}

/// One received websocket frame. `bytes` is the frame byte-exact; it points into the
/// reader's buffers and is valid only until the reader's next call.
public struct TapeFrame {
    /// Receive wall-clock time, epoch ns.
    public var recvWallNs: Int64
    /// Receive monotonic time, ns (only differences are meaningful).
    public var monoNs: Int64
    /// Connection id (the writer's own numbering, 0-based or 1-based as written).
    public var conn: UInt32
    /// Per-connection sequence number, 1-based.
    public var seq: UInt64
    public var encoding: TapeFrameEncoding
    /// The frame byte-exact: raw JSON bytes, or the unescaped string bytes.
    public var bytes: UnsafeRawBufferPointer
    /// True for frames a tool generated (e.g. a `book` re-synthesized by `slice`).
    public var synthetic: Bool
    /// True for frames `slice` kept from before its window only to rebuild book state.
    public var warmup: Bool

    public init(
        recvWallNs: Int64, monoNs: Int64, conn: UInt32, seq: UInt64, encoding: TapeFrameEncoding,
        bytes: UnsafeRawBufferPointer, synthetic: Bool, warmup: Bool
    ) {
        self.recvWallNs = recvWallNs
        self.monoNs = monoNs
        self.conn = conn
        self.seq = seq
        self.encoding = encoding
        self.bytes = bytes
        self.synthetic = synthetic
        self.warmup = warmup
    }
}

/// A connection lifecycle line.
public struct TapeEvent {
    /// nil when the writer used an event name this library does not know.
    public var kind: TapeEventKind?
    /// The event name as written.
    public var name: UnsafeRawBufferPointer
    public var recvWallNs: Int64
    public var monoNs: Int64
    public var conn: UInt32
    /// The raw JSON of the `detail` object (empty when absent); decode with `TapeEventDetail.parse`.
    public var detail: UnsafeRawBufferPointer

    public init(
        kind: TapeEventKind?, name: UnsafeRawBufferPointer, recvWallNs: Int64, monoNs: Int64, conn: UInt32,
        detail: UnsafeRawBufferPointer
    ) {
        self.kind = kind
        self.name = name
        self.recvWallNs = recvWallNs
        self.monoNs = monoNs
        self.conn = conn
        self.detail = detail
    }
}

/// One tape line, typed. Every buffer in it is a view into the reader's buffers, valid
/// only until the reader's next call.
public enum TapeRecord {
    /// A segment header (already validated; the parsed value is `TapeReader.header`).
    case header(line: UnsafeRawBufferPointer)
    case frame(TapeFrame)
    case event(TapeEvent)
    /// A footer: decode with `TapeFooter.parse(line)`.
    case footer(line: UnsafeRawBufferPointer)
    /// A record whose `kind` this version does not know (counted, skipped by consumers).
    case unknown(kind: UnsafeRawBufferPointer, line: UnsafeRawBufferPointer)
}

/// Parses tape lines into `TapeRecord`s with a small byte scanner: keys may come in any
/// order; the frame value is located by skipping it (strings and escapes included) without
/// decoding it. Holds a scratch buffer for unescaped text frames, reused line after line.
public final class TapeLineParser {
    private var scratch: UnsafeMutableRawBufferPointer
    /// Why the last `parse` returned nil.
    public private(set) var lastError: String = ""

    public init() {
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        scratch.deallocate()
    }

    private enum Key {
        case kind, recvNs, monoNs, conn, seq, frame, frameLen, text, base64, event, detail, synthetic, warmup, other
    }

    @inline(__always)
    private static func classify(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Key {
        switch end - start {
        case 3: return JSONBytes.keyEquals(bytes, start, end, "seq") ? .seq : .other
        case 4:
            if JSONBytes.keyEquals(bytes, start, end, "kind") { return .kind }
            if JSONBytes.keyEquals(bytes, start, end, "conn") { return .conn }
            if JSONBytes.keyEquals(bytes, start, end, "text") { return .text }
            return .other
        case 5:
            if JSONBytes.keyEquals(bytes, start, end, "frame") { return .frame }
            if JSONBytes.keyEquals(bytes, start, end, "event") { return .event }
            return .other
        case 6:
            if JSONBytes.keyEquals(bytes, start, end, "base64") { return .base64 }
            if JSONBytes.keyEquals(bytes, start, end, "detail") { return .detail }
            if JSONBytes.keyEquals(bytes, start, end, "warmup") { return .warmup }
            return .other
        case 7:
            if JSONBytes.keyEquals(bytes, start, end, "recv_ns") { return .recvNs }
            if JSONBytes.keyEquals(bytes, start, end, "mono_ns") { return .monoNs }
            return .other
        case 9:
            if JSONBytes.keyEquals(bytes, start, end, "synthetic") { return .synthetic }
            if JSONBytes.keyEquals(bytes, start, end, "frame_len") { return .frameLen }
            return .other
        default: return .other
        }
    }

    /// Parses one line (without its newline). Returns nil for a malformed line, with the
    /// reason in `lastError`. The returned views are valid until the next `parse` call and
    /// while `line` is.
    public func parse(_ line: UnsafeRawBufferPointer) -> TapeRecord? {
        if let frame = Self.parseWriterLayout(line) { return .frame(frame) }
        var index = JSONBytes.skipSpace(line, 0)
        guard index < line.count, line[index] == JSONBytes.openBrace else {
            return fail("not a JSON object")
        }
        var kindRange = 0..<0
        var hasKind = false
        var recvNs: Int64 = 0
        var hasRecvNs = false
        var monoNs: Int64 = 0
        var conn: Int64 = 0
        var seq: Int64 = 0
        var payload = 0..<0
        var payloadKey = Key.other
        var eventRange = 0..<0
        var detailRange = 0..<0
        var synthetic = false
        var warmup = false
        var frameLength = 0
        index = JSONBytes.skipSpace(line, index + 1)
        if index < line.count, line[index] == JSONBytes.closeBrace {
            return fail("empty object, no \"kind\"")
        }
        while true {
            guard index < line.count, line[index] == JSONBytes.quote,
                let afterKey = JSONBytes.skipString(line, index)
            else { return fail("expected a key at byte \(index)") }
            let key = Self.classify(line, index + 1, afterKey - 1)
            index = JSONBytes.skipSpace(line, afterKey)
            guard index < line.count, line[index] == JSONBytes.colon else {
                return fail("expected ':' at byte \(index)")
            }
            index = JSONBytes.skipSpace(line, index + 1)
            guard index < line.count else { return fail("line ends after a key") }
            let opener = line[index]
            let afterValue: Int?
            if key == .frame, opener == JSONBytes.openBrace || opener == JSONBytes.openBracket {
                // The frame is the one big value. Writers put it last, preceded by its length:
                // when the length lands exactly on the object's closing brace at the end of the
                // line, the frame is found without reading it. Otherwise skip it by structure.
                if frameLength > 0, let end = Self.frameEndFromLength(line, index, frameLength) {
                    afterValue = end
                } else {
                    afterValue = JSONBytes.skipContainerFast(line, index)
                }
            } else {
                afterValue = JSONBytes.skipValue(line, index)
            }
            guard let afterValue else {
                return fail("malformed JSON value at byte \(index)")
            }
            switch key {
            case .kind, .event:
                guard line[index] == JSONBytes.quote else { return fail("\"kind\"/\"event\" must be a string") }
                if key == .kind {
                    kindRange = (index + 1)..<(afterValue - 1)
                    hasKind = true
                } else {
                    eventRange = (index + 1)..<(afterValue - 1)
                }
            case .frameLen:
                frameLength = Int(JSONBytes.parseInt(line, index, afterValue) ?? 0)
            case .recvNs, .monoNs, .conn, .seq:
                guard let value = JSONBytes.parseInt(line, index, afterValue) else {
                    return fail("expected an integer at byte \(index)")
                }
                switch key {
                case .recvNs:
                    recvNs = value
                    hasRecvNs = true
                case .monoNs: monoNs = value
                case .conn: conn = value
                default: seq = value
                }
            case .frame, .text, .base64:
                payload = index..<afterValue
                payloadKey = key
            case .detail:
                detailRange = index..<afterValue
            case .synthetic:
                synthetic = line[index] == 0x74
            case .warmup:
                warmup = line[index] == 0x74
            case .other:
                break
            }
            index = JSONBytes.skipSpace(line, afterValue)
            guard index < line.count else { return fail("line ends inside the object") }
            if line[index] == JSONBytes.comma {
                index = JSONBytes.skipSpace(line, index + 1)
                continue
            }
            guard line[index] == JSONBytes.closeBrace else { return fail("expected ',' or '}' at byte \(index)") }
            guard JSONBytes.skipSpace(line, index + 1) == line.count else {
                return fail("text after the object at byte \(index + 1)")
            }
            break
        }
        guard hasKind else { return fail("no \"kind\" field") }
        let kind = UnsafeRawBufferPointer(rebasing: line[kindRange])
        if JSONBytes.keyEquals(line, kindRange.lowerBound, kindRange.upperBound, "frame") {
            guard payloadKey != .other else { return fail("frame line without \"frame\", \"text\" or \"base64\"") }
            // Without its receive time a frame would be replayed at the epoch (1970), far out of order.
            guard hasRecvNs else { return fail("frame line without \"recv_ns\"") }
            guard conn >= 0, conn <= Int64(UInt32.max), seq >= 0 else { return fail("conn/seq out of range") }
            let bytes: UnsafeRawBufferPointer
            let encoding: TapeFrameEncoding
            switch payloadKey {
            case .frame:
                bytes = UnsafeRawBufferPointer(rebasing: line[payload])
                encoding = .json
            case .text:
                guard line[payload.lowerBound] == JSONBytes.quote, let decoded = decodeText(line, payload) else {
                    return fail("\"text\" must be a JSON string")
                }
                bytes = decoded
                encoding = .text
            default:
                guard line[payload.lowerBound] == JSONBytes.quote, let decoded = decodeBase64(line, payload) else {
                    return fail("\"base64\" must be a base64 string")
                }
                bytes = decoded
                encoding = .base64
            }
            return .frame(
                TapeFrame(
                    recvWallNs: recvNs, monoNs: monoNs, conn: UInt32(conn), seq: UInt64(seq), encoding: encoding,
                    bytes: bytes, synthetic: synthetic, warmup: warmup))
        }
        if JSONBytes.keyEquals(line, kindRange.lowerBound, kindRange.upperBound, "event") {
            guard conn >= 0, conn <= Int64(UInt32.max) else { return fail("conn out of range") }
            let name = UnsafeRawBufferPointer(rebasing: line[eventRange])
            return .event(
                TapeEvent(
                    kind: TapeEventKind(rawValue: String(decoding: name, as: UTF8.self)), name: name,
                    recvWallNs: recvNs, monoNs: monoNs, conn: UInt32(conn),
                    detail: UnsafeRawBufferPointer(rebasing: line[detailRange])))
        }
        if JSONBytes.keyEquals(line, kindRange.lowerBound, kindRange.upperBound, "header") {
            return .header(line: line)
        }
        if JSONBytes.keyEquals(line, kindRange.lowerBound, kindRange.upperBound, "footer") {
            return .footer(line: line)
        }
        return .unknown(kind: kind, line: line)
    }

    /// The common case, a frame line exactly as `TapeWriter` writes it (keys in the writer's
    /// order, no spaces, `frame_len` present): read with fixed key comparisons. Anything else
    /// returns nil and goes through the general scanner, which gives the same result.
    @inline(__always)
    static func parseWriterLayout(_ line: UnsafeRawBufferPointer) -> TapeFrame? {
        var index = 0
        guard literal(line, &index, #"{"kind":"frame","recv_ns":"#), let recv = integer(line, &index),
            literal(line, &index, #","mono_ns":"#), let mono = integer(line, &index),
            literal(line, &index, #","conn":"#), let conn = integer(line, &index), conn >= 0, conn <= Int64(UInt32.max),
            literal(line, &index, #","seq":"#), let seq = integer(line, &index), seq >= 0
        else { return nil }
        let synthetic = literal(line, &index, #","synthetic":true"#)
        let warmup = literal(line, &index, #","warmup":true"#)
        guard literal(line, &index, #","frame_len":"#), let length = integer(line, &index), length > 0,
            literal(line, &index, #","frame":"#), index < line.count,
            let end = frameEndFromLength(line, index, Int(length))
        else { return nil }
        return TapeFrame(
            recvWallNs: recv, monoNs: mono, conn: UInt32(conn), seq: UInt64(seq), encoding: .json,
            bytes: UnsafeRawBufferPointer(rebasing: line[index..<end]), synthetic: synthetic, warmup: warmup)
    }

    /// Consumes `text` at `index` if the line has exactly those bytes there.
    @inline(__always)
    static func literal(_ line: UnsafeRawBufferPointer, _ index: inout Int, _ text: StaticString) -> Bool {
        let length = text.utf8CodeUnitCount
        guard index + length <= line.count, memcmp(line.baseAddress! + index, text.utf8Start, length) == 0 else {
            return false
        }
        index += length
        return true
    }

    /// Consumes a JSON integer (optional minus, 1–19 digits, no overflow) at `index`.
    @inline(__always)
    static func integer(_ line: UnsafeRawBufferPointer, _ index: inout Int) -> Int64? {
        var position = index
        let negative = position < line.count && line[position] == 0x2D
        if negative { position += 1 }
        let start = position
        var value: Int64 = 0
        while position < line.count, position - start < 19 {
            let digit = line[position] &- 0x30
            guard digit < 10 else { break }
            let (times, overflowed) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowedAgain) = times.addingReportingOverflow(Int64(digit))
            if overflowed || overflowedAgain { return nil }
            value = sum
            position += 1
        }
        guard position > start, position < line.count, line[position] &- 0x30 >= 10 else { return nil }
        index = position
        return negative ? -value : value
    }

    /// `start + length` when the claimed frame is the object's last value: it must close the
    /// bracket it opened and be followed only by the line's final `}`.
    @inline(__always)
    static func frameEndFromLength(_ line: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> Int? {
        let end = start + length
        guard end < line.count else { return nil }
        let opener = line[start]
        let closer = line[end - 1]
        guard
            (opener == JSONBytes.openBrace && closer == JSONBytes.closeBrace)
                || (opener == JSONBytes.openBracket && closer == JSONBytes.closeBracket)
        else { return nil }
        let brace = JSONBytes.skipSpace(line, end)
        guard brace < line.count, line[brace] == JSONBytes.closeBrace,
            JSONBytes.skipSpace(line, brace + 1) == line.count
        else { return nil }
        return end
    }

    private func fail(_ reason: String) -> TapeRecord? {
        lastError = reason
        return nil
    }

    private func ensureScratch(_ count: Int) {
        guard scratch.count < count else { return }
        scratch.deallocate()
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, scratch.count * 2), alignment: 16)
    }

    private func decodeText(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> UnsafeRawBufferPointer? {
        // Unescaping never grows the text, so the quoted length bounds the output.
        ensureScratch(range.count)
        let content = UnsafeRawBufferPointer(rebasing: line[(range.lowerBound + 1)..<(range.upperBound - 1)])
        if content.firstIndex(of: JSONBytes.backslash) == nil {
            UnsafeMutableRawBufferPointer(rebasing: scratch[0..<content.count]).copyMemory(from: content)
            return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[0..<content.count])
        }
        // Text frames with escapes are rare (keepalives are plain ASCII): decode via an array.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(content.count)
        guard JSONBytes.decodeString(line, range.lowerBound, into: &decoded) != nil else { return nil }
        decoded.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: scratch[0..<$0.count]).copyMemory(from: $0) }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[0..<decoded.count])
    }

    private func decodeBase64(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> UnsafeRawBufferPointer? {
        ensureScratch(range.count)
        var out = 0
        var accumulator: UInt32 = 0
        var bits = 0
        for index in (range.lowerBound + 1)..<(range.upperBound - 1) {
            let byte = line[index]
            let value: UInt32
            switch byte {
            case 0x41...0x5A: value = UInt32(byte - 0x41)
            case 0x61...0x7A: value = UInt32(byte - 0x61 + 26)
            case 0x30...0x39: value = UInt32(byte - 0x30 + 52)
            case 0x2B: value = 62
            case 0x2F: value = 63
            case 0x3D: continue
            default: return nil
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                scratch[out] = UInt8((accumulator >> UInt32(bits)) & 0xFF)
                out += 1
            }
        }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[0..<out])
    }
}

enum Base64 {
    static func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(alphabet[Int(value >> 6 & 63)])
            out.append(alphabet[Int(value & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let value = UInt32(bytes[index]) << 16
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(contentsOf: [0x3D, 0x3D])
        } else if rest == 2 {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(alphabet[Int(value >> 6 & 63)])
            out.append(0x3D)
        }
    }
}
