// The options of `replay run`, parsed and validated before anything is started.
import CommandLineSupport
public import Foundation
import Glibc
import Tape

/// Which clock `--from`/`--to` refer to.
public enum TimeBasis: String, Sendable {
    /// The tape's receive wall clock (exchange timestamps for tapes imported without one).
    case receive
    /// The exchange's own `timestamp` field.
    case exchange
}

/// Everything `replay run` was asked to do.
public struct RunOptions: Sendable {
    public var tapes: [String] = []
    /// True when no tape was named and the bundled real tape is used.
    public var usesBundledTape = false
    public var workers = RunOptions.defaultWorkerCount
    public var speed: ReplaySpeed = .max
    public var fromNs: Int64?
    public var toNs: Int64?
    public var timeBasis: TimeBasis = .receive
    public var assets: Set<String>?
    public var routing = "md5"
    public var backpressure = "block"
    public var json = false
    public var quiet = false
    public var reportPath: String?
    public var dumpBooksPath: String?
    public var goldenPath: String?
    public var writeGoldenPath: String?
    public var bless = false
    /// Record every book's levels into the golden (`--golden-levels`), so later diffs can show
    /// the first differing levels. Also set when the golden being verified carries levels.
    public var goldenLevels = false
    public var targetsPath: String?
    public var junitPath: String?
    public var checkInvariance = false
    public var strict = false
    public var verifyExchangeHash = true
    /// `--read-ahead`: read the tape on its own thread (on), on the router thread (off), or
    /// decide from the cores and the workers' load (auto).
    public var readAhead = "auto"
    public var heartbeatSeconds = 5.0
    public var statsSeconds = 30.0
    /// `--stall-timeout`: seconds a worker may leave messages unread before the run is aborted;
    /// nil = the pool's default (3 × heartbeat, at least 10 s).
    public var stallTimeoutSeconds: Double?

    public init() {}

    /// One worker per core, at most 4: the router needs a core of its own on small machines,
    /// and more workers than cores only adds context switches.
    public static var defaultWorkerCount: Int {
        max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
    }

    /// `--heartbeat` seconds: a worker's heartbeat cadence, 1 ms to 1 h.
    public static let heartbeatRange: ClosedRange<Double> = 0.001...3600
    /// `--stall-timeout` seconds, 1 ms to 1 day.
    public static let stallTimeoutRange: ClosedRange<Double> = 0.001...86_400
    /// `--stats-interval` seconds, 1 ms to 1 day.
    public static let statsIntervalRange: ClosedRange<Double> = 0.001...86_400

    static let valueOptions: Set<String> = [
        "workers", "speed", "from", "to", "time-basis", "assets", "assets-file", "routing", "backpressure",
        "report", "dump-books", "golden", "write-golden", "targets", "junit", "heartbeat", "stats-interval",
        "exchange-hash", "stall-timeout", "read-ahead",
    ]
    static let flagOptions: Set<String> = [
        "json", "quiet", "bless", "check-invariance", "strict", "help", "golden-levels",
    ]

    /// Parses the words after `replay run`.
    public static func parse(_ words: [String]) throws -> RunOptions {
        let arguments = try Arguments(words, options: valueOptions, flags: flagOptions)
        var options = RunOptions()
        options.tapes = arguments.positionals
        try TapeCommand.checkStandardInputOnce(options.tapes)
        options.workers = try arguments.int("workers", default: defaultWorkerCount, range: 1...64)
        if let text = arguments.value("speed") {
            guard let speed = ReplaySpeed(parsing: text) else {
                throw UsageError("--speed must be \(ReplaySpeed.usageText), not '\(text)'")
            }
            options.speed = speed
        }
        options.timeBasis = TimeBasis(
            rawValue: try arguments.choice("time-basis", ["receive", "exchange"], default: "receive"))!
        (options.fromNs, options.toNs) = try TapeCommand.window(arguments)
        var assets = Set<String>()
        for list in arguments.values("assets") {
            for item in list.split(separator: ",") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
                assets.insert(item.trimmingCharacters(in: .whitespaces))
            }
        }
        if let file = arguments.value("assets-file") {
            do {
                assets.formUnion(try AssetsFile.read(file))
            } catch {
                throw CommandError(error.description)
            }
        }
        let asked = !arguments.values("assets").isEmpty || arguments.value("assets-file") != nil
        if asked && assets.isEmpty {
            // An empty list would otherwise mean "no filter", the opposite of what was typed.
            throw UsageError(
                "--assets/--assets-file named no asset id; give ids (comma-separated, or one per line in the file) "
                    + "or leave the option out to replay every asset")
        }
        options.assets = assets.isEmpty ? nil : assets
        options.routing = try arguments.choice("routing", ["md5", "jump"], default: "md5")
        options.backpressure = try arguments.choice("backpressure", ["block", "drop"], default: "block")
        options.json = arguments.flag("json")
        options.quiet = arguments.flag("quiet")
        for name in ["report", "dump-books", "golden", "write-golden", "targets", "junit"]
        where arguments.value(name)?.isEmpty == true {
            throw UsageError("--\(name) needs a file name")
        }
        options.reportPath = arguments.value("report")
        options.dumpBooksPath = arguments.value("dump-books")
        options.goldenPath = arguments.value("golden")
        options.writeGoldenPath = arguments.value("write-golden")
        options.bless = arguments.flag("bless")
        options.goldenLevels = arguments.flag("golden-levels")
        options.targetsPath = arguments.value("targets")
        options.junitPath = arguments.value("junit")
        options.checkInvariance = arguments.flag("check-invariance")
        if options.checkInvariance && options.tapes.contains("-") {
            throw UsageError(
                "--check-invariance replays the tape twice, so it cannot read standard input; name a tape file")
        }
        options.strict = arguments.flag("strict")
        options.verifyExchangeHash = try arguments.choice("exchange-hash", ["on", "off"], default: "on") == "on"
        options.readAhead = try arguments.choice("read-ahead", ["auto", "on", "off"], default: "auto")
        options.heartbeatSeconds = try arguments.seconds("heartbeat", range: heartbeatRange) ?? options.heartbeatSeconds
        options.stallTimeoutSeconds = try arguments.seconds("stall-timeout", range: stallTimeoutRange)
        options.statsSeconds =
            try arguments.seconds("stats-interval", range: statsIntervalRange) ?? options.statsSeconds
        if options.goldenPath != nil && options.writeGoldenPath != nil {
            throw UsageError("--golden verifies and --write-golden records; use one of them")
        }
        if options.bless && options.writeGoldenPath == nil {
            throw UsageError("--bless only goes with --write-golden FILE")
        }
        if options.goldenLevels && options.writeGoldenPath == nil {
            throw UsageError("--golden-levels only goes with --write-golden FILE")
        }
        if options.junitPath != nil && options.goldenPath == nil && options.targetsPath == nil {
            throw UsageError("--junit FILE reports a verification: give --golden FILE or --targets FILE too")
        }
        return options
    }

    /// Output files the run will write, checked before it starts so that a typo does not cost a
    /// whole replay: not a directory, and the folder must exist and be writable (a device or FIFO,
    /// like /dev/stdout, is written in place and needs only to be writable); and none of them may
    /// be an input (a tape, a file in a tape folder, the golden, the targets) or another output.
    public func checkOutputPaths() throws {
        let outputs: [(String, String?, String)] = [
            ("--report", reportPath, "report.json"), ("--dump-books", dumpBooksPath, "books.json"),
            ("--write-golden", writeGoldenPath, "run.golden.json"), ("--junit", junitPath, "junit.xml"),
        ]
        for case (let option, let path?, let example) in outputs {
            try OutputFile.check(path, option: option, example: example)
        }
        var inputs = tapes.map { OutputConflicts.Input("the tape", $0) }
        if let goldenPath { inputs.append(OutputConflicts.Input("the golden", goldenPath)) }
        if let targetsPath { inputs.append(OutputConflicts.Input("the targets file", targetsPath)) }
        try OutputConflicts.check(
            inputs: inputs,
            outputs: outputs.compactMap { option, path, _ in path.map { OutputConflicts.Output(option, $0) } })
    }

    /// Parses an instant given as epoch milliseconds or ISO-8601 (`TapeFormat.parseInstant`: a
    /// date, or a date-time, UTC unless it gives an offset). Refused, not trapped, beyond what
    /// epoch ns in an Int64 hold (1677-09-21 to 2262-04-11).
    public static func parseInstant(_ text: String, option: String) throws -> Int64 {
        switch TapeFormat.parseInstant(text) {
        case .instant(let ns): return ns
        case .outOfRange:
            throw UsageError("--\(option) '\(text)' is out of range: times must lie between 1677 and 2262")
        case .invalid:
            throw UsageError(
                "--\(option) must be epoch milliseconds or ISO-8601 like 2026-09-24T10:30:00Z, "
                    + "2026-09-24T12:30+02:00 or 2026-09-24, not '\(text)'")
        }
    }
}

/// Finds the bundled real tape and goldens: beside the executable's checkout, or the
/// current directory's, or $POLYTAPE_FIXTURES.
public enum BundledFixtures {
    /// The tape `replay` runs when no tape is named.
    public static let defaultTapeName = "tapes/g3-enrico-2026-09.ndjson.zst"

    /// The Fixtures folder, searched from $POLYTAPE_FIXTURES, the executable upwards, and the
    /// working directory upwards.
    public static func fixturesDirectory() -> URL? {
        let fileManager = FileManager.default
        if let env = ProcessInfo.processInfo.environment["POLYTAPE_FIXTURES"] {
            return URL(fileURLWithPath: env)
        }
        var starts = [URL(fileURLWithPath: fileManager.currentDirectoryPath)]
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        starts.insert(executable.deletingLastPathComponent(), at: 0)
        for start in starts {
            var directory = start
            for _ in 0..<8 {
                let candidate = directory.appendingPathComponent("Fixtures")
                if fileManager.fileExists(atPath: candidate.appendingPathComponent(defaultTapeName).path) {
                    return candidate
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// The bundled golden for a worker count, if one is recorded.
    public static func golden(forTape tapeName: String, workers: Int) -> URL? {
        guard let fixtures = fixturesDirectory() else { return nil }
        let base = URL(fileURLWithPath: tapeName).lastPathComponent.replacingOccurrences(of: ".ndjson.zst", with: "")
        let url = fixtures.appendingPathComponent("golden/\(base).w\(workers).golden.json")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }
}
