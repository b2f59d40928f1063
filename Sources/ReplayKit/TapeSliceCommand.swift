// `replay tape slice`: cut a time window or an asset subset into a new tape.
import CommandLineSupport
import Foundation
import Tape

/// `replay tape slice TAPE... -o OUT`
enum TapeSliceCommand: Subcommand {
    static let name = "slice"
    static let summary = "cut a time window and/or asset subset into a new, replayable tape"
    static let usage = "replay tape slice TAPE... -o OUT.ndjson.zst [--asset ID]... [--from T] [--to T]"
    static let help = """
        replay tape slice — cut part of a tape into a new tape that replays on its own

        Usage: \(usage)

        Keeps frames received in [--from, --to] with events of a kept asset (all assets if no
        --asset), selected as `replay run --assets` and `replay tape cat --asset` do: a frame
        with events for other assets too is cut down to the kept events and `price_changes`
        entries (each kept one byte-exact), and trades of the other token of a kept asset's
        market are kept (the last trade price is per market). Frames keep their receive
        times, connection ids and sequence numbers. Connection events up to --to are kept.

        A book needs its snapshot: for every kept asset, its events from its latest `book`
        before --from on are kept too, and its market's trades from the earliest such `book`
        of the market's kept tokens on (with the market's last trade before it), in frames
        marked "warmup":true in their envelope and cut down to those events. A replay of the
        slice starts the window with exactly the books and last trade prices the full tape
        had, and every exchange hash in it checks as in the full tape.
        Options:
          -o, --output OUT  the tape to write
          --asset ID        keep this asset (repeatable; or --assets ID,ID,... as in replay run)
          --from T, --to T  ISO-8601 (2026-09-24T15:09:39Z, or with an offset) or epoch milliseconds,
                            receive clock
          -h, --help        show this help

        Examples:
          replay tape slice big.ndjson.zst --from 2026-09-24T15:10:00Z --to 2026-09-24T15:10:30Z -o window.ndjson.zst
          replay tape slice recordings/ --asset 5540...9864 --asset 7935...4141 -o pair.ndjson.zst

        Exit status: 0 ok, 1 unreadable input or write failure, 64 usage error.
        """

    static func run(_ words: [String]) throws -> Int32 {
        var words = words
        if let index = words.firstIndex(of: "-o") { words[index] = "--output" }
        let arguments = try Arguments(words, options: ["output", "asset", "assets", "from", "to"], flags: ["help"])
        guard !arguments.positionals.isEmpty else { throw UsageError("name the tape to slice") }
        try TapeCommand.checkStandardInputOnce(arguments.positionals)
        guard let output = arguments.value("output") else {
            throw UsageError("name the output tape with -o OUT.ndjson.zst")
        }
        let (from, to) = try TapeCommand.window(arguments)
        let assets = try TapeCommand.assets(arguments)
        guard !assets.isEmpty || from != nil || to != nil else {
            throw UsageError("give --asset, --from or --to (otherwise the slice is the whole tape)")
        }
        let target = try TapeCommand.outputPath(output, inputs: arguments.positionals)
        let report: TapeCopyReport
        do {
            report = try TapeSlicer.slice(
                inputs: arguments.positionals, output: target, assets: assets.isEmpty ? nil : Set(assets),
                fromNs: from, toNs: to)
        } catch {
            throw TapeCommand.fail(error)
        }
        try StandardOutput.print(
            "wrote \(output): \(report.framesWritten) of \(report.framesRead) frames (\(report.warmupFrames) warm-up), \(report.eventsWritten) events"
        )
        for line in TapeCommand.damageLines(report.read) { printError(line) }
        if report.framesWritten == 0 && report.framesRead > 0 {
            // An empty slice is almost always a typo in the id or the window.
            printError(
                "warning: the slice holds no frame: "
                    + (assets.isEmpty ? "the --from/--to window" : "--asset/--from/--to")
                    + " selected nothing (`replay tape info TAPE` lists the tape's assets and time ranges)")
        }
        return ExitStatus.success
    }
}
