import Foundation
import Testing
import Verify

@Suite struct TargetsTests {
    /// Sample report: 1.5M messages/s, worst p99 40 µs, p99.9 250 µs, 12 MiB per worker, max speed.
    let report = Samples.report()

    @Test func passingTargetsReportTheirMeasuredValues() throws {
        let checks = Targets(
            minMessagesPerSecond: 1_000_000, maxLatencyP99Micros: 100, maxLatencyP999Micros: 1000,
            maxWorkerMemoryMB: 100
        ).check(report)
        #expect(checks.map(\.outcome) == [.pass, .pass, .pass, .pass])
        #expect(checks.map(\.measured) == [1_500_000, 40, 250, 12])
        #expect(checks[0].line == "PASS throughput: 1,500,000 messages/s (target ≥ 1,000,000 messages/s)")
    }

    @Test func missedTargetsFailWithMeasuredValue() {
        var report = self.report
        report.workers[1].latency = RunReport.Latency(p50: 9, p99: 140.25, p999: 2500, max: 9000)
        let checks = Targets(minMessagesPerSecond: 2_000_000, maxLatencyP99Micros: 100, maxLatencyP999Micros: 1000)
            .check(report)
        #expect(checks.map(\.outcome) == [.fail, .fail, .fail])
        #expect(checks[1].measured == 140.25, "the worst worker's p99 is the one held to the target")
        #expect(checks[1].line == "FAIL router → worker latency p99 (worst worker): 140.25 µs (target ≤ 100 µs)")
        let result = Verifier.compare(
            report: report, golden: Golden.make(from: self.report), targets: Targets(maxLatencyP99Micros: 100))
        #expect(!result.passed)
        #expect(result.differences.isEmpty)
        #expect(VerificationText.render(result).contains("1 target missed"))
    }

    @Test func latenessAtMaxSpeedIsNotApplicableNotAFailure() {
        let result = Verifier.check(report: report, targets: Targets(maxLatenessP99Micros: 1000))
        #expect(result.passed)
        #expect(result.targets.count == 1)
        #expect(result.targets[0].outcome == .notApplicable)
        #expect(result.targets[0].measured == nil)
        #expect(result.targets[0].reason?.contains("speed 'max'") == true)
        #expect(result.targets[0].line.hasPrefix("N/A  pacing lateness p99 at 1×: not measured"))
    }

    @Test(arguments: [(1500.0, TargetCheck.Outcome.fail), (800.0, .pass)])
    func latenessAtRecordedSpeedIsChecked(p99: Double, outcome: TargetCheck.Outcome) {
        var report = self.report
        report.options.speed = "1x"
        report.pacing = RunReport.Pacing(p50: 100, p99: p99, max: 5000)
        let check = Targets(maxLatenessP99Micros: 1000).check(report)[0]
        #expect(check.outcome == outcome)
        #expect(check.measured == p99)
    }

    @Test(arguments: [("1", true), ("1x", true), ("1.0×", true), ("max", false), ("10x", false), ("0.5x", false)])
    func recordedSpeedIsRecognisedInEverySpelling(speed: String, recorded: Bool) {
        #expect(RunReport.Options(workers: 1, speed: speed).isRecordedSpeed == recorded)
    }

    @Test func missingMeasurementsAreNotApplicable() {
        var report = self.report
        report.throughput = nil
        for index in report.workers.indices {
            report.workers[index].memoryBytes = nil
            report.workers[index].latency = nil
        }
        let checks = Targets(minMessagesPerSecond: 1, maxLatencyP99Micros: 1, maxWorkerMemoryMB: 1).check(report)
        #expect(checks.allSatisfy { $0.outcome == .notApplicable && $0.measured == nil })
    }

    @Test func goldenTargetsApplyAndATargetsFileOverridesThemFieldByField() {
        let golden = Golden.make(
            from: report, targets: Targets(minMessagesPerSecond: 2_000_000, maxLatencyP99Micros: 100))
        let fromGolden = Verifier.compare(report: report, golden: golden)
        #expect(fromGolden.targets.map(\.outcome) == [.fail, .pass])
        let overridden = Verifier.compare(
            report: report, golden: golden, targets: Targets(minMessagesPerSecond: 1_000_000))
        #expect(overridden.targets.map(\.name) == ["minMessagesPerSecond", "maxLatencyP99Micros"])
        #expect(overridden.targets.map(\.outcome) == [.pass, .pass])
        #expect(overridden.passed)
    }

    @Test func targetsFileLoadsAndRejectsUnknownKeys() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("targets.json")
        try Data(#"{"format":"polytape-targets/1","maxWorkerMemoryMB":100,"maxLatencyP99Micros":100}"#.utf8)
            .write(to: good)
        #expect(try Targets.load(good.path) == Targets(maxLatencyP99Micros: 100, maxWorkerMemoryMB: 100))

        let typo = directory.appendingPathComponent("typo.json")
        try Data(#"{"maxLatencyP99Micro":100}"#.utf8).write(to: typo)
        let error = #expect(throws: VerifyError.self) { try Targets.load(typo.path) }
        #expect(error?.description.contains(typo.path) == true)
        #expect(error?.description.contains("unknown target 'maxLatencyP99Micro'") == true)

        // Regression: a negative threshold was "met" by every run.
        let negative = directory.appendingPathComponent("negative.json")
        try Data(#"{"minMessagesPerSecond":-5}"#.utf8).write(to: negative)
        let refused = #expect(throws: VerifyError.self) { try Targets.load(negative.path) }
        #expect(
            refused?.description.contains("minMessagesPerSecond: must be a positive number, not -5") == true,
            "\(refused?.description ?? "")")
    }

    @Test func numbersAreFormattedWithoutLocale() {
        let check = TargetCheck(
            name: "maxWorkerMemoryMB", description: "memory", threshold: 100, unit: "MiB", measured: 12.5,
            outcome: .pass)
        #expect(check.line == "PASS memory: 12.5 MiB (target ≤ 100 MiB)")
        let small = TargetCheck(
            name: "maxLatencyP99Micros", description: "p99", threshold: 0.05, unit: "µs", measured: 1234567.891,
            outcome: .fail)
        #expect(small.line == "FAIL p99: 1,234,567.89 µs (target ≤ 0.05 µs)")
    }
}
