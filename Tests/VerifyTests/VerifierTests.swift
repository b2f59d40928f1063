import Foundation
import Testing
import Verify

@Suite struct VerifierTests {
    let golden = Golden.make(from: Samples.report())

    private func index(of assetID: String, in report: RunReport) -> (worker: Int, book: Int) {
        for (w, worker) in report.workers.enumerated() {
            if let b = worker.books.firstIndex(where: { $0.assetID == assetID }) { return (w, b) }
        }
        fatalError("asset \(assetID) not in sample report")
    }

    @Test func changedBookDigestNamesWorkerAssetAndField() {
        var report = Samples.report()
        let (w, b) = index(of: Samples.assetA, in: report)
        report.workers[w].books[b].digest = "dead"
        report.assetDigests[Samples.assetA] = "dead"
        let result = Verifier.compare(report: report, golden: golden)
        #expect(!result.passed)
        // One difference: the per-asset digest of the same book is not reported a second time.
        #expect(result.differences.count == 1)
        let difference = result.differences[0]
        #expect(difference.kind == .bookChanged)
        #expect(difference.worker == 0)
        #expect(difference.assetID == Samples.assetA)
        #expect(difference.fields == [FieldDifference(field: "digest", expected: "aa11", actual: "dead")])
        #expect(difference.summary == "worker 0, book \(Samples.assetA): digest differs")
        #expect(difference.details.contains { $0.contains("are equal: the difference is deeper in the book") })
        #expect(difference.details.contains { $0.contains("tape lines 3–118") })
        let text = VerificationText.render(result)
        #expect(text.contains("digest: expected aa11 / actual dead"))
    }

    @Test func changedTopOfBookAndLevelCountsAreListedField_by_field() {
        var report = Samples.report()
        let (w, b) = index(of: Samples.assetC, in: report)
        report.workers[w].books[b].bestAsk = "0.91"
        report.workers[w].books[b].askLevels = 8
        report.workers[w].books[b].digest = "cc34"
        let result = Verifier.compare(report: report, golden: golden)
        let difference = try! #require(result.differences.first)
        #expect(difference.worker == 1)
        #expect(difference.fields.map(\.field) == ["digest", "bestAsk", "askLevels"])
        #expect(difference.fields[1] == FieldDifference(field: "bestAsk", expected: "0.9", actual: "0.91"))
        #expect(difference.details[0].contains("expected bid (none) ask 0.9, 12 bid / 9 ask levels"))
        #expect(difference.details[0].contains("actual bid (none) ask 0.91, 12 bid / 8 ask levels"))
    }

    @Test func firstDifferingLevelsAreShownWhenBothSidesHaveLevels() {
        var base = Samples.report()
        let (w, b) = index(of: Samples.assetA, in: base)
        let levels = RunReport.BookLevels(
            bids: [RunReport.Level(price: "0.52", size: "100"), RunReport.Level(price: "0.51", size: "20")],
            asks: [RunReport.Level(price: "0.53", size: "40"), RunReport.Level(price: "0.54", size: "7")])
        base.workers[w].books[b].levels = levels
        let recorded = Golden.make(from: base, recordLevels: true)
        var report = base
        report.workers[w].books[b].digest = "aa12"
        report.workers[w].books[b].levels?.asks[1] = RunReport.Level(price: "0.54", size: "6.5")
        let result = Verifier.compare(report: report, golden: recorded)
        let details = try! #require(result.differences.first).details
        #expect(details.contains("first differing ask level #2: expected 0.54 × 7 / actual 0.54 × 6.5"))
        #expect(!details.contains { $0.contains("bid level") })

        // Without levels in the golden, the actual levels near the top are shown instead.
        let plain = Verifier.compare(report: report, golden: golden).differences[0].details
        #expect(plain.contains { $0.hasPrefix("actual levels near the top: bids [0.52 × 100, 0.51 × 20]") })
    }

    @Test func changedCounterIsNamedWithExpectedAndActual() {
        var report = Samples.report()
        report.workers[1].counters["crossedBooks"] = 2
        let result = Verifier.compare(report: report, golden: golden)
        #expect(result.differences.count == 1)
        let difference = result.differences[0]
        #expect(difference.kind == .counter)
        #expect(difference.worker == 1)
        #expect(difference.fields == [FieldDifference(field: "crossedBooks", expected: "0", actual: "2")])
        #expect(VerificationText.render(result).contains("crossedBooks: expected 0 / actual 2"))
    }

    @Test func counterMissingFromTheReportFailsButANewCounterIsOnlyNoted() {
        var report = Samples.report()
        report.workers[0].counters.removeValue(forKey: "hashVerified")
        report.workers[0].counters["offTickLevels"] = 0
        let result = Verifier.compare(report: report, golden: golden)
        #expect(result.differences.map(\.kind) == [.counter])
        #expect(result.differences[0].fields == [FieldDifference(field: "hashVerified", expected: "468", actual: nil)])
        #expect(result.notes.contains { $0.contains("offTickLevels") && $0.contains("not compared") })
    }

    @Test func changedWorkerStatIsNamed() {
        var report = Samples.report()
        report.workers[0].messagesProcessed += 1
        report.workers[0].trades -= 1
        let result = Verifier.compare(report: report, golden: golden)
        #expect(result.differences.count == 1)
        #expect(result.differences[0].kind == .workerStat)
        #expect(result.differences[0].fields.map(\.field) == ["messagesProcessed", "trades"])
        #expect(
            result.differences[0].fields[0]
                == FieldDifference(field: "messagesProcessed", expected: "500", actual: "501"))
    }

    @Test func missingBookIsDetected() {
        var report = Samples.report()
        let (w, b) = index(of: Samples.assetB, in: report)
        report.workers[w].books.remove(at: b)
        report.assetDigests.removeValue(forKey: Samples.assetB)
        let kinds = Verifier.compare(report: report, golden: golden).differences
        #expect(kinds.count == 1)
        #expect(kinds[0].kind == .bookMissing)
        #expect(kinds[0].worker == 0)
        #expect(kinds[0].assetID == Samples.assetB)
        #expect(kinds[0].summary.contains("missing from the report"))
    }

    @Test func extraBookIsDetected() {
        var report = Samples.report()
        let extra = "11111111111111111111"
        report.workers[1].books.append(Samples.book(extra, digest: "ee55"))
        report.assetDigests[extra] = "ee55"
        let differences = Verifier.compare(report: report, golden: golden).differences
        #expect(differences.count == 1)
        #expect(differences[0].kind == .bookExtra)
        #expect(differences[0].worker == 1)
        #expect(differences[0].assetID == extra)
        #expect(differences[0].fields == [FieldDifference(field: "digest", expected: nil, actual: "ee55")])
    }

    @Test func missingAndExtraWorkersAreDetected() {
        var golden = self.golden
        golden.workers.removeLast()
        var report = Samples.report()
        report.workers.removeFirst()
        let differences = Verifier.compare(report: report, golden: golden).differences
        #expect(differences.map(\.kind).contains(.workerMissing))
        #expect(differences.map(\.kind).contains(.workerExtra))
    }

    @Test func differentTapeIsReportedFirstAndClearly() {
        var report = Samples.report()
        report.tape.contentDigest = String(repeating: "0", count: 64)
        report.tape.frameCount = 999
        report.workers[1].counters["crossedBooks"] = 5
        let result = Verifier.compare(report: report, golden: golden)
        #expect(result.differences.first?.kind == .tapeIdentity)
        #expect(result.differences.first?.fields.map(\.field) == ["tape.contentDigest", "tape.frameCount"])
        #expect(result.differences.count == 2)
        let text = VerificationText.render(result)
        let firstProblem = text.split(separator: "\n").first { $0.hasPrefix("[1]") }
        #expect(firstProblem?.contains("the golden was recorded from a different tape") == true)
        #expect(text.contains("tape.frameCount: expected 1234 / actual 999"))
    }

    @Test func differentWorkerCountComparesPerAssetDigestsOnlyAndSaysSo() {
        let oneWorker = Samples.report(workers: 1)
        let result = Verifier.compare(report: oneWorker, golden: golden)
        #expect(result.mode == .perAsset)
        #expect(result.passed, "per-asset results must not depend on the worker count")
        #expect(result.comparedBooks == 3)
        #expect(result.notes.contains { $0.contains("worker count differs (golden 2, report 1)") })
        #expect(
            VerificationText.render(result).contains("compared the worker-count-independent per-asset digests only"))

        var changed = oneWorker
        changed.assetDigests[Samples.assetC] = "cc99"
        changed.workers[0].books[2].digest = "cc99"
        changed.workers[0].counters["crossedBooks"] = 7  // per-worker counters are not comparable across counts
        let failing = Verifier.compare(report: changed, golden: golden)
        #expect(failing.differences.count == 1)
        let difference = failing.differences[0]
        #expect(difference.kind == .assetDigest)
        #expect(difference.worker == nil)
        #expect(difference.assetID == Samples.assetC)
        #expect(difference.fields == [FieldDifference(field: "digest", expected: "cc33", actual: "cc99")])
    }

    @Test func hashesVerifiedLateInsteadOfAtOnceMatterOnlyWithTheSameWorkerLayout() {
        // With another worker count a market's two tokens may sit on different workers, which
        // moves checks between "verified" and "verified late": only the sum is comparable then.
        var moved = Samples.report(workers: 1)
        moved.exchangeHash.verified -= 1
        moved.exchangeHash.verifiedLate += 1
        #expect(Verifier.compare(report: moved, golden: golden).passed)

        var lost = Samples.report(workers: 1)
        lost.exchangeHash.verified -= 1
        lost.exchangeHash.mismatchedTransient += 1
        let failing = Verifier.compare(report: lost, golden: golden)
        #expect(failing.differences.map(\.kind) == [.exchangeHash])
        #expect(failing.differences[0].fields.map(\.field) == ["verified + verifiedLate", "mismatchedTransient"])

        var sameLayout = Samples.report(workers: 2)
        sameLayout.exchangeHash.verified -= 1
        sameLayout.exchangeHash.verifiedLate += 1
        let exact = Verifier.compare(report: sameLayout, golden: golden)
        #expect(exact.differences.first?.fields.map(\.field) == ["verified", "verifiedLate"])
    }

    @Test func perAssetComparisonFindsMissingAndExtraAssets() {
        var report = Samples.report(workers: 1)
        report.assetDigests.removeValue(forKey: Samples.assetA)
        report.assetDigests["999"] = "abcd"
        let kinds = Verifier.compare(report: report, golden: golden).differences.map(\.kind)
        #expect(kinds.sorted { $0.rawValue < $1.rawValue } == [.assetExtra, .assetMissing])
    }

    @Test func optionThatChangesResultsIsADifference() {
        var report = Samples.report()
        report.options.assetFilter = [Samples.assetA]
        report.options.speed = "1"  // speed alone does not matter
        let differences = Verifier.compare(report: report, golden: golden).differences
        #expect(differences.count == 1)
        #expect(differences[0].kind == .option)
        #expect(differences[0].fields[0].field == "options.assetFilter")
        #expect(differences[0].fields[0].expected == "all assets")
    }

    /// Regression (newcomer review): a golden recorded with `--exchange-hash off` verified against a
    /// run with the checks on gave one "hashStatus differs" per book, each blaming the book's levels.
    @Test func hashCheckSettingThatDiffersIsOneOptionDifference() {
        var offReport = Samples.report()
        offReport.options.exchangeHash = "off"
        offReport.exchangeHash = RunReport.ExchangeHashSummary()
        for w in offReport.workers.indices {
            offReport.workers[w].counters["exchangeHashChecked"] = 0
            for b in offReport.workers[w].books.indices { offReport.workers[w].books[b].hashStatus = "none" }
        }
        var onReport = Samples.report()
        onReport.options.exchangeHash = "on"
        for w in onReport.workers.indices { onReport.workers[w].counters["exchangeHashChecked"] = 470 }
        for (report, golden, expected, actual) in [
            (onReport, Golden.make(from: offReport), "off", "on"),
            (offReport, Golden.make(from: onReport), "on", "off"),
        ] {
            let result = Verifier.compare(report: report, golden: golden)
            #expect(result.differences.count == 1, "\(result.differences.map(\.summary))")
            #expect(result.differences.first?.kind == .option)
            #expect(
                result.differences.first?.fields
                    == [FieldDifference(field: "options.exchangeHash", expected: expected, actual: actual)])
            #expect(result.notes.contains { $0.contains("book hash statuses were not compared") })
        }
        // A golden from before the option was recorded: hashes checked tells it was on.
        var legacy = Golden.make(from: onReport)
        legacy.options.exchangeHash = nil
        #expect(legacy.exchangeHashMode == "on")
        #expect(Verifier.compare(report: offReport, golden: legacy).differences.first?.kind == .option)
    }

    /// A book whose digest is equal but whose flags differ is not said to differ "deeper in the book".
    @Test func equalBookWithOtherFlagsSaysTheBookItselfIsEqual() {
        var report = Samples.report()
        let (w, b) = index(of: Samples.assetA, in: report)
        report.workers[w].books[b].hashStatus = "diverged"
        let difference = try! #require(Verifier.compare(report: report, golden: golden).differences.first)
        #expect(difference.fields == [FieldDifference(field: "hashStatus", expected: "verified", actual: "diverged")])
        #expect(difference.details.contains { $0.contains("the book itself is equal (same digest") })
        #expect(!difference.details.contains { $0.contains("deeper in the book") })
    }

    @Test func workerThatDiedIsADifference() {
        var report = Samples.report()
        report.workers[1].exit = .signal(9)
        let differences = Verifier.compare(report: report, golden: golden).differences
        #expect(differences.count == 1)
        #expect(differences[0].kind == .workerExit)
        #expect(differences[0].summary.contains("worker 1 (pid 4001) did not end normally: signal 9"))
    }

    @Test func theRunsOwnWarningsAreNotedWithoutFailing() {
        var report = Samples.report()
        report.status = .warnings
        report.exchangeHash.diverged = 1
        report.exchangeHash.firstDivergence = RunReport.HashDivergence(assetID: "42", line: 77, timestampMs: 1)
        // Recorded from the same run: the findings are part of the expected outcome, shown as notes.
        let result = Verifier.compare(report: report, golden: Golden.make(from: report))
        #expect(result.passed)
        #expect(
            result.notes == [
                "the run itself ended with status 'warnings': 1 malformed line, "
                    + "1 exchange-hash divergence (first: asset 42 at tape line 77)"
            ])
    }

    /// Regression: `replay verify` passed a report whose own status was `failed` (interrupted or a
    /// stalled worker), with only a note.
    @Test func aFailedRunNeverPasses() {
        var report = Samples.report()
        let golden = Golden.make(from: report)
        report.status = .failed
        report.statusReasons = ["interrupted at s.ndjson line 8: the report covers what was replayed"]
        let result = Verifier.compare(report: report, golden: golden)
        #expect(!result.passed)
        #expect(result.differences.map(\.kind) == [.runFailed])
        // Regression: an interrupted run's partial read (no digest, fewer frames) was first
        // reported as "recorded from a different tape".
        var partial = report
        partial.tape.contentDigest = ""
        partial.tape.frameCount -= 1
        #expect(Verifier.compare(report: partial, golden: golden).differences.map(\.kind) == [.runFailed])
        #expect(
            result.differences.first?.summary
                == "the run itself failed, so its results are incomplete: "
                + "interrupted at s.ndjson line 8: the report covers what was replayed")
        // A dead worker is its own difference and is not told twice.
        report.workers[1].exit = .signal(9)
        #expect(Verifier.compare(report: report, golden: golden).differences.map(\.kind) == [.workerExit])
    }

    @Test func theRunsOwnStatusReasonsAreTheNote() {
        var report = Samples.report()
        report.status = .warnings
        report.statusReasons = ["3 price changes for books that had no snapshot yet (those books are incomplete)"]
        let result = Verifier.compare(report: report, golden: Golden.make(from: report))
        #expect(result.passed)
        #expect(
            result.notes == [
                "the run itself ended with status 'warnings': "
                    + "3 price changes for books that had no snapshot yet (those books are incomplete)"
            ])
    }

    @Test(arguments: [1, 2])
    func inputCountsAndHashTotalsAreComparedWhateverTheWorkerCount(workers: Int) {
        var report = Samples.report(workers: workers)
        report.input.messagesByType["price_change"] = 959
        report.input.unknownEventTypes["new_market"] = 1
        report.exchangeHash.diverged = 1
        report.exchangeHash.firstDivergence = RunReport.HashDivergence(assetID: "42", line: 77, timestampMs: 5)
        let result = Verifier.compare(report: report, golden: golden)
        #expect(result.mode == (workers == 2 ? .perWorker : .perAsset))
        #expect(result.differences.map(\.kind) == [.input, .exchangeHash])
        #expect(
            result.differences[0].fields == [
                FieldDifference(field: "messagesByType.price_change", expected: "960", actual: "959"),
                FieldDifference(field: "unknownEventTypes.new_market", expected: nil, actual: "1"),
            ])
        #expect(result.differences[0].details.isEmpty, "malformed lines are listed only when their count differs")
        #expect(result.differences[1].fields.map(\.field) == ["diverged", "firstDivergence"])
        #expect(result.differences[1].fields[1].actual == "asset 42 at tape line 77 (timestamp 5 ms)")
    }

    @Test func changedMalformedLineCountListsTheMalformedLines() {
        var report = Samples.report()
        report.input.malformedLineCount = 2
        report.input.malformedLines.append(RunReport.MalformedLine(file: "s.ndjson", line: 9, reason: "torn UTF-8"))
        let difference = Verifier.compare(report: report, golden: golden).differences[0]
        #expect(difference.kind == .input)
        #expect(difference.fields == [FieldDifference(field: "malformedLineCount", expected: "1", actual: "2")])
        #expect(
            difference.details == [
                "malformed lines in this run: session-0001.ndjson.zst:77 (not JSON), s.ndjson:9 (torn UTF-8)"
            ])
    }

    @Test func goldenWithoutTotalsSectionsStillVerifies() {
        var old = golden
        old.input = nil
        old.exchangeHash = nil
        var report = Samples.report()
        report.exchangeHash.checked += 1
        #expect(Verifier.compare(report: report, golden: old).passed)
    }

    @Test func timingIsNeverComparedExactly() {
        var report = Samples.report()
        report.workers[0].latency = RunReport.Latency(p50: 1, p99: 2, p999: 3, max: 4)
        report.workers[0].memoryBytes = 1
        report.workers[1].pid = 1
        report.throughput = RunReport.Throughput(messagesPerSecond: 1, megabytesPerSecond: 1, wallSeconds: 1000)
        report.router["blockedOnFull"] = 1000
        #expect(Verifier.compare(report: report, golden: golden).passed)
    }

    @Test func longDiffsAreTruncatedWithACount() {
        var report = Samples.report()
        for index in 0..<30 { report.assetDigests["extra-\(index)"] = "00" }
        let result = Verifier.compare(report: report, golden: golden)
        #expect(result.differences.count == 30)
        let text = VerificationText.render(result, maxDifferences: 5, maxLinesPerDifference: 0)
        #expect(text.contains("[5] "))
        #expect(!text.contains("[6] "))
        #expect(text.contains("… and 25 more differences (use --json to see all)"))
        #expect(text.contains("      … and 1 more"))
        #expect(text.hasPrefix("FAIL: report against golden golden: 30 differences"))
    }

    @Test func resultJSONRoundTrips() throws {
        var report = Samples.report()
        report.workers[0].counters["crossedBooks"] = 1
        let result = Verifier.compare(report: report, golden: golden, targets: Targets(maxLatencyP99Micros: 10))
        let decoded = try JSONDecoder().decode(VerificationResult.self, from: Data(result.jsonData()))
        #expect(decoded == result)
        #expect(decoded.status == .fail)
    }
}
