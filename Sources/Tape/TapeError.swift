// The one error type of the Tape module, and the non-fatal issues a reader reports.

/// A failure to read or write a tape. Every message says what happened, where, and what
/// to do about it.
public enum TapeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A named input does not exist.
    case fileNotFound(path: String)
    /// The OS refused an operation (open, read, write, rename).
    case io(path: String, operation: String, errno: Int32)
    /// The file is not a tape (first line is not a polytape header).
    case notATape(file: String, reason: String)
    /// The header names a format version this library does not read.
    case unsupportedFormat(file: String, found: String)
    /// A zero-byte file given as the only input.
    case empty(file: String)
    /// The only input ends before its header line is complete (cut while written or copied).
    case headerCut(file: String, bytes: Int64)
    /// The only input's compressed data is corrupt before its header line could be decoded.
    case corruptBeforeHeader(TornTail)
    /// Strict mode only: a line that is not a valid tape record.
    case malformedLine(file: String, line: Int, reason: String)
    /// Strict mode only: a segment after the first that is not a tape at all (binary, or text
    /// without a polytape header). Without strict mode it is skipped and reported.
    case foreignSegment(file: String, reason: String)
    /// Strict mode only: the file ends in a torn tail.
    case tornTail(TornTail)
    /// A single line longer than the reader accepts.
    case lineTooLong(file: String, line: Int, limit: Int)
    /// libzstd reported an error while compressing.
    case compression(path: String, message: String)
    /// A directory holds no `.ndjson.zst` / `.ndjson` segments.
    case noSegments(directory: String)
    /// The writer was used after `close()`.
    case closed
    /// `replay tape import` was given a file that already is a tape (`format` from its header).
    case alreadyATape(file: String, format: String)
    /// `replay tape import` was given an empty file, or one holding only blank lines.
    case nothingToImport(file: String)
    /// `replay tape import` was given something that is neither frames nor recorder records.
    case notACapture(file: String, reason: String)

    /// The `notATape` reason for binary files (which `tape import` refuses too).
    static let binaryReason = "it is a binary file, not text"
    /// The `notATape` reason for a pretty-printed JSON document (a run report or a golden).
    static let jsonDocumentReason = "it is a JSON document (a run report or golden file?), not NDJSON tape lines"

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file or directory. Check the path, or list the folder with `ls`."
        case .io(let path, let operation, let code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))."
        case .notATape(let file, let reason) where reason == TapeError.binaryReason:
            if file == "-" || file == "<stdin>" {
                return "standard input is not a PolyTape tape: \(reason). Pipe a tape (.ndjson.zst or .ndjson) "
                    + "into it, or name the tape file instead of -."
            }
            return "\(file): not a PolyTape tape: \(reason). Give a tape (.ndjson.zst or .ndjson), a folder of "
                + "segments, or - for standard input."
        case .notATape(let file, let reason) where reason == TapeError.jsonDocumentReason:
            return "\(file): not a PolyTape tape: \(reason). A golden goes with `replay run TAPE --golden \(file)`, "
                + "a run report with `replay verify \(file) GOLDEN`."
        case .notATape(let file, let reason):
            let convert =
                file == "-" || file == "<stdin>"
                ? "pipe it into `replay tape import - -o OUT.ndjson.zst`"
                : "run `replay tape import \(file) -o OUT.ndjson.zst`"
            return "\(file): not a PolyTape tape: \(reason). To convert a foreign capture, \(convert)."
        case .unsupportedFormat(let file, let found):
            return "\(file): the tape's format is \"\(found)\", but this version of PolyTape reads only "
                + "\"\(TapeFormat.current)\". Use a PolyTape release that reads \(found)."
        case .headerCut(let file, let bytes):
            return "\(file): the tape ends inside its header line (after \(bytes) bytes of the file): it was cut while "
                + "being written or copied and holds no frame to replay. Copy it again from its source; if its "
                + "writer was killed at once, the data is in its other segments."
        case .corruptBeforeHeader(let damage):
            let at = damage.offset.map { " at compressed byte \($0)" } ?? ""
            return "\(damage.file): \(damage.reason)\(at), before the tape's header line could be decoded: "
                + "nothing in it can be replayed (this is damage, not a tape cut short). Copy it again from its source."
        case .empty(let file):
            if file == "-" || file == "<stdin>" {
                return
                    "standard input was empty (0 bytes): nothing to read. Pipe a tape into it, or name the tape file."
            }
            return "\(file): the file is empty (0 bytes): no header, no frames. "
                + "A writer killed before its first flush leaves such a file; delete it."
        case .malformedLine(let file, let line, let reason):
            return "\(file):\(line): malformed tape line: \(reason). "
                + "Run without --strict to skip such lines, or `replay tape repair` to rewrite the tape."
        case .foreignSegment(let file, let reason):
            return "\(file): not a PolyTape tape: \(reason), but it is among the tape's segments. Run without --strict "
                + "to skip it (it is reported), or move it out of the tape's folder."
        case .tornTail(let torn):
            return torn.description + " Run `replay tape repair` to rewrite a clean tape."
        case .lineTooLong(let file, let line, let limit):
            return "\(file):\(line): a line is longer than \(limit) bytes; the file is probably not a tape."
        case .compression(let path, let message):
            return "\(path): zstd compression failed: \(message)."
        case .noSegments(let directory):
            return "\(directory): the folder holds no .ndjson.zst or .ndjson segments."
        case .closed:
            return "the tape writer was used after close()."
        case .alreadyATape(let file, let format) where file == "-" || file == "<stdin>":
            return "standard input is already a PolyTape tape (\(format)); nothing to import — "
                + "replay it directly: pipe it into replay run -"
        case .alreadyATape(let file, let format):
            return "\(file) is already a PolyTape tape (\(format)); nothing to import — "
                + "replay it directly: replay run \(file)"
        case .nothingToImport(let file):
            return "\(file) is empty: nothing to import"
        case .notACapture(let file, let reason):
            return "\(file): not a capture: \(reason); expected one frame per line or recorder records "
                + "(see docs/TAPE_FORMAT.md)"
        }
    }
}

/// What a reader dropped from a segment: a torn tail at its end (a writer killed mid-write, a
/// copy cut short), or a stretch of corrupt compressed data (`corrupt`), which may lie in the
/// middle of the segment when a later zstd frame could be read again (`resumedAt`).
public struct TornTail: Sendable, Equatable, CustomStringConvertible {
    /// The segment file.
    public var file: String
    /// The last complete line that was returned before the damage (1-based; 0 when none).
    public var lastGoodLine: Int
    /// Bytes of the incomplete line(s) around the damage that were dropped (decompressed bytes).
    public var droppedLineBytes: Int
    /// Compressed bytes that could not be decoded: for a torn tail the unfinished zstd block or
    /// frame at the end of the file; for corrupt data everything from `offset` to `resumedAt`
    /// (or to the end of the file); 0 for plain NDJSON.
    public var droppedCompressedBytes: Int
    /// Why: "truncated zstd frame", "corrupt zstd data (...)", "incomplete last line", "empty file".
    public var reason: String
    /// True for corrupt compressed data (the decoder refused it), false for a tail that is
    /// merely missing (truncated frame, incomplete last line, empty file).
    public var corrupt: Bool
    /// Corrupt data only: the byte offset in the file of the first compressed byte whose lines
    /// could not be decoded (the start of the zstd block that failed, where known).
    public var offset: Int64?
    /// Corrupt data only: the byte offset of the next zstd frame, where reading resumed; nil
    /// when no later frame was found and the rest of the segment is lost.
    public var resumedAt: Int64?

    public init(
        file: String, lastGoodLine: Int, droppedLineBytes: Int, droppedCompressedBytes: Int, reason: String,
        corrupt: Bool = false, offset: Int64? = nil, resumedAt: Int64? = nil
    ) {
        self.file = file
        self.lastGoodLine = lastGoodLine
        self.droppedLineBytes = droppedLineBytes
        self.droppedCompressedBytes = droppedCompressedBytes
        self.reason = reason
        self.corrupt = corrupt
        self.offset = offset
        self.resumedAt = resumedAt
    }

    /// Where the damage is: "after line N", or "before its first line" when no line was read.
    public var position: String {
        lastGoodLine == 0 ? "before its first line" : "after line \(lastGoodLine)"
    }

    public var description: String {
        guard corrupt else {
            return "\(file): torn tail \(position): \(reason); dropped \(Self.bytes(droppedLineBytes)) of an "
                + "incomplete line and \(droppedCompressedBytes) undecodable compressed "
                + "\(droppedCompressedBytes == 1 ? "byte" : "bytes")."
        }
        let at = offset.map { " at compressed byte \($0)" } ?? ""
        if let resumedAt {
            return "\(file): corrupt data in the middle of the segment\(at) (\(position)): \(reason); "
                + "skipped \(droppedCompressedBytes) compressed \(droppedCompressedBytes == 1 ? "byte" : "bytes") up to "
                + "the next zstd frame at byte \(resumedAt) and read on from there; dropped "
                + "\(Self.bytes(droppedLineBytes)) of cut lines (later line numbers count the lines read)."
        }
        return "\(file): corrupt data\(at) (\(position)): \(reason); the \(droppedCompressedBytes) compressed "
            + "\(droppedCompressedBytes == 1 ? "byte" : "bytes") from there to the end of the file could not be "
            + "decoded (no later zstd frame to resume at); dropped \(Self.bytes(droppedLineBytes)) of a cut line."
    }

    static func bytes(_ count: Int) -> String { count == 1 ? "1 byte" : "\(count) bytes" }
}

/// A line the reader skipped, with where it was.
public struct TapeIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var reason: String

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String { "\(file):\(line): skipped: \(reason)" }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
