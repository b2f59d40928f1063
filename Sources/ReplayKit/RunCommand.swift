import Book
// `replay run`: the main job. Replays tapes through the router and worker processes, prints
// the report, and records or verifies golden files.
import CommandLineSupport
import Foundation
import Synchronization
import Verify

enum RunCommand: Subcommand {
    static let name = "run"
    static let summary = "replay tapes through the router and worker processes (the main job)"
    static let usage = "replay run [TAPE...] [--workers N] [--speed max|1x|10x|<f>x] [options]"
    static let help = """
        Usage: \(usage)

        Streams one or more tapes (.ndjson.zst segments, plain .ndjson, a directory of segments,
        or - for standard input) through the router into N worker processes that keep the order
        books, then prints a report: frames and messages per event type, per-worker statistics
        and latency, router statistics, throughput, correctness counters (deltas before a
        snapshot, crossed books, top-of-book mismatches, exchange-hash checks), and any torn tail
        or malformed line with its file and line. With no TAPE it replays the bundled real tape
        and verifies it against the bundled golden file for the worker count (the 1-worker golden,
        per-asset, when none is recorded for that count).

        Input:
          TAPE...                 tape files or directories, in order (default: the bundled tape)
          --from TIME, --to TIME  replay only this window; epoch ms or ISO-8601 (UTC unless an
                                  offset is given; a date alone is midnight UTC). Frames before
                                  --from are applied unpaced to build book state; the run stops
                                  after --to
          --time-basis receive|exchange
                                  which clock --from/--to use (default: receive)
          --assets ID,...         only route events of these assets (repeatable); the trades of
                                  the other token of their markets still set the last trade
                                  price (as `replay tape cat|slice --asset` keep them)
          --assets-file FILE      the same, one asset id per line (# comments allowed; LF or CRLF)
          --strict                stop at the first damaged input: a malformed line or frame, a
                                  torn tail, corrupt data, a segment that is no tape (exit 2)

        Engine:
          --workers N             worker processes, 1 to 64 (default: \(RunOptions.defaultWorkerCount) on this machine)
          --speed S               max (default), 1x = recorded speed, 10x, 0.5x, ... (0.001x to
                                  1000000x)
          --routing md5|jump      asset → worker mapping (default md5, compatible with the
                                  reference system; jump = jump consistent hashing)
          --backpressure block|drop
                                  block (default): lossless and deterministic; drop: live-like,
                                  every dropped message is counted
          --exchange-hash on|off  check the exchange's own book hashes as books change (default on)
          --read-ahead auto|on|off
                                  read the tape on its own thread (auto: on machines with 2 or more
                                  cores)
          --heartbeat SECONDS     worker heartbeat interval, 0.001 to 3600 (default 5)
          --stats-interval SECONDS
                                  worker periodic stats interval, 0.001 to 86400 (default 30)
          --stall-timeout SECONDS abort the run when a worker consumes nothing for this long
                                  while messages wait for it, or sends no heartbeat for this
                                  long (at least 3 heartbeats), e.g. a stopped (SIGSTOP) or hung
                                  worker; 0.001 to 86400 (default 3 × heartbeat, at least 10)

        Output:
          --json                  print the report as one JSON document (docs/REPORT_FORMAT.md)
          --report FILE           also write the JSON report to FILE
          --dump-books FILE       write every worker's final books, with all levels, as JSON
          --quiet                 print nothing but errors and verification differences
          --golden-levels         with --write-golden: record every book's levels too, so a later
                                  diff shows the first differing levels (larger goldens)
          --check-invariance      replay twice, with 1 and with N workers (N = --workers, at least
                                  2), and fail (exit 3) if any asset's final book differs

        \(VerifyRunOptions.helpText)

        Exit status: 0 success, 1 runtime failure (unreadable tape, dead worker), 2 damaged input
        with --strict, 3 verification failed, 64 usage error, 130 interrupted (Ctrl-C: the workers drain and the report covers
        what was replayed; press Ctrl-C twice to end at once).

        Examples:
          replay run                                  # the bundled real tape, verified
          replay run session/ --workers 2 --speed 10x
          replay run tape.ndjson.zst --json > report.json
          replay run tape.ndjson.zst --write-golden tape.golden.json
          replay run tape.ndjson.zst --golden tape.golden.json --junit verify.xml
          zstdcat tape.ndjson.zst | replay run - --assets 1234,5678
        """

    /// True when the golden at `path` holds exchange-hash results (checks were on when it was
    /// recorded). Unreadable files say false here; the verification reports them.
    /// The usage error for verifying against a golden recorded with the other `--exchange-hash`
    /// setting (its hash results cannot be compared), or nil when the settings agree or the golden
    /// does not say.
    static func exchangeHashConflict(golden: Golden, goldenPath: String, verifying: Bool) -> UsageError? {
        guard let mode = golden.exchangeHashMode else { return nil }
        switch (mode, verifying) {
        case ("on", false):
            return UsageError(
                "--exchange-hash off cannot verify against \(goldenPath): it was recorded with exchange-hash checks "
                    + "and pins their results; drop --exchange-hash off, or record a golden with it (--write-golden)")
        case ("off", true):
            return UsageError(
                "\(goldenPath) was recorded with --exchange-hash off, so it pins no exchange-hash results: add "
                    + "--exchange-hash off to verify against it, or record a golden with the checks on (--write-golden)"
            )
        default:
            return nil
        }
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        var options = try RunOptions.parse(arguments)
        if options.tapes.isEmpty {
            guard let fixtures = BundledFixtures.fixturesDirectory() else {
                throw CommandError(
                    "no tape given and the bundled tape (Fixtures/\(BundledFixtures.defaultTapeName)) was not found; "
                        + "run from the PolyTape checkout or name a tape: replay run TAPE")
            }
            options.tapes = [fixtures.appendingPathComponent(BundledFixtures.defaultTapeName).path]
            options.usesBundledTape = true
            // The bundled goldens pin the exchange-hash results too: verify only comparable runs.
            if options.goldenPath == nil, options.writeGoldenPath == nil, options.assets == nil,
                options.fromNs == nil, options.toNs == nil, options.verifyExchangeHash,
                // No golden for this worker count (the default follows the core count): the
                // 1-worker golden still verifies the worker-count-independent results.
                let golden = BundledFixtures.golden(forTape: BundledFixtures.defaultTapeName, workers: options.workers)
                    ?? BundledFixtures.golden(forTape: BundledFixtures.defaultTapeName, workers: 1)
            {
                options.goldenPath = golden.path
            } else if options.goldenPath == nil, options.writeGoldenPath == nil {
                printError(
                    "note: not verified against the bundled golden: it pins the whole tape's books and exchange-hash "
                        + "results, so it only applies without --exchange-hash off, --assets, --from and --to")
            }
        }
        for tape in options.tapes where tape != "-" && !FileManager.default.fileExists(atPath: tape) {
            throw CommandError(
                "tape not found: \(tape) (give a .ndjson.zst or .ndjson file, a directory of segments, or -)")
        }

        try options.checkOutputPaths()
        // The golden and targets are read now: a missing, binary or wrong kind of file is
        // reported before the replay, not after it.
        if let golden = try VerifyRunOptions.checkInputs(options), let path = options.goldenPath {
            if let conflict = Self.exchangeHashConflict(
                golden: golden, goldenPath: path, verifying: options.verifyExchangeHash)
            {
                throw conflict
            }
            if golden.workers.contains(where: { $0.books.contains { $0.levels != nil } }) {
                options.goldenLevels = true  // the golden carries levels: fetch ours so diffs can show them
            }
        }
        if let stall = options.stallTimeoutSeconds, stall < 3 * options.heartbeatSeconds {
            // The heartbeat check cannot judge a worker before 3 of its heartbeats are due.
            printError(
                "note: --stall-timeout \(stall.formatted()) s is shorter than 3 heartbeats "
                    + "(3 × --heartbeat \(options.heartbeatSeconds.formatted()) s): a silent worker is reported after "
                    + "\((3 * options.heartbeatSeconds).formatted()) s; a full queue that does not move still after "
                    + "\(stall.formatted()) s")
        }
        let interactive = !options.quiet && !options.json
        let progress = ProgressPrinter(enabled: interactive)
        if interactive {
            printError(
                "replaying \(options.tapes.joined(separator: ", ")) with \(options.workers) worker(s) at \(options.speed) speed"
            )
        }
        RunInterrupt.install()
        defer { RunInterrupt.uninstall() }
        var outcome: RunOutcome
        do {
            outcome = try ReplayRun.execute(options: options, notify: progress.notify)
        } catch let failed as RunFailed {
            // Scripts still get the report of what was replayed (status: failed), then the error.
            progress.finish()
            if let data = try? failed.report.jsonData() {
                // The run's failure is the error to report, even when standard output fails too.
                if options.json { try? StandardOutput.write(data) }
                if let path = options.reportPath { try? write(data, to: path, what: "report") }
            }
            // The other outputs say the run failed too, so no file of an earlier run stays behind.
            if let path = options.dumpBooksPath, let data = try? BookDump.render(failed: failed.report) {
                try? write(data, to: path, what: "book dump")
            }
            if let path = options.junitPath {
                Self.writeFailedRunJUnit(
                    message: "the run failed: \(failed.message)", reasons: failed.report.statusReasons ?? [], to: path)
            }
            throw CommandError(failed.message, status: failed.status)
        }
        progress.finish()
        var status = ExitStatus.success
        let interrupted = RunInterrupt.requested

        if options.checkInvariance && !interrupted {
            var other = options
            other.workers = options.workers == 1 ? 2 : 1
            other.dumpBooksPath = nil
            // The same tape again: its warnings were told by the first run; only progress is shown.
            let second = try ReplayRun.execute(
                options: other,
                notify: { notice in
                    if case .progress = notice { progress.notify(notice) }
                })
            progress.finish()
            let differences = InvarianceCheck.compare(
                outcome.report.assetDigests, workersA: options.workers, second.report.assetDigests,
                workersB: other.workers)
            outcome.report.invariance = RunReport.Invariance(
                workers: options.workers, otherWorkers: other.workers, assets: outcome.report.assetDigests.count,
                differences: differences)
            if differences.isEmpty {
                if !options.quiet && !options.json {
                    try StandardOutput.print(
                        "invariance: \(outcome.report.assetDigests.count) assets have identical final books with "
                            + "\(options.workers) and \(other.workers) worker(s)")
                }
            } else {
                printError(differences.joined(separator: "\n"))
                status = ExitStatus.verificationFailed
            }
        }

        let reportData = try outcome.report.jsonData()
        // The report goes to standard output first, so that a failed file write loses nothing,
        // and the files are written even when standard output fails (that error comes after).
        var outputFailure: OutputError?
        do {
            if options.json {
                try StandardOutput.write(reportData)
            } else if !options.quiet {
                try StandardOutput.print(ReportText.render(outcome.report), terminator: "")
            }
        } catch {
            outputFailure = error
        }
        if let path = options.reportPath {
            try write(reportData, to: path, what: "report")
        }
        if let path = options.dumpBooksPath {
            try write(try BookDump.render(outcome), to: path, what: "book dump")
        }
        if let outputFailure { throw outputFailure }

        if interrupted {
            if let path = options.junitPath {
                Self.writeFailedRunJUnit(
                    message: "the run was interrupted (SIGINT or SIGTERM) before it finished; nothing was verified",
                    reasons: outcome.report.statusReasons ?? [], to: path)
            }
            printError(
                "interrupted: the report covers the frames replayed before the signal; nothing was verified or recorded"
            )
            return ExitStatus.interrupted
        }
        if VerifyRunOptions.isRequested(options) {
            let verification = try GoldenWorkflow.handle(
                report: outcome.report, goldenPath: options.goldenPath, writeGoldenPath: options.writeGoldenPath,
                bless: options.bless, targetsPath: options.targetsPath, junitPath: options.junitPath, json: false,
                recordLevels: options.goldenLevels)
            let text = verification.text
            if !text.isEmpty && (!options.quiet || verification.status != ExitStatus.success) {
                if options.json {
                    printError(text.trimmingCharacters(in: .newlines))
                } else {
                    try StandardOutput.print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
                }
            }
            if verification.status != ExitStatus.success { status = verification.status }
        }
        return status
    }

    /// `--junit` of a run that failed or was interrupted: one failing test case saying why. A
    /// failed write is told on standard error; the run's own failure stays the error reported.
    static func writeFailedRunJUnit(message: String, reasons: [String], to path: String) {
        do {
            try GoldenWorkflow.writeFailedRunJUnit(message: message, reasons: reasons, to: path)
        } catch {
            printError("warning: \(error)")
        }
    }

    /// Writes an output file (`--report`, `--dump-books`, bench charts) as `OutputFile` does:
    /// through symlinks, atomically for regular files, in place for devices and FIFOs.
    static func write(_ data: Data, to path: String, what: String) throws {
        do {
            try OutputFile.write(data, to: path)
        } catch {
            throw CommandError("cannot write the \(what) to \(path): \(error.reason)")
        }
    }
}

/// Compares per-asset digests of two runs with different worker counts.
enum InvarianceCheck {
    static func compare(_ a: [String: String], workersA: Int, _ b: [String: String], workersB: Int) -> [String] {
        var lines: [String] = []
        for asset in Set(a.keys).union(b.keys).sorted() where a[asset] != b[asset] {
            lines.append(
                "invariance: asset \(asset) differs: \(workersA) worker(s) → \(a[asset] ?? "no book"), "
                    + "\(workersB) worker(s) → \(b[asset] ?? "no book")")
        }
        return lines
    }
}

/// `--dump-books`: every worker's final books as one JSON document.
enum BookDump {
    struct Document: Encodable {
        var format = "polytape-books/1"
        var tape: [String]
        var tapeDigest: String
        var workers: [Worker]
        /// Only in the dump of a failed run: "failed", with the report's reasons.
        var status: String?
        var statusReasons: [String]?
    }
    struct Worker: Encodable {
        var index: Int
        var books: [BookSummary]
    }

    static func render(_ outcome: RunOutcome) throws -> Data {
        let document = Document(
            tape: outcome.report.tape.paths, tapeDigest: outcome.report.tape.contentDigest,
            workers: outcome.booksByWorker.enumerated().map { Worker(index: $0.offset, books: $0.element) })
        return try encode(document)
    }

    /// The dump of a failed run: its workers were stopped, not drained, so it holds no books;
    /// `status: failed` and the reasons say why (and replace the dump of an earlier run).
    static func render(failed report: RunReport) throws -> Data {
        var document = Document(tape: report.tape.paths, tapeDigest: report.tape.contentDigest, workers: [])
        document.status = "failed"
        document.statusReasons = report.statusReasons ?? []
        return try encode(document)
    }

    private static func encode(_ document: Document) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(document)
        data.append(0x0A)
        return data
    }
}

/// Draws the progress line from pipeline notices (thread-safe: notices arrive on the run
/// thread and, for warnings, on the pool's monitor thread).
final class ProgressPrinter: Sendable {
    private let state: Mutex<ProgressLine>

    init(enabled: Bool) {
        state = Mutex(ProgressLine(enabled: enabled ? nil : false))
    }

    var notify: @Sendable (RunNotice) -> Void {
        { [self] notice in
            switch notice {
            case .warning(let text):
                state.withLock { $0.finish() }
                printError("warning: \(text)")
            case .progress(let progress):
                state.withLock { line in
                    line.update(nowNs: UInt64(progress.elapsedSeconds * 1e9)) {
                        var text = "\(ProgressLine.compact(Double(progress.frames))) frames"
                        text +=
                            ", \(ProgressLine.compact(Double(progress.messages) / max(progress.elapsedSeconds, 1e-9))) msg/s"
                        if progress.compressedBytesTotal > 0 {
                            let fraction = Double(progress.compressedBytesRead) / Double(progress.compressedBytesTotal)
                            text += String(format: ", %.1f%%", min(fraction, 1) * 100)
                            if fraction > 0.01 {
                                let eta = progress.elapsedSeconds * (1 - fraction) / fraction
                                text += ", ETA \(ProgressLine.duration(seconds: eta))"
                            }
                        }
                        text += ", tape time \(TimeText.iso(ns: progress.tapeTimeNs))"
                        return text
                    }
                }
            }
        }
    }

    func finish() {
        state.withLock { $0.finish() }
    }
}

enum TimeText {
    static func iso(ns: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(ns) / 1e9)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
