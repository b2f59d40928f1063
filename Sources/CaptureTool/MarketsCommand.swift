import Capture
// `capture markets`: which markets are active, with the asset ids to record.
import CommandLineSupport
import Foundation

enum MarketsCommand: CaptureSubcommand {
    static let name = "markets"
    static let summary = "list the most active markets and their asset ids (Gamma API)"
    static let usage = "capture markets [--top N] [--json | --ids] [--gamma-url URL]"
    static let help = """
        capture markets — list active Polymarket markets by 24 h volume, with their asset (token) ids

        Usage: \(usage)

        Options:
          --top N           how many markets (1–1000; default 20)
          --json            a JSON array of markets for scripts (conditionId, slug, tokenIds, …)
          --ids             only the asset ids, comma-separated, to paste into `capture record --assets`
          --gamma-url URL   the Gamma API base (default \(MarketDirectory.defaultGammaURL))

        Examples:
          capture markets --top 10
          capture record --assets "$(capture markets --top 5 --ids)" --out tapes/
          capture markets --top 50 --json | jq -r '.[].slug'

        Exit status: 0 listed, 1 the API could not be reached or answered oddly, 64 usage error.
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        let options = try MarketsOptions.parse(arguments)
        let directory = MarketDirectory(gammaURL: options.gammaURL)
        let markets = try directory.topMarkets(limit: options.top)
        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try StandardOutput.print(String(decoding: try encoder.encode(markets), as: UTF8.self))
        } else if options.idsOnly {
            try StandardOutput.print(markets.flatMap(\.tokenIds).joined(separator: ","))
        } else {
            try StandardOutput.print("rank  volume 24h  neg-risk  tick    min  slug / condition id / asset ids")
            for (index, market) in markets.enumerated() {
                let volume = market.volume24hr.map { String(format: "%.0f", $0) } ?? "?"
                try StandardOutput.print(
                    "\(pad(String(index + 1), 4))  \(pad(volume, 10))  \(pad(market.negRisk.map { $0 ? "yes" : "no" } ?? "?", 8))"
                        + "  \(pad(market.tickSize ?? "?", 6))  \(pad(market.orderMinSize ?? "?", 3))  \(market.slug)")
                try StandardOutput.print("      \(market.conditionId)")
                for (outcome, token) in zip(
                    market.outcomes + Array(repeating: "", count: market.tokenIds.count), market.tokenIds)
                {
                    try StandardOutput.print("        \(outcome.isEmpty ? "" : outcome + ": ")\(token)")
                }
            }
        }
        return CaptureExitStatus.success
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
