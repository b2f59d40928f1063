// RFC 6455 §5.2 frame header encoding/decoding and payload masking. No I/O: the connection
// feeds bytes in and writes bytes out, so every rule here is testable on plain arrays.

/// Frame opcodes (RFC 6455 §5.2). Values 3–7 and 11–15 are reserved and rejected with 1002.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) carry at most 125 bytes and are never fragmented.
    public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// A decoded frame header: everything before the payload.
///
/// `headerLength` is 2–14 bytes; the payload follows immediately. `maskingKey` is the four key
/// bytes in wire order, packed little-endian so byte `i` of the key is `(maskingKey >> (8*i)) & 0xFF`.
public struct WebSocketFrameHeader: Equatable, Sendable {
    public var fin: Bool
    /// The three RSV bits, shifted down (0...7). Non-zero is a protocol error without extensions.
    public var reservedBits: UInt8
    /// The raw opcode nibble (may be a reserved value; see `opcode`).
    public var opcodeValue: UInt8
    public var maskingKey: UInt32?
    public var payloadLength: UInt64
    public var headerLength: Int

    public var opcode: WebSocketOpcode? { WebSocketOpcode(rawValue: opcodeValue) }
}

/// Encoding and decoding of websocket frames on byte buffers.
///
/// `encode` appends a whole frame (header, then the payload, masked when a key is given) to a
/// reusable output array, so a sender allocates only when the array must grow.
/// `parseHeader` looks at the start of a receive buffer and says whether a complete header is
/// there; it never reads payload bytes.
public enum WebSocketFrameCodec {
    /// The outcome of looking for a frame header at the start of a buffer.
    public enum HeaderParse: Equatable, Sendable {
        /// More bytes are needed; at least `needed` in total.
        case incomplete(needed: Int)
        case header(WebSocketFrameHeader)
        /// A 64-bit length with its top bit set (RFC 6455 §5.2 forbids it).
        case invalidLength
    }

    /// Header size for a payload length and masking choice.
    public static func headerLength(payloadLength: Int, masked: Bool) -> Int {
        let base = payloadLength <= 125 ? 2 : (payloadLength <= 0xFFFF ? 4 : 10)
        return base + (masked ? 4 : 0)
    }

    /// Appends one frame to `output`. With a masking key the payload is XOR-masked while copied.
    public static func encode(
        opcode: WebSocketOpcode, fin: Bool, payload: UnsafeRawBufferPointer, maskingKey: UInt32?,
        into output: inout [UInt8]
    ) {
        let length = payload.count
        output.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        if length <= 125 {
            output.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            output.append(maskBit | 126)
            output.append(UInt8(length >> 8))
            output.append(UInt8(length & 0xFF))
        } else {
            output.append(maskBit | 127)
            let wide = UInt64(length)
            for shift in stride(from: 56, through: 0, by: -8) {
                output.append(UInt8((wide >> UInt64(shift)) & 0xFF))
            }
        }
        guard let key = maskingKey else {
            output.append(contentsOf: payload)
            return
        }
        for i in 0..<4 { output.append(UInt8((key >> UInt32(8 * i)) & 0xFF)) }
        let start = output.count
        output.append(contentsOf: payload)
        output.withUnsafeMutableBytes { buffer in
            applyMask(key: key, to: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]), keyOffset: 0)
        }
    }

    /// Convenience for tests and small frames: encodes into a new array.
    public static func encode(opcode: WebSocketOpcode, fin: Bool = true, payload: [UInt8], maskingKey: UInt32?)
        -> [UInt8]
    {
        var output: [UInt8] = []
        output.reserveCapacity(payload.count + 14)
        payload.withUnsafeBytes { encode(opcode: opcode, fin: fin, payload: $0, maskingKey: maskingKey, into: &output) }
        return output
    }

    /// Reads a frame header at the start of `bytes`.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer) -> HeaderParse {
        guard bytes.count >= 2 else { return .incomplete(needed: 2) }
        let first = bytes[0]
        let second = bytes[1]
        let masked = second & 0x80 != 0
        let shortLength = second & 0x7F
        var headerLength = 2
        var payloadLength = UInt64(shortLength)
        if shortLength == 126 {
            headerLength = 4
        } else if shortLength == 127 {
            headerLength = 10
        }
        let total = headerLength + (masked ? 4 : 0)
        guard bytes.count >= total else { return .incomplete(needed: total) }
        if shortLength == 126 {
            payloadLength = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
        } else if shortLength == 127 {
            payloadLength = 0
            for i in 2..<10 { payloadLength = payloadLength << 8 | UInt64(bytes[i]) }
            if payloadLength & (1 << 63) != 0 { return .invalidLength }
        }
        var key: UInt32? = nil
        if masked {
            var k: UInt32 = 0
            for i in 0..<4 { k |= UInt32(bytes[headerLength + i]) << UInt32(8 * i) }
            key = k
        }
        return .header(
            WebSocketFrameHeader(
                fin: first & 0x80 != 0, reservedBits: (first >> 4) & 0x7, opcodeValue: first & 0x0F,
                maskingKey: key, payloadLength: payloadLength, headerLength: total))
    }

    /// XORs `buffer` in place with the masking key; `keyOffset` is the position of the first
    /// byte within the frame payload (so a payload can be unmasked in pieces).
    public static func applyMask(key: UInt32, to buffer: UnsafeMutableRawBufferPointer, keyOffset: Int) {
        let count = buffer.count
        guard count > 0, let base = buffer.baseAddress else { return }
        // Rotate so that byte 0 of this piece lines up with key byte (keyOffset % 4).
        let shift = UInt32((keyOffset & 3) * 8)
        let rotated = shift == 0 ? key : (key >> shift) | (key << (32 - shift))
        let wide = UInt64(rotated) | UInt64(rotated) << 32
        var i = 0
        while i + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            base.storeBytes(of: (UInt64(littleEndian: word) ^ wide).littleEndian, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count {
            let keyByte = UInt8(truncatingIfNeeded: rotated >> UInt32((i & 3) * 8))
            base.storeBytes(of: base.load(fromByteOffset: i, as: UInt8.self) ^ keyByte, toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }
}
