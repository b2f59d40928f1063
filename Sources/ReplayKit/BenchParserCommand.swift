// `replay bench-parser`: the feed parser against Foundation's JSONDecoder on the same frames.
import CommandLineSupport
import Feed
import Foundation

enum BenchParserCommand: Subcommand {
    static let name = "bench-parser"
    static let summary = "benchmark the feed parser against Foundation JSONDecoder"
    static let usage = "replay bench-parser [CORPUS_DIR] [--allocation-probe PASSES]"
    static let help = """
        Usage: \(usage)

        Parses the real corpus frame mix, synthetic current-format price_change frames and
        30-level books with PolyTape's byte-level parser and with Foundation's JSONDecoder in
        the same run, alternating rounds, and prints frames/s, MB/s and the ratio (medians).
        Build in release mode for meaningful numbers.

        Options:
          CORPUS_DIR                 the corpus folder (default: Fixtures/corpus)
          --allocation-probe PASSES  instead, parse the corpus PASSES times for a run under
                                     valgrind that counts allocations (see docs/BENCHMARKS.md)

        Examples:
          swift run -c release replay bench-parser
          valgrind --tool=memcheck .build/release/replay bench-parser --allocation-probe 2
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        let parsed = try Arguments(arguments, options: ["allocation-probe"], flags: [])
        let corpus =
            parsed.positionals.first ?? BundledFixtures.fixturesDirectory()?.appendingPathComponent("corpus").path
            ?? "Fixtures/corpus"
        var files: [String: [UInt8]] = [:]
        for name in FeedBenchmark.corpusFileNames {
            if let data = FileManager.default.contents(atPath: corpus + "/" + name) { files[name] = [UInt8](data) }
        }
        guard !files.isEmpty else {
            throw CommandError("no corpus files found in \(corpus): pass the corpus folder (Fixtures/corpus)")
        }
        if parsed.value("allocation-probe") != nil {
            let passes = try parsed.int("allocation-probe", default: 2, range: 1...1000)
            try StandardOutput.print(FeedBenchmark.allocationProbe(corpusFiles: files, passes: passes))
        } else {
            try StandardOutput.print(FeedBenchmark.run(corpusFiles: files))
        }
        return ExitStatus.success
    }
}
