// Regressions: output paths that trapped (SIGILL) or were refused wrongly or too late because of
// their spelling: one-character relative names, `-o -`, empty names, symlink loops, a file used
// as a folder, and long names that only failed once the temporary suffix was added.
import CommandLineSupport
import Foundation
import Glibc
import ReplayKit
import TestSupport
import Testing

private typealias R = ReplayBinary

@Suite struct OutputPathNameTests {
    /// The folder of a path is plain string logic, total for every input (Foundation's
    /// deletingLastPathComponent trapped on "r").
    @Test func parentFolderAndLastComponentAreTotal() {
        let cases: [(String, String, String)] = [
            ("r", ".", "r"), ("./r", ".", "r"), ("a/r", "a", "r"), ("a//r", "a", "r"), ("a/r/", "a", "r"),
            ("/r", "/", "r"), ("/a/b/r", "/a/b", "r"), ("/", "/", "/"), ("..", ".", ".."),
        ]
        for (path, folder, name) in cases {
            #expect(OutputFile.parentFolder(of: path) == folder, "\(path)")
            #expect(OutputFile.lastComponent(of: path) == name, "\(path)")
        }
        #expect(OutputFile.resolve("r") == "r")
    }

    /// Regression: every one-character relative output path of `replay run` crashed with SIGILL.
    @Test func oneCharacterOutputsOfRunAreWritten() throws {
        let scratch = try ScratchDirectory()
        var run = try R.run(
            [
                "run", R.bundledTape, "--workers", "2", "--quiet", "--report", "r", "--dump-books", "d", "--golden",
                R.goldenW2, "--junit", "j",
            ], in: scratch.url)
        #expect(run.status == ExitStatus.success && run.signal == nil, "stderr: \(run.stderr)")
        run = try R.run(["run", R.bundledTape, "--workers", "1", "--quiet", "--write-golden", "g"], in: scratch.url)
        #expect(run.status == ExitStatus.success && run.signal == nil, "stderr: \(run.stderr)")
        run = try R.run(["verify", "r", R.goldenW2, "--junit", "k"], in: scratch.url)
        #expect(run.status == ExitStatus.success && run.signal == nil, "stderr: \(run.stderr)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).sorted() == ["d", "g", "j", "k", "r"])
    }

    /// Regression: `replay tape synth|slice|repair|import -o s` crashed with SIGILL.
    @Test(arguments: [
        ["tape", "synth", "--assets", "2", "--duration", "1s"],
        ["tape", "slice", R.bundledTape, "--from", "2026-09-24T16:29:40Z"],
        ["tape", "repair", R.bundledTape],
        ["tape", "import", Repo.fixture("corpus/g3-enrico-2026-09/frames.jsonl").path],
    ])
    func aOneCharacterTapeOutputIsWritten(arguments: [String]) throws {
        let scratch = try ScratchDirectory()
        let run = try R.run(arguments + ["-o", "s"], in: scratch.url)
        #expect(run.status == ExitStatus.success && run.signal == nil, "stderr: \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["s"])
    }

    /// Regression: `-o -` crashed with SIGILL; tapes are renamed into place, so standard output
    /// is refused as a usage error.
    @Test func aTapeToStandardOutputIsAUsageError() throws {
        let run = try R.run(["tape", "synth", "--assets", "2", "--duration", "1s", "-o", "-"])
        #expect(run.status == ExitStatus.usage, "stderr: \(run.stderr)")
        #expect(run.errorLines == ["Error: tapes must go to a regular file; -o - (standard output) is not supported"])
    }

    /// Regression: empty names were refused only after the work, or in words about a folder "".
    @Test func emptyOutputNamesAreUsageErrors() throws {
        for (arguments, line) in [
            (["run", R.bundledTape, "--report", ""], "Error: --report needs a file name"),
            (["run", R.bundledTape, "--golden", ""], "Error: --golden needs a file name"),
            (
                ["tape", "synth", "--assets", "2", "-o", ""],
                "Error: -o needs a file name, like out.ndjson.zst"
            ),
        ] {
            let run = try R.run(arguments)
            #expect(run.status == ExitStatus.usage, "\(arguments): \(run.stderr)")
            #expect(run.errorLines == [line], "\(arguments)")
        }
    }

    /// Regression: `--report loop1`, where loop1 and loop2 point at each other, replaced the link.
    @Test func aSymlinkLoopIsRefused() throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.createSymbolicLink(atPath: scratch.path("loop1"), withDestinationPath: "loop2")
        try FileManager.default.createSymbolicLink(atPath: scratch.path("loop2"), withDestinationPath: "loop1")
        let run = try R.run(["run", R.bundledTape, "--quiet", "--report", "loop1"], in: scratch.url)
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(
            run.errorLines == ["Error: --report loop1 is a symlink loop; remove the link or choose another path"])
        let kind = try FileManager.default.attributesOfItem(atPath: scratch.path("loop1"))[.type] as? FileAttributeType
        #expect(kind == .typeSymbolicLink)
    }

    /// Regression: `--report run.json/x.json` with run.json a file said the folder did not exist.
    @Test func aFileUsedAsAFolderIsNamedAsSuch() throws {
        let scratch = try ScratchDirectory()
        try Data("{}".utf8).write(to: scratch.url.appendingPathComponent("run.json"))
        let run = try R.run(["run", R.bundledTape, "--quiet", "--report", "run.json/x.json"], in: scratch.url)
        #expect(run.status == ExitStatus.failure, "stderr: \(run.stderr)")
        #expect(
            run.errorLines == [
                "Error: --report run.json/x.json: run.json is a file, not a folder; choose another path"
            ])
    }

    /// Regression: a valid 250-character name failed after the whole run, because the temporary
    /// name beside it (name + suffix) was longer than NAME_MAX.
    @Test func aLongValidNameIsWritten() throws {
        let scratch = try ScratchDirectory()
        let name = String(repeating: "r", count: 245) + ".json"
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--quiet", "--report", name], in: scratch.url)
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == [name])
    }
}
