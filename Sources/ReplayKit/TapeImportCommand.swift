// `replay tape import`: convert foreign captures into a tape.
import CommandLineSupport
import Foundation
import Tape

/// `replay tape import IN... -o OUT.ndjson.zst`
enum TapeImportCommand: Subcommand {
    static let name = "import"
    static let summary = "convert foreign captures (raw frames, recorder records) into a tape"
    static let usage = "replay tape import IN... -o OUT.ndjson.zst [--shape SHAPE] [--start-time T] [--json]"
    static let help = """
        replay tape import — convert captures people already have into a tape

        Usage: \(usage)

        Each input's layout is detected and printed:
          raw-frames            one raw frame per line (PONG and other text kept as text
                                frames). There is no receive time: each frame gets the largest
                                exchange `timestamp` found in it, carried forward when absent
                                (no timestamp at all: see --start-time below).
                                At least half of the non-empty lines must be JSON or PING/PONG:
                                anything else (a binary, a log) is refused as not a capture.
          single-json           one (pretty-printed) JSON frame in the whole file
          t-kind-text           {"t":<unix s>,"mono":..,"conn":"name","kind":"recv"|"open"|"sent"|"close",..}
                                records: recv → frames, open → connected, sent subscription →
                                subscribed, close → disconnected; a new conn → connected
          payload-receive-wall  {"payload":"<frame>","receive_wall_ms":..,"receive_monotonic_ns":..}
                                records; a new connection_epoch → connected
        Several inputs become one tape, in the order given, each with its own connection ids.
        `-` reads one input from standard input (e.g. `zcat capture.gz | replay tape import - -o t.ndjson.zst`).
        The output is deterministic: its creation time comes from the data (or, for inputs
        without any time, from --start-time), so importing the same inputs again gives a
        byte-identical file. OUT is replaced atomically.

        An input with no time at all (bare frames such as [], PONG or unknown event types,
        without receive clocks or exchange timestamps) cannot say when it was captured: its
        frames are all stamped with one synthetic instant, --start-time if given, otherwise
        the input file's modification time, and a warning on stderr names the file. The
        header's notes record it (synthetic_times). Inputs that carry times are never re-timed.

        Options:
          -o, --output OUT  the tape to write (.ndjson.zst)
          --shape SHAPE     skip detection: raw-frames, single-json, t-kind-text, payload-receive-wall
          --start-time T    when the frames of inputs without any time were received: ISO-8601
                            (UTC unless it says otherwise) or epoch milliseconds, as for
                            replay run --from; sets the tape's creation time for such inputs
          --json            print the report as JSON
          -h, --help        show this help

        Examples:
          replay tape import Fixtures/corpus/g3-enrico-2026-09/frames.jsonl -o enrico.ndjson.zst
          replay tape import frames.ndjson --shape raw-frames -o g2.ndjson.zst
          replay tape import bare-frames.txt --start-time 2026-09-24T16:29:39.153Z -o bare.ndjson.zst
          replay tape import bare-frames.txt --start-time 1790267379153 -o bare.ndjson.zst

        A tape is not imported again (replay it directly), nor is an empty file.

        Exit status: 0 ok, 1 missing input / nothing to import (empty, already a tape, not a capture) /
        write failure, 64 usage error (also a --start-time that is not a time, before 1970 or after 2262).
        """

    static func run(_ words: [String]) throws -> Int32 {
        var words = words
        if let index = words.firstIndex(of: "-o") { words[index] = "--output" }
        let arguments = try Arguments(words, options: ["output", "shape", "start-time"], flags: ["json", "help"])
        guard !arguments.positionals.isEmpty else { throw UsageError("name at least one capture to import") }
        guard arguments.positionals.filter({ $0 == "-" }).count <= 1 else {
            throw UsageError("standard input (-) can be imported once")
        }
        guard let output = arguments.value("output") else {
            throw UsageError("name the output tape with -o OUT.ndjson.zst")
        }
        var shape: ImportShape?
        if let text = arguments.value("shape") {
            guard let parsed = ImportShape(rawValue: text) else {
                throw UsageError(
                    "--shape must be one of \(ImportShape.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'"
                )
            }
            shape = parsed
        }
        let startTimeNs = try arguments.value("start-time").map(parseStartTime)
        let target = try TapeCommand.outputPath(output, inputs: arguments.positionals)
        let report: ImportReport
        do {
            report = try TapeImporter.importFiles(
                arguments.positionals, to: target, shape: shape, startTimeNs: startTimeNs)
        } catch {
            throw TapeCommand.fail(error)
        }
        for input in report.inputs where input.timeSource != .input {
            if case .startTime = input.timeSource { continue }
            printError(syntheticTimeWarning(input))
        }
        if startTimeNs != nil, report.inputs.allSatisfy({ $0.timeSource == .input }) {
            printError("warning: --start-time not used: every input carries its own receive or exchange times")
        }
        if arguments.flag("json") {
            let inputs: [[String: Any]] = report.inputs.map { input in
                var object: [String: Any] = [
                    "file": input.file, "shape": input.shape.rawValue, "frames": input.frames, "events": input.events,
                    "skipped": input.skipped.map { ["line": $0.line, "reason": $0.reason] as [String: Any] },
                    "time_source": input.timeSource.name,
                ]
                // Only for inputs without times: the instant every frame of it was stamped with.
                if let synthetic = input.timeSource.syntheticNs { object["synthetic_time_ns"] = synthetic }
                return object
            }
            let object: [String: Any] = [
                "output": output, "inputs": inputs, "frames": report.frames, "events": report.events,
                "assets": report.assets.count,
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            try StandardOutput.print(String(decoding: data, as: UTF8.self))
        } else {
            for input in report.inputs {
                try StandardOutput.print(
                    "\(input.file): detected \(input.shape.rawValue) (\(input.shape.summary)): \(input.frames) frames, \(input.events) connection events"
                )
                if case .startTime = input.timeSource {
                    try StandardOutput.print(
                        "\(input.file): no time in the input; frames stamped with \(input.timeSource.stampDescription)")
                }
                for issue in input.skipped.prefix(20) { printError("warning: \(issue.description)") }
            }
            try StandardOutput.print(
                "wrote \(output): \(report.frames) frames, \(report.events) events, \(report.assets.count) assets")
        }
        return ExitStatus.success
    }

    /// `--start-time`, parsed like `replay run --from`; refused before 1970 and beyond what a
    /// tape's nanosecond clock holds (year 2262).
    static func parseStartTime(_ text: String) throws -> Int64 {
        let ns = try RunOptions.parseInstant(text, option: "start-time")
        guard ns >= 0 else {
            throw UsageError("--start-time must be at or after 1970-01-01T00:00:00Z, not '\(text)'")
        }
        return ns
    }

    /// The warning for an input whose times had to be made up.
    static func syntheticTimeWarning(_ input: ImportReport.Input) -> String {
        let frames = input.frames == 1 ? "its frame is" : "all \(input.frames) of its frames are"
        return "warning: \(input.file): no receive or exchange time found in the input, so the tape's times are "
            + "synthetic: \(frames) stamped with \(input.timeSource.stampDescription). Give the real start "
            + "time with --start-time ISO8601|epoch-ms (e.g. --start-time 2026-09-24T16:29:39Z)."
    }
}
