// Reads back what a capture wrote, with the Tape module's reader.
import Foundation
import Tape
import TestSupport

/// Everything in a tape folder, decoded for assertions.
struct ReadBackTape {
    struct Frame: Equatable {
        var conn: UInt32
        var seq: UInt64
        var bytes: [UInt8]
        var wallNs: Int64
        var monoNs: Int64
    }
    struct Event {
        var name: String
        var conn: UInt32
        var detail: TapeEventDetail
    }
    enum Line {
        case frame(Frame)
        case event(Event)
    }

    var lines: [Line] = []
    var header: TapeHeader?
    var report: TapeReadReport
    var segmentFiles: [String]

    var frames: [Frame] { lines.compactMap { if case .frame(let frame) = $0 { frame } else { nil } } }
    var events: [Event] { lines.compactMap { if case .event(let event) = $0 { event } else { nil } } }

    init(directory: String) throws {
        segmentFiles = try TapeReader.segmentFiles(for: [directory])
        let reader = try TapeReader(paths: [directory])
        var lines: [Line] = []
        try reader.forEachRecord { record in
            switch record {
            case .frame(let frame):
                lines.append(
                    .frame(
                        Frame(
                            conn: frame.conn, seq: frame.seq, bytes: Array(frame.bytes), wallNs: frame.recvWallNs,
                            monoNs: frame.monoNs)))
            case .event(let event):
                lines.append(
                    .event(
                        Event(
                            name: String(decoding: event.name, as: UTF8.self), conn: event.conn,
                            detail: TapeEventDetail.parse(event.detail))))
            default: break
            }
        }
        self.lines = lines
        self.header = reader.header
        self.report = reader.report
    }
}

/// The verbatim websocket frames of the g3-enrico fixture (110 frames, the first an initial
/// dump of 28 books), and the asset ids of that dump.
func enricoFrames() throws -> (frames: [[UInt8]], assets: [String]) {
    var frames: [[UInt8]] = []
    for line in try Repo.lines("corpus/g3-enrico-2026-09/frames.jsonl") {
        guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let payload = object["payload"] as? String
        else { continue }
        frames.append(Array(payload.utf8))
    }
    let dump = try JSONSerialization.jsonObject(with: Data(frames[0])) as? [[String: Any]] ?? []
    return (frames, dump.compactMap { $0["asset_id"] as? String })
}

/// A fresh empty folder under the system temp directory.
func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "polytape-capture-tests-\(name)-\(getpid())-\(UInt64.random(in: 0..<1 << 40))"
    try? FileManager.default.removeItem(atPath: path)
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
