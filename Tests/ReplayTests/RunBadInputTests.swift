// Bad input in `replay run` and the tape tools: every problem is counted and reported with where
// it is, the good data around it is replayed, and `--strict` stops at it (exit 2).
import CommandLineSupport
import Foundation
import ReplayKit
import TestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(5)))
struct RunBadInputTests {
    typealias R = ReplayBinary

    /// The bundled tape's lines (header, frames, footer).
    static func bundledLines() throws -> [[UInt8]] { try tapeLines(R.bundledTape) }

    static func kind(_ line: [UInt8]) -> String? { lineObject(line)?["kind"] as? String }

    /// Bytes that are no text: a NUL, then a fixed pseudo-random sequence with a line break in it.
    static func binaryBytes() -> [UInt8] {
        var state: UInt32 = 12_345
        var bytes: [UInt8] = [0]
        for _ in 1..<512 {
            state = state &* 1_103_515_245 &+ 12_345
            bytes.append(UInt8(truncatingIfNeeded: state >> 16))
        }
        bytes[200] = 0x0A
        return bytes
    }

    /// A folder of three segments of the bundled tape's frames, the middle one replaced by
    /// `middle`. Returns the folder, the middle segment's path and the frames of the other two.
    static func folderWithForeignSegment(_ middle: [UInt8], in scratch: ScratchDirectory) throws
        -> (folder: String, foreign: String, frames: Int)
    {
        let lines = try bundledLines()
        let body = lines.dropFirst().filter { kind($0) != "footer" }
        let half = body.count / 2
        let folder = scratch.path("session")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try scratch.writeLines([lines[0]] + body.prefix(half), to: "session/session-000001.ndjson")
        let foreign = scratch.path("session/session-000002.ndjson.zst")
        try Data(middle).write(to: URL(fileURLWithPath: foreign))
        _ = try scratch.writeLines([lines[0]] + body.dropFirst(half), to: "session/session-000003.ndjson")
        return (folder, foreign, body.filter { kind($0) == "frame" }.count)
    }

    /// Regression: a segment of random bytes between two good segments ended `replay run DIR`
    /// ("not a PolyTape tape: it is a binary file", exit 1) and lost the good segments; `tape
    /// repair` failed the same way and left OUT.partial behind. A segment that is no tape at all
    /// is skipped and reported as a malformed line 1 of that file; `--strict` stops at it.
    @Test(arguments: ["binary", "text"])
    func aSegmentThatIsNoTapeIsSkippedAndReported(content: String) throws {
        let scratch = try ScratchDirectory()
        let middle = content == "binary" ? Self.binaryBytes() : Array("not a tape\n".utf8)
        let (folder, foreign, frames) = try Self.folderWithForeignSegment(middle, in: scratch)
        let why = content == "binary" ? "it is a binary file" : "the first line is not a polytape header"

        let run = try R.run(["run", folder, "--workers", "1", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json, "no JSON report: \(run.stderr)")
        #expect(report.object("input").int("frames") == frames)
        #expect(report.string("status") == "warnings")
        #expect(report.object("input").int("malformedLineCount") == 1)
        let malformed = report.object("input").array("malformedLines")
        #expect(malformed.count == 1)
        #expect(malformed.first?.string("file") == foreign)
        #expect(malformed.first?.int("line") == 1)
        #expect(malformed.first?.string("reason")?.contains("not a PolyTape tape: \(why)") == true, "\(malformed)")
        #expect(
            (report["statusReasons"] as? [String])?.contains("1 malformed line (first: \(foreign):1)") == true,
            "\(report["statusReasons"] ?? "")")

        let strict = try R.run(["run", folder, "--workers", "1", "--strict"])
        #expect(strict.status == TapeExitStatus.damaged, "stderr: \(strict.stderr)")
        #expect(strict.stderr.contains("\(foreign): not a PolyTape tape: \(why)"), "stderr: \(strict.stderr)")

        let info = try R.run(["tape", "info", folder])
        #expect(info.status == ExitStatus.success, "stderr: \(info.stderr)")
        #expect(info.stderr.contains("\(foreign):1: skipped: not a PolyTape tape"), "stderr: \(info.stderr)")
        #expect(try R.run(["tape", "info", folder, "--strict"]).status == TapeExitStatus.damaged)

        let repaired = scratch.path("out.ndjson.zst")
        let repair = try R.run(["tape", "repair", folder, "-o", repaired])
        #expect(repair.status == ExitStatus.success, "stderr: \(repair.stderr)")
        #expect(repair.stdoutText.contains("dropped: \(foreign):1"), "stdout: \(repair.stdoutText)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).filter {
            $0.contains("partial")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(try tapeLines(repaired).filter { Self.kind($0) == "frame" }.count == frames)

        // The first file named still has to be a tape: the run refuses before it starts.
        let first = try R.run(["run", foreign, folder, "--workers", "1"])
        #expect(first.status == ExitStatus.failure)
        #expect(first.stderr.contains("\(foreign): not a PolyTape tape"), "stderr: \(first.stderr)")
    }

    /// Regression: `--strict` let through a frame whose envelope is valid but whose frame is broken
    /// JSON (exit 0, status warnings). It stops there: exit 2, naming file and line.
    @Test func strictStopsAtAMalformedFrame() throws {
        let scratch = try ScratchDirectory()
        let header = try Self.bundledLines()[0]
        let broken = Array(
            #"{"kind":"frame","recv_ns":1790267379153000000,"mono_ns":1,"conn":0,"seq":1,"text":"{\"event_type\":\"book\",\"asset_id\":"}"#
                .utf8)
        let path = try scratch.writeLines([header, broken], to: "badframe.ndjson")

        let lenient = try R.run(["run", path, "--workers", "1", "--json"])
        #expect(lenient.status == ExitStatus.success, "stderr: \(lenient.stderr)")
        let report = try #require(lenient.json)
        #expect(
            (report["statusReasons"] as? [String])?.contains("1 malformed line (first: \(path):2)") == true,
            "\(report["statusReasons"] ?? "")")

        let strict = try R.run(["run", path, "--workers", "1", "--strict", "--json"])
        #expect(strict.status == TapeExitStatus.damaged, "stderr: \(strict.stderr)")
        #expect(strict.stderr.contains("\(path):2: malformed frame"), "stderr: \(strict.stderr)")
        let failed = try #require(strict.json, "no JSON report: \(strict.stderr)")
        #expect(failed.string("status") == "failed")
        #expect(failed.object("input").int("malformedLineCount") == 1)
    }

    /// Regression: `replay run - -` read standard input as the first tape and reported the second
    /// `-` as "torn tail in <stdin> after line 0". Standard input can be named once.
    @Test func standardInputTwiceIsAUsageError() throws {
        for arguments in [["run", "-", "-"], ["tape", "info", "-", "-"], ["tape", "cat", "-", "-"]] {
            let run = try R.run(arguments, stdin: URL(fileURLWithPath: R.bundledTape))
            #expect(run.status == ExitStatus.usage, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains("standard input (-) can be given once"), "\(arguments): \(run.stderr)")
        }
    }

    /// Regression: a line of an unknown kind was silently ignored by `replay run` (while `tape
    /// info` counted it). It is skipped, counted and listed with its file and line (forward
    /// compatibility: not a warning).
    @Test func anUnknownLineKindIsCountedAndShown() throws {
        let scratch = try ScratchDirectory()
        let lines = try Self.bundledLines()
        let zebra = Array(#"{"kind":"zebra","stripes":3}"#.utf8)
        let path = try scratch.writeLines([lines[0], zebra] + lines.dropFirst(), to: "zebra.ndjson")

        let run = try R.run(["run", path, "--workers", "1", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        let input = report.object("input")
        #expect(input.int("unknownKindCount") == 1)
        let listed = input.array("unknownKindLines")
        #expect(listed.count == 1)
        #expect(listed.first?.string("file") == path)
        #expect(listed.first?.int("line") == 2)
        #expect(listed.first?.string("reason") == #"unknown kind "zebra""#)
        #expect(report.string("status") == "ok")

        let text = try R.run(["run", path, "--workers", "1"])
        #expect(text.stdoutText.contains("lines of unknown kinds skipped (written by a newer version?): 1"))
        #expect(text.stdoutText.contains(#"\#(path):2: unknown kind "zebra""#), "\(text.stdoutText)")
    }

    /// Regression: with the read-ahead thread, a run that failed on its input reported 0 frames
    /// and 0 routed messages; without it, the frames really read and routed. Both report those.
    @Test(arguments: ["on", "off"])
    func aStrictStopReportsTheFramesReadBeforeIt(readAhead: String) throws {
        let scratch = try ScratchDirectory()
        let lines = try Self.bundledLines()
        let bad = Array(#"{"kind":"frame","recv_ns":17902673 this is not JSON"#.utf8)
        let path = try scratch.writeLines(
            Array(lines.prefix(49)) + [bad] + lines.dropFirst(49), to: "bad-line-50.ndjson")
        let before = lines.prefix(49).filter { Self.kind($0) == "frame" }.count

        let run = try R.run(["run", path, "--workers", "1", "--strict", "--json", "--read-ahead", readAhead])
        #expect(run.status == TapeExitStatus.damaged, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("\(path):50: malformed tape line"), "stderr: \(run.stderr)")
        let report = try #require(run.json, "no JSON report: \(run.stderr)")
        #expect(report.string("status") == "failed")
        #expect(report.object("input").int("frames") == before)
        #expect((report.intMap("router")["routed"] ?? 0) > 0)
    }

    /// Regression: under `--strict` a torn tail was named twice in the status reasons (the
    /// failure and the torn tail); it is named once, by the failure.
    @Test func aStrictTornTailIsOneStatusReason() throws {
        let scratch = try ScratchDirectory()
        let lines = try Self.bundledLines()
        let path = try scratch.writeLines(
            Array(lines.dropLast()), to: "torn.ndjson", trailing: Array(lines[lines.count - 1].prefix(10)))
        let run = try R.run(["run", path, "--workers", "1", "--strict", "--json"])
        #expect(run.status == TapeExitStatus.damaged, "stderr: \(run.stderr)")
        let reasons = try #require(run.json?["statusReasons"] as? [String], "no report: \(run.stderr)")
        #expect(reasons.filter { $0.contains("torn tail") }.count == 1, "\(reasons)")
    }

    /// Regression: a segment with no line at all was reported as "torn tail in X after line 0".
    @Test func damageBeforeTheFirstLineSaysSo() throws {
        let scratch = try ScratchDirectory()
        let folder = scratch.path("session")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try scratch.writeLines(try Self.bundledLines(), to: "session/session-000001.ndjson")
        let empty = scratch.path("session/session-000002.ndjson.zst")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())

        let run = try R.run(["run", folder, "--workers", "1", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let reasons = try #require(run.json?["statusReasons"] as? [String])
        #expect(reasons.contains("torn tail in \(empty) before its first line"), "\(reasons)")
        let text = try R.run(["run", folder, "--workers", "1"])
        #expect(text.stdoutText.contains("torn tail: \(empty) before its first line"), "\(text.stdoutText)")
        #expect(!text.stdoutText.contains("after line 0"))
    }
}
