import Capture
import Foundation
import Testing

private let conditionA = "0x" + String(repeating: "a", count: 64)
private let conditionB = "0x" + String(repeating: "b", count: 64)

private let gammaMarkets = """
    [{"id":"1","question":"Will A?","conditionId":"\(conditionA)","slug":"will-a","clobTokenIds":"[\\"111\\", \\"112\\"]",
      "outcomes":"[\\"Yes\\", \\"No\\"]","negRisk":false,"orderMinSize":5,"orderPriceMinTickSize":0.01,"volume24hr":1234.5},
     {"id":"2","question":"Will B?","conditionId":"\(conditionB)","slug":"will-b","clobTokenIds":"[\\"221\\", \\"222\\"]",
      "negRisk":true,"orderMinSize":15,"orderPriceMinTickSize":0.001,"volume24hr":99},
     {"id":"3","question":"No book","conditionId":"0x01","slug":"no-book"}]
    """

private func book(_ asset: String, market: String, minSize: String, tick: String, negRisk: Bool) -> String {
    """
    {"market":"\(market)","asset_id":"\(asset)","timestamp":"1764000000000","hash":"abc","bids":[],"asks":[],\
    "min_order_size":"\(minSize)","tick_size":"\(tick)","neg_risk":\(negRisk),"last_trade_price":"0.5"}
    """
}

/// A fake Gamma + CLOB: the two markets above; asset 222 has no order book (404).
private func fakeExchange() throws -> LoopbackHTTPServer {
    try LoopbackHTTPServer { path in
        if path.hasPrefix("/markets?active=true") { return (200, gammaMarkets) }
        if path.hasPrefix("/markets?slug=") || path.hasPrefix("/markets?condition_ids=") {
            // Like Gamma: every market matching the filter (the directory re-checks the match).
            let value = String(path.split(separator: "=").last ?? "")
            return (200, gammaMarkets.contains("\"\(value)\"") ? gammaMarkets : "[]")
        }
        if path.hasPrefix("/book?token_id=") {
            let asset = String(path.dropFirst("/book?token_id=".count))
            switch asset {
            case "111", "112": return (200, book(asset, market: conditionA, minSize: "5", tick: "0.01", negRisk: false))
            case "221": return (200, book(asset, market: conditionB, minSize: "15", tick: "0.001", negRisk: true))
            default: return (404, #"{"error":"No orderbook exists for the requested token id"}"#)
            }
        }
        return (404, "{}")
    }
}

@Test func topMarketsReadsGammaAndDecodesTokenIdStrings() throws {
    let server = try fakeExchange()
    defer { server.stop() }
    let directory = MarketDirectory(gammaURL: server.baseURL, restURL: server.baseURL)
    let markets = try directory.topMarkets(limit: 3)
    #expect(markets.map(\.slug) == ["will-a", "will-b"])  // the market without tokens is skipped
    #expect(markets[0].tokenIds == ["111", "112"])
    #expect(markets[0].outcomes == ["Yes", "No"])
    #expect(markets[0].orderMinSize == "5")
    #expect(markets[1].tickSize == "0.001")
    #expect(markets[1].negRisk == true)
    #expect(server.requested.first == "/markets?active=true&closed=false&order=volume24hr&ascending=false&limit=3")
}

@Test func resolvingTopMarketsFetchesSideDataAndFallsBackToGamma() throws {
    let server = try fakeExchange()
    defer { server.stop() }
    let directory = MarketDirectory(gammaURL: server.baseURL, restURL: server.baseURL, parallelRequests: 3)
    let resolved = try directory.resolve(.top(2))
    #expect(resolved.assets == ["111", "112", "221", "222"])
    #expect(resolved.sideData.map(\.assetId) == resolved.assets)
    #expect(
        resolved.sideData[0]
            == AssetMetadata(assetId: "111", market: conditionA, minOrderSize: "5", tickSize: "0.01", negRisk: false))
    #expect(
        resolved.sideData[2]
            == AssetMetadata(assetId: "221", market: conditionB, minOrderSize: "15", tickSize: "0.001", negRisk: true))
    // 222 has no book: Gamma's market data fills in, with a warning that says so.
    #expect(
        resolved.sideData[3]
            == AssetMetadata(assetId: "222", market: conditionB, minOrderSize: "15", tickSize: "0.001", negRisk: true))
    #expect(resolved.warnings.count == 1)
    #expect(resolved.warnings.first?.contains("222") == true)
    #expect(resolved.warnings.first?.contains("No orderbook exists") == true)
}

@Test func marketsBySlugAndConditionId() throws {
    let server = try fakeExchange()
    defer { server.stop() }
    let directory = MarketDirectory(gammaURL: server.baseURL, restURL: server.baseURL)
    let markets = try directory.markets(matching: [conditionA, "will-b"])
    #expect(markets.map(\.conditionId) == [conditionA, conditionB])
    #expect(server.requested.contains("/markets?condition_ids=\(conditionA)"))
    #expect(server.requested.contains("/markets?slug=will-b"))
}

@Test func anUnknownMarketIsAnErrorThatNamesIt() throws {
    let server = try fakeExchange()
    defer { server.stop() }
    let directory = MarketDirectory(gammaURL: server.baseURL, restURL: server.baseURL)
    #expect {
        try directory.markets(matching: ["no-such-market"])
    } throws: { error in
        "\(error)".contains("no market found for no-such-market")
    }
}

@Test func plainAssetsGetSideDataFromBook() throws {
    let server = try fakeExchange()
    defer { server.stop() }
    let directory = MarketDirectory(gammaURL: server.baseURL, restURL: server.baseURL)
    let resolved = try directory.resolve(.assets(["112", "112", "999"]))
    #expect(resolved.assets == ["112", "999"])  // duplicates removed, order kept
    #expect(resolved.sideData[0].minOrderSize == "5")
    #expect(resolved.sideData[1] == AssetMetadata(assetId: "999"))
    #expect(resolved.warnings.count == 1)
}

@Test func httpErrorsSayWhereAndWhat() throws {
    let server = try LoopbackHTTPServer { _ in (503, "maintenance") }
    defer { server.stop() }
    let directory = MarketDirectory(gammaURL: server.baseURL, restURL: server.baseURL)
    #expect {
        try directory.topMarkets(limit: 1)
    } throws: { error in
        "\(error)".contains("HTTP 503") && "\(error)".contains("maintenance") && "\(error)".contains("127.0.0.1")
    }
}
