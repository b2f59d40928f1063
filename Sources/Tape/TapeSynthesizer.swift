// A deterministic, seeded generator of realistic synthetic tapes for benchmarks and tests,
// modelled on the real G3 captures in Fixtures/corpus: binary markets with mirrored YES/NO
// books, tick sizes 0.01 and 0.001, tens of levels a side, sizes with up to 2 decimals,
// G3 price_change with per-entry hash/best_bid/best_ask, last trades, tick-size changes
// and re-snapshots.

/// Parameters of a synthetic tape.
public struct SynthOptions: Sendable {
    /// Number of assets (rounded up to an even number: each market has a YES and a NO token).
    public var assets: Int = 20
    /// Length of the tape on the exchange clock.
    public var durationNs: Int64 = 60_000_000_000
    /// Average messages (frames) per second after the opening dump.
    public var messagesPerSecond: Int = 1000
    public var seed: UInt64 = 1
    /// Exchange time of the first frame (epoch ms); fixed by default so output is reproducible.
    public var startMs: Int64 = 1_790_000_000_000

    public init() {}
}

/// What the synthesizer wrote.
public struct SynthReport: Sendable {
    public var frames = 0
    public var priceChangeEntries = 0
    public var books = 0
    public var trades = 0
    public var tickSizeChanges = 0
    public var assets: [String] = []
}

/// Generates synthetic tapes; see the file comment. Same options → byte-identical tape.
public enum TapeSynthesizer {
    /// Writes a synthetic tape through `writer` (which must have been opened with
    /// `header(for:)`), then closes it.
    public static func generate(_ options: SynthOptions, into writer: TapeWriter) throws -> SynthReport {
        var generator = Generator(options: options)
        return try generator.run(writer)
    }

    /// The header a synthetic tape carries: its assets and their side data.
    public static func header(for options: SynthOptions) -> TapeHeader {
        let generator = Generator(options: options)
        var header = TapeHeader(
            createdNs: options.startMs * 1_000_000,
            source:
                "synth:assets=\(generator.markets.count * 2),rate=\(options.messagesPerSecond),seed=\(options.seed)",
            session: "synth-\(options.seed)", assets: generator.markets.flatMap { [$0.yes.id, $0.no.id] })
        header.synthetic = true
        for market in generator.markets {
            for book in [market.yes, market.no] {
                header.sideData[book.id] = AssetSideData(
                    market: market.id, minOrderSize: market.minOrderSize, negRisk: market.negRisk,
                    tickSize: render(price: market.tick, tickMilli: market.tick))
            }
        }
        return header
    }

    // MARK: Model

    /// SplitMix64: tiny, fast and the same on every platform.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    /// One token's book: prices in thousandths (0.481 → 481), sizes in hundredths.
    struct SynthBook {
        var id: String
        var bids: [Int: Int] = [:]
        var asks: [Int: Int] = [:]
        var bestBid: Int? { bids.keys.max() }
        var bestAsk: Int? { asks.keys.min() }
    }

    struct Market {
        var id: String
        var tick: Int  // thousandths: 10 = 0.01, 1 = 0.001
        var minOrderSize: String
        var negRisk: Bool
        var yes: SynthBook
        var no: SynthBook
        var lastTrade: Int = 500
    }

    struct Generator {
        let options: SynthOptions
        var random: Random
        var markets: [Market] = []

        init(options: SynthOptions) {
            self.options = options
            random = Random(state: options.seed &* 0x2545_F491_4F6C_DD1D &+ 1)
            let count = max(1, (options.assets + 1) / 2)
            for index in 0..<count {
                let tick = random.chance(70) ? 10 : 1
                let mid = (150 + random.below(700)) / tick * tick
                var market = Market(
                    id: "0x" + hex64(&random), tick: tick, minOrderSize: random.chance(80) ? "5" : "1",
                    negRisk: random.chance(30), yes: SynthBook(id: decimalID(&random, index: index * 2)),
                    no: SynthBook(id: decimalID(&random, index: index * 2 + 1)))
                let levels = 8 + random.below(50)
                for level in 1...levels {
                    let bid = mid - tick * level
                    let ask = mid + tick * level
                    if bid > 0 { market.yes.bids[bid] = size(&random) }
                    if ask < 1000 { market.yes.asks[ask] = size(&random) }
                }
                market.lastTrade = mid
                mirror(&market)
                markets.append(market)
            }
        }

        /// NO book = 1 − YES book: a YES bid at p is a NO ask at 1 − p, same size.
        func mirror(_ market: inout Market) {
            market.no.bids = Dictionary(uniqueKeysWithValues: market.yes.asks.map { (1000 - $0.key, $0.value) })
            market.no.asks = Dictionary(uniqueKeysWithValues: market.yes.bids.map { (1000 - $0.key, $0.value) })
        }

        mutating func run(_ writer: TapeWriter) throws -> SynthReport {
            var report = SynthReport()
            report.assets = markets.flatMap { [$0.yes.id, $0.no.id] }
            var nowMs = options.startMs
            let startNs = options.startMs * 1_000_000
            let latencyNs: Int64 = 35_000_000
            func recv(_ exchangeMs: Int64) -> Int64 { exchangeMs * 1_000_000 + latencyNs }
            try writer.writeEvent(
                .connected, conn: 0, recvWallNs: startNs, monoNs: 0,
                detail: TapeEventDetail(url: "wss://ws-subscriptions-clob.polymarket.com/ws/market"))
            try writer.writeEvent(
                .subscribed, conn: 0, recvWallNs: startNs, monoNs: 0, detail: TapeEventDetail(assets: report.assets))
            // Opening dump: one array of every book, compact, as the server sends it.
            var frame: [UInt8] = [0x5B]
            for index in markets.indices {
                for isYes in [true, false] {
                    if frame.count > 1 { frame.append(0x2C) }
                    renderBook(markets[index], yes: isYes, timestampMs: nowMs, into: &frame)
                    report.books += 1
                }
            }
            frame.append(0x5D)
            try writer.writeFrame(frame, recvWallNs: recv(nowMs), monoNs: recv(nowMs) - startNs, conn: 0)
            report.frames += 1
            let endMs = options.startMs + options.durationNs / 1_000_000
            let rate = max(options.messagesPerSecond, 1)
            var carryMicros: Int64 = 0
            while true {
                // Exponential-ish spacing with the requested mean, in microseconds.
                let mean = 1_000_000 / Int64(rate)
                carryMicros += Int64(random.below(Int(2 * mean) + 1))
                nowMs += carryMicros / 1000
                carryMicros %= 1000
                if nowMs >= endMs { break }
                let marketIndex = random.below(markets.count)
                frame.removeAll(keepingCapacity: true)
                let roll = random.below(1000)
                if roll < 880 {
                    report.priceChangeEntries += priceChange(marketIndex, timestampMs: nowMs, into: &frame)
                } else if roll < 975 {
                    trade(marketIndex, timestampMs: nowMs, into: &frame)
                    report.trades += 1
                } else if roll < 990 || markets[marketIndex].tick == 1 {
                    // Re-snapshot of one token (the server re-sends books now and then).
                    renderBook(markets[marketIndex], yes: random.chance(50), timestampMs: nowMs, into: &frame)
                    report.books += 1
                } else {
                    tickSizeChange(marketIndex, timestampMs: nowMs, into: &frame)
                    report.tickSizeChanges += 1
                }
                try writer.writeFrame(frame, recvWallNs: recv(nowMs), monoNs: recv(nowMs) - startNs, conn: 0)
                report.frames += 1
            }
            try writer.close()
            return report
        }

        /// One G3 price_change with mirrored YES/NO entries; returns the entry count.
        mutating func priceChange(_ index: Int, timestampMs: Int64, into frame: inout [UInt8]) -> Int {
            var market = markets[index]
            let tick = market.tick
            let isBid = random.chance(50)
            var price: Int
            var newSize: Int
            let bestBid = market.yes.bestBid ?? 0
            let bestAsk = market.yes.bestAsk ?? 1000
            let action = random.below(100)
            let side = isBid ? market.yes.bids : market.yes.asks
            if action < 55, let existing = side.keys.sorted()[safe: random.below(side.count)] {
                price = existing
                newSize = size(&random)
            } else if action < 85 || side.isEmpty {
                // A new level between the best of this side and a few ticks away, never crossing.
                let offset = tick * random.below(4)
                price =
                    isBid ? min(bestBid + tick, bestAsk - tick) - offset : max(bestAsk - tick, bestBid + tick) + offset
                newSize = size(&random)
            } else {
                price = side.keys.sorted()[random.below(side.count)]
                newSize = 0
            }
            price = max(tick, min(1000 - tick, price))
            if isBid, price >= bestAsk { price = bestAsk - tick }
            if !isBid, price <= bestBid { price = bestBid + tick }
            guard price > 0, price < 1000 else { return 0 }
            if isBid {
                market.yes.bids[price] = newSize == 0 ? nil : newSize
                market.no.asks[1000 - price] = newSize == 0 ? nil : newSize
            } else {
                market.yes.asks[price] = newSize == 0 ? nil : newSize
                market.no.bids[1000 - price] = newSize == 0 ? nil : newSize
            }
            markets[index] = market
            let sizeText = render(size: newSize)
            append(#"{"market":""#, &frame)
            append(market.id, &frame)
            append(#"", "price_changes":["#, &frame)
            for (number, isYes) in [true, false].enumerated() {
                if number > 0 { append(", ", &frame) }
                let book = isYes ? market.yes : market.no
                let entryPrice = isYes ? price : 1000 - price
                let entryBid = isYes ? isBid : !isBid
                append(#"{"asset_id":""#, &frame)
                append(book.id, &frame)
                append(#"", "price":""#, &frame)
                append(render(price: entryPrice, tickMilli: tick), &frame)
                append(#"", "size":""#, &frame)
                append(sizeText, &frame)
                append(#"", "side":""#, &frame)
                append(entryBid ? "BUY" : "SELL", &frame)
                append(#"", "hash":""#, &frame)
                append(bookHash(market, yes: isYes, timestampMs: timestampMs), &frame)
                append(#"", "best_bid":""#, &frame)
                append(book.bestBid.map { render(price: $0, tickMilli: tick) } ?? "0", &frame)
                append(#"", "best_ask":""#, &frame)
                append(book.bestAsk.map { render(price: $0, tickMilli: tick) } ?? "1", &frame)
                append(#""}"#, &frame)
            }
            append(#"], "timestamp":""#, &frame)
            append(String(timestampMs), &frame)
            append(#"", "event_type":"price_change"}"#, &frame)
            return 2
        }

        mutating func trade(_ index: Int, timestampMs: Int64, into frame: inout [UInt8]) {
            var market = markets[index]
            let isYes = random.chance(50)
            let book = isYes ? market.yes : market.no
            let isBuy = random.chance(50)
            let price = (isBuy ? book.bestAsk : book.bestBid) ?? 500
            market.lastTrade = isYes ? price : 1000 - price
            markets[index] = market
            let micro = 1 + random.below(50_000_000)
            append(#"{"asset_id":""#, &frame)
            append(book.id, &frame)
            append(#"","event_type":"last_trade_price","fee_rate_bps":"0","market":""#, &frame)
            append(market.id, &frame)
            append(#"","price":""#, &frame)
            append(render(price: price, tickMilli: market.tick), &frame)
            append(#"","side":""#, &frame)
            append(isBuy ? "BUY" : "SELL", &frame)
            append(#"","size":""#, &frame)
            append(renderMicro(micro), &frame)
            append(#"","timestamp":""#, &frame)
            append(String(timestampMs), &frame)
            append(#"","transaction_hash":"0x"#, &frame)
            append(hex64(&random), &frame)
            append(#""}"#, &frame)
        }

        /// 0.01 → 0.001 only: every price on the 0.01 grid is on the 0.001 grid too. A
        /// fresh snapshot of both tokens follows in the same array frame, as after a reset.
        mutating func tickSizeChange(_ index: Int, timestampMs: Int64, into frame: inout [UInt8]) {
            var market = markets[index]
            market.tick = 1
            markets[index] = market
            frame.append(0x5B)
            for (number, isYes) in [true, false].enumerated() {
                if number > 0 { frame.append(0x2C) }
                let book = isYes ? market.yes : market.no
                append(#"{"event_type":"tick_size_change","asset_id":""#, &frame)
                append(book.id, &frame)
                append(#"","market":""#, &frame)
                append(market.id, &frame)
                append(#"","old_tick_size":"0.01","new_tick_size":"0.001","timestamp":""#, &frame)
                append(String(timestampMs), &frame)
                append(#""}"#, &frame)
            }
            for isYes in [true, false] {
                frame.append(0x2C)
                renderBook(market, yes: isYes, timestampMs: timestampMs, into: &frame)
            }
            frame.append(0x5D)
        }

        func renderBook(_ market: Market, yes: Bool, timestampMs: Int64, into frame: inout [UInt8]) {
            let book = yes ? market.yes : market.no
            append(#"{"market":""#, &frame)
            append(market.id, &frame)
            append(#"","asset_id":""#, &frame)
            append(book.id, &frame)
            append(#"","timestamp":""#, &frame)
            append(String(timestampMs), &frame)
            append(#"","hash":""#, &frame)
            append(bookHash(market, yes: yes, timestampMs: timestampMs), &frame)
            append(#"","bids":"#, &frame)
            renderLevels(book.bids.keys.sorted(), book.bids, tick: market.tick, into: &frame)
            append(#","asks":"#, &frame)
            renderLevels(book.asks.keys.sorted(by: >), book.asks, tick: market.tick, into: &frame)
            append(#","tick_size":""#, &frame)
            append(render(price: market.tick, tickMilli: market.tick), &frame)
            append(#"","event_type":"book","last_trade_price":""#, &frame)
            append(renderTrade(yes ? market.lastTrade : 1000 - market.lastTrade), &frame)
            append(#""}"#, &frame)
        }

        func renderLevels(_ prices: [Int], _ levels: [Int: Int], tick: Int, into frame: inout [UInt8]) {
            frame.append(0x5B)
            for (number, price) in prices.enumerated() {
                if number > 0 { frame.append(0x2C) }
                append(#"{"price":""#, &frame)
                append(render(price: price, tickMilli: tick), &frame)
                append(#"","size":""#, &frame)
                append(render(size: levels[price] ?? 0), &frame)
                append(#""}"#, &frame)
            }
            frame.append(0x5D)
        }

        /// The exchange hash of a token's book after a change.
        /// TODO(book-hash): compute with the Book module's recipe-10 hasher once Book lands on
        /// main; until then a fixed placeholder that marks the frame's hash as unverifiable.
        func bookHash(_ market: Market, yes: Bool, timestampMs: Int64) -> String {
            String(repeating: "0", count: 40)
        }
    }

    // MARK: Rendering

    static func append(_ text: String, _ frame: inout [UInt8]) {
        frame.append(contentsOf: text.utf8)
    }

    /// Thousandths → "0.48" / "0.481" (no trailing zeros, as the exchange writes prices).
    static func render(price: Int, tickMilli: Int) -> String {
        var fraction = String(price % 1000)
        while fraction.count < 3 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let whole = price / 1000
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    /// Last trade prices are written with 3 decimals ("0.500").
    static func renderTrade(_ price: Int) -> String {
        var fraction = String(price % 1000)
        while fraction.count < 3 { fraction = "0" + fraction }
        return "\(price / 1000).\(fraction)"
    }

    /// Hundredths → "12.5", "100", "3.25".
    static func render(size: Int) -> String {
        var fraction = String(size % 100)
        if fraction.count < 2 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(size / 100)" : "\(size / 100).\(fraction)"
    }

    /// Millionths → trade size with up to 6 decimals.
    static func renderMicro(_ value: Int) -> String {
        var fraction = String(value % 1_000_000)
        while fraction.count < 6 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(value / 1_000_000)" : "\(value / 1_000_000).\(fraction)"
    }

    /// Book sizes: mostly whole shares, some with 1–2 decimals, from 5 to ~50,000.
    static func size(_ random: inout Random) -> Int {
        let whole = 5 + random.below(random.chance(80) ? 2000 : 50_000)
        switch random.below(10) {
        case 0..<6: return whole * 100
        case 6..<8: return whole * 100 + random.below(10) * 10
        default: return whole * 100 + random.below(100)
        }
    }

    static func hex64(_ random: inout Random) -> String {
        var text = ""
        for _ in 0..<4 {
            let word = String(random.next(), radix: 16)
            text += String(repeating: "0", count: 16 - word.count) + word
        }
        return text
    }

    /// Token ids are 76–78 digit decimal numbers; the index keeps them unique.
    static func decimalID(_ random: inout Random, index: Int) -> String {
        var text = String(1 + random.below(9))
        while text.count < 70 { text += String(random.next() % 10) }
        let suffix = String(index)
        return text + String(repeating: "0", count: 7 - suffix.count) + suffix
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? {
        index >= 0 && index < count ? self[index] : nil
    }
}
