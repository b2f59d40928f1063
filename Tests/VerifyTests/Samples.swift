// Small, hand-built reports shared by the Verify tests. Values are arbitrary but consistent:
// two workers, three books, the kind of report `replay run` produces for a short tape.
import Foundation
import Verify

enum Samples {
    static let assetA = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
    static let assetB = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
    static let assetC = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
    static let market = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"

    static func book(_ assetID: String, digest: String, bid: String? = "0.52", ask: String? = "0.53")
        -> RunReport.BookEntry
    {
        RunReport.BookEntry(
            assetID: assetID, market: market, digest: digest, bestBid: bid, bestAsk: ask, bidLevels: 12, askLevels: 9,
            tickSize: "0.01", lastTradePrice: "0.520", trusted: true, hashStatus: "verified",
            lastTimestampMs: 1_757_000_000_000, lastChangeLines: RunReport.LineRange(first: 3, last: 118))
    }

    static func worker(_ index: Int, books: [RunReport.BookEntry]) -> RunReport.Worker {
        RunReport.Worker(
            index: index, pid: Int32(4000 + index), exit: .normal, messagesProcessed: 500 + index,
            snapshots: 2 + index, updates: 480, trades: 18 - index, bookCount: books.count,
            memoryBytes: 12 * 1_048_576, avgProcessingMicros: 1.5,
            latency: RunReport.Latency(p50: 8, p99: 40, p999: 250, max: 900),
            counters: [
                "snapshots": 2 + index, "priceChanges": 480, "crossedBooks": 0, "topOfBookChecks": 400,
                "topOfBookMismatches": 0, "hashChecked": 470, "hashVerified": 468,
            ],
            books: books)
    }

    /// A report from 2 workers (worker 0 holds assets A and B, worker 1 holds C), or 1 worker.
    static func report(workers: Int = 2) -> RunReport {
        let books = [
            book(assetA, digest: "aa11"), book(assetB, digest: "bb22", bid: "0.47", ask: "0.48"),
            book(assetC, digest: "cc33", bid: nil, ask: "0.9"),
        ]
        let workerReports: [RunReport.Worker]
        if workers == 1 {
            workerReports = [worker(0, books: books)]
        } else {
            workerReports = [worker(0, books: Array(books[0..<2])), worker(1, books: [books[2]])]
        }
        return RunReport(
            tape: RunReport.TapeIdentity(
                paths: ["/data/tapes/session-0001.ndjson.zst"],
                contentDigest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", frameCount: 1234),
            options: RunReport.Options(workers: workers, speed: "max"),
            input: RunReport.InputStats(
                frames: 1234, messagesByType: ["book": 5, "price_change": 960, "last_trade_price": 35], bytes: 456_789,
                compressedBytes: 61_000, malformedLineCount: 1,
                malformedLines: [RunReport.MalformedLine(file: "session-0001.ndjson.zst", line: 77, reason: "not JSON")]
            ),
            workers: workerReports, router: ["routed": 1001, "blockedOnFull": 3],
            throughput: RunReport.Throughput(messagesPerSecond: 1_500_000, megabytesPerSecond: 420, wallSeconds: 0.02),
            exchangeHash: RunReport.ExchangeHashSummary(
                checked: 940, verified: 936, verifiedLate: 2, mismatchedTransient: 2),
            assetDigests: [assetA: "aa11", assetB: "bb22", assetC: "cc33"])
    }

    /// A fresh, empty temporary directory for one test.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("polytape-verify-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
