// The timing rules of a market-channel session, in one value so the CLI, the tests and
// the docs agree on them.

/// Keepalive, liveness and reconnect rules for every connection of a capture.
public struct SessionPolicy: Sendable, Equatable {
    /// How often a text `PING` is sent after subscribing (the exchange expects 10 s).
    public var pingIntervalNanoseconds: UInt64 = 10 * second
    /// A connection whose oldest unanswered `PING` is this old is dead.
    public var pongTimeoutNanoseconds: UInt64 = 30 * second
    /// A connection with no data frame (PONGs do not count) for this long is dead; 0 disables.
    public var silenceTimeoutNanoseconds: UInt64 = 120 * second
    /// How long a connect (TCP + TLS + upgrade) may take.
    public var connectTimeoutNanoseconds: UInt64 = 10 * second
    /// First reconnect delay; doubles per failed attempt up to `maxBackoff`.
    public var initialBackoffNanoseconds: UInt64 = 1 * second
    public var maxBackoffNanoseconds: UInt64 = 30 * second
    /// Each delay is drawn uniformly from [delay × (1 − jitter), delay].
    public var jitterFraction: Double = 0.5
    /// A connection that stayed up this long resets the backoff to its first step.
    public var healthyAfterNanoseconds: UInt64 = 60 * second
    /// Longest single wait on a socket, so that a stop request is seen promptly.
    public var receiveSliceNanoseconds: UInt64 = 200 * millisecond

    public init() {}

    public static let second: UInt64 = 1_000_000_000
    public static let millisecond: UInt64 = 1_000_000

    /// The un-jittered delay before reconnect attempt `attempt` (1-based).
    public func baseBackoff(attempt: Int) -> UInt64 {
        let doublings = min(max(attempt - 1, 0), 40)
        let (scaled, overflow) = initialBackoffNanoseconds.multipliedReportingOverflow(by: 1 << UInt64(doublings))
        return overflow ? maxBackoffNanoseconds : min(scaled, maxBackoffNanoseconds)
    }

    /// The jittered delay before attempt `attempt`, using `unit` ∈ [0, 1).
    public func backoff(attempt: Int, unit: Double) -> UInt64 {
        let base = Double(baseBackoff(attempt: attempt))
        let jitter = min(max(jitterFraction, 0), 1)
        return UInt64(base * (1 - jitter * unit))
    }
}

/// SplitMix64: the jitter source, seedable so tests see the same delays every run.
public struct JitterSource: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    /// A value in [0, 1).
    public mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }
}

/// The subscribe message for a shard, as the exchange expects it right after the upgrade.
public func subscribeMessage(assets: [String]) -> String {
    var text = #"{"assets_ids":["#
    for (index, asset) in assets.enumerated() {
        if index > 0 { text += "," }
        text += "\""
        for scalar in asset.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            default:
                if scalar.value < 0x20 {
                    text +=
                        "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        text += "\""
    }
    text += #"],"type":"market","custom_feature_enabled":true,"initial_dump":true,"level":2}"#
    return text
}

/// Splits assets into shards of at most `perConnection`, in order, as evenly as possible
/// (450 at 200 → 150, 150, 150) so no connection sits near the cap while another is light.
public func shardAssets(_ assets: [String], perConnection: Int) -> [[String]] {
    guard !assets.isEmpty else { return [] }
    let limit = max(1, perConnection)
    let shardCount = (assets.count + limit - 1) / limit
    let base = assets.count / shardCount
    let extra = assets.count % shardCount
    var shards: [[String]] = []
    var start = 0
    for index in 0..<shardCount {
        let size = base + (index < extra ? 1 : 0)
        shards.append(Array(assets[start..<start + size]))
        start += size
    }
    return shards
}
