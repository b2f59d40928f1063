import Foundation
import TestSupport
import Testing

@testable import Tape

@Suite struct ImportTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var path: String
        var shape: ImportShape
        var frames: Int
        var events: Int
        var testDescription: String { path }
    }

    /// Every corpus file that holds frames, with the exact counts it must import to.
    static let cases: [Case] = [
        Case(path: "corpus/g2-aaimek-2025-01/frames.ndjson", shape: .rawFrames, frames: 3829, events: 0),
        Case(path: "corpus/g3-enrico-2026-09/frames.jsonl", shape: .payloadReceiveWall, frames: 110, events: 1),
        Case(
            path: "corpus/g3-nslaughter-2026-10/stream-no-replay--repro.jsonl", shape: .timeKindText, frames: 25,
            events: 9),
        Case(
            path: "corpus/g3-nslaughter-2026-10/settled-subscription--mixed.jsonl", shape: .timeKindText, frames: 1,
            events: 3),
        Case(
            path: "corpus/book-nautilus-2026-08/nautilus_ws_book_snapshot_captured.json", shape: .singleJSON,
            frames: 1, events: 0),
        Case(path: "corpus/g2-aaimek-2025-01/book_message_example.json", shape: .singleJSON, frames: 1, events: 0),
        Case(
            path: "corpus/g2-aaimek-2025-01/price_change_message_example.json", shape: .singleJSON, frames: 1,
            events: 0),
        Case(
            path: "corpus/hash-vectors/raw/go_comment_capture_2025-12-23.jsonl", shape: .rawFrames, frames: 3, events: 0
        ),
        Case(
            path: "corpus/hash-vectors/raw/polypy__tests_orderbook_data_ws_msg_book_yes.json", shape: .rawFrames,
            frames: 1, events: 0),
    ]

    @Test(arguments: cases)
    func corpusFileImportsWithExactCounts(_ item: Case) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("out.ndjson.zst")
        let report = try TapeImporter.importFiles([Repo.fixture(item.path).path], to: output)
        #expect(report.inputs.map(\.shape) == [item.shape])
        #expect(report.frames == item.frames)
        #expect(report.events == item.events)
        #expect(report.inputs[0].skipped.isEmpty)
        let (frames, read, header) = try readFrames([output], strict: true)
        #expect(frames.count == item.frames)
        #expect(read.events == item.events)
        #expect(read.endedWithFooter)
        #expect(header?.source.hasPrefix("import:\(item.shape.rawValue):") == true)
        // The header's creation time comes from the data (never 1970, never now).
        #expect((header?.createdNs ?? 0) > 1_700_000_000_000_000_000)
        #expect((header?.createdNs ?? 0) < 1_800_000_000_000_000_000)
    }

    @Test func rawFramesComeBackByteExact() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("g2.ndjson.zst")
        _ = try TapeImporter.importFiles([Repo.fixture("corpus/g2-aaimek-2025-01/frames.ndjson").path], to: output)
        let lines = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
        let (frames, _, _) = try readFrames([output])
        #expect(frames.map(\.bytes) == lines)
        #expect(frames.allSatisfy { $0.encoding == .json })
        // Receive time = the frame's exchange timestamp: first frame 1737825347925 ms.
        #expect(frames.first?.recvWallNs == 1_737_825_347_925_000_000)
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.monoNs <= $1.monoNs })
    }

    @Test func payloadRecordsKeepFramesAndClocks() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("enrico.ndjson.zst")
        _ = try TapeImporter.importFiles([Repo.fixture("corpus/g3-enrico-2026-09/frames.jsonl").path], to: output)
        let lines = try Repo.lines("corpus/g3-enrico-2026-09/frames.jsonl")
        let (frames, _, header) = try readFrames([output])
        for (line, frame) in zip(lines, frames) {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let payload = try #require(record["payload"] as? String)
            #expect(frame.bytes == Array(payload.utf8))
            #expect(frame.recvWallNs == (record["receive_wall_ms"] as? Int64 ?? 0) * 1_000_000)
            #expect(frame.monoNs == record["receive_monotonic_ns"] as? Int64)
        }
        #expect(frames.count == lines.count)
        #expect(header?.createdNs == 1_790_267_379_153_000_000)
        #expect(header?.assets.count == 28)
        // Side data the stream carries: market and opening tick size of every asset.
        #expect(header?.sideData.values.allSatisfy { $0.market != nil && $0.tickSize != nil } == true)
    }

    @Test func recorderRecordsBecomeFramesAndConnectionEvents() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("ns.ndjson.zst")
        _ = try TapeImporter.importFiles(
            [Repo.fixture("corpus/g3-nslaughter-2026-10/stream-no-replay--repro.jsonl").path], to: output)
        let reader = try TapeReader(path: output)
        var sequence: [String] = []
        var pongs = 0
        var closeCodes: [Int] = []
        try reader.forEachRecord { record in
            switch record {
            case .event(let event):
                sequence.append("\(event.kind!.rawValue)@\(event.conn)")
                if event.kind == .disconnected {
                    closeCodes.append(TapeEventDetail.parse(event.detail).closeCode ?? -1)
                }
            case .frame(let frame):
                if Array(frame.bytes) == Array("PONG".utf8) { pongs += 1 }
            default: break
            }
        }
        #expect(
            sequence == [
                "connected@0", "subscribed@0", "connected@1", "subscribed@1", "disconnected@1", "connected@2",
                "subscribed@2", "disconnected@2", "disconnected@0",
            ])
        #expect(pongs == 9)
        #expect(closeCodes == [1000, 1000, 1000])
        #expect(reader.header?.assets.count == 2)
    }

    @Test func prettyPrintedSingleFrameIsKeptByteExact() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file("book.ndjson.zst")
        let source = "corpus/book-nautilus-2026-08/nautilus_ws_book_snapshot_captured.json"
        _ = try TapeImporter.importFiles([Repo.fixture(source).path], to: output)
        var expected = try Repo.bytes(source)
        while expected.last == 0x0A || expected.last == 0x20 { expected.removeLast() }
        let (frames, _, _) = try readFrames([output])
        #expect(frames.map(\.bytes) == [expected])
        #expect(frames.first?.encoding == .text)
    }

    static let bundled: [(String, String)] = [
        ("corpus/g3-enrico-2026-09/frames.jsonl", "tapes/g3-enrico-2026-09.ndjson.zst"),
        ("corpus/g2-aaimek-2025-01/frames.ndjson", "tapes/g2-aaimek-2025-01.ndjson.zst"),
        ("corpus/g3-nslaughter-2026-10/stream-no-replay--repro.jsonl", "tapes/nslaughter-stream-no-replay.ndjson.zst"),
        ("corpus/g3-nslaughter-2026-10/settled-subscription--mixed.jsonl", "tapes/nslaughter-settled-mixed.ndjson.zst"),
        ("corpus/hash-vectors/raw/go_comment_capture_2025-12-23.jsonl", "tapes/go-comment-2025-12-23.ndjson.zst"),
    ]

    @Test(arguments: bundled)
    func reimportOfBundledTapesIsByteIdentical(_ source: String, _ tape: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = folder.file((tape as NSString).lastPathComponent)
        _ = try TapeImporter.importFiles([Repo.fixture(source).path], to: output)
        let fresh = try #require(FileManager.default.contents(atPath: output))
        #expect(
            [UInt8](fresh) == (try Repo.bytes(tape)),
            "re-import differs from Fixtures/\(tape); re-create it with the command in Fixtures/tapes/README.md")
    }

    @Test func aTapeIsNotImportedAgain() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let plain = folder.file("tape.ndjson")
        try (String(decoding: testHeader().renderLine(), as: UTF8.self) + "\n").write(
            toFile: plain, atomically: true, encoding: .utf8)
        #expect(throws: TapeError.self) { try TapeImporter.importFiles([plain], to: folder.file("o.ndjson.zst")) }
    }

    @Test func missingInputNamesTheFile() throws {
        #expect(throws: TapeError.fileNotFound(path: "/nonexistent/capture.jsonl")) {
            try TapeImporter.importFiles(["/nonexistent/capture.jsonl"], to: "/tmp/never-written.ndjson.zst")
        }
    }
}
