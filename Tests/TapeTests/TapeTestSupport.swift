import Foundation
import TestSupport
import Testing

@testable import Tape

/// A fresh temporary folder per test, removed by the caller with `remove()`.
struct TemporaryFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "tape-tests-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// One frame as read back, owning its bytes.
struct ReadFrame: Equatable {
    var recvWallNs: Int64
    var monoNs: Int64
    var conn: UInt32
    var seq: UInt64
    var encoding: TapeFrameEncoding
    var bytes: [UInt8]
    var synthetic: Bool
}

/// Reads every frame of a tape into owned values, plus the reader's report.
func readFrames(_ paths: [String], strict: Bool = false) throws -> ([ReadFrame], TapeReadReport, TapeHeader?) {
    let reader = try TapeReader(paths: paths, options: TapeReaderOptions(strict: strict))
    var frames: [ReadFrame] = []
    try reader.forEachFrame { frame in
        frames.append(
            ReadFrame(
                recvWallNs: frame.recvWallNs, monoNs: frame.monoNs, conn: frame.conn, seq: frame.seq,
                encoding: frame.encoding, bytes: Array(frame.bytes), synthetic: frame.synthetic))
    }
    return (frames, reader.report, reader.header)
}

func testHeader(assets: [String] = ["1", "2"]) -> TapeHeader {
    var header = TapeHeader(
        createdNs: 1_790_267_379_153_000_000, source: "wss://example.invalid/ws/market", session: "test-session",
        assets: assets)
    header.sideData["1"] = AssetSideData(market: "0xabc", minOrderSize: "5", negRisk: false, tickSize: "0.01")
    return header
}

/// Runs the built `replay` binary; returns (status, stdout, stderr).
func runReplay(_ arguments: [String], stdin: Data? = nil) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = Repo.executable("replay")
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    if stdin != nil { process.standardInput = input }
    try process.run()
    if let stdin {
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self)
    )
}
