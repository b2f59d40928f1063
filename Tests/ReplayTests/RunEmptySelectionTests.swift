import CommandLineSupport
import Foundation
import ReplayKit
import TestSupport
import Testing

/// Regression (newcomer review): filters that select nothing passed silently with `status ok`,
/// and an empty `--assets` quietly meant every asset.
@Test(arguments: [
    (["--to", "-5"], "the --from/--to window selected nothing"),
    (["--from", "2027-01-01T00:00:00Z"], "the --from/--to window selected nothing"),
    (["--from", "0", "--to", "1", "--time-basis", "exchange"], "the --from/--to window selected nothing"),
    (["--assets", "123"], "--assets selected nothing: none of the 1 given asset id(s)"),
])
func aSelectionThatMatchesNothingIsWarnedAbout(extra: [String], warning: String) throws {
    let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "1", "--quiet"] + extra)
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    #expect(run.stderr.contains("warning: \(warning)"), "stderr: \(run.stderr)")
}

/// Regression: an `--assets` list with one wrong id among good ones replayed the good ones
/// without a word about the typo.
@Test func anAssetListWithSomeUnknownIdsNamesThem() throws {
    let asset = "18054759644013870900749170809345467324611742242067616964612696305379357034954"
    let run = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "1", "--json", "--assets", "\(asset),123,456",
    ])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    let warning = "--assets: 2 of the 3 given asset id(s) had no event in the tape: 123, 456"
    #expect(run.stderr.contains("warning: \(warning)"), "stderr: \(run.stderr)")
    let report = try #require(run.json)
    #expect(report.string("status") == "warnings")
    #expect(
        (report["statusReasons"] as? [String])?.first?.hasPrefix(warning) == true, "\(report["statusReasons"] ?? "")")
    #expect(report.object("input").int("frames") == 110)
}

@Test func aSelectionThatMatchesSomethingIsNotWarnedAbout() throws {
    let run = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "1", "--quiet", "--to", "1790267400000",
    ])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    #expect(!run.stderr.contains("selected nothing"), "stderr: \(run.stderr)")
}

@Test func anEmptyAssetListIsAUsageError() throws {
    for words in [["--assets", ""], ["--assets", " , "]] {
        #expect(throws: UsageError.self) { try RunOptions.parse(words) }
    }
    let scratch = try ScratchDirectory()
    let file = scratch.path("assets.txt")
    try "# only a comment\n\n".write(toFile: file, atomically: true, encoding: .utf8)
    #expect(throws: UsageError.self) { try RunOptions.parse(["--assets-file", file]) }
}

/// Regression: a run that replayed nothing said `status ok` (a header-only tape) or `warnings`
/// with no word of why; the status now carries its reasons, in the JSON and under the text
/// report's status line.
@Test func aRunThatReplaysNothingSaysWhyItsStatusIsWarnings() throws {
    let scratch = try ScratchDirectory()
    let header = try #require(try tapeLines(ReplayBinary.bundledTape).first)
    let tape = try scratch.writeLines([header], to: "header-only.ndjson")
    let empty = try ReplayBinary.run(["run", tape, "--workers", "1", "--json"])
    #expect(empty.status == ExitStatus.success, "stderr: \(empty.stderr)")
    let report = try #require(empty.json, "stdout: \(empty.stdoutText)")
    #expect(report.string("status") == "warnings")
    #expect(report["statusReasons"] as? [String] == ["the tape holds no frames: nothing was replayed"])

    let unselected = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "1", "--to", "-5"])
    #expect(unselected.status == ExitStatus.success, "stderr: \(unselected.stderr)")
    #expect(unselected.stdoutText.contains("status    warnings"), "\(unselected.stdoutText)")
    #expect(unselected.stdoutText.contains("the --from/--to window selected nothing"), "\(unselected.stdoutText)")
}

@Test func aCleanRunHasNoStatusReasons() throws {
    let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "1", "--json"])
    let report = try #require(run.json, "stderr: \(run.stderr)")
    #expect(report.string("status") == "ok")
    #expect(report["statusReasons"] as? [String] == [])
}

/// A tape whose recorder never wrote its footer (killed) is replayed in full, and the report
/// says the recording did not end cleanly.
@Test func aTapeWithoutItsFooterIsReplayedAndSaidToBeUnclosed() throws {
    let scratch = try ScratchDirectory()
    let lines = try tapeLines(ReplayBinary.bundledTape)
    #expect(lineObject(try #require(lines.last))?["kind"] as? String == "footer")
    let tape = try scratch.writeLines(Array(lines.dropLast()), to: "no-footer.ndjson")
    let run = try ReplayBinary.run(["run", tape, "--workers", "1", "--json"])
    let report = try #require(run.json, "stderr: \(run.stderr)")
    #expect(report.object("input")["endedWithFooter"] as? Bool == false)
    #expect(report.object("input").int("frames") == 110)
    #expect(report.string("status") == "ok")
    let text = try ReplayBinary.run(["run", tape, "--workers", "1"])
    #expect(text.stdoutText.contains("no footer: the recorder did not close the tape"), "\(text.stdoutText)")

    let whole = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "1", "--json"])
    #expect(try #require(whole.json).object("input")["endedWithFooter"] as? Bool == true)
}

/// Regression: an `--assets-file` that exists but is binary was told to "check the path".
@Test func anAssetsFileThatIsNotTextSaysSo() throws {
    let scratch = try ScratchDirectory()
    let file = scratch.path("ids.bin")
    try Data([0x00, 0xFF, 0x10, 0x0A]).write(to: URL(fileURLWithPath: file))
    #expect {
        try RunOptions.parse(["--assets-file", file])
    } throws: { error in
        "\(error)".contains("--assets-file \(file) is not a text file")
    }
    #expect {
        try RunOptions.parse(["--assets-file", scratch.path("missing.txt")])
    } throws: { error in
        "\(error)".contains("no such file")
    }
}

/// Regression: `--write-golden` from a run that replayed nothing (a header-only or torn tape, a
/// selection of nothing) wrote a golden that any other empty run would pass.
@Test func aGoldenOfAnEmptyRunIsNotRecorded() throws {
    let scratch = try ScratchDirectory()
    let header = try #require(try tapeLines(ReplayBinary.bundledTape).first)
    let tape = try scratch.writeLines([header], to: "header-only.ndjson")
    let golden = scratch.path("empty.golden.json")
    let run = try ReplayBinary.run(["run", tape, "--workers", "1", "--quiet", "--write-golden", golden])
    #expect(run.status != ExitStatus.success, "stdout: \(run.stdoutText)")
    #expect(run.stderr.contains("not recording \(golden): the run replayed no frame"), "stderr: \(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: golden))
}

/// `replay run --assets-file` and `capture record --assets-file` share one parser: CRLF line
/// ends, a byte-order mark, trailing comments and commas.
@Test func anAssetsFileWithCRLFAndAByteOrderMarkIsRead() throws {
    let scratch = try ScratchDirectory()
    let file = scratch.path("ids.txt")
    try Data([0xEF, 0xBB, 0xBF] + Array("111\r\n222, 333 # two more\r\n".utf8)).write(to: URL(fileURLWithPath: file))
    #expect(try RunOptions.parse(["--assets-file", file]).assets == ["111", "222", "333"])
}
