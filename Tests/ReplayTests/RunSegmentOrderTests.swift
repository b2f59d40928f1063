import CommandLineSupport
import Foundation
import TestSupport
import Testing

/// Regression (newcomer review): a folder whose segment names do not sort in time order was
/// replayed out of order without a word (50 price changes before any snapshot, status ok).
/// The run now warns once, naming the file and line where receive time goes back.
@Test func segmentsOutOfTimeOrderAreWarnedAbout() throws {
    let scratch = try ScratchDirectory()
    let cat = try ReplayBinary.run(["tape", "cat", "--envelope", ReplayBinary.bundledTape])
    #expect(cat.status == ExitStatus.success, "stderr: \(cat.stderr)")
    let lines = cat.stdoutText.split(separator: "\n").map(String.init)
    let header = try #require(lines.first { $0.hasPrefix(#"{"kind":"header""#) })
    let frames = lines.filter { $0.hasPrefix(#"{"kind":"frame""#) }
    #expect(frames.count > 100)
    let half = frames.count / 2
    let folder = scratch.path("segments")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    // "a" sorts first but holds the later half.
    try ([header] + frames[half...]).joined(separator: "\n").appending("\n")
        .write(toFile: folder + "/a.ndjson", atomically: true, encoding: .utf8)
    try ([header] + frames[..<half]).joined(separator: "\n").appending("\n")
        .write(toFile: folder + "/b.ndjson", atomically: true, encoding: .utf8)
    let run = try ReplayBinary.run(["run", folder, "--workers", "1", "--quiet"])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    #expect(run.stderr.contains("warning: receive time goes back"), "stderr: \(run.stderr)")
    #expect(run.stderr.contains("b.ndjson line 2"), "stderr: \(run.stderr)")
    #expect(run.stderr.components(separatedBy: "receive time goes back").count == 2, "warned once")
    // In time order: no warning.
    let ordered = try ReplayBinary.run(["run", folder + "/b.ndjson", folder + "/a.ndjson", "--workers", "1", "--quiet"])
    #expect(!ordered.stderr.contains("receive time goes back"), "stderr: \(ordered.stderr)")
}

/// Regression: out-of-order segments were only a line on standard error (status `ok`), and
/// segments of different capture sessions replayed as one were not mentioned at all. Both are
/// status reasons now.
@Test func segmentsOutOfOrderOrOfAnotherSessionAreStatusReasons() throws {
    let twice = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, ReplayBinary.bundledTape, "--workers", "1", "--json",
    ])
    let report = try #require(twice.json, "stderr: \(twice.stderr)")
    #expect(report.string("status") == "warnings")
    let reasons = report["statusReasons"] as? [String] ?? []
    #expect(reasons.contains { $0.hasPrefix("receive time goes back") }, "\(reasons)")

    let other = Repo.fixture("tapes/nslaughter-settled-mixed.ndjson.zst").path
    let mixed = try ReplayBinary.run(["run", ReplayBinary.bundledTape, other, "--workers", "1", "--json"])
    let mixedReport = try #require(mixed.json, "stderr: \(mixed.stderr)")
    let mixedReasons = mixedReport["statusReasons"] as? [String] ?? []
    let session = mixedReasons.first { $0.contains("segments of different sessions") }
    #expect(session?.hasPrefix("\(other) is from session '") == true, "\(mixedReasons)")
    #expect(mixed.stderr.components(separatedBy: "segments of different sessions").count == 2, "told once")
}
