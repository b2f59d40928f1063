// Bad input never traps: random bytes, truncations and byte flips of real frames.
import Feed
import TestSupport
import Testing

@Suite("Robustness")
struct RobustnessTests {
    /// Real frames of every shape, cut at every length: each prefix yields either events or
    /// errors, never a trap, and a cut object is reported as malformed JSON.
    @Test func everyTruncationOfRealFramesIsHandled() throws {
        var frames = try Array(Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson").prefix(20))
        frames += try CorpusFrames.wrappedFrames("corpus/g3-enrico-2026-09/frames.jsonl", field: "payload")
            .dropFirst().prefix(20)
        frames.append(try Repo.bytes("corpus/g2-aaimek-2025-01/book_message_example.json"))
        var parser = FeedParser()
        for frame in frames {
            var sink = CountingSink()
            let whole = parser.parse(frame, into: &sink)
            #expect(whole.errors == 0)
            for length in 1..<frame.count {
                var cutSink = CountingSink()
                let summary = parser.parse(Array(frame[..<length]), into: &cutSink)
                #expect(summary.errors == cutSink.errors.count)
                // Only trailing whitespace can be cut without damage.
                if frame[length...].contains(where: { $0 > 0x20 }) {
                    #expect(summary.errors >= 1, "prefix \(length) of \(frame.count) passed as valid")
                }
            }
        }
    }

    @Test func randomBytesAndMutationsNeverTrap() throws {
        var random = SeededRandom(seed: 0x5EED_F00D)
        let seeds =
            try Array(Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson").prefix(50))
            + CorpusFrames.wrappedFrames("corpus/g3-enrico-2026-09/frames.jsonl", field: "payload").prefix(10)
        let alphabet = Array(#"{}[]",:\ 0123456789.-eE+ntrufalsBUYSEL"#.utf8)
        var parser = FeedParser()
        var totalErrors = 0
        for round in 0..<3_000 {
            var frame: [UInt8]
            switch round % 3 {
            case 0:
                frame = (0..<Int.random(in: 0..<200, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
            case 1:
                frame = (0..<Int.random(in: 0..<200, using: &random)).map { _ in
                    alphabet.randomElement(using: &random)!
                }
            default:
                frame = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...4, using: &random) where !frame.isEmpty {
                    let index = Int.random(in: 0..<frame.count, using: &random)
                    frame[index] = alphabet.randomElement(using: &random)!
                }
            }
            var sink = CountingSink()
            let summary = parser.parse(frame, into: &sink)
            #expect(summary.errors == sink.errors.count)
            for error in sink.errors { #expect(error.offset >= 0 && error.offset <= frame.count) }
            totalErrors += summary.errors
        }
        #expect(totalErrors > 1_000)
        // The parser is still healthy after all that garbage.
        var sink = CountingSink()
        _ = parser.parse(seeds[0], into: &sink)
        #expect(sink.priceChanges > 0 && sink.errors.isEmpty)
    }
}
