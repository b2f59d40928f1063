import Feed
import Testing

// OrderBook: exact levels, sorting, top of book, depth, written forms.
@testable import Book

private func book(bids: [(String, String)], asks: [(String, String)], tick: String? = "0.01") -> OrderBook {
    var book = OrderBook()
    levels(bids).withUnsafeBufferPointer { b in
        levels(asks).withUnsafeBufferPointer { a in
            book.applySnapshot(bids: b, asks: a, timestampMs: 100, tickSize: tick.map(dec))
        }
    }
    return book
}

@Suite struct OrderBookTests {
    @Test func snapshotInAnyOrderIsSortedBestLast() {
        let docsOrder = book(
            bids: [("0.48", "10"), ("0.47", "5"), ("0.49", "1")], asks: [("0.52", "3"), ("0.51", "2")])
        #expect(docsOrder.bestBid == PriceLevel(price: dec("0.49"), size: dec("1")))
        #expect(docsOrder.bestAsk == PriceLevel(price: dec("0.51"), size: dec("2")))
        #expect(docsOrder.levels(.bid, depth: 5).map(\.price) == [dec("0.49"), dec("0.48"), dec("0.47")])
        #expect(docsOrder.levels(.ask, depth: 1).map(\.price) == [dec("0.51")])
        #expect(docsOrder.isTrusted && docsOrder.hasSnapshot)
    }

    @Test func snapshotDropsZeroSizesAndKeepsTheLaterDuplicate() {
        let b = book(bids: [("0.40", "1"), ("0.41", "0"), ("0.40", "7")], asks: [])
        #expect(b.bids.count == 1)
        #expect(b.bestBid?.size == dec("7"))
    }

    @Test func halfAndHalfZeroAreOneLevelWithTheLatestWrittenForm() {
        var b = book(bids: [("0.5", "10")], asks: [("0.6", "1")])
        b.applyLevel(side: .bid, price: dec("0.50"), size: dec("12.50"), timestampMs: 101)
        #expect(b.bids.count == 1)
        let best = b.bestBid!
        #expect(best.price.units == 500_000 && best.price.digits == 2)
        #expect(DecimalText.render(best.price) == "0.50")
        #expect(DecimalText.render(best.size) == "12.50")
        b.applyLevel(side: .bid, price: dec("0.5"), size: dec("0"), timestampMs: 102)
        #expect(b.bids.isEmpty)
    }

    @Test func levelChangesSetTotalsAndRemove() {
        var b = book(bids: [("0.40", "1"), ("0.45", "2")], asks: [("0.55", "3"), ("0.50", "4")])
        let inserted = b.applyLevel(side: .ask, price: dec("0.49"), size: dec("9"), timestampMs: 101)
        #expect(inserted)
        #expect(b.bestAsk?.price == dec("0.49"))
        let removed = b.applyLevel(side: .ask, price: dec("0.49"), size: dec("0"), timestampMs: 102)
        #expect(removed)
        #expect(b.bestAsk?.price == dec("0.50"))
        let removedAbsent = b.applyLevel(side: .ask, price: dec("0.33"), size: dec("0"), timestampMs: 103)
        #expect(!removedAbsent)
        #expect(b.lastTimestampMs == 103)
        b.applyLevel(side: .bid, price: dec("0.45"), size: dec("20"), timestampMs: 50)
        #expect(b.bestBid?.size == dec("20"))
        #expect(b.lastTimestampMs == 103, "an out-of-order event never moves the timestamp back")
    }

    @Test func spreadMidAndDepthAreExact() {
        let b = book(bids: [("0.50", "1"), ("0.49", "2.5")], asks: [("0.51", "3")])
        #expect(b.spreadUnits == 10_000)
        #expect(b.midDoubledUnits == 1_010_000, "mid 0.505 is kept doubled")
        #expect(b.depth(.bid).levels == 2)
        #expect(b.depth(.bid).totalSizeUnits == 3_500_000)
        #expect(b.depth(.ask).totalSizeUnits == 3_000_000)
        #expect(!b.isCrossedOrLocked)
        let empty = OrderBook()
        #expect(empty.spreadUnits == nil && empty.midDoubledUnits == nil && empty.bestBid == nil)
        #expect(!empty.isTrusted)
    }

    @Test func lockedAndCrossedAreDetected() {
        #expect(book(bids: [("0.50", "1")], asks: [("0.50", "1")]).isCrossedOrLocked)
        #expect(book(bids: [("0.52", "1")], asks: [("0.50", "1")]).isCrossedOrLocked)
    }

    @Test func offTickUsesTheKnownTick() {
        let b = book(bids: [("0.50", "1")], asks: [], tick: "0.01")
        #expect(b.isOffTick(dec("0.505")))
        #expect(!b.isOffTick(dec("0.5")))
        let quarter = book(bids: [], asks: [], tick: "0.0025")
        #expect(!quarter.isOffTick(dec("0.5025")))
        #expect(quarter.isOffTick(dec("0.501")))
        #expect(!book(bids: [], asks: [], tick: nil).isOffTick(dec("0.123")))
    }

    @Test func invalidateKeepsLevels() {
        var b = book(bids: [("0.5", "1")], asks: [])
        b.invalidate()
        #expect(!b.isTrusted && b.bids.count == 1)
    }

    @Test(arguments: ["0.5", "0.50", ".48", "2226", "3641.8", "0.000001", "1.2345678"])
    func decimalTextRoundTrips(_ text: String) {
        if text == "1.2345678" {
            #expect(DecimalText.parse(text) == nil, "more than 6 fraction digits is refused")
        } else {
            #expect(DecimalText.render(dec(text)) == text)
        }
    }

    @Test func decimalTextRejectsGarbage() {
        for bad in ["", ".", "1.", "-1", "1e5", "0..1", "abc", "1,5"] {
            #expect(DecimalText.parse(bad) == nil, "\(bad)")
        }
        #expect(DecimalText.render(dec("0.5"), minimumDigits: 3) == "0.500")
        #expect(DecimalText.render(dec("0.1234"), minimumDigits: 3) == "0.1234")
        #expect(DecimalText.render(dec("1"), minimumDigits: 3) == "1.000")
    }
}
