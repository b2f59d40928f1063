import CZstd
import Foundation
import TestSupport
import Testing

@testable import Tape

/// Damaged and wrong inputs: each gives a clear message (library) and a defined exit
/// status (CLI, by running the built `replay`).
@Suite struct CorruptInputTests {
    /// A clean synthetic tape of `frames` numbered frames; returns its path.
    static func makeTape(in folder: TemporaryFolder, frames: Int = 3000, name: String = "clean.ndjson.zst") throws
        -> String
    {
        let path = folder.file(name)
        let writer = try TapeWriter(
            options: TapeWriterOptions(destination: .file(path, overwrite: false)), header: testHeader(),
            nowWallNs: 1, nowMonoNs: 1)
        for index in 1...frames {
            try writer.writeFrame(
                Array(#"{"n":\#(index),"pad":"abcdefghijklmnopqrstuvwxyz0123456789"}"#.utf8),
                recvWallNs: Int64(index) * 1_000_000, monoNs: Int64(index), conn: 0)
        }
        try writer.close()
        return path
    }

    static func frameNumber(_ frame: ReadFrame) -> Int? {
        let text = String(decoding: frame.bytes, as: UTF8.self)
        guard let start = text.range(of: #"{"n":"#), let end = text.range(of: ",") else { return nil }
        return Int(text[start.upperBound..<end.lowerBound])
    }

    @Test func truncatedZstdReturnsThePrefixAndReportsTheTornTail() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.makeTape(in: folder)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        let torn = folder.file("torn.ndjson.zst")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: torn))
        let (frames, report, _) = try readFrames([torn])
        #expect(!frames.isEmpty)
        // Everything returned is an exact prefix of the clean tape, in order.
        #expect(frames.compactMap(Self.frameNumber) == (0..<frames.count).map { $0 + 1 })
        let tail = try #require(report.tornTails.first)
        #expect(report.tornTails.count == 1)
        #expect(tail.file == torn)
        #expect(tail.lastGoodLine == frames.count + 1)  // header + frames
        #expect(tail.droppedCompressedBytes > 0)
        #expect(tail.reason.contains("truncated zstd frame"))
        #expect(!report.endedWithFooter)
        #expect(throws: TapeError.self) { try readFrames([torn], strict: true) }
    }

    @Test func halfALineInPlainNDJSONIsDroppedAndCounted() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("half.ndjson")
        let header = String(decoding: testHeader().renderLine(), as: UTF8.self)
        let full = #"{"kind":"frame","recv_ns":1,"mono_ns":1,"conn":0,"seq":1,"frame":{"a":1}}"#
        let half = #"{"kind":"frame","recv_ns":2,"mono"#
        try (header + "\n" + full + "\n" + half).write(toFile: path, atomically: true, encoding: .utf8)
        let (frames, report, _) = try readFrames([path])
        #expect(frames.count == 1)
        #expect(
            report.tornTails == [
                TornTail(
                    file: path, lastGoodLine: 2, droppedLineBytes: half.utf8.count, droppedCompressedBytes: 0,
                    reason: "incomplete last line (no newline)")
            ])
    }

    @Test func garbageIsNotATape() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("garbage.bin")
        var random = SeededRandom(seed: 9)
        try Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }).write(
            to: URL(fileURLWithPath: path))
        // Binary bytes: not a tape, and not a capture either (tape import refuses binaries), so
        // the message does not send the user to tape import (regression, newcomer review).
        #expect {
            try readFrames([path])
        } throws: { error in
            guard case .notATape(let file, _) = error as? TapeError else { return false }
            return file == path && "\(error)".contains("binary file") && !"\(error)".contains("replay tape import")
        }
        // Text that is not a tape may be a capture: that message does suggest tape import.
        let text = folder.file("notes.txt")
        try "some notes\nnot a tape\n".write(toFile: text, atomically: true, encoding: .utf8)
        #expect {
            try readFrames([text])
        } throws: { error in
            "\(error)".contains("replay tape import \(text)")
        }
    }

    @Test func garbageAfterAValidPrefixIsATornTail() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // Frames that compress poorly, so the file spans many 16 KiB decoder steps: damage in the
        // last quarter must leave everything decoded before it. (Regression: the reader fed the
        // whole 1 MiB read to one libzstd call, which on an error reports none of what it had
        // decoded: this test passed with 0 frames.)
        let path = folder.file("clean.ndjson.zst")
        let writer = try TapeWriter(
            options: TapeWriterOptions(destination: .file(path, overwrite: false)), header: testHeader(),
            nowWallNs: 1, nowMonoNs: 1)
        var random = SeededRandom(seed: 5)
        for index in 1...5000 {
            let pad = (0..<8).map { _ in String(random.next(), radix: 16) }.joined()
            try writer.writeFrame(
                Array(#"{"n":\#(index),"pad":"\#(pad)"}"#.utf8), recvWallNs: Int64(index) * 1_000_000,
                monoNs: Int64(index), conn: 0)
        }
        try writer.close()
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        #expect(bytes.count > 8 * TapeReader.zstdInputStep)
        // Corrupt the last quarter: the decoder fails there; everything before stays readable.
        for index in (bytes.count * 3 / 4)..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: index &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (frames, report, _) = try readFrames([path])
        #expect(frames.compactMap(Self.frameNumber) == (0..<frames.count).map { $0 + 1 })
        #expect(report.tornTails.count == 1)
        #expect(frames.count > 2000 && frames.count < 5000, "\(frames.count) frames survived")
    }

    /// Regression (newcomer review): a tape cut inside its header line (plain: "not a PolyTape
    /// tape … run tape import", misleading; compressed: exit 0 with a torn tail and nothing
    /// replayed) is now one clear error for both.
    @Test(arguments: [false, true])
    func headerCutShortIsAnError(compressed: Bool) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.makeTape(in: folder, frames: 500)
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        let target = folder.file(compressed ? "cut.ndjson.zst" : "cut.ndjson")
        if !compressed {
            // The plain text of the tape, cut 20 bytes into its header line.
            let reader = try TapeReader(path: path)
            let header = try #require(try reader.nextLine())
            bytes = Array(UnsafeRawBufferPointer(rebasing: header[0..<20]))
        } else {
            // The zstd frame header and a few bytes of the first block: not even the header line.
            bytes = Array(bytes[0..<24])
        }
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        #expect {
            try readFrames([target])
        } throws: { error in
            guard case .headerCut(let file, _) = error as? TapeError else { return false }
            return file == target && "\(error)".contains("ends inside its header line")
        }
    }

    /// Regression: corrupt bytes in the middle of a small single-frame tape (one zstd block, so
    /// no line decodes) were reported as "the tape ends inside its header line"; it is corrupt
    /// data at a place in the file, not a tape cut short.
    @Test func corruptDataBeforeTheFirstLineIsNotAHeaderCut() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.makeTape(in: folder, frames: 300)
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        for index in (bytes.count / 2)..<(bytes.count / 2 + 16) { bytes[index] ^= 0xFF }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            try readFrames([path])
        } throws: { error in
            guard case .corruptBeforeHeader(let damage) = error as? TapeError else { return false }
            let text = "\(error)"
            return damage.file == path && damage.corrupt && damage.offset != nil && text.contains("corrupt zstd data")
                && text.contains("not a tape cut short") && !text.contains("ends inside its header line")
        }
    }

    /// Regression: corrupt data in the middle of a single-frame tape of several zstd blocks was
    /// called a torn tail with 0 undecodable compressed bytes. It is corrupt data at a compressed
    /// byte offset, the lines before it are read, and what follows it is counted as dropped.
    @Test func corruptDataInTheMiddleOfTheOnlyFrameKeepsTheLinesBeforeIt() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.makeTape(in: folder, frames: 20000)
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        var random = SeededRandom(seed: 11)
        let damageStart = bytes.count * 3 / 4
        for index in damageStart..<(damageStart + 512) { bytes[index] = UInt8.random(in: 0...255, using: &random) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (frames, report, header) = try readFrames([path])
        #expect(header != nil)
        #expect(frames.count > 100 && frames.count < 20000, "\(frames.count) frames")
        #expect(frames.prefix(100).compactMap(Self.frameNumber) == Array(1...100))
        let damage = try #require(report.tornTails.first)
        #expect(report.tornTails.count == 1)
        #expect(damage.corrupt)
        #expect(damage.reason.hasPrefix("corrupt zstd data ("))
        #expect(damage.resumedAt == nil)
        let offset = try #require(damage.offset)
        #expect(offset > 0 && offset <= Int64(damageStart))
        #expect(damage.droppedCompressedBytes == bytes.count - Int(offset))
        #expect(damage.description.contains("\(path): corrupt data at compressed byte \(offset)"))
        #expect(!damage.description.contains("torn tail"))
        #expect(report.compressedBytes == Int64(bytes.count))
        #expect(throws: TapeError.self) { try readFrames([path], strict: true) }
    }

    /// A tape of several zstd frames in one file: the middle frame is damaged (its header bytes
    /// overwritten), the last one is intact.
    static func threeFrameTape(in folder: TemporaryFolder, frames: Int, cutLine: Bool) throws -> (
        path: String, starts: [Int], size: Int
    ) {
        var random = SeededRandom(seed: 21)
        var text = Array(testHeader().renderLine()) + [0x0A]
        for index in 1...frames {
            let pad = (0..<8).map { _ in String(random.next(), radix: 16) }.joined()
            text +=
                Array(
                    #"{"kind":"frame","recv_ns":\#(index),"mono_ns":\#(index),"conn":0,"seq":\#(index),"frame":{"n":\#(index),"pad":"\#(pad)"}}"#
                        .utf8) + [0x0A]
        }
        // Cut into thirds at line ends, or a few bytes into a line.
        var cuts = [0, text.count / 3, text.count * 2 / 3, text.count]
        for index in 1...2 {
            cuts[index] = text[cuts[index]...].firstIndex(of: 0x0A)! + 1 + (cutLine ? 7 : 0)
        }
        var file: [UInt8] = []
        var starts: [Int] = []
        for index in 0..<3 {
            starts.append(file.count)
            let chunk = Array(text[cuts[index]..<cuts[index + 1]])
            var compressed = [UInt8](repeating: 0, count: ZSTD_compressBound(chunk.count))
            let size = ZSTD_compress(&compressed, compressed.count, chunk, chunk.count, 1)
            #expect(ZSTD_isError(size) == 0)
            file += compressed.prefix(size)
        }
        for index in (starts[1] + 4)..<(starts[1] + 64) { file[index] = 0xFF }
        let path = folder.file("frames.ndjson.zst")
        try Data(file).write(to: URL(fileURLWithPath: path))
        return (path, starts, file.count)
    }

    /// Regression: a corrupt zstd frame followed by good ones was reported as a torn tail with 0
    /// dropped compressed bytes, and everything after it was lost. The reader now skips to the
    /// next frame, counts the skipped bytes, names the place, and reads on; `tape info` shows the
    /// file's real size (it showed 1048576, one read buffer).
    @Test(arguments: [false, true])
    func corruptFrameInTheMiddleIsSkippedCountedAndReadPast(cutLine: Bool) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let total = 20000
        let (path, starts, size) = try Self.threeFrameTape(in: folder, frames: total, cutLine: cutLine)
        #expect(size > 1 << 20)
        let (frames, report, _) = try readFrames([path])
        let numbers = frames.compactMap(Self.frameNumber)
        #expect(numbers.count == frames.count)
        #expect(numbers.first == 1 && numbers.last == total)
        #expect(frames.count > total / 2 && frames.count < total * 3 / 4, "\(frames.count) frames")
        // Two runs of consecutive frames: the first and last thirds.
        let gap = try #require(numbers.indices.dropLast().first { numbers[$0 + 1] != numbers[$0] + 1 })
        #expect(numbers[(gap + 1)...].elementsEqual((numbers[gap + 1])...total))
        #expect(report.malformedLines == 0)
        let damage = try #require(report.tornTails.first)
        #expect(report.tornTails.count == 1)
        #expect(damage.corrupt)
        #expect(damage.offset == Int64(starts[1]))
        #expect(damage.resumedAt == Int64(starts[2]))
        #expect(damage.droppedCompressedBytes == starts[2] - starts[1])
        #expect(damage.lastGoodLine == numbers[gap] + 1)  // header + frames
        #expect((damage.droppedLineBytes > 0) == cutLine)
        #expect(
            damage.description.contains(
                "corrupt data in the middle of the segment at compressed byte \(starts[1]) (after line \(numbers[gap] + 1))"
            ))
        #expect(damage.description.contains("skipped \(starts[2] - starts[1]) compressed bytes"))
        #expect(report.compressedBytes == Int64(size))
        #expect {
            try readFrames([path], strict: true)
        } throws: { error in
            guard case .tornTail(let strict) = error as? TapeError else { return false }
            return strict.corrupt && strict.offset == damage.offset && strict.resumedAt == damage.resumedAt
        }
        guard !cutLine else { return }
        let (status, out, err) = try runReplay(["tape", "info", path])
        #expect(status == 0)
        #expect(out.contains("size:        \(size) bytes on disk"), "\(out)")
        #expect(out.contains("torn tails:  0; corrupt data: 1;"), "\(out)")
        #expect(err.contains("corrupt data in the middle of the segment"), "\(err)")
        #expect(!err.contains("torn tail"), "\(err)")
        let (_, json, _) = try runReplay(["tape", "info", "--json", path])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["compressed_bytes"] as? Int == size)
        #expect((object["torn_tails"] as? [Any])?.isEmpty == true)
        let corrupt = try #require((object["corrupt_data"] as? [[String: Any]])?.first)
        #expect(corrupt["offset"] as? Int == starts[1])
        #expect(corrupt["resumed_at"] as? Int == starts[2])
        #expect(corrupt["dropped_compressed_bytes"] as? Int == starts[2] - starts[1])
    }

    @Test func newerFormatVersionIsRefusedWithItsName() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("v9.ndjson")
        var header = testHeader()
        header.format = "polytape/9"
        try (String(decoding: header.renderLine(), as: UTF8.self) + "\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TapeError.unsupportedFormat(file: path, found: "polytape/9")) { try readFrames([path]) }
        #expect(
            TapeError.unsupportedFormat(file: path, found: "polytape/9").description.contains(
                "reads only \"polytape/1\""))
    }

    @Test func emptyFileIsAClearError() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("empty.ndjson.zst")
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        #expect(throws: TapeError.empty(file: path)) { try readFrames([path]) }
    }

    @Test func aLineThatIsNotJSONIsReportedWithFileAndLine() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("bad.ndjson")
        let header = String(decoding: testHeader().renderLine(), as: UTF8.self)
        let good = #"{"kind":"frame","recv_ns":1,"mono_ns":1,"conn":0,"seq":1,"frame":{"a":1}}"#
        try [header, good, "this is not json", good].joined(separator: "\n").appending("\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        let (frames, report, _) = try readFrames([path])
        #expect(frames.count == 2)
        #expect(report.malformedLines == 1)
        #expect(report.issues == [TapeIssue(file: path, line: 3, reason: "not a JSON object")])
        #expect(throws: TapeError.malformedLine(file: path, line: 3, reason: "not a JSON object")) {
            try readFrames([path], strict: true)
        }
    }

    @Test func missingFileIsNamed() {
        #expect(throws: TapeError.fileNotFound(path: "/nonexistent/x.ndjson.zst")) {
            try TapeReader(path: "/nonexistent/x.ndjson.zst")
        }
    }

    // MARK: CLI exit statuses

    @Test func cliExitStatusesForDamagedAndWrongInputs() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let clean = try Self.makeTape(in: folder, frames: 2000)
        let bytes = try #require(FileManager.default.contents(atPath: clean))
        let torn = folder.file("torn.ndjson.zst")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: torn))
        let empty = folder.file("empty.ndjson.zst")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let garbage = folder.file("garbage.bin")
        try Data(repeating: 0xAB, count: 100).write(to: URL(fileURLWithPath: garbage))
        let v9 = folder.file("v9.ndjson")
        var header = testHeader()
        header.format = "polytape/9"
        try (String(decoding: header.renderLine(), as: UTF8.self) + "\n").write(
            toFile: v9, atomically: true, encoding: .utf8)

        var (status, out, err) = try runReplay(["tape", "info", clean])
        #expect(status == 0)
        #expect(out.contains("frames:      2000"))
        (status, _, err) = try runReplay(["tape", "info", torn])
        #expect(status == 0)
        #expect(err.contains("torn tail after line"))
        (status, _, _) = try runReplay(["tape", "info", "--strict", torn])
        #expect(status == 2)
        (status, _, err) = try runReplay(["tape", "cat", "--strict", torn])
        #expect(status == 2)
        (status, _, err) = try runReplay(["tape", "info", empty])
        #expect(status == 1)
        #expect(err.contains("empty.ndjson.zst: the file is empty"))
        (status, _, err) = try runReplay(["tape", "info", garbage])
        #expect(status == 1)
        #expect(err.contains("not a PolyTape tape"))
        (status, _, err) = try runReplay(["tape", "cat", v9])
        #expect(status == 1)
        #expect(err.contains("polytape/9"))
        (status, _, err) = try runReplay(["tape", "info", folder.file("missing.ndjson.zst")])
        #expect(status == 1)
        #expect(err.split(separator: "\n").count == 1)
        #expect(err.contains("missing.ndjson.zst: no such file"))
        (status, _, err) = try runReplay(["tape", "info", "--bogus", clean])
        #expect(status == 64)
        #expect(err.hasPrefix("Error: unknown option '--bogus'"))
        (status, out, _) = try runReplay(["tape", "repair", torn, "-o", folder.file("fixed.ndjson.zst")])
        #expect(status == 0)
        #expect(out.contains("dropped: "))
        (status, out, _) = try runReplay(["tape", "info", "--json", folder.file("fixed.ndjson.zst")])
        #expect(status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(json["ended_with_footer"] as? Bool == true)
        #expect((json["torn_tails"] as? [Any])?.isEmpty == true)
        _ = out
    }

    @Test(arguments: ["info", "cat", "import", "slice", "repair", "synth"])
    func everyToolHasHelpWithExamplesAndRejectsBadUsage(_ tool: String) throws {
        let (status, out, _) = try runReplay(["tape", tool, "--help"])
        #expect(status == 0)
        #expect(out.contains("replay tape \(tool)"))
        #expect(out.contains("Examples:"))
        let (usageStatus, _, err) = try runReplay(["tape", tool, "--no-such-option"])
        #expect(usageStatus == 64)
        #expect(err.hasPrefix("Error: "))
    }
}

extension CorruptInputTests {
    /// Regression: a segment that is no tape at all (random bytes, or text without a header)
    /// among the segments of a folder ended the whole read with "not a PolyTape tape", losing the
    /// good segments after it. It is skipped, counted as a malformed line at its line 1 and
    /// reported with its name; strict mode stops at it. The first file still has to be a tape.
    @Test(arguments: ["binary", "binary without a line break", "text"])
    func aSegmentThatIsNoTapeAmongSegmentsIsSkipped(content: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Self.makeTape(in: folder, frames: 3, name: "s-000001.ndjson.zst")
        var random = SeededRandom(seed: 3)
        var bytes: [UInt8] = (0..<512).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes[0] = 0
        switch content {
        case "binary": bytes[100] = 0x0A
        case "binary without a line break": bytes = bytes.map { $0 == 0x0A ? 0x20 : $0 }
        default: bytes = Array("some notes\nnot a tape\n".utf8)
        }
        let foreign = folder.file("s-000002.ndjson.zst")
        try Data(bytes).write(to: URL(fileURLWithPath: foreign))
        _ = try Self.makeTape(in: folder, frames: 4, name: "s-000003.ndjson.zst")
        let reason = content == "text" ? "the first line is not a polytape header" : TapeError.binaryReason

        let (frames, report, _) = try readFrames([folder.path])
        #expect(frames.compactMap(Self.frameNumber) == [1, 2, 3, 1, 2, 3, 4])
        #expect(report.malformedLines == 1)
        #expect(
            report.issues == [
                TapeIssue(file: foreign, line: 1, reason: "not a PolyTape tape: \(reason); the segment was skipped")
            ])
        #expect(report.tornTails.isEmpty)
        #expect(throws: TapeError.foreignSegment(file: foreign, reason: reason)) {
            try readFrames([folder.path], strict: true)
        }
        // Named first, it is not a tape: an error, as for a single file.
        #expect(throws: TapeError.notATape(file: foreign, reason: reason)) {
            try readFrames([foreign, folder.file("s-000001.ndjson.zst")])
        }
    }
}
