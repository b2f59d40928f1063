// `replay tape bench` (hidden; run by tools/bench-tape): reader and writer throughput on
// one tape, median of several runs.
import CommandLineSupport
import Foundation
import Tape

#if canImport(Glibc)
    import Glibc
#endif

/// Hidden benchmark helper behind tools/bench-tape.
enum TapeBenchCommand: Subcommand {
    static let name = "bench"
    static let summary = "(hidden) reader and writer throughput"
    static let usage = "replay tape bench TAPE [--runs 5]"
    static let help = """
        replay tape bench — measure tape reading and writing speed (used by tools/bench-tape)

        Usage: \(usage)

        Reports, as medians over --runs runs: decompress + line split (TapeReader.nextLine),
        decompress + split + envelope parse (TapeReader.next), and the writer (frames held in
        memory, written with TapeWriter at zstd level 3 into a temporary file, flushed every
        100 ms of the tape's own clock). Throughput is NDJSON bytes per second.

        Examples:
          replay tape bench /tmp/bench-tape.ndjson.zst --runs 5
        """

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    static func run(_ words: [String]) throws -> Int32 {
        let arguments = try Arguments(words, options: ["runs"], flags: ["help"])
        guard let path = arguments.positionals.first else { throw UsageError("name a tape") }
        let runs = try arguments.int("runs", default: 5, range: 1...100)
        do {
            var lineTimes: [Double] = []
            var recordTimes: [Double] = []
            var bytes: Int64 = 0
            var lines = 0
            var frames = 0
            for _ in 0..<runs {
                let reader = try TapeReader(path: path)
                let start = now()
                var count = 0
                while let line = try reader.nextLine() { count &+= line.count > 0 ? 1 : 0 }
                lineTimes.append(now() - start)
                bytes = reader.report.decompressedBytes
                lines = count
            }
            for _ in 0..<runs {
                let reader = try TapeReader(path: path)
                let start = now()
                var count = 0
                while let record = try reader.next() {
                    if case .frame(let frame) = record { count &+= frame.bytes.count > 0 ? 1 : 0 }
                }
                recordTimes.append(now() - start)
                frames = count
            }
            // Writer: hold the frames in memory first so only writing is timed.
            var held: [([UInt8], Int64, Int64, UInt32)] = []
            let reader = try TapeReader(path: path)
            try reader.forEachFrame { held.append((Array($0.bytes), $0.recvWallNs, $0.monoNs, $0.conn)) }
            let header = reader.header ?? TapeHeader(createdNs: 0, source: "bench", session: "bench")
            var writeTimes: [Double] = []
            var written: Int64 = 0
            var compressed: Int64 = 0
            for run in 0..<runs {
                let output = NSTemporaryDirectory() + "tape-bench-\(getpid())-\(run).ndjson.zst"
                defer { unlink(output) }
                var options = TapeWriterOptions(destination: .file(output, overwrite: true))
                options.syncOnFinish = false
                let start = now()
                let writer = try TapeWriter(options: options, header: header, nowWallNs: header.createdNs, nowMonoNs: 0)
                for frame in held {
                    try writer.writeFrame(frame.0, recvWallNs: frame.1, monoNs: frame.2, conn: frame.3)
                }
                try writer.close()
                writeTimes.append(now() - start)
                written = writer.stats.uncompressedBytes
                compressed = writer.stats.compressedBytes
            }
            let gb = Double(bytes) / 1e9
            try StandardOutput.print("tape: \(path)")
            try StandardOutput.print(String(format: "  %d lines, %d frames, %.3f GB NDJSON", lines, frames, gb))
            try StandardOutput.print(
                String(
                    format: "  read lines  (decompress + split):         %.3f s  %.2f GB/s", median(lineTimes),
                    gb / median(lineTimes)))
            try StandardOutput.print(
                String(
                    format: "  read records (+ envelope parse):          %.3f s  %.2f GB/s  %.2f M frames/s",
                    median(recordTimes), gb / median(recordTimes), Double(frames) / median(recordTimes) / 1e6))
            try StandardOutput.print(
                String(
                    format:
                        "  write (zstd 3, flush per 100 ms of tape): %.3f s  %.0f MB/s  %.2f M frames/s  (ratio %.1f)",
                    median(writeTimes), Double(written) / 1e6 / median(writeTimes),
                    Double(held.count) / median(writeTimes) / 1e6, Double(written) / Double(max(compressed, 1))))
        } catch {
            throw TapeCommand.fail(error)
        }
        return ExitStatus.success
    }
}
