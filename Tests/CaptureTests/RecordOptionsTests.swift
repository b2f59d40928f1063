import Capture
import CommandLineSupport
import Foundation
import Testing

@Test(arguments: [
    ("500ms", UInt64(500_000_000)), ("45s", 45_000_000_000), ("30m", 1_800_000_000_000),
    ("1h", 3_600_000_000_000), ("2h30m", 9_000_000_000_000), ("1d", 86_400_000_000_000), ("0", 0),
])
func durationsParse(text: String, nanoseconds: UInt64) {
    #expect(parseDuration(text) == nanoseconds)
}

@Test(arguments: ["", "m", "10", "1x", "-1s", "1.5s", "s10"])
func badDurationsAreRejected(text: String) {
    #expect(parseDuration(text) == nil)
}

@Test(arguments: [("512MB", Int64(512 << 20)), ("1GB", 1 << 30), ("64KB", 64 << 10), ("64k", 64 << 10), ("1000", 1000)])
func sizesParse(text: String, bytes: Int64) {
    #expect(parseSize(text) == bytes)
}

@Test(arguments: ["", "MB", "0", "12TB", "1.5GB"])
func badSizesAreRejected(text: String) {
    #expect(parseSize(text) == nil)
}

@Test func recordDefaultsFollowTheIssue() throws {
    let options = try RecordOptions.parse(["--assets", "1,2", "--out", "tapes"])
    #expect(options.selection == .assets(["1", "2"]))
    #expect(options.rotateSizeBytes == 512 << 20)
    #expect(options.rotateTimeNanoseconds == 3600 * SessionPolicy.second)
    #expect(options.assetsPerConnection == 200)
    #expect(options.url == "wss://ws-subscriptions-clob.polymarket.com/ws/market")
    #expect(options.durationNanoseconds == nil)
    #expect(options.policy == SessionPolicy())
    #expect(options.fetchSideData)
}

@Test func recordOptionsAreAllHonoured() throws {
    let options = try RecordOptions.parse([
        "--markets", "will-a,0xabc", "--out=o", "--rotate-size", "0", "--rotate-time", "10m", "--url",
        "ws://127.0.0.1:9/x",
        "--rest-url", "http://127.0.0.1:8", "--gamma-url", "http://127.0.0.1:7", "--assets-per-connection", "50",
        "--duration", "30m", "--ping-interval", "5s", "--pong-timeout", "15s", "--silence-timeout", "0", "--json",
        "--no-side-data", "--prefix", "live",
    ])
    #expect(options.selection == .markets(["will-a", "0xabc"]))
    #expect(options.outputDirectory == "o")
    #expect(options.rotateSizeBytes == nil)
    #expect(options.rotateTimeNanoseconds == 600 * SessionPolicy.second)
    #expect(options.url == "ws://127.0.0.1:9/x")
    #expect(options.restURL == "http://127.0.0.1:8")
    #expect(options.gammaURL == "http://127.0.0.1:7")
    #expect(options.assetsPerConnection == 50)
    #expect(options.durationNanoseconds == 1800 * SessionPolicy.second)
    #expect(options.policy.pingIntervalNanoseconds == 5 * SessionPolicy.second)
    #expect(options.policy.pongTimeoutNanoseconds == 15 * SessionPolicy.second)
    #expect(options.policy.silenceTimeoutNanoseconds == 0)
    #expect(options.json && !options.fetchSideData)
    #expect(options.segmentPrefix == "live")
    let configuration = options.configuration(assets: ["1"], metadata: [], jitterSeed: 3)
    #expect(configuration.assetsPerConnection == 50)
    #expect(configuration.durationNanoseconds == 1800 * SessionPolicy.second)
}

@Test func assetsFileAllowsCommentsBlankLinesAndCommas() throws {
    let path = NSTemporaryDirectory() + "capture-assets-\(getpid()).txt"
    try "# my assets\n111\n\n222, 333  # trailing comment\n".write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let options = try RecordOptions.parse(["--assets-file", path, "--out", "o"])
    #expect(options.selection == .assets(["111", "222", "333"]))
}

@Test(arguments: [
    (["--out", "o"], "say what to record"),
    (["--top", "3"], "--out DIR is required"),
    (["--top", "3", "--markets", "x", "--out", "o"], "only one of"),
    (["--top", "3", "--out", "o", "--duration", "0"], "--duration must be longer than 0"),
    (["--top", "3", "--out", "o", "--assets-per-connection", "0"], "--assets-per-connection must be a whole number"),
    (["--assets-file", "/nonexistent/file", "--out", "o"], "--assets-file /nonexistent/file: no such file"),
    (["--top", "3", "--out", "o", "--frobnicate"], "unknown option '--frobnicate'"),
])
func recordUsageErrorsSayWhatIsWrong(arguments: [String], message: String) {
    #expect {
        try RecordOptions.parse(arguments)
    } throws: { error in
        (error as? UsageError)?.message.contains(message) == true
    }
}

/// Regression: `--assets-file` with CRLF line ends read all ids as one (with "\r\n" inside), a
/// byte-order mark stayed on the first id, and a binary file gave garbage ids. The file is read
/// by the parser `replay run --assets-file` uses.
@Test func assetsFileTakesCRLFAndAByteOrderMarkAndRefusesBinary() throws {
    let path = NSTemporaryDirectory() + "capture-assets-crlf-\(getpid()).txt"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data([0xEF, 0xBB, 0xBF] + Array("111\r\n222\r\n# c\r\n333\r\n".utf8)).write(to: URL(fileURLWithPath: path))
    let options = try RecordOptions.parse(["--assets-file", path, "--out", "o"])
    #expect(options.selection == .assets(["111", "222", "333"]))

    try Data([0x00, 0xFF, 0x10, 0x0A]).write(to: URL(fileURLWithPath: path))
    #expect {
        try RecordOptions.parse(["--assets-file", path, "--out", "o"])
    } throws: { error in
        (error as? UsageError)?.message
            == "--assets-file \(path) is not a text file: give one asset id per line (# starts a comment)"
    }
}
