// Live counters shared by the session threads, the writer thread and the status line.
import Glibc
import Synchronization

/// Counters updated lock-free by every capture thread and read by the status line.
public final class CaptureCounters: Sendable {
    let framesReceived = Atomic<UInt64>(0)
    let bytesReceived = Atomic<UInt64>(0)
    let framesWritten = Atomic<UInt64>(0)
    let eventsWritten = Atomic<UInt64>(0)
    let connectionsUp = Atomic<Int>(0)
    let connects = Atomic<UInt64>(0)
    let reconnects = Atomic<UInt64>(0)
    let connectAttemptsFailed = Atomic<UInt64>(0)
    /// The error of the latest failed connect attempt, for the "never connected" verdict.
    let lastConnectError = Mutex<String?>(nil)
    let keepaliveTimeouts = Atomic<UInt64>(0)
    let silenceTimeouts = Atomic<UInt64>(0)
    let serverCloses = Atomic<UInt64>(0)
    let pingsSent = Atomic<UInt64>(0)
    let pongsReceived = Atomic<UInt64>(0)
    let binaryFramesIgnored = Atomic<UInt64>(0)
    let queueDroppedFrames = Atomic<UInt64>(0)
    let queueFullEpisodes = Atomic<UInt64>(0)
    let queueHighWaterFrames = Atomic<Int>(0)
    let lastFrameMonotonic = Atomic<UInt64>(0)
    let bytesUncompressed = Atomic<UInt64>(0)
    let bytesWritten = Atomic<UInt64>(0)
    let segments = Atomic<Int>(0)
    let flushes = Atomic<UInt64>(0)
    /// CPU time spent by the capture's own threads (sessions and writer), added as each ends.
    let threadCPUNanoseconds = Atomic<UInt64>(0)

    public init() {}

    /// Adds the calling thread's CPU time so far (call once, as the thread ends).
    func addCallingThreadCPUTime() {
        var time = timespec()
        if clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time) == 0 {
            threadCPUNanoseconds.add(UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec), ordering: .relaxed)
        }
    }

    /// A consistent-enough copy for display and the final summary.
    public func snapshot() -> CaptureCountersSnapshot {
        CaptureCountersSnapshot(
            framesReceived: framesReceived.load(ordering: .relaxed),
            bytesReceived: bytesReceived.load(ordering: .relaxed),
            framesWritten: framesWritten.load(ordering: .relaxed),
            eventsWritten: eventsWritten.load(ordering: .relaxed),
            connectionsUp: connectionsUp.load(ordering: .relaxed),
            connects: connects.load(ordering: .relaxed),
            reconnects: reconnects.load(ordering: .relaxed),
            connectAttemptsFailed: connectAttemptsFailed.load(ordering: .relaxed),
            lastConnectError: lastConnectError.withLock { $0 },
            keepaliveTimeouts: keepaliveTimeouts.load(ordering: .relaxed),
            silenceTimeouts: silenceTimeouts.load(ordering: .relaxed),
            serverCloses: serverCloses.load(ordering: .relaxed),
            pingsSent: pingsSent.load(ordering: .relaxed),
            pongsReceived: pongsReceived.load(ordering: .relaxed),
            binaryFramesIgnored: binaryFramesIgnored.load(ordering: .relaxed),
            queueDroppedFrames: queueDroppedFrames.load(ordering: .relaxed),
            queueFullEpisodes: queueFullEpisodes.load(ordering: .relaxed),
            queueHighWaterFrames: queueHighWaterFrames.load(ordering: .relaxed),
            lastFrameMonotonicNanoseconds: lastFrameMonotonic.load(ordering: .relaxed),
            bytesUncompressed: bytesUncompressed.load(ordering: .relaxed),
            bytesWritten: bytesWritten.load(ordering: .relaxed),
            segments: segments.load(ordering: .relaxed),
            flushes: flushes.load(ordering: .relaxed),
            threadCPUNanoseconds: threadCPUNanoseconds.load(ordering: .relaxed))
    }

    func raiseHighWater(_ depth: Int) {
        var current = queueHighWaterFrames.load(ordering: .relaxed)
        while depth > current {
            let (exchanged, original) = queueHighWaterFrames.compareExchange(
                expected: current, desired: depth, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// A point-in-time copy of `CaptureCounters`.
public struct CaptureCountersSnapshot: Sendable, Equatable, Codable {
    public var framesReceived: UInt64
    public var bytesReceived: UInt64
    public var framesWritten: UInt64
    public var eventsWritten: UInt64
    public var connectionsUp: Int
    /// Connections established (websocket upgrade done), first ones and reconnects alike.
    public var connects: UInt64
    /// Connections established after an earlier connection of the same shard had been up.
    public var reconnects: UInt64
    /// Connect attempts that failed before the upgrade completed (refused, timed out, TLS, HTTP).
    public var connectAttemptsFailed: UInt64
    /// The error of the latest failed connect attempt.
    public var lastConnectError: String?
    public var keepaliveTimeouts: UInt64
    public var silenceTimeouts: UInt64
    public var serverCloses: UInt64
    public var pingsSent: UInt64
    public var pongsReceived: UInt64
    public var binaryFramesIgnored: UInt64
    /// Frames dropped because the writer queue stayed full; each run of drops is also a `gap` event.
    public var queueDroppedFrames: UInt64
    public var queueFullEpisodes: UInt64
    public var queueHighWaterFrames: Int
    public var lastFrameMonotonicNanoseconds: UInt64
    public var bytesUncompressed: UInt64
    public var bytesWritten: UInt64
    public var segments: Int
    public var flushes: UInt64
    /// CPU time of the capture threads that have ended (complete in the final summary).
    public var threadCPUNanoseconds: UInt64

    /// Uncompressed ÷ written bytes, or nil before anything was written.
    public var compressionRatio: Double? {
        bytesWritten == 0 ? nil : Double(bytesUncompressed) / Double(bytesWritten)
    }
}

/// The footer counts and the `--json` summary of a finished capture.
public struct CaptureSummary: Sendable, Equatable, Codable {
    public var startedWallNanoseconds: UInt64
    public var endedWallNanoseconds: UInt64
    public var assets: Int
    public var shards: Int
    /// How the run ended: "stopped" (signal or duration), "forced" (second signal), "failed".
    public var ending: String
    public var failure: String?
    public var counters: CaptureCountersSnapshot

    public init(
        startedWallNanoseconds: UInt64, endedWallNanoseconds: UInt64, assets: Int, shards: Int, ending: String,
        failure: String?, counters: CaptureCountersSnapshot
    ) {
        self.startedWallNanoseconds = startedWallNanoseconds
        self.endedWallNanoseconds = endedWallNanoseconds
        self.assets = assets
        self.shards = shards
        self.ending = ending
        self.failure = failure
        self.counters = counters
    }
}
