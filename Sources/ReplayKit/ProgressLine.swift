// A live one-line progress display on stderr, only when stderr is a terminal.
import CommandLineSupport
import Foundation
import Glibc

/// Redraws a single status line on a TTY at most every `interval`; prints nothing otherwise,
/// so logs and CI output stay clean.
public struct ProgressLine {
    public let enabled: Bool
    private let intervalNs: UInt64
    private var lastDrawNs: UInt64 = 0
    private var drewSomething = false

    /// - Parameter enabled: force on or off; nil means "when stderr is a terminal".
    public init(enabled: Bool? = nil, intervalSeconds: Double = 0.25) {
        self.enabled = enabled ?? (isatty(STDERR_FILENO) == 1)
        self.intervalNs = UInt64(intervalSeconds * 1e9)
    }

    /// Redraws if the interval has passed; `text` is built only then.
    public mutating func update(nowNs: UInt64, _ text: () -> String) {
        guard enabled, nowNs &- lastDrawNs >= intervalNs else { return }
        lastDrawNs = nowNs
        drewSomething = true
        writeStandardError("\r\u{1B}[2K" + text())
    }

    /// Clears the line so the final report starts on a clean line.
    public mutating func finish() {
        guard enabled, drewSomething else { return }
        writeStandardError("\r\u{1B}[2K")
        drewSomething = false
    }

    /// "12.3k", "1.20M": short counts for a narrow line.
    public static func compact(_ value: Double) -> String {
        switch value {
        case ..<1_000: String(format: "%.0f", value)
        case ..<1_000_000: String(format: "%.1fk", value / 1_000)
        default: String(format: "%.2fM", value / 1_000_000)
        }
    }

    /// "1m05s", "42s", "3h02m".
    public static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60)
    }
}
