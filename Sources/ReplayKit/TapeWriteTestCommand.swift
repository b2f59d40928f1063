// `replay tape write-test` (hidden): a writer that runs until it is killed, for the
// crash-safety test. After every flush it prints `flushed <frames>` so the test knows
// what must survive a kill -9.
import CommandLineSupport
import Foundation
import Tape

#if canImport(Glibc)
    import Glibc
#endif

/// Hidden crash-safety helper: writes numbered frames to a segment folder forever.
enum TapeWriteTestCommand: Subcommand {
    static let name = "write-test"
    static let summary = "(hidden) write numbered frames until killed, reporting each flush"
    static let usage = "replay tape write-test --dir DIR [--flush-ms 10] [--segment-bytes N] [--frames N]"
    static let help = """
        replay tape write-test — (testing aid) write numbered frames into DIR until killed

        Usage: \(usage)

        Frame n is {"n":n,"pad":"..."} (every 7th frame is the text PONG). After each flush
        the command prints `flushed <frames>` on stdout: those frames must be readable after
        kill -9. With --frames it closes cleanly after that many frames.
        """

    static func run(_ words: [String]) throws -> Int32 {
        let arguments = try Arguments(words, options: ["dir", "flush-ms", "segment-bytes", "frames"], flags: ["help"])
        guard let directory = arguments.value("dir") else { throw UsageError("--dir is required") }
        let flushMs = try arguments.int("flush-ms", default: 10, range: 1...10_000)
        let segmentBytes = try arguments.int("segment-bytes", default: 0, range: 0...Int.max)
        let limit = try arguments.int("frames", default: 0, range: 0...Int.max)
        var options = TapeWriterOptions(destination: .directory(directory, prefix: "writetest"))
        options.flushIntervalNs = Int64(flushMs) * 1_000_000
        if segmentBytes > 0 { options.maxSegmentBytes = Int64(segmentBytes) }
        func now() -> (Int64, Int64) {
            var wall = timespec()
            var mono = timespec()
            clock_gettime(CLOCK_REALTIME, &wall)
            clock_gettime(CLOCK_MONOTONIC, &mono)
            return (
                Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec),
                Int64(mono.tv_sec) * 1_000_000_000 + Int64(mono.tv_nsec)
            )
        }
        let (wall, mono) = now()
        let header = TapeHeader(createdNs: wall, source: "write-test", session: "write-test-\(getpid())", assets: [])
        do {
            let writer = try TapeWriter(options: options, header: header, nowWallNs: wall, nowMonoNs: mono)
            let pad = String(repeating: "abcdefghij", count: 12)
            var flushes = writer.stats.flushes
            var index = 0
            while limit == 0 || index < limit {
                index += 1
                let frame = index % 7 == 0 ? "PONG" : #"{"n":\#(index),"pad":"\#(pad)"}"#
                let (wallNow, monoNow) = now()
                try writer.writeFrame(Array(frame.utf8), recvWallNs: wallNow, monoNs: monoNow, conn: 0)
                if index % 16 == 0 { usleep(200) }
                try writer.flushIfDue(nowMonoNs: monoNow)
                if writer.stats.flushes != flushes {
                    flushes = writer.stats.flushes
                    // A flush by rotation (the old segment closed, the new one's header written)
                    // happens before frame `index` is written to the new segment: that frame is
                    // still pending unless a flush came after it.
                    let durable = writer.flushDeadlineMonoNs == nil ? index : index - 1
                    let line = "flushed \(durable)\n"
                    _ = line.withCString { Glibc.write(1, $0, strlen($0)) }
                }
            }
            try writer.close()
        } catch {
            throw TapeCommand.fail(error)
        }
        return ExitStatus.success
    }
}
