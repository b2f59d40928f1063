// `replay verify`: compares a saved run report with a golden file and/or targets. All the work
// is in Verify.GoldenWorkflow; this file parses arguments and maps outcomes to exit statuses.
public import CommandLineSupport
import Foundation
import Verify

/// `replay verify REPORT.json [GOLDEN.json] [--targets FILE] [--json] [--junit FILE]`.
public enum VerifyCommand: Subcommand {
    public static let name = "verify"
    public static let summary = "compare a run report with a golden file and performance targets"
    public static let usage =
        "replay verify REPORT.json [GOLDEN.json | --golden GOLDEN.json] [--targets FILE] [--json] [--junit FILE]"
    public static let help = """
        replay verify — compare a run report with a golden file and performance targets

        Usage: \(usage)

        Reads a run report (written by `replay run --report FILE`) and compares everything
        deterministic with the golden: tape identity, per-worker stats, correctness counters and
        each book's digest, top of book and level counts, and the worker-count-independent
        per-asset digests. Timing is never compared exactly; it is checked against targets.
        Verifying never modifies the golden.

        Arguments:
          REPORT.json        a run report (schema polytape-report/1); see docs/REPORT_FORMAT.md
          GOLDEN.json        a golden file (format polytape-golden/1); see docs/GOLDEN_FORMAT.md
                             May be left out when --targets is given (targets only).

        Options:
          --targets FILE     thresholds JSON (minMessagesPerSecond, maxLatencyP99Micros,
                             maxLatencyP999Micros, maxLatenessP99Micros, maxWorkerMemoryMB);
                             overrides the golden's own `targets` field by field
          --json             print the verification result as JSON instead of the text diff
          --junit FILE       also write JUnit XML (testsuite "polytape-verify": tape, each worker,
                             per-asset digests, each target)
          --max-diffs N      differences shown in full in the text output (default 50)
          -h, --help         show this help

        Worker counts: when the report and golden used different worker counts (or routing),
        only the per-asset digests are compared, and the output says so.

        Exit status:
          0   the report matches the golden and every applicable target is met
          3   verification failed: a difference from the golden or a missed target
          64  bad command line
          1   a file could not be read or written, or is not a report/golden/targets file

        Examples:
          # Record a golden once, then verify every CI run against it
          replay run Fixtures/tapes/g3-enrico-2026-09.ndjson.zst --workers 2 --write-golden enrico-2w.golden.json
          replay run Fixtures/tapes/g3-enrico-2026-09.ndjson.zst --workers 2 --report run.json
          replay verify run.json enrico-2w.golden.json

          # Re-record deliberately after an intended change (review the diff first)
          replay verify run.json enrico-2w.golden.json
          replay run Fixtures/tapes/g3-enrico-2026-09.ndjson.zst --workers 2 --write-golden enrico-2w.golden.json --bless

          # CI: JUnit for the test page, JSON for scripts
          replay verify run.json enrico-2w.golden.json --junit verify-junit.xml
          replay verify run.json enrico-2w.golden.json --json | jq '.differences[].summary'

          # Performance thresholds only, e.g. for a benchmark run
          echo '{"minMessagesPerSecond": 1000000, "maxLatencyP99Micros": 100}' > targets.json
          replay verify run.json --targets targets.json
        """

    public static func run(_ arguments: [String]) throws -> Int32 {
        let parsed = try Arguments(
            arguments, options: ["targets", "junit", "max-diffs", "golden"], flags: ["json", "help"])
        let positionals = parsed.positionals
        guard !positionals.isEmpty else { throw UsageError("missing REPORT.json") }
        guard positionals.count <= 2 else {
            throw UsageError("too many arguments: expected REPORT.json and GOLDEN.json, got \(positionals.count)")
        }
        // `--golden FILE` as in `replay run`, or the second positional.
        if parsed.value("golden") != nil && positionals.count == 2 {
            throw UsageError("give the golden once: as --golden FILE or as the second argument")
        }
        let goldenPath = parsed.value("golden") ?? (positionals.count == 2 ? positionals[1] : nil)
        if goldenPath == nil && parsed.value("targets") == nil {
            throw UsageError("missing GOLDEN.json (or give --targets FILE to check targets only)")
        }
        let maxDifferences = try parsed.int("max-diffs", default: 50, range: 1...1_000_000)
        if let junit = parsed.value("junit") {
            try OutputFile.check(junit, option: "--junit", example: "junit.xml")
            var inputs = [OutputConflicts.Input("the report", positionals[0])]
            if let goldenPath { inputs.append(OutputConflicts.Input("the golden", goldenPath)) }
            if let targets = parsed.value("targets") {
                inputs.append(OutputConflicts.Input("the targets file", targets))
            }
            try OutputConflicts.check(inputs: inputs, outputs: [OutputConflicts.Output("--junit", junit)])
        }
        do {
            let outcome = try GoldenWorkflow.verify(
                reportPath: positionals[0], goldenPath: goldenPath, targetsPath: parsed.value("targets"),
                junitPath: parsed.value("junit"), json: parsed.flag("json"), maxDifferences: maxDifferences)
            try StandardOutput.write(Data(outcome.text.utf8))
            return outcome.status
        } catch let error as VerifyError {
            throw VerifyCommandErrors.map(error)
        }
    }
}

/// Maps Verify errors to the CLI's error types (usage errors exit 64, the rest exit 1).
enum VerifyCommandErrors {
    static func map(_ error: VerifyError) -> any Error {
        if case .invalidOptions(let message) = error { return UsageError(message) }
        return CommandError(error.description)
    }
}
