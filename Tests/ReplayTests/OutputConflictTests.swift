// Regressions: an output path that named an input (or another output) silently overwrote it.
// Every such command is now refused before any work, as a usage error, and the file is kept.
import CommandLineSupport
import Foundation
import Glibc
import ReplayKit
import TestSupport
import Testing

private typealias R = ReplayBinary

@Suite struct OutputConflictTests {
    /// Runs `arguments` in `scratch`, expects the usage error `line`, and that `file` (when given)
    /// still holds `bytes`.
    private func expectRefused(
        _ arguments: [String], in scratch: ScratchDirectory, line: String, keeps file: String? = nil,
        bytes: Data? = nil
    ) throws {
        let run = try R.run(arguments, in: scratch.url)
        #expect(run.status == ExitStatus.usage, "\(arguments): \(run.stderr)")
        #expect(run.errorLines == ["Error: " + line], "\(arguments)")
        if let file, let bytes {
            #expect(try Data(contentsOf: scratch.url.appendingPathComponent(file)) == bytes, "\(file) was changed")
        }
    }

    private func copyBundledTape(to name: String, in scratch: ScratchDirectory) throws -> Data {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: R.bundledTape))
        try bytes.write(to: scratch.url.appendingPathComponent(name))
        return bytes
    }

    /// Regression: `replay run victim --report victim` (or --dump-books) replaced the tape with
    /// its own report.
    @Test func aRunOutputThatIsTheTapeIsRefused() throws {
        let scratch = try ScratchDirectory()
        let bytes = try copyBundledTape(to: "victim.ndjson.zst", in: scratch)
        for option in ["--report", "--dump-books"] {
            try expectRefused(
                ["run", "victim.ndjson.zst", option, "./victim.ndjson.zst"], in: scratch,
                line: "\(option) ./victim.ndjson.zst is the tape victim.ndjson.zst too; writing it would destroy "
                    + "the input: choose another path",
                keeps: "victim.ndjson.zst", bytes: bytes)
        }
    }

    /// Regression: `replay run DIR --report DIR/seg.ndjson` overwrote a segment of the folder.
    @Test func aRunOutputInsideTheTapeFolderIsRefused() throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch.path("dir"), withIntermediateDirectories: false)
        let bytes = try copyBundledTape(to: "dir/seg.ndjson.zst", in: scratch)
        try expectRefused(
            ["run", "dir", "--report", "dir/seg.ndjson.zst"], in: scratch,
            line: "--report dir/seg.ndjson.zst lies inside the tape folder dir, whose files are read as input; "
                + "write it outside that folder",
            keeps: "dir/seg.ndjson.zst", bytes: bytes)
    }

    /// Regression: `--golden g.json --junit g.json` (or --report g.json) replaced the golden, and
    /// two outputs naming one file overwrote each other.
    @Test func runOutputsThatAreTheGoldenOrEachOtherAreRefused() throws {
        let scratch = try ScratchDirectory()
        let golden = try Data(contentsOf: URL(fileURLWithPath: R.goldenW2))
        try golden.write(to: scratch.url.appendingPathComponent("g.json"))
        for option in ["--junit", "--report"] {
            try expectRefused(
                ["run", R.bundledTape, "--golden", "g.json", option, "g.json"], in: scratch,
                line: "\(option) g.json is the golden g.json too; writing it would destroy the input: choose another "
                    + "path",
                keeps: "g.json", bytes: golden)
        }
        try expectRefused(
            ["run", R.bundledTape, "--report", "same.json", "--dump-books", "./same.json"], in: scratch,
            line: "--report same.json and --dump-books ./same.json are the same file; one would overwrite the other: "
                + "give each its own path")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["g.json"])
    }

    /// Regression: `replay verify run.json g.json --junit g.json` (or `--junit run.json`)
    /// replaced an input with the JUnit file.
    @Test func aVerifyJUnitThatIsAnInputIsRefused() throws {
        let scratch = try ScratchDirectory()
        let bytes = Data("{}".utf8)
        try bytes.write(to: scratch.url.appendingPathComponent("run.json"))
        try bytes.write(to: scratch.url.appendingPathComponent("g.json"))
        try expectRefused(
            ["verify", "run.json", "g.json", "--junit", "g.json"], in: scratch,
            line: "--junit g.json is the golden g.json too; writing it would destroy the input: choose another path",
            keeps: "g.json", bytes: bytes)
        try expectRefused(
            ["verify", "run.json", "g.json", "--junit", "run.json"], in: scratch,
            line: "--junit run.json is the report run.json too; writing it would destroy the input: choose another "
                + "path",
            keeps: "run.json", bytes: bytes)
    }

    /// Regression: `tape slice v -o vlink` (a link to v), `tape slice DIR -o DIR/a` and
    /// `tape repair v -o ./v` replaced their own input.
    @Test func aTapeOutputThatIsAnInputIsRefused() throws {
        let scratch = try ScratchDirectory()
        let bytes = try copyBundledTape(to: "v.ndjson.zst", in: scratch)
        try FileManager.default.createSymbolicLink(
            atPath: scratch.path("vlink.ndjson.zst"), withDestinationPath: "v.ndjson.zst")
        try expectRefused(
            ["tape", "slice", "v.ndjson.zst", "--from", "2026-09-24T16:29:40Z", "-o", "vlink.ndjson.zst"], in: scratch,
            line: "-o vlink.ndjson.zst is the input v.ndjson.zst too; writing it would destroy the input: choose "
                + "another path",
            keeps: "v.ndjson.zst", bytes: bytes)
        try expectRefused(
            ["tape", "repair", "v.ndjson.zst", "-o", "./v.ndjson.zst"], in: scratch,
            line: "-o ./v.ndjson.zst is the input v.ndjson.zst too; writing it would destroy the input: choose "
                + "another path",
            keeps: "v.ndjson.zst", bytes: bytes)
        try FileManager.default.createDirectory(atPath: scratch.path("dir"), withIntermediateDirectories: false)
        try expectRefused(
            ["tape", "slice", "dir", "--from", "2026-09-24T16:29:40Z", "-o", "dir/a.ndjson.zst"], in: scratch,
            line: "-o dir/a.ndjson.zst lies inside the input folder dir, whose files are read as input; write it "
                + "outside that folder")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("dir")).isEmpty)
    }
}
