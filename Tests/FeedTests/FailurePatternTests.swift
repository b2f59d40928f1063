// The parsing-related failure patterns from PROTOCOL.md, each as the smallest frame that
// shows it, plus every event kind and the error model.
import Feed
import Foundation
import TestSupport
import Testing

private let asset = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
private let other = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
private let market = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
private let hash1 = "a983441a2c69866fff45bf16b8c5c66858f68379"
private let hash2 = "D7186E8ABC4ED70E41E6CB6ABF65B4C20150DFE3"

private func priceChanges(_ events: [OwnedEvent]) -> [OwnedPriceChange] {
    events.compactMap { if case .priceChange(let change) = $0 { change } else { nil } }
}

private func books(_ events: [OwnedEvent]) -> [OwnedBook] {
    events.compactMap { if case .book(let book) = $0 { book } else { nil } }
}

@Suite("Frame shapes and failure patterns")
struct FailurePatternTests {
    @Test func arrayFrameAppliesEachElement() {
        let frame = """
            [{"market":"\(market)","asset_id":"\(asset)","timestamp":"1","hash":"\(hash1)","bids":[{"price":"0.4","size":"10"}],"asks":[],"event_type":"book"},\
            {"market":"\(market)","asset_id":"\(other)","timestamp":"2","hash":"\(hash1)","bids":[],"asks":[{"price":"0.6","size":"5"}],"event_type":"book"}]
            """
        var parser = FeedParser()
        var sink = CollectingSink()
        let summary = parser.parse(frame.bytes, into: &sink)
        #expect(summary.kind == .array)
        #expect(summary.books == 2)
        #expect(books(sink.events).map(\.assetID) == [asset, other])
        // Each book gets its own levels, though all books of a frame share the scratch buffers.
        #expect(books(sink.events).map { $0.bids.map(\.price.units) } == [[400_000], []])
        #expect(books(sink.events).map { $0.asks.map(\.size.units) } == [[], [5_000_000]])
        #expect(sink.errors.isEmpty)
    }

    @Test func emptyArray() {
        var parser = FeedParser()
        var sink = CollectingSink()
        let summary = parser.parse("[]".bytes, into: &sink)
        #expect(summary.kind == .emptyArray)
        #expect(summary.events == 0 && summary.errors == 0)
        #expect(parser.parse(" [ \n ] ".bytes, into: &sink).kind == .emptyArray)
    }

    @Test(arguments: [("PING", ControlFrame.ping), ("PONG", .pong), ("PONG\n", .pong), (" PING ", .ping)])
    func keepaliveText(text: String, expected: ControlFrame) {
        let (events, errors) = FeedParser.events(of: text)
        #expect(events == [.control(expected)])
        #expect(errors.isEmpty)
    }

    @Test func otherTextIsOneError() {
        var parser = FeedParser()
        var sink = CollectingSink()
        let summary = parser.parse("INVALID OPERATION".bytes, into: &sink)
        #expect(summary.kind == .text)
        #expect(sink.errors.map(\.kind) == [.unknownText])
        #expect(parser.parse([UInt8](), into: &sink).kind == .empty)
    }

    @Test func threeGenerationsInOneStreamApplyAlike() {
        let g1 = """
            {"asset_id":"\(asset)","price":"0.5","side":"BUY","size":"100","hash":"\(hash1)","market":"\(market)","timestamp":"1","event_type":"price_change"}
            """
        let g2 = """
            {"asset_id":"\(asset)","changes":[{"price":"0.5","side":"BUY","size":"100"}],"event_type":"price_change","hash":"\(hash1)","market":"\(market)","timestamp":"1"}
            """
        let g3 = """
            {"market":"\(market)", "price_changes":[{"asset_id":"\(asset)", "price":"0.5", "size":"100", "side":"BUY", "hash":"\(hash1)", "best_bid":"0.5", "best_ask":"0.51"}], "timestamp":"1", "event_type":"price_change"}
            """
        var results: [OwnedPriceChange] = []
        for frame in [g1, g2, g3] {
            let (events, errors) = FeedParser.events(of: frame)
            #expect(errors.isEmpty)
            results += priceChanges(events)
        }
        #expect(results.map(\.generation) == [.g1, .g2, .g3])
        for change in results {
            #expect(change.assetID == asset)
            #expect(change.market == market)
            #expect(change.price == ExactDecimal("0.5"))
            #expect(change.size == ExactDecimal("100"))
            #expect(change.side == .bid)
            #expect(change.timestampMs == 1)
            #expect(change.hash?.hex == hash1)
        }
        #expect(results[2].bestBid == ExactDecimal("0.5") && results[2].bestAsk == ExactDecimal("0.51"))
        #expect(results[0].bestBid == nil)
    }

    @Test func g2HashIsOnTheLastChangeOnly() {
        let frame = """
            {"asset_id":"\(asset)","changes":[{"price":"0.31","side":"SELL","size":"5165"},{"price":"0.29","side":"SELL","size":"1601"},{"price":"0.3","side":"BUY","size":"0"}],"event_type":"price_change","hash":"\(hash1)","market":"\(market)","timestamp":"1737825347925"}
            """
        let changes = priceChanges(FeedParser.events(of: frame).0)
        #expect(changes.map { $0.hash != nil } == [false, false, true])
        #expect(changes.map(\.indexInMessage) == [0, 1, 2])
        #expect(changes.allSatisfy { $0.countInMessage == 3 && $0.timestampMs == 1_737_825_347_925 })
        #expect(changes.map(\.side) == [.ask, .ask, .bid])
    }

    @Test func keysInAnyOrderAndUnknownKeysAreIgnored() {
        let frame = """
            {"event_type":"price_change","new_field":{"nested":[1,2,{"a":"}]"}],"s":"x\\"y"},"timestamp":1790267379229,\
            "price_changes":[{"extra":[true,false,null],"best_ask":"0.66","best_bid":"0.61","hash":"\(hash2)","side":"BUY","size":"0","price":"0.6","asset_id":"\(asset)","note":"\\u00e9\\\\"}],\
            "market":"\(market)","flags":null,"version":2.5e3}
            """
        let (events, errors) = FeedParser.events(of: frame)
        #expect(errors.isEmpty)
        let changes = priceChanges(events)
        #expect(changes.count == 1)
        #expect(changes.first?.timestampMs == 1_790_267_379_229)
        #expect(changes.first?.hash?.hex == hash2.lowercased())
        #expect(changes.first?.price.render() == "0.6")
    }

    @Test func levelWrittenWithDifferentPrecisionIsOneValue() throws {
        let (events, _) = FeedParser.events(
            of: """
                {"asset_id":"\(asset)","bids":[{"price":"0.5","size":"107.8"},{"price":"0.50","size":"1"},{"price":".48","size":"2"}],"asks":[],"timestamp":"1","event_type":"book"}
                """)
        let book = try #require(books(events).first)
        #expect(book.bids[0].price == book.bids[1].price)
        #expect(book.bids[0].price.render() == "0.5")
        #expect(book.bids[1].price.render() == "0.50")
        #expect(book.bids[2].price.render() == ".48")
        #expect(book.bids[2].price.units == 480_000)
    }

    @Test func mixedTickPrecisionAfterTickSizeChange() {
        let frame = """
            [{"event_type":"tick_size_change","asset_id":"\(asset)","market":"\(market)","old_tick_size":"0.01","new_tick_size":"0.001","timestamp":"100"},\
            {"asset_id":"\(asset)","changes":[{"price":"0.5","side":"BUY","size":"10"},{"price":"0.505","side":"BUY","size":"3"},{"price":"0.5025","side":"SELL","size":"1.25"}],"event_type":"price_change","timestamp":"101"}]
            """
        let (events, errors) = FeedParser.events(of: frame)
        #expect(errors.isEmpty)
        guard case .tickSizeChange(let tick) = events.first else {
            Issue.record("expected tick_size_change first, got \(events)")
            return
        }
        #expect(tick.oldTickSize == ExactDecimal("0.01") && tick.newTickSize == ExactDecimal("0.001"))
        #expect(priceChanges(events).map(\.price.units) == [500_000, 505_000, 502_500])
        #expect(priceChanges(events).map { $0.price.render() } == ["0.5", "0.505", "0.5025"])
    }

    @Test func integerTimestampsAndNumericPrices() throws {
        let frame = """
            {"event_type":"book","asset_id":"\(asset)","timestamp":1761179883493,"bids":[{"price":0.29,"size":100}],"asks":[{"price":"0.31","size":12.5}]}
            """
        let book = try #require(books(FeedParser.events(of: frame).0).first)
        #expect(book.timestampMs == 1_761_179_883_493)
        #expect(book.bids[0].price.units == 290_000)
        #expect(book.asks[0].size.render() == "12.5")
    }

    @Test func emptyAndNullOptionalFields() throws {
        let frame = """
            {"event_type":"book","asset_id":"\(asset)","market":"\(market)","timestamp":"5","hash":"","bids":[],"asks":[],"tick_size":"0.01","last_trade_price":""}
            """
        let (events, errors) = FeedParser.events(of: frame)
        #expect(errors.isEmpty)
        let book = try #require(books(events).first)
        #expect(book.lastTradePrice == nil)
        #expect(book.hash == nil)
        #expect(book.tickSize == ExactDecimal("0.01"))

        let trade = """
            {"asset_id":"\(asset)","event_type":"last_trade_price","fee_rate_bps":null,"market":"\(market)","price":"0.456","side":"BUY","size":"219.217767","timestamp":"1750428146322","transaction_hash":"0xabc"}
            """
        let (tradeEvents, tradeErrors) = FeedParser.events(of: trade)
        #expect(tradeErrors.isEmpty)
        guard case .lastTrade(let last) = tradeEvents.first else {
            Issue.record("expected last_trade_price, got \(tradeEvents)")
            return
        }
        #expect(last.size.render() == "219.217767")
        #expect(last.side == .bid)
    }

    @Test func bookWithoutEventTypeIsInferred() throws {
        let frame = """
            {"market":"\(market)","asset_id":"\(asset)","timestamp":"1","hash":"\(hash1)","bids":[{"price":"0.1","size":"1"}],"asks":[{"price":"0.9","size":"2"}],"min_order_size":"5","tick_size":"0.01","neg_risk":false}
            """
        let book = try #require(books(FeedParser.events(of: frame).0).first)
        #expect(!book.hadEventType)
        #expect(book.tickSize == ExactDecimal("0.01"))
    }

    @Test(arguments: [
        (#"{"asset_id":"1","price":"0.5","side":"BUY","size":"10","hash":""}"#, PriceChangeGeneration.g1),
        (#"{"asset_id":"1","changes":[{"price":"0.5","side":"BUY","size":"10"}]}"#, .g2),
        (#"{"price_changes":[{"asset_id":"1","price":"0.5","side":"BUY","size":"10"}]}"#, .g3),
    ])
    func priceChangeShapeIsInferredWithoutEventType(frame: String, generation: PriceChangeGeneration) {
        let (events, errors) = FeedParser.events(of: frame)
        #expect(errors.isEmpty)
        #expect(priceChanges(events).map(\.generation) == [generation])
        #expect(priceChanges(events).first?.size == ExactDecimal("10"))
    }

    @Test func customFeatureAndUnknownEventTypesAmongKnownOnes() {
        let frame = """
            [{"event_type":"best_bid_ask","asset_id":"\(asset)","market":"\(market)","best_bid":"0.73","best_ask":"0.77","spread":"0.04","timestamp":"1"},\
            {"event_type":"brand_new_thing","asset_id":"\(asset)","payload":{"x":[1,2,3]}},\
            {"event_type":"new_market","id":"1","question":"Q?","assets_ids":["1","2"],"outcomes":["Yes","No"]},\
            {"event_type":"market_resolved","market":"\(market)","winning_asset_id":"\(asset)","timestamp":"9"},\
            {"market":"\(market)","price_changes":[{"asset_id":"\(asset)","price":"0.75","size":"10","side":"SELL","hash":"\(hash1)","best_bid":"0.73","best_ask":"0.75"}],"timestamp":"2","event_type":"price_change"}]
            """
        var parser = FeedParser()
        var sink = CollectingSink()
        let summary = parser.parse(frame.bytes, into: &sink)
        #expect(sink.errors.isEmpty)
        #expect(summary.unknownEventTypes == 1)
        #expect(summary.others == 3)
        #expect(summary.bestBidAsks == 1 && summary.priceChanges == 1)
        let kinds = sink.events.compactMap { if case .other(let event) = $0 { event.kind } else { nil } }
        #expect(kinds == [.unknown, .newMarket, .marketResolved])
        guard case .bestBidAsk(let top) = sink.events.first else {
            Issue.record("expected best_bid_ask first")
            return
        }
        #expect(top.spread?.render() == "0.04")
        guard case .other(let unknown) = sink.events[1] else { return }
        #expect(unknown.eventType == "brand_new_thing")
    }

    @Test func badEntryAmongGoodOnesKeepsTheOthers() {
        let frame = """
            {"market":"\(market)","price_changes":[\
            {"asset_id":"\(asset)","price":"0.6","size":"1","side":"BUY","hash":"\(hash1)","best_bid":"0.6","best_ask":"0.7"},\
            {"asset_id":"\(other)","price":"zero point four","size":"1","side":"SELL","hash":"\(hash1)","best_bid":"0.3","best_ask":"0.4"},\
            {"asset_id":"\(other)","price":"0.4","size":"1","side":"HOLD","hash":"\(hash1)"},\
            {"asset_id":"\(other)","price":"0.4","size":"1","side":"SELL","hash":"nothex"},\
            {"asset_id":"\(other)","size":"1","side":"SELL"},\
            {"asset_id":"\(other)","price":"0.41","size":"2","side":"SELL","hash":"\(hash1)","best_bid":"0.3","best_ask":"0.41"}\
            ],"timestamp":"7","event_type":"price_change"}
            """
        var parser = FeedParser()
        var sink = CollectingSink()
        let summary = parser.parse(frame.bytes, into: &sink)
        #expect(summary.priceChanges == 2)
        #expect(summary.errors == 4)
        #expect(sink.errors.map(\.kind) == [.badNumber, .badSide, .badHash, .missingField])
        #expect(priceChanges(sink.events).map(\.indexInMessage) == [0, 5])
        // The error points at the bad value itself.
        let badPriceOffset = frame.utf8.distance(
            from: frame.utf8.startIndex, to: frame.range(of: "zero point")!.lowerBound.samePosition(in: frame.utf8)!)
        #expect(sink.errors[0].offset == badPriceOffset)
        #expect(sink.errors[0].description.contains("bad number at byte \(badPriceOffset)"))
    }

    @Test func malformedFrameIsOneErrorAndEarlierEventsStay() {
        let good = """
            {"asset_id":"\(asset)","bids":[],"asks":[],"timestamp":"1","event_type":"book"}
            """
        var parser = FeedParser()
        var sink = CollectingSink()
        let frame = "[\(good),{\"asset_id\":\"\(asset)\",\"bids\":[{\"price\":\"0.1\""
        let summary = parser.parse(frame.bytes, into: &sink)
        #expect(summary.malformed)
        #expect(summary.books == 1)
        #expect(sink.errors.count == 1)
        #expect(sink.errors.first?.kind == .malformedJSON)
        #expect(sink.errors.first?.offset ?? 0 >= good.utf8.count)
    }

    @Test func nonObjectArrayElementIsSkipped() {
        let frame = """
            [1,"x",{"asset_id":"\(asset)","bids":[],"asks":[],"timestamp":"1","event_type":"book"},null]
            """
        var parser = FeedParser()
        var sink = CollectingSink()
        let summary = parser.parse(frame.bytes, into: &sink)
        #expect(summary.books == 1)
        #expect(sink.errors.map(\.kind) == [.notAnEvent, .notAnEvent, .notAnEvent])
    }

    @Test func bookWithABadLevelIsNotDelivered() {
        let frame = """
            {"asset_id":"\(asset)","bids":[{"price":"0.1","size":"1"},{"price":"0.1234567","size":"1"}],"asks":[],"timestamp":"1","event_type":"book"}
            """
        let (events, errors) = FeedParser.events(of: frame)
        #expect(events.isEmpty)
        #expect(errors.map(\.kind) == [.badNumber])
        #expect(errors.first?.expected.contains("at most 6 fraction digits") == true)
    }

    @Test func escapedAssetIDIsReported() {
        let frame =
            #"{"asset_id":"12\u0033","changes":[{"price":"0.5","side":"BUY","size":"1"}],"event_type":"price_change"}"#
        let (events, errors) = FeedParser.events(of: frame)
        #expect(events.isEmpty)
        #expect(errors.map(\.kind) == [.missingField])
    }

    @Test func objectWithoutEventTypeOrShape() {
        let (events, errors) = FeedParser.events(of: #"{"type":"market","assets_ids":["1"]}"#)
        #expect(events.isEmpty)
        #expect(errors.map(\.kind) == [.notAnEvent])
    }

    /// Whitespace of every JSON kind between every pair of tokens changes nothing.
    @Test func whitespaceAnywhereBetweenTokens() throws {
        let frames = try CorpusFrames.wrappedFrames("corpus/g3-enrico-2026-09/frames.jsonl", field: "payload")
        let whitespace: [[UInt8]] = [[0x20], [0x0A], [0x0D, 0x0A], [0x09, 0x20, 0x20]]
        for (index, frame) in frames.prefix(12).enumerated() {
            var spaced: [UInt8] = Array(whitespace[index % 4])
            var inString = false
            var escaped = false
            for byte in frame {
                if inString {
                    spaced.append(byte)
                    if escaped {
                        escaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                    }
                    continue
                }
                if byte == UInt8(ascii: "\"") { inString = true }
                let pad = whitespace[(index + spaced.count) % 4]
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: ":") { spaced += pad }
                spaced.append(byte)
                if byte != UInt8(ascii: "\"") { spaced += pad }
            }
            let (expected, expectedErrors) = FeedParser.events(of: frame)
            let (events, errors) = FeedParser.events(of: spaced)
            #expect(expectedErrors.isEmpty && errors.isEmpty, "frame \(index)")
            #expect(events == expected, "frame \(index)")
            #expect(!events.isEmpty)
        }
    }

    @Test func lowercaseSideIsAccepted() {
        let frame = """
            {"asset_id":"\(asset)","price":"0.5","side":"sell","size":"1","event_type":"price_change"}
            """
        #expect(priceChanges(FeedParser.events(of: frame).0).first?.side == .ask)
    }
}
