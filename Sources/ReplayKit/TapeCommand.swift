// `replay tape <tool>`: inspect, convert, cut, repair and generate tapes. Each tool lives
// in its own Tape*Command.swift file; this one dispatches and holds what they share.
public import CommandLineSupport
import Foundation
import Tape
import Verify

#if canImport(Glibc)
    import Glibc
#endif

/// Exit statuses of the tape tools beyond the shared ones (documented in docs/TAPE_FORMAT.md).
public enum TapeExitStatus {
    /// `--strict` was given and the tape has a torn tail, corrupt data or malformed lines (for
    /// `replay run --strict`, also a malformed frame).
    public static let damaged: Int32 = 2
}

/// `replay tape`: the tape tools.
public enum TapeCommand: Subcommand {
    public static let name = "tape"
    public static let summary = "inspect, print, import, slice, repair and synthesize tapes"
    public static let usage = "replay tape <info|cat|import|slice|repair|synth> [options]"

    static var tools: [any Subcommand.Type] {
        [
            TapeInfoCommand.self, TapeCatCommand.self, TapeImportCommand.self, TapeSliceCommand.self,
            TapeRepairCommand.self, TapeSynthCommand.self,
        ]
    }
    /// Not listed in help: used by the crash-safety test.
    static var hiddenTools: [any Subcommand.Type] { [TapeWriteTestCommand.self, TapeBenchCommand.self] }

    /// `Subcommand.main` answers `--help` with this text before `run` sees the arguments, so
    /// the text is chosen from the process's own command line: `replay tape cat --help`
    /// prints the `cat` help.
    public static var help: String {
        let words = CommandLine.arguments
        if let index = words.firstIndex(of: name), index + 1 < words.count,
            let tool = (tools + hiddenTools).first(where: { $0.name == words[index + 1] })
        {
            return tool.help
        }
        var text = """
            replay tape — work with PolyTape tapes (.ndjson.zst, .ndjson, folders of segments, - for stdin)

            Usage: \(usage)

            Tools:
            """
        for tool in tools {
            text += "\n  \(tool.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(tool.summary)"
        }
        text += """


            Examples:
              replay tape info Fixtures/tapes/g3-enrico-2026-09.ndjson.zst
              replay tape cat Fixtures/tapes/g3-enrico-2026-09.ndjson.zst | jq -c '.. | .event_type? // empty'
              replay tape import capture.jsonl -o capture.ndjson.zst
              replay tape synth --assets 100 --duration 60s --rate 5000 --seed 7 -o synth.ndjson.zst

            Exit status: 0 ok, 1 failure (missing or unreadable file, not a tape, unsupported
            format version), 2 damaged tape with --strict, 64 usage error.
            Format and exit codes: docs/TAPE_FORMAT.md. See 'replay tape <tool> --help'.
            """
        return text
    }

    public static func run(_ arguments: [String]) throws -> Int32 {
        guard let first = arguments.first else {
            throw UsageError("name a tool: info, cat, import, slice, repair, synth")
        }
        guard let tool = (tools + hiddenTools).first(where: { $0.name == first }) else {
            throw UsageError("unknown tape tool '\(first)'")
        }
        return tool.main(Array(arguments.dropFirst()))
    }

    // MARK: Shared helpers

    /// Maps library errors to one clear line and an exit status (a failed write to standard
    /// output stays an `OutputError`, which `Subcommand.main` reports).
    static func fail(_ error: any Error) -> any Error {
        if error is OutputError { return error }
        if let error = error as? TapeError {
            switch error {
            case .tornTail, .malformedLine, .foreignSegment:
                return CommandError(error.description, status: TapeExitStatus.damaged)
            default: return CommandError(error.description)
            }
        }
        return CommandError("\(error)")
    }

    /// Standard input can be read once: a second `-` would read nothing (usage error).
    static func checkStandardInputOnce(_ paths: [String]) throws {
        if paths.filter({ $0 == "-" }).count > 1 {
            throw UsageError("standard input (-) can be given once: name it a single time, or save it to a file")
        }
    }

    /// Checks `-o OUT` before any input is read (not a directory, not a device or pipe, not
    /// standard output, its folder exists and is writable, and it is none of `inputs` nor a file
    /// inside an input folder) and returns the path to write: a symlink's target, so the link is
    /// kept and the tape it points at is replaced. From then on SIGINT and SIGTERM remove the
    /// partial tape being written and end the tool with status 130.
    static func outputPath(_ path: String, inputs: [String] = []) throws -> String {
        if path == "-" {
            throw UsageError("tapes must go to a regular file; -o - (standard output) is not supported")
        }
        try OutputFile.check(path, option: "-o", example: "out.ndjson.zst", allowsSpecialFiles: false)
        try OutputConflicts.check(
            inputs: inputs.map { OutputConflicts.Input("the input", $0) }, outputs: [OutputConflicts.Output("-o", path)]
        )
        PartialTapeCleanup.installSignalHandlers()
        return OutputFile.resolve(path)
    }

    /// The `--asset ID` (repeatable) and `--assets ID,ID` values together, as `replay run` spells it.
    /// Options that name no id at all (`--assets ""`) are a usage error, as in `replay run`: an
    /// empty list would otherwise mean "no filter", the opposite of what was typed.
    static func assets(_ arguments: Arguments) throws -> [String] {
        let given = arguments.values("asset") + arguments.values("assets")
        let ids = given.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        if !given.isEmpty && ids.isEmpty {
            throw UsageError(
                "--asset/--assets named no asset id; give ids (--asset ID, repeated, or --assets ID,ID) "
                    + "or leave the option out to keep every asset")
        }
        return ids
    }

    /// `--from` and `--to`; refused, with the words of `replay run`, when --from is after --to.
    static func window(_ arguments: Arguments) throws -> (from: Int64?, to: Int64?) {
        let from = try time(arguments, "from")
        let to = try time(arguments, "to")
        if let from, let to, from > to {
            throw UsageError(
                "--from is after --to (\(arguments.value("from") ?? "") > \(arguments.value("to") ?? "")): "
                    + "the window would be empty")
        }
        return (from, to)
    }

    /// Parses `--from`/`--to` exactly as `replay run` does (`RunOptions.parseInstant`).
    static func time(_ arguments: Arguments, _ name: String) throws -> Int64? {
        guard let text = arguments.value(name) else { return nil }
        return try RunOptions.parseInstant(text, option: name)
    }

    /// What a read found damaged, a line each: warnings for stderr by default; `tape repair`
    /// lists them as what it dropped (`prefix: "dropped: "`, `moreSuffix: ""`).
    static func damageLines(_ report: TapeReadReport, prefix: String = "warning: ", moreSuffix: String = " skipped")
        -> [String]
    {
        var lines = report.tornTails.map { prefix + $0.description }
        for issue in report.issues { lines.append(prefix + issue.description) }
        if report.malformedLines > report.issues.count {
            let more = report.malformedLines - report.issues.count
            lines.append(prefix + VerificationText.count(more, "more malformed line") + moreSuffix)
        }
        return lines
    }

    static func isDamaged(_ report: TapeReadReport) -> Bool {
        !report.tornTails.isEmpty || report.malformedLines > 0
    }

    /// `--duration` of `tape synth`: 1 ms to 720 h (30 days), refused beyond (never trapped).
    static let durationRangeNs: ClosedRange<Int64> = 1_000_000...(720 * 3_600_000_000_000)

    static func durationNs(_ text: String, option: String) throws -> Int64 {
        let units: [(String, Int64)] = [
            ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
            ("", 1_000_000_000),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Int64(text.dropLast(suffix.count)), value > 0 else { continue }
            let (ns, overflow) = value.multipliedReportingOverflow(by: scale)
            guard !overflow, durationRangeNs.contains(ns) else {
                throw UsageError("--\(option) must be from 1ms to 720h, not '\(text)'")
            }
            return ns
        }
        throw UsageError("--\(option) must be a duration from 1ms to 720h like 500ms, 60s, 5m or 1h, not '\(text)'")
    }
}

/// Buffered writes to standard output (fd 1) with one syscall per 256 KiB; a failed write throws
/// (`OutputError`), so a full disk or a closed stream ends the command with an error.
final class BufferedStandardOutput {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 18) }

    func write(_ bytes: UnsafeRawBufferPointer) throws(OutputError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 18 { try flush() }
    }

    func write(_ text: String) throws(OutputError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 18 { try flush() }
    }

    func flush() throws(OutputError) {
        var failure: OutputError?
        buffer.withUnsafeBytes { bytes in
            do throws(OutputError) {
                try StandardOutput.write(bytes)
            } catch {
                failure = error
            }
        }
        buffer.removeAll(keepingCapacity: true)
        if let failure { throw failure }
    }
}
