// A log-linear latency histogram: exact below 16 ns, then 16 buckets per power of two
// (relative error ≤ 1/16), covering up to ~2^44 ns. Fixed size, so recording never allocates.

/// Router-enqueue → worker-applied latencies in nanoseconds (CLOCK_MONOTONIC), kept in
/// log-linear buckets so p50/p99/p99.9 come out within 6.25 % while recording stays a few
/// instructions. Histograms of several workers merge with `+=`; they encode compactly
/// (only non-empty buckets) so results can be written to reports and golden files.
public struct LatencyHistogram: Sendable, Equatable {
    static let subBucketBits = 4
    static let subBuckets = 1 << subBucketBits
    static let maxExponent = 44
    static let bucketCount = (maxExponent - subBucketBits + 2) * subBuckets

    public private(set) var count: UInt64 = 0
    public private(set) var sum: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var max: UInt64 = 0
    var buckets: [UInt64] = Array(repeating: 0, count: LatencyHistogram.bucketCount)

    public init() {}

    static func bucketIndex(_ value: UInt64) -> Int {
        if value < UInt64(subBuckets) { return Int(value) }
        let exponent = Swift.min(63 - value.leadingZeroBitCount, maxExponent)
        let clamped = exponent == maxExponent && value >> UInt64(maxExponent + 1) != 0
        if clamped { return bucketCount - 1 }
        let sub = Int((value >> UInt64(exponent - subBucketBits)) & UInt64(subBuckets - 1))
        return (exponent - subBucketBits + 1) * subBuckets + sub
    }

    /// The largest value that lands in bucket `index`.
    static func bucketUpperBound(_ index: Int) -> UInt64 {
        if index < subBuckets { return UInt64(index) }
        let exponent = index / subBuckets + subBucketBits - 1
        let sub = UInt64(index % subBuckets)
        let width = UInt64(1) << UInt64(exponent - subBucketBits)
        return (UInt64(subBuckets) + sub) * width + width - 1
    }

    /// Records one latency in nanoseconds.
    @inline(__always)
    public mutating func record(_ nanoseconds: UInt64) {
        buckets[LatencyHistogram.bucketIndex(nanoseconds)] &+= 1
        count &+= 1
        sum &+= nanoseconds
        if nanoseconds < min { min = nanoseconds }
        if nanoseconds > max { max = nanoseconds }
    }

    /// The value at quantile `q` (0...1): the upper bound of the bucket holding it, capped at
    /// the largest recorded value. Zero when empty.
    public func quantile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((Double(count) * Swift.min(Swift.max(q, 0), 1)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, bucketCount) in buckets.enumerated() where bucketCount > 0 {
            seen += bucketCount
            if seen >= rank { return Swift.min(LatencyHistogram.bucketUpperBound(index), max) }
        }
        return max
    }

    public var p50: UInt64 { quantile(0.5) }
    public var p99: UInt64 { quantile(0.99) }
    public var p999: UInt64 { quantile(0.999) }
    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }

    public static func += (lhs: inout LatencyHistogram, rhs: LatencyHistogram) {
        for index in rhs.buckets.indices where rhs.buckets[index] != 0 {
            lhs.buckets[index] &+= rhs.buckets[index]
        }
        lhs.count &+= rhs.count
        lhs.sum &+= rhs.sum
        lhs.min = Swift.min(lhs.min, rhs.min)
        lhs.max = Swift.max(lhs.max, rhs.max)
    }
}

extension LatencyHistogram: Codable {
    enum CodingKeys: String, CodingKey { case count, sum, min, max, buckets }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        count = try container.decode(UInt64.self, forKey: .count)
        sum = try container.decode(UInt64.self, forKey: .sum)
        min = try container.decode(UInt64.self, forKey: .min)
        max = try container.decode(UInt64.self, forKey: .max)
        let pairs = try container.decode([[UInt64]].self, forKey: .buckets)
        for pair in pairs {
            guard pair.count == 2, pair[0] < UInt64(LatencyHistogram.bucketCount) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .buckets, in: container, debugDescription: "bucket entries are [index, count]")
            }
            buckets[Int(pair[0])] = pair[1]
        }
    }

    /// Only non-empty buckets, as `[index, count]` pairs.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(sum, forKey: .sum)
        try container.encode(min, forKey: .min)
        try container.encode(max, forKey: .max)
        let pairs = buckets.indices.filter { buckets[$0] != 0 }.map { [UInt64($0), buckets[$0]] }
        try container.encode(pairs, forKey: .buckets)
    }
}
