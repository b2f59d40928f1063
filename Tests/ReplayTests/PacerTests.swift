import Testing

@testable import ReplayKit

/// A clock that only moves when the pacer waits, or when the test says work took time.
struct FakeClock: PacingClock {
    var current: UInt64 = 1_000_000
    /// Extra time each wait overshoots by, to model a late wake-up.
    var overshootNs: UInt64 = 0
    var waits: [UInt64] = []
    mutating func now() -> UInt64 { current }
    mutating func wait(until deadline: UInt64) {
        waits.append(deadline)
        if deadline > current { current = deadline + overshootNs }
    }
}

@Test func speedParsesEveryDocumentedForm() {
    #expect(ReplaySpeed(parsing: "max") == .max)
    #expect(ReplaySpeed(parsing: "1x") == .factor(1))
    #expect(ReplaySpeed(parsing: "10x") == .factor(10))
    #expect(ReplaySpeed(parsing: "0.5x") == .factor(0.5))
    #expect(ReplaySpeed(parsing: "2.5") == .factor(2.5))
    #expect(ReplaySpeed(parsing: "0x") == nil)
    #expect(ReplaySpeed(parsing: "-1x") == nil)
    #expect(ReplaySpeed(parsing: "fast") == nil)
    #expect(ReplaySpeed.factor(10).description == "10x")
}

/// Regression: `--speed 1e308x` trapped converting the factor to Int for its description, and
/// `--speed 1e-300x` trapped converting the schedule offset to UInt64 (found on a fresh clone).
@Test func absurdFactorsAreRefusedAndEveryAcceptedOneRenders() {
    // Regression: hex floats (`0x10x` read as 16x) and exponents slipped through Double().
    for text in [
        "1e308x", "1e19x", "1e-300x", "0.0001x", "1000001x", "infx", "nanx", "0x10x", "0x1p4x", "1e1x", "+2x", "x",
        ".x", "1.2.3x", " 2x",
    ] {
        #expect(ReplaySpeed(parsing: text) == nil, "\(text) should be refused")
    }
    #expect(ReplaySpeed(parsing: "0.001x") == .factor(0.001))
    #expect(ReplaySpeed(parsing: "1000000x") == .factor(1_000_000))
    #expect(ReplaySpeed.factor(1_000_000).description == "1e+06x")
    #expect(ReplaySpeed.factor(0.001).description == "0.001x")
    #expect(ReplaySpeed.factor(2.5).description == "2.5x")
    // The slowest factor over a day-long gap stays within the schedule's arithmetic.
    var pacer = Pacer(speed: .factor(0.001), clock: FakeClock())
    pacer.release(recordedNs: 0)
    pacer.release(recordedNs: 86_400_000_000_000)
    #expect(pacer.clock.waits.count == 1)
}

@Test func recordedSpeedFollowsTheRecordedGaps() {
    var pacer = Pacer(speed: .factor(1), clock: FakeClock())
    let start = pacer.clock.now()
    for recorded: Int64 in [5_000_000_000, 5_000_100_000, 5_002_000_000, 6_000_000_000] {
        pacer.release(recordedNs: recorded)
    }
    #expect(pacer.clock.waits == [start + 100_000, start + 2_000_000, start + 1_000_000_000])
    #expect(pacer.lateness.count == 4)
    #expect(pacer.lateness.max == 0)
}

@Test func factorDividesTheGaps() {
    var pacer = Pacer(speed: .factor(10), clock: FakeClock())
    let start = pacer.clock.now()
    pacer.release(recordedNs: 0)
    pacer.release(recordedNs: 1_000_000_000)
    pacer.release(recordedNs: 3_000_000_000)
    #expect(pacer.clock.waits == [start + 100_000_000, start + 300_000_000])
}

@Test func maxSpeedNeverWaits() {
    var pacer = Pacer(speed: .max, clock: FakeClock())
    pacer.release(recordedNs: 0)
    pacer.release(recordedNs: 60_000_000_000)
    #expect(pacer.clock.waits.isEmpty)
}

@Test func latenessIsMeasuredAgainstTheSchedule() {
    var clock = FakeClock()
    clock.overshootNs = 40_000
    var pacer = Pacer(speed: .factor(1), clock: clock)
    pacer.release(recordedNs: 0)
    pacer.release(recordedNs: 1_000_000)
    pacer.release(recordedNs: 2_000_000)
    #expect(pacer.lateness.max == 40_000)
    #expect(pacer.lateness.quantile(0.5) > 0)
}

@Test func fallingFarBehindReanchorsInsteadOfBursting() {
    var pacer = Pacer(speed: .factor(1), clock: FakeClock(), maxLagNs: 500_000_000)
    pacer.release(recordedNs: 0)
    // The pipeline stalls for 5 s (e.g. a slow consumer) before the next frame.
    pacer.clock.current += 5_000_000_000
    pacer.release(recordedNs: 1_000_000_000)
    #expect(pacer.reanchors == 1)
    // After re-anchoring, the next frame 10 ms later waits its full 10 ms: no burst.
    let before = pacer.clock.now()
    pacer.release(recordedNs: 1_010_000_000)
    #expect(pacer.clock.waits.last == before + 10_000_000)
}

@Test func framesGoingBackInTimeAreReleasedAtOnceAndCounted() {
    var pacer = Pacer(speed: .factor(1), clock: FakeClock())
    pacer.release(recordedNs: 1_000_000)
    pacer.release(recordedNs: 500_000)
    #expect(pacer.outOfOrder == 1)
    #expect(pacer.clock.waits.isEmpty)
}
