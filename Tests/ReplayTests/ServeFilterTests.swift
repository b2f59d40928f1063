// `replay serve` frame filtering, without sockets: which frames a subscription gets, and how
// mixed frames are cut down while keeping the recorded bytes of everything kept.
import Foundation
import Testing

@testable import ReplayKit

@Suite struct ServeFilterTests {
    static func filter(_ text: String, _ subscribed: Set<String>) -> ServeFilterOutcome {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            ServeFrameFilter.filter(raw, layout: ServeFrameLayout.scan(raw), subscribed: subscribed)
        }
    }

    static func rewritten(_ outcome: ServeFilterOutcome) -> String? {
        if case .rewritten(let bytes) = outcome { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    // A G3 price_change as the exchange writes it: ", " separators, mirrored entries.
    static let g3 =
        #"{"market":"0xm", "price_changes":[{"asset_id":"1", "price":"0.6", "size":"0", "side":"BUY", "hash":"h1", "best_bid":"0.5", "best_ask":"0.7"}, {"asset_id":"2", "price":"0.4", "size":"0", "side":"SELL", "hash":"h2", "best_bid":"0.3", "best_ask":"0.5"}], "timestamp":"1790267379253", "event_type":"price_change"}"#

    @Test func g3FrameForBothTokensIsSentExact() {
        #expect(Self.filter(Self.g3, ["1", "2"]) == .exact)
        #expect(Self.filter(Self.g3, ["1", "2", "3"]) == .exact)
    }

    @Test func g3FrameKeepsOnlyTheSubscribedEntryWithTheRecordedBytes() {
        let one = Self.rewritten(Self.filter(Self.g3, ["1"]))
        #expect(
            one
                == #"{"market":"0xm", "price_changes":[{"asset_id":"1", "price":"0.6", "size":"0", "side":"BUY", "hash":"h1", "best_bid":"0.5", "best_ask":"0.7"}], "timestamp":"1790267379253", "event_type":"price_change"}"#
        )
        let two = Self.rewritten(Self.filter(Self.g3, ["2"]))
        #expect(two?.contains(#"[{"asset_id":"2""#) == true)
        #expect(two?.contains(#""asset_id":"1""#) == false)
    }

    @Test func frameForNoSubscribedAssetIsSkipped() {
        #expect(Self.filter(Self.g3, ["9"]) == .skip)
        #expect(Self.filter(#"{"asset_id":"9","event_type":"best_bid_ask"}"#, ["1"]) == .skip)
    }

    @Test func assetlessEventsPassThrough() {
        #expect(Self.filter(#"{"event_type":"new_market","id":"x"}"#, ["1"]) == .exact)
    }

    @Test func arraysKeepOnlySubscribedElementsWithTheirSeparator() {
        let dump =
            #"[{"asset_id":"1","event_type":"book"},{"asset_id":"2","event_type":"book"},{"asset_id":"3","event_type":"book"}]"#
        #expect(Self.filter(dump, ["1", "2", "3"]) == .exact)
        #expect(
            Self.rewritten(Self.filter(dump, ["1", "3"]))
                == #"[{"asset_id":"1","event_type":"book"},{"asset_id":"3","event_type":"book"}]"#)
        #expect(Self.filter(dump, ["4"]) == .skip)
        let spaced = #"[{"asset_id":"1"}, {"event_type":"new_market"}, {"asset_id":"2"}]"#
        #expect(Self.rewritten(Self.filter(spaced, ["2"])) == #"[{"event_type":"new_market"}, {"asset_id":"2"}]"#)
    }

    @Test func mixedArrayWithAPriceChangeCutsBothLevels() {
        let frame = "[" + Self.g3 + #",{"asset_id":"2","event_type":"book"}]"#
        let cut = Self.rewritten(Self.filter(frame, ["1"]))
        #expect(cut?.hasPrefix(#"[{"market":"0xm", "price_changes":[{"asset_id":"1""#) == true)
        #expect(cut?.contains(#""asset_id":"2""#) == false)
        #expect(cut?.hasSuffix(#""event_type":"price_change"}]"#) == true)
    }

    @Test func nonJSONFramesAreNeverSent() {
        #expect(Self.filter("PONG", ["1"]) == .skip)
        #expect(Self.filter("[]", ["1"]) == .skip)
    }

    @Test func stringsWithBracketsAndEscapesDoNotConfuseTheScanner() {
        let frame =
            #"{"market":"0x]\"[", "price_changes":[{"asset_id":"1", "note":"}]\\"}, {"asset_id":"2", "note":"[{"}], "event_type":"price_change"}"#
        #expect(
            Self.rewritten(Self.filter(frame, ["2"]))
                == #"{"market":"0x]\"[", "price_changes":[{"asset_id":"2", "note":"[{"}], "event_type":"price_change"}"#
        )
    }

    @Test func clientRequests() {
        let subscription = ServeClientRequest.parse(
            Array(#"{"assets_ids":["1","2"],"type":"market","initial_dump":false}"#.utf8))
        #expect(subscription?.assetIDs == ["1", "2"])
        #expect(subscription?.initialDump == false)
        let unsubscribe = ServeClientRequest.parse(Array(#"{"operation":"unsubscribe","assets_ids":["1"]}"#.utf8))
        #expect(unsubscribe?.operation == .unsubscribe)
        #expect(ServeClientRequest.parse(Array(#"{"operation":"dance","assets_ids":[]}"#.utf8)) == nil)
        #expect(ServeClientRequest.parse(Array("PING".utf8)) == nil)
        #expect(ServeClientRequest.parse(Array(#"{"type":"market"}"#.utf8)) == nil)
    }

    @Test func hashRecipeFollowsTheExchangeTimeline() {
        #expect(ServeBookState.recipe(atMs: 1_735_689_600_000) == .six)  // 2025-01-01
        #expect(ServeBookState.recipe(atMs: 1_762_000_000_000) == .nine)  // 2025-11-01
        #expect(ServeBookState.recipe(atMs: 1_790_267_379_253) == .ten)  // 2026-09-24
    }
}
