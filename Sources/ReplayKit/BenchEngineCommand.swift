// `replay bench-engine`: router + worker processes on a synthetic in-memory stream.
import CommandLineSupport
import Engine
import Foundation

enum BenchEngineCommand: Subcommand {
    static let name = "bench-engine"
    static let summary = "benchmark the router and worker processes (throughput, latency)"
    static let usage =
        "replay bench-engine [--workers N] [--messages M] [--rate R] [--spin-us S] [--ring | --router-only]"
    static let help = """
        Usage: \(usage)

        Routes a seeded synthetic stream (1,000 books, then M price changes) through the router
        and N worker processes and prints messages/s and router → worker latency
        p50/p99/p99.9/max, plus start and drained-stop times. Build in release mode.

        Options:
          --workers N      worker processes (default 1)
          --messages M     price changes (default 5,000,000)
          --rate R         pace frames of 10 changes at R messages/s, flushing each frame
          --spin-us S      idle workers poll their ring S µs before sleeping
          --ring           instead, the shared-memory ring alone (512-byte records)
          --router-only    instead, router + ring with no worker processes (decode only)

        Examples:
          swift run -c release replay bench-engine --workers 2
          tools/bench-engine
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        try StandardOutput.print(MachineDescription.current.line)
        do {
            try StandardOutput.print(try EngineBenchmark.run(arguments: arguments))
        } catch let error as EngineError {
            if case .invalidConfiguration(let text) = error { throw UsageError(text) }
            throw error
        }
        return ExitStatus.success
    }
}
