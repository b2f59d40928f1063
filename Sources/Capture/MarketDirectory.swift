// Market discovery and per-asset side data over HTTPS: the Gamma markets API lists active
// markets and their token ids; the CLOB REST `/book` endpoint gives the exact strings the
// exchange hashes (min_order_size, tick_size) and neg_risk. Not a hot path: Foundation's
// URLSession and JSONSerialization are fine here.
import Dispatch
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One market as the Gamma API describes it.
public struct MarketInfo: Sendable, Equatable, Codable {
    public var conditionId: String
    public var slug: String
    public var question: String
    /// The CLOB token (asset) ids, one per outcome.
    public var tokenIds: [String]
    public var outcomes: [String]
    public var negRisk: Bool?
    /// As Gamma gives them (numbers rendered back to text); `/book` strings are preferred.
    public var orderMinSize: String?
    public var tickSize: String?
    public var volume24hr: Double?

    public init(
        conditionId: String, slug: String, question: String = "", tokenIds: [String], outcomes: [String] = [],
        negRisk: Bool? = nil, orderMinSize: String? = nil, tickSize: String? = nil, volume24hr: Double? = nil
    ) {
        self.conditionId = conditionId
        self.slug = slug
        self.question = question
        self.tokenIds = tokenIds
        self.outcomes = outcomes
        self.negRisk = negRisk
        self.orderMinSize = orderMinSize
        self.tickSize = tickSize
        self.volume24hr = volume24hr
    }
}

/// Which assets to record, as the user said it on the command line.
public enum AssetSelection: Sendable, Equatable {
    case assets([String])
    /// Market slugs or condition ids (0x + 64 hex).
    case markets([String])
    /// The N most active markets by 24 h volume.
    case top(Int)
}

/// A resolved selection: the assets, their markets and side data, and what could not be
/// resolved (reported as warnings; recording still starts).
public struct ResolvedSelection: Sendable, Equatable {
    public var assets: [String]
    public var markets: [MarketInfo]
    public var sideData: [AssetMetadata]
    public var warnings: [String]
}

/// An HTTP or decoding failure with the URL it happened on.
public struct DirectoryError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Talks to the Gamma markets API and the CLOB REST API.
public struct MarketDirectory: Sendable {
    public static let defaultGammaURL = "https://gamma-api.polymarket.com"
    public static let defaultRestURL = "https://clob.polymarket.com"

    public var gammaURL: String
    public var restURL: String
    public var timeoutSeconds: Double
    /// Concurrent `/book` requests when fetching side data.
    public var parallelRequests: Int

    public init(
        gammaURL: String = MarketDirectory.defaultGammaURL, restURL: String = MarketDirectory.defaultRestURL,
        timeoutSeconds: Double = 15, parallelRequests: Int = 8
    ) {
        self.gammaURL = gammaURL.hasSuffix("/") ? String(gammaURL.dropLast()) : gammaURL
        self.restURL = restURL.hasSuffix("/") ? String(restURL.dropLast()) : restURL
        self.timeoutSeconds = timeoutSeconds
        self.parallelRequests = max(1, parallelRequests)
    }

    /// The `limit` active, open markets with the highest 24 h volume (order-book markets only).
    public func topMarkets(limit: Int) throws -> [MarketInfo] {
        let url =
            "\(gammaURL)/markets?active=true&closed=false&order=volume24hr&ascending=false&limit=\(limit)"
        let markets = try decodeMarkets(from: get(url), url: url)
        return Array(markets.filter { !$0.tokenIds.isEmpty }.prefix(limit))
    }

    /// Markets by slug or condition id, in the order given; throws naming any not found.
    public func markets(matching identifiers: [String]) throws -> [MarketInfo] {
        var found: [MarketInfo] = []
        var missing: [String] = []
        for identifier in identifiers {
            let isConditionId = identifier.hasPrefix("0x") && identifier.count == 66
            let query = isConditionId ? "condition_ids" : "slug"
            let encoded = identifier.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? identifier
            let url = "\(gammaURL)/markets?\(query)=\(encoded)"
            let markets = try decodeMarkets(from: get(url), url: url).filter {
                isConditionId ? $0.conditionId.lowercased() == identifier.lowercased() : $0.slug == identifier
            }
            if let market = markets.first { found.append(market) } else { missing.append(identifier) }
        }
        if !missing.isEmpty {
            throw DirectoryError(
                "no market found for \(missing.joined(separator: ", ")) at \(gammaURL)/markets; check the slug "
                    + "(the last part of the market's polymarket.com URL) or the condition id (0x + 64 hex)")
        }
        return found
    }

    /// Side data for one asset from CLOB `GET /book?token_id=ID`.
    public func bookSideData(asset: String) throws -> AssetMetadata {
        let url = "\(restURL)/book?token_id=\(asset)"
        let body = try get(url)
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw DirectoryError("\(url): the answer is not a JSON object: \(preview(body))")
        }
        if let error = object["error"] as? String {
            throw DirectoryError("\(url): \(error)")
        }
        return AssetMetadata(
            assetId: (object["asset_id"] as? String) ?? asset, market: object["market"] as? String,
            minOrderSize: text(object["min_order_size"]), tickSize: text(object["tick_size"]),
            negRisk: object["neg_risk"] as? Bool)
    }

    /// Resolves a selection to assets and fetches every asset's side data (from `/book`,
    /// falling back to what Gamma said about its market). With `fetchBooks: false` no
    /// `/book` request is made: only Gamma's market data (for `.markets`/`.top`) is used.
    public func resolve(_ selection: AssetSelection, fetchBooks: Bool = true) throws -> ResolvedSelection {
        var markets: [MarketInfo] = []
        var assets: [String]
        switch selection {
        case .assets(let list): assets = list
        case .markets(let identifiers):
            markets = try self.markets(matching: identifiers)
            assets = markets.flatMap(\.tokenIds)
        case .top(let count):
            markets = try topMarkets(limit: count)
            assets = markets.flatMap(\.tokenIds)
        }
        var seen = Set<String>()
        assets = assets.filter { seen.insert($0).inserted }
        guard fetchBooks else {
            var marketOfAsset: [String: MarketInfo] = [:]
            for market in markets { for token in market.tokenIds { marketOfAsset[token] = market } }
            let sideData = assets.map { asset in
                let market = marketOfAsset[asset]
                return AssetMetadata(
                    assetId: asset, market: market?.conditionId, minOrderSize: market?.orderMinSize,
                    tickSize: market?.tickSize, negRisk: market?.negRisk)
            }
            return ResolvedSelection(assets: assets, markets: markets, sideData: sideData, warnings: [])
        }
        let (sideData, warnings) = fetchSideData(assets: assets, markets: markets)
        return ResolvedSelection(assets: assets, markets: markets, sideData: sideData, warnings: warnings)
    }

    /// `/book` side data for every asset, `parallelRequests` at a time, in asset order.
    public func fetchSideData(assets: [String], markets: [MarketInfo]) -> ([AssetMetadata], [String]) {
        var marketOfAsset: [String: MarketInfo] = [:]
        for market in markets { for token in market.tokenIds { marketOfAsset[token] = market } }
        let results = Mutex([Int: Result<AssetMetadata, DirectoryError>]())
        let next = Atomic<Int>(0)
        let group = DispatchGroup()
        for _ in 0..<min(parallelRequests, assets.count) {
            group.enter()
            DispatchQueue.global().async {
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    if index >= assets.count { break }
                    let result: Result<AssetMetadata, DirectoryError>
                    do { result = .success(try bookSideData(asset: assets[index])) } catch let error as DirectoryError {
                        result = .failure(error)
                    } catch { result = .failure(DirectoryError("\(error)")) }
                    results.withLock { $0[index] = result }
                }
                group.leave()
            }
        }
        group.wait()
        var sideData: [AssetMetadata] = []
        var warnings: [String] = []
        let all = results.withLock { $0 }
        for (index, asset) in assets.enumerated() {
            let market = marketOfAsset[asset]
            let fallback = AssetMetadata(
                assetId: asset, market: market?.conditionId, minOrderSize: market?.orderMinSize,
                tickSize: market?.tickSize, negRisk: market?.negRisk)
            switch all[index] {
            case .success(var data)?:
                data.market = data.market ?? fallback.market
                data.minOrderSize = data.minOrderSize ?? fallback.minOrderSize
                data.tickSize = data.tickSize ?? fallback.tickSize
                data.negRisk = data.negRisk ?? fallback.negRisk
                sideData.append(data)
            case .failure(let error)?:
                warnings.append(
                    "side data for asset \(asset): \(error.message)"
                        + (market == nil ? " (header will lack it)" : " (using Gamma's market data instead)"))
                sideData.append(fallback)
            case nil:
                sideData.append(fallback)
            }
        }
        return (sideData, warnings)
    }

    // MARK: - HTTP and JSON

    func get(_ urlText: String) throws -> Data {
        guard let url = URL(string: urlText) else { throw DirectoryError("not a valid URL: \(urlText)") }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeoutSeconds
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue(CaptureVersion.writer, forHTTPHeaderField: "User-Agent")
        let outcome = Mutex<Result<(Data, Int), DirectoryError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds * 2
        let session = URLSession(configuration: configuration)
        let task = session.dataTask(with: request) { data, response, error in
            let result: Result<(Data, Int), DirectoryError>
            if let error {
                result = .failure(DirectoryError("GET \(urlText) failed: \(error.localizedDescription)"))
            } else {
                result = .success((data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        task.resume()
        done.wait()
        session.finishTasksAndInvalidate()
        let result = outcome.withLock { $0 }!
        let (data, status) = try result.get()
        guard (200..<300).contains(status) else {
            throw DirectoryError("GET \(urlText) answered HTTP \(status): \(preview(data))")
        }
        return data
    }

    func decodeMarkets(from data: Data, url: String) throws -> [MarketInfo] {
        guard let array = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw DirectoryError("\(url): expected a JSON array of markets, got \(preview(data))")
        }
        return array.compactMap { object in
            guard let conditionId = object["conditionId"] as? String else { return nil }
            return MarketInfo(
                conditionId: conditionId, slug: (object["slug"] as? String) ?? "",
                question: (object["question"] as? String) ?? "", tokenIds: stringArray(object["clobTokenIds"]),
                outcomes: stringArray(object["outcomes"]), negRisk: object["negRisk"] as? Bool,
                orderMinSize: text(object["orderMinSize"]), tickSize: text(object["orderPriceMinTickSize"]),
                volume24hr: number(object["volume24hr"]))
        }
    }
}

/// Gamma sends some arrays as JSON-encoded strings (`"[\"1\", \"2\"]"`), some as arrays.
private func stringArray(_ value: Any?) -> [String] {
    if let array = value as? [String] { return array }
    if let text = value as? String, let data = text.data(using: .utf8),
        let array = try? JSONSerialization.jsonObject(with: data) as? [Any]
    {
        return array.map { "\($0)" }
    }
    return []
}

/// A JSON string kept verbatim, or a JSON number rendered without a spurious ".0".
private func text(_ value: Any?) -> String? {
    if let string = value as? String { return string }
    if let value, type(of: value) == Bool.self { return nil }
    if let number = value as? NSNumber {
        let double = number.doubleValue
        if double == double.rounded() && abs(double) < 1e15 { return String(Int64(double)) }
        return "\(double)"
    }
    return nil
}

private func number(_ value: Any?) -> Double? {
    if let number = value as? NSNumber { return number.doubleValue }
    if let string = value as? String { return Double(string) }
    return nil
}

private func preview(_ data: Data) -> String {
    let text = String(decoding: data.prefix(200), as: UTF8.self)
    return data.count > 200 ? text + "…" : text
}
