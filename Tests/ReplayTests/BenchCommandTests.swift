// `replay bench` as users run it: the built binary on the bundled real tape, its JSON report,
// its SVG chart, and its usage errors.
import CommandLineSupport
import Foundation
import FoundationXML
import TestSupport
import Testing

@testable import ReplayKit

/// Runs the built `replay` with `arguments`; stdout and stderr go through files so neither pipe can fill.
private func runBenchBinary(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("stdout")
    let errURL = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = Repo.executable("replay")
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    let out = try Data(contentsOf: outURL)
    let err = String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
    return (process.terminationStatus, out, err)
}

/// Collects the element names and `class` attributes of an SVG document.
private final class SVGCollector: NSObject, XMLParserDelegate {
    var root: String?
    var elements: [(name: String, className: String?)] = []

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if root == nil { root = elementName }
        elements.append((elementName, attributes["class"]))
    }
}

@Test func benchOnTheBundledTapeWritesAValidJSONReportAndSVGChart() throws {
    let tape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
    let chart = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).svg")
    let html = chart.deletingPathExtension().appendingPathExtension("html")
    defer {
        try? FileManager.default.removeItem(at: chart)
        try? FileManager.default.removeItem(at: html)
    }
    let result = try runBenchBinary([
        "bench", tape, "--workers", "1,2", "--repeat", "1", "--json", "--chart", chart.path, "--html", html.path,
    ])
    #expect(result.status == 0, "stderr: \(result.stderr)")

    let report = try JSONDecoder().decode(BenchReport.self, from: result.stdout)
    #expect(report.schema == "polytape-bench/1")
    #expect(report.rows.map(\.workers) == [1, 2])
    #expect(report.options.workers == [1, 2])
    #expect(report.options.repeats == 1)
    #expect(report.options.speed == "max")
    #expect(report.machine.cores >= 1)
    #expect(!report.machine.cpuModel.isEmpty)
    #expect(report.machine.memoryBytes > 0)
    #expect(report.tape.contentDigest.count == 16 && report.tape.digestAlgorithm == "xxh64")
    #expect(report.tape.name == "g3-enrico-2026-09.ndjson.zst")
    #expect(report.tape.messages > 0)
    #expect(ISO8601DateFormatter().date(from: report.date) != nil)
    for row in report.rows {
        #expect(row.runs == 1)
        #expect(row.messagesPerSecond.median > 0)
        #expect(row.messagesPerSecond.min == row.messagesPerSecond.max)
        #expect(row.megabytesPerSecond.median > 0)
        #expect(row.bookUpdatesPerSecond.median > 0)
        #expect(row.balance.messagesPerWorker.count == row.workers)
        #expect(row.memory.workerResidentBytes.count == row.workers)
        #expect((row.memory.routerPeakBytes ?? 0) > 0)
        #expect(row.latenessMicros == nil)  // max speed: no schedule to be late against
        #expect(BenchBottleneck.allCases.map(\.rawValue).contains(row.bottleneck))
        #expect(row.stages.wallSeconds > 0)
    }
    // Every message is applied by exactly one worker, whatever the worker count.
    #expect(
        report.rows[0].balance.messagesPerWorker.reduce(0, +) == report.rows[1].balance.messagesPerWorker.reduce(0, +))

    let svgData = try Data(contentsOf: chart)
    let parser = XMLParser(data: svgData)
    let collector = SVGCollector()
    parser.delegate = collector
    #expect(parser.parse(), "the SVG is not well-formed XML: \(String(describing: parser.parserError))")
    #expect(collector.root == "svg")
    let points = collector.elements.filter { $0.name == "circle" && $0.className == "point" }.count
    let expected = report.rows.count + report.rows.filter { $0.latencyMicros != nil }.count
    #expect(points == expected)
    #expect(collector.elements.filter { $0.className == "errorbar" }.count == expected)
    let svgText = String(decoding: svgData, as: UTF8.self)
    #expect(svgText.contains("g3-enrico-2026-09.ndjson.zst"))
    #expect(svgText.contains("worker processes"))

    let page = try String(contentsOf: html, encoding: .utf8)
    #expect(page.hasPrefix("<!DOCTYPE html>"))
    #expect(page.contains("<svg"))
}

@Test(arguments: [
    ["--workers", "0,2"],
    ["--workers", "2,2"],
    ["--workers", "1,x"],
    ["--workers", ""],
    ["--repeat", "0"],
    ["--speed", "fast"],
    ["--exchange-hash", "maybe"],
    ["-"],
])
func benchUsageErrorsExit64(_ arguments: [String]) throws {
    let result = try runBenchBinary(["bench"] + arguments)
    #expect(result.status == 64)
    #expect(result.stderr.hasPrefix("Error: "))
    #expect(result.stderr.contains("Usage: replay bench"))
    #expect(result.stdout.isEmpty)
}

@Test func benchHelpTeachesWithExamples() throws {
    let result = try runBenchBinary(["bench", "--help"])
    #expect(result.status == 0)
    let text = String(decoding: result.stdout, as: UTF8.self)
    #expect(text.contains("Examples:"))
    #expect(text.contains("--chart FILE.svg"))
    #expect(text.contains("replay bench"))
}

@Test func benchOptionsParse() throws {
    let options = try BenchOptions.parse([
        "t.zst", "--workers", "1,2,4,8", "--speed", "10x", "--repeat", "5", "--json", "--chart", "c.svg", "--html",
        "p.html", "--exchange-hash", "off", "--routing", "jump", "--report", "r.json",
    ])
    #expect(options.tapes == ["t.zst"])
    #expect(options.workerCounts == [1, 2, 4, 8])
    #expect(options.speed == .factor(10))
    #expect(options.repeats == 5)
    #expect(options.json)
    #expect(options.chartPath == "c.svg")
    #expect(options.htmlPath == "p.html")
    #expect(options.reportPath == "r.json")
    #expect(!options.verifyExchangeHash)
    #expect(options.routing == "jump")
    let defaults = try BenchOptions.parse([])
    #expect(defaults.workerCounts == [1, 2, 4])
    #expect(defaults.repeats == 3)
    #expect(defaults.speed == .max)
}

@Test(arguments: [
    ("0,2", "'0' is not one"),
    ("1,65", "'65' is not one"),
    ("1,,2", "'' is not one"),
    ("3,3", "lists 3 twice"),
])
func benchWorkerListErrorsNameTheCulprit(_ text: String, _ message: String) {
    #expect {
        _ = try BenchOptions.parseWorkerCounts(text)
    } throws: { error in
        (error as? UsageError)?.message.contains(message) == true
    }
}
