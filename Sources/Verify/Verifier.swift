// Comparison of a run report with a golden. Everything deterministic is compared exactly and
// every difference is listed (not just the first), in the order a reader needs them: wrong
// tape first (it explains everything after it), then options, worker exits, per-worker stats,
// counters and books, then per-asset digests. Timing is only checked against targets.
public import Foundation

/// The outcome of verifying a report against a golden and/or targets: pass or fail, every
/// difference found, every target checked, and notes on how the comparison was done. Encoded as
/// the `--json` output of `replay verify`.
public struct VerificationResult: Codable, Sendable, Equatable {
    /// Overall verdict.
    public enum Status: String, Codable, Sendable, Equatable {
        case pass
        case fail
    }

    /// How books were compared.
    public enum Mode: String, Codable, Sendable, Equatable {
        /// Same worker count and routing: each worker's stats, counters and books compared.
        case perWorker = "per-worker"
        /// Worker count or routing differ: only the worker-count-independent per-asset digests.
        case perAsset = "per-asset"
        /// No golden: targets only.
        case targetsOnly = "targets-only"
    }

    public var status: Status
    public var mode: Mode
    /// Where the report and golden came from (paths), for messages.
    public var reportSource: String
    public var goldenSource: String?
    /// Remarks that are not failures, e.g. why only per-asset digests were compared.
    public var notes: [String]
    public var differences: [Difference]
    public var targets: [TargetCheck]
    /// Worker indexes considered (golden ∪ report), for per-worker reporting such as JUnit cases.
    public var workerIndexes: [Int]
    /// How much was compared (to tell an empty comparison from a passing one).
    public var comparedWorkers: Int
    public var comparedBooks: Int

    public init(
        mode: Mode, reportSource: String, goldenSource: String?, notes: [String], differences: [Difference],
        targets: [TargetCheck], workerIndexes: [Int], comparedWorkers: Int, comparedBooks: Int
    ) {
        self.workerIndexes = workerIndexes
        self.mode = mode
        self.reportSource = reportSource
        self.goldenSource = goldenSource
        self.notes = notes
        self.differences = differences
        self.targets = targets
        self.comparedWorkers = comparedWorkers
        self.comparedBooks = comparedBooks
        self.status = differences.isEmpty && !targets.contains { $0.outcome == .fail } ? .pass : .fail
    }

    public var passed: Bool { status == .pass }

    /// Pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        try StableJSON.encode(self)
    }
}

/// One difference between the golden (expected) and the report (actual).
public struct Difference: Codable, Sendable, Equatable {
    /// What kind of thing differs.
    public enum Kind: String, Codable, Sendable, Equatable {
        /// Content digest or frame count: the golden was recorded from a different tape.
        case tapeIdentity = "tape-identity"
        /// A result-affecting option (backpressure, asset filter, time window).
        case option
        /// A worker did not end normally.
        case workerExit = "worker-exit"
        case workerMissing = "worker-missing"
        case workerExtra = "worker-extra"
        /// messagesProcessed, snapshots, updates, trades or bookCount.
        case workerStat = "worker-stat"
        case counter
        case bookChanged = "book-changed"
        case bookMissing = "book-missing"
        case bookExtra = "book-extra"
        case assetDigest = "asset-digest"
        case assetMissing = "asset-missing"
        case assetExtra = "asset-extra"
        /// Input counts (frames, messages per type, malformed lines, unknown event types).
        case input
        /// Exchange-hash oracle totals.
        case exchangeHash = "exchange-hash"
        /// The run itself failed (interrupted, a worker stalled or went silent): its results are
        /// incomplete, so they cannot match a golden.
        case runFailed = "run-failed"
    }

    public var kind: Kind
    /// The worker, for per-worker differences.
    public var worker: Int?
    /// The asset, for book and asset differences.
    public var assetID: String?
    /// One line saying what differs, e.g. `worker 0, book 123…: digest, bestAsk differ`.
    public var summary: String
    /// Each differing field with its expected and actual value.
    public var fields: [FieldDifference]
    /// Context: first differing levels, the tape lines where the book last changed, hints.
    public var details: [String]

    public init(
        kind: Kind, worker: Int? = nil, assetID: String? = nil, summary: String, fields: [FieldDifference] = [],
        details: [String] = []
    ) {
        self.kind = kind
        self.worker = worker
        self.assetID = assetID
        self.summary = summary
        self.fields = fields
        self.details = details
    }
}

/// A field's expected (golden) and actual (report) values, as text; nil means absent.
public struct FieldDifference: Codable, Sendable, Equatable {
    public var field: String
    public var expected: String?
    public var actual: String?
    public init(field: String, expected: String?, actual: String?) {
        self.field = field
        self.expected = expected
        self.actual = actual
    }
}

/// Compares reports with goldens and checks targets.
public enum Verifier {
    /// Lists every difference between `report` and `golden` and checks the targets (the golden's
    /// own, with any field in `targets` overriding it).
    public static func compare(
        report: RunReport, golden: Golden, targets: Targets? = nil, reportSource: String = "report",
        goldenSource: String = "golden"
    ) -> VerificationResult {
        var comparison = Comparison()
        comparison.compareTape(report: report, golden: golden)
        comparison.compareOptions(report: report, golden: golden)
        comparison.compareExits(report: report)
        comparison.noteRunStatus(report: report)
        comparison.compareTotals(report: report, golden: golden)

        let sameLayout =
            report.options.workers == golden.options.workers && report.options.routing == golden.options.routing
        let mode: VerificationResult.Mode
        if sameLayout {
            mode = .perWorker
            comparison.compareWorkers(report: report, golden: golden)
            comparison.compareAssetDigests(report: report, golden: golden)
        } else {
            mode = .perAsset
            var what: [String] = []
            if report.options.workers != golden.options.workers {
                what.append("worker count differs (golden \(golden.options.workers), report \(report.options.workers))")
            }
            if report.options.routing != golden.options.routing {
                what.append("routing differs (golden \(golden.options.routing), report \(report.options.routing))")
            }
            comparison.notes.append(
                "\(what.joined(separator: "; ")): compared the worker-count-independent per-asset digests only "
                    + "(plus input and exchange-hash totals); per-worker stats, counters and books were not compared")
            comparison.compareAssetDigests(report: report, golden: golden)
        }
        let effectiveTargets = (golden.targets ?? Targets()).overridden(by: targets ?? Targets())
        return VerificationResult(
            mode: mode, reportSource: reportSource, goldenSource: goldenSource, notes: comparison.notes,
            differences: comparison.differences, targets: effectiveTargets.check(report),
            workerIndexes: mode == .perWorker
                ? Set(report.workers.map(\.index)).union(golden.workers.map(\.index)).sorted()
                : report.workers.map(\.index).sorted(),
            comparedWorkers: mode == .perWorker ? min(report.workers.count, golden.workers.count) : 0,
            comparedBooks: comparison.comparedBooks)
    }

    /// Checks targets alone (no golden); worker exits are still checked.
    public static func check(report: RunReport, targets: Targets, reportSource: String = "report")
        -> VerificationResult
    {
        var comparison = Comparison()
        comparison.compareExits(report: report)
        comparison.noteRunStatus(report: report)
        return VerificationResult(
            mode: .targetsOnly, reportSource: reportSource, goldenSource: nil, notes: comparison.notes,
            differences: comparison.differences, targets: targets.check(report),
            workerIndexes: report.workers.map(\.index).sorted(), comparedWorkers: 0, comparedBooks: 0)
    }
}

/// Accumulates differences during one comparison.
private struct Comparison {
    var differences: [Difference] = []
    var notes: [String] = []
    var comparedBooks = 0
    /// Assets already reported through a per-worker book difference (not reported twice).
    var reportedAssets: Set<String> = []
    /// The golden and the run differ in `--exchange-hash`: hash results are not comparable, so
    /// hash totals, hash counters and book hash statuses are left out (one option difference says why).
    var exchangeHashModesDiffer = false

    mutating func compareTape(report: RunReport, golden: Golden) {
        // A failed run read only part of its tape (no digest, fewer frames): that says nothing
        // about which tape it was, and its own failure is the difference that explains the rest.
        guard report.status != .failed else { return }
        var fields: [FieldDifference] = []
        if report.tape.digestAlgorithm != golden.tape.digestAlgorithm {
            fields.append(
                FieldDifference(
                    field: "tape.digestAlgorithm", expected: golden.tape.digestAlgorithm,
                    actual: report.tape.digestAlgorithm))
        }
        if report.tape.contentDigest != golden.tape.contentDigest {
            fields.append(
                FieldDifference(
                    field: "tape.contentDigest", expected: golden.tape.contentDigest, actual: report.tape.contentDigest)
            )
        }
        if report.tape.frameCount != golden.tape.frameCount {
            fields.append(
                FieldDifference(
                    field: "tape.frameCount", expected: String(golden.tape.frameCount),
                    actual: String(report.tape.frameCount)))
        }
        guard !fields.isEmpty else { return }
        let goldenFiles = golden.tape.files.joined(separator: ", ")
        let reportFiles = report.tape.paths.joined(separator: ", ")
        differences.append(
            Difference(
                kind: .tapeIdentity,
                summary:
                    "the golden was recorded from a different tape; every other difference below may follow from this",
                fields: fields,
                details: [
                    "golden recorded from: \(goldenFiles.isEmpty ? "(no file names recorded)" : goldenFiles)",
                    "report read: \(reportFiles.isEmpty ? "(no paths recorded)" : reportFiles)",
                    "check the tape path, or re-record the golden from this tape with --write-golden FILE --bless",
                ]))
    }

    mutating func compareOptions(report: RunReport, golden: Golden) {
        let actual = GoldenOptions(report.options)
        var fields: [FieldDifference] = []
        if actual.backpressure != golden.options.backpressure {
            fields.append(
                FieldDifference(
                    field: "options.backpressure", expected: golden.options.backpressure, actual: actual.backpressure))
        }
        if actual.assetFilter != golden.options.assetFilter {
            fields.append(
                FieldDifference(
                    field: "options.assetFilter",
                    expected: golden.options.assetFilter.map(Self.listText) ?? "all assets",
                    actual: actual.assetFilter.map(Self.listText) ?? "all assets"))
        }
        if actual.timeWindow != golden.options.timeWindow {
            fields.append(
                FieldDifference(
                    field: "options.timeWindow", expected: golden.options.timeWindow?.description ?? "whole tape",
                    actual: actual.timeWindow?.description ?? "whole tape"))
        }
        let reportMode = report.options.exchangeHash ?? (report.exchangeHash.checked > 0 ? "on" : nil)
        if let expected = golden.exchangeHashMode, let actual = reportMode, expected != actual {
            exchangeHashModesDiffer = true
            fields.append(FieldDifference(field: "options.exchangeHash", expected: expected, actual: actual))
            notes.append(
                "the golden was recorded with --exchange-hash \(expected) and the run used --exchange-hash \(actual): "
                    + "exchange-hash totals, counters and book hash statuses were not compared")
        }
        guard !fields.isEmpty else { return }
        differences.append(
            Difference(
                kind: .option,
                summary: "the run used options that change results: "
                    + fields.map { String($0.field.dropFirst("options.".count)) }.joined(separator: ", ")
                    + " differ from the golden's",
                fields: fields, details: ["re-run with the golden's options, or re-record the golden"]))
    }

    /// The run's own findings are not golden differences, but a reader should see them.
    mutating func noteRunStatus(report: RunReport) {
        guard report.status != .ok else { return }
        if report.status == .failed {
            // A dead worker is already a difference of its own.
            guard !differences.contains(where: { $0.kind == .workerExit }) else { return }
            let reasons = report.statusReasons ?? []
            differences.append(
                Difference(
                    kind: .runFailed,
                    summary: "the run itself failed, so its results are incomplete"
                        + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")),
                    fields: [FieldDifference(field: "status", expected: "ok or warnings", actual: "failed")]))
            return
        }
        if let reasons = report.statusReasons, !reasons.isEmpty {
            notes.append(
                "the run itself ended with status '\(report.status.rawValue)': " + reasons.joined(separator: "; "))
            return
        }
        // Reports written before `statusReasons` existed: what their fields tell.
        var findings: [String] = []
        if report.input.malformedLineCount > 0 {
            findings.append(VerificationText.count(report.input.malformedLineCount, "malformed line"))
        }
        let corrupt = report.input.tornTails.filter { $0.corruptAt != nil }.count
        if report.input.tornTails.count > corrupt {
            findings.append(VerificationText.count(report.input.tornTails.count - corrupt, "torn tail"))
        }
        if corrupt > 0 {
            findings.append(VerificationText.count(corrupt, "stretch", plural: "stretches") + " of corrupt data")
        }
        if !report.untrustedBooks.isEmpty {
            findings.append(VerificationText.count(report.untrustedBooks.count, "untrusted book"))
        }
        if report.exchangeHash.diverged > 0 {
            var text = VerificationText.count(report.exchangeHash.diverged, "exchange-hash divergence")
            if let first = report.exchangeHash.firstDivergence {
                text += " (first: asset \(first.assetID) at tape line \(first.line))"
            }
            findings.append(text)
        }
        let detail = findings.isEmpty ? "" : ": " + findings.joined(separator: ", ")
        notes.append("the run itself ended with status '\(report.status.rawValue)'\(detail)")
    }

    /// Input counts and exchange-hash totals: independent of worker count, compared in both modes.
    mutating func compareTotals(report: RunReport, golden: Golden) {
        if let expected = golden.input {
            let actual = GoldenInput(report.input)
            var fields: [FieldDifference] = []
            if expected.frames != actual.frames {
                fields.append(
                    FieldDifference(field: "frames", expected: String(expected.frames), actual: String(actual.frames)))
            }
            fields += Self.mapDifferences("messagesByType", expected.messagesByType, actual.messagesByType)
            if expected.malformedLineCount != actual.malformedLineCount {
                fields.append(
                    FieldDifference(
                        field: "malformedLineCount", expected: String(expected.malformedLineCount),
                        actual: String(actual.malformedLineCount)))
            }
            fields += Self.mapDifferences("unknownEventTypes", expected.unknownEventTypes, actual.unknownEventTypes)
            if !fields.isEmpty {
                var details: [String] = []
                if expected.malformedLineCount != actual.malformedLineCount && !report.input.malformedLines.isEmpty {
                    details.append(
                        "malformed lines in this run: "
                            + report.input.malformedLines.prefix(3).map { "\($0.file):\($0.line) (\($0.reason))" }
                            .joined(separator: ", "))
                }
                differences.append(
                    Difference(
                        kind: .input,
                        summary: "input counts differ: " + fields.map(\.field).joined(separator: ", "),
                        fields: fields, details: details))
            }
        }
        if let expected = golden.exchangeHash, !exchangeHashModesDiffer {
            let actual = report.exchangeHash
            var fields: [FieldDifference] = []
            // Whether a hash verifies at once or late depends on how a market's two tokens are
            // split across workers; with another layout only their sum is comparable.
            let sameLayout =
                report.options.workers == golden.options.workers && report.options.routing == golden.options.routing
            let verifiedFields: [(String, Int, Int)] =
                sameLayout
                ? [
                    ("verified", expected.verified, actual.verified),
                    ("verifiedLate", expected.verifiedLate, actual.verifiedLate),
                ]
                : [
                    (
                        "verified + verifiedLate", expected.verified + expected.verifiedLate,
                        actual.verified + actual.verifiedLate
                    )
                ]
            for (name, want, have) in [("checked", expected.checked, actual.checked)] + verifiedFields + [
                ("mismatchedTransient", expected.mismatchedTransient, actual.mismatchedTransient),
                ("diverged", expected.diverged, actual.diverged),
                ("unverifiable", expected.unverifiable, actual.unverifiable),
            ] where want != have {
                fields.append(FieldDifference(field: name, expected: String(want), actual: String(have)))
            }
            func divergenceText(_ divergence: RunReport.HashDivergence?) -> String? {
                divergence.map { "asset \($0.assetID) at tape line \($0.line) (timestamp \($0.timestampMs) ms)" }
            }
            if expected.firstDivergence != actual.firstDivergence {
                fields.append(
                    FieldDifference(
                        field: "firstDivergence", expected: divergenceText(expected.firstDivergence),
                        actual: divergenceText(actual.firstDivergence)))
            }
            fields += Self.mapDifferences(
                "unverifiableReasons", expected.unverifiableReasons, actual.unverifiableReasons)
            if !fields.isEmpty {
                differences.append(
                    Difference(
                        kind: .exchangeHash,
                        summary: "exchange-hash totals differ: " + fields.map(\.field).joined(separator: ", "),
                        fields: fields))
            }
        }
    }

    /// Every key whose value differs between two count maps, named `prefix.key`.
    static func mapDifferences(_ prefix: String, _ expected: [String: Int], _ actual: [String: Int])
        -> [FieldDifference]
    {
        Set(expected.keys).union(actual.keys).sorted().compactMap { key in
            expected[key] == actual[key]
                ? nil
                : FieldDifference(
                    field: "\(prefix).\(key)", expected: expected[key].map(String.init),
                    actual: actual[key].map(String.init))
        }
    }

    mutating func compareExits(report: RunReport) {
        for worker in report.workers.sorted(by: { $0.index < $1.index }) where worker.exit != .normal {
            differences.append(
                Difference(
                    kind: .workerExit, worker: worker.index,
                    summary: "worker \(worker.index) (pid \(worker.pid)) did not end normally: \(worker.exit)",
                    fields: [FieldDifference(field: "exit", expected: "normal", actual: worker.exit.description)]))
        }
    }

    mutating func compareWorkers(report: RunReport, golden: Golden) {
        let actualByIndex = Dictionary(report.workers.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
        let expectedByIndex = Dictionary(golden.workers.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
        for index in Set(actualByIndex.keys).union(expectedByIndex.keys).sorted() {
            switch (expectedByIndex[index], actualByIndex[index]) {
            case (let expected?, let actual?):
                compareWorker(expected: expected, actual: actual)
            case (let expected?, nil):
                differences.append(
                    Difference(
                        kind: .workerMissing, worker: index,
                        summary: "worker \(index) is in the golden but not in the report "
                            + "(\(expected.books.count) books expected)"))
            case (nil, let actual?):
                differences.append(
                    Difference(
                        kind: .workerExtra, worker: index,
                        summary: "worker \(index) is in the report but not in the golden "
                            + "(\(actual.books.count) books)"))
            case (nil, nil):
                break
            }
        }
    }

    private mutating func compareWorker(expected: GoldenWorker, actual: RunReport.Worker) {
        let index = actual.index
        let stats: [(String, Int, Int)] = [
            ("messagesProcessed", expected.messagesProcessed, actual.messagesProcessed),
            ("snapshots", expected.snapshots, actual.snapshots),
            ("updates", expected.updates, actual.updates),
            ("trades", expected.trades, actual.trades),
            ("bookCount", expected.bookCount, actual.bookCount),
        ]
        let statFields = stats.filter { $0.1 != $0.2 }.map {
            FieldDifference(field: $0.0, expected: String($0.1), actual: String($0.2))
        }
        if !statFields.isEmpty {
            differences.append(
                Difference(
                    kind: .workerStat, worker: index,
                    summary: "worker \(index) stats differ: " + statFields.map(\.field).joined(separator: ", "),
                    fields: statFields))
        }

        var counterFields: [FieldDifference] = []
        for (name, value) in expected.counters.sorted(by: { $0.key < $1.key })
        where actual.counters[name] != value && !(exchangeHashModesDiffer && name.hasPrefix("exchangeHash")) {
            counterFields.append(
                FieldDifference(field: name, expected: String(value), actual: actual.counters[name].map(String.init)))
        }
        if !counterFields.isEmpty {
            differences.append(
                Difference(
                    kind: .counter, worker: index,
                    summary: "worker \(index) counters differ: " + counterFields.map(\.field).joined(separator: ", "),
                    fields: counterFields))
        }
        let newCounters = actual.counters.keys.filter { expected.counters[$0] == nil }.sorted()
        if !newCounters.isEmpty {
            notes.append(
                "worker \(index): counters not in the golden were not compared: \(newCounters.joined(separator: ", ")) "
                    + "(re-record the golden with --bless to include them)")
        }

        let actualBooks = Dictionary(actual.books.map { ($0.assetID, $0) }, uniquingKeysWith: { first, _ in first })
        let expectedBooks = Dictionary(expected.books.map { ($0.assetID, $0) }, uniquingKeysWith: { first, _ in first })
        for assetID in Set(actualBooks.keys).union(expectedBooks.keys).sorted() {
            switch (expectedBooks[assetID], actualBooks[assetID]) {
            case (let golden?, let book?):
                comparedBooks += 1
                if let difference = Self.compareBook(
                    expected: golden, actual: book, worker: index, compareHashStatus: !exchangeHashModesDiffer)
                {
                    differences.append(difference)
                    reportedAssets.insert(assetID)
                }
            case (let golden?, nil):
                reportedAssets.insert(assetID)
                differences.append(
                    Difference(
                        kind: .bookMissing, worker: index, assetID: assetID,
                        summary: "worker \(index), book \(assetID): in the golden but missing from the report",
                        fields: [FieldDifference(field: "digest", expected: golden.digest, actual: nil)],
                        details: [
                            "expected top of book \(Self.topText(bid: golden.bestBid, ask: golden.bestAsk)), "
                                + "\(golden.bidLevels) bid / \(golden.askLevels) ask levels"
                        ]))
            case (nil, let book?):
                reportedAssets.insert(assetID)
                var details = [
                    "actual top of book \(Self.topText(bid: book.bestBid, ask: book.bestAsk)), "
                        + "\(book.bidLevels) bid / \(book.askLevels) ask levels"
                ]
                if let lines = book.lastChangeLines { details.append("last changed at \(lines)") }
                differences.append(
                    Difference(
                        kind: .bookExtra, worker: index, assetID: assetID,
                        summary: "worker \(index), book \(assetID): in the report but not in the golden",
                        fields: [FieldDifference(field: "digest", expected: nil, actual: book.digest)],
                        details: details))
            case (nil, nil):
                break
            }
        }
    }

    /// A book difference naming every differing field, or nil when the books match.
    static func compareBook(
        expected: GoldenBook, actual: RunReport.BookEntry, worker: Int?, compareHashStatus: Bool = true
    ) -> Difference? {
        var fields: [FieldDifference] = []
        func check(_ field: String, _ expectedValue: String?, _ actualValue: String?) {
            if expectedValue != actualValue {
                fields.append(FieldDifference(field: field, expected: expectedValue, actual: actualValue))
            }
        }
        check("digest", expected.digest, actual.digest)
        check("bestBid", expected.bestBid, actual.bestBid)
        check("bestAsk", expected.bestAsk, actual.bestAsk)
        check("bidLevels", String(expected.bidLevels), String(actual.bidLevels))
        check("askLevels", String(expected.askLevels), String(actual.askLevels))
        check("market", expected.market, actual.market)
        check("trusted", String(expected.trusted), String(actual.trusted))
        if compareHashStatus { check("hashStatus", expected.hashStatus, actual.hashStatus) }
        guard !fields.isEmpty else { return nil }
        let place = worker.map { "worker \($0), book \(actual.assetID)" } ?? "asset \(actual.assetID)"
        return Difference(
            kind: .bookChanged, worker: worker, assetID: actual.assetID,
            summary: "\(place): " + fields.map(\.field).joined(separator: ", ")
                + (fields.count == 1 ? " differs" : " differ"),
            fields: fields, details: bookDetails(expected: expected, actual: actual))
    }

    /// Context for a differing book: top of book, first differing levels, where it last changed.
    static func bookDetails(expected: GoldenBook, actual: RunReport.BookEntry) -> [String] {
        var details: [String] = []
        let expectedTop = topText(bid: expected.bestBid, ask: expected.bestAsk)
        let actualTop = topText(bid: actual.bestBid, ask: actual.bestAsk)
        let sameShape =
            expectedTop == actualTop && expected.bidLevels == actual.bidLevels && expected.askLevels == actual.askLevels
        if sameShape && expected.digest == actual.digest {
            details.append(
                "the book itself is equal (same digest, top of book \(actualTop), \(actual.bidLevels) bid / "
                    + "\(actual.askLevels) ask levels): only its state flags differ")
        } else if sameShape {
            details.append(
                "top of book (\(actualTop)) and level counts (\(actual.bidLevels) bid / \(actual.askLevels) ask) "
                    + "are equal: the difference is deeper in the book or in a level's size")
        } else {
            details.append(
                "top of book: expected \(expectedTop), \(expected.bidLevels) bid / \(expected.askLevels) ask levels"
                    + " / actual \(actualTop), \(actual.bidLevels) bid / \(actual.askLevels) ask levels")
        }
        if let expectedLevels = expected.levels, let actualLevels = actual.levels {
            details += firstDifferingLevels(expected: expectedLevels, actual: actualLevels)
        } else if let actualLevels = actual.levels {
            details.append("actual levels near the top: " + levelsPreview(actualLevels))
            details.append(
                "(the golden has no levels, so the first differing level cannot be shown)")
        }
        if let lines = actual.lastChangeLines {
            details.append("last changed at \(lines) (first and last change of its final epoch)")
        }
        return details
    }

    /// The first differing level on each side, counting from the best (level 1).
    static func firstDifferingLevels(expected: RunReport.BookLevels, actual: RunReport.BookLevels) -> [String] {
        var lines: [String] = []
        for (side, expectedSide, actualSide) in [
            ("bid", expected.bids, actual.bids), ("ask", expected.asks, actual.asks),
        ] {
            let depth = max(expectedSide.count, actualSide.count)
            for position in 0..<depth {
                let want = position < expectedSide.count ? expectedSide[position] : nil
                let have = position < actualSide.count ? actualSide[position] : nil
                if want != have {
                    lines.append(
                        "first differing \(side) level #\(position + 1): expected \(want?.description ?? "(none)")"
                            + " / actual \(have?.description ?? "(none)")")
                    break
                }
            }
        }
        return lines
    }

    static func levelsPreview(_ levels: RunReport.BookLevels) -> String {
        let bids = levels.bids.prefix(3).map(\.description).joined(separator: ", ")
        let asks = levels.asks.prefix(3).map(\.description).joined(separator: ", ")
        return "bids [\(bids)] asks [\(asks)]"
    }

    static func topText(bid: String?, ask: String?) -> String {
        "bid \(bid ?? "(none)") ask \(ask ?? "(none)")"
    }

    static func listText(_ list: [String]) -> String {
        list.count <= 3 ? list.joined(separator: ", ") : list.prefix(3).joined(separator: ", ") + " +\(list.count - 3)"
    }

    mutating func compareAssetDigests(report: RunReport, golden: Golden) {
        let goldenBooks = Dictionary(
            golden.workers.flatMap(\.books).map { ($0.assetID, $0) }, uniquingKeysWith: { first, _ in first })
        let reportBooks = Dictionary(
            report.workers.flatMap(\.books).map { ($0.assetID, $0) }, uniquingKeysWith: { first, _ in first })
        var compared = 0
        for assetID in Set(report.assetDigests.keys).union(golden.assetDigests.keys).sorted()
        where !reportedAssets.contains(assetID) {
            switch (golden.assetDigests[assetID], report.assetDigests[assetID]) {
            case (let expected?, let actual?):
                compared += 1
                guard expected != actual else { continue }
                var details: [String] = []
                if let goldenBook = goldenBooks[assetID], let book = reportBooks[assetID] {
                    details = Self.bookDetails(expected: goldenBook, actual: book)
                } else if let book = reportBooks[assetID], let lines = book.lastChangeLines {
                    details.append("last changed at \(lines)")
                }
                differences.append(
                    Difference(
                        kind: .assetDigest, assetID: assetID, summary: "asset \(assetID): per-asset digest differs",
                        fields: [FieldDifference(field: "digest", expected: expected, actual: actual)],
                        details: details))
            case (let expected?, nil):
                differences.append(
                    Difference(
                        kind: .assetMissing, assetID: assetID,
                        summary: "asset \(assetID): in the golden but has no book in the report",
                        fields: [FieldDifference(field: "digest", expected: expected, actual: nil)]))
            case (nil, let actual?):
                differences.append(
                    Difference(
                        kind: .assetExtra, assetID: assetID,
                        summary: "asset \(assetID): has a book in the report but not in the golden",
                        fields: [FieldDifference(field: "digest", expected: nil, actual: actual)]))
            case (nil, nil):
                break
            }
        }
        if comparedBooks == 0 { comparedBooks = compared }
    }
}
