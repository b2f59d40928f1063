public import Book
import CShim
// The main job: read a tape, pace it, parse every frame, route every event to its worker
// process, then collect the workers' results into a run report.
import CommandLineSupport
import Engine
import Feed
public import Foundation
import Glibc
import Tape
public import Verify

/// What the pipeline tells its caller while it runs (libraries never print; the command does).
public enum RunNotice: Sendable {
    case warning(String)
    /// Position and rate for a progress line.
    case progress(RunProgress)
}

/// A snapshot of a run in progress, for the progress line.
public struct RunProgress: Sendable {
    public var frames: Int
    public var messages: Int
    public var compressedBytesRead: Int64
    public var compressedBytesTotal: Int64
    public var elapsedSeconds: Double
    public var tapeTimeNs: Int64
}

/// Everything a run produced: the report plus what the command needs for `--dump-books`.
/// A run that failed after its workers started (a worker died, stalled or went silent): the
/// message for the user, and the report of what was replayed (`status: failed`), so scripts
/// asking for `--json` or `--report` still get one. Described by its message (exit 1).
public struct RunFailed: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var report: RunReport
    /// The exit status: 1, or 2 (`TapeExitStatus.damaged`) when `--strict` stopped at damaged input.
    public var status: Int32 = ExitStatus.failure
    public var description: String { message }
}

/// `--strict`: a frame the Feed parser could not read (not JSON, or a bad entry in it), with
/// where it is. Without `--strict` such frames are counted and listed among the malformed lines.
struct MalformedFrame: Error, CustomStringConvertible {
    var file: String
    var line: Int
    var reason: String
    var description: String {
        "\(file):\(line): malformed frame: \(reason). Run without --strict to skip such frames (the report counts "
            + "and lists them)."
    }
}

public struct RunOutcome: Sendable {
    public var report: RunReport
    /// Final books per worker, with levels when `--dump-books` asked for them.
    public var booksByWorker: [[BookSummary]]
}

/// Runs one replay of a tape through a fresh worker pool.
public enum ReplayRun {
    /// Reads the tape(s) in `options`, replays them through `options.workers` worker processes and
    /// returns the report. Throws `CommandError` for unreadable tapes and dead workers.
    public static func execute(
        options: RunOptions, workerExecutable: URL? = nil, notify: @escaping @Sendable (RunNotice) -> Void = { _ in }
    ) throws -> RunOutcome {
        let files: [String]
        do {
            files = try TapeReader.segmentFiles(for: options.tapes)
        } catch {
            throw CommandError("\(error)")
        }
        // A first file that is no tape at all stops the run before any worker is spawned, like a
        // missing file: no partial report of a run that never started.
        if let first = files.first, first != "-" {
            do {
                _ = try TapeReader(paths: [first]).next()
            } catch {
                throw CommandError("\(error)")
            }
        }
        let reader: ReadAheadTape
        do {
            // Reading on its own thread pays whenever there is a second core, even with exchange-hash
            // checks and two workers on two cores (docs/BENCHMARKS.md, "End to end").
            let cores = ProcessInfo.processInfo.activeProcessorCount
            reader = ReadAheadTape(
                reader: try TapeReader(paths: files, options: TapeReaderOptions(strict: options.strict)),
                threaded: options.readAhead == "on" || (options.readAhead == "auto" && cores >= 2))
        } catch {
            throw CommandError("\(error)")
        }
        let compressedTotal = files.reduce(Int64(0)) { total, path in
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }

        let configuration = WorkerManager.Configuration(
            executable: workerExecutable,
            heartbeatInterval: saturatingDuration(seconds: options.heartbeatSeconds),
            statsInterval: saturatingDuration(seconds: options.statsSeconds),
            verifyExchangeHash: options.verifyExchangeHash,
            spinBeforeSleep: options.speed == .max ? .zero : .microseconds(200),
            stallTimeout: options.stallTimeoutSeconds.map { saturatingDuration(seconds: $0) },
            eventSink: { event in
                switch event {
                case .warning(let text): notify(.warning(text))
                case .workerExited(let worker, let pid, let exit, let expected) where !expected:
                    notify(.warning("worker \(worker) (pid \(pid)) \(exit) during the run"))
                default: break
                }
            })
        let manager: WorkerManager
        do {
            manager = try WorkerManager(workerCount: options.workers, configuration: configuration)
            try manager.start()
        } catch {
            throw CommandError("could not start \(options.workers) worker process(es): \(error)")
        }
        var router = try Router(
            channels: manager.inputChannels, workerCount: options.workers,
            routing: options.routing == "jump" ? .jump : .md5,
            backpressure: options.backpressure == "drop" ? .drop : .block,
            // At max speed a worker that keeps up sleeps between batches and each batch costs the
            // router a wake-up (an eventfd write and a context switch on each side, expensive in
            // a VM): 1,024-record batches cut the wake-ups 8x and the run's CPU time by ~8 %
            // (docs/BENCHMARKS.md). Paced runs publish every frame anyway.
            batchSize: options.speed == .max ? 1024 : 128)

        var state = PipelineState(options: options)
        var filter = PipelineFilter()
        filter.assets = options.assets
        if options.timeBasis == .exchange {
            filter.fromMs = options.fromNs.map { $0 / 1_000_000 }
            filter.toMs = options.toNs.map { $0 / 1_000_000 }
        }
        // Every worker must be up and reading before the clock starts: start-up is neither
        // routing latency nor pacing lateness. A worker that dies meanwhile fails the run below.
        var failure: (any Error)?
        do {
            try router.awaitWorkers()
        } catch {
            failure = error
        }
        var sink = PipelineSink(router: router, filter: filter)
        var parser = FeedParser()
        var pacer = Pacer(speed: options.speed, clock: HealthWatchingClock(manager: manager))
        let startNs = cshim_monotonic_ns()
        var lastProgressNs = startNs
        let cpuAtStart = CPUTimes.now()
        var timing = StageTiming()
        var framesInWindow = 0
        var lastRecordedNs = Int64.min
        var warnedBackwards = false
        var warnedSessions = false
        var firstSession: (session: String, file: String)?
        // Reading on the router thread: two clock reads per frame, the end of one stage being
        // the start of the next (per-record bookkeeping counts towards reading the next record).
        // With the read-ahead thread the only reading cost here is waiting for it, which it
        // times itself, so frames need no clock reads: parse+route is the rest of the loop.
        let timeEachFrame = !reader.threaded
        var mark = startNs

        do {
            if let failure { throw failure }
            reader.start()
            while let record = try reader.next() {
                if timeEachFrame {
                    let afterRead = cshim_monotonic_ns()
                    timing.readNs &+= afterRead &- mark
                    mark = afterRead
                }
                state.line += 1
                switch record {
                case .header(let line):
                    // Segments of different capture sessions do not continue each other: books
                    // carry over from one session into another. Say so once.
                    if let session = try? TapeHeader.parse(line: line, file: reader.currentFile).session {
                        if let first = firstSession, session != first.session, !warnedSessions {
                            warnedSessions = true
                            let problem =
                                "\(reader.currentFile) is from session '\(session)', \(first.file) from '\(first.session)': "
                                + "segments of different sessions replayed as one carry books across them; "
                                + "replay each session separately"
                            state.inputProblems.append(problem)
                            notify(.warning(problem))
                        }
                        if firstSession == nil { firstSession = (session, reader.currentFile) }
                    }
                    if let header = reader.header, !state.sideDataSent {
                        state.sideDataSent = true
                        state.headerAssets = header.assets
                        sink.filter.selection?.learn(sideData: header.sideData)
                        for (asset, side) in header.sideData.sorted(by: { $0.key < $1.key })
                        where options.assets?.contains(asset) ?? true {
                            try sink.router.setSideData(
                                MarketSideData(
                                    market: side.market, minOrderSize: side.minOrderSize, negRisk: side.negRisk,
                                    tickSize: side.tickSize),
                                forAsset: asset)
                        }
                    }
                case .frame(let frame):
                    let recordedNs = frame.recvWallNs
                    // Segments given (or named) out of order replay out of order: say so once.
                    if recordedNs &+ 1_000_000_000 < lastRecordedNs && !warnedBackwards {
                        warnedBackwards = true
                        let back = Double(lastRecordedNs - recordedNs) / 1e9
                        let problem =
                            "receive time goes back \(String(format: "%.1f", back)) s at \(reader.currentFile) line "
                            + "\(reader.currentLineNumber): are the segments out of order? Give them in time "
                            + "order (a folder's files are read in name order)"
                        state.inputProblems.append(problem)
                        notify(.warning(problem))
                    }
                    lastRecordedNs = max(lastRecordedNs, recordedNs)
                    if options.timeBasis == .receive, let to = options.toNs, recordedNs > to {
                        state.stopped = true
                        break
                    }
                    state.frames += 1
                    if !state.pendingInvalidations.isEmpty { try state.applyPendingInvalidations(sink: &sink) }
                    let inWindow: Bool
                    if options.timeBasis == .receive {
                        inWindow = options.fromNs.map { recordedNs >= $0 } ?? true
                    } else {
                        inWindow = true
                    }
                    sink.filter.warmup = !inWindow
                    if inWindow { framesInWindow += 1 }
                    if inWindow && options.speed != .max {
                        let beforePacing = cshim_monotonic_ns()
                        pacer.release(recordedNs: recordedNs)
                        mark = cshim_monotonic_ns()
                        timing.pacingNs &+= mark &- beforePacing
                        if let unhealthy = pacer.clock.failure { throw unhealthy }
                    }
                    sink.filter.connection = frame.conn
                    sink.filter.line = state.line
                    sink.router.currentInputLine = Int64(reader.currentLineNumber)
                    state.bytes += frame.bytes.count
                    sink.filter.lastError = nil
                    let summary = parser.parse(frame.bytes, into: &sink)
                    if timeEachFrame {
                        let afterParse = cshim_monotonic_ns()
                        timing.parseRouteNs &+= afterParse &- mark
                        mark = afterParse
                    }
                    state.summary.accumulate(summary)
                    if let error = sink.filter.lastError {
                        if options.strict {
                            // Counted, and named by the failure (as the reader does for its lines).
                            state.parseIssueCount += 1
                            throw MalformedFrame(
                                file: reader.currentFile, line: reader.currentLineNumber, reason: "\(error)")
                        }
                        state.recordParseIssue(file: reader.currentFile, line: reader.currentLineNumber, error: error)
                    }
                    if options.speed != .max { try sink.router.flush() }
                    if let routingFailure = sink.router.failure { throw routingFailure }
                    // At recorded speed frames are far apart: check every frame, or a dead worker
                    // would go unnoticed until 1024 frames later (the whole tape on a quiet one).
                    // Dead workers, and live ones silent for the stall timeout (no heartbeat).
                    if state.frames & 1023 == 0 || options.speed != .max {
                        let now = cshim_monotonic_ns()
                        try manager.checkHealth()
                        if now - lastProgressNs > 200_000_000 {
                            lastProgressNs = now
                            notify(
                                .progress(
                                    RunProgress(
                                        frames: state.frames, messages: sink.filter.messages,
                                        compressedBytesRead: reader.compressedBytes,
                                        compressedBytesTotal: compressedTotal,
                                        elapsedSeconds: Double(now - startNs) / 1e9, tapeTimeNs: recordedNs)))
                        }
                    }
                case .event(let event):
                    try state.handle(event: event, sink: &sink, file: reader.currentFile)
                case .unknown(let kind, _):
                    state.recordUnknownKind(file: reader.currentFile, line: reader.currentLineNumber, kind: kind)
                case .footer:
                    break
                }
                if state.stopped { break }
                if RunInterrupt.requested {
                    state.interrupted = true
                    state.interruptedAt = "\(reader.currentFile) line \(reader.currentLineNumber)"
                    notify(
                        .warning(
                            "interrupted at \(reader.currentFile) line \(reader.currentLineNumber): draining the workers and reporting what was replayed"
                        ))
                    break
                }
            }
            try sink.router.flush()
            // A worker stopped near the end is reported as unresponsive, not as one that did
            // not drain within the stop budget.
            try manager.checkHealth()
        } catch {
            failure = error
        }
        let endNs = cshim_monotonic_ns()
        // A filter that selects nothing is almost always a typo: say so, with where to look.
        if failure == nil && !state.interrupted {
            var found: [String] = []
            let windowGiven = options.fromNs != nil || options.toNs != nil
            let windowEmpty =
                options.timeBasis == .receive ? framesInWindow == 0 : state.frames > 0 && sink.filter.admitted == 0
            if windowGiven && windowEmpty {
                found.append(
                    "the --from/--to window selected nothing; check it against the tape's times "
                        + "(`replay tape info TAPE` shows the receive and exchange time ranges)")
            } else if let assets = options.assets, state.frames > 0 {
                let unmatched = assets.subtracting(sink.filter.matchedAssets).sorted()
                if sink.filter.admitted == 0 {
                    found.append(
                        "--assets selected nothing: none of the \(assets.count) given asset id(s) has an event in the tape "
                            + "(`replay tape info TAPE` lists the tape's assets)")
                } else if !unmatched.isEmpty {
                    let shown = unmatched.prefix(3).joined(separator: ", ") + (unmatched.count > 3 ? ", …" : "")
                    found.append(
                        "--assets: \(unmatched.count) of the \(assets.count) given asset id(s) had no event "
                            + (windowGiven ? "in the window" : "in the tape") + ": \(shown) "
                            + "(`replay tape info TAPE` lists the tape's assets)")
                }
            }
            for problem in found { notify(.warning(problem)) }
            state.inputProblems += found
        }
        if !timeEachFrame {
            timing.readNs = reader.waitNanos
            let loopNs = endNs &- startNs
            timing.parseRouteNs =
                loopNs > timing.readNs &+ timing.pacingNs ? loopNs - timing.readNs - timing.pacingNs : 0
        }
        if failure != nil || state.interrupted {
            reader.cancel()
        } else if state.stopped {
            reader.finishDigestOnly()
        }

        // The run's work ends when every worker has applied every message: a query answered by
        // each worker (answered in order, after everything routed before it) marks that moment,
        // so throughput counts workers that lag behind the router (e.g. checking hashes).
        var drainedNs = endNs
        if failure == nil {
            let stall = options.stallTimeoutSeconds ?? max(10, 3 * options.heartbeatSeconds)
            if (try? sink.router.awaitWorkers(timeout: saturatingDuration(seconds: max(60, 4 * stall)))) != nil {
                drainedNs = cshim_monotonic_ns()
            }
        }

        // Full levels for --dump-books, asked while the workers still run.
        var levelsByAsset: [String: BookSummary] = [:]
        if failure == nil, options.dumpBooksPath != nil || options.goldenLevels {
            for asset in sink.filter.bookAssets.sorted() {
                if let summary = try? sink.router.queryBook(assetID: asset, depth: 100_000) {
                    levelsByAsset[asset] = summary
                }
            }
        }

        var result: RunResult
        do {
            // Draining may take long on a loaded machine (a worker checking exchange hashes can be
            // seconds behind the router); a stuck worker was already caught by the router's stall
            // check or the heartbeat check (and stop kills those at once), so the budget only has
            // to be generous: 4 stall timeouts, at least 60 s.
            // A failed run (a worker died, stalled or went silent) reports no books: the others
            // are not drained but stopped within a few seconds.
            let stall = options.stallTimeoutSeconds ?? max(10, 3 * options.heartbeatSeconds)
            let budget = failure != nil ? 3 : max(60, 4 * stall)
            result = try manager.stop(timeout: saturatingDuration(seconds: budget))
        } catch {
            throw CommandError("stopping the workers failed: \(error)")
        }
        result.router = sink.router.stats
        // The report of a failed run: what was replayed, `status: failed`.
        func failedRun(_ message: String) -> RunFailed {
            state.failure = message
            if case .tornTail(let damage)? = failure as? TapeError { state.strictStop = damage }
            let report = state.makeReport(
                files: files, reader: reader, digest: reader.digest, sink: sink, result: result,
                lateness: options.speed == .max ? nil : pacer.lateness, wallSeconds: Double(endNs - startNs) / 1e9)
            return RunFailed(message: message, report: report)
        }
        if let failure {
            // Only a worker that ended on its own during the run caused the failure; one the
            // pool killed while stopping (e.g. a stalled worker) is a consequence of it.
            if let died = result.workers.first(where: {
                $0.exit != .exited(status: 0) && ($0.stopStep == .diedBeforeStop || $0.stopStep == .diedDuringStop)
            }) {
                let when =
                    reader.currentLineNumber == 0
                    ? "before the replay started"
                    : "while replaying \(reader.currentFile) line \(reader.currentLineNumber)"
                // The router's own error names the same death (as a death, or as the worker's
                // reply pipe closing under a query); repeat only a different cause.
                var sameDeath = false
                switch failure as? EngineError {
                case .workerDied(let worker, _, _)?, .badReply(let worker, _)?: sameDeath = worker == died.index
                default: break
                }
                throw failedRun(
                    "worker \(died.index) (pid \(died.pid)) \(died.exit) \(when); the run is incomplete"
                        + (sameDeath ? "" : ". Cause: \(failure)"))
            }
            var failed = failedRun("\(failure)")
            if Self.isStrictDamage(failure) { failed.status = TapeExitStatus.damaged }
            throw failed
        }
        if let died = result.workers.first(where: { $0.exit != .exited(status: 0) || !$0.drained }) {
            let how: String
            switch died.stopStep {
            case .killed: how = "did not drain within the stop budget; killed by the pool (SIGKILL)"
            case .terminated: how = "did not drain within the stop budget; terminated by the pool (SIGTERM)"
            case .drained, .diedBeforeStop, .diedDuringStop:
                how = "\(died.exit)" + (died.drained ? "" : " before draining its queue")
            }
            throw failedRun(
                "worker \(died.index) (pid \(died.pid)) \(how); its books are incomplete, "
                    + "so the run is not reported as a success")
        }

        if options.goldenLevels {
            // Goldens with levels: the report's books carry them, so a diff can show the first
            // differing levels.
            for index in result.workers.indices {
                result.workers[index].books = result.workers[index].books.map { levelsByAsset[$0.assetID] ?? $0 }
            }
        }
        let booksByWorker = result.workers.map { worker in
            worker.books.map { levelsByAsset[$0.assetID] ?? $0 }
        }
        var report = state.makeReport(
            files: files, reader: reader, digest: reader.digest, sink: sink, result: result,
            lateness: options.speed == .max ? nil : pacer.lateness, wallSeconds: Double(drainedNs - startNs) / 1e9)
        let cpu = CPUTimes.now() - cpuAtStart
        let applyNs = result.workers.map(\.stats.processingTimeNanos)
        report.stages = RunReport.Stages(
            readSeconds: Double(timing.readNs) / 1e9,
            parseRouteSeconds: Double(timing.parseRouteNs) / 1e9 - Double(sink.router.stats.blockedNanos) / 1e9,
            routerBlockedSeconds: Double(sink.router.stats.blockedNanos) / 1e9,
            pacingWaitSeconds: Double(timing.pacingNs) / 1e9,
            workerApplySeconds: Double(applyNs.reduce(0, +)) / 1e9,
            maxWorkerApplySeconds: Double(applyNs.max() ?? 0) / 1e9,
            wallSeconds: Double(endNs - startNs) / 1e9, routerCPUSeconds: cpu.selfSeconds,
            workersCPUSeconds: cpu.childrenSeconds)
        return RunOutcome(report: report, booksByWorker: booksByWorker)
    }
}

extension ReplayRun {
    /// Damaged input that stopped a `--strict` run (exit 2, as `replay tape … --strict`).
    static func isStrictDamage(_ error: any Error) -> Bool {
        if error is MalformedFrame { return true }
        switch error as? TapeError {
        case .tornTail?, .malformedLine?, .foreignSegment?: return true
        default: return false
        }
    }
}

/// Nanoseconds the router thread spent in each stage.
struct StageTiming {
    var readNs: UInt64 = 0
    var parseRouteNs: UInt64 = 0
    var pacingNs: UInt64 = 0
}

/// CPU time of this process and of its reaped children (the worker processes).
struct CPUTimes {
    var selfSeconds: Double
    var childrenSeconds: Double

    static func now() -> CPUTimes {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let mine = seconds(usage.ru_utime) + seconds(usage.ru_stime)
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return CPUTimes(selfSeconds: mine, childrenSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime))
    }

    static func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }

    static func - (lhs: CPUTimes, rhs: CPUTimes) -> CPUTimes {
        CPUTimes(
            selfSeconds: lhs.selfSeconds - rhs.selfSeconds, childrenSeconds: lhs.childrenSeconds - rhs.childrenSeconds)
    }
}

/// The pacer's clock for `replay run`: waits like `MonotonicClock`, but in slices of at most
/// 200 ms with the pool's health check between them, so a worker that dies or goes silent
/// (no heartbeat) while the router waits for a distant frame of a quiet tape ends the run
/// within a slice of the limit instead of at the next frame. A failed check ends the wait at
/// once and is kept in `failure` (`PacingClock.wait` cannot throw).
struct HealthWatchingClock: PacingClock {
    let manager: WorkerManager
    var base = MonotonicClock()
    /// The first failed health check, if any. Waits end early on an interrupt (Ctrl-C).
    var failure: EngineError?
    static let sliceNanos: UInt64 = 200_000_000

    init(manager: WorkerManager) {
        self.manager = manager
    }

    mutating func now() -> UInt64 { base.now() }

    mutating func wait(until deadline: UInt64) {
        // Ctrl-C must not wait for the next frame's time (frames can be seconds apart at 1x).
        while failure == nil && !RunInterrupt.requested {
            let current = base.now()
            if deadline <= current &+ Self.sliceNanos {
                base.wait(until: deadline)
                return
            }
            base.wait(until: current + Self.sliceNanos)
            do { try manager.checkHealth() } catch { failure = error }
        }
    }
}

/// Seconds as a `Duration` in whole milliseconds, clamped to 0…10¹⁵ ms (about 31,700 years), so
/// that no seconds value (the options are range-checked, but this is the last line) can trap.
func saturatingDuration(seconds: Double) -> Duration {
    let milliseconds = seconds * 1000
    guard milliseconds.isFinite else { return .milliseconds(milliseconds > 0 ? 1_000_000_000_000_000 : 0) }
    return .milliseconds(Int64(min(max(milliseconds, 0), 1e15)))
}
