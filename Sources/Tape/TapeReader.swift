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
    /// Every torn tail, one per damaged segment.
    public var tornTails: [TornTail] = []
    /// Bytes read from the files and bytes of NDJSON they decoded to.
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
    private var tornRecorded = false
    private var lastZstdHint = 0
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
                let parsed = try TapeHeader.parse(line: line, file: currentFile)
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
                currentLineNumber += 1
                if end == start { continue }
                report.lines += 1
                currentLine = UnsafeRawBufferPointer(start: base + start, count: end - start)
                return currentLine
            }
            scanFrom = dataEnd
            if segmentEnded {
                try finishFile()
                if options.strict, tornRecorded, let torn = report.tornTails.last {
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
            if inputPosition == inputFilled {
                let count = try readSome(into: input.baseAddress!, count: input.count)
                inputPosition = 0
                inputFilled = count
                if count == 0 {
                    segmentEnded = true
                    if lastZstdHint != 0 {
                        recordTorn(reason: "truncated zstd frame (the file ends inside a compressed block)")
                    }
                    return
                }
            }
            // At most 16 KiB of input a call: when libzstd meets damaged data it returns an error
            // without reporting what that same call had already decoded, so a smaller step loses
            // at most the blocks of one step before the damage instead of a whole 1 MiB read.
            let step = min(inputFilled, inputPosition + TapeReader.zstdInputStep)
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress!, size: step, pos: inputPosition)
            var outBuffer = ZSTD_outBuffer(dst: output.baseAddress!, size: output.count, pos: dataEnd)
            let result = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer)
            inputPosition = inBuffer.pos
            let produced = outBuffer.pos - dataEnd
            dataEnd = outBuffer.pos
            report.decompressedBytes += Int64(produced)
            if ZSTD_isError(result) != 0 {
                let name = String(cString: ZSTD_getErrorName(result))
                segmentEnded = true
                recordTorn(reason: "corrupt zstd data (\(name))")
                return
            }
            lastZstdHint = result
            if produced > 0 { return }
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
        guard !tornRecorded else { return }
        tornRecorded = true
        // The decoder outputs every complete block, so what is lost is everything after the
        // last complete zstd block. Walk the block headers to find it (files only; for stdin
        // the count of unread bytes is all that is known).
        var dropped = Int64(inputFilled - inputPosition)
        if fd > 0, let end = ZstdStructure.completeBlocksEnd(fd: fd, fileSize: fileSize) {
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
        tornRecorded = false
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
        if expectHeader, currentLineNumber == 0, paths.count == 1 {
            // The only file ends before its first line does: a header cut short (its start is
            // there, or compressed data was torn) is a damaged tape, not a foreign file.
            let headerStart = Array(#"{"kind":"header""#.utf8)
            let startsLikeHeader =
                partial >= headerStart.count
                && headerStart.indices.allSatisfy { output[lineStart + $0] == headerStart[$0] }
            if startsLikeHeader || (tornRecorded && partial == 0) {
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
            if tornRecorded, var last = report.tornTails.popLast() {
                last.droppedLineBytes = partial
                report.tornTails.append(last)
            } else {
                report.tornTails.append(
                    TornTail(
                        file: currentFile, lastGoodLine: currentLineNumber, droppedLineBytes: partial,
                        droppedCompressedBytes: 0, reason: "incomplete last line (no newline)"))
            }
            tornRecorded = true
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
/// where the last complete block of a truncated file ends.
enum ZstdStructure {
    static func completeBlocksEnd(fd: Int32, fileSize: Int64) -> Int64? {
        var offset: Int64 = 0
        var lastComplete: Int64 = 0
        var header = [UInt8](repeating: 0, count: 18)
        func readAt(_ position: Int64, _ count: Int) -> Int {
            header.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(position)) }
        }
        while offset + 4 <= fileSize {
            let got = readAt(offset, min(18, Int(fileSize - offset)))
            guard got >= 5, Array(header[0..<4]) == TapeFormat.zstdMagic else { return lastComplete }
            let descriptor = header[4]
            let singleSegment = descriptor & 0x20 != 0
            let dictionaryIDSize = [0, 1, 2, 4][Int(descriptor & 3)]
            let contentSizeSize = [singleSegment ? 1 : 0, 2, 4, 8][Int(descriptor >> 6)]
            let headerSize = 5 + (singleSegment ? 0 : 1) + dictionaryIDSize + contentSizeSize
            let hasChecksum = descriptor & 0x04 != 0
            // A frame header cut short is not complete either (else the drop count goes negative).
            guard offset + Int64(headerSize) <= fileSize else { return lastComplete }
            offset += Int64(headerSize)
            lastComplete = offset
            while true {
                guard offset + 3 <= fileSize, readAt(offset, 3) == 3 else { return lastComplete }
                let raw = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16
                let isLast = raw & 1 != 0
                let type = (raw >> 1) & 3
                let size = Int64(raw >> 3)
                let contentSize: Int64 = type == 1 ? 1 : size
                guard offset + 3 + contentSize <= fileSize else { return lastComplete }
                offset += 3 + contentSize
                lastComplete = offset
                if isLast { break }
            }
            if hasChecksum {
                guard offset + 4 <= fileSize else { return lastComplete }
                offset += 4
                lastComplete = offset
            }
        }
        return lastComplete
    }
}
