import Foundation
import TestSupport
import Testing

@testable import Tape

@Suite struct RoundTripTests {
    /// Frames of every kind the feed sends or might: compact and spaced JSON, arrays, keepalive
    /// text, unicode and escapes, text that only looks like JSON, multi-line JSON, non-UTF-8 bytes.
    static let frames: [[UInt8]] = [
        Array(#"{"event_type":"book","asset_id":"1","bids":[],"asks":[]}"#.utf8),
        Array(#"[{"a":"x\"y\\z","b":"\u00e9\ud83d\ude00 é😀"}, {"c": [1, 2.5e-3, true, null]}]"#.utf8),
        Array("PONG".utf8),
        Array("PING".utf8),
        Array(#"{"unterminated":"#.utf8),
        Array(" {\"leading\":\"space\"}".utf8),
        Array("{\n  \"pretty\": \"printed\"\n}".utf8),
        Array("tab\there \"quoted\" \\ back\u{1}ctl".utf8),
        [0xFF, 0xFE, 0x00, 0x41],
        Array("[]".utf8),
        Array("".utf8),
    ]

    @Test func framesAndMetadataComeBackByteIdentical() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("round.ndjson.zst")
        let writer = try TapeWriter(
            options: TapeWriterOptions(destination: .file(path, overwrite: false)), header: testHeader(),
            nowWallNs: 1, nowMonoNs: 1)
        var expected: [ReadFrame] = []
        for index in 0..<600 {
            let frame = Self.frames[index % Self.frames.count]
            let conn = UInt32(index % 3)
            let recv = 1_790_267_379_153_000_000 + Int64(index) * 1_000_123
            let mono = 5_000 + Int64(index) * 999
            let seq = try writer.writeFrame(frame, recvWallNs: recv, monoNs: mono, conn: conn)
            expected.append(
                ReadFrame(
                    recvWallNs: recv, monoNs: mono, conn: conn, seq: seq,
                    encoding: frame.withUnsafeBytes { TapeWriter.encoding(of: $0) }, bytes: frame, synthetic: false))
        }
        try writer.close()
        let (frames, report, header) = try readFrames([path])
        #expect(frames == expected)
        #expect(header == testHeader())
        #expect(report.frames == 600)
        #expect(report.malformedLines == 0)
        #expect(report.tornTails.isEmpty)
        #expect(report.endedWithFooter)
        // Per-connection sequences are 1-based and consecutive.
        #expect(frames.filter { $0.conn == 1 }.map(\.seq) == Array(1...200))
    }

    @Test func encodingChoiceKeepsLinesValidJSON() {
        func encoding(_ text: String) -> TapeFrameEncoding {
            Array(text.utf8).withUnsafeBytes { TapeWriter.encoding(of: $0) }
        }
        #expect(encoding(#"{"a":1}"#) == .json)
        #expect(encoding("PONG") == .text)
        #expect(encoding(" {}") == .text)
        #expect(encoding("{}\n") == .text)
        #expect(encoding("{\"a\":\n1}") == .text)
        #expect([UInt8]([0xC3, 0x28]).withUnsafeBytes { TapeWriter.encoding(of: $0) } == .base64)
    }

    @Test func eventsRoundTripWithDetails() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("events.ndjson.zst")
        let writer = try TapeWriter(
            options: TapeWriterOptions(destination: .file(path, overwrite: false)), header: testHeader(),
            nowWallNs: 1, nowMonoNs: 1)
        let detail = TapeEventDetail(
            url: "wss://x", name: "ref \"1\"", assets: ["1", "2"], closeCode: 1006, reason: "gone", error: "EOF",
            attempt: 3, delayMs: 250, text: "{\"type\":\"market\"}")
        for kind in TapeEventKind.allCases {
            try writer.writeEvent(kind, conn: 7, recvWallNs: 10, monoNs: 20, detail: detail)
        }
        try writer.close()
        let reader = try TapeReader(path: path)
        var kinds: [TapeEventKind] = []
        var details: [TapeEventDetail] = []
        try reader.forEachRecord { record in
            if case .event(let event) = record {
                kinds.append(event.kind!)
                details.append(TapeEventDetail.parse(event.detail))
                #expect(event.conn == 7 && event.recvWallNs == 10 && event.monoNs == 20)
            }
        }
        #expect(kinds == TapeEventKind.allCases)
        #expect(details.allSatisfy { $0 == detail })
    }

    @Test func envelopeKeysInAnyOrderAndNestedValuesAreSkippedCorrectly() throws {
        let line =
            #"{"frame":{"k":"}\"{","n":[{"x":"]"}]},"seq":4,"extra":{"a":["\\",1]},"conn":2,"mono_ns":9,"recv_ns":8,"kind":"frame"}"#
        let parser = TapeLineParser()
        try Array(line.utf8).withUnsafeBytes { bytes in
            let record = try #require(parser.parse(bytes))
            guard case .frame(let frame) = record else {
                Issue.record("expected a frame")
                return
            }
            #expect(String(decoding: frame.bytes, as: UTF8.self) == #"{"k":"}\"{","n":[{"x":"]"}]}"#)
            #expect(frame.seq == 4 && frame.conn == 2 && frame.monoNs == 9 && frame.recvWallNs == 8)
        }
    }

    @Test(arguments: [
        // Writer's own layout: the length is used.
        #"{"kind":"frame","recv_ns":1,"mono_ns":2,"conn":0,"seq":1,"frame_len":12,"frame":{"a":"}\"{"}}"#,
        // Wrong length (e.g. the frame was re-serialized by jq): found by skipping instead.
        #"{"kind":"frame","recv_ns":1,"mono_ns":2,"conn":0,"seq":1,"frame_len":5,"frame":{"a":"}\"{"}}"#,
        #"{"kind":"frame","recv_ns":1,"mono_ns":2,"conn":0,"seq":1,"frame_len":900,"frame":{"a":"}\"{"}}"#,
        // Frame not last: the length cannot be trusted, the value is skipped.
        #"{"kind":"frame","frame_len":12,"frame":{"a":"}\"{"},"recv_ns":1,"mono_ns":2,"conn":0,"seq":1}"#,
        #"{"kind":"frame","recv_ns":1,"mono_ns":2,"conn":0,"seq":1,"frame":{"a":"}\"{"} }"#,
    ])
    func frameLengthIsAHintNeverTrustedBlindly(_ line: String) throws {
        let parser = TapeLineParser()
        try Array(line.utf8).withUnsafeBytes { bytes in
            let record = try #require(parser.parse(bytes))
            guard case .frame(let frame) = record else {
                Issue.record("expected a frame")
                return
            }
            #expect(String(decoding: frame.bytes, as: UTF8.self) == #"{"a":"}\"{"}"#)
            #expect(frame.recvWallNs == 1 && frame.monoNs == 2 && frame.seq == 1)
        }
    }

    @Test(arguments: [
        "not json",
        #"{"kind":"frame","recv_ns":1,"frame":{"a":}"#,
        #"{"kind":"frame","recv_ns":"x","frame":{}}"#,
        #"{"recv_ns":1}"#,
        #"{"kind":"frame","recv_ns":1}"#,
        #"{"kind":"frame","frame":{}} trailing"#,
        #"{"kind":"frame","frame":"abc\"#,
        // Regression: replayed at the epoch ("receive time goes back 1790267379.2 s").
        #"{"kind":"frame","mono_ns":2,"conn":0,"seq":1,"frame":{"a":1}}"#,
    ])
    func malformedEnvelopesAreRejected(_ line: String) {
        let parser = TapeLineParser()
        let record = Array(line.utf8).withUnsafeBytes { parser.parse($0) }
        #expect(record == nil)
        #expect(!parser.lastError.isEmpty)
    }

    @Test func unknownKindsAreCountedNotFatal() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("plain.ndjson")
        var text = String(decoding: testHeader().renderLine(), as: UTF8.self) + "\n"
        text += #"{"kind":"annotation","note":"hi"}"# + "\n"
        text += #"{"kind":"frame","recv_ns":1,"mono_ns":2,"conn":0,"seq":1,"frame":{}}"# + "\r\n\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let (frames, report, _) = try readFrames([path])
        #expect(frames.count == 1)
        #expect(report.unknownKinds == 1)
        #expect(report.tornTails.isEmpty)
    }
}

@Suite struct WriterLayoutTests {
    /// The fixed-layout fast path and the general scanner must agree on every writer line,
    /// including the flags and 19-digit clocks.
    @Test func fastPathAndGeneralScannerAgree() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("layout.ndjson")
        let header = String(decoding: testHeader().renderLine(), as: UTF8.self)
        let lines = [
            #"{"kind":"frame","recv_ns":1790267379153000123,"mono_ns":5,"conn":3,"seq":9,"frame_len":9,"frame":{"a":[1]}}"#,
            #"{"kind":"frame","recv_ns":-1,"mono_ns":0,"conn":0,"seq":1,"synthetic":true,"warmup":true,"frame_len":2,"frame":[]}"#,
        ]
        try ([header] + lines).joined(separator: "\n").appending("\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        let (frames, report, _) = try readFrames([path], strict: true)
        #expect(report.malformedLines == 0)
        #expect(frames.count == 2)
        #expect(frames[0].recvWallNs == 1_790_267_379_153_000_123 && frames[0].conn == 3 && frames[0].seq == 9)
        #expect(frames[0].bytes == Array(#"{"a":[1]}"#.utf8))
        #expect(frames[1].recvWallNs == -1 && frames[1].synthetic)
        #expect(frames[1].bytes == Array("[]".utf8))
        for line in lines {
            let bytes = Array(line.utf8)
            let fast = bytes.withUnsafeBytes { TapeLineParser.parseWriterLayout($0).map { Array($0.bytes) } }
            #expect(fast != nil)
            // The same line with a space after a colon takes the general path and agrees.
            let spaced = Array(line.replacingOccurrences(of: #""seq":"#, with: #""seq": "#).utf8)
            #expect(spaced.withUnsafeBytes { TapeLineParser.parseWriterLayout($0) } == nil)
            let general = spaced.withUnsafeBytes { raw -> [UInt8]? in
                guard case .frame(let frame) = TapeLineParser().parse(raw) else { return nil }
                return Array(frame.bytes)
            }
            #expect(general == fast)
        }
    }
}
