// The asset selection shared by `replay tape cat|slice --asset` and `replay run --assets`.
import Testing

@testable import Tape

@Suite struct AssetSelectionTests {
    static func select(_ selection: inout AssetSelection, _ text: String) -> FrameCutOutcome {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            let layout = FrameLayout.scan(raw)
            return layout.apply(selection.cuts(layout), to: raw)
        }
    }

    static func trade(_ asset: String, _ market: String) -> String {
        #"{"asset_id":"\#(asset)","event_type":"last_trade_price","market":"\#(market)","price":"0.5"}"#
    }

    static let change =
        #"{"market":"0xm", "price_changes":[{"asset_id":"1", "price":"0.6", "size":"0", "side":"BUY"}, {"asset_id":"2", "price":"0.4", "size":"0", "side":"SELL"}], "event_type":"price_change"}"#

    @Test func aMixedPriceChangeKeepsOnlyTheKeptEntriesWithTheirBytes() {
        var selection = AssetSelection(assets: ["1"])
        #expect(
            Self.select(&selection, Self.change)
                == .rewritten(
                    Array(
                        #"{"market":"0xm", "price_changes":[{"asset_id":"1", "price":"0.6", "size":"0", "side":"BUY"}], "event_type":"price_change"}"#
                            .utf8)))
        var both = AssetSelection(assets: ["1", "2"])
        #expect(Self.select(&both, Self.change) == .exact)
        var other = AssetSelection(assets: ["3"])
        #expect(Self.select(&other, Self.change) == .skip)
    }

    @Test func aSiblingsTradesAreKeptOnceTheMarketIsKnown() {
        var selection = AssetSelection(assets: ["1"])
        // Before anything names token 1's market, token 2's trade is no one's sibling.
        #expect(Self.select(&selection, Self.trade("2", "0xm")) == .skip)
        #expect(Self.select(&selection, #"{"market":"0xm","asset_id":"1","event_type":"book"}"#) == .exact)
        #expect(Self.select(&selection, Self.trade("2", "0xm")) == .exact)
        #expect(Self.select(&selection, Self.trade("3", "0xz")) == .skip)
        // Side data names markets up front.
        var fromHeader = AssetSelection(assets: ["1"])
        fromHeader.learn(sideData: ["1": AssetSideData(market: "0xm"), "3": AssetSideData(market: "0xz")])
        #expect(fromHeader.markets == ["0xm"])
        #expect(Self.select(&fromHeader, Self.trade("2", "0xm")) == .exact)
    }

    @Test func anArrayKeepsTheKeptBooksAndTheSiblingsTrade() {
        var selection = AssetSelection(assets: ["1"])
        let dump =
            #"[{"market":"0xm","asset_id":"1","event_type":"book"},{"market":"0xm","asset_id":"2","event_type":"book"},"#
            + Self.trade("2", "0xm") + "]"
        #expect(
            Self.select(&selection, dump)
                == .rewritten(
                    Array(
                        (#"[{"market":"0xm","asset_id":"1","event_type":"book"},"# + Self.trade("2", "0xm") + "]").utf8)
                ))
    }
}
