// The human summary of a run report, printed at the end of `replay run`.
import Foundation
import Tape
public import Verify

/// Renders a `RunReport` as an aligned, readable summary. Every figure in it is also in the
/// JSON report (docs/REPORT_FORMAT.md).
public enum ReportText {
    public static func render(_ report: RunReport) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        let input = report.input
        line("tape      \(report.tape.paths.joined(separator: ", "))")
        let digest =
            report.tape.contentDigest.isEmpty
            ? "digest not computed (the run stopped before the end of the tape)"
            : "\(report.tape.digestAlgorithm) \(report.tape.contentDigest)"
        line(
            "          \(VerificationText.count(report.tape.frameCount, "frame")), \(bytes(input.bytes)) of frames, \(digest)"
        )
        if input.endedWithFooter == false {
            line(
                "          no footer: the recorder did not close the tape (a crash or kill); all it flushed was replayed"
            )
        }
        // A G3 price_change message holds several entries, each counted (tape info counts messages).
        let types = input.messagesByType.sorted { $0.key < $1.key }.map {
            $0.key == "price_change" ? "price_change entries \($0.value)" : "\($0.key) \($0.value)"
        }
        line("messages  \(types.isEmpty ? "none" : types.joined(separator: ", "))")
        let options = report.options
        line(
            "options   \(options.workers) worker(s), routing \(options.routing), backpressure \(options.backpressure), speed \(options.speed)"
                + (options.assetFilter.map { ", \($0.count) asset(s) selected" } ?? "")
                + (options.timeWindow.map { ", window \(windowText($0))" } ?? ""))
        if let throughput = report.throughput {
            line(
                String(
                    format: "speed     %.0f messages/s, %.1f MB/s, %.3f s wall", throughput.messagesPerSecond,
                    throughput.megabytesPerSecond, throughput.wallSeconds))
        }
        if let pacing = report.pacing {
            line(
                String(
                    format: "pacing    lateness p50 %.0f µs, p99 %.0f µs, max %.0f µs", pacing.p50, pacing.p99,
                    pacing.max))
        }
        line()
        line(
            "worker    pid      messages  snapshots    updates  trades  books    memory  avg µs  latency µs p50/p99/p99.9/max"
        )
        for worker in report.workers {
            let latency =
                worker.latency.map { String(format: "%.0f/%.0f/%.0f/%.0f", $0.p50, $0.p99, $0.p999, $0.max) } ?? "-"
            line(
                String(
                    format: "%-6d %7d %11d %10d %10d %7d %6d %9@ %7.2f  %@", worker.index, worker.pid,
                    worker.messagesProcessed, worker.snapshots, worker.updates, worker.trades, worker.bookCount,
                    bytes(worker.memoryBytes ?? 0), worker.avgProcessingMicros ?? 0, latency))
        }
        let routerKeys = ["routed", "dropped", "batches", "queueFullEvents", "unroutable", "parseErrors"]
        line(
            "router    "
                + routerKeys.compactMap { key in report.router[key].map { "\(key) \($0)" } }.joined(separator: ", "))
        line()
        var totals: [String: Int] = [:]
        for worker in report.workers {
            for (key, value) in worker.counters { totals[key, default: 0] += value }
        }
        let checks: [(String, String)] = [
            ("deltasBeforeSnapshot", "price changes before any snapshot"),
            ("deltasWhileUntrusted", "price changes while the book was untrusted"),
            ("crossedBooks", "crossed or locked books after an update"),
            ("offTickLevels", "levels off the tick grid"),
            ("topOfBookMismatches", "top-of-book mismatches with the exchange's best_bid/best_ask"),
            ("bestBidAskMismatches", "best_bid_ask messages the book did not reach"),
            ("staleSnapshotsRejected", "stale snapshots rejected"),
            ("invalidations", "books invalidated by connection gaps"),
        ]
        line("checks")
        let topChecks = totals["topOfBookChecks", default: 0]
        line(
            "  top of book: \(topChecks - totals["topOfBookMismatches", default: 0]) of \(topChecks) G3 entries agree with the book"
        )
        for (key, text) in checks where totals[key, default: 0] > 0 {
            line("  \(text): \(totals[key]!)")
        }
        let hash = report.exchangeHash
        var hashLine =
            report.options.exchangeHash == "off"
            ? "  exchange hash: not checked (--exchange-hash off)"
            : "  exchange hash: \(hash.checked) checked, \(hash.verified) verified, \(hash.verifiedLate) verified late, "
                + "\(hash.mismatchedTransient) transient mismatches, \(hash.diverged) diverged, \(hash.unverifiable) unverifiable"
        if let pending = totals["exchangeHashPending"], pending > 0 {
            hashLine += ", \(pending) still pending at the end of the tape"
        }
        if !hash.unverifiableReasons.isEmpty {
            hashLine +=
                " ("
                + hash.unverifiableReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                    separator: ", ") + ")"
        }
        line(hashLine)
        if let first = hash.firstDivergence {
            line(
                "  first divergence: asset \(first.assetID) at tape line \(first.line), exchange time \(first.timestampMs) ms"
            )
        }
        if !report.untrustedBooks.isEmpty {
            line("  untrusted books at the end: \(report.untrustedBooks.count)")
            for book in report.untrustedBooks.prefix(5) { line("    \(book.assetID): \(book.reason)") }
            if report.untrustedBooks.count > 5 { line("    … and \(report.untrustedBooks.count - 5) more") }
        }
        if !input.unknownEventTypes.isEmpty {
            line(
                "  unknown event types: "
                    + input.unknownEventTypes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                        separator: ", "))
        }
        if input.malformedLineCount > 0 {
            line("  malformed lines skipped: \(input.malformedLineCount)")
            for issue in input.malformedLines.prefix(5) { line("    \(issue.file):\(issue.line): \(issue.reason)") }
            if input.malformedLines.count > 5 { line("    … and \(input.malformedLineCount - 5) more") }
        }
        if let count = input.unknownKindCount, count > 0 {
            // Forward compatibility (docs/TAPE_FORMAT.md): skipped and counted, not a warning.
            line("  lines of unknown kinds skipped (written by a newer version?): \(count)")
            let listed = input.unknownKindLines ?? []
            for issue in listed.prefix(5) { line("    \(issue.file):\(issue.line): \(issue.reason)") }
            if count > min(listed.count, 5) { line("    … and \(count - min(listed.count, 5)) more") }
        }
        for torn in input.tornTails {
            if let offset = torn.corruptAt {
                let at = offset >= 0 ? " at compressed byte \(offset)" : ""
                let rest =
                    torn.resumedAt.map {
                        "skipped \(VerificationText.count(torn.droppedCompressedBytes ?? 0, "compressed byte")), resumed at byte \($0)"
                    }
                    ?? "\(VerificationText.count(torn.droppedCompressedBytes ?? 0, "compressed byte")) to the end of the file lost"
                line("  corrupt data: \(torn.file)\(at) \(torn.position): \(rest)")
            } else if let text = torn.droppedLineBytes, let compressed = torn.droppedCompressedBytes {
                line(
                    "  torn tail: \(torn.file) \(torn.position): dropped \(VerificationText.count(text, "byte")) of an "
                        + "incomplete line and \(VerificationText.count(compressed, "undecodable compressed byte"))")
            } else {
                line(
                    "  torn tail: \(torn.file) \(torn.position), \(VerificationText.count(torn.droppedBytes, "byte")) dropped"
                )
            }
        }
        line("status    \(report.status.rawValue)")
        for reason in report.statusReasons ?? [] { line("          \(reason)") }
        return out
    }

    static func bytes(_ count: Int) -> String {
        switch count {
        case ..<10_000: "\(count) B"
        case ..<10_000_000: String(format: "%.1f KB", Double(count) / 1e3)
        default: String(format: "%.1f MB", Double(count) / 1e6)
        }
    }
}

extension ReportText {
    /// A time window as instants people read: `2026-09-24T16:30:00.000Z → end (receive clock)`.
    static func windowText(_ window: RunReport.TimeWindow) -> String {
        let from = window.fromNs.map { TapeFormat.iso8601(wallNs: $0) } ?? "start"
        let to = window.toNs.map { TapeFormat.iso8601(wallNs: $0) } ?? "end"
        return "\(from) → \(to) (\(window.basis) clock)"
    }
}
