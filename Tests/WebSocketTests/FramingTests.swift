import TestSupport
// Frame encoding/decoding, masking and UTF-8 validation on plain byte arrays (no sockets).
import Testing

@testable import WebSocket

@Suite struct FramingTests {
    /// RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    @Test func encodesTheRFCUnmaskedHelloExample() {
        let frame = WebSocketFrameCodec.encode(opcode: .text, payload: Array("Hello".utf8), maskingKey: nil)
        #expect(frame == [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
    }

    /// RFC 6455 §5.7: the same message masked with key 37 fa 21 3d.
    @Test func encodesTheRFCMaskedHelloExample() {
        let key: UInt32 = 0x3d21_fa37  // wire order 37 fa 21 3d, packed little-endian
        let frame = WebSocketFrameCodec.encode(opcode: .text, payload: Array("Hello".utf8), maskingKey: key)
        #expect(frame == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    /// RFC 6455 §5.7: unmasked ping "Hello" and a 256-byte binary frame header.
    @Test func encodesPingAndSixteenBitLengthHeaders() {
        let ping = WebSocketFrameCodec.encode(opcode: .ping, payload: Array("Hello".utf8), maskingKey: nil)
        #expect(ping == [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        let binary = WebSocketFrameCodec.encode(
            opcode: .binary, payload: [UInt8](repeating: 7, count: 256), maskingKey: nil)
        #expect(Array(binary.prefix(4)) == [0x82, 0x7E, 0x01, 0x00])
        #expect(binary.count == 4 + 256)
    }

    @Test(arguments: [0, 1, 125, 126, 127, 65535, 65536, 70000], [false, true])
    func roundTripsPayloadLengths(length: Int, masked: Bool) {
        var random = SeededRandom(seed: UInt64(length) &* 31 &+ (masked ? 1 : 0))
        let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
        let key: UInt32? = masked ? UInt32.random(in: 0...UInt32.max, using: &random) : nil
        var frame = WebSocketFrameCodec.encode(
            opcode: .binary, fin: length % 2 == 0, payload: payload, maskingKey: key)

        let expectedHeader = (length <= 125 ? 2 : length <= 65535 ? 4 : 10) + (masked ? 4 : 0)
        #expect(frame.count == expectedHeader + length)
        #expect(WebSocketFrameCodec.headerLength(payloadLength: length, masked: masked) == expectedHeader)
        let lengthMarker = frame[1] & 0x7F
        #expect(lengthMarker == (length <= 125 ? UInt8(length) : length <= 65535 ? 126 : 127))
        #expect((frame[1] & 0x80 != 0) == masked)

        // Every strict prefix of the header is incomplete.
        for cut in 0..<expectedHeader {
            let parse = frame.withUnsafeBytes {
                WebSocketFrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: $0[0..<cut]))
            }
            guard case .incomplete = parse else {
                Issue.record("prefix of \(cut) bytes parsed as \(parse)")
                return
            }
        }
        let parse = frame.withUnsafeBytes { WebSocketFrameCodec.parseHeader($0) }
        guard case .header(let header) = parse else {
            Issue.record("header did not parse: \(parse)")
            return
        }
        #expect(header.fin == (length % 2 == 0))
        #expect(header.opcode == .binary)
        #expect(header.reservedBits == 0)
        #expect(header.payloadLength == UInt64(length))
        #expect(header.headerLength == expectedHeader)
        #expect(header.maskingKey == key)
        if let key {
            if length >= 8 { #expect(Array(frame[expectedHeader...]) != payload) }
            frame.withUnsafeMutableBytes {
                WebSocketFrameCodec.applyMask(
                    key: key, to: UnsafeMutableRawBufferPointer(rebasing: $0[expectedHeader...]), keyOffset: 0)
            }
        }
        #expect(Array(frame[expectedHeader...]) == payload)
    }

    @Test func maskingInPiecesEqualsMaskingAtOnce() {
        var random = SeededRandom(seed: 99)
        let payload = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let key: UInt32 = 0xA1B2_C3D4
        var whole = payload
        whole.withUnsafeMutableBytes { WebSocketFrameCodec.applyMask(key: key, to: $0, keyOffset: 0) }
        var pieces = payload
        var offset = 0
        for size in [1, 3, 7, 8, 13, 100, 868] {
            pieces.withUnsafeMutableBytes {
                WebSocketFrameCodec.applyMask(
                    key: key, to: UnsafeMutableRawBufferPointer(rebasing: $0[offset..<offset + size]),
                    keyOffset: offset)
            }
            offset += size
        }
        #expect(offset == 1000)
        #expect(pieces == whole)
        // The definition: payload[i] ^ key[i % 4].
        let mismatches = (0..<payload.count).filter {
            whole[$0] != payload[$0] ^ UInt8(truncatingIfNeeded: key >> UInt32(($0 % 4) * 8))
        }
        #expect(mismatches.isEmpty)
    }

    @Test func rejectsSixtyFourBitLengthWithTopBitSet() {
        let frame: [UInt8] = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1]
        #expect(frame.withUnsafeBytes { WebSocketFrameCodec.parseHeader($0) } == .invalidLength)
    }

    @Test func parsesReservedBitsAndOpcodes() {
        let frame: [UInt8] = [0x70 | 0x03, 0x00]  // RSV1-3 set, reserved opcode 3, not FIN
        guard case .header(let header) = frame.withUnsafeBytes({ WebSocketFrameCodec.parseHeader($0) }) else {
            Issue.record("did not parse")
            return
        }
        #expect(header.reservedBits == 7)
        #expect(header.opcode == nil)
        #expect(header.opcodeValue == 3)
        #expect(!header.fin)
    }

    @Test(arguments: [
        "", "plain ascii text that is longer than eight bytes", "κόσμε", "𝄞 music", "\u{10FFFF}", "\u{FFFD}",
        "{\"price\":\"0.48\",\"size\":\"10\"} — ≥ €",
    ])
    func acceptsValidUTF8(text: String) {
        #expect(UTF8Validation.isValid(Array(text.utf8)))
    }

    @Test(arguments: [
        [0xFF] as [UInt8], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
        [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xCE, 0xBA, 0xE1], [0x80],
        [0x41, 0x42, 0xE2, 0x82], [0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0xED, 0xBF, 0xBF],
    ])
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        #expect(!UTF8Validation.isValid(bytes))
    }

    @Test func checkAcceptsAValidTextCutAnywhere() {
        let text = Array("a€𝄞é z\u{10FFFF}".utf8)
        for cut in 0...text.count {
            let head = Array(text[..<cut])
            let result = head.withUnsafeBytes { UTF8Validation.check($0) }
            #expect(result.isValidSoFar, "prefix of \(cut) bytes")
            // The incomplete tail is the start of one character: at most 3 bytes.
            #expect(cut - result.completeUpTo <= 3)
            let tail = Array(text[result.completeUpTo...])
            #expect(String(validating: tail, as: UTF8.self) != nil)
        }
        let bad: [UInt8] = [0x61, 0xE2, 0x28]  // a lead byte followed by a non-continuation
        #expect(
            bad.withUnsafeBytes { UTF8Validation.check($0) }
                == UTF8Validation.Check(isValidSoFar: false, completeUpTo: 1))
        let overlongStart: [UInt8] = [0xE0, 0x80]  // cannot become valid, even though incomplete
        #expect(!overlongStart.withUnsafeBytes { UTF8Validation.check($0) }.isValidSoFar)
    }

    /// Differential check against the standard library's decoder on random byte strings.
    @Test func agreesWithTheStandardLibraryOnRandomBytes() {
        var random = SeededRandom(seed: 2026)
        let alphabet: [UInt8] = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0,
            0xF1, 0xF4, 0xF5, 0xFF,
        ]
        var disagreements: [[UInt8]] = []
        var validCount = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...12, using: &random)
            let bytes = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            if expected { validCount += 1 }
            if UTF8Validation.isValid(bytes) != expected { disagreements.append(bytes) }
        }
        #expect(disagreements.isEmpty, "first disagreements: \(disagreements.prefix(5))")
        #expect(validCount > 100)  // the sample exercises both outcomes
    }
}
