// Exact decimal parsing and byte-exact re-rendering, and the hex hash.
import Feed
import Testing

@Suite("ExactDecimal and ExchangeHash")
struct ExactDecimalTests {
    @Test(
        arguments: [
            ("0.29", 290_000, 2, false),
            ("0.5", 500_000, 1, false),
            ("0.50", 500_000, 2, false),
            (".48", 480_000, 2, true),
            ("2226", 2_226_000_000, 0, false),
            ("3641.8", 3_641_800_000, 1, false),
            ("0.0025", 2_500, 4, false),
            ("0.9975", 997_500, 4, false),
            ("219.217767", 219_217_767, 6, false),
            ("0", 0, 0, false),
            ("1", 1_000_000, 0, false),
            ("0.000001", 1, 6, false),
            ("100000000", 100_000_000_000_000, 0, false),
            ("-0.04", -40_000, 2, false),
            ("9223372036854.775807", Int64.max, 6, false),
        ] as [(String, Int64, UInt8, Bool)])
    func parsesExactly(text: String, units: Int64, digits: UInt8, leadingDot: Bool) throws {
        let value = try #require(ExactDecimal(text))
        #expect(value.units == units)
        #expect(value.digits == digits)
        #expect(value.leadingDot == leadingDot)
        // Round trip: the exchange's own text comes back byte for byte.
        #expect(value.render() == text)
        var bytes: [UInt8] = Array("x".utf8)
        value.render(into: &bytes)
        #expect(bytes == Array(("x" + text).utf8))
    }

    @Test(arguments: [
        "", ".", "-", "1.", "0.1234567", "1e3", "+1", " 1", "1 ", "0x10", "1.2.3", "abc", "9223372036854.775808",
        "99999999999999999999", "--1", "1-",
    ])
    func rejects(text: String) {
        #expect(ExactDecimal(text) == nil, "\(text)")
    }

    @Test func floatsWouldBeWrongHere() throws {
        // int(float("0.29")*100) is 28 in floating point; here it is exact.
        let value = try #require(ExactDecimal("0.29"))
        #expect(value.units / 10_000 == 29)
        #expect(ExactDecimal("0.5") == ExactDecimal("0.50"))
        #expect(ExactDecimal("0.1")! < ExactDecimal("0.10001")!)
        #expect(ExactDecimal(Substring("x0.25").dropFirst()) == ExactDecimal("0.25"))
    }

    @Test(arguments: [
        ("0.5", 3, "0.500"), ("0.5", 1, "0.5"), ("0.48", 3, "0.480"), (".48", 3, "0.480"), ("1", 3, "1.000"),
        ("0.5025", 3, "0.503"), ("0.5024", 3, "0.502"), ("2226", 0, "2226"), ("0.999", 2, "1.00"),
    ])
    func rendersWithFixedDigits(text: String, digits: Int, expected: String) throws {
        #expect(try #require(ExactDecimal(text)).rendered(digits: digits) == expected)
    }

    @Test func renderNeverDropsPrecision() {
        // A value built by hand with fewer digits than it needs still renders exactly.
        #expect(ExactDecimal(units: 1_250_000, digits: 0).render() == "1.25")
        #expect(ExactDecimal(units: 500_000, digits: 3).render() == "0.500")
        #expect(ExactDecimal.zero.render() == "0")
    }

    @Test func hashHexRoundTrip() throws {
        let text = "a983441a2c69866fff45bf16b8c5c66858f68379"
        let hash = try #require(ExchangeHash(hex: text))
        #expect(hash.hex == text)
        #expect(ExchangeHash(hex: text.uppercased()) == hash)
        #expect(ExchangeHash(hex: String(text.dropLast())) == nil)
        #expect(ExchangeHash(hex: "g" + text.dropFirst()) == nil)
        #expect(ExchangeHash(hex: "0000000000000000000000000000000000000001")?.low == 1)
    }
}
