// Whole-tape operations behind `replay tape info|slice|repair`: they read tapes, write
// tapes and return reports; printing is the command's job.

/// Everything `replay tape info` shows about a tape.
public struct TapeSummary: Sendable {
    public var header: TapeHeader?
    public var read = TapeReadReport()
    /// Receive clock span (epoch ns) and exchange clock span (epoch ms) over all frames.
    public var firstRecvNs: Int64?
    public var lastRecvNs: Int64?
    public var firstExchangeMs: Int64?
    public var lastExchangeMs: Int64?
    /// Event objects inside frames by `event_type` ("" for objects without one).
    public var eventTypes: [String: Int] = [:]
    /// Frames that are not JSON (keepalives and the like), by text (first 16 bytes).
    public var textFrames: [String: Int] = [:]
    /// Connection events by kind name.
    public var connectionEvents: [String: Int] = [:]
    /// Connection ids that carried frames or events.
    public var connections: [UInt32] = []
    /// Asset ids seen in frames, in order of first appearance.
    public var assetsSeen: [String] = []
    public var syntheticFrames = 0
    public var warmupFrames = 0

    /// Gaps: explicit gap events plus disconnections (book state is untrustworthy after both).
    public var gaps: Int { (connectionEvents["gap"] ?? 0) + (connectionEvents["disconnected"] ?? 0) }

    /// NDJSON bytes per file byte.
    public var compressionRatio: Double {
        read.compressedBytes > 0 ? Double(read.decompressedBytes) / Double(read.compressedBytes) : 0
    }

    public init() {}

    /// Reads the whole tape once and summarizes it.
    public static func compute(paths: [String], options: TapeReaderOptions = TapeReaderOptions()) throws -> TapeSummary
    {
        let reader = try TapeReader(paths: paths, options: options)
        var summary = TapeSummary()
        var connectionSet = Set<UInt32>()
        var assetSet = Set<String>()
        while let record = try reader.next() {
            switch record {
            case .frame(let frame):
                if summary.firstRecvNs == nil { summary.firstRecvNs = frame.recvWallNs }
                summary.firstRecvNs = min(summary.firstRecvNs ?? frame.recvWallNs, frame.recvWallNs)
                summary.lastRecvNs = max(summary.lastRecvNs ?? frame.recvWallNs, frame.recvWallNs)
                if connectionSet.insert(frame.conn).inserted { summary.connections.append(frame.conn) }
                if frame.synthetic { summary.syntheticFrames += 1 }
                if frame.warmup { summary.warmupFrames += 1 }
                let isJSON = FrameScan.forEachEvent(frame.bytes) { event in
                    summary.eventTypes[event.eventType, default: 0] += 1
                    if let stamp = event.timestampMs {
                        summary.firstExchangeMs = min(summary.firstExchangeMs ?? stamp, stamp)
                        summary.lastExchangeMs = max(summary.lastExchangeMs ?? stamp, stamp)
                    }
                    for asset in event.assetIDs where assetSet.insert(asset).inserted {
                        summary.assetsSeen.append(asset)
                    }
                }
                if !isJSON {
                    summary.textFrames[String(decoding: frame.bytes.prefix(16), as: UTF8.self), default: 0] += 1
                }
            case .event(let event):
                summary.connectionEvents[String(decoding: event.name, as: UTF8.self), default: 0] += 1
                if connectionSet.insert(event.conn).inserted { summary.connections.append(event.conn) }
            default:
                break
            }
        }
        summary.header = reader.header
        summary.read = reader.report
        return summary
    }
}

/// What `slice` and `repair` wrote and dropped.
public struct TapeCopyReport: Sendable {
    public var output: String = ""
    public var framesRead = 0
    public var framesWritten = 0
    public var warmupFrames = 0
    public var eventsWritten = 0
    /// The input's read report: torn tails and skipped lines are what was dropped.
    public var read = TapeReadReport()
}

/// Cuts a time window and/or an asset subset out of a tape into a new tape.
///
/// Book state needs a snapshot: for each kept asset, frames from its latest `book` before
/// the window start up to the window are kept too, marked `"warmup":true`, so a replay of
/// the slice rebuilds exactly the books the window starts from. Frames are copied whole
/// and byte-exact (a frame that touches a kept asset is kept with all its events).
public enum TapeSlicer {
    public static func slice(
        inputs: [String], output: String, assets: Set<String>?, fromNs: Int64?, toNs: Int64?
    ) throws -> TapeCopyReport {
        let start = fromNs ?? Int64.min
        let end = toNs ?? Int64.max
        // Pass 1: index of each kept asset's latest book frame before the window.
        var latestBook: [String: Int] = [:]
        var frameIndex = 0
        if fromNs != nil {
            let reader = try TapeReader(paths: inputs)
            try reader.forEachFrame { frame in
                defer { frameIndex += 1 }
                guard frame.recvWallNs < start else { return }
                FrameScan.forEachEvent(frame.bytes) { event in
                    guard event.eventType == "book" || event.eventType.isEmpty else { return }
                    for asset in event.assetIDs where assets?.contains(asset) ?? true {
                        latestBook[asset] = frameIndex
                    }
                }
            }
        }
        // Pass 2: copy.
        let reader = try TapeReader(paths: inputs)
        var report = TapeCopyReport()
        report.output = output
        var writer: TapeWriter?
        frameIndex = 0
        var firstWrittenRecv: Int64?
        var pendingEvents: [(TapeEventKind, UInt32, Int64, Int64, TapeEventDetail)] = []
        while let record = try reader.next() {
            switch record {
            case .header:
                guard writer == nil, var header = reader.header else { continue }
                if let assets { header.assets = header.assets.filter { assets.contains($0) } }
                if let assets { header.sideData = header.sideData.filter { assets.contains($0.key) } }
                header.segment = 1
                header.notes["sliced_from"] = header.session
                header.notes["slice"] =
                    "from=\(fromNs.map(String.init) ?? "start") to=\(toNs.map(String.init) ?? "end") assets="
                    + (assets.map { "\($0.count)" } ?? "all")
                var options = TapeWriterOptions(destination: .file(output, overwrite: true))
                options.flushIntervalNs = Int64.max / 2
                writer = try TapeWriter(options: options, header: header, nowWallNs: header.createdNs, nowMonoNs: 0)
            case .frame(let frame):
                defer { frameIndex += 1 }
                report.framesRead += 1
                guard let writer, frame.recvWallNs <= end else { continue }
                var touched = false
                var warm = false
                let isJSON = FrameScan.forEachEvent(frame.bytes) { event in
                    for asset in event.assetIDs where assets?.contains(asset) ?? true {
                        touched = true
                        if let index = latestBook[asset], frameIndex >= index { warm = true }
                    }
                }
                if !isJSON, assets == nil { touched = true }
                let inWindow = frame.recvWallNs >= start
                guard touched, inWindow || warm else { continue }
                if firstWrittenRecv == nil {
                    firstWrittenRecv = frame.recvWallNs
                    for event in pendingEvents {
                        try writer.writeEvent(
                            event.0, conn: event.1, recvWallNs: event.2, monoNs: event.3, detail: event.4)
                        report.eventsWritten += 1
                    }
                }
                try writer.writeFrame(
                    frame.bytes, recvWallNs: frame.recvWallNs, monoNs: frame.monoNs, conn: frame.conn, seq: frame.seq,
                    synthetic: frame.synthetic, warmup: !inWindow)
                report.framesWritten += 1
                if !inWindow { report.warmupFrames += 1 }
            case .event(let event):
                guard let writer, let kind = event.kind, event.recvWallNs <= end else { continue }
                let detail = TapeEventDetail.parse(event.detail)
                if firstWrittenRecv == nil {
                    // Connection events before the first kept frame are rare and cheap: keep them all.
                    pendingEvents.append((kind, event.conn, event.recvWallNs, event.monoNs, detail))
                    continue
                }
                try writer.writeEvent(
                    kind, conn: event.conn, recvWallNs: event.recvWallNs, monoNs: event.monoNs, detail: detail)
                report.eventsWritten += 1
            default:
                continue
            }
        }
        guard let writer else { throw TapeError.notATape(file: inputs.first ?? "-", reason: "no header found") }
        try writer.close()
        report.read = reader.report
        return report
    }
}

/// Rewrites a damaged tape (torn tail, malformed lines, several segments) into one clean
/// tape with a footer, keeping every readable record byte-exact (with its original
/// receive times, connection ids and sequence numbers).
public enum TapeRepairer {
    public static func repair(inputs: [String], output: String) throws -> TapeCopyReport {
        let reader = try TapeReader(paths: inputs)
        var report = TapeCopyReport()
        report.output = output
        var writer: TapeWriter?
        while let record = try reader.next() {
            switch record {
            case .header:
                guard writer == nil, var header = reader.header else { continue }
                header.segment = 1
                header.notes["repaired_from"] = header.session
                var options = TapeWriterOptions(destination: .file(output, overwrite: true))
                options.flushIntervalNs = Int64.max / 2
                writer = try TapeWriter(options: options, header: header, nowWallNs: header.createdNs, nowMonoNs: 0)
            case .frame(let frame):
                report.framesRead += 1
                try writer?.writeFrame(
                    frame.bytes, recvWallNs: frame.recvWallNs, monoNs: frame.monoNs, conn: frame.conn, seq: frame.seq,
                    synthetic: frame.synthetic, warmup: frame.warmup)
                report.framesWritten += 1
            case .event(let event):
                guard let kind = event.kind else { continue }
                try writer?.writeEvent(
                    kind, conn: event.conn, recvWallNs: event.recvWallNs, monoNs: event.monoNs,
                    detail: TapeEventDetail.parse(event.detail))
                report.eventsWritten += 1
            default:
                continue
            }
        }
        guard let writer else { throw TapeError.notATape(file: inputs.first ?? "-", reason: "no header found") }
        try writer.close()
        report.read = reader.report
        return report
    }
}
