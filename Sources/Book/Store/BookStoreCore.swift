// The book store's state and event handling (wrapped by the BookStore class).
internal import Feed

/// The state and logic behind `BookStore`, as a value type: the class holds one of these, so
/// each public call is a single exclusive access and every inner access is static (no runtime
/// exclusivity checks or reference-count traffic per field on the hot path).
struct BookStoreCore {
    let options: BookStore.Options

    // Assets: dense indices; freed ones are reused.
    private var assetTable = ByteInternTable()
    /// Ids of assets removed by `remove(assetID:)`, so their later events count as unknown.
    private var removedTable = ByteInternTable()
    private var removedCount = 0
    var books: [OrderBook] = []
    var assetIDs: [String] = []
    var assetMarket: [Int32] = []
    private var assetLive: [Bool] = []
    private var freeAssetSlots: [Int] = []
    /// The caller's asset slots (see `BookStore.apply(_:slot:)`): slot → asset index + 1, 0 when
    /// not known yet. Lets a hinted event skip hashing and comparing its asset id.
    private var slotAssets: [Int32] = []
    /// Slots above this are not cached (they still work, through the id lookup).
    static let maxCachedSlot = 1 << 22

    // Markets: never removed (few, and both tokens share one).
    private var marketTable = ByteInternTable()
    var markets: [MarketState] = []

    var stored = BookCounters()
    /// `exchangeHashUnverifiableReasons` by `HashUnverifiableReason.ordinal` (a dictionary
    /// keyed by strings cost a hash of the key on every unverifiable check).
    var unverifiableByReason = [Int](repeating: 0, count: HashUnverifiableReason.allCases.count)
    /// Per asset, used only when verifying.
    var hashStates: [AssetHashState] = []
    var pendingHashCount = 0
    /// Set by the caller before applying a message (e.g. its tape line); only recorded.
    var currentInputLine = 0
    let hasher = ExchangeHasher()

    init(options: BookStore.Options) {
        self.options = options
    }

    // MARK: - Registry

    /// Number of books held (registered assets, with or without a snapshot).
    var bookCount: Int { assetTable.liveCount }

    /// Everything counted so far (with the current number of undecided hash mismatches).
    var counters: BookCounters {
        var result = stored
        result.exchangeHashPending = pendingHashCount
        for reason in HashUnverifiableReason.allCases where unverifiableByReason[reason.ordinal] > 0 {
            result.exchangeHashUnverifiableReasons[reason.rawValue] = unverifiableByReason[reason.ordinal]
        }
        return result
    }

    /// Registers an asset (e.g. on subscribe) so a later price change before its snapshot counts
    /// as `deltasBeforeSnapshot`. Returns its index. Idempotent.
    @discardableResult
    mutating func register(assetID: String, market: String? = nil) -> Int {
        var id = assetID
        let index = id.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            return assetTable.find(raw) ?? addAsset(raw)
        }
        if let market, !market.isEmpty {
            var m = market
            m.withUTF8 { linkMarket(asset: index, marketBytes: UnsafeRawBufferPointer($0)) }
        }
        return index
    }

    /// Forgets an asset (unsubscribe): its book is dropped and its later events are counted as
    /// unknown and ignored. Returns false if the asset was not held.
    @discardableResult
    mutating func remove(assetID: String) -> Bool {
        var id = assetID
        return id.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            guard let index = assetTable.remove(raw) else { return false }
            if removedTable.find(raw) == nil {
                removedTable.insert(raw, value: removedCount)
                removedCount += 1
            }
            assetRemoved(asset: index)
            forgetSlots(of: index)
            hashStates[index] = AssetHashState()
            let market = Int(assetMarket[index])
            if market >= 0 { markets[market].assets.removeAll { $0 == index } }
            books[index] = OrderBook()
            assetIDs[index] = ""
            assetMarket[index] = -1
            assetLive[index] = false
            freeAssetSlots.append(index)
            return true
        }
    }

    /// A copy of the asset's book (cheap: copy-on-write storage), nil if not held.
    func book(forAsset assetID: String) -> OrderBook? {
        guard let index = index(of: assetID) else { return nil }
        return books[index]
    }

    /// Asset ids of the market's books held here, sorted.
    func assetIDs(inMarket market: String) -> [String] {
        var m = market
        guard let marketIndex = m.withUTF8({ marketTable.find(UnsafeRawBufferPointer($0)) }) else { return [] }
        return markets[marketIndex].assets.map { assetIDs[$0] }.sorted()
    }

    /// The market's last trade price as written, nil if none seen.
    func lastTradePrice(market: String) -> ExactDecimal? {
        var m = market
        guard let marketIndex = m.withUTF8({ marketTable.find(UnsafeRawBufferPointer($0)) }) else { return nil }
        return markets[marketIndex].lastTradePrice
    }

    func index(of assetID: String) -> Int? {
        var id = assetID
        return id.withUTF8 { assetTable.find(UnsafeRawBufferPointer($0)) }
    }

    /// The asset index of `id`, through the slot cache when `slot` > 0 (nil: not held).
    @inline(__always)
    private mutating func assetIndex(_ id: UnsafeRawBufferPointer, slot: Int) -> Int? {
        if slot > 0 && slot < slotAssets.count {
            let cached = Int(slotAssets[slot])
            if cached > 0 {
                assert(assetTable.find(id) == cached - 1, "asset slot \(slot) reused for another asset")
                return cached - 1
            }
        }
        guard let found = assetTable.find(id) else { return nil }
        if slot > 0 { remember(slot: slot, asset: found) }
        return found
    }

    private mutating func remember(slot: Int, asset: Int) {
        guard slot > 0 && slot <= Self.maxCachedSlot else { return }
        if slot >= slotAssets.count {
            slotAssets.append(contentsOf: repeatElement(0, count: slot + 1 - slotAssets.count))
        }
        slotAssets[slot] = Int32(asset + 1)
    }

    /// A removed asset's index may be reused for another id: its slots must not point at it.
    private mutating func forgetSlots(of asset: Int) {
        let tag = Int32(asset + 1)
        for slot in slotAssets.indices where slotAssets[slot] == tag { slotAssets[slot] = 0 }
    }

    private mutating func addAsset(_ bytes: UnsafeRawBufferPointer) -> Int {
        let id = String(decoding: bytes, as: UTF8.self)
        let index: Int
        if let reused = freeAssetSlots.popLast() {
            index = reused
            books[index] = OrderBook()
            assetIDs[index] = id
            assetMarket[index] = -1
            assetLive[index] = true
            hashStates[index] = AssetHashState()
        } else {
            index = books.count
            books.append(OrderBook())
            assetIDs.append(id)
            assetMarket.append(-1)
            assetLive.append(true)
            hashStates.append(AssetHashState())
        }
        assetTable.insert(bytes, value: index)
        return index
    }

    @inline(__always)
    private mutating func linkMarket(asset: Int, marketBytes: UnsafeRawBufferPointer) {
        let current = Int(assetMarket[asset])
        if current >= 0 {
            // Fast path: the asset already belongs to this market.
            let same = marketTable.withKey(current) { key in
                key.count == marketBytes.count && memcmpBytes(key.baseAddress!, marketBytes.baseAddress!, key.count)
            }
            if same { return }
            markets[current].assets.removeAll { $0 == asset }
        }
        let market: Int
        if let found = marketTable.find(marketBytes) {
            market = found
        } else {
            market = markets.count
            marketTable.insert(marketBytes, value: market)
            markets.append(MarketState(id: String(decoding: marketBytes, as: UTF8.self)))
        }
        assetMarket[asset] = Int32(market)
        markets[market].assets.append(asset)
    }

    /// Side data for an asset's market from a tape header or metadata (registers the asset).
    mutating func setSideData(_ data: MarketSideData, forAsset assetID: String) {
        let index = register(assetID: assetID, market: data.market)
        if let tick = data.tickSize.flatMap(DecimalText.parse), books[index].tickSize == nil {
            books[index].setTickSize(tick)
        }
        let market = Int(assetMarket[index])
        guard market >= 0 else { return }
        if let text = data.minOrderSize, let value = DecimalText.parse(text) {
            markets[market].hashSide.minOrderSize = value
        }
        if let negRisk = data.negRisk { markets[market].hashSide.negRisk = negRisk }
        if let recipe = data.hashRecipe.flatMap(ExchangeHashRecipe.init(rawValue:)) {
            markets[market].hashSide.recipe = recipe
        }
    }

    // MARK: - Applying events

    /// A `book` snapshot: replaces the asset's book (creating it if new).
    @discardableResult
    mutating func apply(_ e: BookEvent, slot: Int = 0) -> ApplyResult {
        if e.assetID.isEmpty {
            stored.unknownAssetEvents += 1
            return .unknownAsset
        }
        let asset: Int
        if let held = assetIndex(e.assetID, slot: slot) {
            asset = held
        } else {
            asset = addAsset(e.assetID)
            remember(slot: slot, asset: asset)
        }
        if !e.market.isEmpty { linkMarket(asset: asset, marketBytes: e.market) }
        if !e.hadEventType && books[asset].hasSnapshot && e.timestampMs < books[asset].lastTimestampMs {
            stored.staleSnapshotsRejected += 1
            return .rejectedStale
        }
        books[asset].applySnapshot(bids: e.bids, asks: e.asks, timestampMs: e.timestampMs, tickSize: e.tickSize)
        books[asset].snapshotLine = currentInputLine
        books[asset].lastChangeLine = currentInputLine
        stored.snapshots += 1
        if let pending = books[asset].pendingTop {
            stored.bestBidAskChecks += 1
            if !books[asset].topMatches(bestBid: pending.bestBid, bestAsk: pending.bestAsk) {
                stored.bestBidAskMismatches += 1
            }
            books[asset].pendingTop = nil
        }
        if let tick = books[asset].tickSize, tick.units > 0 {
            for level in e.bids where level.price.units % tick.units != 0 { stored.offTickLevels += 1 }
            for level in e.asks where level.price.units % tick.units != 0 { stored.offTickLevels += 1 }
        }
        for level in e.bids where level.price.units <= 0 { stored.invalidLevels += 1 }
        for level in e.asks where level.price.units <= 0 { stored.invalidLevels += 1 }
        let market = Int(assetMarket[asset])
        if market >= 0, let price = e.lastTradePrice { markets[market].lastTradePrice = price }
        if books[asset].isCrossedOrLocked { stored.crossedBooks += 1 }
        if options.verifyExchangeHash {
            snapshotArrived(asset: asset)
            if let hash = e.hash {
                checkExchangeHash(asset: asset, hash: hash, timestampMs: e.timestampMs, kind: .book)
            }
        }
        return .applied
    }

    /// One level change (a G3 entry, a G2 `changes` item or a G1 message).
    mutating func apply(_ e: PriceChangeEvent, slot: Int = 0) -> ApplyResult {
        guard let asset = assetIndex(e.assetID, slot: slot) else {
            if removedCount > 0 && removedTable.find(e.assetID) != nil {
                stored.unknownAssetEvents += 1
                return .unknownAsset
            }
            stored.deltasBeforeSnapshot += 1
            return .noBook
        }
        // One in-place call does the book's whole part, so the hot path touches the array once.
        let outcome = books[asset].apply(e, inputLine: currentInputLine)
        if outcome.contains(.noSnapshot) {
            stored.deltasBeforeSnapshot += 1
            return .noBook
        }
        if outcome.contains(.invalidPrice) {
            stored.invalidLevels += 1
            return .invalidLevel
        }
        stored.priceChanges += 1
        if !outcome.isEmpty {
            if outcome.contains(.untrusted) { stored.deltasWhileUntrusted += 1 }
            if outcome.contains(.offTick) { stored.offTickLevels += 1 }
            if outcome.contains(.removedAbsent) { stored.removalsOfAbsentLevels += 1 }
            if outcome.contains(.crossed) { stored.crossedBooks += 1 }
            if outcome.contains(.topChecked) { stored.topOfBookChecks += 1 }
            if outcome.contains(.topMismatch) { stored.topOfBookMismatches += 1 }
            if outcome.contains(.bestBidAskChecked) { stored.bestBidAskChecks += 1 }
            if outcome.contains(.bestBidAskMismatch) { stored.bestBidAskMismatches += 1 }
        }
        if options.verifyExchangeHash, let hash = e.hash {
            let kind: HashedEventKind = e.generation == .g3 ? .g3Change : .g1g2Change
            checkExchangeHash(asset: asset, hash: hash, timestampMs: e.timestampMs, kind: kind)
        }
        return .applied
    }

    /// A trade: sets the market's last trade price (no book change).
    @discardableResult
    mutating func apply(_ e: LastTradeEvent) -> ApplyResult {
        var market = -1
        if let asset = assetTable.find(e.assetID) { market = Int(assetMarket[asset]) }
        if market < 0 && !e.market.isEmpty { market = marketTable.find(e.market) ?? -1 }
        guard market >= 0 else {
            stored.unknownAssetEvents += 1
            return .unknownAsset
        }
        markets[market].lastTradePrice = e.price
        stored.lastTrades += 1
        if options.verifyExchangeHash { lastTradeArrived(market: market) }
        return .applied
    }

    /// See `BookStore.applyMarketTrade(_:)`.
    mutating func applyMarketTrade(_ e: LastTradeEvent) {
        guard !e.market.isEmpty, let market = marketTable.find(e.market) else { return }
        markets[market].lastTradePrice = e.price
        if options.verifyExchangeHash { lastTradeArrived(market: market) }
    }

    /// A tick size change: the book keeps its levels and takes the new tick.
    @discardableResult
    mutating func apply(_ e: TickSizeChangeEvent) -> ApplyResult {
        guard let asset = assetTable.find(e.assetID) else {
            stored.unknownAssetEvents += 1
            return .unknownAsset
        }
        books[asset].setTickSize(e.newTickSize)
        stored.tickSizeChanges += 1
        return .applied
    }

    /// A `best_bid_ask` event: compared with the book's own top, never changes the book. The
    /// exchange sends it just BEFORE the price change with the same timestamp (seen on every
    /// one in the g3-enrico corpus), so a mismatch waits: it is a match if the book reaches that
    /// top with the following changes, and a mismatch once a later-timestamped change, another
    /// `best_bid_ask` or a snapshot arrives first. Undecided ones are not counted.
    mutating func apply(_ e: BestBidAskEvent) -> ApplyResult {
        guard let asset = assetTable.find(e.assetID) else {
            stored.unknownAssetEvents += 1
            return .unknownAsset
        }
        guard books[asset].hasSnapshot else { return .noBook }
        if books[asset].pendingTop != nil {
            stored.bestBidAskChecks += 1
            stored.bestBidAskMismatches += 1
            books[asset].pendingTop = nil
        }
        if books[asset].topMatches(bestBid: e.bestBid, bestAsk: e.bestAsk) {
            stored.bestBidAskChecks += 1
        } else {
            books[asset].pendingTop = PendingTop(timestampMs: e.timestampMs, bestBid: e.bestBid, bestAsk: e.bestAsk)
        }
        return .applied
    }

    /// Marks these assets' books untrusted until their next snapshot (a connection gap).
    mutating func invalidate(assetIDs ids: [String]) {
        for id in ids {
            if let asset = index(of: id) { invalidate(asset: asset) }
        }
    }

    /// Marks every book untrusted until its next snapshot.
    mutating func invalidateAll() {
        for asset in 0..<books.count where assetLive[asset] { invalidate(asset: asset) }
    }

    private mutating func invalidate(asset: Int) {
        guard books[asset].isTrusted else { return }
        books[asset].invalidate()
        stored.invalidations += 1
        if options.verifyExchangeHash { bookInvalidated(asset: asset) }
    }

    // MARK: - Reports

    /// Summaries of every book held, sorted by asset id (no levels).
    func summaries() -> [BookSummary] {
        var result: [BookSummary] = []
        result.reserveCapacity(bookCount)
        for asset in 0..<books.count where assetLive[asset] { result.append(summary(asset: asset, depth: 0)) }
        result.sort { $0.assetID < $1.assetID }
        return result
    }

    /// One book's summary with its best `depth` levels per side (nil if the asset is not held).
    func summary(assetID: String, depth: Int) -> BookSummary? {
        guard let asset = index(of: assetID) else { return nil }
        return summary(asset: asset, depth: depth)
    }

    private func summary(asset: Int, depth: Int) -> BookSummary {
        let book = books[asset]
        let market = Int(assetMarket[asset])
        func strings(_ levels: [PriceLevel]) -> [[String]] {
            levels.map { [DecimalText.render($0.price), DecimalText.render($0.size)] }
        }
        return BookSummary(
            assetID: assetIDs[asset],
            market: market >= 0 ? markets[market].id : "",
            digest: BookDigest.hex(book: book, assetID: assetIDs[asset], hasher: hasher),
            bestBid: book.bestBid.map { DecimalText.render($0.price) },
            bestAsk: book.bestAsk.map { DecimalText.render($0.price) },
            bidLevels: book.bids.count,
            askLevels: book.asks.count,
            bids: depth > 0 ? strings(book.levels(.bid, depth: depth)) : nil,
            asks: depth > 0 ? strings(book.levels(.ask, depth: depth)) : nil,
            tickSize: book.tickSize.map(DecimalText.render),
            lastTradePrice: market >= 0 ? markets[market].lastTradePrice.map(DecimalText.render) : nil,
            trusted: book.isTrusted,
            hashStatus: hashStates[asset].status.text,
            lastTimestampMs: book.lastTimestampMs, snapshotLine: book.snapshotLine, lastChangeLine: book.lastChangeLine)
    }

    /// Heap and inline bytes this store holds, counted from actual capacities (array buffers with
    /// headers and malloc rounding, heap strings, intern tables, pending hash copies).
    var memoryEstimate: Int {
        var total = MemoryLayout<BookStoreCore>.size + 48
        total += MemoryEstimate.arrayBytes(capacity: books.capacity, stride: MemoryLayout<OrderBook>.stride)
        total += MemoryEstimate.arrayBytes(capacity: assetIDs.capacity, stride: MemoryLayout<String>.stride)
        total += MemoryEstimate.arrayBytes(capacity: assetMarket.capacity, stride: 4)
        total += MemoryEstimate.arrayBytes(capacity: assetLive.capacity, stride: 1)
        total += MemoryEstimate.arrayBytes(capacity: freeAssetSlots.capacity, stride: 8)
        total += MemoryEstimate.arrayBytes(
            capacity: hashStates.capacity, stride: MemoryLayout<AssetHashState>.stride)
        total += MemoryEstimate.arrayBytes(capacity: markets.capacity, stride: MemoryLayout<MarketState>.stride)
        for book in books { total += book.heapBytes }
        for id in assetIDs { total += MemoryEstimate.stringBytes(id) }
        for state in hashStates {
            if let pending = state.pending { total += pending.bids.heapBytes + pending.asks.heapBytes }
        }
        for market in markets {
            total += MemoryEstimate.stringBytes(market.id)
            total += MemoryEstimate.arrayBytes(capacity: market.assets.capacity, stride: 8)
        }
        total += assetTable.heapBytes + removedTable.heapBytes + marketTable.heapBytes
        total += hasher.heapBytes
        return total
    }
}

/// Per-market state: the shared last trade price and the exchange-hash side data.
struct MarketState {
    var id: String
    var assets: [Int] = []
    var lastTradePrice: ExactDecimal?
    var hashSide = MarketHashSide()

    init(id: String) {
        self.id = id
    }
}
