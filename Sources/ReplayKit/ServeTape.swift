// `replay serve`: the tape held in memory, so every client can play it from its own
// position (and loop) without re-reading or re-decompressing the file.
import Tape

/// One recorded frame as `replay serve` plays it.
struct ServeTapeFrame: Sendable {
    /// The frame byte-exact as recorded.
    var bytes: [UInt8]
    /// Receive time used for pacing: the monotonic clock when the tape has one, else wall time.
    var clockNs: Int64
    /// Line number in the tape file (1-based, the header is line 1), for `--drop-at` and logs.
    var line: Int
    /// Kept by `replay tape slice` from before its window only to rebuild book state:
    /// applied to the books, never sent.
    var warmup: Bool
    var layout: ServeFrameLayout
}

/// A tape loaded for serving: its frames (non-JSON keepalives such as `PONG` left out) and
/// the header's per-asset side data for the exchange hash.
///
/// The whole tape is held in memory: serving is a test and development tool, and per-client
/// positions and `--loop` are then plain indices. A tape of a few hundred MB decompressed is
/// fine; much larger recordings should be cut with `replay tape slice` first.
public final class ServeTape: Sendable {
    let frames: [ServeTapeFrame]
    /// Side data from the header, by asset id.
    let sideData: [String: AssetSideData]
    /// The paths it was read from.
    public let paths: [String]
    /// Frames read (the ones served).
    public var frameCount: Int { frames.count }
    /// Asset ids seen in frames, in order of first appearance.
    public let assetIDs: [String]
    /// What reading the tape met: torn tails, corrupt data and skipped lines are damage.
    let readReport: TapeReadReport

    /// Reads every frame of the tape at `paths` (a file, a folder of segments, or several).
    public init(paths: [String]) throws {
        let reader = try TapeReader(paths: paths)
        var frames: [ServeTapeFrame] = []
        var seen = Set<String>()
        var assets: [String] = []
        while let record = try reader.next() {
            guard case .frame(let frame) = record else { continue }
            let layout = ServeFrameLayout.scan(frame.bytes)
            guard layout.isJSON else { continue }
            for asset in layout.assetIDs where seen.insert(asset).inserted { assets.append(asset) }
            frames.append(
                ServeTapeFrame(
                    bytes: Array(frame.bytes), clockNs: frame.monoNs != 0 ? frame.monoNs : frame.recvWallNs,
                    line: reader.currentLineNumber, warmup: frame.warmup, layout: layout))
        }
        self.frames = frames
        self.sideData = reader.header?.sideData ?? [:]
        self.paths = paths
        self.assetIDs = assets
        self.readReport = reader.report
    }
}
