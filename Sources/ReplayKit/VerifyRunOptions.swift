// The golden-file options of `replay run`, kept beside `replay verify` so the two share one
// vocabulary and one implementation. The run command adds `options`/`flags` to its parser,
// appends `helpText` to its help, and calls `handle` once it has a report.
import Foundation
public import Verify

/// `replay run` options for recording and verifying goldens:
/// `--golden FILE`, `--write-golden FILE`, `--bless`, `--targets FILE`, `--junit FILE`.
public enum VerifyRunOptions {
    /// Option names that take a value (add to the run command's `Arguments` options).
    public static let options: Set<String> = ["golden", "write-golden", "targets", "junit"]
    /// Flags (add to the run command's `Arguments` flags).
    public static let flags: Set<String> = ["bless", "record-levels"]

    /// Help paragraph for `replay run --help`.
    public static let helpText = """
        Golden files and targets:
          --golden FILE        verify the run against this golden (never modifies it); exit 3 on a difference
          --write-golden FILE  record a golden from this run; refuses to replace an existing file...
          --bless              ...unless --bless is given (review `--golden FILE` output first)
          --record-levels      with --write-golden: also record full book levels (larger file, better diffs)
          --targets FILE       check performance thresholds (JSON; overrides the golden's `targets`)
          --junit FILE         write JUnit XML of the verification (needs --golden or --targets)
        """

    /// True when any golden/targets option was given (the run command may skip work otherwise).
    public static func isRequested(_ arguments: Arguments) -> Bool {
        options.contains { arguments.value($0) != nil } || arguments.flag("bless")
    }

    /// Runs the golden workflow for a finished run: prints the verification or recording text to
    /// standard output and returns the exit status (0, or 3 when verification failed). Invalid
    /// combinations throw `UsageError`; unreadable or unwritable files throw `CommandError`.
    /// - Parameter json: print the verification result as JSON (for a run command with `--json`).
    public static func handle(report: RunReport, arguments: Arguments, json: Bool = false) throws -> Int32 {
        do {
            let outcome = try GoldenWorkflow.handle(
                report: report, goldenPath: arguments.value("golden"), writeGoldenPath: arguments.value("write-golden"),
                bless: arguments.flag("bless"), targetsPath: arguments.value("targets"),
                junitPath: arguments.value("junit"), json: json, recordLevels: arguments.flag("record-levels"))
            if !outcome.text.isEmpty { FileHandle.standardOutput.write(Data(outcome.text.utf8)) }
            return outcome.status
        } catch let error as VerifyError {
            throw VerifyCommandErrors.map(error)
        }
    }
}
