// Streaming tape writer: NDJSON lines into a zstd stream, flushed on a caller-driven
// schedule (no timers, no threads), rotated by size or time, never appending to a file it
// did not create.
import CZstd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where and how a `TapeWriter` writes.
public struct TapeWriterOptions: Sendable {
    public enum Destination: Sendable, Equatable {
        /// Segments `<prefix>-<UTC time>-<seq>.ndjson.zst` in a folder (created if missing).
        /// Every writer start opens a new segment; an existing file is never appended to.
        case directory(String, prefix: String)
        /// One file. With `overwrite`, the tape is written to `.<name>.partial-<pid>` in the
        /// same folder (`TapeWriter.partialName`) and renamed over `path` on close (so a failed
        /// run never leaves half a tape: a writer released without a successful close removes
        /// the partial file, and so does `PartialTapeCleanup` on SIGINT/SIGTERM); without it an
        /// existing file is an error. No rotation.
        case file(String, overwrite: Bool)
    }

    public var destination: Destination
    /// zstd level (3 is zstd's default: ~275 MB/s here).
    public var compressionLevel: Int32 = 3
    /// Lines written are on disk at most this long after they were written, provided the
    /// owner calls `flushIfDue(nowMonoNs:)` at least that often when idle.
    public var flushIntervalNs: Int64 = 100_000_000
    /// Rotate when a segment's compressed size reaches this many bytes.
    public var maxSegmentBytes: Int64?
    /// Rotate when a segment has been open this long (monotonic clock).
    public var maxSegmentDurationNs: Int64?
    /// fsync(2) each segment when it is finished (rotation, close).
    public var syncOnFinish: Bool = true

    public init(destination: Destination) {
        self.destination = destination
    }
}

/// Counts of what a writer has written.
public struct TapeWriterStats: Sendable, Equatable {
    public var frames: Int64 = 0
    public var events: Int64 = 0
    /// NDJSON bytes given to the compressor and compressed bytes written to files.
    public var uncompressedBytes: Int64 = 0
    public var compressedBytes: Int64 = 0
    public var flushes: Int64 = 0
    public var segments: Int = 0
}

/// Writes a tape: a header, one line per frame or connection event, a footer on close.
///
/// Not thread-safe and timer-free by design: the owner (e.g. Capture's event loop) calls
/// `writeFrame`/`writeEvent` as frames arrive and `flushIfDue(nowMonoNs:)` from its loop;
/// writes also flush when due. After kill -9, everything up to the last flush is readable.
public final class TapeWriter {
    public let options: TapeWriterOptions
    /// The header template; `segment` is set per segment.
    public private(set) var header: TapeHeader
    /// Every segment file opened so far, in order (final names).
    public private(set) var segmentPaths: [String] = []
    public private(set) var stats = TapeWriterStats()

    private let cctx: OpaquePointer
    private var fd: Int32 = -1
    private var currentPath = ""
    private var partialPath: String?
    private var nextSequence = 1
    private var closed = false

    private let pending: UnsafeMutableRawBufferPointer
    private var pendingCount = 0
    private let compressed: UnsafeMutableRawBufferPointer
    private var line: [UInt8] = []

    private var segmentFrames: Int64 = 0
    private var segmentEvents: Int64 = 0
    private var segmentCompressedBytes: Int64 = 0
    private var segmentStartMonoNs: Int64 = 0
    private var firstRecvNs: Int64?
    private var lastRecvNs: Int64?
    private var unflushedSinceMonoNs: Int64?
    private var lastMonoNs: Int64 = 0
    /// Per-connection sequence numbers (connection ids are small integers).
    private var sequences: [UInt32: UInt64] = [:]

    /// Opens the first segment and writes (and flushes) its header.
    /// - Parameters:
    ///   - nowWallNs: wall clock for the first segment's name.
    ///   - nowMonoNs: monotonic clock, the reference for time rotation and flushing.
    public init(options: TapeWriterOptions, header: TapeHeader, nowWallNs: Int64, nowMonoNs: Int64) throws {
        self.options = options
        self.header = header
        guard let context = ZSTD_createCCtx() else {
            throw TapeError.compression(path: "", message: "ZSTD_createCCtx failed")
        }
        cctx = context
        pending = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 64)
        compressed = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_CStreamOutSize() * 2, alignment: 64)
        line.reserveCapacity(64 * 1024)
        if case .directory(let directory, let prefix) = options.destination {
            try Self.makeDirectory(directory)
            nextSequence = Self.highestSequence(in: directory, prefix: prefix) + 1
        }
        lastMonoNs = nowMonoNs
        try openSegment(nowWallNs: nowWallNs, nowMonoNs: nowMonoNs)
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        // Released without a successful close (a write failed, the input could not be read):
        // the half-written partial file goes too, so a failed run leaves nothing behind.
        if let partial = partialPath {
            PartialTapeCleanup.forget()
            unlink(partial)
        }
        ZSTD_freeCCtx(cctx)
        pending.deallocate()
        compressed.deallocate()
    }

    /// The segment being written.
    public var currentSegmentPath: String { currentPath }

    /// When the oldest unflushed line must be flushed (monotonic ns), or nil if all is flushed.
    /// An event loop can use it as its poll deadline.
    public var flushDeadlineMonoNs: Int64? {
        unflushedSinceMonoNs.map { $0 + options.flushIntervalNs }
    }

    // MARK: Writing

    /// Appends one received frame. The frame is embedded raw when it is a single valid JSON
    /// value on one line, as a JSON string otherwise, as base64 if it is not UTF-8.
    /// - Returns: the frame's per-connection sequence number (1-based).
    /// - Parameters:
    ///   - seq: an explicit sequence number (tools copying frames between tapes keep the
    ///     original); nil numbers frames 1, 2, 3... per connection.
    ///   - synthetic: marks a frame a tool generated rather than received.
    ///   - warmup: marks a frame that precedes a sliced window and only rebuilds book state.
    @discardableResult
    public func writeFrame(
        _ frame: UnsafeRawBufferPointer, recvWallNs: Int64, monoNs: Int64, conn: UInt32, seq: UInt64? = nil,
        synthetic: Bool = false, warmup: Bool = false
    ) throws -> UInt64 {
        guard !closed else { throw TapeError.closed }
        try rotateIfDue(nowWallNs: recvWallNs, nowMonoNs: monoNs)
        let sequence = seq ?? (sequences[conn] ?? 0) + 1
        sequences[conn] = sequence
        line.removeAll(keepingCapacity: true)
        Self.appendFrameLine(
            frame, recvWallNs: recvWallNs, monoNs: monoNs, conn: conn, seq: sequence, synthetic: synthetic,
            warmup: warmup, to: &line)
        line.append(0x0A)
        try appendLine(monoNs: monoNs)
        stats.frames += 1
        segmentFrames += 1
        if firstRecvNs == nil { firstRecvNs = recvWallNs }
        lastRecvNs = recvWallNs
        try flushIfDue(nowMonoNs: monoNs)
        return sequence
    }

    /// The tape line (without its line break) that `writeFrame` writes for these values: for
    /// tools that print a frame envelope they did not read from a tape (a cut frame).
    public static func frameLine(
        _ frame: UnsafeRawBufferPointer, recvWallNs: Int64, monoNs: Int64, conn: UInt32, seq: UInt64,
        synthetic: Bool = false, warmup: Bool = false
    ) -> [UInt8] {
        var line: [UInt8] = []
        appendFrameLine(
            frame, recvWallNs: recvWallNs, monoNs: monoNs, conn: conn, seq: seq, synthetic: synthetic, warmup: warmup,
            to: &line)
        return line
    }

    static func appendFrameLine(
        _ frame: UnsafeRawBufferPointer, recvWallNs: Int64, monoNs: Int64, conn: UInt32, seq: UInt64,
        synthetic: Bool, warmup: Bool, to line: inout [UInt8]
    ) {
        line.append(contentsOf: FrameLine.prefix)
        appendInt(to: &line, recvWallNs)
        line.append(contentsOf: FrameLine.mono)
        appendInt(to: &line, monoNs)
        line.append(contentsOf: FrameLine.conn)
        appendInt(to: &line, Int64(conn))
        line.append(contentsOf: FrameLine.seq)
        appendInt(to: &line, Int64(seq))
        if synthetic { line.append(contentsOf: FrameLine.synthetic) }
        if warmup { line.append(contentsOf: FrameLine.warmup) }
        switch Self.encoding(of: frame) {
        case .json:
            line.append(contentsOf: FrameLine.frameLength)
            appendInt(to: &line, Int64(frame.count))
            line.append(contentsOf: FrameLine.frame)
            line.append(contentsOf: frame)
        case .text:
            line.append(contentsOf: FrameLine.text)
            JSONBytes.appendEscaped(frame, to: &line)
        case .base64:
            line.append(contentsOf: FrameLine.base64)
            line.append(JSONBytes.quote)
            Base64.encode(frame, into: &line)
            line.append(JSONBytes.quote)
        }
        line.append(JSONBytes.closeBrace)
    }

    /// Convenience for byte arrays (tools, tests).
    @discardableResult
    public func writeFrame(
        _ frame: [UInt8], recvWallNs: Int64, monoNs: Int64, conn: UInt32, seq: UInt64? = nil, synthetic: Bool = false,
        warmup: Bool = false
    ) throws -> UInt64 {
        try frame.withUnsafeBytes {
            try writeFrame(
                $0, recvWallNs: recvWallNs, monoNs: monoNs, conn: conn, seq: seq, synthetic: synthetic, warmup: warmup)
        }
    }

    /// Appends a connection event line.
    public func writeEvent(
        _ kind: TapeEventKind, conn: UInt32, recvWallNs: Int64, monoNs: Int64,
        detail: TapeEventDetail = TapeEventDetail()
    ) throws {
        guard !closed else { throw TapeError.closed }
        try rotateIfDue(nowWallNs: recvWallNs, nowMonoNs: monoNs)
        if kind == .connected { sequences[conn] = 0 }
        line.removeAll(keepingCapacity: true)
        line.append(contentsOf: Array(#"{"kind":"event","event":"\#(kind.rawValue)","recv_ns":"#.utf8))
        appendInt(recvWallNs)
        line.append(contentsOf: FrameLine.mono)
        appendInt(monoNs)
        line.append(contentsOf: FrameLine.conn)
        appendInt(Int64(conn))
        line.append(contentsOf: Array(#","detail":"#.utf8))
        detail.render(into: &line)
        line.append(JSONBytes.closeBrace)
        line.append(0x0A)
        try appendLine(monoNs: monoNs)
        stats.events += 1
        segmentEvents += 1
        try flushIfDue(nowMonoNs: monoNs)
    }

    /// Appends `record` (one tape line, without its line break) verbatim: for tools that copy a
    /// line of a kind this version does not know (kept for forward compatibility). Counted as
    /// neither frame nor event.
    public func writeVerbatimLine(_ record: UnsafeRawBufferPointer, monoNs: Int64) throws {
        guard !closed else { throw TapeError.closed }
        line.removeAll(keepingCapacity: true)
        line.append(contentsOf: record)
        line.append(0x0A)
        try appendLine(monoNs: monoNs)
        try flushIfDue(nowMonoNs: monoNs)
    }

    /// Flushes if the oldest unflushed line is older than the flush interval. Call from
    /// the owner's loop when no frames arrive; returns true when it flushed.
    @discardableResult
    public func flushIfDue(nowMonoNs: Int64) throws -> Bool {
        guard let since = unflushedSinceMonoNs, nowMonoNs - since >= options.flushIntervalNs else { return false }
        try flush()
        return true
    }

    /// Compresses everything pending, ends the current zstd block (ZSTD_e_flush) and
    /// writes it out, so a reader (or a crash) sees every line written so far.
    public func flush() throws {
        guard !closed else { throw TapeError.closed }
        try compressPending(ZSTD_e_flush)
        unflushedSinceMonoNs = nil
        stats.flushes += 1
    }

    /// Writes the footer, ends the zstd frame, syncs and closes the segment. Idempotent.
    public func close() throws {
        guard !closed else { return }
        try finishSegment(reason: "close")
        closed = true
    }

    /// Ends the current segment (footer, end of zstd frame) and starts the next one.
    public func rotate(nowWallNs: Int64, nowMonoNs: Int64) throws {
        guard !closed else { throw TapeError.closed }
        try finishSegment(reason: "rotate")
        try openSegment(nowWallNs: nowWallNs, nowMonoNs: nowMonoNs)
    }

    // MARK: Internals

    private enum FrameLine {
        static let prefix = Array(#"{"kind":"frame","recv_ns":"#.utf8)
        static let mono = Array(#","mono_ns":"#.utf8)
        static let conn = Array(#","conn":"#.utf8)
        static let seq = Array(#","seq":"#.utf8)
        static let synthetic = Array(#","synthetic":true"#.utf8)
        static let warmup = Array(#","warmup":true"#.utf8)
        static let frameLength = Array(#","frame_len":"#.utf8)
        static let frame = Array(#","frame":"#.utf8)
        static let text = Array(#","text":"#.utf8)
        static let base64 = Array(#","base64":"#.utf8)
    }

    /// How a frame will be embedded: raw only when the bytes are exactly one JSON value with
    /// no surrounding whitespace and no line breaks, so the reader gets the same bytes back.
    static func encoding(of frame: UnsafeRawBufferPointer) -> TapeFrameEncoding {
        if frame.isEmpty { return .text }
        let hasLineBreak = frame.contains(where: { $0 == 0x0A || $0 == 0x0D })
        if !hasLineBreak, JSONBytes.skipValue(frame, 0) == frame.count, JSONBytes.isValidUTF8(frame) {
            return .json
        }
        return JSONBytes.isValidUTF8(frame) ? .text : .base64
    }

    private func appendInt(_ value: Int64) { Self.appendInt(to: &line, value) }

    private static func appendInt(to line: inout [UInt8], _ value: Int64) {
        if value == 0 {
            line.append(0x30)
            return
        }
        var magnitude = value.magnitude
        if value < 0 { line.append(0x2D) }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[count] = UInt8(magnitude % 10) + 0x30
                magnitude /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { line.append(buffer[index]) }
        }
    }

    private func appendLine(monoNs: Int64) throws {
        if unflushedSinceMonoNs == nil { unflushedSinceMonoNs = monoNs }
        lastMonoNs = monoNs
        stats.uncompressedBytes += Int64(line.count)
        if pendingCount + line.count > pending.count {
            try compressPending(ZSTD_e_continue)
        }
        if line.count > pending.count {
            try line.withUnsafeBytes { try compress($0, ZSTD_e_continue) }
            return
        }
        line.withUnsafeBytes { source in
            UnsafeMutableRawBufferPointer(rebasing: pending[pendingCount..<(pendingCount + source.count)])
                .copyMemory(from: source)
        }
        pendingCount += line.count
    }

    private func compressPending(_ directive: ZSTD_EndDirective) throws {
        let count = pendingCount
        pendingCount = 0
        try compress(UnsafeRawBufferPointer(rebasing: pending[0..<count]), directive)
    }

    private func compress(_ source: UnsafeRawBufferPointer, _ directive: ZSTD_EndDirective) throws {
        var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: compressed.baseAddress!, size: compressed.count, pos: 0)
            let remaining = ZSTD_compressStream2(cctx, &output, &input, directive)
            if ZSTD_isError(remaining) != 0 {
                throw TapeError.compression(path: currentPath, message: String(cString: ZSTD_getErrorName(remaining)))
            }
            if output.pos > 0 {
                try writeAll(UnsafeRawBufferPointer(rebasing: compressed[0..<output.pos]))
            }
            let done = directive == ZSTD_e_continue ? input.pos == input.size : remaining == 0
            if done { return }
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw TapeError.io(path: currentPath, operation: "write", errno: errno)
            }
            offset += written
        }
        stats.compressedBytes += Int64(bytes.count)
        segmentCompressedBytes += Int64(bytes.count)
    }

    private func rotateIfDue(nowWallNs: Int64, nowMonoNs: Int64) throws {
        guard case .directory = options.destination else { return }
        var due = false
        if let limit = options.maxSegmentBytes, segmentCompressedBytes >= limit, segmentFrames + segmentEvents > 0 {
            due = true
        }
        if let limit = options.maxSegmentDurationNs, nowMonoNs - segmentStartMonoNs >= limit,
            segmentFrames + segmentEvents > 0
        {
            due = true
        }
        if due { try rotate(nowWallNs: nowWallNs, nowMonoNs: nowMonoNs) }
    }

    private func openSegment(nowWallNs: Int64, nowMonoNs: Int64) throws {
        let path: String
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
        switch options.destination {
        case .file(let target, let overwrite):
            if overwrite {
                let partial = Self.partialName(for: target, pid: getpid())
                unlink(partial)
                partialPath = partial
                PartialTapeCleanup.remember(partial)
                path = partial
            } else {
                path = target
            }
            currentPath = target
            fd = open(path, flags, 0o644)
            guard fd >= 0 else {
                if partialPath != nil { PartialTapeCleanup.forget() }
                partialPath = nil
                throw TapeError.io(path: path, operation: "create", errno: errno)
            }
        case .directory(let directory, let prefix):
            while true {
                let name = TapeFormat.segmentName(prefix: prefix, wallNs: nowWallNs, sequence: nextSequence)
                nextSequence += 1
                let candidate = directory.hasSuffix("/") ? directory + name : directory + "/" + name
                fd = open(candidate, flags, 0o644)
                if fd >= 0 {
                    path = candidate
                    break
                }
                if errno != EEXIST { throw TapeError.io(path: candidate, operation: "create", errno: errno) }
            }
            currentPath = path
        }
        ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, options.compressionLevel)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        segmentPaths.append(currentPath)
        stats.segments += 1
        segmentFrames = 0
        segmentEvents = 0
        segmentCompressedBytes = 0
        segmentStartMonoNs = nowMonoNs
        firstRecvNs = nil
        lastRecvNs = nil
        header.segment = stats.segments
        line = header.renderLine()
        line.append(0x0A)
        try appendLine(monoNs: nowMonoNs)
        try flush()
    }

    private func finishSegment(reason: String) throws {
        let footer = TapeFooter(
            frames: segmentFrames, events: segmentEvents, sessionFrames: stats.frames, firstRecvNs: firstRecvNs,
            lastRecvNs: lastRecvNs, reason: reason)
        line = footer.renderLine()
        line.append(0x0A)
        try appendLine(monoNs: lastMonoNs)
        try compressPending(ZSTD_e_end)
        unflushedSinceMonoNs = nil
        if options.syncOnFinish { fsync(fd) }
        Glibc.close(fd)
        fd = -1
        if let partial = partialPath {
            guard rename(partial, currentPath) == 0 else {
                let code = errno
                PartialTapeCleanup.forget()
                unlink(partial)
                partialPath = nil
                throw TapeError.io(path: currentPath, operation: "rename", errno: code)
            }
            PartialTapeCleanup.forget()
            partialPath = nil
        }
    }

    /// The name a `.file(target, overwrite: true)` tape is written under until it is complete:
    /// `.<name>.partial-<pid>` beside `target`, unique per process (two writers of one target do
    /// not share it) and hidden; `.tape.partial-<pid>` when the long form would exceed NAME_MAX.
    public static func partialName(for target: String, pid: Int32) -> String {
        var trimmed = Substring(target)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        let folder: Substring
        let name: Substring
        if let slash = trimmed.lastIndex(of: "/") {
            folder = trimmed[...slash]
            name = trimmed[trimmed.index(after: slash)...]
        } else {
            folder = ""
            name = trimmed
        }
        let long = ".\(name).partial-\(pid)"
        return String(folder) + (long.utf8.count <= Int(NAME_MAX) ? long : ".tape.partial-\(pid)")
    }

    private static func makeDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 { return }
        var built = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o755) != 0, errno != EEXIST {
                throw TapeError.io(path: built, operation: "mkdir", errno: errno)
            }
        }
    }

    /// The highest `-<seq>.ndjson.zst` among the folder's segments with this prefix.
    private static func highestSequence(in directory: String, prefix: String) -> Int {
        guard let handle = opendir(directory) else { return 0 }
        defer { closedir(handle) }
        var highest = 0
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix + "-"), name.hasSuffix(TapeFormat.compressedExtension) else { continue }
            let stem = name.dropLast(TapeFormat.compressedExtension.count)
            if let dash = stem.lastIndex(of: "-"), let value = Int(stem[stem.index(after: dash)...]) {
                highest = max(highest, value)
            }
        }
        return highest
    }
}
