// Golden files: the deterministic part of a run report, committed next to the tests and
// reviewed in pull requests. Only what is identical run to run goes in (DESIGN.md,
// Determinism); timing lives in the optional `targets` thresholds. Layout and rules are in
// docs/GOLDEN_FORMAT.md.
import CommandLineSupport
public import Foundation

/// The expected, deterministic outcome of replaying one tape with given options: per-worker
/// stats, counters and final books, plus per-asset digests that do not depend on the worker
/// count. Written pretty-printed with sorted keys so reviews see small, stable diffs. Replacing an
/// existing golden requires an explicit bless; verifying never writes.
public struct Golden: Codable, Sendable, Equatable {
    /// The format this version writes and reads.
    public static let currentFormat = "polytape-golden/1"

    /// Always `polytape-golden/1` for this layout.
    public var format: String
    public var tape: GoldenTape
    public var options: GoldenOptions
    /// Workers in index order.
    public var workers: [GoldenWorker]
    /// Asset id → canonical book digest; compared when the worker count or routing differs.
    public var assetDigests: [String: String]
    /// Worker-count-independent input counts (compared when present).
    public var input: GoldenInput?
    /// Worker-count-independent exchange-hash totals (compared when present).
    public var exchangeHash: RunReport.ExchangeHashSummary?
    /// Optional performance thresholds checked on every verification against this golden.
    public var targets: Targets?

    public init(
        tape: GoldenTape, options: GoldenOptions, workers: [GoldenWorker], assetDigests: [String: String],
        input: GoldenInput? = nil, exchangeHash: RunReport.ExchangeHashSummary? = nil, targets: Targets? = nil
    ) {
        self.input = input
        self.exchangeHash = exchangeHash
        self.format = Self.currentFormat
        self.tape = tape
        self.options = options
        self.workers = workers
        self.assetDigests = assetDigests
        self.targets = targets
    }

    /// The golden for a report: its deterministic content only.
    /// - Parameters:
    ///   - targets: thresholds to record in the golden's `targets` section (nil: none).
    ///   - recordLevels: also record each book's full levels (when the report carries them), so a
    ///     later difference can show the first differing level. Makes the golden much larger.
    public static func make(from report: RunReport, targets: Targets? = nil, recordLevels: Bool = false) -> Golden {
        let workers = report.workers.sorted { $0.index < $1.index }.map { worker in
            GoldenWorker(
                index: worker.index, messagesProcessed: worker.messagesProcessed, snapshots: worker.snapshots,
                updates: worker.updates, trades: worker.trades, bookCount: worker.bookCount,
                counters: worker.counters,
                books: worker.books.sorted { $0.assetID < $1.assetID }.map {
                    GoldenBook($0, levels: recordLevels ? $0.levels : nil)
                })
        }
        return Golden(
            tape: GoldenTape(
                files: report.tape.paths.map { URL(fileURLWithPath: $0).lastPathComponent },
                contentDigest: report.tape.contentDigest, digestAlgorithm: report.tape.digestAlgorithm,
                frameCount: report.tape.frameCount),
            options: GoldenOptions(report.options), workers: workers, assetDigests: report.assetDigests,
            input: GoldenInput(report.input), exchangeHash: report.exchangeHash,
            targets: targets.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `on` or `off` when known: the recorded option, or for older goldens `on` when hashes were
    /// checked (nil: cannot tell).
    public var exchangeHashMode: String? {
        if let mode = options.exchangeHash { return mode }
        if let checked = exchangeHash?.checked, checked > 0 { return "on" }
        return nil
    }

    /// Pretty-printed JSON with sorted keys and a trailing newline: stable bytes.
    public func jsonData() throws -> Data {
        try StableJSON.encode(self)
    }

    /// Decodes a golden, naming `source` in any error.
    public static func decode(from data: Data, source: String = "golden") throws -> Golden {
        let format = try StableJSON.peekString(key: "format", in: data, source: source, what: "golden file")
        guard format == currentFormat else {
            let found =
                format
                ?? (try? StableJSON.peekString(key: "schema", in: data, source: source, what: "golden file"))
                .flatMap { $0.map { "\($0) (a run report, not a golden)" } } ?? "(no format field)"
            throw VerifyError.wrongFormat(path: source, what: "golden file", found: found, expected: currentFormat)
        }
        return try StableJSON.decode(Golden.self, from: data, source: source, what: "golden file")
    }

    /// Reads a golden file.
    public static func load(_ path: String) throws -> Golden {
        try decode(from: StableJSON.read(path, what: "golden"), source: path)
    }

    /// Writes the golden. Refuses to replace an existing file unless `overwrite` (the bless flag)
    /// is true; the write is atomic, so an interrupted bless never leaves half a golden. A symlink
    /// keeps pointing at the golden it names (its target is replaced).
    public func write(to path: String, overwrite: Bool) throws {
        if FileManager.default.fileExists(atPath: path) && !overwrite {
            throw VerifyError.goldenExists(path: path)
        }
        let data = try jsonData()
        do {
            try OutputFile.write(data, to: path)
        } catch {
            throw VerifyError.writeFailed(path: path, reason: error.reason)
        }
    }
}

/// The tape a golden was recorded from. `files` is informational (names can change); the
/// content digest and frame count identify the tape.
public struct GoldenTape: Codable, Sendable, Equatable {
    public var files: [String]
    public var contentDigest: String
    public var digestAlgorithm: String
    public var frameCount: Int
    public init(files: [String], contentDigest: String, digestAlgorithm: String = "sha256", frameCount: Int) {
        self.files = files
        self.contentDigest = contentDigest
        self.digestAlgorithm = digestAlgorithm
        self.frameCount = frameCount
    }
}

/// The run options that can change results. Pacing speed is absent on purpose: results must not
/// depend on it.
public struct GoldenOptions: Codable, Sendable, Equatable {
    public var workers: Int
    public var routing: String
    public var backpressure: String
    public var assetFilter: [String]?
    public var timeWindow: RunReport.TimeWindow?
    /// `on` or `off`: whether the run checked the exchange's book hashes (absent in goldens
    /// written before this field existed; then `exchangeHash.checked > 0` tells it was on).
    public var exchangeHash: String?
    public init(
        workers: Int, routing: String, backpressure: String = "block", assetFilter: [String]? = nil,
        timeWindow: RunReport.TimeWindow? = nil, exchangeHash: String? = nil
    ) {
        self.workers = workers
        self.routing = routing
        self.backpressure = backpressure
        self.assetFilter = assetFilter
        self.timeWindow = timeWindow
        self.exchangeHash = exchangeHash
    }
    public init(_ options: RunReport.Options) {
        self.init(
            workers: options.workers, routing: options.routing, backpressure: options.backpressure,
            assetFilter: options.assetFilter?.sorted(), timeWindow: options.timeWindow,
            exchangeHash: options.exchangeHash)
    }
}

/// What the reader found in the tape: counts that depend only on the tape and the options.
public struct GoldenInput: Codable, Sendable, Equatable {
    public var frames: Int
    public var messagesByType: [String: Int]
    public var malformedLineCount: Int
    public var unknownEventTypes: [String: Int]
    public init(frames: Int, messagesByType: [String: Int], malformedLineCount: Int, unknownEventTypes: [String: Int]) {
        self.frames = frames
        self.messagesByType = messagesByType
        self.malformedLineCount = malformedLineCount
        self.unknownEventTypes = unknownEventTypes
    }
    public init(_ input: RunReport.InputStats) {
        self.init(
            frames: input.frames, messagesByType: input.messagesByType, malformedLineCount: input.malformedLineCount,
            unknownEventTypes: input.unknownEventTypes)
    }
}

/// One worker's deterministic stats, counters and books.
public struct GoldenWorker: Codable, Sendable, Equatable {
    public var index: Int
    public var messagesProcessed: Int
    public var snapshots: Int
    public var updates: Int
    public var trades: Int
    public var bookCount: Int
    public var counters: [String: Int]
    /// Books sorted by asset id.
    public var books: [GoldenBook]
    public init(
        index: Int, messagesProcessed: Int, snapshots: Int, updates: Int, trades: Int, bookCount: Int,
        counters: [String: Int], books: [GoldenBook]
    ) {
        self.index = index
        self.messagesProcessed = messagesProcessed
        self.snapshots = snapshots
        self.updates = updates
        self.trades = trades
        self.bookCount = bookCount
        self.counters = counters
        self.books = books
    }
}

/// A book's expected final state: digest, top of book, level counts, trust and hash status.
public struct GoldenBook: Codable, Sendable, Equatable {
    public var assetID: String
    public var market: String
    public var digest: String
    public var bestBid: String?
    public var bestAsk: String?
    public var bidLevels: Int
    public var askLevels: Int
    public var trusted: Bool
    public var hashStatus: String
    /// Present only in goldens recorded with levels.
    public var levels: RunReport.BookLevels?

    public init(
        assetID: String, market: String, digest: String, bestBid: String?, bestAsk: String?, bidLevels: Int,
        askLevels: Int, trusted: Bool, hashStatus: String, levels: RunReport.BookLevels? = nil
    ) {
        self.assetID = assetID
        self.market = market
        self.digest = digest
        self.bestBid = bestBid
        self.bestAsk = bestAsk
        self.bidLevels = bidLevels
        self.askLevels = askLevels
        self.trusted = trusted
        self.hashStatus = hashStatus
        self.levels = levels
    }

    public init(_ book: RunReport.BookEntry, levels: RunReport.BookLevels?) {
        self.init(
            assetID: book.assetID, market: book.market, digest: book.digest, bestBid: book.bestBid,
            bestAsk: book.bestAsk, bidLevels: book.bidLevels, askLevels: book.askLevels, trusted: book.trusted,
            hashStatus: book.hashStatus, levels: levels)
    }
}
