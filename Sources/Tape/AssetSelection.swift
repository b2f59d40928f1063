// The one rule by which `replay tape cat --asset`, `replay tape slice --asset` and
// `replay run --assets` select a tape's events, so that the three agree.

/// Which events an asset subset keeps:
/// - an event of a kept asset; from a `price_change`, only the entries of kept assets (the
///   frame is rewritten to hold just those);
/// - a `last_trade_price` of the other token of a kept asset's market (a sibling): the last
///   trade price is per market and in every token's exchange hash, so dropping it would leave
///   the kept books with a stale price (`replay run` delivers it as a market trade);
/// - events with no asset id (`new_market`, ...).
///
/// The markets of the kept assets are those of the header's side data and of every `book` of a
/// kept asset seen so far (in tape order, so every reader learns them at the same point).
public struct AssetSelection: Sendable {
    /// The kept assets; nil keeps every asset.
    public let assets: Set<String>?
    /// The markets of kept assets known so far.
    public private(set) var markets: Set<String> = []

    public init(assets: Set<String>?) {
        self.assets = assets
    }

    /// Learns the markets of kept assets from a tape header's side data.
    public mutating func learn(sideData: [String: AssetSideData]) {
        for (asset, side) in sideData where keeps(asset: asset) {
            if let market = side.market { markets.insert(market) }
        }
    }

    /// Learns the market of a kept asset's `book`.
    public mutating func learn(bookOf asset: String, market: String) {
        if assets != nil, keeps(asset: asset) { markets.insert(market) }
    }

    public func keeps(asset: String) -> Bool { assets?.contains(asset) ?? true }

    /// True when a trade of `asset` in `market` is kept: its own asset is kept, or it is a
    /// sibling's trade (a market of a kept asset).
    public func keepsTrade(asset: String, market: String?) -> Bool {
        keeps(asset: asset) || market.map(markets.contains) ?? false
    }

    /// The cut of every event of `layout`, in order, learning markets from kept books as it
    /// goes. `admitAsset` and `admitTrade` narrow the selection further (a slice's warm-up
    /// keeps each asset's events only from its latest snapshot on); `keepAssetless` false drops
    /// events with no asset id.
    public mutating func cuts(
        _ layout: FrameLayout, admitAsset: (String) -> Bool = { _ in true },
        admitTrade: (FrameLayout.Event) -> Bool = { _ in true }, keepAssetless: Bool = true
    ) -> [FrameLayout.Cut] {
        var cuts: [FrameLayout.Cut] = []
        cuts.reserveCapacity(layout.events.count)
        for event in layout.events {
            if event.isBook, let market = event.market, let asset = event.assetIDs.first {
                learn(bookOf: asset, market: market)
            }
            if event.assetIDs.isEmpty {
                cuts.append(keepAssetless ? .whole : .drop)
            } else if event.isTrade, event.entries == nil, let asset = event.assetIDs.first {
                cuts.append(keepsTrade(asset: asset, market: event.market) && admitTrade(event) ? .whole : .drop)
            } else {
                cuts.append(FrameLayout.cut(event) { keeps(asset: $0) && admitAsset($0) })
            }
        }
        return cuts
    }
}
