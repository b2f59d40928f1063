// `replay tape info`: what a tape holds, how long it runs, and whether it is intact.
import CommandLineSupport
import Foundation
import Tape
import Verify

/// `replay tape info TAPE...`
enum TapeInfoCommand: Subcommand {
    static let name = "info"
    static let summary = "header, time spans, frame counts by event type, assets, gaps, damage, compression"
    static let usage = "replay tape info TAPE... [--json] [--strict]"
    static let help = """
        replay tape info — summarize a tape

        Usage: \(usage)

        TAPE is a .ndjson.zst or .ndjson file, a folder of segments (read in name order as one
        tape), or - for standard input. Several TAPEs are read as one tape, in the order given.

        Shows the header (format, creation time, source, writer), the receive-clock and
        exchange-clock time spans, frames by event type (objects inside array frames counted
        one by one; non-JSON frames such as PONG listed separately), what the Feed parser
        makes of them (books, price-change levels, trades, ..., parse errors; the first malformed
        frames with file and line), connection events, gaps (each break once: a gap event, or a
        lost connection; a connection closed with code 1000, as a stopped capture does, is a
        clean close, not a gap), assets, torn tails, corrupt data (where, and whether reading
        resumed at a later zstd frame), skipped lines, and the compression ratio.

        Options:
          --json     print one JSON object instead of text
          --strict   exit 2 if the tape has a torn tail, corrupt data, malformed lines or
                     frames that do not parse
          -h, --help show this help

        Examples:
          replay tape info Fixtures/tapes/g3-enrico-2026-09.ndjson.zst
          replay tape info recordings/ --json | jq .frames
          zstdcat tape.ndjson.zst | replay tape info -

        Exit status: 0 ok (damage is reported as warnings), 1 unreadable / not a tape /
        unsupported format version, 2 damaged with --strict, 64 usage error.
        """

    static func run(_ words: [String]) throws -> Int32 {
        let arguments = try Arguments(words, options: [], flags: ["json", "strict", "help"])
        guard !arguments.positionals.isEmpty else { throw UsageError("name at least one tape") }
        try TapeCommand.checkStandardInputOnce(arguments.positionals)
        let summary: TapeSummary
        do {
            summary = try TapeSummary.compute(paths: arguments.positionals)
        } catch {
            throw TapeCommand.fail(error)
        }
        if arguments.flag("json") {
            try StandardOutput.print(json(summary))
        } else {
            try StandardOutput.print(text(summary))
            for line in TapeCommand.damageLines(summary.read) { printError(line) }
            for line in malformedFrameLines(summary) { printError(line) }
        }
        // A frame that does not parse is damage too (`replay run --strict` exits 2 for it).
        if arguments.flag("strict"), TapeCommand.isDamaged(summary.read) || summary.malformedFrames > 0 {
            return TapeExitStatus.damaged
        }
        return ExitStatus.success
    }

    /// Warnings for frames whose envelope is fine but whose bytes do not parse, for stderr.
    static func malformedFrameLines(_ summary: TapeSummary) -> [String] {
        var lines = summary.malformedFrameIssues.map { "warning: \($0.file):\($0.line): \($0.reason)" }
        let more = summary.malformedFrames - summary.malformedFrameIssues.count
        if more > 0 { lines.append("warning: " + VerificationText.count(more, "more malformed frame")) }
        return lines
    }

    static func span(_ first: Int64?, _ last: Int64?, scale: Int64) -> String {
        guard let first, let last else { return "none" }
        let seconds = Double(last - first) / Double(scale)
        return "\(TapeFormat.iso8601(wallNs: first * (1_000_000_000 / scale))) → "
            + "\(TapeFormat.iso8601(wallNs: last * (1_000_000_000 / scale))) (\(String(format: "%.3f", seconds)) s)"
    }

    static func text(_ summary: TapeSummary) -> String {
        var lines: [String] = []
        let read = summary.read
        if let header = summary.header {
            lines.append("format:      \(header.format) (writer \(header.writer))")
            lines.append("created:     \(TapeFormat.iso8601(wallNs: header.createdNs))")
            lines.append("source:      \(header.source)")
            lines.append("session:     \(header.session)\(header.synthetic ? " (synthetic)" : "")")
            let known = header.sideData.count
            lines.append(
                "assets:      \(header.assets.count) in header (side data for \(known)), \(summary.assetsSeen.count) seen in frames"
            )
        }
        lines.append(
            "segments:    \(read.files.count)\(read.files.count == 1 ? "" : ": " + read.files.joined(separator: ", "))")
        lines.append("receive:     \(span(summary.firstRecvNs, summary.lastRecvNs, scale: 1_000_000_000))")
        lines.append("exchange:    \(span(summary.firstExchangeMs, summary.lastExchangeMs, scale: 1000))")
        lines.append(
            "frames:      \(read.frames)\(summary.syntheticFrames > 0 ? " (\(summary.syntheticFrames) synthetic)" : "")\(summary.warmupFrames > 0 ? " (\(summary.warmupFrames) warm-up)" : "")"
        )
        lines.append("  messages by event_type (an array frame holds several):")
        for (type, count) in summary.eventTypes.sorted(by: {
            $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key)
        }) {
            lines.append(
                "    \((type.isEmpty ? "(no event_type)" : type).padding(toLength: 18, withPad: " ", startingAt: 0)) \(count)"
            )
        }
        let feed = summary.feed
        lines.append(
            "parsed:      \(feed.books) books, \(feed.priceChanges) price changes (levels), \(feed.lastTrades) trades, "
                + "\(feed.tickSizeChanges) tick-size changes, \(feed.bestBidAsks) best_bid_ask, \(feed.others) other "
                + "(\(feed.unknownEventTypes) unknown types), \(feed.errors) parse errors in \(summary.malformedFrames) malformed frames"
        )
        for (text, count) in summary.textFrames.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(("text " + text).padding(toLength: 20, withPad: " ", startingAt: 0)) \(count)")
        }
        for issue in summary.malformedFrameIssues {
            lines.append("  malformed frame at \(issue.file):\(issue.line): \(issue.reason)")
        }
        let events = summary.connectionEvents.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }
        lines.append(
            "connections: \(summary.connections.count); events: \(events.isEmpty ? "none" : events.joined(separator: ", ")); "
                + "gaps: \(summary.gaps); clean closes: \(summary.cleanCloses)"
        )
        lines.append(
            "end:         \(read.endedWithFooter ? "clean (footer)" : "no footer (writer did not close cleanly)")")
        let corrupt = read.tornTails.filter(\.corrupt).count
        lines.append(
            "torn tails:  \(read.tornTails.count - corrupt); corrupt data: \(corrupt); malformed lines: \(read.malformedLines); "
                + "unknown kinds: \(read.unknownKinds)"
        )
        lines.append(
            "size:        \(read.compressedBytes) bytes on disk, \(read.decompressedBytes) NDJSON bytes, ratio \(String(format: "%.2f", summary.compressionRatio))"
        )
        return lines.joined(separator: "\n")
    }

    static func json(_ summary: TapeSummary) -> String {
        var object: [String: Any] = [:]
        let read = summary.read
        if let header = summary.header {
            object["header"] =
                [
                    "format": header.format, "created_ns": header.createdNs, "source": header.source,
                    "writer": header.writer, "session": header.session, "assets": header.assets,
                    "synthetic": header.synthetic,
                ] as [String: Any]
        }
        object["segments"] = read.files
        object["frames"] = read.frames
        object["events"] = read.events
        object["event_types"] = summary.eventTypes
        object["parsed"] = [
            "books": summary.feed.books, "price_changes": summary.feed.priceChanges,
            "last_trades": summary.feed.lastTrades, "tick_size_changes": summary.feed.tickSizeChanges,
            "best_bid_asks": summary.feed.bestBidAsks, "others": summary.feed.others,
            "unknown_event_types": summary.feed.unknownEventTypes, "errors": summary.feed.errors,
            "malformed_frames": summary.malformedFrames,
        ]
        object["text_frames"] = summary.textFrames
        object["connection_events"] = summary.connectionEvents
        object["connections"] = summary.connections.map { Int($0) }
        object["gaps"] = summary.gaps
        object["clean_closes"] = summary.cleanCloses
        object["malformed_frames"] = summary.malformedFrameIssues.map {
            ["file": $0.file, "line": $0.line, "reason": $0.reason] as [String: Any]
        }
        object["assets_seen"] = summary.assetsSeen
        object["first_recv_ns"] = summary.firstRecvNs ?? NSNull()
        object["last_recv_ns"] = summary.lastRecvNs ?? NSNull()
        object["first_exchange_ms"] = summary.firstExchangeMs ?? NSNull()
        object["last_exchange_ms"] = summary.lastExchangeMs ?? NSNull()
        object["ended_with_footer"] = read.endedWithFooter
        object["torn_tails"] = read.tornTails.filter { !$0.corrupt }.map {
            [
                "file": $0.file, "last_good_line": $0.lastGoodLine, "dropped_line_bytes": $0.droppedLineBytes,
                "dropped_compressed_bytes": $0.droppedCompressedBytes, "reason": $0.reason,
            ] as [String: Any]
        }
        object["corrupt_data"] = read.tornTails.filter(\.corrupt).map {
            [
                "file": $0.file, "last_good_line": $0.lastGoodLine, "offset": $0.offset ?? NSNull(),
                "resumed_at": $0.resumedAt ?? NSNull(), "dropped_line_bytes": $0.droppedLineBytes,
                "dropped_compressed_bytes": $0.droppedCompressedBytes, "reason": $0.reason,
            ] as [String: Any]
        }
        object["malformed_lines"] = read.malformedLines
        object["issues"] = read.issues.map { ["file": $0.file, "line": $0.line, "reason": $0.reason] as [String: Any] }
        object["unknown_kinds"] = read.unknownKinds
        object["compressed_bytes"] = read.compressedBytes
        object["decompressed_bytes"] = read.decompressedBytes
        object["compression_ratio"] = summary.compressionRatio
        object["synthetic_frames"] = summary.syntheticFrames
        object["warmup_frames"] = summary.warmupFrames
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
