// Whole-tape operations behind `replay tape info|slice|repair`: they read tapes, write
// tapes and return reports; printing is the command's job.
public import Feed

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
    /// Connection ids that carried frames or a `connected` event (conn 0 of a capture's failed
    /// connect attempts and `reconnecting` events is no connection).
    public var connections: [UInt32] = []
    /// Asset ids seen in frames, in order of first appearance.
    public var assetsSeen: [String] = []
    public var syntheticFrames = 0
    public var warmupFrames = 0
    /// The Feed parser's totals over every frame: books, price_change level changes, trades,
    /// tick-size changes, best_bid_ask, other and unknown event types, parse errors.
    public var feed = FrameSummary()
    /// Frames the Feed parser found malformed (their envelope is a valid tape line).
    public var malformedFrames = 0
    /// The first `maxIssuesKept` malformed frames: file, line and the parser's reason.
    public var malformedFrameIssues: [TapeIssue] = []
    public static let maxIssuesKept = 10

    /// Breaks in the recording, each counted once: a `gap` event, or a `disconnected` of a live
    /// connection that is not a clean close. A capture writes `disconnected` and then `gap` for
    /// one lost connection: that is one gap. Book state is untrustworthy after each.
    public var gaps = 0
    /// `disconnected` events with close code 1000 and no `gap` after them: the recorder closed
    /// the connection itself (a capture stopped with Ctrl-C, `--duration`). Not gaps.
    public var cleanCloses = 0

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
        var parser = FeedParser()
        // A connection's `disconnected` not yet followed by its `gap` (a capture writes both for
        // one lost connection), and whether it was a clean close (code 1000).
        var openBreaks: [UInt32: Bool] = [:]
        func settle(_ conn: UInt32) {
            guard let clean = openBreaks.removeValue(forKey: conn) else { return }
            if clean { summary.cleanCloses += 1 } else { summary.gaps += 1 }
        }
        while let record = try reader.next() {
            switch record {
            case .frame(let frame):
                settle(frame.conn)
                if summary.firstRecvNs == nil { summary.firstRecvNs = frame.recvWallNs }
                summary.firstRecvNs = min(summary.firstRecvNs ?? frame.recvWallNs, frame.recvWallNs)
                summary.lastRecvNs = max(summary.lastRecvNs ?? frame.recvWallNs, frame.recvWallNs)
                if connectionSet.insert(frame.conn).inserted { summary.connections.append(frame.conn) }
                var sink = FirstErrorSink()
                let parsed = parser.parse(frame.bytes, into: &sink)
                summary.feed.accumulate(parsed)
                if parsed.malformed {
                    summary.malformedFrames += 1
                    if summary.malformedFrameIssues.count < maxIssuesKept {
                        summary.malformedFrameIssues.append(
                            TapeIssue(
                                file: reader.currentFile, line: reader.currentLineNumber,
                                reason: "frame does not parse: \(sink.firstError.map { "\($0)" } ?? "malformed")"))
                    }
                }
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
                switch event.kind {
                case .connected:
                    settle(event.conn)
                    if connectionSet.insert(event.conn).inserted { summary.connections.append(event.conn) }
                case .disconnected where connectionSet.contains(event.conn):
                    settle(event.conn)
                    openBreaks[event.conn] = TapeEventDetail.parse(event.detail).closeCode == 1000
                case .gap:
                    // The gap of a lost connection closes its `disconnected`: one break.
                    openBreaks[event.conn] = nil
                    summary.gaps += 1
                default:
                    break
                }
            default:
                break
            }
        }
        for conn in Array(openBreaks.keys) { settle(conn) }
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
    /// Lines of a kind (or an event name) this version does not know, copied verbatim (repair):
    /// a newer writer's records, kept for forward compatibility; the first one's file and line.
    public var unknownLinesKept = 0
    public var firstUnknownLine: TapeIssue?
    /// Frames kept whose bytes the Feed parser finds malformed (repair works on tape lines and
    /// keeps frame bytes exact); the first one's file and line, with the parser's reason.
    public var malformedFramesKept = 0
    public var firstMalformedFrame: TapeIssue?
}

/// A `FeedSink` that keeps only the first error of a frame (for messages).
struct FirstErrorSink: FeedSink {
    var firstError: FeedError?
    mutating func onBook(_ event: BookEvent) {}
    mutating func onPriceChange(_ event: PriceChangeEvent) {}
    mutating func onError(_ error: FeedError) { if firstError == nil { firstError = error } }
}

/// Cuts a time window and/or an asset subset out of a tape into a new tape.
///
/// Assets are selected as `AssetSelection` says (the rule `replay tape cat` and `replay run`
/// use): a frame with events or `price_changes` entries of other assets is cut down to the kept
/// ones (the kept bytes are copied exactly), a sibling token's trades are kept.
///
/// Book state needs a snapshot: for each kept asset, its events from its latest `book` before
/// the window start up to the window are kept too, marked `"warmup":true`, and so are the
/// trades of its market from the earliest such `book` of the market's kept tokens on (plus the
/// market's last trade before that), so a replay of the slice starts the window with exactly
/// the books and last trade prices the full tape had. A warm-up frame is cut down to those
/// events: an event of an asset before the asset's own latest snapshot would be applied to a
/// stale book (or to none) and is left out.
public enum TapeSlicer {
    public static func slice(
        inputs: [String], output: String, assets: Set<String>?, fromNs: Int64?, toNs: Int64?
    ) throws -> TapeCopyReport {
        let start = fromNs ?? Int64.min
        let end = toNs ?? Int64.max
        var selection = AssetSelection(assets: assets)
        // Pass 1: each kept asset's latest book frame before the window, and each market's trades.
        var latestBook: [String: Int] = [:]
        var assetMarket: [String: String] = [:]
        var tradeFrames: [String: [Int]] = [:]
        var frameIndex = 0
        if fromNs != nil {
            let reader = try TapeReader(paths: inputs)
            try reader.forEachFrame { frame in
                defer { frameIndex += 1 }
                guard frame.recvWallNs < start else { return }
                FrameScan.forEachEvent(frame.bytes) { event in
                    if event.eventType == "book" || event.eventType.isEmpty {
                        for asset in event.assetIDs where selection.keeps(asset: asset) {
                            latestBook[asset] = frameIndex
                            if let market = event.market {
                                assetMarket[asset] = market
                                selection.learn(bookOf: asset, market: market)
                            }
                        }
                    } else if event.eventType == "last_trade_price", let market = event.market {
                        tradeFrames[market, default: []].append(frameIndex)
                    }
                }
            }
            if let header = reader.header {
                selection.learn(sideData: header.sideData)
                for (asset, side) in header.sideData where assetMarket[asset] == nil {
                    assetMarket[asset] = side.market
                }
            }
        }
        // A market's warm-up starts at the earliest latest-book of its kept tokens; its last
        // trade before that sets the price its books are hashed with until the next trade.
        var marketWarmStart: [String: Int] = [:]
        for (asset, index) in latestBook {
            guard let market = assetMarket[asset] else { continue }
            marketWarmStart[market] = min(marketWarmStart[market] ?? index, index)
        }
        var lastTradeBeforeWarmup: [String: Int] = [:]
        for (market, frames) in tradeFrames {
            let warmStart = marketWarmStart[market] ?? Int.max
            if let last = frames.last(where: { $0 < warmStart }) { lastTradeBeforeWarmup[market] = last }
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
                selection.learn(sideData: header.sideData)
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
                let inWindow = frame.recvWallNs >= start
                let layout = FrameLayout.scan(frame.bytes)
                let outcome: FrameCutOutcome
                if !layout.isJSON {
                    outcome = inWindow && assets == nil ? .exact : .skip
                } else if inWindow {
                    outcome = layout.apply(selection.cuts(layout), to: frame.bytes)
                } else {
                    let index = frameIndex
                    let cuts = selection.cuts(
                        layout,
                        admitAsset: { asset in latestBook[asset].map { index >= $0 } ?? false },
                        admitTrade: { event in
                            guard let market = event.market else {
                                return event.assetIDs.first.flatMap { latestBook[$0] }.map { index >= $0 } ?? false
                            }
                            return index >= marketWarmStart[market] ?? Int.max || lastTradeBeforeWarmup[market] == index
                        },
                        keepAssetless: false)
                    outcome = layout.apply(cuts, to: frame.bytes)
                }
                if outcome == .skip { continue }
                if firstWrittenRecv == nil {
                    firstWrittenRecv = frame.recvWallNs
                    for event in pendingEvents {
                        try writer.writeEvent(
                            event.0, conn: event.1, recvWallNs: event.2, monoNs: event.3, detail: event.4)
                        report.eventsWritten += 1
                    }
                }
                try outcome.withKeptBytes(of: frame.bytes) { bytes in
                    try writer.writeFrame(
                        bytes, recvWallNs: frame.recvWallNs, monoNs: frame.monoNs, conn: frame.conn, seq: frame.seq,
                        synthetic: frame.synthetic, warmup: !inWindow)
                }
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
        var parser = FeedParser()
        var lastMonoNs: Int64 = 0
        func keepVerbatim(reason: String) throws {
            report.unknownLinesKept += 1
            if report.firstUnknownLine == nil {
                report.firstUnknownLine = TapeIssue(
                    file: reader.currentFile, line: reader.currentLineNumber, reason: reason)
            }
            try writer?.writeVerbatimLine(reader.currentLine, monoNs: lastMonoNs)
        }
        while let record = try reader.next() {
            switch record {
            case .unknown(let kind, _):
                try keepVerbatim(reason: "unknown kind \"\(String(decoding: kind, as: UTF8.self))\"")
            case .header:
                guard writer == nil, var header = reader.header else { continue }
                header.segment = 1
                header.notes["repaired_from"] = header.session
                var options = TapeWriterOptions(destination: .file(output, overwrite: true))
                options.flushIntervalNs = Int64.max / 2
                writer = try TapeWriter(options: options, header: header, nowWallNs: header.createdNs, nowMonoNs: 0)
            case .frame(let frame):
                report.framesRead += 1
                lastMonoNs = frame.monoNs
                var errors = FirstErrorSink()
                if parser.parse(frame.bytes, into: &errors).malformed {
                    report.malformedFramesKept += 1
                    if report.firstMalformedFrame == nil {
                        report.firstMalformedFrame = TapeIssue(
                            file: reader.currentFile, line: reader.currentLineNumber,
                            reason: errors.firstError.map { "\($0)" } ?? "malformed frame")
                    }
                }
                try writer?.writeFrame(
                    frame.bytes, recvWallNs: frame.recvWallNs, monoNs: frame.monoNs, conn: frame.conn, seq: frame.seq,
                    synthetic: frame.synthetic, warmup: frame.warmup)
                report.framesWritten += 1
            case .event(let event):
                lastMonoNs = event.monoNs
                guard let kind = event.kind else {
                    try keepVerbatim(reason: "unknown event \"\(String(decoding: event.name, as: UTF8.self))\"")
                    continue
                }
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
