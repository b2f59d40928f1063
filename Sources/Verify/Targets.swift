// Performance thresholds. Timing is never compared exactly (it varies run to run); it is only
// held against thresholds that a project chooses, either inside the golden or in a separate
// targets file so the same golden serves machines of different speeds.
import Foundation

/// Thresholds a run must meet. Every field is optional: only the thresholds given are checked.
/// Read from a golden's `targets` section or a separate JSON file (`--targets FILE`) holding the
/// same fields; unknown fields are rejected so a misspelt threshold is not silently ignored.
public struct Targets: Codable, Sendable, Equatable {
    /// Minimum end-to-end throughput, messages per second.
    public var minMessagesPerSecond: Double?
    /// Maximum router → worker latency p99, µs, of the worst worker.
    public var maxLatencyP99Micros: Double?
    /// Maximum router → worker latency p99.9, µs, of the worst worker.
    public var maxLatencyP999Micros: Double?
    /// Maximum pacing lateness p99, µs; applies only to runs at recorded speed (1×).
    public var maxLatenessP99Micros: Double?
    /// Maximum resident memory of any worker, MiB (1 MiB = 1,048,576 bytes).
    public var maxWorkerMemoryMB: Double?

    public init(
        minMessagesPerSecond: Double? = nil, maxLatencyP99Micros: Double? = nil, maxLatencyP999Micros: Double? = nil,
        maxLatenessP99Micros: Double? = nil, maxWorkerMemoryMB: Double? = nil
    ) {
        self.minMessagesPerSecond = minMessagesPerSecond
        self.maxLatencyP99Micros = maxLatencyP99Micros
        self.maxLatencyP999Micros = maxLatencyP999Micros
        self.maxLatenessP99Micros = maxLatenessP99Micros
        self.maxWorkerMemoryMB = maxWorkerMemoryMB
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case minMessagesPerSecond, maxLatencyP99Micros, maxLatencyP999Micros, maxLatenessP99Micros, maxWorkerMemoryMB
    }

    /// Accepts an optional `"format": "polytape-targets/1"`; rejects any other unknown key.
    public init(from decoder: any Decoder) throws {
        let known = Set(CodingKeys.allCases.map(\.stringValue) + ["format"])
        let any = try decoder.container(keyedBy: AnyKey.self)
        for key in any.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: any,
                debugDescription: "unknown target '\(key.stringValue)'; known targets: "
                    + CodingKeys.allCases.map(\.stringValue).joined(separator: ", "))
        }
        if let format = try any.decodeIfPresent(String.self, forKey: AnyKey("format")), format != Self.fileFormat {
            throw DecodingError.dataCorruptedError(
                forKey: AnyKey("format"), in: any,
                debugDescription: "format must be '\(Self.fileFormat)', not '\(format)'")
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        minMessagesPerSecond = try container.decodeIfPresent(Double.self, forKey: .minMessagesPerSecond)
        maxLatencyP99Micros = try container.decodeIfPresent(Double.self, forKey: .maxLatencyP99Micros)
        maxLatencyP999Micros = try container.decodeIfPresent(Double.self, forKey: .maxLatencyP999Micros)
        maxLatenessP99Micros = try container.decodeIfPresent(Double.self, forKey: .maxLatenessP99Micros)
        maxWorkerMemoryMB = try container.decodeIfPresent(Double.self, forKey: .maxWorkerMemoryMB)
        // A negative or zero threshold is met by anything (or by nothing): a typo, not a target.
        for key in CodingKeys.allCases {
            if let value = try container.decodeIfPresent(Double.self, forKey: key), !(value > 0) {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container,
                    debugDescription: "must be a positive number, not \(value.formatted())")
            }
        }
    }

    /// The optional format tag of a standalone targets file.
    public static let fileFormat = "polytape-targets/1"

    /// True when no threshold is set.
    public var isEmpty: Bool { self == Targets() }

    /// These targets with every threshold set in `other` replacing this one's.
    public func overridden(by other: Targets) -> Targets {
        Targets(
            minMessagesPerSecond: other.minMessagesPerSecond ?? minMessagesPerSecond,
            maxLatencyP99Micros: other.maxLatencyP99Micros ?? maxLatencyP99Micros,
            maxLatencyP999Micros: other.maxLatencyP999Micros ?? maxLatencyP999Micros,
            maxLatenessP99Micros: other.maxLatenessP99Micros ?? maxLatenessP99Micros,
            maxWorkerMemoryMB: other.maxWorkerMemoryMB ?? maxWorkerMemoryMB)
    }

    /// Reads a standalone targets file.
    public static func load(_ path: String) throws -> Targets {
        let data = try StableJSON.read(path, what: "targets")
        return try StableJSON.decode(Targets.self, from: data, source: path, what: "targets file")
    }

    /// Checks every threshold set against the report, in a fixed order.
    public func check(_ report: RunReport) -> [TargetCheck] {
        var checks: [TargetCheck] = []
        let mib = 1_048_576.0
        if let threshold = minMessagesPerSecond {
            checks.append(
                .evaluate(
                    name: "minMessagesPerSecond", description: "throughput", threshold: threshold, unit: "messages/s",
                    measured: report.throughput?.messagesPerSecond, atLeast: true,
                    unavailable: "the report has no throughput measurement"))
        }
        let latencies = report.workers.compactMap(\.latency)
        let missingLatency =
            report.workers.isEmpty ? "the report has no workers" : "the report has no latency histogram"
        if let threshold = maxLatencyP99Micros {
            checks.append(
                .evaluate(
                    name: "maxLatencyP99Micros", description: "router → worker latency p99 (worst worker)",
                    threshold: threshold, unit: "µs", measured: latencies.map(\.p99).max(), atLeast: false,
                    unavailable: missingLatency))
        }
        if let threshold = maxLatencyP999Micros {
            checks.append(
                .evaluate(
                    name: "maxLatencyP999Micros", description: "router → worker latency p99.9 (worst worker)",
                    threshold: threshold, unit: "µs", measured: latencies.map(\.p999).max(), atLeast: false,
                    unavailable: missingLatency))
        }
        if let threshold = maxLatenessP99Micros {
            let measured = report.options.isRecordedSpeed ? report.pacing?.p99 : nil
            let reason =
                report.options.isRecordedSpeed
                ? "the report has no pacing measurement"
                : "the run was paced at speed '\(report.options.speed)', and this target applies at 1× only"
            checks.append(
                .evaluate(
                    name: "maxLatenessP99Micros", description: "pacing lateness p99 at 1×", threshold: threshold,
                    unit: "µs", measured: measured, atLeast: false, unavailable: reason))
        }
        if let threshold = maxWorkerMemoryMB {
            let memory = report.workers.compactMap(\.memoryBytes).max().map { Double($0) / mib }
            checks.append(
                .evaluate(
                    name: "maxWorkerMemoryMB", description: "worker resident memory (largest worker)",
                    threshold: threshold, unit: "MiB", measured: memory, atLeast: false,
                    unavailable: "the report has no worker memory measurement"))
        }
        return checks
    }
}

/// The outcome of one threshold: pass, fail, or not applicable when the run did not measure it
/// (for example pacing lateness at max speed) — which is not a failure.
public struct TargetCheck: Codable, Sendable, Equatable {
    /// Outcome of a single target.
    public enum Outcome: String, Codable, Sendable, Equatable {
        case pass
        case fail
        case notApplicable = "not-applicable"
    }

    /// The threshold's field name, e.g. `maxLatencyP99Micros`.
    public var name: String
    public var description: String
    public var threshold: Double
    public var unit: String
    /// The measured value, nil when not applicable.
    public var measured: Double?
    public var outcome: Outcome
    /// Why the target was not applicable.
    public var reason: String?

    public init(
        name: String, description: String, threshold: Double, unit: String, measured: Double?, outcome: Outcome,
        reason: String? = nil
    ) {
        self.name = name
        self.description = description
        self.threshold = threshold
        self.unit = unit
        self.measured = measured
        self.outcome = outcome
        self.reason = reason
    }

    static func evaluate(
        name: String, description: String, threshold: Double, unit: String, measured: Double?, atLeast: Bool,
        unavailable: String
    ) -> TargetCheck {
        guard let measured else {
            return TargetCheck(
                name: name, description: description, threshold: threshold, unit: unit, measured: nil,
                outcome: .notApplicable, reason: unavailable)
        }
        let passed = atLeast ? measured >= threshold : measured <= threshold
        return TargetCheck(
            name: name, description: description, threshold: threshold, unit: unit, measured: measured,
            outcome: passed ? .pass : .fail)
    }

    /// One line: `PASS throughput: 1,234,567 messages/s (target ≥ 1,000,000)`.
    public var line: String {
        let comparison = name.hasPrefix("min") ? "≥" : "≤"
        let target = "target \(comparison) \(NumberText.format(threshold)) \(unit)"
        switch outcome {
        case .pass:
            return "PASS \(description): \(NumberText.format(measured ?? 0)) \(unit) (\(target))"
        case .fail:
            return "FAIL \(description): \(NumberText.format(measured ?? 0)) \(unit) (\(target))"
        case .notApplicable:
            return "N/A  \(description): not measured — \(reason ?? "not available") (\(target))"
        }
    }
}

/// A coding key for any string, used to find unknown keys.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Human number formatting independent of the locale: thousands separators, at most 2 decimals.
enum NumberText {
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let rounded = (value * 100).rounded() / 100
        let whole = Int64(rounded.magnitude.rounded(.down))
        let cents = Int64(((rounded.magnitude - Double(whole)) * 100).rounded())
        var digits = String(whole)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits = String(digits.dropLast(3))
        }
        grouped = digits + grouped
        var text = (rounded < 0 ? "-" : "") + grouped
        if cents != 0 {
            text += cents % 10 == 0 ? ".\(cents / 10)" : (cents < 10 ? ".0\(cents)" : ".\(cents)")
        }
        return text
    }
}
