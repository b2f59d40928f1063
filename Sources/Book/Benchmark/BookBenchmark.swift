// A benchmark anyone can run (wired as a `replay` subcommand by the CLI; see docs/BENCHMARKS.md).
// It measures, in one process and one run, against a naive baseline measured the same way:
//   - applying price changes to realistic books through `BookStore.apply(PriceChangeEvent)`;
//   - the same with G3 top-of-book checks;
//   - applying `book` snapshots;
//   - the exchange-hash recipe (render + SHA-1) per book at several depths.
// Inputs are generated from a fixed seed, so every run applies the same events.
internal import Feed

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the Book module's benchmark and returns a plain-text report (the library never prints).
public enum BookBenchmark {
    /// Full run (a few seconds in release builds). `scale` < 1 shortens it (for smoke checks).
    public static func run(scale: Double = 1.0) -> String {
        var lines: [String] = []
        lines.append("Book benchmark (medians of \(repetitions) runs; seed \(seed))")
        let books = 1_000
        let changeCount = max(1_000, Int(2_000_000 * scale))
        let world = World(books: books, depth: 50, changes: changeCount)

        // Interleaved, so machine noise hits all three alike; the ratio is the median of per-run ratios.
        let runs = interleaved([
            { world.applyChanges(topOfBook: false) }, { world.applyChanges(topOfBook: true) },
            { world.applyChangesNaively() },
        ])
        let plain = medianOf(runs.map { $0[0] })
        let withTop = medianOf(runs.map { $0[1] })
        let naive = medianOf(runs.map { $0[2] })
        let ratioMedian = medianOf(runs.map { $0[2] / $0[0] })
        lines.append(
            "price changes, \(books) books x ~50 levels/side, \(changeCount) changes (near-top updates/inserts/removes):"
        )
        lines.append("  BookStore.apply                     \(rate(changeCount, plain)) changes/s")
        lines.append("  BookStore.apply + G3 top-of-book    \(rate(changeCount, withTop)) changes/s")
        lines.append("  naive baseline (String key + Dictionary levels) \(rate(changeCount, naive)) changes/s")
        lines.append("  speed-up BookStore vs naive (median of per-run ratios) \(format1(ratioMedian))x")

        let verifiedCount = max(100, Int(50_000 * scale))
        let hashes = world.expectedHashes(count: verifiedCount)
        let verified = median { world.applyChangesVerifying(hashes) }
        lines.append("  BookStore.apply + exchange-hash check on every change (\(verifiedCount) changes)")
        lines.append("                                      \(rate(verifiedCount, verified)) changes/s")

        let snapshotRounds = max(2, Int(20 * scale))
        let snapshots = median { world.applySnapshots(rounds: snapshotRounds) }
        lines.append(
            "book snapshots (~50 levels/side):    \(rate(books * snapshotRounds, snapshots)) books/s")

        lines.append("exchange hash (10-field recipe: compact JSON render + EVP SHA-1), per book:")
        for depth in [10, 50, 100, 200] {
            let (nanoseconds, bytes) = hashCost(depth: depth, iterations: max(10, Int(20_000 * scale)))
            let megabytesPerSecond = Double(bytes) / (nanoseconds / 1e9) / 1e6
            lines.append(
                "  \(pad(String(depth), 3)) levels/side: \(pad(String(format1(nanoseconds / 1000)), 7)) us/hash"
                    + "  (\(bytes) JSON bytes, \(Int(megabytesPerSecond)) MB/s)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// For counting allocations with an external tool (valgrind's "total heap usage"): builds
    /// 100 books, then applies the same 100,000 price changes `passes` times and hashes one
    /// book 10,000 times per pass. Comparing runs with different `passes` isolates what the
    /// steady state allocates per change (the setup is the same in both runs).
    public static func allocationProbe(passes: Int) -> String {
        let world = World(books: 100, depth: 50, changes: 100_000)
        let store = world.loadedStore()
        let hasher = ExchangeHasher()
        let book = store.core.books[0]
        var sink: UInt64 = 0
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        for _ in 0..<passes {
            for change in world.changes {
                _ = world.assetBytes[Int(change.asset)].withUnsafeBytes { a in
                    store.apply(
                        PriceChangeEvent(
                            assetID: a, market: empty, timestampMs: 2,
                            price: ExactDecimal(units: change.price, digits: 3),
                            size: ExactDecimal(units: change.size, digits: 2), side: change.side, hash: nil,
                            bestBid: nil, bestAsk: nil, generation: .g3, indexInMessage: 0, countInMessage: 1))
                }
            }
            world.assetBytes[0].withUnsafeBytes { a in
                world.marketBytes[0].withUnsafeBytes { m in
                    for i in 0..<10_000 {
                        sink ^=
                            hasher.hash(
                                market: m, assetID: a, timestampMs: Int64(i), bids: book.bids, asks: book.asks,
                                fields: World.hashFields
                            ).high
                    }
                }
            }
        }
        return
            "passes \(passes): \(store.counters.priceChanges) changes applied, \(passes * 10_000) hashes (\(sink & 1))\n"
    }

    static let repetitions = 5
    static let seed: UInt64 = 20_261_203

    // MARK: - Timing helpers

    static func now() -> UInt64 {
        #if canImport(Glibc)
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        #else
            return UInt64(ContinuousClock.now.duration(to: .now).components.attoseconds / 1_000_000_000)
        #endif
    }

    /// Median wall time of `body` over `repetitions` runs, in nanoseconds.
    static func median(_ body: () -> Void) -> Double {
        var samples: [UInt64] = []
        for _ in 0..<repetitions {
            let start = now()
            body()
            samples.append(now() - start)
        }
        samples.sort()
        return Double(samples[samples.count / 2])
    }

    /// Runs each body once per repetition, in turn; returns per-repetition times (ns).
    static func interleaved(_ bodies: [() -> Void]) -> [[Double]] {
        var result: [[Double]] = []
        for _ in 0..<repetitions {
            var times: [Double] = []
            for body in bodies {
                let start = now()
                body()
                times.append(Double(now() - start))
            }
            result.append(times)
        }
        return result
    }

    static func medianOf(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    static func rate(_ count: Int, _ nanoseconds: Double) -> String {
        let perSecond = Double(count) / (nanoseconds / 1e9)
        if perSecond >= 1e6 { return format1(perSecond / 1e6) + "M" }
        return format1(perSecond / 1e3) + "k"
    }

    static func format1(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    static func hashCost(depth: Int, iterations: Int) -> (nanoseconds: Double, bytes: Int) {
        var random = SplitMix(seed: seed &+ UInt64(depth))
        var book = OrderBook()
        let (bids, asks) = World.levels(midThousandths: 500, depth: depth, random: &random)
        bids.withUnsafeBufferPointer { b in
            asks.withUnsafeBufferPointer { a in book.applySnapshot(bids: b, asks: a, timestampMs: 1) }
        }
        let hasher = ExchangeHasher()
        let fields = ExchangeHashFields(
            recipe: .ten, minOrderSize: ExactDecimal(units: 5_000_000, digits: 0),
            tickSize: ExactDecimal(units: 1_000, digits: 3), negRisk: false,
            lastTradePrice: ExactDecimal(units: 500_000, digits: 3))
        let market = Array(("0x" + String(repeating: "ab", count: 32)).utf8)
        let asset = Array(String(repeating: "7", count: 77).utf8)
        var sink: UInt64 = 0
        let elapsed = median {
            market.withUnsafeBytes { m in
                asset.withUnsafeBytes { a in
                    for i in 0..<iterations {
                        let h = hasher.hash(
                            market: m, assetID: a, timestampMs: 1_790_000_000_000 + Int64(i), bids: book.bids,
                            asks: book.asks, fields: fields)
                        sink ^= h.high
                    }
                }
            }
        }
        let bytes = hasher.json(
            book: book, market: String(decoding: market, as: UTF8.self),
            assetID: String(decoding: asset, as: UTF8.self),
            timestamp: "1790000000000", fields: fields
        ).count
        if sink == 42 { return (elapsed / Double(iterations) + 1e-9, bytes) }  // keeps `sink` alive
        return (elapsed / Double(iterations), bytes)
    }
}

/// SplitMix64, the same generator as the tests' seeded RNG (Book cannot depend on TestSupport).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The generated books and change stream.
struct World {
    struct PlannedChange {
        var asset: Int32
        var side: Side
        var price: Int64
        var size: Int64
    }

    let assetBytes: [[UInt8]]
    let marketBytes: [[UInt8]]
    let snapshotBids: [[PriceLevel]]
    let snapshotAsks: [[PriceLevel]]
    let changes: [PlannedChange]

    static func levels(midThousandths: Int, depth: Int, random: inout SplitMix) -> ([PriceLevel], [PriceLevel]) {
        var bids: [PriceLevel] = []
        var asks: [PriceLevel] = []
        for i in 0..<depth {
            let bidPrice = Int64(max(1, midThousandths - 1 - i)) * 1_000
            let askPrice = Int64(min(999, midThousandths + 1 + i)) * 1_000
            bids.append(
                PriceLevel(
                    price: ExactDecimal(units: bidPrice, digits: 3),
                    size: ExactDecimal(units: Int64(random.next() % 500_000 + 1) * 10_000, digits: 2)))
            asks.append(
                PriceLevel(
                    price: ExactDecimal(units: askPrice, digits: 3),
                    size: ExactDecimal(units: Int64(random.next() % 500_000 + 1) * 10_000, digits: 2)))
        }
        return (bids.reversed(), asks.reversed())
    }

    init(books: Int, depth: Int, changes count: Int) {
        var random = SplitMix(seed: BookBenchmark.seed)
        var assets: [[UInt8]] = []
        var markets: [[UInt8]] = []
        var bids: [[PriceLevel]] = []
        var asks: [[PriceLevel]] = []
        var mids: [Int] = []
        for i in 0..<books {
            var id = String(random.next())
            while id.utf8.count < 77 { id += String(random.next() % 10) }
            assets.append(Array(id.utf8))
            markets.append(Array(("0x" + String(repeating: "0", count: 58) + String(100_000 + i / 2)).utf8))
            let mid = Int(random.next() % 400) + 300
            mids.append(mid)
            let (b, a) = World.levels(midThousandths: mid, depth: depth, random: &random)
            bids.append(b)
            asks.append(a)
        }
        var planned: [PlannedChange] = []
        planned.reserveCapacity(count)
        for _ in 0..<count {
            let asset = Int(random.next() % UInt64(books))
            let side: Side = random.next() & 1 == 0 ? .bid : .ask
            // Most activity is within a few ticks of the top; a few changes land deep.
            let distance = random.next() % 10 < 8 ? Int(random.next() % 5) : Int(random.next() % UInt64(depth))
            let price = side == .bid ? mids[asset] - 1 - distance : mids[asset] + 1 + distance
            let roll = random.next() % 100
            let size: Int64 = roll < 12 ? 0 : Int64(random.next() % 500_000 + 1) * 10_000
            planned.append(
                PlannedChange(asset: Int32(asset), side: side, price: Int64(price) * 1_000, size: size))
        }
        assetBytes = assets
        marketBytes = markets
        snapshotBids = bids
        snapshotAsks = asks
        changes = planned
    }

    func loadedStore() -> BookStore {
        let store = BookStore()
        applySnapshots(into: store)
        return store
    }

    func applySnapshots(into store: BookStore) {
        for i in 0..<assetBytes.count {
            _ = assetBytes[i].withUnsafeBytes { a in
                marketBytes[i].withUnsafeBytes { m in
                    snapshotBids[i].withUnsafeBufferPointer { b in
                        snapshotAsks[i].withUnsafeBufferPointer { s in
                            store.apply(
                                BookEvent(
                                    assetID: a, market: m, timestampMs: 1, hash: nil, bids: b, asks: s,
                                    tickSize: ExactDecimal(units: 1_000, digits: 3), lastTradePrice: nil,
                                    hadEventType: true, objectOffset: 0, objectLength: 0))
                        }
                    }
                }
            }
        }
    }

    func applySnapshots(rounds: Int) {
        let store = BookStore()
        for _ in 0..<rounds { applySnapshots(into: store) }
    }

    /// Applies the change stream through the real event path (events are views over the
    /// pre-built id bytes, as the parser's are views over the frame).
    func applyChanges(topOfBook: Bool) {
        let store = loadedStore()
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        let bestBid = ExactDecimal(units: 500_000, digits: 2)
        let bestAsk = ExactDecimal(units: 510_000, digits: 2)
        for change in changes {
            _ = assetBytes[Int(change.asset)].withUnsafeBytes { a in
                store.apply(
                    PriceChangeEvent(
                        assetID: a, market: empty, timestampMs: 2,
                        price: ExactDecimal(units: change.price, digits: 3),
                        size: ExactDecimal(units: change.size, digits: 2), side: change.side, hash: nil,
                        bestBid: topOfBook ? bestBid : nil, bestAsk: topOfBook ? bestAsk : nil, generation: .g3,
                        indexInMessage: 0, countInMessage: 1))
            }
        }
        precondition(store.counters.priceChanges == changes.count, "benchmark changes were not all applied")
    }

    static let hashFields = ExchangeHashFields(
        recipe: .ten, minOrderSize: ExactDecimal(units: 5_000_000, digits: 0),
        tickSize: ExactDecimal(units: 1_000, digits: 3), negRisk: false, lastTradePrice: nil)

    /// The hash the exchange would send after each of the first `count` changes.
    func expectedHashes(count: Int) -> [ExchangeHash] {
        let shadow = loadedStore()
        let hasher = ExchangeHasher()
        var hashes: [ExchangeHash] = []
        hashes.reserveCapacity(count)
        for change in changes.prefix(count) {
            let asset = Int(change.asset)
            var book = shadow.core.books[shadow.core.index(of: String(decoding: assetBytes[asset], as: UTF8.self))!]
            book.applyLevel(
                side: change.side, price: ExactDecimal(units: change.price, digits: 3),
                size: ExactDecimal(units: change.size, digits: 2), timestampMs: 2)
            _ = assetBytes[asset].withUnsafeBytes { a in
                shadow.apply(
                    PriceChangeEvent(
                        assetID: a, market: UnsafeRawBufferPointer(start: nil, count: 0), timestampMs: 2,
                        price: ExactDecimal(units: change.price, digits: 3),
                        size: ExactDecimal(units: change.size, digits: 2), side: change.side, hash: nil, bestBid: nil,
                        bestAsk: nil, generation: .g3, indexInMessage: 0, countInMessage: 1))
            }
            let hash = assetBytes[asset].withUnsafeBytes { a in
                marketBytes[asset].withUnsafeBytes { m in
                    hasher.hash(
                        market: m, assetID: a, timestampMs: 2, bids: book.bids, asks: book.asks,
                        fields: World.hashFields)
                }
            }
            hashes.append(hash)
        }
        return hashes
    }

    /// Applies the first `hashes.count` changes with verification on; every hash must verify.
    func applyChangesVerifying(_ hashes: [ExchangeHash]) {
        let store = BookStore(options: .init(verifyExchangeHash: true))
        for i in 0..<assetBytes.count {
            store.setSideData(
                MarketSideData(
                    market: String(decoding: marketBytes[i], as: UTF8.self), minOrderSize: "5", negRisk: false,
                    tickSize: "0.001", hashRecipe: 10), forAsset: String(decoding: assetBytes[i], as: UTF8.self))
        }
        applySnapshots(into: store)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        for (i, change) in changes.prefix(hashes.count).enumerated() {
            _ = assetBytes[Int(change.asset)].withUnsafeBytes { a in
                store.apply(
                    PriceChangeEvent(
                        assetID: a, market: empty, timestampMs: 2, price: ExactDecimal(units: change.price, digits: 3),
                        size: ExactDecimal(units: change.size, digits: 2), side: change.side, hash: hashes[i],
                        bestBid: nil, bestAsk: nil, generation: .g3, indexInMessage: 0, countInMessage: 1))
            }
        }
        precondition(store.counters.exchangeHashVerified == hashes.count, "benchmark hashes did not all verify")
    }

    /// The design a first attempt tends to have: a String per event and a Dictionary per side.
    func applyChangesNaively() {
        var books: [String: ([Int64: Int64], [Int64: Int64])] = [:]
        for i in 0..<assetBytes.count {
            var bids: [Int64: Int64] = [:]
            var asks: [Int64: Int64] = [:]
            for level in snapshotBids[i] { bids[level.price.units] = level.size.units }
            for level in snapshotAsks[i] { asks[level.price.units] = level.size.units }
            books[String(decoding: assetBytes[i], as: UTF8.self)] = (bids, asks)
        }
        var applied = 0
        for change in changes {
            let key = String(decoding: assetBytes[Int(change.asset)], as: UTF8.self)
            if change.side == .bid {
                books[key]!.0[change.price] = change.size == 0 ? nil : change.size
            } else {
                books[key]!.1[change.price] = change.size == 0 ? nil : change.size
            }
            applied += 1
        }
        precondition(applied == changes.count && books.count == assetBytes.count)
    }
}
