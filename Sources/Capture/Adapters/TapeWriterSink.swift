// The production sink: the Tape module's crash-safe, rotating zstd NDJSON writer.
public import Tape

/// Writes a capture into tape segments in a folder with `TapeWriter`.
public final class TapeWriterSink: CaptureTapeSink {
    /// Created by `begin(header:)`.
    public private(set) var writer: TapeWriter?
    private var options: TapeWriterOptions
    private let clock: any CaptureClock
    private let session: String

    /// - Parameters:
    ///   - directory: the output folder (created if missing); a restart always opens a new segment.
    ///   - prefix: segment file-name prefix.
    ///   - rotateSizeBytes / rotateTimeNanoseconds: rotation limits (nil: none).
    ///   - flushIntervalNanoseconds: the writer's own flush bound (the capture writer thread
    ///     also calls `flush()` on its schedule).
    public init(
        directory: String, prefix: String, rotateSizeBytes: Int64?, rotateTimeNanoseconds: UInt64?,
        flushIntervalNanoseconds: UInt64 = 100 * SessionPolicy.millisecond, compressionLevel: Int32 = 3,
        clock: any CaptureClock = SystemClock()
    ) {
        var options = TapeWriterOptions(destination: .directory(directory, prefix: prefix))
        options.maxSegmentBytes = rotateSizeBytes
        options.maxSegmentDurationNs = rotateTimeNanoseconds.map { Int64(clamping: $0) }
        options.flushIntervalNs = Int64(clamping: flushIntervalNanoseconds)
        options.compressionLevel = compressionLevel
        self.options = options
        self.clock = clock
        let wall = clock.wallNanoseconds()
        self.session =
            "\(prefix)-\(TapeFormat.compactUTC(wallNs: Int64(clamping: wall)))-\(String(wall % 0xFFFFFF, radix: 16))"
    }

    /// Every segment file written so far.
    public var segmentPaths: [String] { writer?.segmentPaths ?? [] }

    public func begin(header: CaptureHeader) throws {
        var sideData: [String: AssetSideData] = [:]
        for item in header.sideData {
            let data = AssetSideData(
                market: item.market, minOrderSize: item.minOrderSize, negRisk: item.negRisk, tickSize: item.tickSize)
            if !data.isEmpty { sideData[item.assetId] = data }
        }
        var tapeHeader = TapeHeader(
            createdNs: Int64(clamping: header.createdWallNanoseconds), source: header.sourceURL, session: session,
            assets: header.assets, sideData: sideData)
        tapeHeader.writer = "\(header.writer) (\(TapeFormat.writerVersion))"
        writer = try TapeWriter(
            options: options, header: tapeHeader, nowWallNs: Int64(clamping: clock.wallNanoseconds()),
            nowMonoNs: Int64(clamping: clock.monotonicNanoseconds()))
    }

    public func write(frame: CapturedFrame) throws {
        guard let writer else { throw CaptureError("tape written before its header") }
        try frame.bytes.withUnsafeBytes {
            _ = try writer.writeFrame(
                $0, recvWallNs: Int64(clamping: frame.wallNanoseconds),
                monoNs: Int64(clamping: frame.monotonicNanoseconds), conn: frame.connection)
        }
    }

    public func write(event: TimedConnectionEvent) throws {
        guard let writer else { throw CaptureError("tape written before its header") }
        let (kind, connection, detail) = Self.tapeEvent(event.event)
        try writer.writeEvent(
            kind, conn: connection, recvWallNs: Int64(clamping: event.wallNanoseconds),
            monoNs: Int64(clamping: event.monotonicNanoseconds), detail: detail)
    }

    /// How a capture event is written as a tape event line.
    public static func tapeEvent(_ event: ConnectionEvent) -> (TapeEventKind, UInt32, TapeEventDetail) {
        switch event {
        case .connected(let connection, let shard, let url, let attempt):
            return (.connected, connection, TapeEventDetail(url: url, name: "shard \(shard)", attempt: attempt))
        case .subscribed(let connection, let shard, let assets):
            return (.subscribed, connection, TapeEventDetail(name: "shard \(shard)", assets: assets))
        case .disconnected(let connection, let shard, let code, let reason):
            return (
                .disconnected, connection,
                TapeEventDetail(name: "shard \(shard)", closeCode: code.map(Int.init), reason: reason)
            )
        case .connectFailed(let shard, let attempt, let reason):
            // No connection exists yet: connection 0 never carries frames.
            return (.disconnected, 0, TapeEventDetail(name: "shard \(shard)", error: reason, attempt: attempt))
        case .reconnecting(let shard, let attempt, let delay):
            return (
                .reconnecting, 0,
                TapeEventDetail(name: "shard \(shard)", attempt: attempt, delayMs: Int(delay / 1_000_000))
            )
        case .gap(let connection, let shard, let reason, _, _):
            return (.gap, connection, TapeEventDetail(name: "shard \(shard)", reason: reason))
        }
    }

    public func flush() throws {
        try writer?.flush()
    }

    public func finish(summary: CaptureSummary) throws {
        try writer?.close()
    }

    public var byteCounts: SinkByteCounts {
        guard let stats = writer?.stats else { return SinkByteCounts() }
        return SinkByteCounts(
            uncompressed: UInt64(stats.uncompressedBytes), written: UInt64(stats.compressedBytes),
            segments: stats.segments)
    }
}
