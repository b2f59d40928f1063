import Testing

@testable import ReplayKit

@Test func compactCounts() {
    #expect(ProgressLine.compact(999) == "999")
    #expect(ProgressLine.compact(12_345) == "12.3k")
    #expect(ProgressLine.compact(1_204_000) == "1.20M")
}

@Test func durations() {
    #expect(ProgressLine.duration(seconds: 42) == "42s")
    #expect(ProgressLine.duration(seconds: 65) == "1m05s")
    #expect(ProgressLine.duration(seconds: 3 * 3600 + 120) == "3h02m")
    #expect(ProgressLine.duration(seconds: .infinity) == "?")
}

@Test func disabledLineNeverBuildsItsText() {
    var line = ProgressLine(enabled: false)
    var built = 0
    line.update(nowNs: 10_000_000_000) {
        built += 1
        return "x"
    }
    #expect(built == 0)
}

@Test func enabledLineRedrawsAtMostOncePerInterval() {
    var line = ProgressLine(enabled: true, intervalSeconds: 1)
    var built = 0
    for step in 0..<10 {
        line.update(nowNs: 5_000_000_000 + UInt64(step) * 100_000_000) {
            built += 1
            return ""
        }
    }
    line.finish()
    #expect(built == 1)
}
