// Reading a tape on its own thread: decompression, line splitting, envelope parsing and the
// content digest run beside the router thread, which only parses frames and routes them.
import CShim
import Foundation
import Synchronization
import Tape

/// A `TapeReader` on a background thread, handing records over in batches. `next()` has the
/// reader's contract: the views in a returned record are valid until the next call.
///
/// `@unchecked Sendable`: the reader thread and the consumer share only `shared` (always under
/// `condition`) and batches, each of which belongs to exactly one side at a time (handed over
/// under `condition`); `reader` and `digestText` are read by the consumer only after the reader
/// thread has finished, which `finish` publishes under `condition`.
final class ReadAheadTape: @unchecked Sendable {
    /// One record's metadata; its bytes live in the batch buffer.
    struct Entry {
        enum Kind: UInt8 { case header, frame, event, footer, unknown }
        var kind: Kind
        var file: Int
        var line: Int
        var recvWallNs: Int64 = 0
        var monoNs: Int64 = 0
        var conn: UInt32 = 0
        var seq: UInt64 = 0
        var encoding: TapeFrameEncoding = .json
        var synthetic = false
        var warmup = false
        var eventKind: TapeEventKind?
        /// Frame bytes, event name, or the whole line (header, footer, unknown).
        var start = 0
        var count = 0
        /// Event detail; the kind of an unknown record.
        var start2 = 0
        var count2 = 0
    }

    /// Records and their bytes; owned by one thread at a time (handed over under `lock`).
    /// Entries live in a fixed raw array so that neither side pays for array bookkeeping
    /// (uniqueness checks, exclusivity checks, reference counting) per record.
    final class Batch {
        static let maxEntries = 8192
        var buffer: UnsafeMutableRawPointer
        var capacity: Int
        var used = 0
        let entries: UnsafeMutablePointer<Entry>
        var entryCount = 0
        /// The segment files known when the batch was handed over (entries index into it).
        var files: [String] = []

        init(capacity: Int) {
            self.capacity = capacity
            buffer = .allocate(byteCount: capacity, alignment: 16)
            entries = .allocate(capacity: Self.maxEntries)
        }

        deinit {
            buffer.deallocate()
            entries.deallocate()
        }

        /// Makes room for `minimum` bytes in all, keeping the first `used`.
        func grow(minimum: Int) {
            guard minimum > capacity else { return }
            let grown = max(capacity * 2, minimum)
            let next = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
            next.copyMemory(from: buffer, byteCount: used)
            buffer.deallocate()
            buffer = next
            capacity = grown
        }

        func reset() {
            used = 0
            entries.deinitialize(count: entryCount)
            entryCount = 0
        }
    }

    /// Fills one batch through local copies of its pointers and counts (written back by
    /// `close`), so the per-record work touches no class instance: no reference counting and
    /// no exclusivity checks per record. The batch keeps owning its memory.
    struct Filler {
        let batch: Batch
        private var buffer: UnsafeMutableRawPointer
        private var capacity: Int
        private(set) var used = 0
        private let entries: UnsafeMutablePointer<Entry>
        private(set) var entryCount = 0

        /// `batch` must be empty (just reset).
        init(_ batch: Batch) {
            self.batch = batch
            buffer = batch.buffer
            capacity = batch.capacity
            entries = batch.entries
        }

        var isFull: Bool { entryCount == Batch.maxEntries }

        @inline(__always)
        mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
            if used + bytes.count > capacity {
                batch.used = used
                batch.grow(minimum: used + bytes.count)
                buffer = batch.buffer
                capacity = batch.capacity
            }
            let start = used
            if let base = bytes.baseAddress, bytes.count > 0 {
                (buffer + used).copyMemory(from: base, byteCount: bytes.count)
            }
            used += bytes.count
            return start
        }

        @inline(__always)
        mutating func add(_ entry: Entry) {
            (entries + entryCount).initialize(to: entry)
            entryCount += 1
        }

        /// Writes the counts back; the batch is then ready to hand over.
        func close() {
            batch.used = used
            batch.entryCount = entryCount
        }
    }

    private struct Shared {
        var full: [Batch] = []
        var free: [Batch] = []
        var finished = false
        var failure: (any Error)?
        var cancelled = false
    }

    private let condition = NSCondition()
    // Guarded by `condition`; the reader thread and the consumer never touch a batch at once.
    private var shared = Shared()
    private let reader: TapeReader
    private let compressedRead = Atomic<Int64>(0)
    /// Set when the consumer stops early but still needs the whole tape's digest: the reader
    /// thread reads on without handing records over.
    private let discarding = Atomic<Bool>(false)
    private let cancelledFlag = Atomic<Bool>(false)
    private let batchBytes = 1 << 20
    private var current: Batch?
    /// The current batch's entries and bytes, cached so that `next()` touches no other class
    /// property per record. Consumer-thread state only, read and written by `next()` alone
    /// (no overlapping access), hence `@exclusivity(unchecked)`.
    @exclusivity(unchecked) private var entryCursor: UnsafeMutablePointer<Entry>?
    @exclusivity(unchecked) private var entryEnd: UnsafeMutablePointer<Entry>?
    @exclusivity(unchecked) private var bytesBase: UnsafeMutableRawPointer?
    @exclusivity(unchecked) private var fileNumber = -1
    /// Time the consumer spent waiting for the reader thread (ns).
    private(set) var waitNanos: UInt64 = 0
    private var thread: Thread?
    /// Filled by the reader thread; read by the consumer only after `next()` returned nil.
    private var digestText = ""

    private(set) var header: TapeHeader?
    private(set) var currentFile = ""
    @exclusivity(unchecked) private(set) var currentLineNumber = 0
    private var files: [String] = []

    /// False: records come straight from the reader on the caller's thread (no extra thread
    /// competing with the workers for the cores).
    let threaded: Bool
    private var inlineDigest = ContentDigest()

    init(reader: TapeReader, threaded: Bool) {
        self.reader = reader
        self.threaded = threaded
        if threaded {
            for _ in 0..<4 { shared.free.append(Batch(capacity: batchBytes)) }
        }
    }

    deinit {
        if thread != nil { cancel() }
    }

    /// Compressed bytes read so far (for progress; updated per batch).
    var compressedBytes: Int64 { threaded ? compressedRead.load(ordering: .relaxed) : reader.report.compressedBytes }

    /// The reader's final report; valid after `next()` returned nil or threw.
    var report: TapeReadReport { reader.report }

    /// The content digest (XXH64 of every line with its newline); valid after the end.
    var digest: String { digestText }

    func start() {
        guard threaded else { return }
        let thread = Thread { [self] in produce() }
        thread.name = "polytape-reader"
        self.thread = thread
        thread.start()
    }

    /// Stops the reader thread early (an aborted run) and waits for it; the digest is then empty
    /// whether or not the thread had already read to the end (so that an interrupted run's
    /// report does not depend on `--read-ahead`).
    func cancel() {
        cancelledFlag.store(true, ordering: .relaxed)
        condition.lock()
        shared.cancelled = true
        condition.broadcast()
        condition.unlock()
        waitUntilFinished()
        digestText = ""
    }

    /// The consumer needs no more records (the run ended at `--to`), but the digest covers the
    /// whole tape, so that it names the same tape whatever the window: reads on and waits.
    func finishDigestOnly() {
        guard threaded else {
            while let line = try? reader.nextLine() { inlineDigest.update(line: line) }
            digestText = inlineDigest.finish()
            return
        }
        discarding.store(true, ordering: .relaxed)
        condition.lock()
        shared.cancelled = true
        condition.broadcast()
        condition.unlock()
        waitUntilFinished()
    }

    private func waitUntilFinished() {
        guard thread != nil else { return }
        condition.lock()
        while !shared.finished { condition.wait() }
        condition.unlock()
    }

    private func produce() {
        var digest = ContentDigest()
        var lastReaderFile = -1
        var fileNumber = -1
        var filler = takeFree().map(Filler.init)
        do {
            while let record = try reader.next() {
                digest.update(line: reader.currentLine)
                guard filler != nil else {
                    if discarding.load(ordering: .relaxed) { continue }
                    finish(nil)
                    return
                }
                if reader.currentFileIndex != lastReaderFile {
                    lastReaderFile = reader.currentFileIndex
                    fileNumber = files.count
                    files.append(reader.currentFile)
                }
                var entry = Entry(kind: .frame, file: fileNumber, line: reader.currentLineNumber)
                switch record {
                case .header(let line):
                    entry.kind = .header
                    entry.start = filler!.append(line)
                    entry.count = line.count
                case .frame(let frame):
                    entry.recvWallNs = frame.recvWallNs
                    entry.monoNs = frame.monoNs
                    entry.conn = frame.conn
                    entry.seq = frame.seq
                    entry.encoding = frame.encoding
                    entry.synthetic = frame.synthetic
                    entry.warmup = frame.warmup
                    entry.start = filler!.append(frame.bytes)
                    entry.count = frame.bytes.count
                case .event(let event):
                    entry.kind = .event
                    entry.eventKind = event.kind
                    entry.recvWallNs = event.recvWallNs
                    entry.monoNs = event.monoNs
                    entry.conn = event.conn
                    entry.start = filler!.append(event.name)
                    entry.count = event.name.count
                    entry.start2 = filler!.append(event.detail)
                    entry.count2 = event.detail.count
                case .footer(let line):
                    entry.kind = .footer
                    entry.start = filler!.append(line)
                    entry.count = line.count
                case .unknown(let kind, let line):
                    entry.kind = .unknown
                    entry.start = filler!.append(line)
                    entry.count = line.count
                    entry.start2 = filler!.append(kind)
                    entry.count2 = kind.count
                }
                filler!.add(entry)
                if filler!.used >= batchBytes || filler!.isFull {
                    compressedRead.store(reader.report.compressedBytes, ordering: .relaxed)
                    filler!.close()
                    publish(filler!.batch)
                    filler = takeFree().map(Filler.init)
                    if cancelledFlag.load(ordering: .relaxed) && !discarding.load(ordering: .relaxed) {
                        finish(nil)
                        return
                    }
                }
            }
            digestText = digest.finish()
            if let last = filler, last.entryCount > 0 {
                last.close()
                publish(last.batch)
            }
            finish(nil)
        } catch {
            // The records read before the error are delivered (and counted) before it is raised,
            // as when reading on the consumer's thread.
            if let last = filler, last.entryCount > 0 {
                last.close()
                publish(last.batch)
            }
            finish(error)
        }
    }

    /// Switches `currentFile` to the batch's file `number` (only when the file changes).
    private func useFile(_ number: Int) {
        fileNumber = number
        if let files = current?.files, files.indices.contains(number) { currentFile = files[number] }
    }

    private func takeFree() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while shared.free.isEmpty && !shared.cancelled { condition.wait() }
        if shared.cancelled { return nil }
        let batch = shared.free.removeLast()
        batch.reset()
        return batch
    }

    private func publish(_ batch: Batch) {
        batch.files = files
        condition.lock()
        shared.full.append(batch)
        condition.broadcast()
        condition.unlock()
    }

    private func finish(_ error: (any Error)?) {
        condition.lock()
        shared.finished = true
        shared.failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next record, or nil at the end of the tape; rethrows the reader's error.
    func next() throws -> TapeRecord? {
        guard threaded else {
            guard let record = try reader.next() else {
                digestText = inlineDigest.finish()
                return nil
            }
            inlineDigest.update(line: reader.currentLine)
            currentFile = reader.currentFile
            currentLineNumber = reader.currentLineNumber
            if header == nil { header = reader.header }
            return record
        }
        while true {
            if let cursor = entryCursor, cursor != entryEnd, let base = bytesBase {
                entryCursor = cursor + 1
                let entry = cursor.pointee
                if entry.file != fileNumber { useFile(entry.file) }
                currentLineNumber = entry.line
                let bytes = UnsafeRawBufferPointer(start: base + entry.start, count: entry.count)
                switch entry.kind {
                case .frame:
                    return .frame(
                        TapeFrame(
                            recvWallNs: entry.recvWallNs, monoNs: entry.monoNs, conn: entry.conn, seq: entry.seq,
                            encoding: entry.encoding, bytes: bytes, synthetic: entry.synthetic, warmup: entry.warmup))
                case .header:
                    if header == nil { header = try TapeHeader.parse(line: bytes, file: currentFile) }
                    return .header(line: bytes)
                case .event:
                    return .event(
                        TapeEvent(
                            kind: entry.eventKind, name: bytes, recvWallNs: entry.recvWallNs, monoNs: entry.monoNs,
                            conn: entry.conn,
                            detail: UnsafeRawBufferPointer(start: base + entry.start2, count: entry.count2)))
                case .footer:
                    return .footer(line: bytes)
                case .unknown:
                    return .unknown(
                        kind: UnsafeRawBufferPointer(start: base + entry.start2, count: entry.count2), line: bytes)
                }
            }
            condition.lock()
            if let done = current {
                shared.free.append(done)
                condition.broadcast()
                current = nil
                entryCursor = nil
                entryEnd = nil
                bytesBase = nil
            }
            if shared.full.isEmpty && !shared.finished {
                let began = cshim_monotonic_ns()
                while shared.full.isEmpty && !shared.finished { condition.wait() }
                waitNanos &+= cshim_monotonic_ns() &- began
            }
            if !shared.full.isEmpty {
                let batch = shared.full.removeFirst()
                current = batch
                entryCursor = batch.entries
                entryEnd = batch.entries + batch.entryCount
                bytesBase = batch.buffer
                condition.unlock()
                continue
            }
            let failure = shared.failure
            condition.unlock()
            if let failure { throw failure }
            return nil
        }
    }
}
