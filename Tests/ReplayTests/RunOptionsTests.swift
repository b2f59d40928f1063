import CommandLineSupport
import Foundation
import Testing

@testable import ReplayKit

@Test func defaultsAreMaxSpeedBlockingMd5() throws {
    let options = try RunOptions.parse(["tape.ndjson.zst"])
    #expect(options.tapes == ["tape.ndjson.zst"])
    #expect(options.speed == .max)
    #expect(options.routing == "md5")
    #expect(options.backpressure == "block")
    #expect(options.workers >= 1 && options.workers <= 4)
    #expect(options.verifyExchangeHash)
}

@Test func everyOptionParses() throws {
    let options = try RunOptions.parse([
        "a.zst", "b.zst", "--workers", "2", "--speed=10x", "--from", "1790267379153", "--to",
        "2026-09-24T16:30:39Z", "--assets", "1,2", "--assets", "3", "--routing", "jump", "--backpressure", "drop",
        "--json", "--quiet", "--report", "r.json", "--dump-books", "b.json", "--golden", "g.json", "--junit", "j.xml",
        "--check-invariance", "--exchange-hash", "off", "--time-basis", "exchange",
    ])
    #expect(options.tapes == ["a.zst", "b.zst"])
    #expect(options.workers == 2)
    #expect(options.speed == .factor(10))
    #expect(options.fromNs == 1_790_267_379_153_000_000)
    #expect(options.toNs == 1_790_267_439_000_000_000)
    #expect(options.assets == ["1", "2", "3"])
    #expect(options.routing == "jump")
    #expect(options.backpressure == "drop")
    #expect(options.json && options.quiet && options.checkInvariance)
    #expect(!options.verifyExchangeHash)
    #expect(options.timeBasis == .exchange)
    #expect(options.goldenPath == "g.json")
}

@Test(arguments: [
    (["--workers", "0"], "--workers must be a whole number from 1 to 64, not '0'"),
    (["--speed", "fast"], "--speed must be max, 1x, 10x or a factor from 0.001x to 1000000x like 2.5x, not 'fast'"),
    (
        ["--speed", "1e308x"],
        "--speed must be max, 1x, 10x or a factor from 0.001x to 1000000x like 2.5x, not '1e308x'"
    ),
    (
        ["--speed", "1e-300x"],
        "--speed must be max, 1x, 10x or a factor from 0.001x to 1000000x like 2.5x, not '1e-300x'"
    ),
    (["--routing", "crc"], "--routing must be one of md5, jump, not 'crc'"),
    // Regression: read standard input once, then failed "standard input was empty" on the second run.
    (
        ["-", "--check-invariance"],
        "--check-invariance replays the tape twice, so it cannot read standard input; name a tape file"
    ),
    (
        ["--from", "yesterday"],
        "--from must be epoch milliseconds or ISO-8601 like 2026-09-24T10:30:00Z, 2026-09-24T12:30+02:00 or 2026-09-24, "
            + "not 'yesterday'"
    ),
    (["--golden", "a", "--write-golden", "b"], "--golden verifies and --write-golden records; use one of them"),
    (["--bless"], "--bless only goes with --write-golden FILE"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["--junit", "j.xml"], "--junit FILE reports a verification: give --golden FILE or --targets FILE too"),
    (["--workers"], "--workers needs a value"),
    // Regression (newcomer review): `--assets --quiet` took "--quiet" as the asset list.
    (["--assets", "--quiet"], "--assets needs a value (found the option --quiet instead)"),
    (["--report", "--json"], "--report needs a value (found the option --json instead)"),
])
func badOptionsAreUsageErrorsThatSayWhatToDo(words: [String], message: String) {
    #expect(throws: UsageError.self) { try RunOptions.parse(words) }
    do {
        _ = try RunOptions.parse(words)
    } catch let error as UsageError {
        #expect(error.message == message)
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

/// A value that only starts with "-" is still a value.
@Test func negativeValuesAreValuesNotOptions() throws {
    let options = try RunOptions.parse(["--to", "-5"])
    #expect(options.toNs == -5_000_000)
}

@Test func isoInstantsWithFractionsAndOffsets() throws {
    #expect(try RunOptions.parseInstant("2026-09-24T16:29:39.153Z", option: "from") == 1_790_267_379_153_000_000)
    #expect(try RunOptions.parseInstant("2026-09-24T18:29:39.153+02:00", option: "from") == 1_790_267_379_153_000_000)
    #expect(try RunOptions.parseInstant("2026-09-24T16:29:39", option: "from") == 1_790_267_379_000_000_000)
}

/// Regression: a bad --report/--dump-books path was only noticed after the whole replay, and
/// the report was lost with it (found on a fresh clone).
@Test func outputFoldersAreCheckedBeforeTheRunStarts() throws {
    var options = try RunOptions.parse(["tape.ndjson.zst", "--dump-books", "/nonexistent/dir/books.json"])
    #expect(throws: CommandError.self) { try options.checkOutputPaths() }
    do {
        try options.checkOutputPaths()
    } catch let error as CommandError {
        #expect(error.message.contains("the folder /nonexistent/dir does not exist"))
    }
    options = try RunOptions.parse(["tape.ndjson.zst", "--report", NSTemporaryDirectory() + "/report.json"])
    try options.checkOutputPaths()
    // Regression: a directory was only refused after the replay ("NSCocoaErrorDomain error 512").
    for (option, example) in [("--report", "report.json"), ("--junit", "junit.xml"), ("--dump-books", "books.json")] {
        options = try RunOptions.parse(["tape.ndjson.zst", option, "/tmp", "--targets", "t.json"])
        do {
            try options.checkOutputPaths()
            Issue.record("\(option) /tmp was accepted")
        } catch let error as CommandError {
            #expect(error.message == "\(option) /tmp is a directory; give a file name like /tmp/\(example)")
        }
    }
    // A device is written in place: only its own permission matters, not its folder's.
    options = try RunOptions.parse(["tape.ndjson.zst", "--report", "/dev/null"])
    try options.checkOutputPaths()
}
