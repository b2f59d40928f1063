// Importers: convert captures people already have into tapes, so they can be replayed and
// verified too. The shape of each input is detected automatically.
import CZstd
import Foundation

/// The foreign capture layouts the importer understands.
public enum ImportShape: String, Sendable, CaseIterable {
    /// One raw frame per line (`PONG` and other text allowed). No receive time: the largest
    /// exchange `timestamp` in each frame is used, carried forward when a frame has none
    /// (with none at all, see `ImportTimeSource`).
    case rawFrames = "raw-frames"
    /// A whole file holding one (usually pretty-printed) JSON frame.
    case singleJSON = "single-json"
    /// Recorder records `{"t":<unix s>,"mono":<s>,"conn":"name","kind":"recv"|"open"|"sent"|"close"|...,"text":...}`.
    case timeKindText = "t-kind-text"
    /// Recorder records `{"payload":"<frame>","receive_wall_ms":...,"receive_monotonic_ns":...,"connection_epoch":...}`.
    case payloadReceiveWall = "payload-receive-wall"

    /// What the shape looks like, for messages.
    public var summary: String {
        switch self {
        case .rawFrames: "one raw frame per line; receive time taken from exchange timestamps where present"
        case .singleJSON: "one JSON frame in the whole file"
        case .timeKindText: "{\"t\",\"kind\",\"conn\",\"text\"} recorder records"
        case .payloadReceiveWall: "{\"payload\",\"receive_wall_ms\",\"receive_monotonic_ns\"} recorder records"
        }
    }
}

/// Where the times of one imported input come from. Most captures carry their own (receive
/// clocks or exchange `timestamp`s); a capture of bare frames (`[]`, `PONG`, unknown event
/// types) may carry none, and then every frame of it is stamped with one synthetic instant,
/// which the import reports so that the tape is never silently dated 1970.
public enum ImportTimeSource: Sendable, Equatable {
    /// The input's own receive or exchange times.
    case input
    /// No time in the input: frames stamped with the start time the caller gave (epoch ns).
    case startTime(Int64)
    /// No time in the input and no start time given: frames stamped with the input file's
    /// modification time (epoch ns, whole milliseconds).
    case fileModificationTime(Int64)
    /// Standard input with no time in it and no start time given: frames stamped with its
    /// modification time (epoch ns, whole milliseconds): a redirected file's, or for a pipe the
    /// time it was last written to.
    case standardInputTime(Int64)
    /// No time in the input, no start time given and no modification time readable: frames
    /// stamped with epoch 0 (1970-01-01).
    case unknown

    /// The instant the input's frames were stamped with, or nil when it had its own times.
    public var syntheticNs: Int64? {
        switch self {
        case .input: nil
        case .startTime(let ns), .fileModificationTime(let ns), .standardInputTime(let ns): ns
        case .unknown: 0
        }
    }

    /// Short name for reports: `input`, `start-time`, `file-modification-time`,
    /// `standard-input-time`, `unknown`.
    public var name: String {
        switch self {
        case .input: "input"
        case .startTime: "start-time"
        case .fileModificationTime: "file-modification-time"
        case .standardInputTime: "standard-input-time"
        case .unknown: "unknown"
        }
    }

    /// What the frames were stamped with, for messages and the tape header's notes.
    public var stampDescription: String {
        switch self {
        case .input: "the input's own times"
        case .startTime(let ns): "the given start time \(TapeFormat.iso8601(wallNs: ns))"
        case .fileModificationTime(let ns):
            "the file's modification time \(TapeFormat.iso8601(wallNs: ns)) (not when the frames were received)"
        case .standardInputTime(let ns):
            "the modification time of standard input \(TapeFormat.iso8601(wallNs: ns)) (for a pipe, when it was last "
                + "written to; not when the frames were received)"
        case .unknown: "1970-01-01T00:00:00.000Z (the file's modification time could not be read)"
        }
    }
}

/// What an import did, per input and in total.
public struct ImportReport: Sendable {
    public struct Input: Sendable {
        public var file: String
        public var shape: ImportShape
        public var frames: Int
        public var events: Int
        /// Lines that could not be used, with the reason.
        public var skipped: [TapeIssue]
        /// Where the frames' times come from; anything but `.input` means they are synthetic.
        public var timeSource: ImportTimeSource = .input
    }

    public var inputs: [Input] = []
    public var output: String = ""
    public var frames: Int { inputs.reduce(0) { $0 + $1.frames } }
    public var events: Int { inputs.reduce(0) { $0 + $1.events } }
    public var assets: [String] = []
}

/// Converts foreign captures into a tape; see `ImportShape` for the layouts.
public enum TapeImporter {
    /// One item in time order, ready to be written.
    enum Item {
        case frame([UInt8], recvNs: Int64, monoNs: Int64, conn: UInt32)
        case event(TapeEventKind, conn: UInt32, recvNs: Int64, monoNs: Int64, detail: TapeEventDetail)

        var recvNs: Int64 {
            switch self {
            case .frame(_, let recvNs, _, _): recvNs
            case .event(_, _, let recvNs, _, _): recvNs
            }
        }
    }

    /// Guesses the layout from the content of `file`. Refuses, with a message that says why,
    /// an empty file, a file that is already a tape, and content that is neither frames nor
    /// recorder records (a binary, a log): see `checkRawFrames`.
    public static func detectShape(_ bytes: [UInt8], file: String = "<input>") throws(TapeError) -> ImportShape {
        let bytes = withoutByteOrderMark(bytes)
        let lines = splitLines(bytes)
        guard let first = lines.first(where: { !$0.allSatisfy(JSONBytes.isSpace) }) else {
            throw .nothingToImport(file: file)
        }
        let firstIsValue = first.withUnsafeBytes { JSONBytes.isSingleValue($0) }
        if !firstIsValue {
            if bytes.withUnsafeBytes({ JSONBytes.isSingleValue($0) }) { return .singleJSON }
            try checkRawFrames(lines, file: file)
            return .rawFrames
        }
        let object = JSONObjectView(bytes: first)
        if object.string("kind") == "header", let format = object.string("format"), format.hasPrefix("polytape/") {
            throw .alreadyATape(file: file, format: format)
        }
        if object.range("payload") != nil, object.range("receive_wall_ms") != nil { return .payloadReceiveWall }
        if object.range("t") != nil, object.string("kind") != nil { return .timeKindText }
        if lines.count > 1, bytes.withUnsafeBytes({ JSONBytes.isSingleValue($0) }),
            lines.filter({ !$0.allSatisfy(JSONBytes.isSpace) }).count == 1
        {
            return .singleJSON
        }
        try checkRawFrames(lines, file: file)
        return .rawFrames
    }

    /// `bytes` without a leading UTF-8 byte-order mark (EF BB BF).
    static func withoutByteOrderMark(_ bytes: [UInt8]) -> [UInt8] {
        bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
    }

    /// `--shape single-json` takes the whole file as one frame. A file that is not one JSON value
    /// but holds several lines that each are one (NDJSON) would become one unparseable frame:
    /// refused, naming the shape that fits.
    static func checkSingleJSON(_ bytes: [UInt8], file: String) throws(TapeError) {
        guard !bytes.withUnsafeBytes({ JSONBytes.isSingleValue($0) }) else { return }
        let lines = splitLines(bytes).filter { !$0.allSatisfy(JSONBytes.isSpace) }
        let values = lines.filter { line in line.withUnsafeBytes { JSONBytes.isSingleValue($0) } }.count
        guard lines.count > 1, values > 1 else { return }
        throw .notACapture(
            file: file,
            reason: "--shape single-json takes the whole file as one frame, but it holds \(values) lines that are "
                + "each one JSON value (NDJSON); import it without --shape (or with --shape raw-frames)")
    }

    /// A raw-frame capture holds one JSON frame per line, with the odd `PING`/`PONG`
    /// keepalive in between. Anything where no line, or fewer than half of the non-empty
    /// lines, is such a frame is something else (a binary, a log, random bytes): importing it
    /// would give a tape of unparseable frames with made-up times, so it is refused.
    static func checkRawFrames(_ lines: [[UInt8]], file: String) throws(TapeError) {
        var nonEmpty = 0
        var json = 0
        var keepalives = 0
        var firstBad: (line: Int, bytes: [UInt8])?
        for (index, line) in lines.enumerated() where !line.allSatisfy(JSONBytes.isSpace) {
            nonEmpty += 1
            if line.withUnsafeBytes({ JSONBytes.isSingleValue($0) }) {
                json += 1
            } else if isKeepalive(line) {
                keepalives += 1
            } else if firstBad == nil {
                firstBad = (index + 1, line)
            }
        }
        guard json == 0 || (json + keepalives) * 2 < nonEmpty else { return }
        let bad = firstBad.map { "first bad line \($0.line): \(excerpt($0.bytes))" } ?? "only PING/PONG lines"
        let what = json == 0 ? "no line is JSON" : "only \(json) of \(nonEmpty) non-empty lines are JSON"
        throw .notACapture(file: file, reason: "\(what) (\(bad))")
    }

    /// `PING` or `PONG`, the feed's text keepalives, which raw-frame captures keep as frames.
    static func isKeepalive(_ line: [UInt8]) -> Bool {
        var trimmed = line[...]
        while let last = trimmed.last, JSONBytes.isSpace(last) { trimmed.removeLast() }
        while let head = trimmed.first, JSONBytes.isSpace(head) { trimmed.removeFirst() }
        return trimmed.elementsEqual("PING".utf8) || trimmed.elementsEqual("PONG".utf8)
    }

    /// The start of a line for a message (about `limit` characters): printable ASCII as is,
    /// other bytes as `\xNN`.
    static func excerpt(_ line: [UInt8], limit: Int = 40) -> String {
        var text = "\""
        var shown = 0
        for byte in line {
            guard text.utf8.count <= limit else { break }
            shown += 1
            switch byte {
            case 0x22: text += "\\\""
            case 0x5C: text += "\\\\"
            case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        text += shown < line.count ? "…\"" : "\""
        return text
    }

    /// A zstd-compressed input: a tape (refused, it needs no import) or something else. Looks at
    /// the bytes already read, so standard input (read once) is judged like a file.
    static func refuseCompressed(_ input: String, _ bytes: [UInt8]) throws(TapeError) -> Never {
        if let line = firstDecompressedLine(bytes) {
            let header: Result<TapeHeader, TapeError> = line.withUnsafeBytes { raw in
                Result { () throws(TapeError) in try TapeHeader.parse(line: raw, file: input) }
            }
            switch header {
            case .success(let header): throw .alreadyATape(file: input, format: header.format)
            case .failure(let error):
                if case .unsupportedFormat = error { throw error }
            }
        }
        let decompress = input == "-" ? "zstd -d -o CAPTURE" : "zstd -d \(input) -o CAPTURE"
        throw .notACapture(
            file: input,
            reason: "it is zstd-compressed but not a tape; decompress it first (\(decompress)) and import the result")
    }

    /// The first line of zstd-compressed bytes, decoded in memory (nil when they do not decode
    /// or the line is longer than 1 MiB).
    static func firstDecompressedLine(_ bytes: [UInt8]) -> [UInt8]? {
        guard let context = ZSTD_createDCtx() else { return nil }
        defer { ZSTD_freeDCtx(context) }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var line: [UInt8] = []
        return bytes.withUnsafeBytes { source -> [UInt8]? in
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            while line.count <= 1 << 20 {
                let before = inBuffer.pos
                let (result, produced) = chunk.withUnsafeMutableBytes { target -> (Int, Int) in
                    var outBuffer = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                    let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    return (result, outBuffer.pos)
                }
                guard ZSTD_isError(result) == 0 else { return nil }
                if let newline = chunk[0..<produced].firstIndex(of: 0x0A) { return line + chunk[0..<newline] }
                line += chunk[0..<produced]
                if produced == 0, inBuffer.pos == before { return line }
            }
            return nil
        }
    }

    /// Imports `inputs` (in order) into one tape at `output`, overwriting it atomically.
    /// The result is deterministic: the same inputs give a byte-identical tape (an input with
    /// no time at all is stamped with `startTimeNs`, else with its modification time, so give
    /// `startTimeNs` when that input may be touched between imports).
    /// - Parameters:
    ///   - shape: force a layout instead of detecting it.
    ///   - startTimeNs: epoch ns for the frames of inputs in which no receive or exchange time
    ///     is found; inputs with their own times are never re-timed. See `ImportTimeSource`.
    public static func importFiles(
        _ inputs: [String], to output: String, shape forcedShape: ImportShape? = nil, startTimeNs: Int64? = nil
    ) throws -> ImportReport {
        var report = ImportReport()
        report.output = output
        var items: [Item] = []
        var subscribed: [String] = []
        var observed: [String] = []
        var observedSet = Set<String>()
        var sideData: [String: AssetSideData] = [:]
        var connBase: UInt32 = 0
        for input in inputs {
            // "-" is standard input (read once, to its end), like the other tape commands.
            let read =
                input == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: input)
            guard let data = read else {
                if FileManager.default.fileExists(atPath: input) {
                    throw TapeError.io(path: input, operation: "read", errno: EACCES)
                }
                throw TapeError.fileNotFound(path: input)
            }
            // A UTF-8 byte-order mark (editors on Windows write one) is not part of the first line.
            let bytes = withoutByteOrderMark([UInt8](data))
            if bytes.starts(with: TapeFormat.zstdMagic) { try refuseCompressed(input, bytes) }
            let shape: ImportShape
            if let forcedShape {
                guard bytes.contains(where: { !JSONBytes.isSpace($0) }) else {
                    throw TapeError.nothingToImport(file: input)
                }
                // A forced shape skips detection, not the check that the lines are frames at all.
                if forcedShape == .rawFrames { try checkRawFrames(splitLines(bytes), file: input) }
                if forcedShape == .singleJSON { try checkSingleJSON(bytes, file: input) }
                shape = forcedShape
            } else {
                shape = try detectShape(bytes, file: input)
            }
            var parsed = Parsed()
            switch shape {
            case .rawFrames: parsed = parseRawFrames(bytes, file: input, conn: connBase)
            case .singleJSON: parsed = parseSingle(bytes, conn: connBase)
            case .timeKindText: parsed = parseTimeKindText(bytes, file: input, connBase: connBase)
            case .payloadReceiveWall: parsed = parsePayload(bytes, file: input, connBase: connBase)
            }
            guard parsed.frames > 0 else {
                throw TapeError.notACapture(
                    file: input, reason: "no frames found (detected shape: \(shape.rawValue), \(shape.summary))")
            }
            var timeSource = ImportTimeSource.input
            if !parsed.timed {
                if let startTimeNs {
                    timeSource = .startTime(startTimeNs)
                } else if input == "-", let writtenNs = standardInputTimeNs() {
                    timeSource = .standardInputTime(writtenNs)
                } else if input != "-", let modifiedNs = modificationTimeNs(input) {
                    timeSource = .fileModificationTime(modifiedNs)
                } else {
                    timeSource = .unknown
                }
                parsed.shiftTimes(by: timeSource.syntheticNs ?? 0)
            }
            connBase = parsed.nextConn
            items += parsed.items
            for asset in parsed.subscribed where !subscribed.contains(asset) { subscribed.append(asset) }
            for (asset, data) in parsed.sideData {
                var merged = sideData[asset] ?? AssetSideData()
                merged.market = merged.market ?? data.market
                merged.tickSize = merged.tickSize ?? data.tickSize
                sideData[asset] = merged
            }
            for item in parsed.items {
                guard case .frame(let frame, _, _, _) = item else { continue }
                _ = frame.withUnsafeBytes { raw in
                    FrameScan.forEachEvent(raw) { event in
                        for asset in event.assetIDs {
                            if observedSet.insert(asset).inserted { observed.append(asset) }
                            var data = sideData[asset] ?? AssetSideData()
                            if data.market == nil, let market = event.market { data.market = market }
                            if data.tickSize == nil, event.eventType == "book" || event.eventType.isEmpty,
                                let tick = event.tickSize
                            {
                                data.tickSize = tick
                            }
                            sideData[asset] = data
                        }
                    }
                }
            }
            report.inputs.append(
                ImportReport.Input(
                    file: input, shape: shape, frames: parsed.frames, events: parsed.events, skipped: parsed.skipped,
                    timeSource: timeSource))
        }
        var assets = subscribed
        for asset in observed where !subscribed.contains(asset) { assets.append(asset) }
        report.assets = assets
        let names = inputs.map { ($0 as NSString).lastPathComponent }
        let firstTime = items.map(\.recvNs).min() ?? 0
        var header = TapeHeader(
            createdNs: firstTime, source: "import:\(report.inputs[0].shape.rawValue):\(names.joined(separator: ","))",
            session: "import-\(TapeFormat.compactUTC(wallNs: firstTime))", assets: assets,
            sideData: sideData.filter { !$0.value.isEmpty })
        header.notes["importer"] = Set(report.inputs.map(\.shape.rawValue)).sorted().joined(separator: ",")
        header.notes["inputs"] = names.joined(separator: ",")
        // Only inputs without any time of their own get this note, so tapes imported from
        // timed captures keep exactly the header they always had.
        let synthetic = zip(names, report.inputs).filter { $0.1.timeSource != .input }
        if !synthetic.isEmpty {
            header.notes["synthetic_times"] = synthetic.map {
                "\($0.0): no receive or exchange time in the input; frames stamped with \($0.1.timeSource.stampDescription)"
            }.joined(separator: "; ")
        }
        var options = TapeWriterOptions(destination: .file(output, overwrite: true))
        // Imports are batch jobs: flush only at the end so the output depends on the data alone.
        options.flushIntervalNs = Int64.max / 2
        options.compressionLevel = 19
        let writer = try TapeWriter(options: options, header: header, nowWallNs: firstTime, nowMonoNs: 0)
        for item in items {
            switch item {
            case .frame(let frame, let recvNs, let monoNs, let conn):
                try writer.writeFrame(frame, recvWallNs: recvNs, monoNs: monoNs, conn: conn)
            case .event(let kind, let conn, let recvNs, let monoNs, let detail):
                try writer.writeEvent(kind, conn: conn, recvWallNs: recvNs, monoNs: monoNs, detail: detail)
            }
        }
        try writer.close()
        return report
    }

    struct Parsed {
        var items: [Item] = []
        var frames = 0
        var events = 0
        var skipped: [TapeIssue] = []
        var subscribed: [String] = []
        var sideData: [String: AssetSideData] = [:]
        var nextConn: UInt32 = 0
        /// False when the input held no time at all: the items' times are then relative to 0
        /// and get shifted to a synthetic start (`shiftTimes`).
        var timed = true

        mutating func shiftTimes(by offsetNs: Int64) {
            items = items.map { item in
                switch item {
                case .frame(let bytes, let recvNs, let monoNs, let conn):
                    .frame(bytes, recvNs: recvNs + offsetNs, monoNs: monoNs + offsetNs, conn: conn)
                case .event(let kind, let conn, let recvNs, let monoNs, let detail):
                    .event(kind, conn: conn, recvNs: recvNs + offsetNs, monoNs: monoNs + offsetNs, detail: detail)
                }
            }
        }

        mutating func frame(_ bytes: [UInt8], recvNs: Int64, monoNs: Int64, conn: UInt32) {
            items.append(.frame(bytes, recvNs: recvNs, monoNs: monoNs, conn: conn))
            frames += 1
        }

        mutating func event(
            _ kind: TapeEventKind, conn: UInt32, recvNs: Int64, monoNs: Int64, detail: TapeEventDetail
        ) {
            items.append(.event(kind, conn: conn, recvNs: recvNs, monoNs: monoNs, detail: detail))
            events += 1
        }
    }

    /// The file's modification time in epoch ns, cut to whole milliseconds like the times
    /// imports take from exchange timestamps; nil when it cannot be read or is before 1970.
    static func modificationTimeNs(_ path: String) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let date = attributes[.modificationDate] as? Date
        else { return nil }
        let ms = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard ms >= 0, ms < Double(Int64.max / 1_000_000) else { return nil }
        return Int64(ms) * 1_000_000
    }

    /// The modification time of standard input (`fstat`), cut to whole milliseconds: a file
    /// redirected into it gives its modification time, a pipe the time it was last written to.
    static func standardInputTimeNs() -> Int64? {
        var info = stat()
        guard fstat(0, &info) == 0 else { return nil }
        let ms = Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
        guard ms > 0, ms < Int64.max / 1_000_000 else { return nil }
        return ms * 1_000_000
    }

    static func splitLines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 0x0A {
            var end = index
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            lines.append(Array(bytes[start..<end]))
            start = index + 1
        }
        if start < bytes.count { lines.append(Array(bytes[start...])) }
        return lines
    }

    static func parseRawFrames(_ bytes: [UInt8], file: String, conn: UInt32) -> Parsed {
        var parsed = Parsed()
        let frames = splitLines(bytes).filter { !$0.allSatisfy(JSONBytes.isSpace) }
        let stamps = frames.map { frame in frame.withUnsafeBytes { FrameScan.maxTimestampMs($0) } }
        // Frames before the first timestamped one take its time; with no timestamp at all the
        // times stay 0 and the caller stamps them (see `ImportTimeSource`).
        let first = stamps.compactMap { $0 }.first
        parsed.timed = first != nil
        var carried = first ?? 0
        var mono: Int64 = 0
        for (frame, stamp) in zip(frames, stamps) {
            if let stamp { carried = stamp }
            let recv = carried * 1_000_000
            mono = max(mono, recv)
            parsed.frame(frame, recvNs: recv, monoNs: mono, conn: conn)
        }
        parsed.nextConn = conn + 1
        return parsed
    }

    static func parseSingle(_ bytes: [UInt8], conn: UInt32) -> Parsed {
        var parsed = Parsed()
        var end = bytes.count
        while end > 0, JSONBytes.isSpace(bytes[end - 1]) { end -= 1 }
        let frame = Array(bytes[0..<end])
        let stamp = frame.withUnsafeBytes { FrameScan.maxTimestampMs($0) }
        parsed.timed = stamp != nil
        let recv = (stamp ?? 0) * 1_000_000
        parsed.frame(frame, recvNs: recv, monoNs: recv, conn: conn)
        parsed.nextConn = conn + 1
        return parsed
    }

    static func parseTimeKindText(_ bytes: [UInt8], file: String, connBase: UInt32) -> Parsed {
        var parsed = Parsed()
        var connIDs: [String: UInt32] = [:]
        var open = Set<UInt32>()
        func connID(_ name: String) -> UInt32 {
            if let id = connIDs[name] { return id }
            let id = connBase + UInt32(connIDs.count)
            connIDs[name] = id
            return id
        }
        for (index, line) in splitLines(bytes).enumerated() where !line.allSatisfy(JSONBytes.isSpace) {
            let record = JSONObjectView(bytes: line)
            guard line.withUnsafeBytes({ JSONBytes.isSingleValue($0) }), let kind = record.string("kind"),
                let recv = record.nanos("t")
            else {
                parsed.skipped.append(TapeIssue(file: file, line: index + 1, reason: "not a {t, kind} record"))
                continue
            }
            let mono = record.nanos("mono") ?? recv
            let name = record.string("conn") ?? ""
            if kind == "note" {
                // Recorder notes may carry market metadata: token ids per condition id.
                if let markets = record.raw("markets") {
                    markets.withUnsafeBytes { raw in
                        var position = JSONBytes.skipSpace(raw, 1)
                        while position < raw.count, raw[position] == JSONBytes.openBrace {
                            guard let end = JSONBytes.skipValue(raw, position) else { break }
                            let market = JSONObjectView(bytes: Array(raw[position..<end]))
                            let tokens = market.raw("token_ids").map(JSONArrayOfStrings.decode) ?? []
                            for token in tokens {
                                parsed.sideData[token, default: AssetSideData()].market = market.string("condition_id")
                            }
                            position = JSONBytes.skipSpace(raw, end)
                            if position < raw.count, raw[position] == JSONBytes.comma {
                                position = JSONBytes.skipSpace(raw, position + 1)
                            }
                        }
                    }
                }
                continue
            }
            let conn = connID(name)
            let connectedIfNew = {
                if !open.contains(conn) {
                    open.insert(conn)
                    parsed.event(
                        .connected, conn: conn, recvNs: recv, monoNs: mono, detail: TapeEventDetail(name: name))
                }
            }
            switch kind {
            case "open":
                open.remove(conn)
                connectedIfNew()
            case "recv":
                guard let text = record.stringBytes("text") else {
                    parsed.skipped.append(TapeIssue(file: file, line: index + 1, reason: "recv record without text"))
                    continue
                }
                connectedIfNew()
                parsed.frame(text, recvNs: recv, monoNs: mono, conn: conn)
            case "sent":
                guard let text = record.string("text"), text.contains("assets_ids") else { continue }
                connectedIfNew()
                let message = JSONObjectView(bytes: Array(text.utf8))
                let assets = message.raw("assets_ids").map(JSONArrayOfStrings.decode) ?? []
                for asset in assets where !parsed.subscribed.contains(asset) { parsed.subscribed.append(asset) }
                parsed.event(
                    .subscribed, conn: conn, recvNs: recv, monoNs: mono,
                    detail: TapeEventDetail(name: name, assets: assets, text: text))
            case "close", "error":
                var detail = TapeEventDetail(name: name)
                if let received = record.raw("rcvd") {
                    let object = JSONObjectView(bytes: received)
                    detail.closeCode = object.int("code").map { Int($0) }
                    detail.reason = object.string("reason")
                }
                if kind == "error" { detail.error = record.string("error") ?? record.string("text") ?? "error" }
                open.remove(conn)
                parsed.event(.disconnected, conn: conn, recvNs: recv, monoNs: mono, detail: detail)
            case "reconnect", "reconnecting":
                parsed.event(.reconnecting, conn: conn, recvNs: recv, monoNs: mono, detail: TapeEventDetail(name: name))
            default:
                continue
            }
        }
        parsed.nextConn = connBase + UInt32(max(connIDs.count, 1))
        return parsed
    }

    static func parsePayload(_ bytes: [UInt8], file: String, connBase: UInt32) -> Parsed {
        var parsed = Parsed()
        var epochs: [Int64: UInt32] = [:]
        for (index, line) in splitLines(bytes).enumerated() where !line.allSatisfy(JSONBytes.isSpace) {
            let record = JSONObjectView(bytes: line)
            guard line.withUnsafeBytes({ JSONBytes.isSingleValue($0) }), let payload = record.stringBytes("payload"),
                let wallMs = record.int("receive_wall_ms")
            else {
                parsed.skipped.append(
                    TapeIssue(file: file, line: index + 1, reason: "not a {payload, receive_wall_ms} record"))
                continue
            }
            let recv = wallMs * 1_000_000
            let mono = record.int("receive_monotonic_ns") ?? recv
            let epoch = record.int("connection_epoch") ?? 0
            let conn: UInt32
            if let known = epochs[epoch] {
                conn = known
            } else {
                conn = connBase + UInt32(epochs.count)
                epochs[epoch] = conn
                parsed.event(
                    .connected, conn: conn, recvNs: recv, monoNs: mono,
                    detail: TapeEventDetail(name: "connection_epoch \(epoch)"))
            }
            parsed.frame(payload, recvNs: recv, monoNs: mono, conn: conn)
        }
        parsed.nextConn = connBase + UInt32(max(epochs.count, 1))
        return parsed
    }
}
