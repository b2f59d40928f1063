import Foundation
import Testing
import Verify

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Collects the elements of an XML document with XMLParser, which fails on malformed XML.
final class XMLCollector: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text = ""
        var parentCase: String?
    }
    var elements: [Element] = []
    private var stack: [Int] = []
    private var currentCase: String?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if elementName == "testcase" { currentCase = attributes["name"] }
        elements.append(Element(name: elementName, attributes: attributes, parentCase: currentCase))
        stack.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let top = stack.last { elements[top].text += string }
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
    ) {
        stack.removeLast()
        if elementName == "testcase" { currentCase = nil }
    }

    static func parse(_ xml: String) throws -> [Element] {
        let parser = XMLParser(data: Data(xml.utf8))
        let collector = XMLCollector()
        parser.delegate = collector
        guard parser.parse() else {
            throw XMLError(message: "not well-formed: \(parser.parserError.map { "\($0)" } ?? "unknown")")
        }
        return collector.elements
    }

    struct XMLError: Error { var message: String }
}

@Suite struct OutputTests {
    @Test func junitIsWellFormedAndCarriesEachFailure() throws {
        var report = Samples.report()
        report.workers[0].books[0].digest = "beef"
        report.workers[1].counters["crossedBooks"] = 3
        report.workers[1].latency = RunReport.Latency(p50: 1, p99: 500, p999: 900, max: 1000)
        report.exchangeHash.verified -= 1
        let golden = Golden.make(from: Samples.report())
        let result = Verifier.compare(
            report: report, golden: golden,
            targets: Targets(maxLatencyP99Micros: 100, maxLatenessP99Micros: 1000, maxWorkerMemoryMB: 100))
        let elements = try XMLCollector.parse(JUnitReport.xml(result))

        let suite = try #require(elements.first { $0.name == "testsuite" })
        #expect(suite.attributes["name"] == "polytape-verify")
        let cases = elements.filter { $0.name == "testcase" }.compactMap { $0.attributes["name"] }
        #expect(
            cases == [
                "tape identity and options", "worker 0", "worker 1", "per-asset digests",
                "input and exchange-hash totals", "target maxLatencyP99Micros", "target maxLatenessP99Micros",
                "target maxWorkerMemoryMB",
            ])
        #expect(suite.attributes["tests"] == "8")
        #expect(suite.attributes["failures"] == "4")
        #expect(suite.attributes["skipped"] == "1")

        let failures = elements.filter { $0.name == "failure" }
        let worker0 = try #require(failures.first { $0.parentCase == "worker 0" })
        let changedAsset = report.workers[0].books[0].assetID
        #expect(worker0.attributes["message"] == "worker 0, book \(changedAsset): digest differs")
        #expect(worker0.attributes["type"] == "book-changed")
        #expect(worker0.text.contains("digest: expected "))
        #expect(worker0.text.contains(" / actual beef"))
        let worker1 = try #require(failures.first { $0.parentCase == "worker 1" })
        #expect(worker1.text.contains("crossedBooks: expected 0 / actual 3"))
        let target = try #require(failures.first { $0.parentCase == "target maxLatencyP99Micros" })
        #expect(target.attributes["message"]?.contains("500 µs") == true)
        let totals = try #require(failures.first { $0.parentCase == "input and exchange-hash totals" })
        #expect(totals.attributes["message"] == "exchange-hash totals differ: verified")
        #expect(totals.text.contains("verified: expected 936 / actual 935"))
        let skipped = try #require(elements.first { $0.name == "skipped" })
        #expect(skipped.parentCase == "target maxLatenessP99Micros")
    }

    @Test func junitEscapesMarkupQuotesAndControlCharacters() throws {
        var report = Samples.report()
        // Sorts first, so its difference is the worker's failure message as well as in the body.
        let nasty = "0<b>&\"c\"\u{01}\nd"
        let original = report.workers[0].books[0].assetID
        report.workers[0].books[0].assetID = nasty
        report.assetDigests[nasty] = report.assetDigests.removeValue(forKey: original)
        let result = Verifier.compare(report: report, golden: Golden.make(from: Samples.report()))
        #expect(!result.passed)
        let elements = try XMLCollector.parse(JUnitReport.xml(result))
        let failure = try #require(elements.first { $0.name == "failure" && $0.parentCase == "worker 0" })
        let expected = "0<b>&\"c\"\u{FFFD}\nd"
        #expect(failure.attributes["message"]?.hasPrefix("worker 0, book \(expected): in the report") == true)
        #expect(failure.text.contains("book \(expected): in the report but not in the golden"))
        #expect(failure.text.contains("book \(original): in the golden but missing"))
    }

    @Test func passingResultHasNoFailuresInJUnit() throws {
        let report = Samples.report()
        let result = Verifier.compare(report: report, golden: Golden.make(from: report))
        let elements = try XMLCollector.parse(JUnitReport.xml(result))
        #expect(elements.filter { $0.name == "failure" }.isEmpty)
        #expect(elements.first { $0.name == "testsuite" }?.attributes["failures"] == "0")
        #expect(VerificationText.render(result).hasPrefix("PASS: report against golden golden"))
    }
}
