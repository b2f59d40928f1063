// `replay bench`: the worker-count sweep. Replays one tape with each worker count, several
// times, and reports throughput, latency, balance, memory, CPU and the bottleneck per row as a
// table, JSON, an SVG chart and an HTML page.
import CommandLineSupport
import Foundation
import Synchronization
import Verify

/// The options of `replay bench`, validated before anything runs.
struct BenchOptions: Equatable {
    var tapes: [String] = []
    var workerCounts: [Int] = [1, 2, 4]
    var speed: ReplaySpeed = .max
    var repeats = 3
    var json = false
    var chartPath: String?
    var htmlPath: String?
    var reportPath: String?
    var verifyExchangeHash = true
    var routing = "md5"
    var arguments: [String] = []

    static let valueOptions: Set<String> = [
        "workers", "speed", "repeat", "chart", "html", "report", "exchange-hash", "routing",
    ]
    static let flagOptions: Set<String> = ["json", "help"]

    static func parse(_ words: [String]) throws -> BenchOptions {
        let arguments = try Arguments(words, options: valueOptions, flags: flagOptions)
        var options = BenchOptions()
        options.arguments = words
        options.tapes = arguments.positionals
        if options.tapes.contains("-") {
            throw UsageError("bench replays the tape several times, so it cannot read standard input; name a tape file")
        }
        if let text = arguments.value("workers") {
            options.workerCounts = try parseWorkerCounts(text)
        }
        if let text = arguments.value("speed") {
            guard let speed = ReplaySpeed(parsing: text) else {
                throw UsageError("--speed must be \(ReplaySpeed.usageText), not '\(text)'")
            }
            options.speed = speed
        }
        options.repeats = try arguments.int("repeat", default: 3, range: 1...100)
        options.json = arguments.flag("json")
        options.chartPath = arguments.value("chart")
        options.htmlPath = arguments.value("html")
        options.reportPath = arguments.value("report")
        options.verifyExchangeHash = try arguments.choice("exchange-hash", ["on", "off"], default: "on") == "on"
        options.routing = try arguments.choice("routing", ["md5", "jump"], default: "md5")
        return options
    }

    /// "1,2,4,8" → [1, 2, 4, 8]: each 1...64, no repeats, in the order given.
    static func parseWorkerCounts(_ text: String) throws -> [Int] {
        var counts: [Int] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let word = item.trimmingCharacters(in: .whitespaces)
            guard let count = Int(word), (1...64).contains(count) else {
                throw UsageError(
                    "--workers takes a comma-separated list of worker counts from 1 to 64 like 1,2,4,8; '\(word)' is not one"
                )
            }
            guard !counts.contains(count) else {
                throw UsageError(
                    "--workers lists \(count) twice; give each worker count once (use --repeat for more runs)")
            }
            counts.append(count)
        }
        return counts
    }
}

enum BenchCommand: Subcommand {
    static let name = "bench"
    static let summary = "sweep worker counts over a tape: throughput, latency, bottleneck; table, JSON, SVG chart"
    static let usage =
        "replay bench [TAPE...] [--workers 1,2,4,8] [--speed max|Nx] [--repeat 3] [--json] [--chart FILE.svg] [--html FILE.html]"
    static let help = """
        Usage: \(usage)

        Replays the tape once per worker count and repeat (through the same pipeline as
        `replay run`) and prints one row per worker count: messages/s and MB/s (median, with the
        min–max spread over the repeats), book updates applied per second, router → worker latency
        p50/p99/p99.9 (the slowest worker's), lateness against the recorded schedule when paced,
        messages per worker and the busiest/least busy ratio, the router's peak RSS and the largest
        worker's RSS, CPU utilisation (CPU seconds ÷ wall) of the router and of all workers, and
        the bottleneck read from the measured stage times:

          router blocked on full rings > 30% of wall → the workers: "apply" if the busiest
            worker applied ≥ 50% of wall, else "IPC" (hand-off, wake-ups, scheduling)
          otherwise the router thread: "tape reading" or "parsing/routing", whichever took longer
          (paced runs waiting for their schedule > 50% of wall: "pacing (schedule)")

        The report records the machine, the tape's content digest, the options and the date, so
        two sweeps can be compared. Build in release mode for meaningful numbers.

        Options:
          TAPE...               tape files or a directory of segments (default: the bundled tape)
          --workers LIST        worker counts to sweep, comma-separated (default 1,2,4)
          --speed S             max (default), 1x = recorded speed, 10x, 0.5x, ...
          --repeat N            runs per worker count (default 3); the table shows medians
          --exchange-hash on|off
                                check the exchange's book hashes while replaying (default on)
          --routing md5|jump    asset → worker mapping (default md5)
          --json                print the sweep as JSON (schema polytape-bench/1, docs/BENCHMARKS.md)
          --report FILE.json    also write that JSON to FILE (keeps the table on the terminal)
          --chart FILE.svg      write a chart: throughput and p99 latency against worker count
          --html FILE.html      write an HTML page with the chart and the table

        A progress line ("workers 2, run 2/3 ...") is drawn on standard error when it is a terminal.

        Examples:
          swift build -c release --product replay
          .build/release/replay tape synth --assets 1000 --duration 2m --rate 20000 -o /tmp/synth.ndjson.zst
          .build/release/replay bench /tmp/synth.ndjson.zst --workers 1,2,4 --repeat 3 --chart sweep.svg
          .build/release/replay bench /tmp/synth.ndjson.zst --workers 1,2 --exchange-hash off --json > sweep.json
          .build/release/replay bench --workers 1,2 --speed 10x --repeat 1      # the bundled tape, paced

        Exit status: 0 success, 1 runtime failure (unreadable tape, dead worker, unwritable output),
        64 usage error.
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        var options = try BenchOptions.parse(arguments)
        if options.tapes.isEmpty {
            guard let fixtures = BundledFixtures.fixturesDirectory() else {
                throw CommandError(
                    "no tape given and the bundled tape (Fixtures/\(BundledFixtures.defaultTapeName)) was not found; "
                        + "name a tape: replay bench TAPE")
            }
            options.tapes = [fixtures.appendingPathComponent(BundledFixtures.defaultTapeName).path]
        }
        for tape in options.tapes where !FileManager.default.fileExists(atPath: tape) {
            throw CommandError(
                "tape not found: \(tape) (give a .ndjson.zst or .ndjson file or a directory of segments)")
        }
        // Output files are checked before the sweep, which takes minutes.
        let outputs = [
            ("--chart", options.chartPath, "bench.svg"), ("--html", options.htmlPath, "bench.html"),
            ("--report", options.reportPath, "bench.json"),
        ]
        for case (let option, let path?, let example) in outputs {
            try OutputFile.check(path, option: option, example: example)
        }
        try OutputConflicts.check(
            inputs: options.tapes.map { OutputConflicts.Input("the tape", $0) },
            outputs: outputs.compactMap { option, path, _ in path.map { OutputConflicts.Output(option, $0) } })
        let report = try sweep(options)

        if let path = options.chartPath {
            try RunCommand.write(Data(BenchChart.svg(report).utf8), to: path, what: "chart")
        }
        if let path = options.htmlPath {
            try RunCommand.write(Data(BenchChart.html(report).utf8), to: path, what: "HTML page")
        }
        let json = try report.jsonData()
        if let path = options.reportPath {
            try RunCommand.write(json, to: path, what: "JSON report")
        }
        if options.json {
            try StandardOutput.write(json)
        } else {
            try StandardOutput.print(BenchTable.render(report), terminator: "")
            for path in [options.chartPath, options.htmlPath, options.reportPath].compactMap({ $0 }) {
                try StandardOutput.print("wrote \(path)")
            }
        }
        return ExitStatus.success
    }

    /// Runs every worker count `repeats` times and summarises the runs.
    static func sweep(_ options: BenchOptions) throws -> BenchReport {
        let date = ISO8601DateFormatter().string(from: Date())
        let progress = BenchProgress()
        var rows: [BenchRow] = []
        var first: RunReport?
        for workers in options.workerCounts {
            var samples: [BenchSample] = []
            for run in 1...options.repeats {
                progress.setLabel("workers \(workers), run \(run)/\(options.repeats)")
                var runOptions = RunOptions()
                runOptions.tapes = options.tapes
                runOptions.workers = workers
                runOptions.speed = options.speed
                runOptions.routing = options.routing
                runOptions.verifyExchangeHash = options.verifyExchangeHash
                runOptions.quiet = true
                ProcessMemory.resetPeak()
                let started = DispatchTime.now().uptimeNanoseconds
                let outcome = try ReplayRun.execute(options: runOptions, notify: progress.notify)
                let executeSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                progress.finish()
                let peak = ProcessMemory.peakResidentBytes()
                if let reference = first, reference.tape.contentDigest != outcome.report.tape.contentDigest {
                    throw CommandError(
                        "the tape changed during the sweep (content digest \(reference.tape.contentDigest) became "
                            + "\(outcome.report.tape.contentDigest)); rerun on a tape that is not being written")
                }
                if first == nil { first = outcome.report }
                samples.append(
                    BenchSample(report: outcome.report, routerPeakBytes: peak, executeSeconds: executeSeconds))
            }
            rows.append(BenchRow(workers: workers, samples: samples))
        }
        guard let reference = first else { throw CommandError("no run was made") }
        let tape = BenchReport.Tape(
            name: tapeName(options.tapes), paths: reference.tape.paths, contentDigest: reference.tape.contentDigest,
            digestAlgorithm: reference.tape.digestAlgorithm, frames: reference.tape.frameCount,
            messages: reference.input.messagesByType.values.reduce(0, +), bytes: reference.input.bytes,
            compressedBytes: reference.input.compressedBytes)
        return BenchReport(
            date: date, machine: .current, tape: tape,
            options: BenchReport.Options(
                workers: options.workerCounts, speed: options.speed.description, repeats: options.repeats,
                exchangeHash: options.verifyExchangeHash ? "on" : "off", routing: options.routing,
                backpressure: "block", arguments: options.arguments),
            rows: rows)
    }

    static func tapeName(_ tapes: [String]) -> String {
        let names = tapes.map { URL(fileURLWithPath: $0).lastPathComponent }
        return names.count <= 2 ? names.joined(separator: ", ") : "\(names[0]) + \(names.count - 1) more"
    }
}

/// The sweep's progress line on a TTY: which worker count and repeat is running, and how far it got.
final class BenchProgress: Sendable {
    private struct State {
        var line = ProgressLine(intervalSeconds: 0.2)
        var label = ""
        /// Warnings already shown: the same one (e.g. more workers than cores) recurs every run.
        var warned: Set<String> = []
    }
    private let state = Mutex(State())

    func setLabel(_ label: String) {
        state.withLock { state in
            state.label = label
            state.line.finish()
            state.line = ProgressLine(intervalSeconds: 0.2)
            state.line.update(nowNs: DispatchTime.now().uptimeNanoseconds) { label }
        }
    }

    var notify: @Sendable (RunNotice) -> Void {
        { [self] notice in
            switch notice {
            case .warning(let text):
                let isNew = state.withLock { state in
                    state.line.finish()
                    return state.warned.insert(text).inserted
                }
                if isNew { printError("warning: \(text)") }
            case .progress(let progress):
                state.withLock { state in
                    let label = state.label
                    state.line.update(nowNs: DispatchTime.now().uptimeNanoseconds) {
                        var text = "\(label): \(ProgressLine.compact(Double(progress.messages))) messages"
                        text +=
                            ", \(ProgressLine.compact(Double(progress.messages) / max(progress.elapsedSeconds, 1e-9))) msg/s"
                        if progress.compressedBytesTotal > 0 {
                            let fraction = Double(progress.compressedBytesRead) / Double(progress.compressedBytesTotal)
                            text += String(format: ", %.0f%%", min(fraction, 1) * 100)
                        }
                        return text
                    }
                }
            }
        }
    }

    func finish() {
        state.withLock { $0.line.finish() }
    }
}
