// `replay tape import`: convert foreign captures into a tape.
import CommandLineSupport
import Foundation
import Tape

/// `replay tape import IN... -o OUT.ndjson.zst`
enum TapeImportCommand: Subcommand {
    static let name = "import"
    static let summary = "convert foreign captures (raw frames, recorder records) into a tape"
    static let usage = "replay tape import IN... -o OUT.ndjson.zst [--shape SHAPE] [--json]"
    static let help = """
        replay tape import — convert captures people already have into a tape

        Usage: \(usage)

        Each input's layout is detected and printed:
          raw-frames            one raw frame per line (PONG and other text kept as text
                                frames). There is no receive time: each frame gets the largest
                                exchange `timestamp` found in it, carried forward when absent.
                                At least half of the non-empty lines must be JSON or PING/PONG:
                                anything else (a binary, a log) is refused as not a capture.
          single-json           one (pretty-printed) JSON frame in the whole file
          t-kind-text           {"t":<unix s>,"mono":..,"conn":"name","kind":"recv"|"open"|"sent"|"close",..}
                                records: recv → frames, open → connected, sent subscription →
                                subscribed, close → disconnected; a new conn → connected
          payload-receive-wall  {"payload":"<frame>","receive_wall_ms":..,"receive_monotonic_ns":..}
                                records; a new connection_epoch → connected
        Several inputs become one tape, in the order given, each with its own connection ids.
        The output is deterministic: its creation time comes from the data, so importing
        the same inputs again gives a byte-identical file. OUT is replaced atomically.

        Options:
          -o, --output OUT  the tape to write (.ndjson.zst)
          --shape SHAPE     skip detection: raw-frames, single-json, t-kind-text, payload-receive-wall
          --json            print the report as JSON
          -h, --help        show this help

        Examples:
          replay tape import Fixtures/corpus/g3-enrico-2026-09/frames.jsonl -o enrico.ndjson.zst
          replay tape import frames.ndjson --shape raw-frames -o g2.ndjson.zst

        A tape is not imported again (replay it directly), nor is an empty file.

        Exit status: 0 ok, 1 missing input / nothing to import (empty, already a tape, not a capture) /
        write failure, 64 usage error.
        """

    static func run(_ words: [String]) throws -> Int32 {
        var words = words
        if let index = words.firstIndex(of: "-o") { words[index] = "--output" }
        let arguments = try Arguments(words, options: ["output", "shape"], flags: ["json", "help"])
        guard !arguments.positionals.isEmpty else { throw UsageError("name at least one capture to import") }
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
        if arguments.positionals.contains(output) { throw UsageError("the output \(output) is also an input") }
        let report: ImportReport
        do {
            report = try TapeImporter.importFiles(arguments.positionals, to: output, shape: shape)
        } catch {
            throw TapeCommand.fail(error)
        }
        if arguments.flag("json") {
            let inputs: [[String: Any]] = report.inputs.map {
                [
                    "file": $0.file, "shape": $0.shape.rawValue, "frames": $0.frames, "events": $0.events,
                    "skipped": $0.skipped.map { ["line": $0.line, "reason": $0.reason] as [String: Any] },
                ]
            }
            let object: [String: Any] = [
                "output": output, "inputs": inputs, "frames": report.frames, "events": report.events,
                "assets": report.assets.count,
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            print(String(decoding: data, as: UTF8.self))
        } else {
            for input in report.inputs {
                print(
                    "\(input.file): detected \(input.shape.rawValue) (\(input.shape.summary)): \(input.frames) frames, \(input.events) connection events"
                )
                for issue in input.skipped.prefix(20) { printError("warning: \(issue.description)") }
            }
            print("wrote \(output): \(report.frames) frames, \(report.events) events, \(report.assets.count) assets")
        }
        return ExitStatus.success
    }
}
