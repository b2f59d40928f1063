// The run report: everything one `replay run` measured and produced, as plain Codable values.
// Verify deliberately owns this model instead of importing Engine or Book result types, so the
// golden format and the comparison do not change when those modules add fields; the replay
// pipeline copies its results into it. Counters are string-keyed maps encoded with sorted
// keys, so a new counter needs no schema change. docs/REPORT_FORMAT.md documents every field.
public import Foundation

/// Everything one replay run produced: the tape it read, the options that shape results, input
/// statistics, each worker's stats and final books, timing, exchange-hash checks, per-asset
/// digests and an overall status. Encoded as pretty-printed JSON with sorted keys (see
/// `jsonData()`), it is the input of `replay verify` and the source of golden files.
public struct RunReport: Codable, Sendable, Equatable {
    /// The schema this version writes and reads.
    public static let currentSchema = "polytape-report/1"

    /// Always `polytape-report/1` for this layout.
    public var schema: String
    public var tape: TapeIdentity
    public var options: Options
    public var input: InputStats
    public var workers: [Worker]
    /// Router counters (routed, blocked-on-full, dropped, batches...): informational, never in goldens.
    public var router: [String: Int]
    public var throughput: Throughput?
    /// Lateness against the recorded schedule; absent at max speed (nothing to be late for).
    public var pacing: Pacing?
    /// Books left untrustworthy by connection gaps or invalidations.
    public var untrustedBooks: [UntrustedBook]
    public var exchangeHash: ExchangeHashSummary
    /// Asset id → canonical book digest (hex). Independent of worker count and routing.
    public var assetDigests: [String: String]
    public var status: Status
    /// Why the status is not `ok`, one short sentence each (empty when `ok`; absent in reports
    /// written before this field existed).
    public var statusReasons: [String]?
    /// Where the time went (seconds), for benchmarks that name the bottleneck. Never compared.
    public var stages: Stages?
    /// `--check-invariance`: the same tape replayed with another worker count. Never compared.
    public var invariance: Invariance?

    /// The result of `--check-invariance`.
    public struct Invariance: Codable, Sendable, Equatable {
        /// This run's worker count and the other run's.
        public var workers: Int
        public var otherWorkers: Int
        /// Assets compared, and the differences (empty when every final book is identical).
        public var assets: Int
        public var differences: [String]
        public init(workers: Int, otherWorkers: Int, assets: Int, differences: [String]) {
            self.workers = workers
            self.otherWorkers = otherWorkers
            self.assets = assets
            self.differences = differences
        }
    }

    public init(
        tape: TapeIdentity, options: Options, input: InputStats = InputStats(), workers: [Worker],
        router: [String: Int] = [:], throughput: Throughput? = nil, pacing: Pacing? = nil,
        untrustedBooks: [UntrustedBook] = [], exchangeHash: ExchangeHashSummary = ExchangeHashSummary(),
        assetDigests: [String: String], status: Status = .ok, statusReasons: [String]? = nil
    ) {
        self.statusReasons = statusReasons
        self.schema = Self.currentSchema
        self.tape = tape
        self.options = options
        self.input = input
        self.workers = workers
        self.router = router
        self.throughput = throughput
        self.pacing = pacing
        self.untrustedBooks = untrustedBooks
        self.exchangeHash = exchangeHash
        self.assetDigests = assetDigests
        self.status = status
    }

    /// Pretty-printed JSON with sorted keys and a trailing newline: the same report always gives
    /// the same bytes.
    public func jsonData() throws -> Data {
        try StableJSON.encode(self)
    }

    /// Decodes a report, naming `source` (a file path or "standard input") in any error.
    /// Throws `VerifyError.malformed` for invalid JSON or missing fields and
    /// `VerifyError.wrongFormat` for another schema.
    public static func decode(from data: Data, source: String = "report") throws -> RunReport {
        let schema = try StableJSON.peekString(key: "schema", in: data, source: source, what: "run report")
        guard schema == currentSchema else {
            let found =
                schema
                ?? (try? StableJSON.peekString(key: "format", in: data, source: source, what: "run report"))
                .flatMap { $0.map { "\($0) (a golden file, not a run report: are REPORT and GOLDEN swapped?)" } }
                ?? "(no schema field)"
            throw VerifyError.wrongFormat(path: source, what: "run report", found: found, expected: currentSchema)
        }
        return try StableJSON.decode(RunReport.self, from: data, source: source, what: "run report")
    }

    /// Reads and decodes a report file.
    public static func load(_ path: String) throws -> RunReport {
        try decode(from: StableJSON.read(path, what: "run report"), source: path)
    }
}

extension RunReport {
    /// Seconds spent in each stage of the pipeline. The router thread's time splits into reading
    /// (decompression and line splitting; with the read-ahead thread, only the time spent waiting
    /// for it), parsing and routing (including record encoding and, with read-ahead, the
    /// per-frame bookkeeping) and waiting for ring space; workers report the time they spent
    /// applying messages.
    public struct Stages: Codable, Sendable, Equatable {
        public var readSeconds: Double
        public var parseRouteSeconds: Double
        public var routerBlockedSeconds: Double
        public var pacingWaitSeconds: Double
        /// Sum over workers of the time spent applying messages.
        public var workerApplySeconds: Double
        /// The busiest worker's apply time.
        public var maxWorkerApplySeconds: Double
        public var wallSeconds: Double
        /// CPU seconds of this process and of its (reaped) worker processes.
        public var routerCPUSeconds: Double
        public var workersCPUSeconds: Double

        public init(
            readSeconds: Double, parseRouteSeconds: Double, routerBlockedSeconds: Double, pacingWaitSeconds: Double,
            workerApplySeconds: Double, maxWorkerApplySeconds: Double, wallSeconds: Double, routerCPUSeconds: Double,
            workersCPUSeconds: Double
        ) {
            self.readSeconds = readSeconds
            self.parseRouteSeconds = parseRouteSeconds
            self.routerBlockedSeconds = routerBlockedSeconds
            self.pacingWaitSeconds = pacingWaitSeconds
            self.workerApplySeconds = workerApplySeconds
            self.maxWorkerApplySeconds = maxWorkerApplySeconds
            self.wallSeconds = wallSeconds
            self.routerCPUSeconds = routerCPUSeconds
            self.workersCPUSeconds = workersCPUSeconds
        }
    }

    /// Which tape a run read: its files, a digest of its content and its frame count. Two runs of
    /// the same recorded frames have the same digest even if the files were renamed or recompressed.
    public struct TapeIdentity: Codable, Sendable, Equatable {
        /// The tape files as given on the command line, in replay order (informational).
        public var paths: [String]
        /// Lowercase hex digest of the concatenated decompressed tape lines (each with its LF).
        public var contentDigest: String
        /// The algorithm of `contentDigest`: `xxh64` from `replay run`; `sha256` or `sha1` from other producers.
        public var digestAlgorithm: String
        /// Frame lines read (header, footer and connection-event lines excluded).
        public var frameCount: Int

        public init(paths: [String], contentDigest: String, digestAlgorithm: String = "sha256", frameCount: Int) {
            self.paths = paths
            self.contentDigest = contentDigest
            self.digestAlgorithm = digestAlgorithm
            self.frameCount = frameCount
        }
    }

    /// The run options. `workers`, `routing`, `backpressure`, `assetFilter` and `timeWindow` can
    /// change results; `speed` cannot (determinism), but decides whether pacing lateness applies.
    public struct Options: Codable, Sendable, Equatable {
        public var workers: Int
        /// Routing function name as given to `replay run --routing` (`md5`: compatible with the reference system; `jump`).
        public var routing: String
        /// `block` (lossless, default) or `drop` (live-like; results may vary run to run).
        public var backpressure: String
        /// `max`, or a multiplier of the recorded speed (`1x`, `10x`, `0.5x`; a bare `1` is accepted too).
        public var speed: String
        /// Only these assets were replayed; nil means all.
        public var assetFilter: [String]?
        /// Only frames received inside this window were replayed; nil means the whole tape.
        public var timeWindow: TimeWindow?
        /// `on` or `off`: whether workers checked the exchange's book hashes (absent in reports
        /// written before this field existed).
        public var exchangeHash: String?

        public init(
            workers: Int, routing: String = "md5", backpressure: String = "block", speed: String = "max",
            assetFilter: [String]? = nil, timeWindow: TimeWindow? = nil, exchangeHash: String? = nil
        ) {
            self.workers = workers
            self.routing = routing
            self.backpressure = backpressure
            self.speed = speed
            self.assetFilter = assetFilter
            self.timeWindow = timeWindow
            self.exchangeHash = exchangeHash
        }

        /// True when the run was paced at exactly the recorded speed (1×). Accepts `1`, `1x`, `1.0×`.
        public var isRecordedSpeed: Bool {
            var text = Substring(speed)
            if text.hasSuffix("x") || text.hasSuffix("×") { text = text.dropLast() }
            guard let multiplier = Double(text) else { return false }
            return multiplier == 1
        }
    }

    /// The replayed time window in nanoseconds since the Unix epoch, either end open, on the
    /// clock named by `basis` (`receive`: the tape's receive wall clock; `exchange`: the
    /// exchange's own timestamps).
    public struct TimeWindow: Codable, Sendable, Equatable, CustomStringConvertible {
        public var fromNs: Int64?
        public var toNs: Int64?
        public var basis: String
        public init(fromNs: Int64? = nil, toNs: Int64? = nil, basis: String = "receive") {
            self.fromNs = fromNs
            self.toNs = toNs
            self.basis = basis
        }
        public var description: String {
            "\(fromNs.map(String.init) ?? "start")..\(toNs.map(String.init) ?? "end") ns (\(basis) clock)"
        }
    }

    /// What the reader saw in the tape before routing.
    public struct InputStats: Codable, Sendable, Equatable {
        public var frames: Int
        /// Event type (`book`, `price_change`, ...) → messages; array frames count each element.
        public var messagesByType: [String: Int]
        /// Decompressed bytes read.
        public var bytes: Int
        /// Compressed bytes read, when the tape was compressed.
        public var compressedBytes: Int?
        /// Total malformed lines; `malformedLines` may hold only the first few.
        public var malformedLineCount: Int
        public var malformedLines: [MalformedLine]
        /// Segments whose end was cut off (crash while writing), with what was dropped.
        public var tornTails: [TornTail]
        /// Event types the reader did not know → messages (ignored, counted).
        public var unknownEventTypes: [String: Int]
        /// Whether the tape's last line is a footer (the recorder closed it cleanly). Absent when
        /// the run did not read to the end (interrupted, failed, stopped by `--to`) and in reports
        /// written before the field existed. Informational; never compared with goldens.
        public var endedWithFooter: Bool?
        /// Tape lines with a `kind` this version does not know (a newer writer's additions): skipped
        /// and counted, as docs/TAPE_FORMAT.md says. Absent when there were none. Informational;
        /// never compared with goldens.
        public var unknownKindCount: Int?
        /// The first few of them: `file`, `line`, and the kind as `reason` (`unknown kind "zebra"`).
        public var unknownKindLines: [MalformedLine]?

        public init(
            frames: Int = 0, messagesByType: [String: Int] = [:], bytes: Int = 0, compressedBytes: Int? = nil,
            malformedLineCount: Int = 0, malformedLines: [MalformedLine] = [], tornTails: [TornTail] = [],
            unknownEventTypes: [String: Int] = [:]
        ) {
            self.frames = frames
            self.messagesByType = messagesByType
            self.bytes = bytes
            self.compressedBytes = compressedBytes
            self.malformedLineCount = malformedLineCount
            self.malformedLines = malformedLines
            self.tornTails = tornTails
            self.unknownEventTypes = unknownEventTypes
        }
    }

    /// One tape line the reader could not use, and why.
    public struct MalformedLine: Codable, Sendable, Equatable {
        public var file: String
        /// 1-based line number within `file`.
        public var line: Int
        public var reason: String
        public init(file: String, line: Int, reason: String) {
            self.file = file
            self.line = line
            self.reason = reason
        }
    }

    /// A segment whose tail was torn (writer killed mid-write): what was dropped after the last
    /// good line.
    public struct TornTail: Codable, Sendable, Equatable {
        public var file: String
        /// `droppedLineBytes + droppedCompressedBytes` (kept for older readers: it adds text and
        /// compressed bytes, so prefer the two fields below).
        public var droppedBytes: Int
        /// 1-based number of the last complete line kept.
        public var lastGoodLine: Int
        /// Decompressed bytes of the incomplete last line (text).
        public var droppedLineBytes: Int?
        /// Compressed bytes after the last complete zstd block, which could not be decoded; for
        /// corrupt data, the compressed bytes skipped.
        public var droppedCompressedBytes: Int?
        /// Present only for corrupt compressed data (not a torn tail): the byte offset in the file
        /// of the first compressed byte whose lines were lost.
        public var corruptAt: Int64?
        /// Corrupt data only: the byte offset of the zstd frame where reading resumed (absent when
        /// the rest of the segment was lost).
        public var resumedAt: Int64?

        /// Where the damage is: "after line N", or "before its first line" when no line was read.
        public var position: String {
            lastGoodLine == 0 ? "before its first line" : "after line \(lastGoodLine)"
        }

        public init(file: String, droppedBytes: Int, lastGoodLine: Int) {
            self.file = file
            self.droppedBytes = droppedBytes
            self.lastGoodLine = lastGoodLine
        }

        public init(file: String, lastGoodLine: Int, droppedLineBytes: Int, droppedCompressedBytes: Int) {
            self.init(file: file, droppedBytes: droppedLineBytes + droppedCompressedBytes, lastGoodLine: lastGoodLine)
            self.droppedLineBytes = droppedLineBytes
            self.droppedCompressedBytes = droppedCompressedBytes
        }
    }

    /// How a worker process ended. Encoded as a string: `normal`, `signal 9`, `status 2`.
    public enum WorkerExit: Codable, Sendable, Equatable, CustomStringConvertible {
        /// Exited with status 0 after draining.
        case normal
        /// Killed by this signal number.
        case signal(Int32)
        /// Exited with this non-zero status.
        case status(Int32)

        public var description: String {
            switch self {
            case .normal: "normal"
            case .signal(let number): "signal \(number)"
            case .status(let code): "status \(code)"
            }
        }

        /// Parses `normal`, `signal N` or `status N`.
        public init?(text: String) {
            let words = text.split(separator: " ")
            switch (words.first, words.count) {
            case ("normal", 1): self = .normal
            case ("signal", 2): guard let n = Int32(words[1]) else { return nil }; self = .signal(n)
            case ("status", 2): guard let n = Int32(words[1]) else { return nil }; self = n == 0 ? .normal : .status(n)
            default: return nil
            }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let exit = WorkerExit(text: text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "worker exit must be 'normal', 'signal N' or 'status N', not '\(text)'"
                )
            }
            self = exit
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// One worker process: how it ended, what it processed, its timing and its final books.
    public struct Worker: Codable, Sendable, Equatable {
        public var index: Int
        public var pid: Int32
        public var exit: WorkerExit
        public var messagesProcessed: Int
        public var snapshots: Int
        public var updates: Int
        public var trades: Int
        /// Books held at the end.
        public var bookCount: Int
        /// Resident set size at the end, in bytes.
        public var memoryBytes: Int?
        public var avgProcessingMicros: Double?
        /// Router → worker latency.
        public var latency: Latency?
        /// Deterministic correctness counters (book counters, exchange-hash counts...). Only counts
        /// that depend on the tape and the result-affecting options belong here: they are compared
        /// exactly against goldens.
        public var counters: [String: Int]
        /// Final books, one per asset this worker owned.
        public var books: [BookEntry]

        public init(
            index: Int, pid: Int32 = 0, exit: WorkerExit = .normal, messagesProcessed: Int, snapshots: Int,
            updates: Int,
            trades: Int, bookCount: Int, memoryBytes: Int? = nil, avgProcessingMicros: Double? = nil,
            latency: Latency? = nil, counters: [String: Int] = [:], books: [BookEntry] = []
        ) {
            self.index = index
            self.pid = pid
            self.exit = exit
            self.messagesProcessed = messagesProcessed
            self.snapshots = snapshots
            self.updates = updates
            self.trades = trades
            self.bookCount = bookCount
            self.memoryBytes = memoryBytes
            self.avgProcessingMicros = avgProcessingMicros
            self.latency = latency
            self.counters = counters
            self.books = books
        }
    }

    /// Latency percentiles in microseconds.
    public struct Latency: Codable, Sendable, Equatable {
        public var p50: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        public init(p50: Double, p99: Double, p999: Double, max: Double) {
            self.p50 = p50
            self.p99 = p99
            self.p999 = p999
            self.max = max
        }
    }

    /// A 1-based, inclusive range of tape line numbers (counted across segments in replay order).
    public struct LineRange: Codable, Sendable, Equatable, CustomStringConvertible {
        public var first: Int
        public var last: Int
        public init(first: Int, last: Int) {
            self.first = first
            self.last = last
        }
        public var description: String { first == last ? "tape line \(first)" : "tape lines \(first)–\(last)" }
    }

    /// One price level with the exchange's own strings.
    public struct Level: Codable, Sendable, Equatable, CustomStringConvertible {
        public var price: String
        public var size: String
        public init(price: String, size: String) {
            self.price = price
            self.size = size
        }
        public var description: String { "\(price) × \(size)" }
    }

    /// A book's levels, each side ordered best first (bids descending, asks ascending).
    public struct BookLevels: Codable, Sendable, Equatable {
        public var bids: [Level]
        public var asks: [Level]
        public init(bids: [Level], asks: [Level]) {
            self.bids = bids
            self.asks = asks
        }
    }

    /// A worker's final book for one asset: its canonical digest, top of book and level counts,
    /// plus optional context (levels, where it last changed) that makes a difference explainable.
    public struct BookEntry: Codable, Sendable, Equatable {
        public var assetID: String
        public var market: String
        /// Canonical book digest (hex), as computed by the Book module.
        public var digest: String
        /// Best bid price string; nil when the bid side is empty.
        public var bestBid: String?
        public var bestAsk: String?
        public var bidLevels: Int
        public var askLevels: Int
        public var tickSize: String?
        public var lastTradePrice: String?
        /// False after a connection gap or invalidation until a new snapshot arrived.
        public var trusted: Bool
        /// Exchange-hash status of the final book (e.g. `verified`, `diverged`, `unverifiable`).
        public var hashStatus: String
        public var lastTimestampMs: Int64?
        /// Tape lines of the first and last message that changed the book in its final epoch.
        public var lastChangeLines: LineRange?
        /// Full levels; the pipeline may attach them (e.g. for books that differ) to show the first
        /// differing levels.
        public var levels: BookLevels?

        public init(
            assetID: String, market: String = "", digest: String, bestBid: String?, bestAsk: String?, bidLevels: Int,
            askLevels: Int, tickSize: String? = nil, lastTradePrice: String? = nil, trusted: Bool = true,
            hashStatus: String = "verified", lastTimestampMs: Int64? = nil, lastChangeLines: LineRange? = nil,
            levels: BookLevels? = nil
        ) {
            self.assetID = assetID
            self.market = market
            self.digest = digest
            self.bestBid = bestBid
            self.bestAsk = bestAsk
            self.bidLevels = bidLevels
            self.askLevels = askLevels
            self.tickSize = tickSize
            self.lastTradePrice = lastTradePrice
            self.trusted = trusted
            self.hashStatus = hashStatus
            self.lastTimestampMs = lastTimestampMs
            self.lastChangeLines = lastChangeLines
            self.levels = levels
        }
    }

    /// Replay throughput over the whole run.
    public struct Throughput: Codable, Sendable, Equatable {
        public var messagesPerSecond: Double
        public var megabytesPerSecond: Double
        public var wallSeconds: Double
        public init(messagesPerSecond: Double, megabytesPerSecond: Double, wallSeconds: Double) {
            self.messagesPerSecond = messagesPerSecond
            self.megabytesPerSecond = megabytesPerSecond
            self.wallSeconds = wallSeconds
        }
    }

    /// How late frames were released against the recorded schedule, in microseconds.
    public struct Pacing: Codable, Sendable, Equatable {
        public var p50: Double
        public var p99: Double
        public var max: Double
        public init(p50: Double, p99: Double, max: Double) {
            self.p50 = p50
            self.p99 = p99
            self.max = max
        }
    }

    /// A book not trustworthy at the end of the run, and why.
    public struct UntrustedBook: Codable, Sendable, Equatable {
        public var assetID: String
        /// E.g. `connection gap`, `invalidated at reconnect, no new snapshot`.
        public var reason: String
        /// Tape line where it became untrusted, when known.
        public var sinceLine: Int?
        public init(assetID: String, reason: String, sinceLine: Int? = nil) {
            self.assetID = assetID
            self.reason = reason
            self.sinceLine = sinceLine
        }
    }

    /// Where a book first diverged from the exchange's hash.
    public struct HashDivergence: Codable, Sendable, Equatable {
        public var assetID: String
        public var line: Int
        public var timestampMs: Int64
        public init(assetID: String, line: Int, timestampMs: Int64) {
            self.assetID = assetID
            self.line = line
            self.timestampMs = timestampMs
        }
    }

    /// Totals of the exchange-hash oracle across workers (PROTOCOL.md, "The exchange hash").
    public struct ExchangeHashSummary: Codable, Sendable, Equatable {
        public var checked: Int
        public var verified: Int
        /// Matched only after the tolerance rules (a later change or trade price).
        public var verifiedLate: Int
        /// Mismatched once, then matched again within tolerance.
        public var mismatchedTransient: Int
        public var diverged: Int
        public var firstDivergence: HashDivergence?
        public var unverifiable: Int
        /// Reason (e.g. `no side data`, `recipe unknown`) → count.
        public var unverifiableReasons: [String: Int]

        public init(
            checked: Int = 0, verified: Int = 0, verifiedLate: Int = 0, mismatchedTransient: Int = 0, diverged: Int = 0,
            firstDivergence: HashDivergence? = nil, unverifiable: Int = 0, unverifiableReasons: [String: Int] = [:]
        ) {
            self.checked = checked
            self.verified = verified
            self.verifiedLate = verifiedLate
            self.mismatchedTransient = mismatchedTransient
            self.diverged = diverged
            self.firstDivergence = firstDivergence
            self.unverifiable = unverifiable
            self.unverifiableReasons = unverifiableReasons
        }
    }

    /// The run's own verdict before any golden comparison.
    public enum Status: String, Codable, Sendable, Equatable {
        /// Every worker ended normally and nothing suspicious was found.
        case ok
        /// Completed, with findings worth a look (malformed lines, torn tails, untrusted books, hash divergence).
        case warnings
        /// A worker died or the run could not complete.
        case failed
    }
}
