// JUnit XML, the format every CI system renders: one testsuite "polytape-verify" whose test
// cases are the tape identity, each worker (or the per-asset digest set) and each target, so a
// CI page shows which worker or threshold failed without reading logs.

/// Renders a `VerificationResult` as JUnit XML.
public enum JUnitReport {
    /// The suite name every result is reported under.
    public static let suiteName = "polytape-verify"

    private struct Case {
        var className: String
        var name: String
        var failures: [Difference] = []
        var failureText: String?
        var skipped: String?
    }

    /// A complete, well-formed XML document (UTF-8 text).
    public static func xml(_ result: VerificationResult, maxLinesPerDifference: Int = 40) -> String {
        var cases: [Case] = []
        var tape = Case(className: "\(suiteName).tape", name: "tape identity and options")
        // A failed run is placed here too, so it is in the file in every mode (targets only as well).
        tape.failures = result.differences.filter { [.tapeIdentity, .option, .runFailed].contains($0.kind) }
        cases.append(tape)

        for index in result.workerIndexes {
            var worker = Case(className: "\(suiteName).workers", name: "worker \(index)")
            worker.failures = result.differences.filter {
                $0.worker == index && $0.kind != .tapeIdentity && $0.kind != .option
            }
            cases.append(worker)
        }
        if result.mode != .targetsOnly {
            var assets = Case(className: "\(suiteName).books", name: "per-asset digests")
            assets.failures = result.differences.filter { $0.worker == nil && $0.assetID != nil }
            cases.append(assets)
            // Everything not placed above (input counts, exchange-hash totals) lands here, so no
            // difference is ever missing from the JUnit file.
            var totals = Case(className: "\(suiteName).totals", name: "input and exchange-hash totals")
            totals.failures = result.differences.filter {
                $0.worker == nil && $0.assetID == nil && ![.tapeIdentity, .option, .runFailed].contains($0.kind)
            }
            cases.append(totals)
        }
        for check in result.targets {
            var target = Case(className: "\(suiteName).targets", name: "target \(check.name)")
            switch check.outcome {
            case .pass: break
            case .fail: target.failureText = check.line
            case .notApplicable: target.skipped = check.line
            }
            cases.append(target)
        }

        let failures = cases.filter { !$0.failures.isEmpty || $0.failureText != nil }.count
        let skipped = cases.filter { $0.skipped != nil }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let counts = "tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"\(skipped)\""
        xml += "<testsuites name=\"\(suiteName)\" \(counts)>\n"
        xml += "  <testsuite name=\"\(suiteName)\" \(counts)>\n"
        if !result.notes.isEmpty {
            xml += "    <properties>\n"
            for (number, note) in result.notes.enumerated() {
                xml += "      <property name=\"note.\(number + 1)\" value=\"\(escape(note, attribute: true))\"/>\n"
            }
            xml += "    </properties>\n"
        }
        for testCase in cases {
            let open =
                "    <testcase classname=\"\(escape(testCase.className, attribute: true))\" "
                + "name=\"\(escape(testCase.name, attribute: true))\""
            if let text = testCase.failureText {
                xml += open + ">\n"
                xml += "      <failure message=\"\(escape(text, attribute: true))\" type=\"target\">"
                xml += escape(text, attribute: false) + "</failure>\n"
                xml += "    </testcase>\n"
            } else if !testCase.failures.isEmpty {
                var message = testCase.failures[0].summary
                if testCase.failures.count > 1 { message += " (and \(testCase.failures.count - 1) more)" }
                var body: [String] = []
                for (number, difference) in testCase.failures.enumerated() {
                    body += VerificationText.differenceLines(
                        difference, number: number + 1, maxLines: maxLinesPerDifference)
                }
                xml += open + ">\n"
                xml +=
                    "      <failure message=\"\(escape(message, attribute: true))\" "
                    + "type=\"\(testCase.failures[0].kind.rawValue)\">"
                xml += escape(body.joined(separator: "\n"), attribute: false) + "</failure>\n"
                xml += "    </testcase>\n"
            } else if let reason = testCase.skipped {
                xml += open + ">\n"
                xml += "      <skipped message=\"\(escape(reason, attribute: true))\"/>\n"
                xml += "    </testcase>\n"
            } else {
                xml += open + "/>\n"
            }
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    /// The JUnit XML of a run that failed or was interrupted before anything could be verified:
    /// one failing test case "run" whose message is `message` and whose body lists `reasons` (the
    /// report's `statusReasons`), so a CI page shows the failure instead of an older file's PASS.
    public static func failedRun(message: String, reasons: [String]) -> String {
        let counts = "tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\""
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites name=\"\(suiteName)\" \(counts)>\n"
        xml += "  <testsuite name=\"\(suiteName)\" \(counts)>\n"
        xml += "    <testcase classname=\"\(suiteName).run\" name=\"run\">\n"
        xml += "      <failure message=\"\(escape(message, attribute: true))\" type=\"run-failed\">"
        xml += escape(([message] + reasons).joined(separator: "\n"), attribute: false) + "</failure>\n"
        xml += "    </testcase>\n"
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    /// Escapes XML markup; control characters XML 1.0 forbids become U+FFFD, and in attributes
    /// line breaks and tabs become character references so they survive attribute normalisation.
    static func escape(_ text: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            case "\n" where attribute: out += "&#10;"
            case "\r": out += "&#13;"
            case "\t" where attribute: out += "&#9;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
