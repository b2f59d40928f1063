// The bookkeeping of one replay: what was read, filtered, invalidated and where problems were.
import Book
import Engine
import Feed
import Foundation
import Tape
import Verify

/// Per-frame context and filters, carried inside `PipelineSink` while the parser runs.
struct PipelineFilter {
    /// `--assets`: only events for these assets are routed (nil: all).
    var assets: Set<String>? {
        didSet { selection = assets.map { AssetSelection(assets: $0) } }
    }
    /// The markets of the `--assets` (AssetSelection's rule, shared with `replay tape cat|slice`):
    /// trades of their other tokens go to their books as market trades.
    var selection: AssetSelection?
    /// `--from`/`--to` on the exchange clock, in ms (nil: no bound).
    var fromMs: Int64?
    var toMs: Int64?
    /// True while frames before `--from` are applied to build book state without pacing.
    var warmup = false
    var connection: UInt32 = 0
    var line = 0
    var messages = 0
    /// Events with an asset that passed the asset and exchange-time filters.
    var admitted = 0
    /// The `--assets` that had at least one admitted event (to name the ones that had none).
    var matchedAssets: Set<String> = []
    var filteredOut = 0
    var unknownEventTypes: [String: Int] = [:]
    var lastError: FeedError?
    /// Assets whose books arrived on each connection: invalidated if that connection breaks.
    var booksByConnection: [UInt32: Set<String>] = [:]
    /// Every asset a book arrived for (for fetching final levels).
    var bookAssets: Set<String> = []
    /// Whether to remember assets per connection (only needed when the tape has events).
    var trackConnections = true

    @inline(__always)
    mutating func admits(_ assetID: UnsafeRawBufferPointer, timestampMs: Int64) -> Bool {
        if let toMs, timestampMs > toMs {
            filteredOut += 1
            return false
        }
        if let assets {
            let id = String(decoding: assetID, as: UTF8.self)
            guard assets.contains(id) else {
                filteredOut += 1
                return false
            }
            if matchedAssets.count < assets.count { matchedAssets.insert(id) }
        }
        messages += 1
        admitted += 1
        return true
    }
}

/// Wraps the router: applies the filters, counts, remembers which connection delivered which
/// books, and forwards every admitted event. Generic code paths only: no existentials.
struct PipelineSink: FeedSink {
    var router: Router
    var filter: PipelineFilter

    mutating func onBook(_ event: BookEvent) {
        guard filter.admits(event.assetID, timestampMs: event.timestampMs) else { return }
        if filter.selection != nil, !event.market.isEmpty {
            filter.selection?.learn(
                bookOf: String(decoding: event.assetID, as: UTF8.self),
                market: String(decoding: event.market, as: UTF8.self))
        }
        if filter.trackConnections {
            let asset = String(decoding: event.assetID, as: UTF8.self)
            filter.booksByConnection[filter.connection, default: []].insert(asset)
            filter.bookAssets.insert(asset)
        }
        router.onBook(event)
    }

    mutating func onPriceChange(_ event: PriceChangeEvent) {
        guard filter.admits(event.assetID, timestampMs: event.timestampMs) else { return }
        router.onPriceChange(event)
    }

    mutating func onLastTrade(_ event: LastTradeEvent) {
        if filter.admits(event.assetID, timestampMs: event.timestampMs) {
            router.onLastTrade(event)
            return
        }
        // A trade of the other token of an `--assets` market: the market's last trade price is
        // in the kept token's exchange hash, so its book takes the price (a market trade).
        if let selection = filter.selection, !event.market.isEmpty,
            filter.toMs.map({ event.timestampMs <= $0 }) ?? true,
            selection.markets.contains(String(decoding: event.market, as: UTF8.self))
        {
            router.onMarketTrade(event)
        }
    }

    mutating func onTickSizeChange(_ event: TickSizeChangeEvent) {
        guard filter.admits(event.assetID, timestampMs: event.timestampMs) else { return }
        router.onTickSizeChange(event)
    }

    mutating func onBestBidAsk(_ event: BestBidAskEvent) {
        guard filter.admits(event.assetID, timestampMs: event.timestampMs) else { return }
        router.onBestBidAsk(event)
    }

    mutating func onOther(_ event: OtherEvent) {
        if event.kind == .unknown {
            let name = event.eventType.isEmpty ? "(none)" : String(decoding: event.eventType, as: UTF8.self)
            filter.unknownEventTypes[name, default: 0] += 1
        }
        filter.messages += 1
        router.onOther(event)
    }

    mutating func onControl(_ frame: ControlFrame) {
        router.onControl(frame)
    }

    mutating func onError(_ error: FeedError) {
        filter.lastError = error
        router.onError(error)
    }
}

/// Everything the run loop accumulates, and the report built from it at the end.
struct PipelineState {
    let options: RunOptions
    var line = 0
    var frames = 0
    var bytes = 0
    var stopped = false
    /// True when SIGINT/SIGTERM cut the run short.
    var interrupted = false
    /// Set when a worker died, stalled or went silent: the report says `failed`, and why.
    var failure: String?
    /// Where SIGINT/SIGTERM cut the run short (file and line), for the report's status reasons.
    var interruptedAt: String?
    /// `--from`/`--to` or `--assets` that selected nothing, `--assets` ids never seen, segments
    /// out of time order or of different sessions: each told as a warning while running and
    /// listed in the report's status reasons.
    var inputProblems: [String] = []
    var sideDataSent = false
    var headerAssets: [String] = []
    var summary = FrameSummary()
    var parseIssues: [RunReport.MalformedLine] = []
    var parseIssueCount = 0
    /// Tape lines of a kind this version does not know: skipped, counted, the first few listed.
    var unknownKindLines: [RunReport.MalformedLine] = []
    var unknownKindCount = 0
    /// `--strict` stopped the run at this torn tail or corrupt data: the failure names it, so it
    /// is not repeated among the status reasons.
    var strictStop: TornTail?
    /// Subscribed assets per connection, from `subscribed` event lines.
    var subscribedByConnection: [UInt32: Set<String>] = [:]
    /// Asset → why and from which line its book became untrusted (last such event).
    var invalidated: [String: (reason: String, line: Int)] = [:]
    var connectionEvents: [String: Int] = [:]
    /// Connection breaks seen since the last frame: (assets, reason, line, kind).
    var pendingInvalidations: [(assets: [String], reason: String, line: Int, kind: TapeEventKind)] = []

    init(options: RunOptions) {
        self.options = options
    }

    mutating func recordParseIssue(file: String, line: Int, error: FeedError) {
        parseIssueCount += 1
        if parseIssues.count < 100 {
            parseIssues.append(RunReport.MalformedLine(file: file, line: line, reason: "frame: \(error)"))
        }
    }

    mutating func recordUnknownKind(file: String, line: Int, kind: UnsafeRawBufferPointer) {
        unknownKindCount += 1
        if unknownKindLines.count < 100 {
            unknownKindLines.append(
                RunReport.MalformedLine(
                    file: file, line: line, reason: "unknown kind \"\(String(decoding: kind, as: UTF8.self))\""))
        }
    }

    /// Invalidates the books of every connection break seen since the last frame; called before
    /// the next frame is routed.
    mutating func applyPendingInvalidations(sink: inout PipelineSink) throws {
        for pending in pendingInvalidations {
            try sink.router.invalidate(assetIDs: pending.assets)
            for asset in pending.assets where invalidated[asset] == nil || pending.kind != .reconnecting {
                invalidated[asset] = (pending.reason, pending.line)
            }
        }
        pendingInvalidations.removeAll()
    }

    /// Connection lifecycle lines: a break (disconnected, reconnecting, gap) makes the books of
    /// that connection's assets untrusted until their next snapshot.
    mutating func handle(event: TapeEvent, sink: inout PipelineSink, file: String) throws {
        let name = event.kind?.rawValue ?? String(decoding: event.name, as: UTF8.self)
        connectionEvents[name, default: 0] += 1
        guard let kind = event.kind else { return }
        switch kind {
        case .subscribed:
            let detail = TapeEventDetail.parse(event.detail)
            if let assets = detail.assets {
                subscribedByConnection[event.conn, default: []].formUnion(assets)
            }
        case .disconnected, .reconnecting, .gap:
            var assets = subscribedByConnection[event.conn] ?? []
            assets.formUnion(sink.filter.booksByConnection[event.conn] ?? [])
            if assets.isEmpty { assets = Set(headerAssets) }
            if let filter = options.assets { assets.formIntersection(filter) }
            guard !assets.isEmpty else { return }
            // Applied when the next frame arrives: a break at the very end of a tape (a capture
            // that was stopped) loses nothing the tape holds, so it leaves the books trusted.
            pendingInvalidations.append(
                (assets.sorted(), "connection \(event.conn) \(name) at line \(line)", line, kind))
            sink.filter.booksByConnection[event.conn] = nil
        case .connected:
            break
        }
    }

    func makeReport(
        files: [String], reader: ReadAheadTape, digest: String, sink: PipelineSink, result: RunResult,
        lateness: LatencyHistogram?, wallSeconds: Double
    ) -> RunReport {
        var messagesByType: [String: Int] = [
            "book": summary.books, "price_change": summary.priceChanges, "last_trade_price": summary.lastTrades,
            "tick_size_change": summary.tickSizeChanges, "best_bid_ask": summary.bestBidAsks,
            "other": summary.others - summary.unknownEventTypes, "unknown": summary.unknownEventTypes,
        ]
        messagesByType = messagesByType.filter { $0.value > 0 }
        var malformed = reader.report.issues.map {
            RunReport.MalformedLine(file: $0.file, line: $0.line, reason: $0.reason)
        }
        malformed += parseIssues
        // Tape-level and frame-level problems come from two places: list them in tape order.
        let fileOrder = Dictionary(files.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        malformed = malformed.enumerated().sorted { a, b in
            let left = (fileOrder[a.element.file] ?? Int.max, a.element.line, a.offset)
            let right = (fileOrder[b.element.file] ?? Int.max, b.element.line, b.offset)
            return left < right
        }.map(\.element)
        var input = RunReport.InputStats(
            frames: frames, messagesByType: messagesByType, bytes: bytes,
            compressedBytes: Int(reader.report.compressedBytes),
            malformedLineCount: reader.report.malformedLines + parseIssueCount, malformedLines: malformed,
            tornTails: reader.report.tornTails.map {
                var torn = RunReport.TornTail(
                    file: $0.file, lastGoodLine: $0.lastGoodLine, droppedLineBytes: $0.droppedLineBytes,
                    droppedCompressedBytes: $0.droppedCompressedBytes)
                if $0.corrupt {
                    torn.corruptAt = $0.offset ?? -1
                    torn.resumedAt = $0.resumedAt
                }
                return torn
            },
            unknownEventTypes: sink.filter.unknownEventTypes)
        if !stopped && !interrupted && failure == nil {
            input.endedWithFooter = reader.report.endedWithFooter
        }
        if unknownKindCount > 0 {
            input.unknownKindCount = unknownKindCount
            input.unknownKindLines = unknownKindLines
        }

        var workers: [RunReport.Worker] = []
        var assetDigests: [String: String] = [:]
        var untrusted: [RunReport.UntrustedBook] = []
        var hash = RunReport.ExchangeHashSummary()
        var firstDivergence: (timestamp: Int64, divergence: RunReport.HashDivergence)?
        for worker in result.workers {
            let counters = worker.counters
            let books = worker.books.map(Self.bookEntry)
            for book in worker.books {
                assetDigests[book.assetID] = book.digest
                if !book.trusted {
                    let why = invalidated[book.assetID]
                    untrusted.append(
                        RunReport.UntrustedBook(
                            assetID: book.assetID, reason: why?.reason ?? "no snapshot was ever received for it",
                            sinceLine: why?.line))
                }
            }
            hash.checked += counters.exchangeHashChecked
            hash.verified += counters.exchangeHashVerified
            hash.verifiedLate += counters.exchangeHashVerifiedLate
            hash.mismatchedTransient += counters.exchangeHashMismatchedTransient
            hash.diverged += counters.exchangeHashDiverged
            hash.unverifiable += counters.exchangeHashUnverifiable
            for (reason, count) in counters.exchangeHashUnverifiableReasons {
                hash.unverifiableReasons[reason, default: 0] += count
            }
            if let asset = counters.firstDivergenceAssetID, let timestamp = counters.firstDivergenceTimestampMs,
                firstDivergence == nil || timestamp < firstDivergence!.timestamp
            {
                firstDivergence = (
                    timestamp,
                    RunReport.HashDivergence(
                        assetID: asset, line: counters.firstDivergenceLine ?? 0, timestampMs: timestamp)
                )
            }
            let latency = worker.latency
            workers.append(
                RunReport.Worker(
                    index: worker.index, pid: worker.pid, exit: Self.exit(worker.exit),
                    messagesProcessed: Int(worker.stats.messagesProcessed),
                    snapshots: Int(worker.stats.snapshotsReceived), updates: Int(worker.stats.updatesApplied),
                    trades: Int(worker.stats.lastTrades), bookCount: worker.stats.bookCount,
                    memoryBytes: worker.stats.residentBytes, avgProcessingMicros: worker.stats.avgProcessingTimeMicros,
                    latency: latency.count == 0
                        ? nil
                        : RunReport.Latency(
                            p50: Double(latency.p50) / 1000, p99: Double(latency.p99) / 1000,
                            p999: Double(latency.p999) / 1000, max: Double(latency.max) / 1000),
                    counters: Self.deterministicCounters(counters), books: books))
        }
        hash.firstDivergence = firstDivergence?.divergence

        let routed = Double(result.router?.routed ?? 0)
        let throughput = RunReport.Throughput(
            messagesPerSecond: wallSeconds > 0 ? routed / wallSeconds : 0,
            megabytesPerSecond: wallSeconds > 0 ? Double(bytes) / 1e6 / wallSeconds : 0, wallSeconds: wallSeconds)
        let pacing = lateness.map {
            RunReport.Pacing(
                p50: Double($0.quantile(0.5)) / 1000, p99: Double($0.quantile(0.99)) / 1000,
                max: Double($0.max) / 1000)
        }
        // REPORT_FORMAT.md: books a connection break left untrusted make the verdict `warnings`.
        // Books that only ever had header side data (never a snapshot, e.g. assets outside
        // --assets) are listed but are no warning.
        let brokenBooks = untrusted.filter { $0.sinceLine != nil }.count
        var reasons: [String] = []
        if let failure { reasons.append(failure) }
        if let interruptedAt { reasons.append("interrupted at \(interruptedAt): the report covers what was replayed") }
        reasons += inputProblems
        // A run cut short before its first frame has its failure as the reason, not the tape; an
        // empty selection is already named among the input problems.
        if frames == 0, failure == nil, interruptedAt == nil, inputProblems.isEmpty {
            reasons.append(
                options.fromNs == nil && options.toNs == nil && options.assets == nil
                    ? "the tape holds no frames: nothing was replayed"
                    : "no frame of the tape was selected (--from/--to, --assets): nothing was replayed")
        }
        if input.malformedLineCount > 0, let first = input.malformedLines.first {
            reasons.append(
                VerificationText.count(input.malformedLineCount, "malformed line")
                    + " (first: \(first.file):\(first.line))")
        }
        for (torn, damage) in zip(input.tornTails, reader.report.tornTails) where damage != strictStop {
            if let offset = torn.corruptAt, offset >= 0 {
                reasons.append("corrupt data in \(torn.file) at compressed byte \(offset) (\(torn.position))")
            } else if torn.corruptAt != nil {
                reasons.append("corrupt data in \(torn.file) \(torn.position)")
            } else {
                reasons.append("torn tail in \(torn.file) \(torn.position)")
            }
        }
        if hash.diverged > 0 {
            reasons.append(
                VerificationText.count(hash.diverged, "exchange-hash divergence")
                    + (hash.firstDivergence.map { " (first: asset \($0.assetID) at tape line \($0.line))" } ?? ""))
        }
        if brokenBooks > 0 {
            reasons.append(
                VerificationText.count(brokenBooks, "book") + " untrusted after a connection break")
        }
        for (counter, singular, plural) in [
            ("crossedBooks", "crossed book", "crossed books"),
            (
                "topOfBookMismatches", "top-of-book mismatch with the exchange",
                "top-of-book mismatches with the exchange"
            ),
            (
                "deltasBeforeSnapshot", "price change for a book that had no snapshot yet (that book is incomplete)",
                "price changes for books that had no snapshot yet (those books are incomplete)"
            ),
        ] {
            let total = workers.reduce(0) { $0 + $1.counters[counter, default: 0] }
            if total > 0 { reasons.append(VerificationText.count(total, singular, plural: plural)) }
        }
        let status: RunReport.Status =
            failure != nil || interruptedAt != nil ? .failed : reasons.isEmpty ? .ok : .warnings
        return RunReport(
            tape: RunReport.TapeIdentity(
                paths: files, contentDigest: digest, digestAlgorithm: ContentDigest.algorithm, frameCount: frames),
            options: RunReport.Options(options), input: input, workers: workers,
            router: result.router?.namedCounts ?? [:], throughput: throughput, pacing: pacing,
            untrustedBooks: untrusted.sorted { $0.assetID < $1.assetID }, exchangeHash: hash,
            assetDigests: assetDigests, status: status, statusReasons: reasons)
    }

    static func bookEntry(_ book: BookSummary) -> RunReport.BookEntry {
        var levels: RunReport.BookLevels?
        if let bids = book.bids, let asks = book.asks {
            levels = RunReport.BookLevels(
                bids: bids.map { RunReport.Level(price: $0.first ?? "", size: $0.last ?? "") },
                asks: asks.map { RunReport.Level(price: $0.first ?? "", size: $0.last ?? "") })
        }
        return RunReport.BookEntry(
            assetID: book.assetID, market: book.market, digest: book.digest, bestBid: book.bestBid,
            bestAsk: book.bestAsk, bidLevels: book.bidLevels, askLevels: book.askLevels, tickSize: book.tickSize,
            lastTradePrice: book.lastTradePrice, trusted: book.trusted, hashStatus: book.hashStatus,
            lastTimestampMs: book.lastTimestampMs,
            lastChangeLines: book.lastChangeLine > 0
                ? RunReport.LineRange(first: book.snapshotLine, last: book.lastChangeLine) : nil,
            levels: levels)
    }

    static func exit(_ reason: ExitReason) -> RunReport.WorkerExit {
        switch reason {
        case .exited(let status): status == 0 ? .normal : .status(status)
        case .signaled(let signal): .signal(signal)
        }
    }

    /// The integer counters of `BookCounters`, by name. Every one is a function of the tape,
    /// the options and the worker count, so goldens compare them exactly.
    static func deterministicCounters(_ counters: BookCounters) -> [String: Int] {
        guard let data = try? JSONEncoder().encode(counters),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        var result: [String: Int] = [:]
        for (key, value) in object {
            if let number = value as? Int { result[key] = number }
        }
        // Which worker verifies a hash late versus at once depends on how a market's two tokens
        // are split across workers; the sum does not.
        result["exchangeHashVerifiedAny"] =
            counters.exchangeHashVerified + counters.exchangeHashVerifiedLate
        for key in [
            "exchangeHashVerified", "exchangeHashVerifiedLate", "sideDataRecovered", "firstDivergenceLine",
            "firstDivergenceTimestampMs",
        ] {
            result[key] = nil
        }
        return result
    }
}
