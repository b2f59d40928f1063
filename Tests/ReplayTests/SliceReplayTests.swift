import CommandLineSupport
import Foundation
import TestSupport
import Testing

/// `replay tape slice`, `replay tape cat --asset` and `replay run --assets` on synthetic tapes,
/// whose every exchange hash is known to be right: a slice must replay as the full tape does.
@Suite struct SliceReplayTests {
    static let synthStartMs: Int64 = 1_790_000_000_000

    static func run(_ words: [String]) throws -> [String: Any] {
        let run = try ReplayBinary.run(["run"] + words + ["--workers", "1", "--json", "--quiet"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        return try #require(run.json)
    }

    static func hashes(_ report: [String: Any]) throws -> (checked: Int, verified: Int) {
        let hash = try #require(report["exchangeHash"] as? [String: Any])
        return (try #require(hash["checked"] as? Int), try #require(hash["verified"] as? Int))
    }

    /// Each book's digest, top of book and last trade price.
    static func books(_ report: [String: Any]) -> [String: String] {
        var result: [String: String] = [:]
        for worker in report["workers"] as? [[String: Any]] ?? [] {
            for book in worker["books"] as? [[String: Any]] ?? [] {
                guard let asset = book["assetID"] as? String else { continue }
                result[asset] = ["digest", "bestBid", "bestAsk", "lastTradePrice"].map { "\(book[$0] ?? "-")" }
                    .joined(separator: " ")
            }
        }
        return result
    }

    /// Regression: the warm-up kept whole frames from each asset's latest snapshot on. An opening
    /// dump kept for one asset brought in the stale books of the others, and a market's frames
    /// between its tokens' snapshots were kept only from the later one's side, so those stale
    /// books missed changes (35 exchange hashes diverged here), and trades before a token's
    /// latest snapshot were dropped while its sibling's book still needed their price (30
    /// hashes matched only on the last-trade-price grid). Smallest tape that showed both.
    @Test func aSliceReplaysExactlyAsTheFullTapeFromItsStart() throws {
        let scratch = try ScratchDirectory()
        let tape = try scratch.synthTape(assets: 4, duration: "2s", rate: "200", seed: 1)
        let from = String(Self.synthStartMs + 1800)
        let slice = scratch.path("slice.ndjson.zst")
        let cut = try ReplayBinary.run(["tape", "slice", tape, "--from", from, "-o", slice])
        #expect(cut.status == ExitStatus.success, "stderr: \(cut.stderr)")
        let sliced = try Self.run([slice])
        let full = try Self.run([tape, "--from", from])
        let hashes = try Self.hashes(sliced)
        #expect(hashes.checked > 400)
        #expect(hashes.verified == hashes.checked, "\(sliced["exchangeHash"] ?? "")")
        #expect(sliced["status"] as? String == "ok")
        #expect(sliced["assetDigests"] as? [String: String] == full["assetDigests"] as? [String: String])
        #expect(Self.books(sliced) == Self.books(full))
        #expect(Self.books(sliced).count == 4)
    }

    /// Regression: `--assets` with one token of a market dropped the other token's trades, so the
    /// kept book hashed with a stale last trade price (72 of 199 checks matched only after a
    /// search of the price grid; a 60 s tape took 12 s instead of 1 s), and `tape cat|slice
    /// --asset` kept both tokens' `price_changes` entries. The three now select alike: the kept
    /// token's events and entries plus its sibling's trades.
    @Test func catSliceAndRunSelectTheSameEventsOfOneToken() throws {
        let scratch = try ScratchDirectory()
        let tape = try scratch.synthTape(assets: 4, duration: "2s", rate: "200", seed: 1)
        let info = try #require(try ReplayBinary.run(["tape", "info", tape, "--json"]).json)
        let assets = try #require(info["assets_seen"] as? [String])
        // Synthetic assets come in market pairs: YES, NO, YES, NO, ...
        let (kept, sibling) = (assets[0], assets[1])

        let cat = try ReplayBinary.run(["tape", "cat", tape, "--asset", kept])
        #expect(cat.status == ExitStatus.success, "stderr: \(cat.stderr)")
        let lines = cat.stdoutText.split(separator: "\n").map(String.init)
        let siblingTrades = lines.filter { !$0.contains(kept) }
        #expect(!siblingTrades.isEmpty)
        #expect(
            siblingTrades.allSatisfy { $0.contains(#""event_type":"last_trade_price""#) && $0.contains(sibling) })
        let changes = lines.filter { $0.contains("price_changes") }
        #expect(changes.count > 100)
        #expect(changes.allSatisfy { !$0.contains(sibling) })

        let slice = scratch.path("one.ndjson.zst")
        let cut = try ReplayBinary.run(["tape", "slice", tape, "--asset", kept, "-o", slice])
        #expect(cut.status == ExitStatus.success, "stderr: \(cut.stderr)")
        let catOfSlice = try ReplayBinary.run(["tape", "cat", slice])
        #expect(catOfSlice.stdoutText == cat.stdoutText)

        let filtered = try Self.run([tape, "--assets", kept])
        let hashes = try Self.hashes(filtered)
        #expect(hashes.checked > 150)
        #expect(hashes.verified == hashes.checked, "\(filtered["exchangeHash"] ?? "")")
        let router = try #require(filtered["router"] as? [String: Any])
        #expect(router["marketTradeCopies"] as? Int == siblingTrades.count)
        let ofSlice = try Self.run([slice])
        #expect(try Self.hashes(ofSlice) == hashes)
        #expect(Self.books(ofSlice) == Self.books(filtered))
        #expect(Self.books(filtered).keys.sorted() == [kept])
    }
}
