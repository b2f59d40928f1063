// Helpers for the end-to-end tests of `replay run`: run the built binary as a subprocess with
// bounded waits (output goes to files, so a chatty child never blocks on a full pipe), read the
// JSON report, and build damaged or mutated tapes from the bundled one.
import CommandLineSupport
import Foundation
import Glibc
import ReplayKit
import Tape
import TestSupport
import Testing

/// The outcome of one `replay` subprocess.
struct ReplayInvocation {
    var status: Int32
    /// True when the process outlived its timeout and was killed.
    var timedOut: Bool
    var stdout: Data
    var stderr: String
    var wallSeconds: Double
    /// The signal that ended the process, when one did (then `status` is its number).
    var signal: Int32? = nil

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }

    /// The `Error:` lines of standard error.
    var errorLines: [String] {
        stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("Error:") }
    }

    /// Standard output parsed as one JSON object (nil when it is not one).
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: stdout)) as? [String: Any]
    }
}

/// Runs the built `replay` binary.
enum ReplayBinary {
    static let executable = Repo.executable("replay")
    static let bundledTape = Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path
    static let goldenW1 = Repo.fixture("golden/g3-enrico-2026-09.w1.golden.json").path
    static let goldenW2 = Repo.fixture("golden/g3-enrico-2026-09.w2.golden.json").path

    /// Runs `replay ARGUMENTS` in `directory` (default: the repository root) and waits at most
    /// `timeout`; a process still running then is killed and `timedOut` is set.
    static func run(
        _ arguments: [String], in directory: URL = Repo.root, stdin: URL? = nil, timeout: Duration = .seconds(120),
        onStart: ((Process) -> Void)? = nil
    ) throws -> ReplayInvocation {
        try runExecutable(
            executable, arguments, in: directory, stdin: stdin, timeout: timeout, onStart: onStart)
    }

    /// Runs `replay ARGUMENTS` through /bin/sh with `redirection` applied to its standard output
    /// (`>/dev/full`, `>&-`); `ignoringSIGPIPE` starts it with SIGPIPE ignored, as some parents
    /// do; `stdout` replaces the captured standard output (e.g. a pipe nobody reads).
    static func run(
        _ arguments: [String], redirectingStdout redirection: String, ignoringSIGPIPE: Bool = false,
        stdout: FileHandle? = nil
    ) throws -> ReplayInvocation {
        let script = (ignoringSIGPIPE ? "trap '' PIPE; " : "trap - PIPE; ") + "exec \"$0\" \"$@\" \(redirection)"
        return try runExecutable(
            URL(fileURLWithPath: "/bin/sh"), ["-c", script, executable.path] + arguments, stdout: stdout)
    }

    static func runExecutable(
        _ executable: URL, _ arguments: [String], in directory: URL = Repo.root, stdin: URL? = nil,
        timeout: Duration = .seconds(120), stdout: FileHandle? = nil, onStart: ((Process) -> Void)? = nil
    ) throws -> ReplayInvocation {
        let scratch = try ScratchDirectory()
        let outURL = scratch.url.appendingPathComponent("stdout")
        let errURL = scratch.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer {
            try? outHandle.close()
            try? errHandle.close()
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = stdout ?? outHandle
        process.standardError = errHandle
        if let stdin {
            process.standardInput = try FileHandle(forReadingFrom: stdin)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        let start = ContinuousClock.now
        try process.run()
        onStart?(process)
        let deadline = start + timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ReplayInvocation(
            status: process.terminationStatus, timedOut: timedOut,
            stdout: (try? Data(contentsOf: outURL)) ?? Data(),
            stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self),
            wallSeconds: seconds,
            signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil)
    }
}

/// A fresh temporary directory, removed when the value is deinitialised.
final class ScratchDirectory {
    /// Writes a synthetic tape named `name` here with `replay tape synth` (expecting success) and
    /// returns its path.
    func synthTape(
        _ name: String = "synth.ndjson.zst", assets: Int, duration: String, rate: String, seed: Int
    ) throws -> String {
        let tape = path(name)
        let synth = try ReplayBinary.run([
            "tape", "synth", "-o", tape, "--assets", String(assets), "--duration", duration, "--rate", rate,
            "--seed", String(seed),
        ])
        #expect(synth.status == ExitStatus.success, "synth: \(synth.stderr)")
        return tape
    }

    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "polytape-e2e-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `lines`, each followed by `\n`, as a plain NDJSON tape and returns its path.
    func writeLines(_ lines: [[UInt8]], to name: String, trailing: [UInt8] = []) throws -> String {
        var bytes: [UInt8] = []
        for line in lines {
            bytes += line
            bytes.append(0x0A)
        }
        bytes += trailing
        let path = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// The decompressed lines of a tape (header, events, frames, footer), read with the Tape library.
func tapeLines(_ path: String) throws -> [[UInt8]] {
    let reader = try TapeReader(paths: [path])
    var lines: [[UInt8]] = []
    while let line = try reader.nextLine() { lines.append(Array(line)) }
    return lines
}

/// The `kind` of a tape line, parsed with Foundation (tests only).
func lineObject(_ line: [UInt8]) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
}

/// A zstd frame made of raw (stored) blocks: a valid compressed stream without a compressor,
/// so tests can build `.zst` tapes byte by byte (RFC 8878: frame header with a 128 KiB window,
/// blocks of at most 64 KiB, no checksum).
func rawZstdFrame(_ content: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38]
    var offset = 0
    repeat {
        let size = min(65536, content.count - offset)
        let last = offset + size == content.count
        let header = UInt32(size) << 3 | (last ? 1 : 0)  // block type 0 = raw
        bytes += [UInt8(header & 0xFF), UInt8(header >> 8 & 0xFF), UInt8(header >> 16 & 0xFF)]
        bytes += content[offset..<offset + size]
        offset += size
    } while offset < content.count
    return bytes
}

/// Typed access into a parsed JSON report.
extension Dictionary where Key == String, Value == Any {
    func object(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
    func string(_ key: String) -> String? { self[key] as? String }
    func array(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    func intMap(_ key: String) -> [String: Int] {
        object(key).compactMapValues { ($0 as? NSNumber)?.intValue }
    }
    func stringMap(_ key: String) -> [String: String] {
        object(key).compactMapValues { $0 as? String }
    }
}

/// Process ids whose parent is `parent`, from /proc/*/stat (the 4th field is the ppid).
func childProcessIDs(of parent: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var children: [pid_t] = []
    for entry in entries {
        guard let pid = pid_t(entry),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        // After "pid (comm)": state, ppid, ...; comm may contain spaces, so split after ')'.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, pid_t(fields[1]) == parent { children.append(pid) }
    }
    return children.sorted()
}

/// True while a process with this id exists and is not a zombie.
func processIsAlive(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.first != "Z"
}

/// The pids of `count` worker processes of `parent`, waiting up to `within` for them to appear
/// (fewer if they never do).
func waitForWorkerProcesses(of parent: pid_t, count: Int, within: Duration = .seconds(20)) -> [pid_t] {
    let deadline = ContinuousClock.now + within
    var workers: [pid_t] = []
    while ContinuousClock.now < deadline {
        workers = childProcessIDs(of: parent).filter { workerIndex(pid: $0) != nil }
        if workers.count == count { break }
        usleep(10_000)
    }
    return workers
}

/// Waits up to 10 s for every process in `workers` to end, then expects none left.
func expectAllGone(_ workers: [pid_t], sourceLocation: SourceLocation = #_sourceLocation) {
    let deadline = ContinuousClock.now + .seconds(10)
    while workers.contains(where: processIsAlive) && ContinuousClock.now < deadline { usleep(10_000) }
    #expect(
        !workers.contains(where: processIsAlive), "worker processes left behind: \(workers)",
        sourceLocation: sourceLocation)
}
