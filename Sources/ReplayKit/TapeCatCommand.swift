// `replay tape cat`: frames (or whole tape lines) to standard output as NDJSON.
import CommandLineSupport
import Foundation
import Tape

/// `replay tape cat TAPE...`
enum TapeCatCommand: Subcommand {
    static let name = "cat"
    static let summary = "print frames as NDJSON (| jq works), filtered by asset and time"
    static let usage =
        "replay tape cat TAPE... [--asset ID]... [--from T] [--to T] [--envelope] [--skip-text] [--strict]"
    static let help = """
        replay tape cat — print a tape's frames as NDJSON

        Usage: \(usage)

        Prints one frame per line, byte-exact, in tape order. JSON frames are printed as they
        were received. JSON frames that arrived with line breaks (pretty-printed, or with a
        trailing newline) are printed on one line, line breaks turned into spaces. Text frames
        that are not JSON (PONG) are printed as JSON strings so that `| jq` keeps working;
        --skip-text leaves them out. Frames that are not UTF-8 are left out (see --envelope).

        Options:
          --asset ID   keep this asset's events (repeatable; --assets ID,ID,... works too),
                       selected as `replay run --assets` and `replay tape slice --asset` do:
                       a frame with events for other assets too (an initial-dump array, a
                       G3 price_change with both tokens) is cut down to the kept events and
                       entries, the recorded bytes of each kept one unchanged; trades of the
                       other token of a kept asset's market are kept (the last trade price
                       is per market); events with no asset id are kept; text frames are not.
          --from T     keep frames received at or after T
          --to T       keep frames received at or before T
                       (T: ISO-8601 like 2026-09-24T15:09:39.5Z or with an offset, or epoch milliseconds;
                       the receive clock is used, not the exchange timestamp)
          --envelope   print whole tape lines (header, frame envelopes with receive times,
                       connection events, footer) instead of bare frames
          --skip-text  leave out frames that are not JSON
          --strict     exit 2 on a torn tail or malformed lines
          -h, --help   show this help

        Examples:
          replay tape cat Fixtures/tapes/g3-enrico-2026-09.ndjson.zst | jq -c '.. | .event_type? // empty'
          replay tape cat recordings/ --asset 7935847...4141 --from 2026-10-04T15:42:00Z
          replay tape cat tape.ndjson.zst --envelope | jq -c 'select(.kind=="event")'

        Exit status: 0 ok (damage is reported on stderr), 1 unreadable / not a tape /
        unsupported format version, 2 damaged with --strict, 64 usage error.
        """

    static func run(_ words: [String]) throws -> Int32 {
        let arguments = try Arguments(
            words, options: ["asset", "assets", "from", "to"], flags: ["envelope", "skip-text", "strict", "help"])
        guard !arguments.positionals.isEmpty else { throw UsageError("name at least one tape") }
        try TapeCommand.checkStandardInputOnce(arguments.positionals)
        let assets = Set(try TapeCommand.assets(arguments))
        let window = try TapeCommand.window(arguments)
        let from = window.from ?? Int64.min
        let to = window.to ?? Int64.max
        let envelope = arguments.flag("envelope")
        let skipText = arguments.flag("skip-text")
        let output = BufferedStandardOutput()
        let reader: TapeReader
        var skippedBinary = 0
        do {
            reader = try TapeReader(paths: arguments.positionals)
            var escaped: [UInt8] = []
            var flattened: [UInt8] = []
            var selection = AssetSelection(assets: assets.isEmpty ? nil : assets)
            while let record = try reader.next() {
                switch record {
                case .frame(let frame):
                    // The selection learns markets from every frame, in the window or not, as a
                    // replay does.
                    var cut: FrameCutOutcome = .exact
                    if selection.assets != nil {
                        let layout = FrameLayout.scan(frame.bytes)
                        cut = layout.isJSON ? layout.apply(selection.cuts(layout), to: frame.bytes) : .skip
                    }
                    guard frame.recvWallNs >= from, frame.recvWallNs <= to, cut != .skip else { continue }
                    if case .rewritten(let bytes) = cut {
                        // A frame cut down to the kept assets: its envelope is written anew.
                        let text = bytes.withUnsafeBytes { bytes in
                            envelope
                                ? TapeWriter.frameLine(
                                    bytes, recvWallNs: frame.recvWallNs, monoNs: frame.monoNs, conn: frame.conn,
                                    seq: frame.seq, synthetic: frame.synthetic, warmup: frame.warmup)
                                : JSONText.oneLine(bytes)
                        }
                        try text.withUnsafeBytes { try output.write($0) }
                    } else if envelope {
                        try output.write(reader.currentLine)
                    } else if frame.encoding == .json {
                        try output.write(frame.bytes)
                    } else if frame.encoding == .text, JSONText.isJSONAfterFlattening(frame.bytes) {
                        // JSON that arrived with line breaks (pretty-printed, trailing newline):
                        // line breaks between tokens become spaces, so each frame is one line.
                        flattened.removeAll(keepingCapacity: true)
                        JSONText.flatten(frame.bytes, into: &flattened)
                        try flattened.withUnsafeBytes { try output.write($0) }
                    } else {
                        if skipText || frame.encoding == .base64 {
                            skippedBinary += frame.encoding == .base64 ? 1 : 0
                            continue
                        }
                        escaped.removeAll(keepingCapacity: true)
                        escaped.append(0x22)
                        for byte in frame.bytes {
                            switch byte {
                            case 0x22: escaped += [0x5C, 0x22]
                            case 0x5C: escaped += [0x5C, 0x5C]
                            case 0x0A: escaped += [0x5C, 0x6E]
                            case 0x0D: escaped += [0x5C, 0x72]
                            case 0x09: escaped += [0x5C, 0x74]
                            case 0..<0x20: escaped += Array(String(format: "\\u%04x", byte).utf8)
                            default: escaped.append(byte)
                            }
                        }
                        escaped.append(0x22)
                        try escaped.withUnsafeBytes { try output.write($0) }
                    }
                    try output.write("\n")
                case .header, .footer, .event, .unknown:
                    if case .header = record, let header = reader.header { selection.learn(sideData: header.sideData) }
                    guard envelope else { continue }
                    try output.write(reader.currentLine)
                    try output.write("\n")
                }
            }
        } catch let error as OutputError {
            throw error
        } catch {
            // What was read before the failure is printed, then the failure.
            try output.flush()
            throw TapeCommand.fail(error)
        }
        try output.flush()
        for line in TapeCommand.damageLines(reader.report) { printError(line) }
        if skippedBinary > 0 {
            printError("note: \(skippedBinary) frames that are not UTF-8 were left out (see --envelope)")
        }
        if arguments.flag("strict"), TapeCommand.isDamaged(reader.report) { return TapeExitStatus.damaged }
        return ExitStatus.success
    }
}

/// One-line rendering of JSON text that arrived with line breaks.
enum JSONText {
    static func isJSONAfterFlattening(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var flattened: [UInt8] = []
        flatten(bytes, into: &flattened)
        return flattened.withUnsafeBytes { FrameScan.isSingleJSONValue($0) }
    }

    /// The bytes of a JSON frame on one line (flattened when they hold line breaks).
    static func oneLine(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        guard bytes.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return Array(bytes) }
        var flattened: [UInt8] = []
        flatten(bytes, into: &flattened)
        return flattened
    }

    /// Line breaks can only sit between JSON tokens (never inside strings), so turning them
    /// into spaces keeps every token; outer whitespace is trimmed.
    static func flatten(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x0A || bytes[start] == 0x0D || bytes[start] == 0x09
        {
            start += 1
        }
        while end > start,
            bytes[end - 1] == 0x20 || bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D || bytes[end - 1] == 0x09
        {
            end -= 1
        }
        for index in start..<end {
            let byte = bytes[index]
            output.append(byte == 0x0A || byte == 0x0D ? 0x20 : byte)
        }
    }
}
