// The branch-free hex reader against a plain per-digit definition, for every byte value in
// every position.
import Testing

@testable import Feed

@Suite("Hash hex reader")
struct HexTests {
    @Test func everyByteInEveryPositionMatchesThePlainDefinition() {
        let valid = Array("0123456789abcdefABCDEF0123456789abcdef01".utf8)
        let expected = ExchangeHash(hex: "0123456789abcdefABCDEF0123456789abcdef01")
        #expect(expected?.hex == "0123456789abcdefabcdef0123456789abcdef01")
        for position in 0..<40 {
            for byte in 0...255 {
                var text = valid
                text[position] = UInt8(byte)
                let parsed = text.withUnsafeBufferPointer { ExchangeHash.read($0.baseAddress!, 0, 40) }
                let scalar = UnicodeScalar(UInt8(byte))
                let isHex = byte < 128 && scalar.properties.isASCIIHexDigit
                #expect((parsed != nil) == isHex, "byte \(byte) at \(position)")
                if let parsed, isHex {
                    // The changed digit lands in the right nibble.
                    let digit = UInt64(String(scalar), radix: 16)!
                    let nibble: UInt64
                    switch position {
                    case 0..<16: nibble = (parsed.high >> UInt64(60 - 4 * position)) & 0xF
                    case 16..<32: nibble = (parsed.middle >> UInt64(60 - 4 * (position - 16))) & 0xF
                    default: nibble = UInt64(parsed.low >> UInt32(28 - 4 * (position - 32))) & 0xF
                    }
                    #expect(nibble == digit, "byte \(byte) at \(position)")
                }
            }
        }
    }
}
