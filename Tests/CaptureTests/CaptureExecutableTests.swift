// End-to-end: the built `capture` binary against the in-test exchange and REST server.
// Build first (`swift build`, as tools/test does); these tests run .build/<config>/capture.
import Capture
import Foundation
import Glibc
import Tape
import TestSupport
import Testing

/// A running `capture` process with its output collected into files (no pipe can fill up).
private final class CaptureProcess {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(_ arguments: [String], scratch: String, executable: URL = Repo.executable("capture")) throws {
        stdoutPath = scratch + "/stdout.txt"
        stderrPath = scratch + "/stderr.txt"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    /// Waits up to `seconds` for exit; kills the process if it is still running then.
    func waitForExit(seconds: Double = 20) -> Int32? {
        let exited = eventually(seconds: seconds) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// Runs `capture` to completion and returns (status, stdout, stderr).
private func runCapture(_ arguments: [String]) throws -> (Int32?, String, String) {
    let scratch = temporaryDirectory("exe")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let process = try CaptureProcess(arguments, scratch: scratch)
    let status = process.waitForExit()
    return (status, process.stdout, process.stderr)
}

private let g2Asset = "19132077152294710079876824487679725658489209861892422335113898186089131197703"

/// A REST stand-in answering `/book` for the g2 asset with known side data.
private func restServer() throws -> LoopbackHTTPServer {
    try LoopbackHTTPServer { path in
        guard path == "/book?token_id=\(g2Asset)" else { return (404, #"{"error":"not found"}"#) }
        return (
            200,
            #"{"market":"0xe0a5","asset_id":"\#(g2Asset)","bids":[],"asks":[],"min_order_size":"5","tick_size":"0.01","neg_risk":false}"#
        )
    }
}

private func segmentFiles(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".ndjson.zst") }
        .sorted().map { directory + "/" + $0 }
}

private func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

@Test(arguments: [SIGINT, SIGTERM])
func aStopSignalClosesTheTapeWithAFooterAndPrintsAJSONSummary(signal: Int32) throws {
    let frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
    let exchange = try MockExchange { _ in .init(frames: Array(frames[0..<200])) }
    let rest = try restServer()
    defer {
        exchange.stop()
        rest.stop()
    }
    let scratch = temporaryDirectory("sigint")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let out = scratch + "/tapes"
    let capture = try CaptureProcess(
        [
            "record", "--assets", g2Asset, "--out", out, "--url", exchange.url, "--rest-url", rest.baseURL, "--json",
            "--status",
        ],
        scratch: scratch)
    #expect(eventually { exchange.snapshot.framesSent >= 200 })
    // Frames are on disk within one flush interval; wait until the tape shows all of them.
    #expect(eventually { ((try? ReadBackTape(directory: out))?.frames.count ?? 0) >= 200 })
    #expect(eventually { capture.stderr.contains("frames/s") })  // the status line (forced on)
    kill(capture.process.processIdentifier, signal)
    let status = capture.waitForExit()
    #expect(status == 0, "stderr: \(capture.stderr)")
    let tape = try ReadBackTape(directory: out)
    #expect(tape.frames.map(\.bytes) == Array(frames[0..<200]))
    #expect(tape.report.endedWithFooter)
    #expect(tape.header?.sideData[g2Asset]?.tickSize == "0.01")
    #expect(tape.header?.sideData[g2Asset]?.negRisk == false)
    #expect(tape.events.last?.name == "disconnected")
    #expect(capture.stderr.contains(signal == SIGINT ? "SIGINT" : "SIGTERM"))
    // Connection events are logged on stderr as they are written.
    #expect(capture.stderr.contains("shard 0 conn 1 connected to \(exchange.url)"))
    #expect(capture.stderr.contains("shard 0 conn 1 subscribed to 1 asset(s)"))
    #expect(capture.stderr.contains("shard 0 conn 1 disconnected: capture stopped (close code 1000)"))
    let json = try JSONSerialization.jsonObject(with: Data(capture.stdout.utf8)) as? [String: Any]
    let summary = json?["summary"] as? [String: Any]
    #expect(summary?["ending"] as? String == "stopped")
    #expect((summary?["counters"] as? [String: Any])?["framesWritten"] as? Int == 200)
    #expect((json?["segments"] as? [String])?.count == 1)
    #expect(exchange.snapshot.clientCloseCodes == [1000])
}

@Test func sigkillLeavesAReadableTapeAndARestartOpensANewSegment() throws {
    let frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
    let exchange = try MockExchange { _ in .init(frames: frames, pace: .milliseconds(1), loop: true) }
    defer { exchange.stop() }
    let scratch = temporaryDirectory("sigkill")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let out = scratch + "/tapes"
    let arguments = ["record", "--assets", g2Asset, "--out", out, "--url", exchange.url, "--no-side-data"]
    let first = try CaptureProcess(arguments, scratch: scratch)
    // Let a few flushes reach the disk, then kill without warning.
    #expect(eventually { (segmentFiles(out).first.map(fileSize) ?? 0) > 16 << 10 })
    kill(first.process.processIdentifier, SIGKILL)
    #expect(first.waitForExit() == SIGKILL)
    let killedSegment = try #require(segmentFiles(out).first)
    let killedBytes = try Data(contentsOf: URL(fileURLWithPath: killedSegment))

    let tape = try ReadBackTape(directory: out)
    #expect(tape.frames.count > 100)
    // Everything up to the last flush is there, in order, byte-exact: a prefix of what was served.
    #expect(tape.frames.enumerated().allSatisfy { $0.element.bytes == frames[$0.offset % frames.count] })
    #expect(!tape.report.endedWithFooter)
    #expect(tape.report.tornTails.count == 1)
    #expect(tape.report.tornTails.first?.file.hasSuffix(URL(fileURLWithPath: killedSegment).lastPathComponent) == true)

    // A restart never appends to the torn segment: it opens the next one.
    let second = try CaptureProcess(arguments + ["--duration", "500ms"], scratch: scratch)
    #expect(second.waitForExit() == 0, "stderr: \(second.stderr)")
    let segments = segmentFiles(out)
    #expect(segments.count == 2)
    #expect(segments.first == killedSegment)
    #expect(try Data(contentsOf: URL(fileURLWithPath: killedSegment)) == killedBytes)
    let both = try ReadBackTape(directory: out)
    #expect(both.report.headers == 2)
    #expect(both.report.endedWithFooter)
    #expect(both.frames.count > tape.frames.count)
}

@Test(arguments: [
    [String](), ["record"], ["record", "--top", "5"], ["record", "--assets", "1", "--top", "2", "--out", "x"],
    ["record", "--assets", "1", "--out", "x", "--rotate-size", "huge"],
    ["record", "--assets", "1", "--out", "x", "extra"],
    ["record", "--assets", "1", "--out", "x", "--url", "http://example"], ["markets", "--top", "0"], ["bogus"],
])
func usageErrorsExit64WithAMessage(arguments: [String]) throws {
    let (status, _, stderr) = try runCapture(arguments)
    #expect(status == 64)
    #expect(stderr.contains("Error:") || stderr.contains("Usage: capture"))
}

@Test func helpTeachesWithExamples() throws {
    let (status, stdout, _) = try runCapture(["record", "--help"])
    #expect(status == 0)
    #expect(stdout.contains("Examples:"))
    #expect(stdout.contains("capture record --top 20 --out tapes/"))
    // A loopback example that works without internet, against `replay serve`.
    #expect(stdout.contains("replay serve TAPE --port 8765 &"))
    #expect(
        stdout.contains(
            "capture record --url ws://127.0.0.1:8765/ws/market --no-side-data --assets ID --out tapes/ --duration 1m"))
    let (topStatus, topLevel, _) = try runCapture(["--help"])
    #expect(topStatus == 0)
    #expect(topLevel.contains("record") && topLevel.contains("markets"))
}

/// Regression: help written to a full disk was lost with exit 0.
@Test(arguments: [["--help"], ["record", "--help"], ["--version"]])
func aFailedWriteToStandardOutputIsOneErrorAndExit1(arguments: [String]) throws {
    let script = "exec \"$0\" \"$@\" >/dev/full"
    let scratch = temporaryDirectory("exe")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let process = try CaptureProcess(
        ["-c", script, Repo.executable("capture").path] + arguments, scratch: scratch,
        executable: URL(fileURLWithPath: "/bin/sh"))
    #expect(process.waitForExit() == 1)
    #expect(process.stderr == "Error: cannot write to standard output: No space left on device\n")
}

/// Regression: nothing listening at --url gave "stopped: 0 frames … reconnects 3" and exit 0.
@Test func aRunThatNeverConnectsExitsOneNamingTheURLAndClosesTheTape() throws {
    let scratch = temporaryDirectory("never")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let out = scratch + "/tapes"
    let url = "ws://127.0.0.1:1/ws/market"
    let (status, stdout, stderr) = try runCapture([
        "record", "--assets", "123", "--url", url, "--no-side-data", "--out", out, "--duration", "1500ms", "--json",
        "--status",
    ])
    #expect(status == 1, "stderr: \(stderr)")
    let lastLine = stderr.split(separator: "\n").last.map(String.init) ?? ""
    #expect(lastLine.hasPrefix("Error: never connected to \(url): "), "stderr: \(stderr)")
    #expect(
        lastLine.hasSuffix("attempts); check --url and the network")
            || lastLine.hasSuffix("attempt); check --url and the network"))
    #expect(lastLine.lowercased().contains("refused"), "\(lastLine)")
    #expect(stderr.contains("connects 0, reconnects 0, connect attempts failed "))
    // The status line shows failed attempts apart from reconnects.
    #expect(stderr.contains("reconnects 0 · connect attempts failed "), "stderr: \(stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
    let summary = json?["summary"] as? [String: Any]
    let counters = summary?["counters"] as? [String: Any]
    #expect(summary?["ending"] as? String == "failed")
    #expect((counters?["connectAttemptsFailed"] as? Int ?? 0) >= 1)
    #expect(counters?["reconnects"] as? Int == 0)
    // The segment is still closed with a footer.
    let tape = try ReadBackTape(directory: out)
    #expect(tape.report.endedWithFooter)
    #expect(tape.frames.isEmpty)
}

@Test func marketsListsTheGammaAnswer() throws {
    let gamma = try LoopbackHTTPServer { _ in
        (
            200,
            #"[{"conditionId":"0xaa","slug":"will-a","question":"A?","clobTokenIds":"[\"111\", \"112\"]","volume24hr":10}]"#
        )
    }
    defer { gamma.stop() }
    let (status, stdout, _) = try runCapture(["markets", "--top", "1", "--gamma-url", gamma.baseURL, "--ids"])
    #expect(status == 0)
    #expect(stdout == "111,112\n")
    let (_, table, _) = try runCapture(["markets", "--top", "1", "--gamma-url", gamma.baseURL])
    #expect(table.contains("will-a") && table.contains("0xaa"))
}

@Test func anUnreachableRestAPIIsARuntimeFailure() throws {
    let (status, _, stderr) = try runCapture([
        "record", "--top", "3", "--out", NSTemporaryDirectory() + "never-written", "--gamma-url", "http://127.0.0.1:1",
    ])
    #expect(status == 1)
    #expect(stderr.contains("127.0.0.1:1"))
}

@Test func aSecondSignalForcesTheExitAfterClosingTheTape() throws {
    let frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
    // The exchange stops reading after its frames, so the clean close handshake hangs.
    let exchange = try MockExchange { _ in .init(frames: Array(frames[0..<50]), fault: .stopReading) }
    defer { exchange.stop() }
    let scratch = temporaryDirectory("force")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let out = scratch + "/tapes"
    let capture = try CaptureProcess(
        ["record", "--assets", g2Asset, "--out", out, "--url", exchange.url, "--no-side-data"], scratch: scratch)
    #expect(eventually { ((try? ReadBackTape(directory: out))?.frames.count ?? 0) >= 50 })
    kill(capture.process.processIdentifier, SIGINT)
    #expect(eventually { capture.stderr.contains("closing connections") })
    kill(capture.process.processIdentifier, SIGINT)
    let status = capture.waitForExit()
    #expect(status == 130, "stderr: \(capture.stderr)")
    #expect(capture.stderr.contains("SIGINT again"))
    let tape = try ReadBackTape(directory: out)
    #expect(tape.frames.map(\.bytes) == Array(frames[0..<50]))
    #expect(tape.report.endedWithFooter)
}

@Test func anUnwritableOutputFolderIsARuntimeFailure() throws {
    let (status, _, stderr) = try runCapture([
        "record", "--assets", "1", "--out", "/proc/polytape-cannot-write-here", "--no-side-data", "--url",
        "ws://127.0.0.1:1/ws/market",
    ])
    #expect(status == 1)
    #expect(stderr.contains("/proc/polytape-cannot-write-here"))
}
