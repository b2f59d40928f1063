// The golden-file side of `replay run` (`--golden`, `--write-golden`, `--bless`, `--targets`,
// `--junit`), kept beside `replay verify` so both share one implementation: the run command
// builds its `RunReport` and calls `VerifyRunOptions.handle(report:options:)` once.
import CommandLineSupport
import Foundation
public import Verify

/// Glue between `replay run`'s parsed options and the Verify golden workflow.
public enum VerifyRunOptions {
    /// Help paragraph for `replay run --help`.
    public static let helpText = """
        Golden files and targets (docs/GOLDEN_FORMAT.md):
          --golden FILE        verify the run against this golden (never modifies it); exit 3 on a difference
          --write-golden FILE  record a golden from this run; refuses to replace an existing file...
          --bless              ...unless --bless is given (review the `--golden FILE` diff first)
          --targets FILE       check performance thresholds (JSON; overrides the golden's `targets`);
                               with --write-golden they are recorded into the golden
          --junit FILE         write JUnit XML of the verification (needs --golden or --targets)
        """

    /// True when the run was asked to record or verify anything.
    public static func isRequested(_ options: RunOptions) -> Bool {
        options.goldenPath != nil || options.writeGoldenPath != nil || options.targetsPath != nil
            || options.junitPath != nil
    }

    /// Reads the `--golden` and `--targets` files before the run starts, so that a missing,
    /// unreadable or wrong kind of file (a run report given as the golden) is reported with the
    /// message the verification would give, before a replay is spent on it. An existing
    /// `--write-golden` file without `--bless` is refused now too. Returns the `--golden` file,
    /// loaded, for the checks that depend on it.
    @discardableResult
    public static func checkInputs(_ options: RunOptions) throws -> Golden? {
        var golden: Golden?
        do {
            if let path = options.goldenPath { golden = try Golden.load(path) }
            if let path = options.targetsPath { _ = try Targets.load(path) }
        } catch let error as VerifyError {
            throw VerifyCommandErrors.map(error)
        }
        if let path = options.writeGoldenPath, !options.bless, FileManager.default.fileExists(atPath: path) {
            throw VerifyCommandErrors.map(VerifyError.goldenExists(path: path))
        }
        return golden
    }

    /// Records and/or verifies the finished run as its options ask, prints the diff or the
    /// recording line to standard output (the result JSON when `options.json`), and returns the
    /// exit status: 0, or 3 (`ExitStatus.verificationFailed`) when verification failed.
    /// Throws `UsageError` for options that do not fit together and `CommandError` (exit 1) for
    /// unreadable or unwritable files and a refused overwrite.
    public static func handle(report: RunReport, options: RunOptions) throws -> Int32 {
        guard isRequested(options) else { return ExitStatus.success }
        do {
            let outcome = try GoldenWorkflow.handle(
                report: report, goldenPath: options.goldenPath, writeGoldenPath: options.writeGoldenPath,
                bless: options.bless, targetsPath: options.targetsPath, junitPath: options.junitPath,
                json: options.json)
            if !outcome.text.isEmpty { try StandardOutput.write(Data(outcome.text.utf8)) }
            if options.json, let recorded = outcome.recorded { printError(recorded.trimmingCharacters(in: .newlines)) }
            return outcome.status
        } catch let error as VerifyError {
            throw VerifyCommandErrors.map(error)
        }
    }
}

extension RunReport.Options {
    /// The result-affecting options of a `replay run`, for its report.
    public init(_ options: RunOptions) {
        var window: RunReport.TimeWindow?
        if options.fromNs != nil || options.toNs != nil {
            window = RunReport.TimeWindow(
                fromNs: options.fromNs, toNs: options.toNs, basis: options.timeBasis.rawValue)
        }
        self.init(
            workers: options.workers, routing: options.routing, backpressure: options.backpressure,
            speed: options.speed.description, assetFilter: options.assets.map { $0.sorted() }, timeWindow: window,
            exchangeHash: options.verifyExchangeHash ? "on" : "off")
    }
}
