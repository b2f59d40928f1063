import Testing

@testable import ReplayKit

/// Reference values from the xxHash reference implementation (Python `xxhash.xxh64(data, seed=0)`).
@Test(arguments: [
    ("", "ef46db3751d8e999"),
    ("a", "d24ec4f1a98c6e5b"),
    ("abc", "44bc2cf5ad770999"),
    (String(repeating: "x", count: 31), "60dd0d01083b99f0"),
    (String(repeating: "y", count: 32), "64da1f1d3495ce66"),
    (String(repeating: "Nobody inspects the spammish repetition", count: 5), "8ab3f7c4336e874d"),
])
func xxh64MatchesTheReference(text: String, expected: String) {
    var digest = ContentDigest()
    Array(text.utf8).withUnsafeBytes { digest.update($0) }
    #expect(digest.finish() == expected)
}

@Test func xxh64IsTheSameWhateverTheChunking() {
    let bytes = (0..<3).flatMap { _ in (0..<256).map { UInt8($0) } }
    var whole = ContentDigest()
    bytes.withUnsafeBytes { whole.update($0) }
    #expect(whole.finish() == "8e03c838c596036f")
    for chunk in [1, 3, 7, 31, 32, 33, 100] {
        var pieces = ContentDigest()
        var start = 0
        while start < bytes.count {
            let end = min(start + chunk, bytes.count)
            bytes[start..<end].withUnsafeBytes { pieces.update($0) }
            start = end
        }
        #expect(pieces.finish() == whole.finish(), "chunk size \(chunk)")
    }
}

@Test func linesAreDigestedWithTheirNewlines() {
    var lines = ContentDigest()
    Array("abc".utf8).withUnsafeBytes { lines.update(line: $0) }
    var raw = ContentDigest()
    Array("abc\n".utf8).withUnsafeBytes { raw.update($0) }
    #expect(lines.finish() == raw.finish())
}
