// `replay tape synth`: deterministic synthetic tapes for benchmarks and tests.
import CommandLineSupport
import Foundation
import Tape

/// `replay tape synth -o OUT ...`
enum TapeSynthCommand: Subcommand {
    static let name = "synth"
    static let summary = "generate a deterministic, realistic synthetic tape"
    static let usage = "replay tape synth -o OUT.ndjson.zst [--assets N] [--duration 60s] [--rate MSG_PER_S] [--seed S]"
    static let help = """
        replay tape synth — generate a synthetic tape modelled on the real feed

        Usage: \(usage)

        Binary markets with mirrored YES/NO books (a YES bid at p is a NO ask at 1−p), tick
        sizes 0.01 and 0.001, 8–57 levels a side, sizes with 0–2 decimals; an opening array
        of books, then G3 price_change frames with both tokens' entries carrying best_bid /
        best_ask after the entry, last_trade_price frames, re-snapshots and occasional
        0.01 → 0.001 tick_size_change (with fresh books). Every `hash` (books and G3
        entries) is the exchange's recipe-10 hash of the book it describes, and the header
        carries each asset's side data (market, min_order_size, tick_size, neg_risk), so the
        hash and top-of-book oracles apply as on real tapes. The same options always give a
        byte-identical tape.

        Options:
          -o, --output OUT  the tape to write
          --assets N        number of assets, rounded up to even (default 20)
          --duration D      exchange-clock length from 1ms to 720h: 500ms, 60s, 5m, 1h (default 60s)
          --rate R          average frames per second after the opening dump (default 1000)
          --seed S          random seed (default 1)
          -h, --help        show this help

        Examples:
          replay tape synth -o synth.ndjson.zst
          replay tape synth --assets 1000 --duration 10m --rate 20000 --seed 7 -o big.ndjson.zst

        Exit status: 0 ok, 1 write failure, 64 usage error.
        """

    static func run(_ words: [String]) throws -> Int32 {
        var words = words
        if let index = words.firstIndex(of: "-o") { words[index] = "--output" }
        let arguments = try Arguments(
            words, options: ["output", "assets", "duration", "rate", "seed"], flags: ["help"])
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        guard let output = arguments.value("output") else {
            throw UsageError("name the output tape with -o OUT.ndjson.zst")
        }
        var options = SynthOptions()
        options.assets = try arguments.int("assets", default: 20, range: 1...1_000_000)
        options.messagesPerSecond = try arguments.int("rate", default: 1000, range: 1...10_000_000)
        options.seed = UInt64(try arguments.int("seed", default: 1, range: 0...Int.max))
        if let text = arguments.value("duration") {
            options.durationNs = try TapeCommand.durationNs(text, option: "duration")
        }
        let target = try TapeCommand.outputPath(output)
        do {
            var writerOptions = TapeWriterOptions(destination: .file(target, overwrite: true))
            writerOptions.flushIntervalNs = Int64.max / 2
            let header = TapeSynthesizer.header(for: options)
            let writer = try TapeWriter(
                options: writerOptions, header: header, nowWallNs: header.createdNs, nowMonoNs: 0)
            let report = try TapeSynthesizer.generate(options, into: writer)
            try StandardOutput.print(
                "wrote \(output): \(report.frames) frames (\(report.priceChangeEntries) price_change entries, \(report.books) books, \(report.trades) trades, \(report.tickSizeChanges) tick-size changes), \(report.assets.count) assets, \(writer.stats.uncompressedBytes) NDJSON bytes, \(writer.stats.compressedBytes) compressed"
            )
        } catch {
            throw TapeCommand.fail(error)
        }
        return ExitStatus.success
    }
}
