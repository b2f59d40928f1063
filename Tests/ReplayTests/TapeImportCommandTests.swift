import CommandLineSupport
import Testing

@testable import ReplayKit
@testable import Tape

/// `replay tape import --start-time` parses like `replay run --from` and refuses, instead of
/// trapping, values a tape's clock cannot hold.
@Suite struct TapeImportCommandTests {
    @Test(
        arguments: [
            ("2026-09-24T16:29:39.153Z", 1_790_267_379_153_000_000), ("2026-09-24T16:29:39", 1_790_267_379_000_000_000),
            ("1790267379153", 1_790_267_379_153_000_000), ("0", 0),
        ] as [(String, Int64)])
    func startTimeParsesLikeRunFrom(_ text: String, _ ns: Int64) throws {
        #expect(try TapeImportCommand.parseStartTime(text) == ns)
    }

    @Test(arguments: ["-1", "1969-12-31T23:59:59Z", "soon", ""])
    func startTimeBefore1970OrNotATimeIsAUsageError(_ text: String) {
        #expect(throws: UsageError.self) { try TapeImportCommand.parseStartTime(text) }
    }

    /// Regression: `replay run --from 99999999999999` trapped on multiplying the milliseconds.
    @Test(arguments: ["99999999999999", "-99999999999999", "9999-01-01T00:00:00Z"])
    func instantOutsideTheTapeClockIsAUsageErrorNotATrap(_ text: String) {
        #expect(throws: UsageError.self) { try TapeImportCommand.parseStartTime(text) }
        #expect(throws: UsageError("--from '\(text)' is out of range: times must lie between 1677 and 2262")) {
            try RunOptions.parseInstant(text, option: "from")
        }
    }

    @Test func warningNamesTheFileTheStampAndTheOption() {
        let input = ImportReport.Input(
            file: "captures/bare.txt", shape: .rawFrames, frames: 4, events: 0, skipped: [],
            timeSource: .fileModificationTime(1_737_825_347_000_000_000))
        #expect(
            TapeImportCommand.syntheticTimeWarning(input)
                == "warning: captures/bare.txt: no receive or exchange time found in the input, so the tape's times "
                + "are synthetic: all 4 of its frames are stamped with the file's modification time "
                + "2025-01-25T17:15:47.000Z (not when the frames were received). Give the real start time with "
                + "--start-time ISO8601|epoch-ms (e.g. --start-time 2026-09-24T16:29:39Z).")
    }
}
