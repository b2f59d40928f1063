// `replay tape repair`: rewrite a damaged tape into a clean one.
import CommandLineSupport
import Foundation
import Tape
import Verify

/// `replay tape repair TAPE... -o OUT`
enum TapeRepairCommand: Subcommand {
    static let name = "repair"
    static let summary = "rewrite a torn or damaged tape into a clean one with a footer"
    static let usage = "replay tape repair TAPE... -o OUT.ndjson.zst"
    static let help = """
        replay tape repair — rewrite a damaged tape into a clean one

        Usage: \(usage)

        Reads everything readable (segments in order, torn tails cut at the last complete
        line, malformed lines skipped) and writes one clean tape with a footer. Frames keep
        their bytes, receive times, connection ids and sequence numbers; lines of a kind this
        version does not know (a newer writer's) are copied verbatim. Prints exactly what was
        dropped: per torn tail the file, the last good line and the bytes lost; per skipped
        line the file and line number. Also says how many unknown-kind lines and how many
        frames whose bytes do not parse were kept, with the file and line of the first.

        Options:
          -o, --output OUT  the clean tape to write (replaced atomically)
          -h, --help        show this help

        Examples:
          replay tape repair crashed/ -o clean.ndjson.zst
          replay tape repair session-20261004T154143.512-000003.ndjson.zst -o fixed.ndjson.zst

        Exit status: 0 repaired (or nothing to repair), 1 unreadable input, not a tape or
        write failure, 64 usage error.
        """

    static func run(_ words: [String]) throws -> Int32 {
        var words = words
        if let index = words.firstIndex(of: "-o") { words[index] = "--output" }
        let arguments = try Arguments(words, options: ["output"], flags: ["help"])
        guard !arguments.positionals.isEmpty else { throw UsageError("name the tape to repair") }
        try TapeCommand.checkStandardInputOnce(arguments.positionals)
        guard let output = arguments.value("output") else {
            throw UsageError("name the output tape with -o OUT.ndjson.zst")
        }
        let target = try TapeCommand.outputPath(output, inputs: arguments.positionals)
        let report: TapeCopyReport
        do {
            report = try TapeRepairer.repair(inputs: arguments.positionals, output: target)
        } catch {
            throw TapeCommand.fail(error)
        }
        let read = report.read
        if read.tornTails.isEmpty && read.malformedLines == 0 {
            try StandardOutput.print("nothing was damaged")
        } else {
            for line in TapeCommand.damageLines(read, prefix: "dropped: ", moreSuffix: "") {
                try StandardOutput.print(line)
            }
        }
        if let first = report.firstUnknownLine {
            let count = report.unknownLinesKept
            try StandardOutput.print(
                "kept: \(VerificationText.count(count, "line")) of a kind this version does not know, verbatim "
                    + "(first \(first.file):\(first.line): \(first.reason))")
        }
        if let first = report.firstMalformedFrame {
            let count = report.malformedFramesKept
            try StandardOutput.print(
                "kept: \(VerificationText.count(count, "frame")) whose bytes do not parse, unchanged "
                    + "(first \(first.file):\(first.line): \(first.reason))")
        }
        let footer = read.tornTails.isEmpty && read.malformedLines == 0 ? "" : ", footer added"
        try StandardOutput.print(
            "wrote \(output): \(report.framesWritten) frames, \(report.eventsWritten) events\(footer)")
        return ExitStatus.success
    }
}
