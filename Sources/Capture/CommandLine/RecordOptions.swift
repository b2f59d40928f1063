// The options of `capture record` and `capture markets`, parsed and validated here (not in
// the executable) so that every rule is tested in-process.
public import CommandLineSupport
import Foundation

/// Everything `capture record` was asked to do.
public struct RecordOptions: Sendable, Equatable {
    public static let defaultURL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"

    public var selection: AssetSelection
    public var outputDirectory: String
    public var segmentPrefix = "capture"
    public var rotateSizeBytes: Int64? = 512 << 20
    public var rotateTimeNanoseconds: UInt64? = 3600 * SessionPolicy.second
    public var url = RecordOptions.defaultURL
    public var restURL = MarketDirectory.defaultRestURL
    public var gammaURL = MarketDirectory.defaultGammaURL
    public var assetsPerConnection = 200
    public var durationNanoseconds: UInt64?
    public var policy = SessionPolicy()
    public var fetchSideData = true
    public var json = false
    /// Status line on stderr: nil decides by whether stderr is a terminal.
    public var statusLine: Bool?
    public var queueCapacityFrames = 262_144
    /// Log connection events (connects, disconnects, reconnects, gaps) on stderr.
    public var logEvents = true

    public init(selection: AssetSelection, outputDirectory: String) {
        self.selection = selection
        self.outputDirectory = outputDirectory
    }

    static let valueOptions: Set<String> = [
        "assets", "assets-file", "markets", "top", "out", "prefix", "rotate-size", "rotate-time", "url", "rest-url",
        "gamma-url", "assets-per-connection", "duration", "ping-interval", "pong-timeout", "silence-timeout",
        "queue-frames",
    ]
    static let flagOptions: Set<String> = ["json", "no-side-data", "status", "no-status", "quiet", "help"]

    /// Parses the words after `capture record`.
    public static func parse(_ words: [String]) throws(UsageError) -> RecordOptions {
        let arguments = try Arguments(words, options: valueOptions, flags: flagOptions)
        if let extra = arguments.positionals.first {
            throw UsageError("unexpected argument '\(extra)' (options start with --)")
        }
        let chosen = ["assets", "assets-file", "markets", "top"].filter { arguments.has($0) }
        guard chosen.count == 1 else {
            throw UsageError(
                chosen.isEmpty
                    ? "say what to record: --assets, --assets-file, --markets or --top"
                    : "give only one of --assets, --assets-file, --markets, --top (got \(chosen.map { "--" + $0 }.joined(separator: ", ")))"
            )
        }
        let selection: AssetSelection
        switch chosen[0] {
        case "assets": selection = .assets(try list(arguments.value("assets")!, option: "assets"))
        case "assets-file": selection = .assets(try readAssetsFile(arguments.value("assets-file")!))
        case "markets": selection = .markets(try list(arguments.value("markets")!, option: "markets"))
        default: selection = .top(try arguments.int("top", default: 10, range: 1...1000))
        }
        guard let out = arguments.value("out"), !out.isEmpty else {
            throw UsageError("--out DIR is required (the folder that receives the tape segments)")
        }
        var options = RecordOptions(selection: selection, outputDirectory: out)
        if let prefix = arguments.value("prefix") {
            guard !prefix.isEmpty, !prefix.contains("/") else {
                throw UsageError("--prefix must be a file-name prefix without '/', not '\(prefix)'")
            }
            options.segmentPrefix = prefix
        }
        if arguments.value("rotate-size") == "0" {
            options.rotateSizeBytes = nil
        } else {
            options.rotateSizeBytes = try arguments.size("rotate-size", default: options.rotateSizeBytes)
        }
        options.rotateTimeNanoseconds = try arguments.duration("rotate-time", default: options.rotateTimeNanoseconds)
        if options.rotateTimeNanoseconds == 0 { options.rotateTimeNanoseconds = nil }
        if let url = arguments.value("url") {
            guard url.hasPrefix("ws://") || url.hasPrefix("wss://") else {
                throw UsageError("--url must start with ws:// or wss://, not '\(url)'")
            }
            options.url = url
        }
        for (name, keyPath) in [("rest-url", \RecordOptions.restURL), ("gamma-url", \RecordOptions.gammaURL)] {
            if let value = arguments.value(name) {
                guard value.hasPrefix("http://") || value.hasPrefix("https://") else {
                    throw UsageError("--\(name) must start with http:// or https://, not '\(value)'")
                }
                options[keyPath: keyPath] = value
            }
        }
        options.assetsPerConnection = try arguments.int("assets-per-connection", default: 200, range: 1...2000)
        options.durationNanoseconds = try arguments.duration("duration", default: nil)
        if options.durationNanoseconds == 0 { throw UsageError("--duration must be longer than 0") }
        options.policy.pingIntervalNanoseconds =
            try arguments.duration("ping-interval", default: options.policy.pingIntervalNanoseconds)!
        options.policy.pongTimeoutNanoseconds =
            try arguments.duration("pong-timeout", default: options.policy.pongTimeoutNanoseconds)!
        options.policy.silenceTimeoutNanoseconds =
            try arguments.duration("silence-timeout", default: options.policy.silenceTimeoutNanoseconds)!
        guard options.policy.pingIntervalNanoseconds > 0, options.policy.pongTimeoutNanoseconds > 0 else {
            throw UsageError("--ping-interval and --pong-timeout must be longer than 0")
        }
        options.queueCapacityFrames = try arguments.int("queue-frames", default: 262_144, range: 16...16_777_216)
        options.fetchSideData = !arguments.flag("no-side-data")
        options.json = arguments.flag("json")
        if arguments.flag("status") { options.statusLine = true }
        if arguments.flag("no-status") { options.statusLine = false }
        if arguments.flag("quiet") { options.logEvents = false }
        return options
    }

    /// The capture configuration for these options and the resolved assets.
    public func configuration(assets: [String], metadata: [AssetMetadata], jitterSeed: UInt64) -> CaptureConfiguration {
        var configuration = CaptureConfiguration(url: url, assets: assets, sideData: metadata, jitterSeed: jitterSeed)
        configuration.assetsPerConnection = assetsPerConnection
        configuration.policy = policy
        configuration.durationNanoseconds = durationNanoseconds
        configuration.queueCapacityFrames = queueCapacityFrames
        return configuration
    }

    private static func list(_ text: String, option: String) throws(UsageError) -> [String] {
        let items = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
        guard !items.isEmpty else { throw UsageError("--\(option) needs at least one id") }
        return items
    }

    /// `AssetsFile`: one asset id per line (commas also separate); blank lines and `#` comments are
    /// ignored; CRLF line ends and a byte-order mark are fine; a binary file is refused.
    static func readAssetsFile(_ path: String) throws(UsageError) -> [String] {
        let assets: [String]
        do {
            assets = try AssetsFile.read(path)
        } catch {
            throw UsageError(error.description)
        }
        guard !assets.isEmpty else { throw UsageError("--assets-file \(path) lists no asset ids") }
        return assets
    }
}

/// Everything `capture markets` was asked to do.
public struct MarketsOptions: Sendable, Equatable {
    public var top = 20
    public var gammaURL = MarketDirectory.defaultGammaURL
    public var json = false
    /// Print only the asset ids, comma-separated (to paste into `--assets`).
    public var idsOnly = false

    public init() {}

    public static func parse(_ words: [String]) throws(UsageError) -> MarketsOptions {
        let arguments = try Arguments(words, options: ["top", "gamma-url"], flags: ["json", "ids", "help"])
        if let extra = arguments.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
        var options = MarketsOptions()
        options.top = try arguments.int("top", default: 20, range: 1...1000)
        if let url = arguments.value("gamma-url") {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw UsageError("--gamma-url must start with http:// or https://, not '\(url)'")
            }
            options.gammaURL = url
        }
        options.json = arguments.flag("json")
        options.idsOnly = arguments.flag("ids")
        if options.json && options.idsOnly { throw UsageError("--json and --ids exclude each other") }
        return options
    }
}
