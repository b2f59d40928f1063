import Foundation
import Testing
import Verify

@Suite struct GoldenWorkflowTests {
    @Test func recordThenVerifyPassesAndVerifyingNeverRewritesTheGolden() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("golden.json").path
        let report = Samples.report()
        let recorded = try GoldenWorkflow.handle(
            report: report, goldenPath: nil, writeGoldenPath: path, bless: false, targetsPath: nil, junitPath: nil)
        #expect(recorded.status == 0)
        #expect(recorded.text.hasPrefix("Wrote golden \(path): 2 workers, 3 books, 3 asset digests"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))

        var changed = report
        changed.workers[1].counters["crossedBooks"] = 1
        let verified = try GoldenWorkflow.handle(
            report: changed, goldenPath: path, writeGoldenPath: nil, bless: false, targetsPath: nil, junitPath: nil)
        #expect(verified.status == 3)
        #expect(verified.text.contains("crossedBooks: expected 0 / actual 1"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test func reRecordingRequiresBlessAndSaysWhatChanged() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("golden.json").path
        _ = try GoldenWorkflow.handle(
            report: Samples.report(), goldenPath: nil, writeGoldenPath: path, bless: false, targetsPath: nil,
            junitPath: nil)
        var changed = Samples.report()
        changed.workers[0].trades = 99
        let refused = #expect(throws: VerifyError.self) {
            try GoldenWorkflow.handle(
                report: changed, goldenPath: nil, writeGoldenPath: path, bless: false, targetsPath: nil,
                junitPath: nil)
        }
        #expect(refused == .goldenExists(path: path))
        #expect(try Golden.load(path).workers[0].trades == 18)

        let blessed = try GoldenWorkflow.handle(
            report: changed, goldenPath: nil, writeGoldenPath: path, bless: true, targetsPath: nil, junitPath: nil)
        #expect(blessed.text.hasPrefix("Re-recorded golden \(path)"))
        #expect(
            blessed.text.contains("replaced a golden that differed in 1 place, first: worker 0 stats differ: trades"))
        #expect(try Golden.load(path).workers[0].trades == 99)
    }

    @Test func invalidCombinationsAreOptionErrors() throws {
        let report = Samples.report()
        #expect(throws: VerifyError.invalidOptions("--bless only applies with --write-golden FILE")) {
            try GoldenWorkflow.handle(
                report: report, goldenPath: "g.json", writeGoldenPath: nil, bless: true, targetsPath: nil,
                junitPath: nil)
        }
        let junitAlone = #expect(throws: VerifyError.self) {
            try GoldenWorkflow.handle(
                report: report, goldenPath: nil, writeGoldenPath: nil, bless: false, targetsPath: nil,
                junitPath: "j.xml")
        }
        #expect(junitAlone?.description.contains("--junit FILE needs --golden FILE or --targets FILE") == true)
        let same = #expect(throws: VerifyError.self) {
            try GoldenWorkflow.handle(
                report: report, goldenPath: "dir/g.json", writeGoldenPath: "dir/./g.json", bless: true,
                targetsPath: nil, junitPath: nil)
        }
        #expect(same?.description.contains("name the same file") == true)
    }

    @Test func nothingRequestedDoesNothing() throws {
        let outcome = try GoldenWorkflow.handle(
            report: Samples.report(), goldenPath: nil, writeGoldenPath: nil, bless: false, targetsPath: nil,
            junitPath: nil)
        #expect(outcome == GoldenWorkflowOutcome(status: 0, text: "", result: nil))
    }

    @Test func targetsFileIsRecordedIntoANewGoldenAndJUnitIsWritten() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let targets = directory.appendingPathComponent("targets.json").path
        try Data(#"{"minMessagesPerSecond": 2000000}"#.utf8).write(to: URL(fileURLWithPath: targets))
        let golden = directory.appendingPathComponent("golden.json").path
        let junit = directory.appendingPathComponent("junit.xml").path
        let outcome = try GoldenWorkflow.handle(
            report: Samples.report(), goldenPath: nil, writeGoldenPath: golden, bless: false, targetsPath: targets,
            junitPath: junit, json: true)
        #expect(outcome.status == 3, "1.5M messages/s misses the 2M target")
        #expect(try Golden.load(golden).targets == Targets(minMessagesPerSecond: 2_000_000))
        // With json, the text is only the result's JSON; the recording line is kept apart.
        let decoded = try JSONDecoder().decode(VerificationResult.self, from: Data(outcome.text.utf8))
        #expect(decoded == outcome.result)
        #expect(outcome.recorded?.hasPrefix("Wrote golden \(golden)") == true)
        #expect(decoded.mode == .targetsOnly)
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("<testcase classname=\"polytape-verify.targets\" name=\"target minMessagesPerSecond\">"))
    }
}
