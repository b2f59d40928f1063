import Foundation
import Testing
import Verify

@Suite struct GoldenTests {
    /// Regression: a bless through a symlink replaced the link with a regular file, and a JUnit
    /// file given as /dev/full became a regular file (as root) with "NSCocoaErrorDomain error 512".
    @Test func goldenAndJUnitWritesFollowSymlinksAndReportDeviceErrors() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let link = directory.appendingPathComponent("golden.json").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "kept/real.golden.json")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("kept"), withIntermediateDirectories: false)
        try Golden.make(from: Samples.report()).write(to: link, overwrite: true)
        let kind = try FileManager.default.attributesOfItem(atPath: link)[.type] as? FileAttributeType
        #expect(kind == .typeSymbolicLink)
        _ = try Golden.load(directory.appendingPathComponent("kept/real.golden.json").path)
        let result = Verifier.check(report: Samples.report(), targets: Targets())
        #expect(throws: VerifyError.writeFailed(path: "/dev/full", reason: "No space left on device")) {
            try GoldenWorkflow.writeJUnit(result, to: "/dev/full")
        }
    }

    @Test func goldenRoundTripThroughAFileVerifiesAsPass() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("golden.json").path
        let report = Samples.report()
        try Golden.make(from: report).write(to: path, overwrite: false)
        let loaded = try Golden.load(path)
        #expect(loaded == Golden.make(from: report))
        let result = Verifier.compare(report: report, golden: loaded)
        #expect(result.passed)
        #expect(result.differences.isEmpty)
        #expect(result.mode == .perWorker)
        #expect(result.comparedWorkers == 2)
        #expect(result.comparedBooks == 3)
    }

    @Test func writingTheSameGoldenTwiceGivesIdenticalBytes() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("first.json").path
        let second = directory.appendingPathComponent("second.json").path
        try Golden.make(from: Samples.report()).write(to: first, overwrite: false)
        // Rebuild the report with dictionaries filled in the opposite order: bytes must not change.
        var report = Samples.report()
        report.assetDigests = Dictionary(uniqueKeysWithValues: report.assetDigests.sorted { $0.key > $1.key })
        try Golden.make(from: report).write(to: second, overwrite: false)
        let firstBytes = try Data(contentsOf: URL(fileURLWithPath: first))
        #expect(firstBytes == (try Data(contentsOf: URL(fileURLWithPath: second))))
        #expect(firstBytes.last == 0x0A)
    }

    @Test func goldenKeysAreSortedAndPrettyPrinted() throws {
        let text = String(decoding: try Golden.make(from: Samples.report()).jsonData(), as: UTF8.self)
        let topLevelKeys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map {
            String($0.dropFirst(3).prefix { $0 != "\"" })
        }
        #expect(topLevelKeys == ["assetDigests", "exchangeHash", "format", "input", "options", "tape", "workers"])
        #expect(text.contains("\"format\" : \"polytape-golden/1\""))
        // Timing and the pacing speed never reach a golden: they are not deterministic.
        for volatile in ["latency", "memoryBytes", "throughput", "pid", "speed", "avgProcessingMicros"] {
            #expect(!text.contains("\"\(volatile)\""), "golden must not record \(volatile)")
        }
        // Only the file name is kept, not the machine's directory.
        #expect(text.contains("\"session-0001.ndjson.zst\""))
        #expect(!text.contains("/data/tapes"))
    }

    @Test func goldenBooksAreSortedByAssetWhateverTheReportOrder() {
        var report = Samples.report()
        report.workers[0].books.reverse()
        let books = Golden.make(from: report).workers[0].books.map(\.assetID)
        #expect(books == books.sorted())
    }

    @Test func writingOverAnExistingGoldenWithoutBlessIsRefused() throws {
        let directory = try Samples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("golden.json").path
        let golden = Golden.make(from: Samples.report())
        try golden.write(to: path, overwrite: false)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var changed = Samples.report()
        changed.workers[0].books[0].digest = "ffff"
        let error = #expect(throws: VerifyError.self) {
            try Golden.make(from: changed).write(to: path, overwrite: false)
        }
        #expect(error == .goldenExists(path: path))
        #expect(error?.description.contains("--bless") == true)
        #expect(error?.description.contains(path) == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)

        try Golden.make(from: changed).write(to: path, overwrite: true)
        #expect(try Golden.load(path).workers[0].books.contains { $0.digest == "ffff" })
    }

    @Test func reportJSONRoundTripsAndIsStable() throws {
        let report = Samples.report()
        let data = try report.jsonData()
        let decoded = try RunReport.decode(from: data, source: "run.json")
        #expect(decoded == report)
        #expect(try decoded.jsonData() == data)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"schema\" : \"polytape-report/1\""))
        #expect(text.contains("\"exit\" : \"normal\""))
    }

    @Test(arguments: [
        (RunReport.WorkerExit.normal, "normal"), (.signal(9), "signal 9"), (.status(2), "status 2"),
    ])
    func workerExitIsEncodedAsReadableText(exit: RunReport.WorkerExit, text: String) throws {
        var report = Samples.report()
        report.workers[0].exit = exit
        let encoded = String(decoding: try report.jsonData(), as: UTF8.self)
        #expect(encoded.contains("\"exit\" : \"\(text)\""))
        #expect(try RunReport.decode(from: report.jsonData()).workers[0].exit == exit)
    }

    @Test func reportWithAMissingFieldNamesTheFileAndTheField() throws {
        var object = try JSONSerialization.jsonObject(with: Samples.report().jsonData()) as! [String: Any]
        var workers = object["workers"] as! [[String: Any]]
        workers[1].removeValue(forKey: "messagesProcessed")
        object["workers"] = workers
        let data = try JSONSerialization.data(withJSONObject: object)
        let error = #expect(throws: VerifyError.self) { try RunReport.decode(from: data, source: "runs/r.json") }
        let message = error?.description ?? ""
        #expect(message.contains("runs/r.json"))
        #expect(message.contains("missing field 'messagesProcessed' in workers[1]"))
    }

    @Test func aGoldenGivenAsAReportIsAWrongFormatNotAListOfMissingFields() throws {
        let golden = try Golden.make(from: Samples.report()).jsonData()
        let error = #expect(throws: VerifyError.self) { try RunReport.decode(from: golden, source: "g.json") }
        #expect(error?.description.contains("g.json is not a run report") == true)
        // Regression: said "found '(no schema field)'" with no word of a swap.
        #expect(
            error?.description.contains(
                "found 'polytape-golden/1 (a golden file, not a run report: are REPORT and GOLDEN swapped?)'")
                == true, "\(error?.description ?? "")")
        let report = try Samples.report().jsonData()
        let reverse = #expect(throws: VerifyError.self) { try Golden.decode(from: report, source: "r.json") }
        #expect(reverse?.description.contains("a run report, not a golden") == true)
    }

    @Test func notJSONAndMissingFilesAreClearErrors() throws {
        let error = #expect(throws: VerifyError.self) {
            try Golden.decode(from: Data("{\"format\":".utf8), source: "broken.json")
        }
        #expect(error?.description == "broken.json is not a valid golden file: not valid JSON")
        // Regression: Foundation's "The operation could not be completed…" leaked into these.
        for (bytes, reason) in [
            (Data(), "the file is empty"), (Data([0x00, 0x01, 0xFF, 0x02]), "binary data, not JSON"),
            (Data(#"{"kind":"header","format":"polytape/1"}"#.utf8 + [0x0A, 0x7B]), "an NDJSON tape, not a JSON file"),
        ] {
            let bad = #expect(throws: VerifyError.self) { try Golden.decode(from: bytes, source: "x") }
            #expect(bad?.description == "x is not a valid golden file: \(reason)")
        }
        var report = try Samples.report().jsonData()
        report = Data(
            String(decoding: report, as: UTF8.self).replacingOccurrences(
                of: #""status" : "ok""#, with: #""status" : "bogus""#
            ).utf8)
        let bogus = #expect(throws: VerifyError.self) { try RunReport.decode(from: report, source: "r.json") }
        #expect(bogus?.description == "r.json is not a valid run report: status has an unknown value 'bogus'")
        let missing = #expect(throws: VerifyError.self) { try Golden.load("/nonexistent/dir/golden.json") }
        #expect(missing?.description.contains("/nonexistent/dir/golden.json") == true)
        #expect(missing?.description.contains("no such file") == true)
    }

    @Test func goldenRecordsLevelsOnlyWhenAsked() throws {
        var report = Samples.report()
        report.workers[0].books[0].levels = RunReport.BookLevels(
            bids: [RunReport.Level(price: "0.52", size: "100")], asks: [RunReport.Level(price: "0.53", size: "40")])
        #expect(Golden.make(from: report).workers[0].books.allSatisfy { $0.levels == nil })
        let withLevels = Golden.make(from: report, recordLevels: true)
        #expect(withLevels.workers[0].books.contains { $0.levels?.bids.first?.size == "100" })
    }
}
