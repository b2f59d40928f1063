import Feed
import Foundation
import TestSupport
import Testing

@testable import Engine

/// Real frames from the in-repo corpus: raw G2 frames, recorder `recv` records and payload
/// wrappers around G3 frames, and a REST-style book snapshot.
func corpusFrames() throws -> [[UInt8]] {
    var frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
    frames.append(try Repo.bytes("corpus/book-nautilus-2026-08/nautilus_ws_book_snapshot_captured.json"))
    for file in [
        "corpus/g3-nslaughter-2026-10/stream-no-replay--repro.jsonl",
        "corpus/g3-nslaughter-2026-10/settled-subscription--mixed.jsonl",
    ] {
        for line in try Repo.lines(file) {
            let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            if object?["kind"] as? String == "recv", let text = object?["text"] as? String {
                frames.append(Array(text.utf8))
            }
        }
    }
    for line in try Repo.lines("corpus/g3-enrico-2026-09/frames.jsonl") {
        let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        if let payload = object?["payload"] as? String { frames.append(Array(payload.utf8)) }
    }
    return frames
}

/// Part of the serialized pool suite: pool tests must not overlap (they check this process's
/// descriptors and children).
extension WorkerPoolTests {
    /// Replays every corpus frame through FeedParser → Router → worker processes.
    func replay(workers: Int, frames: [[UInt8]]) throws -> (RunResult, RouterStats) {
        let manager = try WorkerManager(workerCount: workers, configuration: testConfiguration(ringCapacity: 1 << 16))
        try manager.start()
        var router = try Router(channels: manager.inputChannels, batchSize: 16)
        var parser = FeedParser()
        for frame in frames { _ = parser.parse(frame, into: &router) }
        try router.flush()
        return (try manager.stop(timeout: .seconds(20)), router.stats)
    }

    @Test func realFramesGiveTheSameBooksAndCountsWithOneTwoAndFourWorkers() throws {
        let frames = try corpusFrames()
        #expect(frames.count > 3900)
        var digests: [[String: String]] = []
        var totals: [WorkerStats] = []
        for workers in [1, 2, 4] {
            let (result, routerStats) = try replay(workers: workers, frames: frames)
            #expect(result.allDrained)
            #expect(routerStats.dropped == 0)
            #expect(result.totalStats.messagesProcessed == routerStats.routed)
            #expect(routerStats.priceChanges > 3800)
            #expect(routerStats.books > 0)
            var byAsset: [String: String] = [:]
            for worker in result.workers {
                for book in worker.books {
                    #expect(byAsset[book.assetID] == nil)  // each asset lives on exactly one worker
                    byAsset[book.assetID] = book.digest
                    #expect(try Router.worker(forAssetID: book.assetID, workerCount: workers) == worker.index)
                }
            }
            #expect(!byAsset.isEmpty)
            digests.append(byAsset)
            var total = result.totalStats
            total.processingTimeNanos = 0
            total.lastMessageMonotonicNanos = 0
            total.memoryUsageBytes = 0
            total.residentBytes = 0
            total.bookCount = 0
            totals.append(total)
        }
        #expect(digests[0] == digests[1])
        #expect(digests[0] == digests[2])
        #expect(totals[0] == totals[1])
        #expect(totals[0] == totals[2])
    }
}
