// The human form of a verification result: a readable diff for terminals and CI logs. One
// header line per problem, then `field: expected … / actual …` lines and context, truncated
// with "… and K more" so one broken tape does not bury the first, most useful lines.

/// Renders a `VerificationResult` as text.
public enum VerificationText {
    /// - Parameters:
    ///   - maxDifferences: differences shown in full; the rest are counted.
    ///   - maxLinesPerDifference: field and detail lines shown under each difference.
    public static func render(
        _ result: VerificationResult, maxDifferences: Int = 50, maxLinesPerDifference: Int = 12
    ) -> String {
        var lines: [String] = [headline(result)]
        switch result.mode {
        case .perWorker:
            lines.append(
                "Compared per worker: \(plural(result.comparedWorkers, "worker")), "
                    + "\(plural(result.comparedBooks, "book")).")
        case .perAsset:
            lines.append("Compared per-asset digests: \(plural(result.comparedBooks, "asset")).")
        case .targetsOnly:
            lines.append("No golden: checked targets only.")
        }
        for note in result.notes { lines.append("note: \(note)") }

        if !result.differences.isEmpty {
            lines.append("")
            for (number, difference) in result.differences.prefix(max(0, maxDifferences)).enumerated() {
                lines += differenceLines(difference, number: number + 1, maxLines: maxLinesPerDifference)
            }
            let hidden = result.differences.count - max(0, maxDifferences)
            if hidden > 0 {
                lines.append("… and \(hidden) more difference\(hidden == 1 ? "" : "s") (use --json to see all)")
            }
        }
        if !result.targets.isEmpty {
            lines.append("")
            lines.append("Targets:")
            for check in result.targets { lines.append("  " + check.line) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func plural(_ count: Int, _ noun: String) -> String {
        Self.count(count, noun)
    }

    /// "1 malformed line", "2 malformed lines": a count with its noun in the right number
    /// (`plural` for nouns that do not just take an "s").
    public static func count(_ count: Int, _ singular: String, plural: String? = nil) -> String {
        "\(count) \(count == 1 ? singular : plural ?? singular + "s")"
    }

    /// The first line: verdict and counts.
    public static func headline(_ result: VerificationResult) -> String {
        let against = result.goldenSource.map { " against golden \($0)" } ?? ""
        let failedTargets = result.targets.filter { $0.outcome == .fail }.count
        var counts: [String] = []
        if !result.differences.isEmpty {
            counts.append("\(result.differences.count) difference\(result.differences.count == 1 ? "" : "s")")
        }
        if failedTargets > 0 { counts.append("\(failedTargets) target\(failedTargets == 1 ? "" : "s") missed") }
        if result.passed {
            let checked = result.targets.filter { $0.outcome == .pass }.count
            let targetText = result.targets.isEmpty ? "" : ", \(checked) of \(result.targets.count) targets met"
            return "PASS: \(result.reportSource)\(against)\(targetText)"
        }
        return "FAIL: \(result.reportSource)\(against): \(counts.joined(separator: ", "))"
    }

    /// One difference: numbered header, then up to `maxLines` field and detail lines.
    public static func differenceLines(_ difference: Difference, number: Int, maxLines: Int) -> [String] {
        var body: [String] = difference.fields.map { field in
            "\(field.field): expected \(field.expected ?? "(absent)") / actual \(field.actual ?? "(absent)")"
        }
        body += difference.details
        var lines = ["[\(number)] \(difference.summary)"]
        lines += body.prefix(max(0, maxLines)).map { "      " + $0 }
        let hidden = body.count - max(0, maxLines)
        if hidden > 0 { lines.append("      … and \(hidden) more") }
        return lines
    }
}
