import CommandLineSupport
import Foundation
import TestSupport
import Testing

/// Regression (newcomer review): bad tape lines and frames that fail to parse were listed in two
/// groups (114, 115, 118, 116, 117), not in tape order.
@Test func malformedLinesAreListedInTapeOrder() throws {
    let scratch = try ScratchDirectory()
    let cat = try ReplayBinary.run(["tape", "cat", "--envelope", ReplayBinary.bundledTape])
    #expect(cat.status == ExitStatus.success, "stderr: \(cat.stderr)")
    var lines = cat.stdoutText.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(#"{"kind":"footer""#) }
    let last = try #require(lines.last { $0.hasPrefix(#"{"kind":"frame""#) })
    let recv = try #require(last.range(of: #""recv_ns":"#).map { last[$0.upperBound...].prefix { $0.isNumber } })
    let badFrame = #"{"kind":"frame","recv_ns":\#(recv),"mono_ns":1,"conn":0,"seq":99999,"text":"{not json"}"#
    lines += ["this is not a tape line", badFrame, "neither is this"]
    let path = scratch.path("bad.ndjson")
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let run = try ReplayBinary.run(["run", path, "--workers", "1", "--json", "--quiet"])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    let input = try #require(run.json?["input"] as? [String: Any])
    let listed = try #require(input["malformedLines"] as? [[String: Any]]).compactMap { $0["line"] as? Int }
    let count = lines.count
    #expect(listed == [count - 2, count - 1, count], "listed \(listed)")
}

/// Regression (newcomer review): `--stall-timeout 1 --heartbeat 5` was accepted silently, then a
/// stopped worker was reported after 3.4 s "for 3.4 s" with no limit named.
@Test func aStallTimeoutBelowThreeHeartbeatsIsExplained() throws {
    let run = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "1", "--quiet", "--stall-timeout", "1", "--heartbeat", "5",
    ])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    #expect(run.stderr.contains("a silent worker is reported after 15 s"), "stderr: \(run.stderr)")
    let quiet = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "1", "--quiet", "--stall-timeout", "20", "--heartbeat", "5",
    ])
    #expect(!quiet.stderr.contains("note: --stall-timeout"), "stderr: \(quiet.stderr)")
}

/// Regression (newcomer review): the text report printed windows in raw nanoseconds and called
/// G3 entries "price_change" messages (tape info counts messages).
@Test func theTextReportShowsWindowsAsInstantsAndNamesEntries() throws {
    let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "1", "--to", "1790267400000"])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    #expect(run.stdoutText.contains("window start → 2026-09-24T16:30:00.000Z (receive clock)"), "\(run.stdoutText)")
    #expect(run.stdoutText.contains("price_change entries "), "\(run.stdoutText)")
}

/// Regression (newcomer review): empty standard input was told to "delete it".
@Test func emptyStandardInputSaysWhatToDo() throws {
    let scratch = try ScratchDirectory()
    let empty = scratch.path("empty")
    try Data().write(to: URL(fileURLWithPath: empty))
    let run = try ReplayBinary.run(["run", "-", "--quiet"], stdin: URL(fileURLWithPath: empty))
    #expect(run.status == ExitStatus.failure)
    #expect(run.stderr.contains("standard input was empty"), "\(run.stderr)")
    #expect(!run.stderr.contains("delete it"), "\(run.stderr)")
}
