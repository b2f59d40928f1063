import Foundation
import Testing

@testable import Engine

@Suite struct WorkerStatsTests {
    @Test func averageProcessingTimeIsTotalOverMessages() {
        var stats = WorkerStats()
        #expect(stats.avgProcessingTimeMicros == 0)
        stats.messagesProcessed = 10
        stats.processingTimeNanos = 50_000_000  // 50 ms over 10 messages
        #expect(stats.avgProcessingTimeMicros == 5000)
    }

    @Test func statsMergeSumsCountsAndKeepsLatestTime() {
        var a = WorkerStats()
        a.messagesProcessed = 3
        a.updatesApplied = 2
        a.lastMessageMonotonicNanos = 100
        a.bookCount = 1
        var b = WorkerStats()
        b.messagesProcessed = 4
        b.snapshotsReceived = 1
        b.lastMessageMonotonicNanos = 50
        b.bookCount = 2
        a += b
        #expect(a.messagesProcessed == 7)
        #expect(a.updatesApplied == 2)
        #expect(a.snapshotsReceived == 1)
        #expect(a.lastMessageMonotonicNanos == 100)
        #expect(a.bookCount == 3)
    }
}

@Suite struct LatencyHistogramTests {
    @Test func exactBelowSixteenAndWithinOneSixteenthAbove() {
        for value: UInt64 in [0, 1, 7, 15] {
            let index = LatencyHistogram.bucketIndex(value)
            #expect(LatencyHistogram.bucketUpperBound(index) == value)
        }
        var value: UInt64 = 16
        while value < 1 << 40 {
            let upper = LatencyHistogram.bucketUpperBound(LatencyHistogram.bucketIndex(value))
            #expect(upper >= value)
            #expect(Double(upper - value) <= Double(value) / 16)
            value = value * 3 / 2 + 1
        }
    }

    @Test func quantilesOfAUniformRange() {
        var histogram = LatencyHistogram()
        for value in 1...10_000 as ClosedRange<UInt64> { histogram.record(value * 1000) }
        #expect(histogram.count == 10_000)
        #expect(histogram.max == 10_000_000)
        #expect(histogram.min == 1000)
        let p50 = Double(histogram.p50)
        #expect(p50 >= 5_000_000 && p50 <= 5_000_000 * 17 / 16)
        let p99 = Double(histogram.p99)
        #expect(p99 >= 9_900_000 && p99 <= 9_900_000 * 17 / 16)
        #expect(histogram.quantile(1) == 10_000_000)
    }

    @Test func mergeEqualsRecordingEverythingInOne() {
        var left = LatencyHistogram()
        var right = LatencyHistogram()
        var both = LatencyHistogram()
        var random = SystemRandomNumberGenerator()
        for index in 0..<5000 {
            let value = UInt64.random(in: 1...50_000_000, using: &random)
            if index % 3 == 0 { left.record(value) } else { right.record(value) }
            both.record(value)
        }
        left += right
        #expect(left == both)
    }

    @Test func codableRoundTripKeepsEveryBucket() throws {
        var histogram = LatencyHistogram()
        for value: UInt64 in [5, 100, 100, 123_456, 1 << 50] { histogram.record(value) }
        let data = try JSONEncoder().encode(histogram)
        let decoded = try JSONDecoder().decode(LatencyHistogram.self, from: data)
        #expect(decoded == histogram)
        #expect(decoded.max == 1 << 50)
    }
}
