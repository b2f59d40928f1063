import Foundation
import TestSupport
import Testing

@testable import Tape

@Suite struct SegmentTests {
    static func frame(_ index: Int) -> [UInt8] {
        // Varied content so zstd cannot shrink it to nothing.
        var random = SeededRandom(seed: UInt64(index))
        let noise = (0..<24).map { _ in String(random.next() % 1000) }.joined(separator: ",")
        return Array(#"{"n":\#(index),"noise":[\#(noise)]}"#.utf8)
    }

    @Test func rotationBySizeGivesSeveralSegmentsThatReadBackAsOne() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var options = TapeWriterOptions(destination: .directory(folder.path, prefix: "session"))
        options.maxSegmentBytes = 16 * 1024
        options.flushIntervalNs = 1_000_000  // flush every ms of the fake clock: output grows steadily
        let writer = try TapeWriter(
            options: options, header: testHeader(), nowWallNs: 1_790_267_379_153_000_000, nowMonoNs: 0)
        for index in 1...5000 {
            try writer.writeFrame(
                Self.frame(index), recvWallNs: 1_790_267_379_153_000_000 + Int64(index) * 1_000_000,
                monoNs: Int64(index) * 1_000_000, conn: 0)
        }
        try writer.close()
        #expect(writer.segmentPaths.count >= 3)
        // Names sort in time order and the folder lists exactly these segments.
        let listed = try TapeReader.segmentFiles(for: [folder.path])
        #expect(listed == writer.segmentPaths)
        #expect(writer.segmentPaths == writer.segmentPaths.sorted())
        // The folder reads as one tape: every frame once, in order, sequence numbers continuous.
        let (frames, report, header) = try readFrames([folder.path], strict: true)
        #expect(frames.map(\.bytes) == (1...5000).map(Self.frame))
        #expect(frames.map(\.seq) == (1...5000).map { UInt64($0) })
        #expect(report.headers == writer.segmentPaths.count)
        #expect(report.footers == writer.segmentPaths.count)
        #expect(header?.segment == 1)
        // Each segment is a complete tape on its own (header first, footer last).
        for path in writer.segmentPaths {
            let (_, segmentReport, _) = try readFrames([path], strict: true)
            #expect(segmentReport.endedWithFooter)
        }
    }

    @Test func rotationByTimeUsesTheMonotonicClock() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var options = TapeWriterOptions(destination: .directory(folder.path, prefix: "timed"))
        options.maxSegmentDurationNs = 10_000_000_000
        let writer = try TapeWriter(options: options, header: testHeader(), nowWallNs: 1_000_000_000, nowMonoNs: 0)
        for second in 0..<35 {
            try writer.writeFrame(
                Self.frame(second), recvWallNs: 1_000_000_000 + Int64(second) * 1_000_000_000,
                monoNs: Int64(second) * 1_000_000_000, conn: 0)
        }
        try writer.close()
        #expect(writer.segmentPaths.count == 4)  // [0,10) [10,20) [20,30) [30,35)
        let (frames, _, _) = try readFrames([folder.path])
        #expect(frames.count == 35)
    }

    @Test func aRestartedWriterNeverAppendsToAnOldSegment() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let options = TapeWriterOptions(destination: .directory(folder.path, prefix: "cap"))
        // First writer "crashes": flushed but never closed.
        let first = try TapeWriter(options: options, header: testHeader(), nowWallNs: 5_000_000_000, nowMonoNs: 0)
        for index in 1...10 { try first.writeFrame(Self.frame(index), recvWallNs: 5_000_000_000, monoNs: 0, conn: 0) }
        try first.flush()
        let oldPath = first.currentSegmentPath
        let oldSize = try FileManager.default.attributesOfItem(atPath: oldPath)[.size] as? Int
        // Same wall-clock millisecond on restart: the sequence number still makes a new name.
        let second = try TapeWriter(options: options, header: testHeader(), nowWallNs: 5_000_000_000, nowMonoNs: 0)
        for index in 11...20 { try second.writeFrame(Self.frame(index), recvWallNs: 5_000_000_001, monoNs: 1, conn: 0) }
        try second.close()
        #expect(second.currentSegmentPath != oldPath)
        #expect(try FileManager.default.attributesOfItem(atPath: oldPath)[.size] as? Int == oldSize)
        let (frames, report, _) = try readFrames([folder.path])
        #expect(frames.map(\.bytes) == (1...20).map(Self.frame))
        #expect(report.files == [oldPath, second.currentSegmentPath])
        #expect(report.endedWithFooter)
    }

    @Test func flushIfDueFlushesOnlyAfterTheInterval() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var options = TapeWriterOptions(destination: .file(folder.file("f.ndjson.zst"), overwrite: false))
        options.flushIntervalNs = 100_000_000
        let writer = try TapeWriter(options: options, header: testHeader(), nowWallNs: 0, nowMonoNs: 0)
        let flushesAfterOpen = writer.stats.flushes
        try writer.writeFrame(Self.frame(1), recvWallNs: 0, monoNs: 1_000_000_000, conn: 0)
        #expect(writer.flushDeadlineMonoNs == 1_100_000_000)
        #expect(try writer.flushIfDue(nowMonoNs: 1_099_999_999) == false)
        #expect(try writer.flushIfDue(nowMonoNs: 1_100_000_000) == true)
        #expect(writer.stats.flushes == flushesAfterOpen + 1)
        #expect(writer.flushDeadlineMonoNs == nil)
        #expect(try writer.flushIfDue(nowMonoNs: 9_000_000_000) == false)
        // What was flushed is readable while the writer is still open.
        let (frames, _, _) = try readFrames([folder.file("f.ndjson.zst")])
        #expect(frames.map(\.bytes) == [Self.frame(1)])
        try writer.close()
    }

    /// Regression: a tool whose input or output failed halfway left `<output>.partial` behind.
    @Test func aWriterReleasedWithoutCloseRemovesItsPartialFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("out.ndjson.zst")
        var writer: TapeWriter? = try TapeWriter(
            options: TapeWriterOptions(destination: .file(output, overwrite: true)), header: testHeader(),
            nowWallNs: 0, nowMonoNs: 0)
        try writer?.writeFrame(Self.frame(1), recvWallNs: 0, monoNs: 0, conn: 0)
        #expect(FileManager.default.fileExists(atPath: TapeWriter.partialName(for: output, pid: getpid())))
        writer = nil
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func standardInputIsReadable() throws {
        let tape = Data(try Repo.bytes("tapes/g3-enrico-2026-09.ndjson.zst"))
        let (status, out, _) = try runReplay(["tape", "info", "-"], stdin: tape)
        #expect(status == 0)
        #expect(out.contains("frames:      110"))
    }
}
