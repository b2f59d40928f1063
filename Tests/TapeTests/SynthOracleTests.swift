import Book
import Feed
import Foundation
import TestSupport
import Testing

@testable import Tape

/// Synthetic tapes must pass the same oracles as real ones: every `hash` recomputes with the
/// Book module's recipe, every G3 best_bid/best_ask matches the book, no book is ever crossed.
@Suite struct SynthOracleTests {
    @Test(arguments: [UInt64(1), 42])
    func syntheticHashesAndTopOfBookPassTheBookOracles(_ seed: UInt64) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var options = SynthOptions()
        options.assets = 10
        options.durationNs = 10_000_000_000
        options.messagesPerSecond = 300
        options.seed = seed
        let path = folder.file("s.ndjson.zst")
        let header = TapeSynthesizer.header(for: options)
        let writer = try TapeWriter(
            options: TapeWriterOptions(destination: .file(path, overwrite: true)), header: header,
            nowWallNs: header.createdNs, nowMonoNs: 0)
        let report = try TapeSynthesizer.generate(options, into: writer)
        #expect(report.tickSizeChanges > 0)

        let store = BookStore(options: BookStore.Options(verifyExchangeHash: true))
        for (asset, data) in header.sideData {
            store.setSideData(
                MarketSideData(
                    market: data.market, minOrderSize: data.minOrderSize, negRisk: data.negRisk,
                    tickSize: data.tickSize, hashRecipe: 10),
                forAsset: asset)
        }
        var sink = BookStoreFeedSink(store: store)
        var parser = FeedParser()
        let reader = try TapeReader(path: path)
        try reader.forEachFrame { frame in _ = parser.parse(frame.bytes, into: &sink) }
        let counters = store.counters
        #expect(sink.parseErrors == 0)
        #expect(counters.exchangeHashChecked > 500)
        #expect(counters.exchangeHashVerified == counters.exchangeHashChecked)  // exact, never late
        #expect(counters.exchangeHashDiverged == 0)
        #expect(counters.exchangeHashMismatchedTransient == 0)
        #expect(counters.exchangeHashUnverifiable == 0)
        #expect(counters.topOfBookChecks > 500)
        #expect(counters.topOfBookMismatches == 0)
        #expect(counters.crossedBooks == 0)
        #expect(counters.offTickLevels == 0)
        #expect(counters.deltasBeforeSnapshot == 0)
    }
}
