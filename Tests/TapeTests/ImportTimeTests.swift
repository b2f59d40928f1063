import Foundation
import TestSupport
import Testing

@testable import Tape

/// Where an imported tape's times come from when the capture has none (bare frames without
/// receive clocks or exchange timestamps), and that captures with times keep theirs.
@Suite struct ImportTimeTests {
    /// 2025-01-25T17:15:47Z, a whole second so that the file system stores it exactly.
    static let modifiedNs: Int64 = 1_737_825_347_000_000_000
    /// The `--start-time` used below: 2026-09-24T16:29:39.153Z.
    static let startNs: Int64 = 1_790_267_379_153_000_000
    static let bareFrames = "[]\n{\"event_type\":\"unknown_x\"}\nPING\nPONG\n"

    /// Writes `text` into `folder/name` with the modification time `modifiedNs`.
    static func input(_ folder: TemporaryFolder, _ name: String, _ text: String) throws -> String {
        let path = folder.file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: Double(modifiedNs / 1_000_000_000))], ofItemAtPath: path)
        return path
    }

    /// Regression: a raw capture of `[]` alone was written as a tape created 1970-01-01 with no
    /// warning. It now takes the file's modification time, says so on stderr naming the file,
    /// and records it in the header's notes.
    @Test func smallestInputWithoutTimesWarnsAndTakesTheFileModificationTime() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "bare.txt", "[]\n")
        let output = folder.file("bare.ndjson.zst")
        let (status, out, err) = try runReplay(["tape", "import", path, "-o", output])
        #expect(status == 0, "stderr: \(err)")
        #expect(out.contains("wrote \(output): 1 frames"))
        #expect(
            err.contains(
                "warning: \(path): no receive or exchange time found in the input, so the tape's times are synthetic: "
                    + "its frame is stamped with the file's modification time 2025-01-25T17:15:47.000Z"),
            "stderr: \(err)")
        #expect(err.contains("--start-time ISO8601|epoch-ms"), "stderr: \(err)")
        #expect(err.components(separatedBy: "warning:").count == 2, "warned more than once: \(err)")
        let (frames, _, header) = try readFrames([output], strict: true)
        #expect(header?.createdNs == Self.modifiedNs)
        #expect(header?.session == "import-20250125T171547.000")
        #expect(frames.map(\.recvWallNs) == [Self.modifiedNs])
        #expect(header?.notes["synthetic_times"]?.hasPrefix("bare.txt: no receive or exchange time") == true)
        #expect(header?.notes["synthetic_times"]?.contains("modification time 2025-01-25T17:15:47.000Z") == true)
    }

    /// Regression: `replay tape import -` of frames without times dated the tape 1970 (standard
    /// input has no file to take a modification time from). It takes standard input's own
    /// (for a pipe, when it was written to), warns like a file import and offers --start-time.
    @Test func standardInputWithoutTimesWarnsAndIsNotDated1970() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("stdin.ndjson.zst")
        let before = Int64(Date().timeIntervalSince1970 * 1000 - 1000) * 1_000_000
        let (status, _, err) = try runReplay(["tape", "import", "-", "-o", output], stdin: Data("[]\n".utf8))
        #expect(status == 0, "stderr: \(err)")
        #expect(
            err.contains(
                "warning: -: no receive or exchange time found in the input, so the tape's times are synthetic: "
                    + "its frame is stamped with the modification time of standard input "),
            "stderr: \(err)")
        #expect(err.contains("--start-time ISO8601|epoch-ms"), "stderr: \(err)")
        #expect(!err.contains("1970"), "stderr: \(err)")
        let (frames, _, header) = try readFrames([output], strict: true)
        let created = try #require(header?.createdNs)
        #expect(created >= before && created <= Int64(Date().timeIntervalSince1970 * 1000 + 1000) * 1_000_000)
        #expect(frames.map(\.recvWallNs) == [created])
        #expect(header?.notes["synthetic_times"]?.contains("the modification time of standard input") == true)

        let (startStatus, out, startErr) = try runReplay(
            ["tape", "import", "-", "--start-time", "2026-09-24T16:29:39.153Z", "-o", output], stdin: Data("[]\n".utf8))
        #expect(startStatus == 0, "stderr: \(startErr)")
        #expect(!startErr.contains("warning"), "stderr: \(startErr)")
        #expect(out.contains("frames stamped with the given start time 2026-09-24T16:29:39.153Z"), "stdout: \(out)")
        #expect(try readFrames([output], strict: true).2?.createdNs == Self.startNs)
    }

    @Test(arguments: ["2026-09-24T16:29:39.153Z", "2026-09-24T18:29:39.153+02:00", "1790267379153"])
    func startTimeStampsEveryFrameOfAnInputWithoutTimes(_ startTime: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "bare.txt", Self.bareFrames)
        let output = folder.file("bare.ndjson.zst")
        let (status, out, err) = try runReplay(["tape", "import", path, "--start-time", startTime, "-o", output])
        #expect(status == 0, "stderr: \(err)")
        #expect(!err.contains("warning"), "stderr: \(err)")
        #expect(out.contains("frames stamped with the given start time 2026-09-24T16:29:39.153Z"), "stdout: \(out)")
        let (frames, _, header) = try readFrames([output], strict: true)
        #expect(header?.createdNs == Self.startNs)
        #expect(frames.count == 4)
        #expect(frames.allSatisfy { $0.recvWallNs == Self.startNs && $0.monoNs == Self.startNs })
        #expect(
            frames.map { String(decoding: $0.bytes, as: UTF8.self) }
                == Self.bareFrames.split(separator: "\n").map(String.init))
        #expect(header?.notes["synthetic_times"]?.hasSuffix("the given start time 2026-09-24T16:29:39.153Z") == true)
    }

    @Test(arguments: [
        (
            "yesterday",
            "--start-time must be epoch milliseconds or ISO-8601 like 2026-09-24T10:30:00Z, 2026-09-24T12:30+02:00 or "
                + "2026-09-24, not 'yesterday'"
        ),
        ("2026-13-45T00:00:00Z", "--start-time must be epoch milliseconds or ISO-8601"),
        ("-5", "--start-time must be at or after 1970-01-01T00:00:00Z, not '-5'"),
        ("99999999999999", "--start-time '99999999999999' is out of range"),
        ("9999-01-01T00:00:00Z", "--start-time '9999-01-01T00:00:00Z' is out of range"),
    ])
    func badStartTimeIsAUsageError(_ startTime: String, _ message: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "bare.txt", "[]\n")
        let output = folder.file("bare.ndjson.zst")
        let (status, _, err) = try runReplay(["tape", "import", path, "--start-time", startTime, "-o", output])
        #expect(status == 64)
        #expect(err.contains("Error: \(message)"), "stderr: \(err)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    /// A capture with exchange timestamps keeps them: the header's time is its first frame's,
    /// no note is added, and `--start-time` changes nothing but says it was not used.
    @Test func inputWithTimesIsUnchangedAndIgnoresStartTime() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = Repo.fixture("corpus/hash-vectors/raw/go_comment_capture_2025-12-23.jsonl").path
        let plain = folder.file("plain.ndjson.zst")
        let report = try TapeImporter.importFiles([source], to: plain)
        #expect(report.inputs.map(\.timeSource) == [.input])
        let (frames, _, header) = try readFrames([plain], strict: true)
        #expect(header?.createdNs == frames.first?.recvWallNs)
        #expect(header?.createdNs == frames.map(\.recvWallNs).min())
        #expect((header?.createdNs ?? 0) > 1_700_000_000_000_000_000)
        #expect(header?.notes["synthetic_times"] == nil)

        let started = folder.file("started.ndjson.zst")
        let (status, _, err) = try runReplay(["tape", "import", source, "--start-time", "0", "-o", started])
        #expect(status == 0, "stderr: \(err)")
        #expect(err.contains("warning: --start-time not used: every input carries its own"), "stderr: \(err)")
        #expect(FileManager.default.contents(atPath: started) == FileManager.default.contents(atPath: plain))
    }

    /// Frames before the first timestamped one take its time, as before: the input has times.
    @Test func framesBeforeTheFirstTimestampTakeItAndNeedNoStartTime() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(
            folder, "frames.txt", "PONG\n[]\n{\"event_type\":\"book\",\"timestamp\":\"1737825347925\"}\nPING\n")
        let output = folder.file("out.ndjson.zst")
        let report = try TapeImporter.importFiles([path], to: output, startTimeNs: Self.startNs)
        #expect(report.inputs.map(\.timeSource) == [.input])
        let (frames, _, header) = try readFrames([output], strict: true)
        #expect(frames.map(\.recvWallNs) == Array(repeating: 1_737_825_347_925_000_000, count: 4))
        #expect(header?.createdNs == 1_737_825_347_925_000_000)
        #expect(header?.notes["synthetic_times"] == nil)
    }

    /// A single pretty-printed frame without a timestamp is an input without times too.
    @Test func singleFrameWithoutTimestampIsStamped() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "one.json", "{\n  \"event_type\": \"unknown_x\"\n}\n")
        let output = folder.file("one.ndjson.zst")
        var report = try TapeImporter.importFiles([path], to: output)
        #expect(report.inputs.map(\.shape) == [.singleJSON])
        #expect(report.inputs.map(\.timeSource) == [.fileModificationTime(Self.modifiedNs)])
        report = try TapeImporter.importFiles([path], to: output, startTimeNs: Self.startNs)
        #expect(report.inputs.map(\.timeSource) == [.startTime(Self.startNs)])
        let (frames, _, header) = try readFrames([output], strict: true)
        #expect(frames.map(\.recvWallNs) == [Self.startNs])
        #expect(header?.createdNs == Self.startNs)
    }

    /// With several inputs only those without times are stamped; the others keep theirs and
    /// the header's time is the earliest frame's.
    @Test func onlyInputsWithoutTimesAreStamped() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let timed = try Self.input(folder, "timed.txt", "{\"event_type\":\"book\",\"timestamp\":\"1737825347925\"}\n")
        let bare = try Self.input(folder, "bare.txt", "[]\nPONG\n")
        let output = folder.file("mixed.ndjson.zst")
        let report = try TapeImporter.importFiles([timed, bare], to: output, startTimeNs: Self.startNs)
        #expect(report.inputs.map(\.timeSource) == [.input, .startTime(Self.startNs)])
        let (frames, _, header) = try readFrames([output], strict: true)
        #expect(frames.map(\.recvWallNs) == [1_737_825_347_925_000_000, Self.startNs, Self.startNs])
        #expect(header?.createdNs == 1_737_825_347_925_000_000)
        #expect(header?.notes["synthetic_times"]?.hasPrefix("bare.txt: ") == true)
        #expect(header?.notes["synthetic_times"]?.contains("timed.txt") == false)
    }

    @Test func helpDocumentsStartTimeWithAnExample() throws {
        let (status, out, _) = try runReplay(["tape", "import", "--help"])
        #expect(status == 0)
        #expect(out.contains("[--start-time T]"))
        #expect(out.contains("  --start-time T    when the frames of inputs without any time were received"))
        #expect(
            out.contains(
                "  replay tape import bare-frames.txt --start-time 2026-09-24T16:29:39.153Z -o bare.ndjson.zst"))
    }

    /// The same input and start time give a byte-identical tape (imports are deterministic).
    @Test func importWithStartTimeIsDeterministic() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "bare.txt", Self.bareFrames)
        let first = folder.file("a.ndjson.zst")
        let second = folder.file("b.ndjson.zst")
        _ = try TapeImporter.importFiles([path], to: first, startTimeNs: Self.startNs)
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
        _ = try TapeImporter.importFiles([path], to: second, startTimeNs: Self.startNs)
        #expect(FileManager.default.contents(atPath: first) == FileManager.default.contents(atPath: second))
    }
}
