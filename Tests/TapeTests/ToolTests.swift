import Foundation
import TestSupport
import Testing

@testable import Tape

@Suite struct ToolTests {
    static func synth(_ folder: TemporaryFolder, name: String, seed: UInt64 = 3) throws -> (String, SynthReport) {
        var options = SynthOptions()
        options.assets = 12
        options.durationNs = 5_000_000_000
        options.messagesPerSecond = 400
        options.seed = seed
        let path = folder.file(name)
        var writerOptions = TapeWriterOptions(destination: .file(path, overwrite: true))
        writerOptions.flushIntervalNs = Int64.max / 2
        let header = TapeSynthesizer.header(for: options)
        let writer = try TapeWriter(options: writerOptions, header: header, nowWallNs: header.createdNs, nowMonoNs: 0)
        return (path, try TapeSynthesizer.generate(options, into: writer))
    }

    @Test func synthIsDeterministicPerSeed() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (first, report) = try Self.synth(folder, name: "a.ndjson.zst")
        let (second, _) = try Self.synth(folder, name: "b.ndjson.zst")
        let (other, _) = try Self.synth(folder, name: "c.ndjson.zst", seed: 4)
        let bytes = { (path: String) in FileManager.default.contents(atPath: path) }
        #expect(bytes(first) == bytes(second))
        #expect(bytes(first) != bytes(other))
        #expect(report.assets.count == 12)
        #expect(report.frames > 1500)
    }

    /// Structural realism: mirrored entries, top of book never crossed, both tick sizes,
    /// books with tens of levels, sizes with at most 2 decimals.
    @Test func synthFramesLookLikeTheRealFeed() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (path, report) = try Self.synth(folder, name: "s.ndjson.zst")
        var types: [String: Int] = [:]
        var ticks = Set<String>()
        var levelCounts: [Int] = []
        var checkedEntries = 0
        let reader = try TapeReader(path: path)
        var bodies: [[UInt8]] = []
        try reader.forEachFrame { bodies.append(Array($0.bytes)) }
        for body in bodies {
            let object = try JSONSerialization.jsonObject(with: Data(body))
            let events = (object as? [[String: Any]]) ?? [object as? [String: Any] ?? [:]]
            for event in events {
                let type = event["event_type"] as? String ?? ""
                types[type, default: 0] += 1
                if type == "book" {
                    ticks.insert(event["tick_size"] as? String ?? "")
                    let bids = event["bids"] as? [[String: String]] ?? []
                    levelCounts.append(bids.count)
                    for level in bids {
                        let size = level["size"] ?? ""
                        #expect((size.split(separator: ".").dropFirst().first?.count ?? 0) <= 2)
                    }
                }
                if type == "price_change" {
                    let entries = event["price_changes"] as? [[String: String]] ?? []
                    #expect(entries.count == 2)
                    guard entries.count == 2 else { continue }
                    // Mirrored: BUY p on one token is SELL 1-p on the other, same size.
                    #expect(entries[0]["side"] != entries[1]["side"])
                    #expect(entries[0]["size"] == entries[1]["size"])
                    let p0 = Decimal(string: entries[0]["price"] ?? "") ?? 0
                    let p1 = Decimal(string: entries[1]["price"] ?? "") ?? 0
                    #expect(p0 + p1 == 1)
                    for entry in entries {
                        let bid = Decimal(string: entry["best_bid"] ?? "") ?? -1
                        let ask = Decimal(string: entry["best_ask"] ?? "") ?? -1
                        #expect(bid < ask)
                        checkedEntries += 1
                    }
                }
            }
        }
        #expect(types["book"] ?? 0 >= 12)
        #expect(types["price_change"] ?? 0 > 1000)
        #expect(types["last_trade_price"] ?? 0 > 50)
        #expect(ticks.isSuperset(of: ["0.01", "0.001"]))
        // Tens of levels a side, as in real books (edge prices near 0 or 1 have fewer).
        #expect(levelCounts.allSatisfy { $0 <= 60 })
        #expect(levelCounts.sorted()[levelCounts.count / 2] >= 10)
        #expect(checkedEntries == report.priceChangeEntries)
    }

    @Test func sliceByAssetKeepsOnlyFramesThatTouchIt() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let tape = Repo.fixture("tapes/nslaughter-stream-no-replay.ndjson.zst").path
        let asset = "55404192439775628931124671719520886657525387168536821457706619003199189099864"
        let output = folder.file("slice.ndjson.zst")
        let report = try TapeSlicer.slice(inputs: [tape], output: output, assets: [asset], fromNs: nil, toNs: nil)
        let (frames, read, header) = try readFrames([output], strict: true)
        #expect(frames.count == report.framesWritten)
        #expect(frames.allSatisfy { String(decoding: $0.bytes, as: UTF8.self).contains(asset) })
        #expect(frames.count < 25)
        #expect(header?.assets == [asset])
        #expect(read.endedWithFooter)
    }

    /// Regression: a slice for an asset id that is not on the tape wrote an empty tape without a word.
    @Test func anEmptySliceIsWarnedAbout() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
        let output = folder.file("empty.ndjson.zst")
        let (status, out, err) = try runReplay(["tape", "slice", tape, "--asset", "999", "-o", output])
        #expect(status == 0, "\(err)")
        #expect(out.contains("0 of 110 frames"), "\(out)")
        #expect(err.contains("warning: the slice holds no frame: --asset/--from/--to selected nothing"), "\(err)")
        let (_, _, clean) = try runReplay([
            "tape", "slice", tape, "--asset",
            "18054759644013870900749170809345467324611742242067616964612696305379357034954", "-o", output,
        ])
        #expect(!clean.contains("holds no frame"), "\(clean)")
    }

    @Test func sliceByTimeKeepsTheBooksTheWindowNeedsAsWarmup() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
        let (all, _, _) = try readFrames([tape])
        let from = all[60].recvWallNs
        let to = all[90].recvWallNs
        let output = folder.file("window.ndjson.zst")
        let report = try TapeSlicer.slice(inputs: [tape], output: output, assets: nil, fromNs: from, toNs: to)
        let reader = try TapeReader(path: output)
        var warm = 0
        var inWindow = 0
        var firstIsBookDump = false
        try reader.forEachFrame { frame in
            if warm == 0 && inWindow == 0 {
                firstIsBookDump = String(decoding: frame.bytes, as: UTF8.self).contains(#""event_type":"book""#)
            }
            if frame.warmup {
                warm += 1
                #expect(frame.recvWallNs < from)
            } else {
                inWindow += 1
                #expect(frame.recvWallNs >= from && frame.recvWallNs <= to)
            }
        }
        // The only books are in the opening dump (frame 1), so every earlier frame is warm-up.
        #expect(firstIsBookDump)
        #expect(warm == all.filter { $0.recvWallNs < from }.count)
        #expect(inWindow == all.filter { $0.recvWallNs >= from && $0.recvWallNs <= to }.count)
        #expect(report.warmupFrames == warm)
    }

    @Test func repairOfACleanTapeKeepsEveryFrame() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let tape = Repo.fixture("tapes/nslaughter-stream-no-replay.ndjson.zst").path
        let output = folder.file("r.ndjson.zst")
        let report = try TapeRepairer.repair(inputs: [tape], output: output)
        #expect(report.read.tornTails.isEmpty)
        let (before, _, _) = try readFrames([tape])
        let (after, read, _) = try readFrames([output], strict: true)
        #expect(before == after)
        #expect(read.events == 9)
    }

    @Test(arguments: [
        "tapes/g3-enrico-2026-09.ndjson.zst", "tapes/g2-aaimek-2025-01.ndjson.zst",
        "tapes/nslaughter-stream-no-replay.ndjson.zst", "tapes/nslaughter-settled-mixed.ndjson.zst",
        "tapes/go-comment-2025-12-23.ndjson.zst",
    ])
    func catPrintsOneJSONValuePerFrame(_ tape: String) throws {
        let (status, out, err) = try runReplay(["tape", "cat", Repo.fixture(tape).path])
        #expect(status == 0)
        #expect(err.isEmpty)
        let lines = out.split(separator: "\n")
        let (frames, _, _) = try readFrames([Repo.fixture(tape).path])
        #expect(lines.count == frames.count)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])) != nil)
        }
    }

    @Test func catFiltersByAssetAndTime() throws {
        let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
        let (all, _, _) = try readFrames([tape])
        let fromMs = all[100].recvWallNs / 1_000_000
        let (status, out, _) = try runReplay(["tape", "cat", tape, "--from", String(fromMs)])
        #expect(status == 0)
        #expect(out.split(separator: "\n").count == all.filter { $0.recvWallNs >= fromMs * 1_000_000 }.count)
        let (_, envelope, _) = try runReplay(["tape", "cat", tape, "--envelope", "--to", "2000-01-01T00:00:00Z"])
        // Header, connection event and footer only.
        #expect(envelope.split(separator: "\n").count == 3)
    }

    @Test(arguments: [
        ("2026-09-24T16:29:39.153Z", Int64(1_790_267_379_153_000_000)),
        ("2026-09-24T16:29:39Z", Int64(1_790_267_379_000_000_000)),
        ("1790267379153", Int64(1_790_267_379_153_000_000)),
        ("2024-02-29T00:00:00+00:00", Int64(1_709_164_800_000_000_000)),
    ])
    func timeParsing(_ text: String, _ expected: Int64) {
        #expect(TapeFormat.parseTime(text) == expected)
        if text.hasSuffix("Z"), text.contains(".") {
            #expect(TapeFormat.iso8601(wallNs: expected) == text)
        }
    }

    @Test(arguments: [
        ("2026-09-24", Int64(1_790_208_000_000_000_000)),
        ("2026-09-24T16:29", Int64(1_790_267_340_000_000_000)),
        ("2026-09-24 16:29:39", Int64(1_790_267_379_000_000_000)),
        ("2026-09-24T18:29:39.153+02:00", Int64(1_790_267_379_153_000_000)),
        ("2026-09-24T11:29:39-0500", Int64(1_790_267_379_000_000_000)),
        ("2026-09-24T17:29:39+01", Int64(1_790_267_379_000_000_000)),
    ])
    func datesAndOffsetsAreParsed(_ text: String, _ expected: Int64) {
        #expect(TapeFormat.parseInstant(text) == .instant(expected))
    }

    /// Regression: `tape cat`/`slice` read `+25:00` as UTC, and `2026-09-24T99:99` as a time of
    /// the next days; `replay run` refused a date that the tape commands took.
    @Test(arguments: [
        "2026-09-24T10:30:00+25:00", "2026-09-24T25:00:00Z", "2026-09-24T10:60Z", "2026-02-30",
        "2026-09-24T10:30:00Zjunk",
        "2026-09-24T10:30:00.Z", "2026-09-24T10:30:00+2", "2026-9-24",
    ])
    func malformedTimesAreRefusedTheSameWayEverywhere(_ text: String) throws {
        #expect(TapeFormat.parseInstant(text) == .invalid)
        let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
        let expected = "--from must be epoch milliseconds or ISO-8601 like 2026-09-24T10:30:00Z"
        for words in [["tape", "cat", tape], ["tape", "slice", tape, "-o", "/dev/null"], ["run", tape]] {
            let (status, _, err) = try runReplay(words + ["--from", text])
            #expect(status == 64, "\(words): \(err)")
            #expect(err.contains(expected) && err.contains("not '\(text)'"), "\(words): \(err)")
        }
    }

    /// Regression: `tape cat --from 99999999999999` trapped on the ms → ns multiplication.
    @Test(arguments: ["99999999999999", "-99999999999999", "9999-01-01T00:00:00Z", "2263-01-01T00:00:00Z"])
    func timesBeyondEpochNanosecondsAreRefusedNotTrapped(_ text: String) throws {
        #expect(TapeFormat.parseTime(text) == nil)
        let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
        let (status, _, err) = try runReplay(["tape", "cat", tape, "--from", text])
        #expect(status == 64)
        #expect(err.contains("--from '\(text)' is out of range: times must lie between 1677 and 2262"), "\(err)")
    }

    @Test func segmentNamesSortInTimeOrder() {
        let early = TapeFormat.segmentName(prefix: "cap", wallNs: 1_790_267_379_153_000_000, sequence: 12)
        let late = TapeFormat.segmentName(prefix: "cap", wallNs: 1_790_267_380_001_000_000, sequence: 3)
        #expect(early == "cap-20260924T162939.153-000012.ndjson.zst")
        #expect(early < late)
    }
}

@Suite struct SummaryTests {
    @Test func infoCountsEventsWithTheFeedParserOnRealTapes() throws {
        let enrico = try TapeSummary.compute(paths: [Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path])
        #expect(enrico.feed.books == 28)
        #expect(enrico.feed.priceChanges == 102)  // 51 G3 messages, mirrored YES/NO entries
        #expect(enrico.feed.bestBidAsks == 58)
        #expect(enrico.feed.errors == 0)
        #expect(enrico.eventTypes == ["book": 28, "price_change": 51, "best_bid_ask": 58])
        #expect(enrico.assetsSeen.count == 28)
        #expect(enrico.firstRecvNs == 1_790_267_379_153_000_000)
        #expect(enrico.lastRecvNs == 1_790_267_439_826_000_000)
        // The corpus README counts 6,129 level changes in the G2 file.
        let g2 = try TapeSummary.compute(paths: [Repo.fixture("tapes/g2-aaimek-2025-01.ndjson.zst").path])
        #expect(g2.feed.priceChanges == 6129)
        #expect(g2.read.frames == 3829)
        #expect(g2.firstExchangeMs == 1_737_825_347_925)
        #expect(g2.lastExchangeMs == 1_738_269_628_044)
        // Keepalives are text frames, not parse errors; its three connections were each closed by
        // the recorder with code 1000: clean closes, not gaps.
        let ns = try TapeSummary.compute(paths: [Repo.fixture("tapes/nslaughter-stream-no-replay.ndjson.zst").path])
        #expect(ns.textFrames == ["PONG": 9])
        #expect(ns.feed.books == 6)
        #expect(ns.feed.errors == 0)
        #expect(ns.gaps == 0)
        #expect(ns.cleanCloses == 3)
        #expect(ns.connections == [0, 1, 2])
    }

    /// Regression: info counted a gap and a disconnection for each lost connection ("gaps: 6"
    /// for 3), a capture stopped with close code 1000 as a gap, and conn 0 (failed attempts and
    /// `reconnecting`, no connection) as a connection. What `capture record` writes for one
    /// dropped connection, a queue overflow and a clean stop.
    @Test func infoCountsEachBreakOnceAndACleanStopAsNoGap() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("capture.ndjson.zst")
        let writer = try TapeWriter(
            options: TapeWriterOptions(destination: .file(path, overwrite: true)), header: testHeader(),
            nowWallNs: 1, nowMonoNs: 1)
        let frame = Array(#"{"event_type":"book","asset_id":"1","bids":[],"asks":[]}"#.utf8)
        var clock: Int64 = 10
        func event(_ kind: TapeEventKind, _ conn: UInt32, _ detail: TapeEventDetail = TapeEventDetail()) throws {
            clock += 1
            try writer.writeEvent(kind, conn: conn, recvWallNs: clock, monoNs: clock, detail: detail)
        }
        try event(.connected, 1)
        try writer.writeFrame(frame, recvWallNs: 20, monoNs: 20, conn: 1)
        try event(.disconnected, 1, TapeEventDetail(reason: "server ended the stream without a close frame"))
        try event(.gap, 1, TapeEventDetail(reason: "connection lost: EOF"))
        try event(.disconnected, 0, TapeEventDetail(error: "connection refused", attempt: 1))
        try event(.reconnecting, 0, TapeEventDetail(attempt: 2, delayMs: 1000))
        try event(.connected, 2)
        try event(.gap, 2, TapeEventDetail(reason: "writer queue full: 3 frame(s) dropped"))
        try writer.writeFrame(frame, recvWallNs: 40, monoNs: 40, conn: 2)
        try event(.disconnected, 2, TapeEventDetail(closeCode: 1000, reason: "capture stopped"))
        try writer.close()
        let summary = try TapeSummary.compute(paths: [path])
        #expect(summary.gaps == 2)
        #expect(summary.cleanCloses == 1)
        #expect(summary.connections == [1, 2])
    }
}

/// Regression (newcomer review): `tape cat` took `--from` later than `--to` (0 lines, exit 0),
/// `cat`/`slice` refused `+02:00` offsets that `replay run` takes, and they knew only `--asset`.
@Suite struct TapeToolConsistencyTests {
    let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path

    @Test func catRefusesAnEmptyWindow() throws {
        let (status, _, err) = try runReplay(["tape", "cat", tape, "--from", "2000", "--to", "1000"])
        #expect(status == 64)
        #expect(err.contains("--from is after --to (2000 > 1000)"), "\(err)")
    }

    /// Regression: `tape slice` said only "--from is after --to"; it now says what `run` and
    /// `cat` say, with the usage line and exit 64.
    @Test func sliceRefusesAnEmptyWindowLikeRun() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("slice.ndjson.zst")
        let (status, _, err) = try runReplay(["tape", "slice", tape, "--from", "2000", "--to", "1000", "-o", output])
        #expect(status == 64)
        #expect(err.hasPrefix("Error: --from is after --to (2000 > 1000): the window would be empty\n"), "\(err)")
        #expect(err.contains("Usage: replay tape slice"), "\(err)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    /// Regression: `--assets ""` named no asset and was taken as no filter (cat printed every
    /// frame; slice with --from wrote every asset). Like `replay run --assets ""`, a usage error.
    @Test(arguments: [["--assets", ""], ["--asset", ""], ["--assets", " , "]])
    func anAssetOptionWithoutAnIdIsAUsageError(_ option: [String]) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("slice.ndjson.zst")
        let message =
            "Error: --asset/--assets named no asset id; give ids (--asset ID, repeated, or --assets ID,ID) "
            + "or leave the option out to keep every asset\n"
        var (status, out, err) = try runReplay(["tape", "cat", tape] + option)
        #expect(status == 64)
        #expect(out.isEmpty)
        #expect(err.hasPrefix(message), "\(err)")
        #expect(err.contains("Usage: replay tape cat"), "\(err)")
        (status, _, err) = try runReplay(["tape", "slice", tape, "--from", "1000", "-o", output] + option)
        #expect(status == 64)
        #expect(err.hasPrefix(message), "\(err)")
        #expect(err.contains("Usage: replay tape slice"), "\(err)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func offsetsMeanTheSameInstant() throws {
        let (_, utc, _) = try runReplay(["tape", "cat", tape, "--to", "2026-09-24T16:29:45Z"])
        let (status, offset, err) = try runReplay(["tape", "cat", tape, "--to", "2026-09-24T18:29:45+02:00"])
        #expect(status == 0, "\(err)")
        #expect(!utc.isEmpty && offset == utc)
    }

    @Test func assetsListWorksLikeRepeatedAsset() throws {
        let (_, all, _) = try runReplay(["tape", "cat", tape])
        let ids = Set(
            all.split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: #""asset_id":""#) else { return nil }
                return String(line[range.upperBound...].prefix { $0 != "\"" })
            })
        let two = Array(ids.sorted().prefix(2))
        #expect(two.count == 2)
        let (_, repeated, _) = try runReplay(["tape", "cat", tape, "--asset", two[0], "--asset", two[1]])
        let (status, listed, err) = try runReplay(["tape", "cat", tape, "--assets", two.joined(separator: ",")])
        #expect(status == 0, "\(err)")
        #expect(!repeated.isEmpty && listed == repeated)
    }
}
