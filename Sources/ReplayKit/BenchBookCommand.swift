import Book
// `replay bench-book`: order-book apply throughput and exchange-hash cost.
import CommandLineSupport
import Foundation

enum BenchBookCommand: Subcommand {
    static let name = "bench-book"
    static let summary = "benchmark BookStore apply rates and the exchange-hash recipe"
    static let usage = "replay bench-book [--scale X] [--allocation-probe PASSES]"
    static let help = """
        Usage: \(usage)

        Applies synthetic price changes and snapshots to a BookStore in one process and prints
        changes/s, snapshots/s, the rate with an exchange-hash check on every change, and the
        hash cost per book size. Build in release mode for meaningful numbers.

        Options:
          --scale X                  multiply the amount of work (default 1.0)
          --allocation-probe PASSES  instead, run PASSES rounds for valgrind to count allocations

        Examples:
          swift run -c release replay bench-book
          valgrind .build/release/replay bench-book --allocation-probe 2
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        let parsed = try Arguments(arguments, options: ["scale", "allocation-probe"], flags: [])
        try StandardOutput.print(MachineDescription.current.line)
        if parsed.value("allocation-probe") != nil {
            try StandardOutput.print(
                BookBenchmark.allocationProbe(passes: try parsed.int("allocation-probe", default: 2, range: 1...1000)))
            return ExitStatus.success
        }
        var scale = 1.0
        if let text = parsed.value("scale") {
            guard let value = Double(text), value > 0, value <= 100 else {
                throw UsageError("--scale must be a number above 0 and at most 100, not '\(text)'")
            }
            scale = value
        }
        try StandardOutput.print(BookBenchmark.run(scale: scale))
        return ExitStatus.success
    }
}
