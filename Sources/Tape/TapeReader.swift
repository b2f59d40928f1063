// Streaming tape reader: zstd or plain NDJSON, files, directories or stdin, in bounded
// memory. Lines are split in place in one decompression buffer and handed out as views.
import CZstd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Options of a `TapeReader`.
public struct TapeReaderOptions: Sendable {
    /// Malformed lines and torn tails throw instead of being reported and skipped.
    public var strict: Bool = false
    /// Longest line accepted; longer means the input is not a tape.
    public var maxLineBytes: Int = 256 << 20
    /// How many skipped-line issues are kept in the report (all are counted).
    public var maxIssuesKept: Int = 100

    public init(strict: Bool = false) {
        self.strict = strict
    }
}

/// What a reader saw: counts, skipped lines, torn tails, bytes in and out. Updated as the
/// reader goes; complete once `next()` has returned nil.
public struct TapeReadReport: Sendable {
    /// The segment files in reading order ("<stdin>" for standard input).
    public var files: [String] = []
    public var lines: Int = 0
    public var headers: Int = 0
    public var frames: Int = 0
    public var events: Int = 0
    public var footers: Int = 0
    /// Records with a `kind` this version does not know.
    public var unknownKinds: Int = 0
    /// Lines that were not valid tape records (skipped unless strict).
    public var malformedLines: Int = 0
    /// The first `maxIssuesKept` malformed lines, with file and line number.
    public var issues: [TapeIssue] = []
    /// Every torn tail (one per damaged segment end) and every stretch of corrupt compressed
    /// data (`TornTail.corrupt`), in reading order.
    public var tornTails: [TornTail] = []
    /// Bytes read from the files (all of each file, also past corrupt data) and bytes of NDJSON
    /// they decoded to.
    public var compressedBytes: Int64 = 0
    public var decompressedBytes: Int64 = 0
    /// True when the last segment ended with a footer (a clean close).
    public var endedWithFooter: Bool = false

    public init() {}
}

/// Reads one tape (one or more segments) as a single stream of records, in order.
///
/// Use `next()` (or `forEachRecord`) for typed records, `nextLine()` for raw lines. Every
/// view handed out points into the reader's buffers and is valid until the next call.
/// Memory stays bounded: one compressed input buffer, one decompressed buffer that only
/// grows to hold the longest line. Not thread-safe; use one reader per thread.
///
/// The per-line state below is marked `@exclusivity(unchecked)`: a reader is used by one thread
/// at a time and no method of it calls back into the caller while it holds an access, so the
/// runtime's dynamic exclusivity checks (a measurable share of reading a line) cannot find
/// anything; debug builds and the tests use the same code paths.
public final class TapeReader {
    public let options: TapeReaderOptions
    /// The header of the first segment.
    public private(set) var header: TapeHeader?
    /// Counts and issues so far.
    @exclusivity(unchecked) public private(set) var report = TapeReadReport()
    /// The segment file being read.
    public private(set) var currentFile: String = ""
    /// The 0-based position of `currentFile` among the segment files (-1 before the first);
    /// a cheap way to notice a change of file without comparing strings.
    public var currentFileIndex: Int { fileIndex }
    /// 1-based line number of the last line returned, within `currentFile`.
    @exclusivity(unchecked) public private(set) var currentLineNumber: Int = 0
    /// The raw bytes of the last line returned (valid until the next call).
    @exclusivity(unchecked) public private(set) var currentLine = UnsafeRawBufferPointer(start: nil, count: 0)

    private let paths: [String]
    private var fileIndex = -1
    @exclusivity(unchecked) private var fd: Int32 = -1
    private var isZstd = false
    @exclusivity(unchecked) private var segmentEnded = true
    @exclusivity(unchecked) private var expectHeader = false
    /// The segment has a damage record (torn tail or corrupt data).
    private var tornRecorded = false
    /// A damage record covers the end of the segment (torn tail, or corrupt data not resumed).
    private var tailRecorded = false
    private var lastZstdHint = 0
    /// File offset of `input[0]`, and of the input the decoder had consumed after its last
    /// successful call (everything before it was decoded).
    private var inputOffset: Int64 = 0
    private var decodedOffset: Int64 = 0
    /// File offset of the zstd frame being decoded.
    private var frameOffset: Int64 = 0
    /// While skipping corrupt data: the index of its record in `report.tornTails`.
    private var skipping: Int?
    /// After resuming at a later zstd frame, until a line is returned: the record's index.
    @exclusivity(unchecked) private var openCorruption: Int?
    /// The first line after resuming may be the rest of a line cut by the damage.
    @exclusivity(unchecked) private var checkResumedLine = false
    /// Strict mode: corrupt data that was skipped, thrown before reading on.
    private var strictFailure: TornTail?
    private var fileSize: Int64 = 0
    private var fileConsumed: Int64 = 0

    private let dctx: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var inputFilled = 0
    @exclusivity(unchecked) private var inputPosition = 0
    @exclusivity(unchecked) private var output: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var lineStart = 0
    @exclusivity(unchecked) private var scanFrom = 0
    @exclusivity(unchecked) private var dataEnd = 0
    private let parser = TapeLineParser()
    static let zstdInputStep = 16 << 10

    /// Opens a tape. `paths` may list segment files (read in the given order), directories
    /// (their `.ndjson.zst`/`.ndjson` files in name order) and "-" for standard input.
    /// Throws `TapeError.fileNotFound` / `.noSegments` before reading anything.
    public init(paths: [String], options: TapeReaderOptions = TapeReaderOptions()) throws {
        self.options = options
        self.paths = try TapeReader.segmentFiles(for: paths)
        guard let context = ZSTD_createDCtx() else {
            throw TapeError.io(path: paths.first ?? "", operation: "ZSTD_createDCtx", errno: ENOMEM)
        }
        dctx = context
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        report.files = self.paths.map { $0 == "-" ? "<stdin>" : $0 }
    }

    public convenience init(path: String, options: TapeReaderOptions = TapeReaderOptions()) throws {
        try self.init(paths: [path], options: options)
    }

    deinit {
        closeFile()
        ZSTD_freeDCtx(dctx)
        input.deallocate()
        output.deallocate()
    }

    /// Expands directories to their segment files (sorted by name, which is time order) and
    /// checks that every named file exists.
    public static func segmentFiles(for paths: [String]) throws -> [String] {
        var result: [String] = []
        for path in paths {
            if path == "-" {
                result.append(path)
                continue
            }
            var info = stat()
            guard stat(path, &info) == 0 else { throw TapeError.fileNotFound(path: path) }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                guard let directory = opendir(path) else {
                    throw TapeError.io(path: path, operation: "opendir", errno: errno)
                }
                var names: [String] = []
                while let entry = readdir(directory) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                    }
                    if name.hasSuffix(TapeFormat.compressedExtension) || name.hasSuffix(TapeFormat.plainExtension) {
                        names.append(name)
                    }
                }
                closedir(directory)
                guard !names.isEmpty else { throw TapeError.noSegments(directory: path) }
                let base = path.hasSuffix("/") ? path : path + "/"
                result += names.sorted().map { base + $0 }
            } else {
                result.append(path)
            }
        }
        return result
    }

    // MARK: Records

    /// The next record, or nil at the end of the tape. Headers are validated (a wrong format
    /// version throws). Malformed lines are counted, reported in `report.issues` and
    /// skipped; in strict mode they throw `TapeError.malformedLine`.
    public func next() throws -> TapeRecord? {
        while let line = try nextLine() {
            if expectHeader {
                expectHeader = false
                let parsed: TapeHeader
                do {
                    parsed = try TapeHeader.parse(line: line, file: currentFile)
                } catch .notATape(_, let reason) where fileIndex > 0 {
                    // A later file that is no tape at all: the segments around it are still read.
                    try skipForeignSegment(reason: reason)
                    continue
                }
                if header == nil { header = parsed }
                report.headers += 1
                return .header(line: line)
            }
            guard let record = parser.parse(line) else {
                try malformed(parser.lastError)
                continue
            }
            switch record {
            case .frame: report.frames += 1
            case .event: report.events += 1
            case .footer: report.footers += 1
            case .header:
                // A header in the middle of a segment: only valid as the first line.
                try malformed("a header line that is not the first line of its segment")
                continue
            case .unknown: report.unknownKinds += 1
            }
            report.endedWithFooter = { if case .footer = record { return true } else { return false } }()
            return record
        }
        return nil
    }

    /// Calls `body` with every record in order (views valid during the call only).
    public func forEachRecord(_ body: (TapeRecord) throws -> Void) throws {
        while let record = try next() { try body(record) }
    }

    /// Calls `body` with every frame in order (views valid during the call only).
    public func forEachFrame(_ body: (TapeFrame) throws -> Void) throws {
        while let record = try next() {
            if case .frame(let frame) = record { try body(frame) }
        }
    }

    /// A segment after the first that is not a tape (binary, or text without a header): counted
    /// as a malformed line at its first line, reported, and skipped whole; strict mode throws
    /// `TapeError.foreignSegment`. (The first file is the tape's identity: not a tape there is an
    /// error, thrown by `next()`.)
    private func skipForeignSegment(reason: String) throws {
        report.malformedLines += 1
        let file = currentFile
        let line = max(currentLineNumber, 1)
        lineStart = 0
        dataEnd = 0
        scanFrom = 0
        expectHeader = false
        segmentEnded = true
        closeFile()
        if options.strict { throw TapeError.foreignSegment(file: file, reason: reason) }
        if report.issues.count < options.maxIssuesKept {
            report.issues.append(
                TapeIssue(file: file, line: line, reason: "not a PolyTape tape: \(reason); the segment was skipped"))
        }
    }

    private func malformed(_ reason: String) throws {
        report.malformedLines += 1
        if options.strict {
            throw TapeError.malformedLine(file: currentFile, line: currentLineNumber, reason: reason)
        }
        if report.issues.count < options.maxIssuesKept {
            report.issues.append(TapeIssue(file: currentFile, line: currentLineNumber, reason: reason))
        }
    }

    // MARK: Lines

    /// The next non-empty line of the tape without its newline, or nil at the end.
    /// Crosses segment boundaries; torn tails are recorded in `report.tornTails`.
    public func nextLine() throws -> UnsafeRawBufferPointer? {
        while true {
            if fd < 0 {
                guard try openNextFile() else { return nil }
                continue
            }
            let base = UnsafeRawPointer(output.baseAddress!)
            if scanFrom < dataEnd, let hit = memchr(base + scanFrom, 0x0A, dataEnd - scanFrom) {
                let newline = base.distance(to: UnsafeRawPointer(hit))
                var end = newline
                if end > lineStart, output[end - 1] == 0x0D { end -= 1 }
                let start = lineStart
                lineStart = newline + 1
                scanFrom = lineStart
                if checkResumedLine {
                    // The first line of the frame where reading resumed: unless it is a whole JSON
                    // object, it is the rest of a line cut by the damage, dropped with it.
                    checkResumedLine = false
                    let line = UnsafeRawBufferPointer(start: base + start, count: end - start)
                    if end == start || output[start] != 0x7B || !JSONBytes.isSingleValue(line),
                        let index = openCorruption
                    {
                        report.tornTails[index].droppedLineBytes += newline + 1 - start
                        continue
                    }
                }
                currentLineNumber += 1
                if end == start { continue }
                openCorruption = nil
                report.lines += 1
                currentLine = UnsafeRawBufferPointer(start: base + start, count: end - start)
                return currentLine
            }
            scanFrom = dataEnd
            if segmentEnded {
                try finishFile()
                if options.strict, tailRecorded, let torn = report.tornTails.last {
                    throw TapeError.tornTail(torn)
                }
                continue
            }
            try makeRoom()
            try fill()
        }
    }

    private func makeRoom() throws {
        if lineStart > 0 {
            let partial = dataEnd - lineStart
            if partial > 0 {
                memmove(output.baseAddress!, output.baseAddress! + lineStart, partial)
            }
            dataEnd = partial
            scanFrom = partial
            lineStart = 0
        }
        if dataEnd == output.count {
            guard output.count < options.maxLineBytes else {
                throw TapeError.lineTooLong(file: currentFile, line: currentLineNumber + 1, limit: options.maxLineBytes)
            }
            let bigger = UnsafeMutableRawBufferPointer.allocate(
                byteCount: min(output.count * 2, options.maxLineBytes), alignment: 64)
            bigger.copyMemory(from: UnsafeRawBufferPointer(rebasing: output[0..<dataEnd]))
            output.deallocate()
            output = bigger
        }
    }

    /// Adds decoded bytes after `dataEnd`, or marks the segment ended.
    private func fill() throws {
        if !isZstd {
            let count = try readSome(into: output.baseAddress! + dataEnd, count: output.count - dataEnd)
            if count == 0 {
                segmentEnded = true
            } else {
                dataEnd += count
                report.decompressedBytes += Int64(count)
            }
            return
        }
        while true {
            if options.strict, let failure = strictFailure {
                strictFailure = nil
                throw TapeError.tornTail(failure)
            }
            if inputPosition == inputFilled || (skipping != nil && !resumeInBuffer()) {
                // Refill; while skipping, the last bytes searched (at most 3) are kept in front so
                // that a frame magic across two reads is still found.
                let keep = inputFilled - inputPosition
                if keep > 0 { memmove(input.baseAddress!, input.baseAddress! + inputPosition, keep) }
                inputOffset += Int64(inputPosition)
                inputPosition = 0
                inputFilled = keep
                let count = try readSome(into: input.baseAddress! + keep, count: input.count - keep)
                inputFilled += count
                if count == 0 {
                    segmentEnded = true
                    if let index = skipping {
                        endSkip(index, resumedAt: nil, endOffset: inputOffset + Int64(inputFilled))
                    } else if lastZstdHint != 0 {
                        recordTorn(reason: "truncated zstd frame (the file ends inside a compressed block)")
                    }
                    return
                }
                continue
            }
            // At most 16 KiB of input a call: when libzstd meets damaged data it returns an error
            // without reporting what that same call had already decoded, so a smaller step loses
            // at most the blocks of one step before the damage instead of a whole 1 MiB read.
            if lastZstdHint == 0 { frameOffset = inputOffset + Int64(inputPosition) }
            let step = min(inputFilled, inputPosition + TapeReader.zstdInputStep)
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress!, size: step, pos: inputPosition)
            var outBuffer = ZSTD_outBuffer(dst: output.baseAddress!, size: output.count, pos: dataEnd)
            let result = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer)
            if ZSTD_isError(result) != 0 {
                // libzstd leaves the positions as they were before the failing call.
                let code = ZSTD_getErrorCode(result)
                let inHeader =
                    code == ZSTD_error_prefix_unknown || code == ZSTD_error_frameParameter_unsupported
                    || code == ZSTD_error_frameParameter_windowTooLarge
                try startSkip(
                    reason: "corrupt zstd data (\(String(cString: ZSTD_getErrorName(result))))",
                    inFrameHeader: inHeader && decodedOffset == frameOffset)
                continue
            }
            inputPosition = inBuffer.pos
            decodedOffset = inputOffset + Int64(inputPosition)
            let produced = outBuffer.pos - dataEnd
            dataEnd = outBuffer.pos
            report.decompressedBytes += Int64(produced)
            lastZstdHint = result
            if produced > 0 { return }
        }
    }

    /// The decoder refused the data: record where (the start of the zstd block whose lines are
    /// lost, for files; the input consumed so far, for standard input), drop the cut line, and
    /// skip ahead to the next zstd frame (see `resumeInBuffer`).
    private func startSkip(reason: String, inFrameHeader: Bool) throws {
        let cut = dataEnd - lineStart
        dataEnd = lineStart
        scanFrom = lineStart
        if let index = openCorruption {
            // Nothing was read since the last resume: the same damaged stretch goes on.
            report.tornTails[index].droppedLineBytes += cut
            report.tornTails[index].resumedAt = nil
            skipping = index
        } else {
            var location = decodedOffset
            if !inFrameHeader, fd > 0,
                let boundary = ZstdStructure.lastBoundary(
                    fd: fd, fileSize: fileSize, from: frameOffset, atOrBefore: location)
            {
                location = boundary
            }
            report.tornTails.append(
                TornTail(
                    file: currentFile, lastGoodLine: currentLineNumber, droppedLineBytes: cut,
                    droppedCompressedBytes: 0, reason: reason, corrupt: true, offset: location))
            skipping = report.tornTails.count - 1
        }
        tornRecorded = true
        openCorruption = nil
        checkResumedLine = false
        // Search from the byte after where the failing call started: a frame magic there is the
        // damaged frame's own.
        if inputPosition < inputFilled { inputPosition += 1 }
    }

    /// While skipping corrupt data: looks for the next zstd frame magic in the unread input and
    /// resumes there (true), or consumes all but the last 3 bytes (false). A segment that lost
    /// its first line to the damage is not resumed: without its header the rest is unusable.
    private func resumeInBuffer() -> Bool {
        let magic = TapeFormat.zstdMagic
        if currentLineNumber > 0 {
            var index = inputPosition
            while index + 4 <= inputFilled {
                if input[index] == magic[0], input[index + 1] == magic[1], input[index + 2] == magic[2],
                    input[index + 3] == magic[3]
                {
                    inputPosition = index
                    endSkip(skipping!, resumedAt: inputOffset + Int64(index), endOffset: 0)
                    return true
                }
                index += 1
            }
        }
        inputPosition = max(inputPosition, inputFilled - 3)
        return false
    }

    /// Ends a skip: at the frame found (`resumedAt`) or at the end of the file (`endOffset`).
    private func endSkip(_ index: Int, resumedAt: Int64?, endOffset: Int64) {
        skipping = nil
        var record = report.tornTails[index]
        let end = resumedAt ?? endOffset
        record.droppedCompressedBytes = Int(max(0, end - (record.offset ?? end)))
        record.resumedAt = resumedAt
        report.tornTails[index] = record
        if resumedAt != nil {
            ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
            decodedOffset = end
            frameOffset = end
            lastZstdHint = 1
            openCorruption = index
            checkResumedLine = true
            strictFailure = record
        } else {
            tailRecorded = true
        }
    }

    private func readSome(into pointer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        while true {
            let got = read(fd, pointer, count)
            if got >= 0 {
                fileConsumed += Int64(got)
                report.compressedBytes += Int64(got)
                return got
            }
            if errno == EINTR { continue }
            throw TapeError.io(path: currentFile, operation: "read", errno: errno)
        }
    }

    private func recordTorn(reason: String) {
        guard !tailRecorded else { return }
        tornRecorded = true
        tailRecorded = true
        // The decoder outputs every complete block, so what is lost is everything after the
        // last complete zstd block. Walk the block headers to find it (files only; for stdin
        // the count of unread bytes is all that is known).
        var dropped = Int64(inputFilled - inputPosition)
        if fd > 0, let end = ZstdStructure.completeBlocksEnd(fd: fd, fileSize: fileSize, from: frameOffset) {
            dropped = fileSize - end
        }
        report.tornTails.append(
            TornTail(
                file: currentFile, lastGoodLine: currentLineNumber, droppedLineBytes: 0,
                droppedCompressedBytes: Int(dropped), reason: reason))
    }

    private func openNextFile() throws -> Bool {
        fileIndex += 1
        guard fileIndex < paths.count else { return false }
        let path = paths[fileIndex]
        currentFile = path == "-" ? "<stdin>" : path
        currentLineNumber = 0
        lineStart = 0
        scanFrom = 0
        dataEnd = 0
        inputFilled = 0
        inputPosition = 0
        lastZstdHint = 0
        fileConsumed = 0
        fileSize = 0
        inputOffset = 0
        decodedOffset = 0
        frameOffset = 0
        skipping = nil
        openCorruption = nil
        checkResumedLine = false
        strictFailure = nil
        tornRecorded = false
        tailRecorded = false
        segmentEnded = false
        expectHeader = true
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
        if path == "-" {
            fd = 0
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                if code == ENOENT { throw TapeError.fileNotFound(path: path) }
                throw TapeError.io(path: path, operation: "open", errno: code)
            }
            var info = stat()
            if fstat(fd, &info) == 0 { fileSize = Int64(info.st_size) }
        }
        // Sniff the first bytes: zstd magic or plain text.
        var sniffed = 0
        while sniffed < 4 {
            let count = try readSome(into: input.baseAddress! + sniffed, count: input.count - sniffed)
            if count == 0 { break }
            sniffed += count
        }
        if sniffed == 0 {
            if paths.count == 1 {
                closeFile()
                throw TapeError.empty(file: currentFile)
            }
            report.tornTails.append(
                TornTail(
                    file: currentFile, lastGoodLine: 0, droppedLineBytes: 0, droppedCompressedBytes: 0,
                    reason: "empty file"))
            tornRecorded = true
            tailRecorded = true
            segmentEnded = true
            expectHeader = false
            return true
        }
        isZstd = sniffed >= 4 && Array(UnsafeRawBufferPointer(rebasing: input[0..<4])) == TapeFormat.zstdMagic
        if isZstd {
            inputFilled = sniffed
            inputPosition = 0
        } else {
            if sniffed > output.count { try makeRoom() }
            output.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<sniffed]))
            dataEnd = sniffed
            report.decompressedBytes += Int64(sniffed)
        }
        return true
    }

    /// End of a segment: a partial last line is a torn tail.
    private func finishFile() throws {
        let partial = dataEnd - lineStart
        let headerStart = Array(#"{"kind":"header""#.utf8)
        let startsLikeHeader =
            partial >= headerStart.count
            && headerStart.indices.allSatisfy { output[lineStart + $0] == headerStart[$0] }
        if partial > 0, expectHeader, currentLineNumber == 0, paths.count > 1, !tornRecorded, !startsLikeHeader {
            // One of several files, without one complete line, that does not start like a header (a
            // cut header is a torn tail): no tape at all, as one whose first line is no header.
            do {
                _ = try TapeHeader.parse(
                    line: UnsafeRawBufferPointer(rebasing: output[lineStart..<dataEnd]), file: currentFile)
            } catch .notATape(_, let reason) {
                if fileIndex == 0 {
                    closeFile()
                    throw TapeError.notATape(file: currentFile, reason: reason)
                }
                try skipForeignSegment(reason: reason)
                return
            } catch {}
        }
        if expectHeader, currentLineNumber == 0, paths.count == 1 {
            if tornRecorded, let damage = report.tornTails.last, damage.corrupt {
                // Corrupt compressed data before the first line: not a cut header, and nothing to read.
                closeFile()
                throw TapeError.corruptBeforeHeader(damage)
            }
            // The only file ends before its first line does: a header cut short (its start is
            // there, or compressed data was truncated) is a damaged tape, not a foreign file.
            if startsLikeHeader || (tailRecorded && partial == 0) {
                closeFile()
                throw TapeError.headerCut(file: currentFile, bytes: fileConsumed)
            }
        }
        if partial > 0, expectHeader, currentLineNumber == 0, paths.count == 1 {
            // Not one complete line in the only file: whatever it is, it is not a tape.
            closeFile()
            throw TapeError.notATape(
                file: currentFile, reason: "it holds no complete line (\(partial) bytes without a newline)")
        }
        if partial == 0, report.lines == 0, !tornRecorded, paths.count == 1 {
            // Only blank lines: no header. (Damaged compressed data is a torn tail instead.)
            closeFile()
            throw TapeError.notATape(file: currentFile, reason: "it holds only blank lines")
        }
        if partial > 0 {
            if tailRecorded, var last = report.tornTails.popLast() {
                last.droppedLineBytes = partial
                report.tornTails.append(last)
            } else {
                report.tornTails.append(
                    TornTail(
                        file: currentFile, lastGoodLine: currentLineNumber, droppedLineBytes: partial,
                        droppedCompressedBytes: 0, reason: "incomplete last line (no newline)"))
            }
            tornRecorded = true
            tailRecorded = true
        }
        lineStart = 0
        dataEnd = 0
        scanFrom = 0
        closeFile()
    }

    private func closeFile() {
        if fd > 0 { close(fd) }
        fd = -1
    }

    /// Throws the first torn tail in strict mode; call after reading to the end.
    public func checkStrict() throws {
        if options.strict, let torn = report.tornTails.first { throw TapeError.tornTail(torn) }
    }
}

/// Reads the block structure of zstd frames (RFC 8878 §3.1) without decoding, to find
/// where the last complete block of a truncated file ends, and where a damaged block starts.
enum ZstdStructure {
    /// The end of the last complete block (or frame header, or checksum) of the frames from
    /// `from` on.
    static func completeBlocksEnd(fd: Int32, fileSize: Int64, from start: Int64 = 0) -> Int64? {
        var lastComplete = start
        walk(fd: fd, fileSize: fileSize, from: start) { boundary in
            lastComplete = boundary
            return true
        }
        return lastComplete
    }

    /// The last block boundary (first block, block end, checksum end) at or before `limit`,
    /// walking the frames from `from`; at least the end of the first frame's header when that
    /// header is intact (the decoder fails in a block, not in a header it could read); nil when
    /// `from` is past `limit`.
    static func lastBoundary(fd: Int32, fileSize: Int64, from start: Int64, atOrBefore limit: Int64) -> Int64? {
        guard start <= limit else { return nil }
        var last = start
        var first = true
        walk(fd: fd, fileSize: fileSize, from: start) { boundary in
            guard boundary <= limit || first else { return false }
            first = false
            last = boundary
            return true
        }
        return last
    }

    /// Calls `body` with every complete boundary in order until it returns false or the
    /// structure ends (end of file, a part cut short, or bytes that are not a frame).
    private static func walk(fd: Int32, fileSize: Int64, from start: Int64, _ body: (Int64) -> Bool) {
        var offset = start
        var header = [UInt8](repeating: 0, count: 18)
        func readAt(_ position: Int64, _ count: Int) -> Int {
            header.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(position)) }
        }
        while offset + 4 <= fileSize {
            let got = readAt(offset, min(18, Int(fileSize - offset)))
            // A reserved descriptor bit set: not a frame header (damaged).
            guard got >= 5, Array(header[0..<4]) == TapeFormat.zstdMagic, header[4] & 0x08 == 0 else { return }
            let descriptor = header[4]
            let singleSegment = descriptor & 0x20 != 0
            let dictionaryIDSize = [0, 1, 2, 4][Int(descriptor & 3)]
            let contentSizeSize = [singleSegment ? 1 : 0, 2, 4, 8][Int(descriptor >> 6)]
            let headerSize = 5 + (singleSegment ? 0 : 1) + dictionaryIDSize + contentSizeSize
            let hasChecksum = descriptor & 0x04 != 0
            // A frame header cut short is not complete either (else the drop count goes negative).
            guard offset + Int64(headerSize) <= fileSize else { return }
            offset += Int64(headerSize)
            guard body(offset) else { return }
            while true {
                guard offset + 3 <= fileSize, readAt(offset, 3) == 3 else { return }
                let raw = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16
                let isLast = raw & 1 != 0
                let type = (raw >> 1) & 3
                let size = Int64(raw >> 3)
                let contentSize: Int64 = type == 1 ? 1 : size
                guard offset + 3 + contentSize <= fileSize else { return }
                offset += 3 + contentSize
                guard body(offset) else { return }
                if isLast { break }
            }
            if hasChecksum {
                guard offset + 4 <= fileSize else { return }
                offset += 4
                guard body(offset) else { return }
            }
        }
    }
}
