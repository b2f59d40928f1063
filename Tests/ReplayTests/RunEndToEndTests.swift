// `replay run` end to end: the built binary as a subprocess on the bundled real tape, every
// bundled tape, damaged tapes, the golden workflow, pacing, bad usage and a worker killed
// mid-run. Every wait is bounded; timing is only checked as a lower bound where pacing must
// slow the run down.
import CommandLineSupport
import Foundation
import FoundationXML
import Glibc
import ReplayKit
import TestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(5)))
struct RunEndToEndTests {
    typealias R = ReplayBinary

    // MARK: 1. The bundled tape

    @Test func noArgumentsReplaysTheBundledTapeAndVerifiesItsGolden() throws {
        let run = try R.run(["run"])
        #expect(!run.timedOut)
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let workers = RunOptions.defaultWorkerCount
        #expect(run.stderr.contains("with \(workers) worker(s)"), "stderr: \(run.stderr)")
        let recorded = Repo.fixture("golden/g3-enrico-2026-09.w\(workers).golden.json")
        let golden = FileManager.default.fileExists(atPath: recorded.path) ? "w\(workers)" : "w1"
        let pass = run.stdoutText.split(separator: "\n").first { $0.hasPrefix("PASS") }
        #expect(pass?.contains("g3-enrico-2026-09.\(golden).golden.json") == true, "stdout: \(run.stdoutText)")
    }

    /// Regression: with no golden recorded for the worker count (the default count follows the
    /// machine's cores, up to 4; goldens exist for 1 and 2), `replay run` silently verified nothing.
    @Test func noTapeWithAWorkerCountWithoutGoldenStillVerifies() throws {
        let run = try R.run(["run", "--workers", "3"])
        #expect(run.status == ExitStatus.success, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        let pass = run.stdoutText.split(separator: "\n").first { $0.hasPrefix("PASS") }
        #expect(pass?.contains("g3-enrico-2026-09.w1.golden.json") == true, "stdout: \(run.stdoutText)")
        #expect(run.stdoutText.contains("worker count differs"), "stdout: \(run.stdoutText)")
    }

    @Test(arguments: [1, 2])
    func bundledTapePassesItsGoldenWithNWorkers(workers: Int) throws {
        let golden = workers == 1 ? R.goldenW1 : R.goldenW2
        let run = try R.run(["run", R.bundledTape, "--workers", "\(workers)", "--golden", golden])
        #expect(run.status == ExitStatus.success, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        #expect(run.stdoutText.contains("PASS"))
        #expect(!run.stdoutText.contains("FAIL"))
    }

    @Test func bundledTapeJSONReportHasTheRecordedTotals() throws {
        let run = try R.run(["run", R.bundledTape, "--workers", "2", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json, "stdout is not one JSON object: \(run.stdoutText.prefix(400))")
        #expect(report.string("schema") == "polytape-report/1")
        #expect(report.string("status") == "ok")
        let input = report.object("input")
        #expect(input.int("frames") == 110)
        #expect(report.object("tape").int("frameCount") == 110)
        #expect(input.intMap("messagesByType") == ["book": 28, "price_change": 102, "best_bid_ask": 58])
        #expect(input.int("malformedLineCount") == 0)
        #expect(input.array("tornTails").isEmpty)
        let hash = report.object("exchangeHash")
        #expect((hash.int("verified") ?? 0) + (hash.int("verifiedLate") ?? 0) == 130)
        #expect(hash.int("diverged") == 0)
        #expect(hash["firstDivergence"] == nil)
        let workers = report.array("workers")
        #expect(workers.map { $0.int("index") } == [0, 1])
        #expect(workers.allSatisfy { $0.string("exit") == "normal" })
        let processed = workers.reduce(0) { $0 + ($1.int("messagesProcessed") ?? 0) }
        let routed = try #require(report.intMap("router")["routed"], "no router.routed counter")
        #expect(processed == routed)
        #expect(processed > 0)
        // Every asset's book is reported once, by the worker that owns it.
        let books = workers.flatMap { $0.array("books") }.compactMap { $0.string("assetID") }
        #expect(Set(books).count == books.count)
        #expect(Set(books) == Set(report.stringMap("assetDigests").keys))
        #expect(books.count == 28)
        #expect(report["pacing"] == nil)
    }

    @Test func reportFileEqualsTheJSONOnStandardOutput() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path("run.json")
        let run = try R.run(["run", R.bundledTape, "--workers", "1", "--json", "--report", path])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let file = try #require(
            (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))) as? [String: Any])
        let printed = try #require(run.json)
        #expect(file.stringMap("assetDigests") == printed.stringMap("assetDigests"))
        #expect(file.object("tape").string("contentDigest") == printed.object("tape").string("contentDigest"))
        #expect(file.object("input").int("frames") == 110)
    }

    // MARK: 2. Every bundled tape

    static let bundledTapes: [String] = {
        let directory = Repo.fixture("tapes")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".ndjson.zst") }.sorted()
    }()

    @Test func everyCorpusCaptureHasABundledTape() {
        // Fixtures/tapes/README.md lists five imports; a missing one would silently shrink the test below.
        #expect(Self.bundledTapes.count >= 5, "\(Self.bundledTapes)")
    }

    @Test(arguments: bundledTapes)
    func everyBundledTapeReplaysAndCountsTheFramesTapeInfoCounts(name: String) throws {
        let path = Repo.fixture("tapes/\(name)").path
        let info = try R.run(["tape", "info", path, "--json"])
        #expect(info.status == ExitStatus.success, "tape info: \(info.stderr)")
        let infoFrames = try #require(info.json?.int("frames"), "tape info --json gave no frames: \(info.stdoutText)")
        let run = try R.run(["run", path, "--workers", "2", "--json"])
        #expect(!run.timedOut)
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json, "no JSON report: \(run.stdoutText.prefix(300)) \(run.stderr)")
        #expect(report.object("input").int("frames") == infoFrames)
        #expect(report.object("tape").int("frameCount") == infoFrames)
        #expect(report.string("status") != "failed")
        #expect(report.array("workers").allSatisfy { $0.string("exit") == "normal" })
    }

    // MARK: 3. Torn tail and malformed lines

    /// The bundled tape's lines without the footer (a torn tape has none).
    static func linesWithoutFooter() throws -> [[UInt8]] {
        var lines = try tapeLines(R.bundledTape)
        if let last = lines.last, lineObject(last)?["kind"] as? String == "footer" { lines.removeLast() }
        return lines
    }

    static let malformedLine = Array(#"{"kind":"frame","recv_ns":17902673 this is not JSON"#.utf8)

    /// A damaged tape: every line but the last frame, then a malformed line, then the first half
    /// of the last frame line (no newline). Returns the damaged and the clean-prefix tape.
    static func damagedTapes(in scratch: ScratchDirectory) throws -> (plain: String, zst: String, prefix: String) {
        let lines = try linesWithoutFooter()
        let good = Array(lines.dropLast())
        let last = lines[lines.count - 1]
        let half = Array(last.prefix(last.count / 2))
        let prefix = try scratch.writeLines(good, to: "prefix.ndjson")
        let plain = try scratch.writeLines(good + [malformedLine], to: "damaged.ndjson", trailing: half)
        // .zst: one complete frame with the good lines and the malformed one, then a second
        // frame holding the last line, cut in the middle of its block.
        var content: [UInt8] = []
        for line in good + [malformedLine] {
            content += line
            content.append(0x0A)
        }
        let second = rawZstdFrame(last + [0x0A])
        let zstBytes = rawZstdFrame(content) + second.prefix(second.count / 2)
        let zst = scratch.path("damaged.ndjson.zst")
        try Data(zstBytes).write(to: URL(fileURLWithPath: zst))
        return (plain, zst, prefix)
    }

    @Test(arguments: ["plain", "zst"])
    func tornTailAndMalformedLineAreReportedAndTheGoodPartIsIntact(kind: String) throws {
        let scratch = try ScratchDirectory()
        let tapes = try Self.damagedTapes(in: scratch)
        let damaged = kind == "plain" ? tapes.plain : tapes.zst
        let goodLineCount = try Self.linesWithoutFooter().count - 1
        let malformedLineNumber = goodLineCount + 1

        let run = try R.run(["run", damaged, "--workers", "2", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json, "no JSON report: \(run.stderr)")
        #expect(report.string("status") == "warnings")
        let input = report.object("input")
        #expect(input.int("frames") == 109)
        #expect(input.int("malformedLineCount") == 1)
        let malformed = input.array("malformedLines")
        #expect(malformed.count == 1)
        #expect(
            malformed.first?.string("file").map { $0.hasSuffix(URL(fileURLWithPath: damaged).lastPathComponent) }
                == true)
        #expect(malformed.first?.int("line") == malformedLineNumber)
        let torn = input.array("tornTails")
        #expect(torn.count == 1)
        #expect(
            torn.first?.string("file").map { $0.hasSuffix(URL(fileURLWithPath: damaged).lastPathComponent) } == true)
        #expect(torn.first?.int("lastGoodLine") == malformedLineNumber)
        #expect((torn.first?.int("droppedBytes") ?? 0) > 0)
        #expect(
            torn.first?.int("droppedBytes")
                == (torn.first?.int("droppedLineBytes") ?? -1) + (torn.first?.int("droppedCompressedBytes") ?? -1))

        let clean = try R.run(["run", tapes.prefix, "--workers", "2", "--json"])
        #expect(clean.status == ExitStatus.success, "stderr: \(clean.stderr)")
        let cleanReport = try #require(clean.json)
        #expect(cleanReport.object("input").int("frames") == 109)
        let digests = report.stringMap("assetDigests")
        #expect(digests.count == 28)
        #expect(digests == cleanReport.stringMap("assetDigests"))
        #expect(report.object("exchangeHash").int("diverged") == 0)
    }

    /// Regression: a corrupt zstd frame in the middle of a tape ended the replay there and was
    /// reported as a torn tail with 0 undecodable bytes. The run reads on from the next frame and
    /// reports corrupt data with its offset and the bytes skipped.
    @Test func corruptFrameInTheMiddleIsSkippedAndReportedAsCorruptData() throws {
        let scratch = try ScratchDirectory()
        let lines = try Self.linesWithoutFooter()
        func block(_ part: ArraySlice<[UInt8]>) -> [UInt8] { part.flatMap { $0 + [0x0A] } }
        let third = lines.count / 3
        let first = rawZstdFrame(block(lines[..<third]))
        var middle = rawZstdFrame(block(lines[third..<(2 * third)]))
        middle[4] = 0xFF  // a frame descriptor with its reserved bit set: the decoder refuses it
        let last = rawZstdFrame(block(lines[(2 * third)...]))
        let path = scratch.path("corrupt-middle.ndjson.zst")
        try Data(first + middle + last).write(to: URL(fileURLWithPath: path))
        let kept = (lines[..<third] + lines[(2 * third)...]).filter { lineObject($0)?["kind"] as? String == "frame" }

        let run = try R.run(["run", path, "--workers", "2", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json, "no JSON report: \(run.stderr)")
        #expect(report.string("status") == "warnings")
        let input = report.object("input")
        #expect(input.int("frames") == kept.count)
        let torn = input.array("tornTails")
        #expect(torn.count == 1)
        #expect(torn.first?.int("corruptAt") == first.count)
        #expect(torn.first?.int("resumedAt") == first.count + middle.count)
        #expect(torn.first?.int("droppedCompressedBytes") == middle.count)
        #expect(torn.first?.int("lastGoodLine") == third)
        // The first reason names the damage (the lost frames then make some books diverge).
        #expect(
            (report["statusReasons"] as? [String])?.first
                == "corrupt data in \(path) at compressed byte \(first.count) (after line \(third))")

        let text = try R.run(["run", path, "--workers", "2"])
        #expect(
            text.stdoutText.contains(
                "corrupt data: \(path) at compressed byte \(first.count) after line \(third): skipped \(middle.count) "
                    + "compressed bytes, resumed at byte \(first.count + middle.count)"), "\(text.stdoutText)")
        #expect(!text.stdoutText.contains("torn tail"))
    }

    @Test(arguments: ["plain", "zst"])
    func strictModeStopsAtTheFirstDamageNamingFileAndLine(kind: String) throws {
        let scratch = try ScratchDirectory()
        let tapes = try Self.damagedTapes(in: scratch)
        let damaged = kind == "plain" ? tapes.plain : tapes.zst
        let malformedLineNumber = try Self.linesWithoutFooter().count
        let run = try R.run(["run", damaged, "--workers", "2", "--strict"])
        #expect(run.status == TapeExitStatus.damaged, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        let file = URL(fileURLWithPath: damaged).lastPathComponent
        #expect(run.stderr.contains("\(file):\(malformedLineNumber)"), "stderr: \(run.stderr)")
    }

    // MARK: 4. Golden workflow

    @Test func writtenGoldenVerifiesAndIsNotOverwrittenWithoutBless() throws {
        let scratch = try ScratchDirectory()
        let golden = scratch.path("tape.golden.json")
        let write = try R.run(["run", R.bundledTape, "--workers", "2", "--write-golden", golden, "--quiet"])
        #expect(write.status == ExitStatus.success, "stderr: \(write.stderr)")
        #expect(FileManager.default.fileExists(atPath: golden))
        let original = try Data(contentsOf: URL(fileURLWithPath: golden))

        let verify = try R.run(["run", R.bundledTape, "--workers", "2", "--golden", golden])
        #expect(verify.status == ExitStatus.success, "stdout: \(verify.stdoutText)")
        #expect(verify.stdoutText.contains("PASS"))

        let again = try R.run(["run", R.bundledTape, "--workers", "2", "--write-golden", golden, "--quiet"])
        #expect(again.status == ExitStatus.failure)
        #expect((again.stderr + again.stdoutText).contains("--bless"), "stderr: \(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: golden)) == original)

        let bless = try R.run(["run", R.bundledTape, "--workers", "2", "--write-golden", golden, "--bless", "--quiet"])
        #expect(bless.status == ExitStatus.success, "stderr: \(bless.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: golden)) == original)
    }

    @Test func tamperedGoldenFailsNamingWorkerAndAssetAndWritesJUnit() throws {
        let scratch = try ScratchDirectory()
        var golden = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: R.goldenW2))) as? [String: Any]
        )
        var workers = golden.array("workers")
        let workerIndex = try #require(workers.firstIndex { !$0.array("books").isEmpty })
        var books = workers[workerIndex].array("books")
        let asset = try #require(books[0].string("assetID"))
        let digest = try #require(books[0].string("digest"))
        books[0]["digest"] = String(digest.reversed())
        workers[workerIndex]["books"] = books
        golden["workers"] = workers
        let tampered = scratch.path("tampered.golden.json")
        try JSONSerialization.data(withJSONObject: golden, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: tampered))
        let junit = scratch.path("verify.xml")

        let run = try R.run(["run", R.bundledTape, "--workers", "2", "--golden", tampered, "--junit", junit, "--quiet"])
        #expect(run.status == ExitStatus.verificationFailed, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        let workerNumber = workers[workerIndex].int("index") ?? workerIndex
        #expect(run.stdoutText.contains("FAIL"))
        #expect(run.stdoutText.contains("worker \(workerNumber)"), "stdout: \(run.stdoutText)")
        #expect(run.stdoutText.contains(asset), "stdout: \(run.stdoutText)")
        #expect(run.stdoutText.contains("digest"))
        // Only the tampered book differs.
        let named = Set(assetIDs(in: run.stdoutText))
        #expect(named == [asset], "assets named: \(named)")

        let xml = try Data(contentsOf: URL(fileURLWithPath: junit))
        let parsed = JUnitScan(xml)
        #expect(parsed.wellFormed, "JUnit XML does not parse: \(parsed.error ?? "")")
        #expect(parsed.elements.contains("testsuite"))
        #expect(parsed.failures >= 1)
        #expect(String(decoding: xml, as: UTF8.self).contains(asset))
    }

    // MARK: 7. Pacing

    @Test func pacedReplayTakesTheRecordedTimeOverTheSpeedAndReportsLateness() throws {
        let run = try R.run(
            ["run", R.bundledTape, "--workers", "2", "--speed", "20x", "--json"], timeout: .seconds(60))
        #expect(!run.timedOut)
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        // 61 s recorded at 20x is 3.05 s; the last frame cannot be released sooner.
        #expect(run.wallSeconds >= 2.7, "took \(run.wallSeconds) s")
        let report = try #require(run.json)
        let pacing = report.object("pacing")
        #expect(pacing["p50"] != nil && pacing["p99"] != nil && pacing["max"] != nil, "pacing: \(pacing)")
        #expect(report.object("options").string("speed") == "20x")

        let fast = try R.run(
            ["run", R.bundledTape, "--workers", "2", "--speed", "max", "--json"], timeout: .seconds(60))
        #expect(fast.status == ExitStatus.success)
        #expect(try #require(fast.json)["pacing"] == nil)
        // Pacing never changes results.
        #expect(try #require(fast.json).stringMap("assetDigests") == report.stringMap("assetDigests"))
    }

    // MARK: 8. Bad usage and bad input

    @Test func unknownOptionIsAUsageError() throws {
        let run = try R.run(["run", R.bundledTape, "--no-such-option"])
        #expect(run.status == ExitStatus.usage)
        #expect(run.stderr.contains("no-such-option"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("Usage") || run.stderr.contains("usage"), "stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func badSpeedIsAUsageError() throws {
        let run = try R.run(["run", R.bundledTape, "--speed", "fast"])
        #expect(run.status == ExitStatus.usage)
        #expect(run.stderr.contains("fast"), "stderr: \(run.stderr)")
    }

    @Test func missingTapeNamesTheFile() throws {
        let run = try R.run(["run", "/nonexistent/missing-tape.ndjson.zst"])
        #expect(run.status == ExitStatus.failure)
        #expect(run.stderr.contains("/nonexistent/missing-tape.ndjson.zst"), "stderr: \(run.stderr)")
    }

    @Test func aFileThatIsNotATapeIsAClearFailure() throws {
        let readme = Repo.root.appendingPathComponent("README.md").path
        let run = try R.run(["run", readme, "--workers", "2"])
        #expect(!run.timedOut)
        #expect(run.status == ExitStatus.failure, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        #expect(run.stderr.contains("README.md"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("not a tape") || run.stderr.contains("header"), "stderr: \(run.stderr)")
    }

    @Test func anEmptyFileIsAClearFailure() throws {
        let scratch = try ScratchDirectory()
        let empty = try scratch.writeLines([], to: "empty.ndjson.zst")
        let run = try R.run(["run", empty, "--workers", "2"])
        #expect(!run.timedOut)
        #expect(run.status == ExitStatus.failure, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        #expect(run.stderr.contains("empty.ndjson.zst"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("empty"), "stderr: \(run.stderr)")
    }

    /// Regression: a file of blank lines was replayed as an empty tape (exit 0) instead of being
    /// refused as not a tape.
    @Test(arguments: ["blank.ndjson", "blank.ndjson.zst"])
    func aFileOfBlankLinesIsNotATape(name: String) throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path(name)
        let blank = [UInt8]("\n\n\r\n".utf8)
        try Data(name.hasSuffix(".zst") ? rawZstdFrame(blank) : blank).write(to: URL(fileURLWithPath: path))
        let run = try R.run(["run", path, "--workers", "1", "--json"])
        #expect(run.status == ExitStatus.failure, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        #expect(run.stderr.contains("\(name): not a PolyTape tape"), "stderr: \(run.stderr)")
        // Refused before the run starts, like a missing file: no report of a run that never ran
        // (regression: `--json` printed a `failed` report of 0 frames, 0 books and two idle workers).
        #expect(run.stdout.isEmpty, "stdout: \(run.stdoutText)")
    }

    /// Regression: a segment cut inside its zstd frame header reported "-1 bytes dropped".
    @Test func aSegmentCutInsideItsZstdHeaderDropsItsBytes() throws {
        let scratch = try ScratchDirectory()
        let stub = scratch.path("b.ndjson.zst")
        try Data([0x28, 0xB5, 0x2F, 0xFD, 0x00]).write(to: URL(fileURLWithPath: stub))
        let run = try R.run(["run", R.bundledTape, stub, "--workers", "1", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        #expect(report.object("input").int("frames") == 110)
        let torn = report.object("input").array("tornTails")
        #expect(torn.count == 1)
        #expect(torn.first?.string("file") == stub)
        #expect(torn.first?.int("droppedBytes") == 5)
        #expect(torn.first?.int("lastGoodLine") == 0)
        // Regression (newcomer review): text and compressed bytes are reported apart, not summed.
        #expect(torn.first?.int("droppedLineBytes") == 0)
        #expect(torn.first?.int("droppedCompressedBytes") == 5)
    }

    @Test func standardInputFromAPipeIsATape() throws {
        let script = "cat '\(R.bundledTape)' | '\(R.executable.path)' run - --workers 2 --json"
        let run = try R.runExecutable(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        #expect(report.object("input").int("frames") == 110)
        #expect(report.object("input").intMap("messagesByType")["book"] == 28)
    }

    // MARK: 9. A dead worker

    /// Starts `replay run TAPE --workers 2 --speed 1x`, SIGKILLs worker 1 as soon as both
    /// workers exist, and returns the run with the killed worker and all worker pids.
    func runKillingAWorker(tape: String, extra: [String] = []) throws -> (
        run: ReplayInvocation, victim: (pid: pid_t, index: Int)?, workers: [pid_t]
    ) {
        var victim: (pid: pid_t, index: Int)?
        var workerPIDs: [pid_t] = []
        let run = try R.run(["run", tape, "--workers", "2", "--speed", "1x"] + extra, timeout: .seconds(90)) {
            process in
            let workers = waitForWorkerProcesses(of: process.processIdentifier, count: 2)
            if workers.count == 2 { workerPIDs = workers }
            guard let pid = workerPIDs.first(where: { workerIndex(pid: $0) == 1 }) else { return }
            victim = (pid, 1)
            kill(pid, SIGKILL)
        }
        return (run, victim, workerPIDs)
    }

    func expectNamedDeathAndNoLeftovers(
        _ run: ReplayInvocation, _ victim: (pid: pid_t, index: Int)?, _ workers: [pid_t]
    ) throws {
        let killed = try #require(victim, "no worker processes found under replay run")
        #expect(!run.timedOut, "replay run did not end after its worker was killed")
        #expect(run.status == ExitStatus.failure, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        #expect(run.stderr.contains("Error: worker \(killed.index) (pid \(killed.pid))"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("signal 9") || run.stderr.contains("SIGKILL"), "stderr: \(run.stderr)")
        // The death is told once, not again as its own cause.
        #expect(!run.stderr.contains("Cause: worker"), "stderr: \(run.stderr)")
        expectAllGone(workers)
    }

    @Test func aKilledWorkerFailsTheRunNamingItAndLeavesNoProcesses() throws {
        let scratch = try ScratchDirectory()
        let tape = try scratch.synthTape("synth.ndjson.zst", assets: 20, duration: "20s", rate: "200", seed: 3)
        let report = scratch.path("report.json")
        let (run, victim, workers) = try runKillingAWorker(tape: tape, extra: ["--json", "--report", report])
        try expectNamedDeathAndNoLeftovers(run, victim, workers)
        // The run stopped replaying instead of playing the remaining 20 s of recorded data.
        #expect(run.stderr.contains("the run is incomplete"), "stderr: \(run.stderr)")
        #expect(run.wallSeconds < 20, "took \(run.wallSeconds) s")
        // Regression (newcomer review): a failed run left no JSON at all; scripts get the report
        // of what was replayed, marked failed, on stdout and in --report.
        #expect(run.json?["status"] as? String == "failed", "stdout: \(run.stdoutText)")
        let written = try #require(FileManager.default.contents(atPath: report), "no --report written")
        let object = try JSONSerialization.jsonObject(with: written) as? [String: Any]
        #expect(object?["status"] as? String == "failed")
    }

    /// Regression: the pipeline looked for dead workers only every 1024 frames, so on a quiet
    /// tape at recorded speed a killed worker went unnoticed and the run went on replaying the
    /// whole tape (30 s here; hours on a long recording) before failing.
    @Test func aKilledWorkerIsNoticedAtTheNextFrameOfAQuietPacedTape() throws {
        let scratch = try ScratchDirectory()
        let tape = try scratch.synthTape("quiet.ndjson.zst", assets: 2, duration: "30s", rate: "5", seed: 3)
        let (run, victim, workers) = try runKillingAWorker(tape: tape)
        try expectNamedDeathAndNoLeftovers(run, victim, workers)
        // Stopped while replaying (the message names the line), not after playing all of it.
        #expect(run.stderr.contains("the run is incomplete"), "stderr: \(run.stderr)")
        #expect(run.wallSeconds < 20, "took \(run.wallSeconds) s for 30 s of recorded data")
    }

    // MARK: Run status

    /// Regression: books left untrusted by a disconnect did not make the status `warnings`,
    /// although REPORT_FORMAT.md lists them among the warnings.
    /// A gap in the middle of a tape with no later snapshot leaves the books untrusted at the
    /// end, which makes the verdict `warnings` and names the gap's line.
    @Test func untrustedBooksMakeTheStatusWarnings() throws {
        let tape = try G3Tape()
        var lines = tape.lines
        // After the header, the connected event and the opening books: a gap on connection 0.
        let gap = #"{"kind":"event","event":"gap","recv_ns":1790267380000000000,"mono_ns":1,"conn":0}"#
        lines.insert(Array(gap.utf8), at: 3)
        let scratch = try ScratchDirectory()
        let path = try scratch.writeLines(lines, to: "gap.ndjson")
        let run = try R.run(["run", path, "--workers", "1", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        let untrusted = report.array("untrustedBooks")
        #expect(untrusted.count == 28)
        #expect(untrusted.allSatisfy { $0.string("reason") == "connection 0 gap at line 4" })
        #expect(report.string("status") == "warnings")
    }

    /// Books that only ever had header side data (here: every asset outside --assets) are not
    /// broken books: a filtered run of a clean tape stays `ok`.
    @Test func filteredRunOfACleanTapeIsOK() throws {
        let asset = "18054759644013870900749170809345467324611742242067616964612696305379357034954"
        let run = try R.run(["run", R.bundledTape, "--workers", "2", "--assets", asset, "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        #expect(report.string("status") == "ok", "untrusted: \(report.array("untrustedBooks").prefix(2))")
        let books = report.array("workers").flatMap { $0.array("books") }
        #expect(books.first { $0.string("assetID") == asset }?["trusted"] as? Bool == true)
    }
}

/// The worker index of a `replay __worker` process, from its command line (nil for others).
func workerIndex(pid: pid_t) -> Int? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
    let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    guard words.contains("__worker") else { return nil }
    for (position, word) in words.enumerated() {
        if (word == "--index" || word == "--worker") && position + 1 < words.count { return Int(words[position + 1]) }
        if word.hasPrefix("--index=") { return Int(word.dropFirst(8)) }
    }
    return -1
}

/// Token ids (long decimal numbers) mentioned in a text, in order.
func assetIDs(in text: String) -> [String] {
    var result: [String] = []
    var current = ""
    for character in text {
        if character.isASCII && character.isNumber {
            current.append(character)
        } else {
            if current.count >= 60 { result.append(current) }
            current = ""
        }
    }
    if current.count >= 60 { result.append(current) }
    return result
}

/// Parses XML with FoundationXML's XMLParser and collects element names and failures.
final class JUnitScan: NSObject, XMLParserDelegate {
    var elements: Set<String> = []
    var failures = 0
    var wellFormed = false
    var error: String?

    init(_ data: Data) {
        super.init()
        let parser = XMLParser(data: data)
        parser.delegate = self
        wellFormed = parser.parse()
        if !wellFormed { error = parser.parserError.map { "\($0)" } }
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        elements.insert(elementName)
        if elementName == "failure" { failures += 1 }
    }
}
