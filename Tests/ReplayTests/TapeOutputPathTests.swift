// Regressions: `replay tape slice|import|repair|synth -o OUT` that failed only after reading the
// whole input and left `OUT.partial` behind.
import CommandLineSupport
import Foundation
import ReplayKit
import TestSupport
import Testing

private typealias R = ReplayBinary

@Suite struct TapeOutputPathTests {
    /// Regression: `-o DIR` failed after the whole input was read ("rename failed: Is a
    /// directory") and left `DIR.partial` beside it; a missing folder said "create failed" about
    /// the `.partial` file.
    @Test(arguments: [
        ["tape", "slice", R.bundledTape, "--from", "2026-09-24T16:29:40Z"],
        ["tape", "repair", R.bundledTape],
        ["tape", "import", Repo.fixture("corpus/g3-enrico-2026-09/frames.jsonl").path],
        ["tape", "synth", "--assets", "2", "--duration", "1s"],
    ])
    func aBadOutputIsRefusedUpFrontAndLeavesNothing(arguments: [String]) throws {
        let scratch = try ScratchDirectory()
        let folder = scratch.path("out")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        var run = try R.run(arguments + ["-o", folder])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(
            run.errorLines == ["Error: -o \(folder) is a directory; give a file name like \(folder)/out.ndjson.zst"])
        let missing = scratch.path("missing/x.ndjson.zst")
        run = try R.run(arguments + ["-o", missing])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(
            run.errorLines == [
                "Error: -o \(missing): the folder \(scratch.path("missing")) does not exist; create it or choose another path"
            ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["out"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    /// A write that fails halfway (here: the file size limit) removes the `.partial` file.
    @Test func aFailedTapeWriteLeavesNoPartialFile() throws {
        let scratch = try ScratchDirectory()
        let output = scratch.path("big.ndjson.zst")
        // SIGXFSZ ignored: the write fails with EFBIG instead of killing the process.
        let script =
            "trap '' XFSZ; ulimit -f 8; exec \"$0\" tape synth --assets 50 --duration 30s --rate 2000 -o '\(output)'"
        let run = try R.runExecutable(URL(fileURLWithPath: "/bin/sh"), ["-c", script, R.executable.path])
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(run.errorLines.count == 1 && run.stderr.contains("File too large"), "stderr: \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }

    /// `-o LINK` writes the tape the link points at and keeps the link.
    @Test func aTapeOutputThroughASymlinkKeepsTheLink() throws {
        let scratch = try ScratchDirectory()
        let link = scratch.path("link.ndjson.zst")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.ndjson.zst")
        let run = try R.run(["tape", "synth", "--assets", "2", "--duration", "1s", "-o", link])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let kind = try FileManager.default.attributesOfItem(atPath: link)[.type] as? FileAttributeType
        #expect(kind == .typeSymbolicLink)
        #expect(FileManager.default.fileExists(atPath: scratch.path("real.ndjson.zst")))
    }
}
