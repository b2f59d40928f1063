// The sweep's arithmetic: medians and spreads, the bottleneck rule, the chart's scale and
// ticks, the table's alignment and the /proc parsing.
import Foundation
import Testing
import Verify

@testable import ReplayKit

private func stages(
    wall: Double = 10, read: Double = 0, parse: Double = 0, blocked: Double = 0, pacing: Double = 0,
    busiestApply: Double = 0
) -> RunReport.Stages {
    RunReport.Stages(
        readSeconds: read, parseRouteSeconds: parse, routerBlockedSeconds: blocked, pacingWaitSeconds: pacing,
        workerApplySeconds: busiestApply, maxWorkerApplySeconds: busiestApply, wallSeconds: wall,
        routerCPUSeconds: 0, workersCPUSeconds: 0)
}

@Test(arguments: [
    // Router mostly blocked, busiest worker busy → apply.
    (stages(read: 1, parse: 2, blocked: 6, busiestApply: 8), BenchBottleneck.apply),
    // Router mostly blocked, workers mostly idle → the hand-off itself.
    (stages(read: 1, parse: 2, blocked: 6, busiestApply: 2), BenchBottleneck.ipc),
    // Exactly at the blocked threshold is not "blocked": the router thread decides.
    (stages(read: 1, parse: 5, blocked: 3, busiestApply: 9), BenchBottleneck.parsingRouting),
    (stages(read: 6, parse: 2, blocked: 1, busiestApply: 3), BenchBottleneck.tapeReading),
    (stages(read: 2, parse: 6, blocked: 1, busiestApply: 3), BenchBottleneck.parsingRouting),
    // Neither read nor parse+route: the rest of the router thread's time (digest, bookkeeping).
    (stages(read: 2, parse: 2, blocked: 1, busiestApply: 3), BenchBottleneck.routerOther),
    // Busy exactly at the apply threshold counts as apply.
    (stages(blocked: 4, busiestApply: 5), BenchBottleneck.apply),
    // Paced runs that mostly wait are schedule-bound, even if also blocked.
    (stages(read: 1, parse: 1, blocked: 3.5, pacing: 6), BenchBottleneck.pacing),
])
func bottleneckRule(_ stages: RunReport.Stages, _ expected: BenchBottleneck) {
    let verdict = BenchBottleneck.classify(stages)
    #expect(verdict.bottleneck == expected, "\(verdict.reason)")
    #expect(!verdict.reason.isEmpty)
}

@Test func bottleneckReasonQuotesTheFractions() {
    let verdict = BenchBottleneck.classify(stages(read: 1, parse: 2, blocked: 6, busiestApply: 8))
    #expect(verdict.reason == "router blocked on full rings 60% of wall, busiest worker applying 80%")
}

@Test func routerOtherIsTheUnattributedRestAndNeverNegative() {
    #expect(BenchBottleneck.routerOtherSeconds(stages(wall: 10, read: 2, parse: 3, blocked: 1, pacing: 1)) == 3)
    #expect(BenchBottleneck.routerOtherSeconds(stages(wall: 1, read: 2, parse: 3)) == 0)
}

@Test func spreadMedianMinMax() {
    #expect(BenchSpread([3, 1, 2]) == BenchSpread(median: 2, min: 1, max: 3))
    #expect(BenchSpread([4, 1, 3, 2]) == BenchSpread(median: 2.5, min: 1, max: 4))
    #expect(BenchSpread([7]) == BenchSpread(median: 7, min: 7, max: 7))
    #expect(BenchSpread([]) == BenchSpread(median: 0, min: 0, max: 0))
}

@Test(arguments: [
    (0.0, 95.0, 5, [0.0, 20, 40, 60, 80, 100]),
    (0.0, 1_234_567.0, 5, [0.0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000]),
    (0.0, 1.0, 5, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0.0, 7.0, 4, [0.0, 2, 4, 6, 8]),
    (0.0, 0.0, 5, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),  // a flat zero series still gets an axis
    (0.0, 300.0, 5, [0.0, 100, 200, 300]),
])
func niceTicks(_ low: Double, _ high: Double, _ count: Int, _ expected: [Double]) {
    let ticks = ChartScale.niceTicks(low: low, high: high, count: count)
    #expect(ticks.count == expected.count, "\(ticks)")
    for (tick, want) in zip(ticks, expected) {
        #expect(abs(tick - want) < 1e-9 * max(1, abs(want)), "\(ticks)")
    }
}

@Test func niceStepIsOneTwoTwoAndAHalfOrFive() {
    #expect(ChartScale.niceStep(span: 100, count: 5) == 20)
    #expect(ChartScale.niceStep(span: 1_234_567, count: 5) == 250_000)
    #expect(ChartScale.niceStep(span: 45, count: 5) == 10)
    #expect(ChartScale.niceStep(span: 3, count: 5) == 1)
    #expect(ChartScale.niceStep(span: 0, count: 5) == 1)
}

@Test func scaleMapsTheDomainOntoAnInvertedRange() {
    let y = ChartScale(high: 95, tickCount: 5, rangeLow: 400, rangeHigh: 100)
    #expect(y.domainLow == 0)
    #expect(y.domainHigh == 100)
    #expect(y(0) == 400)
    #expect(y(100) == 100)
    #expect(y(50) == 250)
    #expect(y.ticks.first == 0 && y.ticks.last! >= 95)
}

@Test(arguments: [
    (0.0, "0"), (250_000.0, "250k"), (1_500_000.0, "1.5M"), (2.5, "2.5"), (0.25, "0.25"), (1_000.0, "1k"),
    (2_000_000_000.0, "2G"), (12.0, "12"),
])
func tickLabels(_ value: Double, _ expected: String) {
    #expect(ChartScale.label(value) == expected)
}

@Test(arguments: [
    (282_310.0, "282k"), (35_652.0, "35.7k"), (1_234_567.0, "1.23M"), (8.5, "8.5"), (0.0, "0"), (100.0, "100"),
])
func pointLabelsHaveThreeSignificantDigits(_ value: Double, _ expected: String) {
    #expect(ChartScale.valueLabel(value) == expected)
}

@Test func chartEscapesTextAndDrawsOnePointPerMeasuredValue() throws {
    let row = BenchRow(
        workers: 2, runs: 3, wallSeconds: BenchSpread([1]), messagesPerSecond: BenchSpread([90, 100, 110]),
        megabytesPerSecond: BenchSpread([1]), bookUpdatesPerSecond: BenchSpread([1]), latencyMicros: nil,
        latenessMicros: nil, balance: .init(messagesPerWorker: [5, 5], maxOverMin: 1),
        memory: .init(workerResidentBytes: [1, 1], routerPeakBytes: nil),
        cpu: .init(routerUtilisation: BenchSpread([1]), workersUtilisation: BenchSpread([1])),
        stages: .init(
            readSeconds: 0, parseRouteSeconds: 0, routerBlockedSeconds: 0, pacingWaitSeconds: 0,
            routerOtherSeconds: 0, workerApplySeconds: 0, maxWorkerApplySeconds: 0, wallSeconds: 1),
        bottleneck: "apply", bottleneckReason: "test")
    let report = BenchReport(
        date: "2026-12-03T17:00:00Z",
        machine: MachineDescription(cores: 2, cpuModel: "CPU <x> & co", memoryBytes: 1 << 30, kernel: "6.1"),
        tape: .init(
            name: "a&b.ndjson.zst", paths: ["a&b.ndjson.zst"], contentDigest: "ab", digestAlgorithm: "sha256",
            frames: 1, messages: 1, bytes: 1, compressedBytes: nil),
        options: .init(
            workers: [2], speed: "max", repeats: 3, exchangeHash: "on", routing: "md5", backpressure: "block",
            arguments: []),
        rows: [row])
    let svg = BenchChart.svg(report)
    #expect(svg.contains("a&amp;b.ndjson.zst"))
    #expect(svg.contains("CPU &lt;x&gt; &amp; co"))
    #expect(!svg.contains("a&b"))
    #expect(svg.components(separatedBy: "class=\"point\"").count - 1 == 1)  // latency not measured: only throughput
    #expect(svg.contains("not measured"))
}

@Test func tableColumnsAlign() {
    let lines = BenchTable.align(headers: ["a", "name"], rows: [["100", "x"], ["2", "longer"]], leftAligned: [1])
    #expect(lines == ["  a  name", "---  ------", "100  x", "  2  longer"])
}

@Test func procStatusKilobytes() {
    let status = "Name:\treplay\nVmPeak:\t  300000 kB\nVmHWM:\t    12345 kB\nVmRSS:\t 1000 kB\n"
    #expect(ProcessMemory.parseKilobytes(field: "VmHWM:", in: status) == 12345)
    #expect(ProcessMemory.parseKilobytes(field: "VmSwap:", in: status) == nil)
    #expect((ProcessMemory.peakResidentBytes() ?? 0) > 0)
}
