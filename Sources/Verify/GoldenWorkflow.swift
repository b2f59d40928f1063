// The golden-file workflow behind `replay run --golden/--write-golden/--bless/--targets/--junit`
// and `replay verify`: one call that records, verifies, checks targets and writes JUnit, and
// returns the text to print and the exit status, so commands stay one-liners.
import CommandLineSupport
import Foundation

/// What a golden workflow produced: the exit status (0 pass, 3 verification failed), the text
/// to print on standard output, the verification result when one was made, and the line
/// describing a recorded golden when one was written.
public struct GoldenWorkflowOutcome: Sendable, Equatable {
    public var status: Int32
    /// The human diff (or, with `json`, only the result's JSON, so standard output stays parseable).
    public var text: String
    public var result: VerificationResult?
    /// `Wrote golden …` / `Re-recorded golden …`; part of `text` unless `json` (then print it to stderr).
    public var recorded: String?
    public init(status: Int32, text: String, result: VerificationResult?, recorded: String? = nil) {
        self.status = status
        self.text = text
        self.result = result
        self.recorded = recorded
    }
}

/// Records goldens, verifies reports against goldens and targets, and writes JUnit XML.
/// Runtime problems (unreadable files, refused overwrite) are thrown as `VerifyError`;
/// `VerifyError.invalidOptions` means the options do not fit together (a usage error).
public enum GoldenWorkflow {
    /// Exit status when everything matched and every applicable target was met.
    public static let passStatus: Int32 = 0
    /// Exit status when verification ran and found a difference or a missed target.
    public static let verificationFailedStatus: Int32 = 3

    /// The whole workflow for a report produced in this process (`replay run`).
    /// - Parameters:
    ///   - report: the run's report.
    ///   - goldenPath: verify against this golden (`--golden FILE`); never rewritten.
    ///   - writeGoldenPath: record a golden from the report (`--write-golden FILE`).
    ///   - bless: allow `writeGoldenPath` to replace an existing file (`--bless`).
    ///   - targetsPath: thresholds file (`--targets FILE`); overrides the golden's own targets field
    ///     by field, and is recorded into a golden being written.
    ///   - junitPath: write JUnit XML of the verification here (`--junit FILE`).
    ///   - json: put the `VerificationResult` JSON in `text` instead of the human diff.
    ///   - recordLevels: record full book levels into a written golden (when the report has them).
    ///   - reportSource: how messages name the report (a path, or "this run").
    ///   - maxDifferences: differences shown in full in the text (the rest are counted).
    public static func handle(
        report: RunReport, goldenPath: String?, writeGoldenPath: String?, bless: Bool, targetsPath: String?,
        junitPath: String?, json: Bool = false, recordLevels: Bool = false, reportSource: String = "this run",
        maxDifferences: Int = 50
    ) throws -> GoldenWorkflowOutcome {
        if bless && writeGoldenPath == nil {
            throw VerifyError.invalidOptions("--bless only applies with --write-golden FILE")
        }
        if junitPath != nil && goldenPath == nil && targetsPath == nil {
            throw VerifyError.invalidOptions("--junit FILE needs --golden FILE or --targets FILE to report on")
        }
        if let goldenPath, let writeGoldenPath, samePath(goldenPath, writeGoldenPath) {
            throw VerifyError.invalidOptions(
                "--golden and --write-golden name the same file \(goldenPath); to re-record it, "
                    + "use --write-golden \(writeGoldenPath) --bless without --golden")
        }
        let targets = try targetsPath.map(Targets.load)

        var texts: [String] = []
        var status = passStatus
        var verification: VerificationResult?
        if goldenPath != nil || targets != nil {
            let result: VerificationResult
            if let goldenPath {
                let golden = try Golden.load(goldenPath)
                result = Verifier.compare(
                    report: report, golden: golden, targets: targets, reportSource: reportSource,
                    goldenSource: goldenPath)
            } else {
                result = Verifier.check(report: report, targets: targets ?? Targets(), reportSource: reportSource)
            }
            if let junitPath { try writeJUnit(result, to: junitPath) }
            texts.append(
                json
                    ? String(decoding: try result.jsonData(), as: UTF8.self)
                    : VerificationText.render(result, maxDifferences: maxDifferences))
            status = result.passed ? passStatus : verificationFailedStatus
            verification = result
        }
        var recorded: String?
        if let writeGoldenPath {
            // A golden of a run that replayed nothing would pass any other empty run.
            guard report.tape.frameCount > 0 else {
                throw VerifyError.invalidOptions(
                    "not recording \(writeGoldenPath): the run replayed no frame (\((report.statusReasons ?? []).first ?? "empty tape or selection")); "
                        + "a golden of nothing would pass any empty run")
            }
            let line = try record(
                report: report, to: writeGoldenPath, bless: bless, targets: targets, recordLevels: recordLevels,
                reportSource: reportSource)
            recorded = line
            if !json { texts.append(line) }
        }
        return GoldenWorkflowOutcome(
            status: status, text: texts.joined(separator: "\n"), result: verification, recorded: recorded)
    }

    /// `replay verify`: a report file against a golden file and/or a targets file.
    public static func verify(
        reportPath: String, goldenPath: String?, targetsPath: String?, junitPath: String?, json: Bool,
        maxDifferences: Int = 50
    ) throws -> GoldenWorkflowOutcome {
        if goldenPath == nil && targetsPath == nil {
            throw VerifyError.invalidOptions("give a GOLDEN file, --targets FILE, or both")
        }
        let report = try RunReport.load(reportPath)
        return try handle(
            report: report, goldenPath: goldenPath, writeGoldenPath: nil, bless: false, targetsPath: targetsPath,
            junitPath: junitPath, json: json, reportSource: reportPath,
            maxDifferences: maxDifferences)
    }

    /// Writes a golden from the report; returns the line to print.
    static func record(
        report: RunReport, to path: String, bless: Bool, targets: Targets?, recordLevels: Bool, reportSource: String
    ) throws -> String {
        let golden = Golden.make(from: report, targets: targets, recordLevels: recordLevels)
        let existed = FileManager.default.fileExists(atPath: path)
        var previous: String?
        if existed && bless {
            // Say what the bless changes, so an accidental re-record is visible in the log.
            if let old = try? Golden.load(path) {
                let changes = Verifier.compare(
                    report: report, golden: old, reportSource: reportSource,
                    goldenSource: path
                ).differences
                previous =
                    changes.isEmpty
                    ? "unchanged from the previous golden"
                    : "replaced a golden that differed in \(changes.count) place\(changes.count == 1 ? "" : "s"), "
                        + "first: \(changes[0].summary)"
            } else {
                previous = "replaced a file that was not a readable golden"
            }
        }
        try golden.write(to: path, overwrite: bless)
        let books = golden.workers.reduce(0) { $0 + $1.books.count }
        var line =
            "\(existed ? "Re-recorded" : "Wrote") golden \(path): \(golden.workers.count) workers, \(books) books, "
            + "\(golden.assetDigests.count) asset digests, tape \(golden.tape.digestAlgorithm):"
            + "\(golden.tape.contentDigest.prefix(12))… (\(golden.tape.frameCount) frames)"
        if let previous { line += "; \(previous)" }
        return line + "\n"
    }

    /// Writes JUnit XML for a result.
    public static func writeJUnit(_ result: VerificationResult, to path: String) throws {
        do {
            try OutputFile.write(Data(JUnitReport.xml(result).utf8), to: path)
        } catch {
            throw VerifyError.writeFailed(path: path, reason: error.reason)
        }
    }

    /// Writes the JUnit XML of a run that failed or was interrupted (`JUnitReport.failedRun`), so
    /// an older file never stays behind to report a pass.
    public static func writeFailedRunJUnit(message: String, reasons: [String], to path: String) throws {
        do {
            try OutputFile.write(Data(JUnitReport.failedRun(message: message, reasons: reasons).utf8), to: path)
        } catch {
            throw VerifyError.writeFailed(path: path, reason: error.reason)
        }
    }

    private static func samePath(_ first: String, _ second: String) -> Bool {
        URL(fileURLWithPath: first).standardizedFileURL.path == URL(fileURLWithPath: second).standardizedFileURL.path
    }
}
