import Capture
// `capture bench`: capture throughput from a loopback feed at maximum speed (see
// docs/BENCHMARKS.md "Capture" and tools/bench-capture).
import CommandLineSupport
import Foundation

enum BenchCommand: CaptureSubcommand {
    static let name = "bench"
    static let summary = "measure capture throughput from a loopback feed at maximum speed"
    static let usage = "capture bench --frames FILE [--count N] [--connections N] [--runs N] [--level N] [--json]"
    static let help = """
        capture bench — capture throughput: frames/s and CPU while writing compressed tapes

        A loopback websocket feed (in this process, on its own threads) sends the frames of FILE
        (one frame per line, e.g. Fixtures/corpus/g2-aaimek-2025-01/frames.ndjson) in a loop as fast
        as the socket takes them; the real capture stack records them into a temporary folder.
        Reports wall-clock frames/s and frames per CPU-second of the capture threads alone
        (the feed's CPU is not counted), as the median of --runs runs.

        Usage: \(usage)

        Options:
          --frames FILE       frames to send, one per line
          --count N           frames per connection (default 500000)
          --connections N     parallel connections (default 1)
          --runs N            repeat and report the median (default 3)
          --level N           zstd level (default 3)
          --json              print the runs as JSON

        Example:
          swift run -c release capture bench --frames Fixtures/corpus/g2-aaimek-2025-01/frames.ndjson
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        let parsed = try Arguments(
            arguments, options: ["frames", "count", "connections", "runs", "level"], flags: ["json", "help"])
        guard let path = parsed.value("frames") else { throw UsageError("--frames FILE is required") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CaptureError("cannot read frames file '\(path)'")
        }
        let frames = data.split(separator: 0x0A).map { Array($0) }.filter { !$0.isEmpty }
        guard !frames.isEmpty else { throw CaptureError("'\(path)' holds no frames") }
        let count = try parsed.int("count", default: 500_000, range: 1...100_000_000)
        let connections = try parsed.int("connections", default: 1, range: 1...64)
        let runs = try parsed.int("runs", default: 3, range: 1...20)
        let level = try parsed.int("level", default: 3, range: 1...19)
        var results: [CaptureBenchmarkResult] = []
        for index in 0..<runs {
            let directory = NSTemporaryDirectory() + "capture-bench-\(getpid())-\(index)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try CaptureBenchmark.run(
                frames: frames, countPerConnection: count, connections: connections, directory: directory,
                compressionLevel: Int32(level))
            results.append(result)
            if !parsed.flag("json") {
                try StandardOutput.print(
                    String(
                        format:
                            "run %d: %llu frames in %.2f s = %.0f frames/s; capture CPU %.2f s = %.0f frames/CPU-s (%.2f cores); %.1f MiB -> %.1f MiB (%.1fx)",
                        index + 1, result.frames, result.wallSeconds, result.framesPerSecond, result.captureCPUSeconds,
                        result.framesPerCPUSecond, result.cpuCoresUsed, Double(result.uncompressedBytes) / 1_048_576,
                        Double(result.compressedBytes) / 1_048_576,
                        Double(result.uncompressedBytes) / Double(max(result.compressedBytes, 1))))
            }
        }
        let median = results.sorted { $0.framesPerSecond < $1.framesPerSecond }[results.count / 2]
        let medianCPU = results.map(\.framesPerCPUSecond).sorted()[results.count / 2]
        if parsed.flag("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try StandardOutput.print(String(decoding: try encoder.encode(results), as: UTF8.self))
        } else {
            try StandardOutput.print(
                String(
                    format: "median of %d: %.0f frames/s wall, %.0f frames per capture CPU-second (target >= 50000)",
                    results.count, median.framesPerSecond, medianCPU))
        }
        return CaptureExitStatus.success
    }
}
