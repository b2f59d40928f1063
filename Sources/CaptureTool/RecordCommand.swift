import Capture
// `capture record`: resolve the assets, record until stopped, print a summary.
import CommandLineSupport
import Dispatch
import Foundation
import Synchronization

enum RecordCommand: CaptureSubcommand {
    static let name = "record"
    static let summary = "record the market channel for some assets into a folder of tape segments"
    static let usage =
        "capture record (--assets ID,... | --assets-file FILE | --markets SLUG_OR_CONDITION_ID,... | --top N) --out DIR [options]"
    static let help = """
        capture record — record Polymarket's market channel to zstd NDJSON tape segments

        Connects to the market websocket, subscribes to the assets (at most --assets-per-connection
        per connection), keeps every connection alive (text PING every 10 s; a connection without a
        PONG for 30 s, or without data for 2 min, is dropped) and reconnects with backoff (1 s
        doubling to 30 s, with jitter). Every frame is written byte-exact with its receive time;
        every connect, subscribe, disconnect, reconnect and suspected gap is written as an event
        line. Data is flushed at least every 100 ms, so a kill -9 loses at most that much; a
        restart starts a new segment and never appends to an old one.

        Usage: \(usage)

        What to record (exactly one):
          --assets ID,...          asset (CLOB token) ids
          --assets-file FILE       asset ids, one per line or comma-separated; '#' starts a comment
                                   (LF or CRLF line ends; a UTF-8 byte-order mark is ignored)
          --markets ID,...         market slugs or condition ids (0x + 64 hex); records every outcome
          --top N                  the N most active markets by 24 h volume (see `capture markets`)

        Where:
          --out DIR                folder for the segments (created if missing)
          --prefix NAME            segment file-name prefix (default capture): NAME-<UTC time>-<seq>.ndjson.zst
          --rotate-size SIZE       start a new segment at this compressed size (default 512MB; 0 = never)
          --rotate-time DURATION   start a new segment after this long (default 1h; 0 = never)

        How:
          --duration DURATION      stop by itself after this long (default: until Ctrl-C / SIGTERM)
          --assets-per-connection N  assets per websocket (default 200; the feed degrades past ~500)
          --url URL                market websocket (default \(RecordOptions.defaultURL))
          --rest-url URL           CLOB REST base for side data (default \(MarketDirectory.defaultRestURL))
          --gamma-url URL          Gamma API base for --markets/--top (default \(MarketDirectory.defaultGammaURL))
          --no-side-data           skip the per-asset REST /book lookups (header then lacks min_order_size etc.)
          --ping-interval D        PING cadence (default 10s)
          --pong-timeout D         drop a connection whose PING stays unanswered this long (default 30s)
          --silence-timeout D      drop a connection with no data frame for this long (default 2m; 0 = never)
          --queue-frames N         frames buffered between sockets and disk (default 262144)

        Output:
          --json                   print a JSON summary on stdout at the end (for scripts)
          --status / --no-status   force the live status line on or off (default: on when stderr is a terminal)
          --quiet                  do not log connection events (connects, disconnects, reconnects, gaps) on stderr

        Durations: 500ms, 45s, 30m, 1h, 2h30m. Sizes: 64KB, 512MB, 1GB (powers of 1024).

        Stopping: Ctrl-C or SIGTERM closes every connection and ends the segment with a footer.
        A second Ctrl-C stops at once after writing what was received (exit 130).

        Examples:
          # the 20 busiest markets for an hour, one segment per 10 minutes
          capture record --top 20 --out tapes/ --duration 1h --rotate-time 10m

          # two markets by slug, run until Ctrl-C
          capture record --markets will-it-rain-tomorrow,fed-cuts-in-march --out tapes/

          # an explicit asset list, with a JSON summary for a cron job
          capture record --assets-file assets.txt --out /data/tapes --duration 24h --json > summary.json

          # replay what was recorded
          replay run tapes/

          # offline, against a local stand-in for the exchange fed from a tape
          replay serve TAPE --port 8765 &
          capture record --url ws://127.0.0.1:8765/ws/market --no-side-data --assets ID --out tapes/ --duration 1m

        The summary counts connects (connections established), reconnects (a new connection after an
        earlier one was up) and connect attempts that failed (refused, timed out) separately.

        Exit status: 0 stopped cleanly, 1 failed (REST lookup, output folder, tape write, or no connection
        was ever established: the last line names the URL and the last error), 64 usage error,
        130 forced by a second signal.
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        let options = try RecordOptions.parse(arguments)
        let statusEnabled = options.statusLine ?? (isatty(2) == 1)

        // 1. Which assets, and the side data the exchange-hash check needs.
        let directory = MarketDirectory(gammaURL: options.gammaURL, restURL: options.restURL)
        if statusEnabled { printError("resolving assets and side data…") }
        let resolved = try directory.resolve(options.selection, fetchBooks: options.fetchSideData)
        for warning in resolved.warnings { printError("warning: \(warning)") }
        if resolved.assets.isEmpty { throw CaptureError("the selection resolved to no assets; nothing to record") }
        if options.assetsPerConnection > 500 {
            printError("warning: more than 500 assets per connection; the exchange is known to stop sending updates")
        }

        // 2. Start recording.
        let clock = SystemClock()
        let sink = TapeWriterSink(
            directory: options.outputDirectory, prefix: options.segmentPrefix, rotateSizeBytes: options.rotateSizeBytes,
            rotateTimeNanoseconds: options.rotateTimeNanoseconds)
        var configuration = options.configuration(
            assets: resolved.assets, metadata: resolved.sideData, jitterSeed: clock.wallNanoseconds())
        if options.logEvents {
            configuration.onEvent = { event in
                // Clear a status line that may be drawn; it is redrawn on the next tick.
                let prefix = statusEnabled ? "\r\u{1B}[K" : ""
                printError(prefix + "\(isoTime(event.wallNanoseconds)) \(event.event)")
            }
        }
        let run = CaptureRun(
            configuration: configuration, factory: WebSocketConnectionFactory(), clock: clock, sink: sink)
        do {
            try run.start()
        } catch {
            throw CaptureError("could not start writing into \(options.outputDirectory): \(error)")
        }
        let shardText = run.shards.count == 1 ? "1 connection" : "\(run.shards.count) connections"
        printError(
            "recording \(resolved.assets.count) asset(s) over \(shardText) from \(options.url) into \(options.outputDirectory)"
                + (statusEnabled ? " (Ctrl-C stops)" : ""))

        // 3. Signals: the first asks for a clean stop, the second forces one.
        let signals = SignalHandling(run: run, statusEnabled: statusEnabled)
        let signalSources = signals.install()
        defer { withExtendedLifetime(signalSources) {} }

        let status = StatusLine(enabled: statusEnabled, shards: run.shards.count, clock: clock)
        let summary = run.wait(tickNanoseconds: SessionPolicy.second) { snapshot in status.update(snapshot) }
        status.finish()

        // 4. Report.
        let segments = sink.segmentPaths
        if options.json {
            let report = RecordReport(
                summary: summary, output: options.outputDirectory, segments: segments, url: options.url,
                warnings: resolved.warnings)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try StandardOutput.print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
        printError(describe(summary, segments: segments))
        if summary.counters.queueDroppedFrames > 0 {
            printError(
                "WARNING: \(summary.counters.queueDroppedFrames) frame(s) were DROPPED because the disk could not keep up "
                    + "(\(summary.counters.queueFullEpisodes) episode(s)); each is marked by a gap event in the tape.")
        }
        switch summary.ending {
        case "failed":
            printError("Error: \(summary.failure ?? "the capture failed")")
            return CaptureExitStatus.failure
        default:
            return CaptureExitStatus.success
        }
    }

    static func describe(_ summary: CaptureSummary, segments: [String]) -> String {
        let counters = summary.counters
        let seconds = Double(summary.endedWallNanoseconds &- summary.startedWallNanoseconds) / 1e9
        let ratio = counters.compressionRatio.map { String(format: " (%.1f× compression)", $0) } ?? ""
        return """
            \(summary.ending): \(counters.framesWritten) frames in \(String(format: "%.1f", seconds)) s, \
            \(formatBytes(counters.bytesUncompressed)) → \(formatBytes(counters.bytesWritten))\(ratio) in \
            \(segments.count) segment(s); connects \(counters.connects), reconnects \(counters.reconnects), \
            connect attempts failed \(counters.connectAttemptsFailed), keepalive timeouts \(counters.keepaliveTimeouts), server closes \(counters.serverCloses)
            """
    }
}

/// The `--json` summary.
struct RecordReport: Encodable {
    var summary: CaptureSummary
    var output: String
    var segments: [String]
    var url: String
    var warnings: [String]
}

/// `2026-12-03T16:50:00.123Z` for log lines.
func isoTime(_ wallNanoseconds: UInt64) -> String {
    let date = Date(timeIntervalSince1970: Double(wallNanoseconds / 1_000_000) / 1000)
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}

func formatBytes(_ bytes: UInt64) -> String {
    let value = Double(bytes)
    if value >= Double(1 << 30) { return String(format: "%.2f GiB", value / Double(1 << 30)) }
    if value >= Double(1 << 20) { return String(format: "%.1f MiB", value / Double(1 << 20)) }
    if value >= Double(1 << 10) { return String(format: "%.1f KiB", value / Double(1 << 10)) }
    return "\(bytes) B"
}

/// SIGINT/SIGTERM: first a clean stop, then a forced one. Handled on a dispatch queue, not in
/// a signal handler, so the handlers can take locks.
final class SignalHandling: Sendable {
    private let count = Atomic<Int>(0)
    private let stopClean: @Sendable () -> Void
    private let stopForced: @Sendable () -> Bool
    private let statusEnabled: Bool

    init<F, C, S>(run: CaptureRun<F, C, S>, statusEnabled: Bool) {
        stopClean = { run.requestStop() }
        stopForced = { run.forceStop() }
        self.statusEnabled = statusEnabled
    }

    /// Installs the handlers; keep the returned sources alive for as long as they should work.
    func install() -> [any DispatchSourceSignal] {
        var sources: [any DispatchSourceSignal] = []
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in received(number) }
            source.resume()
            sources.append(source)
        }
        return sources
    }

    private func received(_ number: Int32) {
        let seen = count.add(1, ordering: .relaxed).newValue
        let name = number == SIGINT ? "SIGINT" : "SIGTERM"
        if seen == 1 {
            printError("\n\(name): closing connections and the tape… (send it again to stop at once)")
            stopClean()
        } else {
            printError("\n\(name) again: writing what was received and stopping now")
            let closed = stopForced()
            if !closed {
                printError("Error: the tape writer did not finish within 2 s; the last segment may lack its footer")
            }
            exit(CaptureExitStatus.forced)
        }
    }
}

/// The one-line live status on stderr (terminals only).
final class StatusLine: @unchecked Sendable {
    // @unchecked: `update` is only ever called from the thread running `CaptureRun.wait`,
    // and `finish` from that same thread after `wait` returns.
    private let enabled: Bool
    private let shards: Int
    private let clock: SystemClock
    private var last: (at: UInt64, frames: UInt64)?
    private var drawn = false

    init(enabled: Bool, shards: Int, clock: SystemClock) {
        self.enabled = enabled
        self.shards = shards
        self.clock = clock
    }

    func update(_ snapshot: CaptureCountersSnapshot) {
        let now = clock.monotonicNanoseconds()
        defer { last = (now, snapshot.framesWritten) }
        guard enabled else { return }
        var rate = 0.0
        if let last, now > last.at {
            rate = Double(snapshot.framesWritten &- last.frames) / (Double(now - last.at) / 1e9)
        }
        let age =
            snapshot.lastFrameMonotonicNanoseconds == 0
            ? "none yet" : String(format: "%.1f s ago", Double(now &- snapshot.lastFrameMonotonicNanoseconds) / 1e9)
        let ratio = snapshot.compressionRatio.map { String(format: "%.1f×", $0) } ?? "–"
        var line =
            "up \(snapshot.connectionsUp)/\(shards) · \(String(format: "%.0f", rate)) frames/s · "
            + "\(formatBytes(snapshot.bytesWritten)) written (\(ratio)) · last frame \(age) · reconnects \(snapshot.reconnects)"
        if snapshot.connectAttemptsFailed > 0 { line += " · connect attempts failed \(snapshot.connectAttemptsFailed)" }
        if snapshot.queueDroppedFrames > 0 {
            line += " · \u{1B}[1;31mDROPPED \(snapshot.queueDroppedFrames) frames (disk too slow)\u{1B}[0m"
        }
        writeStandardError("\r\u{1B}[K" + line)
        drawn = true
    }

    func finish() {
        if drawn { writeStandardError("\r\u{1B}[K") }
    }
}
