// The seam between the capture writer thread and the tape format. The production sink is
// the Tape module's writer; tests use an in-memory sink to check exactly what was written.

/// Side data the exchange-hash check needs for one asset, as the exchange writes it
/// (strings kept verbatim: "0.01", "5"), fetched over REST before recording starts.
public struct AssetMetadata: Sendable, Equatable, Codable {
    public var assetId: String
    /// The market's condition id (0x + 64 hex), when known.
    public var market: String?
    public var minOrderSize: String?
    public var tickSize: String?
    public var negRisk: Bool?

    public init(
        assetId: String, market: String? = nil, minOrderSize: String? = nil, tickSize: String? = nil,
        negRisk: Bool? = nil
    ) {
        self.assetId = assetId
        self.market = market
        self.minOrderSize = minOrderSize
        self.tickSize = tickSize
        self.negRisk = negRisk
    }
}

/// What the tape header says about a capture session.
public struct CaptureHeader: Sendable, Equatable {
    public var sourceURL: String
    public var assets: [String]
    public var sideData: [AssetMetadata]
    public var createdWallNanoseconds: UInt64
    public var writer: String

    public init(
        sourceURL: String, assets: [String], sideData: [AssetMetadata], createdWallNanoseconds: UInt64,
        writer: String = CaptureVersion.writer
    ) {
        self.sourceURL = sourceURL
        self.assets = assets
        self.sideData = sideData
        self.createdWallNanoseconds = createdWallNanoseconds
        self.writer = writer
    }
}

/// The version string written into tape headers.
public enum CaptureVersion {
    public static let writer = "polytape-capture/0.1"
}

/// Byte counts a sink reports so the status line can show bytes written and compression.
public struct SinkByteCounts: Sendable, Equatable {
    /// Bytes of NDJSON produced (before compression).
    public var uncompressed: UInt64
    /// Bytes that reached the segment files.
    public var written: UInt64
    public var segments: Int

    public init(uncompressed: UInt64 = 0, written: UInt64 = 0, segments: Int = 0) {
        self.uncompressed = uncompressed
        self.written = written
        self.segments = segments
    }
}

/// Where the writer thread puts frames and events. Only the writer thread calls it, so
/// implementations need no locking. `flush()` is called at least every flush interval
/// (default 80 ms) while there is unflushed data; after it returns, everything written so
/// far must survive a kill -9 of the process.
public protocol CaptureTapeSink: AnyObject, SendableMetatype {
    func begin(header: CaptureHeader) throws
    func write(frame: CapturedFrame) throws
    func write(event: TimedConnectionEvent) throws
    func flush() throws
    /// Writes the footer and closes the current segment.
    func finish(summary: CaptureSummary) throws
    var byteCounts: SinkByteCounts { get }
}
