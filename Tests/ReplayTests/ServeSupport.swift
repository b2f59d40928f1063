// Helpers for the `replay serve` tests: a server started in-process (always stopped), an
// event log the tests can wait on, the tape's own frames for a set of assets, and clients.
import Feed
import Foundation
import Glibc
import ReplayKit
import Synchronization
import Tape
import TestSupport
import Testing
import WebSocket

enum ServeFixture {
    static let tapePath = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
    /// Two tokens of two different markets; each market's G3 frames mirror entries onto the
    /// other token, so subscribing to these alone exercises entry filtering.
    static let assetA = "18054759644013870900749170809345467324611742242067616964612696305379357034954"
    static let assetB = "38175379283808228327034811002747441529537312086974479792536732908990840238523"
    /// The other token of assetA's market.
    static let assetAPartner = "35599907049186982879557420969598528789434547136942253652554709047485665633870"

    static let tape: ServeTape = {
        do { return try ServeTape(paths: [tapePath]) } catch { fatalError("cannot load \(tapePath): \(error)") }
    }()

    /// The tape's frames as byte arrays, in order.
    static func recordedFrames() throws -> [[UInt8]] {
        let reader = try TapeReader(paths: [tapePath])
        var frames: [[UInt8]] = []
        try reader.forEachFrame { frames.append(Array($0.bytes)) }
        return frames
    }
}

/// Owned events with the per-message position fields cleared (filtering renumbers entries).
func normalizedEvents(_ frame: [UInt8]) -> [OwnedEvent] {
    let (events, errors) = FeedParser.events(of: frame)
    #expect(errors.isEmpty, "parse errors in \(String(decoding: frame.prefix(120), as: UTF8.self))")
    return events.map { event in
        if case .priceChange(var change) = event {
            change.indexInMessage = 0
            change.countInMessage = 0
            return .priceChange(change)
        }
        return event
    }
}

/// What the tape says a client subscribed to `assets` should receive after the opening dump:
/// per frame, that frame's events for those assets (frames with none left out).
func expectedStream(for assets: Set<String>) throws -> [[OwnedEvent]] {
    let frames = try ServeFixture.recordedFrames()
    var index = 0
    while index < frames.count,
        normalizedEvents(frames[index]).allSatisfy({ if case .book = $0 { true } else { false } })
    {
        index += 1
    }
    return frames[index...].map { frame in normalizedEvents(frame).filter { assets.contains($0.assetID) } }
        .filter { !$0.isEmpty }
}

/// The `book` objects of the tape's opening dump, by asset id (raw bytes of each object).
func openingBookObjects() throws -> [String: [UInt8]] {
    let first = try ServeFixture.recordedFrames()[0]
    var result: [String: [UInt8]] = [:]
    _ = first.withUnsafeBytes { raw in
        FrameScan.forEachEvent(raw) { summary in
            result[summary.assetIDs[0]] = Array(raw[summary.range])
        }
    }
    return result
}

/// Collects server events; tests wait on them with a deadline.
final class ServeEventLog: Sendable {
    private let events = Mutex<[ServeEvent]>([])

    func record(_ event: ServeEvent) { events.withLock { $0.append(event) } }

    var all: [ServeEvent] { events.withLock { $0 } }

    /// Waits (polling, bounded) until an event matching `predicate` was reported.
    func wait(timeout: Duration = .seconds(20), _ predicate: (ServeEvent) -> Bool) -> ServeEvent? {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let found = all.first(where: predicate) { return found }
            usleep(5_000)
        }
        return nil
    }
}

/// Runs `body` with a started in-process server; the server is always stopped afterwards.
func withServer<T>(
    _ configure: (inout ServeOptions) -> Void = { _ in }, _ body: (ReplayServer, ServeEventLog) throws -> T
) throws -> T {
    var options = ServeOptions()
    options.speed = .max
    configure(&options)
    let log = ServeEventLog()
    let server = try ReplayServer(tape: ServeFixture.tape, options: options, onEvent: { log.record($0) })
    server.start()
    defer { server.stop(timeout: .seconds(5)) }
    return try body(server, log)
}

/// A market-channel client on our WebSocket module.
struct MarketClient {
    let connection: WebSocketConnection

    init(connection: WebSocketConnection) { self.connection = connection }

    init(url: String) throws {
        var options = WebSocketOptions()
        options.connectTimeout = .seconds(5)
        options.handshakeTimeout = .seconds(5)
        options.closeTimeout = .seconds(2)
        connection = try WebSocketClient.connect(url: url, options: options)
    }

    func subscribe(_ assets: [String], initialDump: Bool = true) throws {
        let ids = assets.map { "\"\($0)\"" }.joined(separator: ",")
        try connection.send(
            text:
                #"{"assets_ids":[\#(ids)],"type":"market","custom_feature_enabled":true,"initial_dump":\#(initialDump)}"#
        )
    }

    func operation(_ name: String, _ assets: [String]) throws {
        let ids = assets.map { "\"\($0)\"" }.joined(separator: ",")
        try connection.send(text: #"{"operation":"\#(name)","assets_ids":[\#(ids)]}"#)
    }

    /// The next text message (PONGs included); nil on timeout. A close ends with `.close`.
    func next(timeout: Duration = .seconds(10)) throws -> WebSocketMessage? {
        while let message = try connection.receive(timeout: timeout) {
            switch message.kind {
            case .text, .close: return message
            default: continue
            }
        }
        return nil
    }

    /// The next data message that is not `PONG`.
    func nextData(timeout: Duration = .seconds(10)) throws -> [UInt8]? {
        while let message = try next(timeout: timeout) {
            if message.kind == .close { return nil }
            if message.payload == Array("PONG".utf8) { continue }
            return message.payload
        }
        return nil
    }

    /// Reads until the connection ends; returns how it ended (nil if it did not within `timeout`).
    func waitForClose(timeout: Duration = .seconds(10)) throws -> WebSocketCloseInfo? {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            guard let message = try connection.receive(timeout: .milliseconds(500)) else { continue }
            if message.kind == .close { return message.close }
        }
        return nil
    }
}

/// Splits a books-only array frame into (asset id, raw object bytes), nil if it is anything else.
func bookObjects(_ frame: [UInt8]) -> [(String, [UInt8])]? {
    var result: [(String, [UInt8])] = []
    var booksOnly = true
    let ok = frame.withUnsafeBytes { raw in
        FrameScan.forEachEvent(raw) { summary in
            if summary.eventType != "book" { booksOnly = false }
            result.append((summary.assetIDs.first ?? "", Array(raw[summary.range])))
        }
    }
    guard ok, booksOnly, frame.first == UInt8(ascii: "[") else { return nil }
    return result
}

/// A running child process whose stdout is read line by line (bounded waits), killed on deinit.
final class ChildProcess {
    let process = Process()
    private let stdout = Pipe()
    private var buffered: [UInt8] = []

    init(executable: URL, arguments: [String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func readLine(timeout: Duration) -> String? {
        let fd = stdout.fileHandleForReading.fileDescriptor
        let end = ContinuousClock.now + timeout
        while true {
            if let newline = buffered.firstIndex(of: 0x0A) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeFirst(newline + 1)
                return line
            }
            let remaining = end - ContinuousClock.now
            guard remaining > .zero else { return nil }
            var poller = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            let milliseconds = Int32(
                clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
                    + 1)
            if poll(&poller, 1, milliseconds) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { return nil }
            buffered.append(contentsOf: chunk[0..<count])
        }
    }

    /// Exit status, or nil after SIGKILL when it outlives `timeout`.
    func waitForExit(timeout: Duration) -> Int32? {
        let end = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < end { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}
