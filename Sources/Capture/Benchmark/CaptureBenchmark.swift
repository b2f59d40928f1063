// Capture throughput at maximum speed: a loopback websocket feed sends recorded frames as
// fast as the socket takes them; the real capture stack (client, session, writer thread,
// zstd tape writer) records them into a temporary folder. Reports frames per second of
// wall time and per second of the capture threads' own CPU time.
import CShim
import Foundation
import Synchronization
import WebSocket

/// The result of one benchmark run.
public struct CaptureBenchmarkResult: Sendable, Codable {
    public var frames: UInt64
    public var connections: Int
    public var wallSeconds: Double
    /// CPU time of the capture's session and writer threads (not the feed server's).
    public var captureCPUSeconds: Double
    public var uncompressedBytes: UInt64
    public var compressedBytes: UInt64
    public var framesPerSecond: Double { Double(frames) / wallSeconds }
    /// Throughput one fully busy core would reach: frames ÷ capture CPU seconds.
    public var framesPerCPUSecond: Double { Double(frames) / captureCPUSeconds }
    public var cpuCoresUsed: Double { captureCPUSeconds / wallSeconds }
}

/// Runs the capture benchmark.
public enum CaptureBenchmark {
    /// Records `count` frames per connection (cycling through `frames`) from a loopback feed.
    public static func run(
        frames: [[UInt8]], countPerConnection: Int, connections: Int, directory: String, compressionLevel: Int32 = 3
    ) throws -> CaptureBenchmarkResult {
        precondition(!frames.isEmpty && countPerConnection > 0 && connections > 0)
        let server = try WebSocketServer(host: "127.0.0.1", port: 0)
        let feed = BenchmarkFeed(frames: frames, count: countPerConnection)
        server.start(handler: { connection in feed.serve(connection) })
        defer {
            feed.stop()
            server.stop()
        }
        let assets = (0..<connections).map { "bench-asset-\($0)" }
        var configuration = CaptureConfiguration(url: server.url(path: "/ws/market"), assets: assets, jitterSeed: 1)
        configuration.assetsPerConnection = 1
        let sink = TapeWriterSink(
            directory: directory, prefix: "bench", rotateSizeBytes: nil, rotateTimeNanoseconds: nil,
            compressionLevel: compressionLevel)
        let run = CaptureRun(
            configuration: configuration, factory: WebSocketConnectionFactory(), clock: SystemClock(), sink: sink)
        let target = UInt64(countPerConnection * connections)
        let started = cshim_monotonic_ns()
        try run.start()
        while run.counters.snapshot().framesWritten < target {
            if run.failure != nil { break }
            usleep(1000)
        }
        let finished = cshim_monotonic_ns()
        run.requestStop()
        let summary = run.wait(tickNanoseconds: 10_000_000)
        if let failure = summary.failure { throw CaptureError("benchmark capture failed: \(failure)") }
        return CaptureBenchmarkResult(
            frames: summary.counters.framesWritten, connections: connections,
            wallSeconds: Double(finished - started) / 1e9,
            captureCPUSeconds: Double(summary.counters.threadCPUNanoseconds) / 1e9,
            uncompressedBytes: summary.counters.bytesUncompressed, compressedBytes: summary.counters.bytesWritten)
    }
}

/// Sends frames as fast as the socket accepts them after each subscription, answering PINGs.
final class BenchmarkFeed: Sendable {
    private let frames: [[UInt8]]
    private let count: Int
    private let stopped = Atomic<Bool>(false)

    init(frames: [[UInt8]], count: Int) {
        self.frames = frames
        self.count = count
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    func serve(_ connection: WebSocketConnection) {
        defer { connection.abort() }
        // Wait for the subscription.
        while true {
            guard let message = try? connection.receive(timeout: .seconds(10)) else { return }
            if message.kind == .text && message.payload.first == UInt8(ascii: "{") { break }
            if message.kind == .close { return }
        }
        var sent = 0
        while sent < count && !stopped.load(ordering: .relaxed) {
            guard (try? connection.send(textUTF8: frames[sent % frames.count])) != nil else { return }
            sent += 1
            if sent & 1023 == 0, !answerPings(connection, wait: .zero) { return }
        }
        while !stopped.load(ordering: .relaxed) {
            if !answerPings(connection, wait: .milliseconds(50)) { return }
        }
    }

    private func answerPings(_ connection: WebSocketConnection, wait: Duration) -> Bool {
        guard let message = try? connection.receive(timeout: wait) else { return true }
        if message.kind == .close { return false }
        if message.kind == .text && message.text == "PING" { return (try? connection.send(text: "PONG")) != nil }
        return true
    }
}
