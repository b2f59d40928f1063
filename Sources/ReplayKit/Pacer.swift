// Pacing: release each frame at its recorded time divided by the speed factor.
import CShim
public import Engine
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

    /// The factors a replay accepts: slower than 1/1000 or faster than a million times the
    /// recorded speed is a typo, and the schedule arithmetic stays exact within this range.
    public static let factorRange: ClosedRange<Double> = 0.001...1_000_000

    /// Parses `max`, `1x`, `10x`, `0.5x`, `2.5` (the `x` is optional; plain decimals only, no
    /// hex or exponent); nil outside `factorRange`.
    public init?(parsing text: String) {
        let lowered = text.lowercased()
        if lowered == "max" {
            self = .max
            return
        }
        let number = lowered.hasSuffix("x") ? String(lowered.dropLast()) : lowered
        // Plain decimals only: Double() also reads hex (`0x10` = 16), exponents, `inf` and `nan`.
        var digits = 0
        var points = 0
        for byte in number.utf8 {
            if byte >= 0x30 && byte <= 0x39 {
                digits += 1
            } else if byte == 0x2E {
                points += 1
            } else {
                return nil
            }
        }
        guard digits > 0, points <= 1, let value = Double(number), Self.factorRange.contains(value) else { return nil }
        self = .factor(value)
    }

    /// Same as `init?(parsing:)`.
    public init?(_ text: String) { self.init(parsing: text) }

    /// What `--speed` must look like, for usage errors.
    public static let usageText = "max, 1x, 10x or a factor from 0.001x to 1000000x like 2.5x"

    public var description: String {
        switch self {
        case .max: "max"
        case .factor(let value): String(format: "%gx", value)
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
    /// Actual minus scheduled release time of every paced frame, in ns.
    public private(set) var lateness = LatencyHistogram()
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
        // In Double and clamped: a damaged receive time decades away must not trap the run.
        let offset = min(max(0, (Double(recordedNs) - Double(anchor)) / factor), 1e18)
        let due = anchorMonotonicNs &+ UInt64(offset)
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
