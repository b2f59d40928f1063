import CommandLineSupport
import Foundation
import TestSupport
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

    /// Standard input, without times: stamped with its own modification time, named as such,
    /// and warned about like a file (it was stamped 1970 with no usable hint).
    @Test func standardInputWarningNamesItsStamp() {
        let input = ImportReport.Input(
            file: "-", shape: .rawFrames, frames: 1, events: 0, skipped: [],
            timeSource: .standardInputTime(1_737_825_347_000_000_000))
        #expect(input.timeSource.name == "standard-input-time")
        #expect(
            TapeImportCommand.syntheticTimeWarning(input)
                == "warning: -: no receive or exchange time found in the input, so the tape's times are synthetic: "
                + "its frame is stamped with the modification time of standard input 2025-01-25T17:15:47.000Z (for a "
                + "pipe, when it was last written to; not when the frames were received). Give the real start time "
                + "with --start-time ISO8601|epoch-ms (e.g. --start-time 2026-09-24T16:29:39Z).")
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

/// Regression (newcomer review): `tape import -` said "-: no such file or directory" although
/// `run`, `cat` and `info` read a tape from standard input. It imports the same tape as the file.
@Test func importReadsACaptureFromStandardInput() throws {
    let scratch = try ScratchDirectory()
    let capture = Repo.corpus.appendingPathComponent("g3-enrico-2026-09").path
    let rawFile = try #require(
        FileManager.default.enumerator(atPath: capture)?.compactMap { $0 as? String }.sorted()
            .first { $0.hasSuffix(".jsonl") || $0.hasSuffix(".ndjson") || $0.hasSuffix(".txt") },
        "no capture file in \(capture)")
    let input = URL(fileURLWithPath: capture).appendingPathComponent(rawFile)
    let fromFile = scratch.path("file.ndjson.zst")
    let fromStdin = scratch.path("stdin.ndjson.zst")
    let viaFile = try ReplayBinary.run(["tape", "import", input.path, "-o", fromFile])
    #expect(viaFile.status == ExitStatus.success, "stderr: \(viaFile.stderr)")
    let viaStdin = try ReplayBinary.run(["tape", "import", "-", "-o", fromStdin], stdin: input)
    #expect(viaStdin.status == ExitStatus.success, "stderr: \(viaStdin.stderr)")
    let infoFile = try ReplayBinary.run(["tape", "info", fromFile, "--json"])
    let infoStdin = try ReplayBinary.run(["tape", "info", fromStdin, "--json"])
    #expect(infoFile.json?["frames"] as? Int != nil)
    #expect(infoFile.json?["frames"] as? Int == infoStdin.json?["frames"] as? Int)
    let twice = try ReplayBinary.run(["tape", "import", "-", "-", "-o", fromStdin], stdin: input)
    #expect(twice.status == ExitStatus.usage)
    #expect(twice.stderr.contains("standard input (-) can be imported once"))
}
