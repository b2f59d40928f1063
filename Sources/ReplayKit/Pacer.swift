// Pacing: release each frame at its recorded time divided by the speed factor.
import CShim
import Glibc

/// Where the pacer reads the time and how it waits. Real runs use `MonotonicClock`; tests
/// inject a fake clock so that no test sleeps.
public protocol PacingClock {
    /// Monotonic nanoseconds.
    mutating func now() -> UInt64
    /// Waits until `deadline` (monotonic ns) or returns at once if it has passed.
    mutating func wait(until deadline: UInt64)
}

/// CLOCK_MONOTONIC, waiting with nanosleep for long gaps and a short spin for the last
/// stretch, which keeps 1× lateness well under a millisecond on an idle core.
public struct MonotonicClock: PacingClock {
    /// Below this remaining time the clock spins instead of sleeping (sleep overshoots by
    /// ~50–100 µs on Linux).
    public var spinThresholdNs: UInt64 = 150_000

    public init() {}

    public mutating func now() -> UInt64 { cshim_monotonic_ns() }

    public mutating func wait(until deadline: UInt64) {
        while true {
            let current = cshim_monotonic_ns()
            if current >= deadline { return }
            let remaining = deadline - current
            if remaining > spinThresholdNs {
                let sleepNs = remaining - spinThresholdNs
                var request = timespec(tv_sec: Int(sleepNs / 1_000_000_000), tv_nsec: Int(sleepNs % 1_000_000_000))
                _ = nanosleep(&request, nil)
            }
        }
    }
}

/// The replay speed: as fast as possible, or the recorded gaps divided by a factor.
public enum ReplaySpeed: Equatable, Sendable, CustomStringConvertible {
    case max
    case factor(Double)

    /// Parses `max`, `1x`, `10x`, `0.5x`, `2.5` (the `x` is optional).
    public init?(parsing text: String) {
        let lowered = text.lowercased()
        if lowered == "max" {
            self = .max
            return
        }
        let number = lowered.hasSuffix("x") ? String(lowered.dropLast()) : lowered
        guard let value = Double(number), value.isFinite, value > 0 else { return nil }
        self = .factor(value)
    }

    public var description: String {
        switch self {
        case .max: "max"
        case .factor(let value):
            value == value.rounded() ? "\(Int(value))x" : "\(value)x"
        }
    }
}

/// Releases frames on the recorded schedule. Each call to `release(recordedNs:)` waits until
/// the frame is due and records how late it actually went out.
///
/// No sleep debt: when the pipeline falls more than `maxLagNs` behind (a stall, a slow
/// consumer), the schedule is re-anchored at the current frame instead of bursting
/// through the backlog; each re-anchoring is counted and reported.
public struct Pacer<Clock: PacingClock> {
    public var clock: Clock
    public let speed: ReplaySpeed
    /// How far behind the schedule may fall before it is re-anchored.
    public let maxLagNs: UInt64
    private var anchorRecordedNs: Int64?
    private var anchorMonotonicNs: UInt64 = 0
    private var lastRecordedNs: Int64 = .min
    public private(set) var lateness = LatenessHistogram()
    /// How often the schedule was re-anchored because the pipeline fell too far behind.
    public private(set) var reanchors = 0
    /// Frames whose recorded time went backwards (released at once, not counted late).
    public private(set) var outOfOrder = 0

    public init(speed: ReplaySpeed, clock: Clock, maxLagNs: UInt64 = 1_000_000_000) {
        self.speed = speed
        self.clock = clock
        self.maxLagNs = maxLagNs
    }

    /// Waits until the frame recorded at `recordedNs` is due at this speed.
    public mutating func release(recordedNs: Int64) {
        guard case .factor(let factor) = speed else { return }
        guard let anchor = anchorRecordedNs else {
            anchorRecordedNs = recordedNs
            anchorMonotonicNs = clock.now()
            lastRecordedNs = recordedNs
            lateness.record(0)
            return
        }
        if recordedNs < lastRecordedNs {
            outOfOrder += 1
            return
        }
        lastRecordedNs = recordedNs
        let offset = Double(recordedNs - anchor) / factor
        let due = anchorMonotonicNs &+ UInt64(max(0, offset))
        clock.wait(until: due)
        let actual = clock.now()
        let late = actual > due ? actual - due : 0
        lateness.record(late)
        if late > maxLagNs {
            anchorRecordedNs = recordedNs
            anchorMonotonicNs = actual
            reanchors += 1
        }
    }
}

/// Lateness (actual minus scheduled release time) in a log-linear histogram: exact below
/// 1 µs resolution is not needed, 1/32 relative precision is.
public struct LatenessHistogram: Sendable, Equatable {
    private var buckets = [UInt64](repeating: 0, count: 64 * 32)
    public private(set) var count: UInt64 = 0
    public private(set) var maxNs: UInt64 = 0

    public init() {}

    public mutating func record(_ ns: UInt64) {
        count += 1
        maxNs = Swift.max(maxNs, ns)
        buckets[Self.bucket(of: ns)] += 1
    }

    static func bucket(of value: UInt64) -> Int {
        if value < 32 { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount  // ≥ 5
        let mantissa = Int((value >> UInt64(exponent - 5)) & 31)
        return (exponent - 4) * 32 + mantissa
    }

    static func upperBound(of bucket: Int) -> UInt64 {
        if bucket < 32 { return UInt64(bucket) }
        let exponent = bucket / 32 + 4
        let mantissa = UInt64(bucket % 32)
        return ((32 + mantissa + 1) << UInt64(exponent - 5)) - 1
    }

    /// The value at quantile `q` (0...1), as the upper bound of its bucket, capped at the max.
    public func quantile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = UInt64((Double(count) * q).rounded(.up))
        var seen: UInt64 = 0
        for (index, n) in buckets.enumerated() where n > 0 {
            seen += n
            if seen >= Swift.max(rank, 1) { return Swift.min(Self.upperBound(of: index), maxNs) }
        }
        return maxNs
    }
}
