import CommandLineSupport
import Dispatch
import Foundation
import Glibc
import ReplayKit
import Tape
import Testing

/// `tape repair`, `tape info` and `serve` say what a tape holds beyond clean frames: lines of
/// unknown kinds, frames whose bytes do not parse, torn tails.
@Suite struct TapeDamageReportTests {
    /// Header, the `connected` event, one good frame, a line of an unknown kind (line 4) and a
    /// frame with a valid envelope whose text is broken JSON (line 5).
    static func tapeWithUnknownKindAndBrokenFrame(_ scratch: ScratchDirectory) throws -> String {
        let lines = try tapeLines(ReplayBinary.bundledTape)
        let unknown = Array(#"{"kind":"marker","recv_ns":1790267379153000000,"note":"from a newer writer"}"#.utf8)
        let broken = Array(
            #"{"kind":"frame","recv_ns":1790267379153000001,"mono_ns":1533843623652876,"conn":0,"seq":2,"text":"{\"event_type\":\"book\",\"asset_id\":"}"#
                .utf8)
        return try scratch.writeLines(Array(lines[0..<3]) + [unknown, broken], to: "odd.ndjson")
    }

    /// Regression: repair dropped an unknown-kind line silently and said "nothing was damaged"
    /// of a tape with a frame that does not parse.
    @Test func repairKeepsUnknownKindsAndReportsFramesThatDoNotParse() throws {
        let scratch = try ScratchDirectory()
        let tape = try Self.tapeWithUnknownKindAndBrokenFrame(scratch)
        let output = scratch.path("clean.ndjson.zst")
        let repair = try ReplayBinary.run(["tape", "repair", tape, "-o", output])
        #expect(repair.status == ExitStatus.success, "stderr: \(repair.stderr)")
        let text = repair.stdoutText
        #expect(
            text.contains(
                "kept: 1 line of a kind this version does not know, verbatim (first \(tape):4: unknown kind \"marker\")"
            ),
            "\(text)")
        #expect(text.contains("kept: 1 frame whose bytes do not parse, unchanged (first \(tape):5: "), "\(text)")
        #expect(text.contains("wrote \(output): 2 frames, 1 events"), "\(text)")
        let kinds = try tapeLines(output).compactMap { lineObject($0)?["kind"] as? String }
        #expect(kinds == ["header", "event", "frame", "marker", "frame", "footer"])
    }

    /// Regression: `tape info --strict` exited 0 on a frame that does not parse (`replay run
    /// --strict` exits 2), and `--json` said where nowhere.
    @Test func infoStrictFailsOnAFrameThatDoesNotParseAndSaysWhere() throws {
        let scratch = try ScratchDirectory()
        let tape = try Self.tapeWithUnknownKindAndBrokenFrame(scratch)
        let strict = try ReplayBinary.run(["tape", "info", tape, "--strict"])
        #expect(strict.status == 2, "stderr: \(strict.stderr)")
        #expect(strict.stderr.contains("warning: \(tape):5: frame does not parse: "), "\(strict.stderr)")
        #expect(strict.stdoutText.contains("malformed frame at \(tape):5: "), "\(strict.stdoutText)")
        let json = try ReplayBinary.run(["tape", "info", tape, "--json", "--strict"])
        #expect(json.status == 2)
        let frames = try #require(json.json?["malformed_frames"] as? [[String: Any]], "\(json.stdoutText)")
        #expect(frames.count == 1)
        #expect(frames.first?["file"] as? String == tape)
        #expect(frames.first?["line"] as? Int == 5)
        let clean = try ReplayBinary.run(["tape", "info", ReplayBinary.bundledTape, "--strict"])
        #expect(clean.status == ExitStatus.success, "stderr: \(clean.stderr)")
    }

    /// Regression: `replay serve` of a torn tape said only "serving N frames".
    @Test func serveWarnsAboutATornTailBeforeServing() throws {
        let scratch = try ScratchDirectory()
        let lines = try tapeLines(ReplayBinary.bundledTape)
        let tape = try scratch.writeLines(Array(lines[0..<3]), to: "torn.ndjson", trailing: Array(#"{"kind":"fr"#.utf8))
        let serve = try ReplayBinary.run(["serve", tape, "--port", "0"], timeout: .seconds(30)) { process in
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { kill(pid, SIGTERM) }
        }
        #expect(serve.status == ExitStatus.success, "stderr: \(serve.stderr)")
        #expect(serve.stderr.contains("warning: \(tape)"), "\(serve.stderr)")
        let warning = try #require(serve.stderr.range(of: "warning: "))
        let serving = try #require(serve.stderr.range(of: "serving 1 frames"))
        #expect(warning.lowerBound < serving.lowerBound, "\(serve.stderr)")
    }
}
