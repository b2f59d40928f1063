// The parser benchmark, as a library function so any executable can run it in release mode
// (`replay bench-parser`, tools/bench-parser). It does no I/O: the caller passes the corpus
// files' bytes and prints the returned text. Foundation's JSONDecoder is used here only as the
// baseline the parser is compared with, in the same run, on the same frames.
import Foundation

/// Measures `FeedParser` against Foundation `JSONDecoder` (Codable structs of the same
/// messages) on three frame mixes: the real corpus, synthetic current-format (G3)
/// price_change frames modelled on the g3-enrico capture, and books with 30 levels a side.
/// Reports the median of several timed rounds in frames/s and MB/s, and the speed ratio.
public enum FeedBenchmark {
    /// Corpus files (relative to Fixtures/corpus) whose frames make up the real mix. Pass their
    /// contents to `run(corpusFiles:)` keyed by these names.
    public static let corpusFileNames = [
        "g2-aaimek-2025-01/frames.ndjson",
        "g3-enrico-2026-09/frames.jsonl",
        "g3-nslaughter-2026-10/stream-no-replay--repro.jsonl",
        "g3-nslaughter-2026-10/settled-subscription--mixed.jsonl",
        "g2-aaimek-2025-01/book_message_example.json",
        "book-nautilus-2026-08/nautilus_ws_book_snapshot_captured.json",
    ]

    /// The synthetic workloads only (no corpus files needed).
    public static func run() -> String {
        run(corpusFiles: [:])
    }

    /// Runs every workload for about `secondsPerMeasurement` × rounds and returns a report.
    /// `corpusFiles` maps names from `corpusFileNames` to file contents; missing files just
    /// shrink the real mix (with none, that workload is skipped).
    public static func run(corpusFiles: [String: [UInt8]], secondsPerMeasurement: Double = 0.4, rounds: Int = 5)
        -> String
    {
        var workloads: [(String, [[UInt8]])] = []
        let real = framesFromCorpus(corpusFiles)
        if !real.isEmpty { workloads.append(("real corpus mix", real)) }
        workloads.append(("G3 price_change (synthetic, 2 entries)", syntheticPriceChanges(count: 2_000)))
        workloads.append(("book 30 levels/side (synthetic)", syntheticBooks(count: 300, levels: 30)))

        var lines: [String] = []
        lines.append("PolyTape parser benchmark: FeedParser vs Foundation JSONDecoder (Codable), same frames, same run")
        lines.append(
            "cores: \(ProcessInfo.processInfo.activeProcessorCount), rounds: \(rounds) × ~\(secondsPerMeasurement) s each, parser and decoder alternating; medians (ratio: median of per-round ratios)"
        )
        lines.append("")
        lines.append(
            pad("workload", 40) + pad("frames", 8) + pad("avg B", 7) + pad("parser frames/s", 17)
                + pad("parser MB/s", 13)
                + pad("decoder frames/s", 18) + pad("decoder MB/s", 14) + "ratio")
        for (name, frames) in workloads {
            let bytes = frames.reduce(0) { $0 + $1.count }
            // Rounds alternate parser and decoder so both see the same machine load; the
            // ratio is taken per round and its median reported.
            var feedParser = FeedParser()
            var parserRates: [Double] = []
            var decoderRates: [Double] = []
            var ratios: [Double] = []
            for _ in 0..<rounds {
                let parserRate = measure(seconds: secondsPerMeasurement) { parseWithFeedParser(frames, &feedParser) }
                let decoderRate = measure(seconds: secondsPerMeasurement) { parseWithJSONDecoder(frames) }
                parserRates.append(parserRate)
                decoderRates.append(decoderRate)
                ratios.append(parserRate / decoderRate)
            }
            let parser = median(parserRates)
            let decoder = median(decoderRates)
            let parserFrames = Double(frames.count) * parser
            let decoderFrames = Double(frames.count) * decoder
            lines.append(
                pad(name, 40) + pad("\(frames.count)", 8) + pad("\(bytes / max(frames.count, 1))", 7)
                    + pad(format(parserFrames), 17) + pad(format(Double(bytes) * parser / 1e6), 13)
                    + pad(format(decoderFrames), 18) + pad(format(Double(bytes) * decoder / 1e6), 14)
                    + String(format: "%.1f×", median(ratios)))
        }
        lines.append("")
        lines.append(
            "events per pass (parser / decoder objects) are checked equal before timing: \(checkAgreement(workloads))")
        return lines.joined(separator: "\n")
    }

    /// Builds the same frames as `run`, then only parses them `passes` times with one parser
    /// and returns the event count. Run under a heap profiler with two pass counts: the frame
    /// setup is identical, so any difference in allocation counts is the parser's steady state
    /// (see docs/BENCHMARKS.md for the valgrind command).
    public static func allocationProbe(corpusFiles: [String: [UInt8]], passes: Int) -> String {
        let frames =
            framesFromCorpus(corpusFiles) + syntheticPriceChanges(count: 2_000) + syntheticBooks(count: 300, levels: 30)
        var parser = FeedParser()
        var events = 0
        for _ in 0..<passes { events &+= parseWithFeedParser(frames, &parser) }
        return "frames: \(frames.count), passes: \(passes), events+checksum: \(events)"
    }

    // MARK: - Workloads

    /// The frames inside the corpus files: plain lines, wrapper records (`payload` or
    /// `kind == "recv"` `text`), or a whole file for the pretty-printed examples.
    static func framesFromCorpus(_ files: [String: [UInt8]]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for name in corpusFileNames {
            guard let contents = files[name] else { continue }
            if name.hasSuffix(".json") {
                frames.append(contents)
                continue
            }
            for line in contents.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                guard name.hasSuffix(".jsonl") else {
                    frames.append(Array(line))
                    continue
                }
                guard let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    continue
                }
                if let payload = record["payload"] as? String {
                    frames.append(Array(payload.utf8))
                } else if record["kind"] as? String == "recv", let text = record["text"] as? String {
                    frames.append(Array(text.utf8))
                }
            }
        }
        return frames
    }

    /// Deterministic pseudo-random source so every run benchmarks the same bytes.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return mixed ^ (mixed >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func digits(_ count: Int) -> String {
            String((0..<count).map { index in Character(String(index == 0 ? 1 + below(9) : below(10))) })
        }
        mutating func hex(_ count: Int) -> String {
            String((0..<count).map { _ in Array("0123456789abcdef")[below(16)] })
        }
    }

    /// Current-format price_change frames as the server writes them (", " separators, two
    /// mirrored entries for a market's two tokens, `event_type` last).
    public static func syntheticPriceChanges(count: Int) -> [[UInt8]] {
        var random = Generator(state: 0x6733)
        let markets = (0..<40).map { _ in (market: "0x" + random.hex(64), yes: random.digits(77), no: random.digits(77))
        }
        var timestamp = 1_790_267_379_229
        return (0..<count).map { _ in
            let market = markets[random.below(markets.count)]
            let cents = 1 + random.below(98)
            let price = String(format: "0.%02d", cents)
            let mirror = String(format: "0.%02d", 100 - cents)
            let size = random.below(4) == 0 ? "0" : "\(random.below(5000)).\(random.below(100))"
            timestamp += random.below(50)
            let bid = String(format: "0.%02d", max(1, cents - 1))
            let ask = String(format: "0.%02d", min(99, cents + 1))
            let text =
                "{\"market\":\"\(market.market)\", \"price_changes\":[{\"asset_id\":\"\(market.yes)\", \"price\":\"\(price)\", \"size\":\"\(size)\", \"side\":\"BUY\", \"hash\":\"\(random.hex(40))\", \"best_bid\":\"\(bid)\", \"best_ask\":\"\(ask)\"}, "
                + "{\"asset_id\":\"\(market.no)\", \"price\":\"\(mirror)\", \"size\":\"\(size)\", \"side\":\"SELL\", \"hash\":\"\(random.hex(40))\", \"best_bid\":\"\(bid)\", \"best_ask\":\"\(ask)\"}], \"timestamp\":\"\(timestamp)\", \"event_type\":\"price_change\"}"
            return Array(text.utf8)
        }
    }

    /// Compact book frames with `levels` bids (ascending) and asks (descending).
    public static func syntheticBooks(count: Int, levels: Int) -> [[UInt8]] {
        var random = Generator(state: 0xB00C)
        return (0..<count).map { index in
            func level(_ price: Int) -> String {
                "{\"price\":\"0.\(String(format: "%03d", price))\",\"size\":\"\(random.below(20_000)).\(random.below(100))\"}"
            }
            let bids = (0..<levels).map { level(100 + $0 * 10) }.joined(separator: ",")
            let asks = (0..<levels).map { level(990 - $0 * 10) }.joined(separator: ",")
            let text =
                "{\"market\":\"0x\(random.hex(64))\",\"asset_id\":\"\(random.digits(77))\",\"timestamp\":\"\(1_790_267_353_913 + index)\",\"hash\":\"\(random.hex(40))\",\"bids\":[\(bids)],\"asks\":[\(asks)],\"tick_size\":\"0.001\",\"event_type\":\"book\",\"last_trade_price\":\"0.480\"}"
            return Array(text.utf8)
        }
    }

    // MARK: - The two contenders

    /// Touches every delivered value so nothing is optimised away.
    struct ChecksumSink: FeedSink {
        var checksum: Int64 = 0
        var events = 0
        mutating func onBook(_ event: BookEvent) {
            events += 1
            for level in event.bids { checksum &+= level.price.units &+ level.size.units }
            for level in event.asks { checksum &+= level.price.units &+ level.size.units }
            checksum &+= event.timestampMs &+ Int64(event.assetID.count)
        }
        mutating func onPriceChange(_ event: PriceChangeEvent) {
            events += 1
            checksum &+= event.price.units &+ event.size.units &+ event.timestampMs &+ Int64(event.assetID.count)
            checksum &+= Int64(event.hash?.low ?? 0) &+ (event.bestBid?.units ?? 0)
        }
        mutating func onLastTrade(_ event: LastTradeEvent) { events += 1 }
        mutating func onTickSizeChange(_ event: TickSizeChangeEvent) { events += 1 }
        mutating func onBestBidAsk(_ event: BestBidAskEvent) {
            events += 1
            checksum &+= event.bestBid?.units ?? 0
        }
        mutating func onOther(_ event: OtherEvent) { events += 1 }
        mutating func onControl(_ frame: ControlFrame) { checksum &+= 1 }
        mutating func onError(_ error: FeedError) { checksum &-= 1 }
    }

    struct CodableLevel: Decodable {
        var price: String
        var size: String
    }

    struct CodableEntry: Decodable {
        var asset_id: String?
        var price: String
        var size: String
        var side: String
        var hash: String?
        var best_bid: String?
        var best_ask: String?
    }

    /// Every field the parser reads, with the same optionality, as Codable would be written.
    struct CodableMessage: Decodable {
        var event_type: String?
        var asset_id: String?
        var market: String?
        var timestamp: String?
        var hash: String?
        var bids: [CodableLevel]?
        var asks: [CodableLevel]?
        var changes: [CodableEntry]?
        var price_changes: [CodableEntry]?
        var price: String?
        var size: String?
        var side: String?
        var tick_size: String?
        var last_trade_price: String?
        var best_bid: String?
        var best_ask: String?
        var spread: String?
    }

    /// One pass of the parser over the frames; the parser is kept across passes the way a
    /// worker keeps it (scratch buffers stay warm).
    @inline(never)
    static func parseWithFeedParser(_ frames: [[UInt8]], _ parser: inout FeedParser) -> Int {
        var sink = ChecksumSink()
        for frame in frames { _ = frame.withUnsafeBytes { parser.parse($0, into: &sink) } }
        return sink.events &+ Int(truncatingIfNeeded: sink.checksum & 1)
    }

    @inline(never)
    static func parseWithJSONDecoder(_ frames: [[UInt8]]) -> Int {
        let decoder = JSONDecoder()
        var events = 0
        for frame in frames {
            guard let first = frame.first(where: { $0 > 0x20 }) else { continue }
            let data = Data(frame)
            if first == UInt8(ascii: "[") {
                if let messages = try? decoder.decode([CodableMessage].self, from: data) {
                    for message in messages { events += eventCount(message) }
                }
            } else if first == UInt8(ascii: "{") {
                if let message = try? decoder.decode(CodableMessage.self, from: data) { events += eventCount(message) }
            }
        }
        return events
    }

    static func eventCount(_ message: CodableMessage) -> Int {
        if let entries = message.price_changes { return entries.count }
        if let entries = message.changes { return entries.count }
        return 1
    }

    /// Both contenders must see the same events, or the comparison means nothing.
    static func checkAgreement(_ workloads: [(String, [[UInt8]])]) -> String {
        workloads.map { name, frames in
            var sink = ChecksumSink()
            var parser = FeedParser()
            for frame in frames { _ = parser.parse(frame, into: &sink) }
            let decoded = parseWithJSONDecoder(frames)
            return "\(name): \(sink.events)/\(decoded)\(sink.events == decoded ? "" : " MISMATCH")"
        }.joined(separator: "; ")
    }

    // MARK: - Timing

    /// Passes per second over the frames, running for about `seconds`.
    static func measure(seconds: Double, _ body: () -> Int) -> Double {
        var sink = body()  // warm-up pass
        let clock = ContinuousClock()
        let start = clock.now
        var passes = 0
        var elapsed = 0.0
        repeat {
            sink &+= body()
            passes += 1
            let duration = clock.now - start
            elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
        } while elapsed < seconds
        blackHole(sink)
        return Double(passes) / elapsed
    }

    @inline(never)
    static func blackHole(_ value: Int) {
        if value == Int.min { fatalError("unreachable checksum") }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
