// The exchange `hash` as a correctness oracle, with the tolerance rules of PROTOCOL.md.
//
// Every hash-bearing event ends in exactly one outcome:
//   verified            the book after the event hashes to the event's hash;
//   verifiedLate        it matched later: the book after the asset's next hashed change (a burst
//                       sharing one hash, or a hash that already includes the next change), a
//                       later-announced last trade price, or the 0.001 last-trade-price grid;
//   mismatchedTransient no match, but the asset's next hashed change verified;
//   diverged            no match, and the next hashed change did not verify either;
//   unverifiable        no side data / recipe unknown / G2 offset never found / book untrusted /
//                       superseded by a snapshot before it could be decided;
//   pending             (counted live) waiting for the asset's next hashed change.
internal import Feed

/// The hash fields of an asset, or why they are not known.
enum FieldsLookup {
    case ready(ExchangeHashFields)
    case missing(HashUnverifiableReason)
}

/// Which kind of event carried the hash (decides the timestamp rule).
enum HashedEventKind: UInt8 {
    /// `book`: hashed at its own timestamp.
    case book
    /// G1/G2 price change: hashed 6–9 ms (searched 0–49 ms) before the event timestamp.
    case g1g2Change
    /// G3 entry: hashed at the event timestamp.
    case g3Change
}

/// A mismatch waiting for the asset's next hashed change, with the book it was checked against
/// (copy-on-write: the copy costs nothing until the live book changes).
struct PendingHash {
    var hash: ExchangeHash
    var timestampMs: Int64
    var kind: HashedEventKind
    var bids: BookSide
    var asks: BookSide
    var tickSize: ExactDecimal?
    /// `currentInputLine` when the event was applied (for the report).
    var inputLine: Int
}

/// Per-asset oracle state.
struct AssetHashState {
    var status: HashStatus = .none
    var pending: PendingHash? {
        didSet { hasPending = pending != nil }
    }
    /// `pending != nil`, kept as a flag: testing the optional itself copies it (retaining the
    /// saved book's arrays) on every hash check.
    private(set) var hasPending = false
    /// Diverged since the last snapshot: skip the expensive searches until a snapshot heals it.
    var diverged = false
    /// A G1/G2 hash of this asset has matched at some offset.
    var g1g2Matched = false
}

/// Per-market hash inputs that the stream does not carry.
struct MarketHashSide {
    var minOrderSize: ExactDecimal?
    var negRisk: Bool?
    var recipe: ExchangeHashRecipe?
    /// A hashed book of this market has been seen (so "no side data" becomes "recipe unknown").
    var sawHashedBook = false
    var recoveryAttempts = 0

    static let minOrderSizeCandidates: [ExactDecimal] = [1, 5, 10, 15, 20, 50, 100].map {
        ExactDecimal(units: Int64($0) * ExactDecimal.scale, digits: 0)
    }
    static let tickSizeCandidates: [ExactDecimal] = [
        ExactDecimal(units: 10_000, digits: 2), ExactDecimal(units: 1_000, digits: 3),
        ExactDecimal(units: 100_000, digits: 1), ExactDecimal(units: 100, digits: 4),
    ]
    /// Recovery tries at most this many hashed books per market.
    static let maxRecoveryAttempts = 4
}

/// G2 hashes use a timestamp a few ms before the event's: most likely offsets first.
let g1g2OffsetOrder: [Int64] = [7, 6, 8, 9, 5, 10, 4, 3, 2, 1, 0] + Array(11...49)

// The read-only helpers below are declared `mutating` on purpose: they are only called from
// mutating code, and a non-mutating call on `inout self` made the compiler copy the whole store
// (retaining every array in it) on each hash check, which doubled a worker's time with
// `--exchange-hash on`. An `inout` call borrows instead.
extension BookStoreCore {
    /// The hash fields for this asset's market, or why they are not known.
    private mutating func hashFields(
        asset: Int, tickSize: ExactDecimal?, lastTradePrice: ExactDecimal?
    ) -> FieldsLookup {
        let market = Int(assetMarket[asset])
        guard market >= 0 else { return .missing(.noSideData) }
        let side = markets[market].hashSide
        guard let recipe = side.recipe else {
            return .missing(side.sawHashedBook ? .recipeUnknown : .noSideData)
        }
        if recipe == .six { return .ready(ExchangeHashFields(recipe: .six)) }
        guard let minOrderSize = side.minOrderSize, let negRisk = side.negRisk, let tickSize else {
            return .missing(side.sawHashedBook ? .recipeUnknown : .noSideData)
        }
        return .ready(
            ExchangeHashFields(
                recipe: recipe, minOrderSize: minOrderSize, tickSize: tickSize, negRisk: negRisk,
                lastTradePrice: lastTradePrice))
    }

    private mutating func computeHash(
        asset: Int, timestampMs: Int64, bids: BookSide, asks: BookSide, fields: ExchangeHashFields
    ) -> ExchangeHash {
        let market = Int(assetMarket[asset])
        var id = assetIDs[asset]
        var marketID = markets[market].id
        return id.withUTF8 { a in
            marketID.withUTF8 { m in
                hasher.hash(
                    market: UnsafeRawBufferPointer(m), assetID: UnsafeRawBufferPointer(a), timestampMs: timestampMs,
                    bids: bids, asks: asks, fields: fields)
            }
        }
    }

    /// True if `hash` is the hash of (bids, asks) at the event's timestamp rule.
    private mutating func matches(
        _ hash: ExchangeHash, timestampMs: Int64, kind: HashedEventKind, asset: Int, bids: BookSide, asks: BookSide,
        fields: ExchangeHashFields
    ) -> Bool {
        switch kind {
        case .book, .g3Change:
            return computeHash(asset: asset, timestampMs: timestampMs, bids: bids, asks: asks, fields: fields) == hash
        case .g1g2Change:
            for offset in g1g2OffsetOrder {
                let candidate = computeHash(
                    asset: asset, timestampMs: timestampMs - offset, bids: bids, asks: asks, fields: fields)
                if candidate == hash { return true }
            }
            return false
        }
    }

    /// Checks a pending mismatch against its own saved book with every 0.001 last-trade-price
    /// value (the hash can include a trade announced later). Only for the 10-field recipe and
    /// books that have not already diverged (so a broken book cannot make replay crawl).
    private mutating func pendingMatchesOnPriceGrid(asset: Int, _ pending: PendingHash) -> Bool {
        guard !hashStates[asset].diverged,
            case .ready(var fields) = hashFields(
                asset: asset, tickSize: pending.tickSize, lastTradePrice: nil),
            fields.recipe == .ten
        else { return false }
        for step in 0...1000 {
            fields.lastTradePrice = ExactDecimal(units: Int64(step) * 1000, digits: 3)
            if matches(
                pending.hash, timestampMs: pending.timestampMs, kind: pending.kind, asset: asset,
                bids: pending.bids, asks: pending.asks, fields: fields)
            {
                return true
            }
        }
        return false
    }

    private mutating func lastTradePrice(asset: Int) -> ExactDecimal? {
        let market = Int(assetMarket[asset])
        return market >= 0 ? markets[market].lastTradePrice : nil
    }

    /// Called after each hash-bearing event has been applied to the asset's book.
    mutating func checkExchangeHash(asset: Int, hash: ExchangeHash, timestampMs: Int64, kind: HashedEventKind) {
        stored.exchangeHashChecked += 1
        guard books[asset].isTrusted else {
            finishPending(asset: asset, as: .unverifiable(.bookUntrusted))
            record(asset: asset, .unverifiable(.bookUntrusted))
            return
        }
        if kind == .book { recoverSideDataIfNeeded(asset: asset, hash: hash, timestampMs: timestampMs) }
        let fieldsResult = hashFields(
            asset: asset, tickSize: books[asset].tickSize, lastTradePrice: lastTradePrice(asset: asset))
        guard case .ready(let fields) = fieldsResult else {
            if case .missing(let reason) = fieldsResult {
                finishPending(asset: asset, as: .unverifiable(reason))
                record(asset: asset, .unverifiable(reason))
            }
            return
        }
        let bids = books[asset].bids
        let asks = books[asset].asks
        // An earlier mismatch may be the hash of this book (burst / includes the next change).
        if hashStates[asset].hasPending, let pending = hashStates[asset].pending,
            matches(
                pending.hash, timestampMs: pending.timestampMs, kind: pending.kind, asset: asset, bids: bids,
                asks: asks,
                fields: fields)
        {
            finishPending(asset: asset, as: .verifiedLate)
        }
        if matches(hash, timestampMs: timestampMs, kind: kind, asset: asset, bids: bids, asks: asks, fields: fields) {
            if hashStates[asset].hasPending, let pending = hashStates[asset].pending {
                let late = pendingMatchesOnPriceGrid(asset: asset, pending)
                finishPending(asset: asset, as: late ? .verifiedLate : .mismatchedTransient)
            }
            record(asset: asset, .verified)
            hashStates[asset].diverged = false
            if kind == .g1g2Change { hashStates[asset].g1g2Matched = true }
            return
        }
        if hashStates[asset].hasPending, let pending = hashStates[asset].pending {
            if pendingMatchesOnPriceGrid(asset: asset, pending) {
                finishPending(asset: asset, as: .verifiedLate)
            } else if pending.kind == .g1g2Change && !hashStates[asset].g1g2Matched {
                finishPending(asset: asset, as: .unverifiable(.g2TimestampOffsetUnknown))
            } else {
                finishPending(asset: asset, as: .diverged)
                hashStates[asset].diverged = true
                stored.noteDivergence(
                    assetID: assetIDs[asset], timestampMs: pending.timestampMs, line: pending.inputLine)
            }
        }
        hashStates[asset].pending = PendingHash(
            hash: hash, timestampMs: timestampMs, kind: kind, bids: bids, asks: asks, tickSize: books[asset].tickSize,
            inputLine: currentInputLine)
        pendingHashCount += 1
        hashStates[asset].status = .pending
    }

    /// Counts a final outcome for the event just checked.
    private mutating func record(asset: Int, _ outcome: HashStatus) {
        count(outcome)
        hashStates[asset].status = outcome
    }

    private mutating func count(_ outcome: HashStatus) {
        switch outcome {
        case .verified: stored.exchangeHashVerified += 1
        case .verifiedLate: stored.exchangeHashVerifiedLate += 1
        case .mismatchedTransient: stored.exchangeHashMismatchedTransient += 1
        case .diverged: stored.exchangeHashDiverged += 1
        case .unverifiable(let reason):
            stored.exchangeHashUnverifiable += 1
            unverifiableByReason[reason.ordinal] += 1
        case .none, .pending: break
        }
    }

    /// Decides the asset's pending mismatch (if any) as `outcome`.
    private mutating func finishPending(asset: Int, as outcome: HashStatus) {
        guard hashStates[asset].hasPending else { return }
        hashStates[asset].pending = nil
        pendingHashCount -= 1
        count(outcome)
        hashStates[asset].status = outcome
    }

    /// A new snapshot replaces the book. An undecided mismatch gets its last chance (a leading
    /// last trade price, found on the 0.001 grid); otherwise it can no longer be decided.
    mutating func snapshotArrived(asset: Int) {
        if hashStates[asset].hasPending, let pending = hashStates[asset].pending {
            let late = pendingMatchesOnPriceGrid(asset: asset, pending)
            finishPending(asset: asset, as: late ? .verifiedLate : .unverifiable(.supersededBySnapshot))
        }
        hashStates[asset].diverged = false
    }

    mutating func assetRemoved(asset: Int) {
        finishPending(asset: asset, as: .unverifiable(.assetRemoved))
    }

    mutating func bookInvalidated(asset: Int) {
        finishPending(asset: asset, as: .unverifiable(.bookUntrusted))
    }

    /// A trade was announced: retry the market's pending mismatches with the new price (the
    /// hash can include a trade before its announcement).
    mutating func lastTradeArrived(market: Int) {
        guard pendingHashCount > 0 else { return }
        for asset in markets[market].assets {
            guard let pending = hashStates[asset].pending,
                case .ready(let fields) = hashFields(
                    asset: asset, tickSize: pending.tickSize, lastTradePrice: markets[market].lastTradePrice),
                fields.recipe == .ten
            else { continue }
            if matches(
                pending.hash, timestampMs: pending.timestampMs, kind: pending.kind, asset: asset, bids: pending.bids,
                asks: pending.asks, fields: fields)
            {
                finishPending(asset: asset, as: .verifiedLate)
            }
        }
    }

    /// Finds min_order_size / neg_risk / recipe (and the tick size if the book has none) from a
    /// hashed book by trying the small candidate set; caches the result per market.
    private mutating func recoverSideDataIfNeeded(asset: Int, hash: ExchangeHash, timestampMs: Int64) {
        let market = Int(assetMarket[asset])
        guard market >= 0 else { return }
        markets[market].hashSide.sawHashedBook = true
        let side = markets[market].hashSide
        if let recipe = side.recipe,
            recipe == .six || (side.minOrderSize != nil && side.negRisk != nil && books[asset].tickSize != nil)
        {
            return
        }
        guard side.recoveryAttempts < MarketHashSide.maxRecoveryAttempts else { return }
        markets[market].hashSide.recoveryAttempts += 1
        let bids = books[asset].bids
        let asks = books[asset].asks
        let recipes: [ExchangeHashRecipe] = side.recipe.map { [$0] } ?? [.ten, .nine, .six]
        let sizes = side.minOrderSize.map { [$0] } ?? MarketHashSide.minOrderSizeCandidates
        let negRisks = side.negRisk.map { [$0] } ?? [false, true]
        let ticks = books[asset].tickSize.map { [$0] } ?? MarketHashSide.tickSizeCandidates
        let lastTrade = markets[market].lastTradePrice
        for recipe in recipes {
            if recipe == .six {
                let fields = ExchangeHashFields(recipe: .six)
                if computeHash(asset: asset, timestampMs: timestampMs, bids: bids, asks: asks, fields: fields) == hash {
                    markets[market].hashSide.recipe = .six
                    stored.sideDataRecovered += 1
                    return
                }
                continue
            }
            for tick in ticks {
                for size in sizes {
                    for negRisk in negRisks {
                        let fields = ExchangeHashFields(
                            recipe: recipe, minOrderSize: size, tickSize: tick, negRisk: negRisk,
                            lastTradePrice: lastTrade)
                        let candidate = computeHash(
                            asset: asset, timestampMs: timestampMs, bids: bids, asks: asks, fields: fields)
                        if candidate == hash {
                            markets[market].hashSide.recipe = recipe
                            markets[market].hashSide.minOrderSize = size
                            markets[market].hashSide.negRisk = negRisk
                            if books[asset].tickSize == nil { books[asset].setTickSize(tick) }
                            stored.sideDataRecovered += 1
                            return
                        }
                    }
                }
            }
        }
    }
}
