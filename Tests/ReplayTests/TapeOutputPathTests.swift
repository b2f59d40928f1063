// Regressions: `replay tape slice|import|repair|synth -o OUT` that failed only after reading the
// whole input and left `OUT.partial` behind, also when interrupted or run twice at once.
import CommandLineSupport
import Foundation
import Glibc
import ReplayKit
import Tape
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

    /// Regression: SIGTERM during `replay tape synth` left `OUT.partial` behind.
    @Test func anInterruptedTapeToolLeavesNoPartialFile() throws {
        let scratch = try ScratchDirectory()
        let output = scratch.path("big.ndjson.zst")
        var sawPartial = false
        let run = try R.run(
            ["tape", "synth", "--assets", "50", "--duration", "3600s", "--rate", "20000", "-o", output],
            timeout: .seconds(60)
        ) { process in
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: scratch.url.path)) ?? []
                if names.contains(where: { $0.contains(".partial-") }) {
                    sawPartial = true
                    break
                }
                usleep(10_000)
            }
            usleep(100_000)
            kill(process.processIdentifier, SIGTERM)
        }
        #expect(sawPartial)
        #expect(run.status == ExitStatus.interrupted, "stderr: \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }

    /// Regression: two `tape synth -o cc` at once shared `cc.partial`, and the second failed
    /// with "rename failed"; each writes its own partial file now, and the last rename wins.
    @Test func twoWritersOfOneOutputDoNotShareAPartialFile() throws {
        let scratch = try ScratchDirectory()
        let output = scratch.path("cc.ndjson.zst")
        let arguments = ["tape", "synth", "--assets", "20", "--duration", "20s", "--rate", "5000", "-o", output]
        let other = Process()
        other.executableURL = R.executable
        other.arguments = arguments
        other.standardOutput = FileHandle.nullDevice
        other.standardError = FileHandle.nullDevice
        try other.run()
        let first = try R.run(arguments)
        other.waitUntilExit()
        #expect(first.status == ExitStatus.success, "stderr: \(first.stderr)")
        #expect(other.terminationStatus == ExitStatus.success)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["cc.ndjson.zst"])
        #expect(try R.run(["tape", "info", output]).status == ExitStatus.success)
    }

    /// Regression: a valid 250-character tape name failed after the whole write, because
    /// `NAME.partial` was longer than NAME_MAX; such a name is written under a short partial name.
    @Test func aLongValidTapeNameIsWritten() throws {
        let scratch = try ScratchDirectory()
        let tape = String(repeating: "t", count: 239) + ".ndjson.zst"
        let run = try R.run(["tape", "synth", "--assets", "2", "--duration", "1s", "-o", tape], in: scratch.url)
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == [tape])
        #expect(TapeWriter.partialName(for: "a/" + tape, pid: 42) == "a/.tape.partial-42")
        #expect(TapeWriter.partialName(for: "a/b.ndjson.zst", pid: 42) == "a/.b.ndjson.zst.partial-42")
        #expect(TapeWriter.partialName(for: "b.ndjson.zst", pid: 42) == ".b.ndjson.zst.partial-42")
    }
}
