// The worker-sweep benchmark's results: one row per worker count, each summarising several
// repeated runs (median and min–max spread), plus what is needed to compare two sweeps: the
// machine, the tape's content digest, the options and the date.
import Foundation
import Verify

/// A measured value over repeated runs: the median and the spread (min and max).
struct BenchSpread: Codable, Sendable, Equatable {
    var median: Double
    var min: Double
    var max: Double

    /// Median (mean of the two middle values for an even count), min and max; all zero when empty.
    init(_ values: [Double]) {
        let sorted = values.sorted()
        guard let first = sorted.first, let last = sorted.last else {
            self.init(median: 0, min: 0, max: 0)
            return
        }
        let middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        self.init(median: median, min: first, max: last)
    }

    init(median: Double, min: Double, max: Double) {
        self.median = median
        self.min = min
        self.max = max
    }
}

/// What limits a run's speed, decided from the router thread's stage times and the workers'
/// apply time (see `BenchBottleneck.classify`).
enum BenchBottleneck: String, Codable, Sendable, CaseIterable {
    /// Reading and decompressing the tape dominates the router thread.
    case tapeReading = "tape reading"
    /// Parsing frames and routing events dominates the router thread.
    case parsingRouting = "parsing/routing"
    /// The router waits on full worker rings while the workers are mostly idle: the hand-off
    /// (ring copies, wake-ups, scheduling) is the limit.
    case ipc = "IPC"
    /// The router waits on full worker rings and the busiest worker is applying most of the time.
    case apply = "apply"
    /// The router thread's time outside read, parse+route, blocked and pacing dominates: the tape
    /// digest (SHA-256 of every line) and per-frame bookkeeping.
    case routerOther = "router other"
    /// A paced run that spent most of its time waiting for the recorded schedule: nothing limits it.
    case pacing = "pacing (schedule)"

    /// Router blocked on a full ring for more than this fraction of wall time → workers are the limit.
    static let blockedThreshold = 0.30
    /// The busiest worker applying for at least this fraction of wall time → apply, below → IPC.
    static let applyBusyThreshold = 0.50
    /// A paced run waiting for its schedule more than this fraction of wall time is schedule-bound.
    static let pacingThreshold = 0.50

    /// Classifies one run (or the medians of several) from its stage times.
    ///
    /// Rules, in order:
    /// 1. pacing wait > 50 % of wall → `pacing` (the run kept up with its schedule);
    /// 2. router blocked on full rings > 30 % of wall → the workers are the limit: `apply` when
    ///    the busiest worker's apply time ≥ 50 % of wall, otherwise `ipc`;
    /// 3. otherwise the router thread is the limit: the largest of read, parse+route and the
    ///    rest of its wall time (`routerOtherSeconds`: digest, bookkeeping).
    static func classify(_ stages: RunReport.Stages) -> (bottleneck: BenchBottleneck, reason: String) {
        let wall = Swift.max(stages.wallSeconds, 1e-9)
        let pacing = stages.pacingWaitSeconds / wall
        let blocked = stages.routerBlockedSeconds / wall
        let busy = stages.maxWorkerApplySeconds / wall
        let read = stages.readSeconds / wall
        let parse = stages.parseRouteSeconds / wall
        if pacing > pacingThreshold {
            return (.pacing, "waited for the schedule \(percent(pacing)) of wall")
        }
        if blocked > blockedThreshold {
            let why =
                "router blocked on full rings \(percent(blocked)) of wall, busiest worker applying \(percent(busy))"
            return (busy >= applyBusyThreshold ? .apply : .ipc, why)
        }
        let other = routerOtherSeconds(stages) / wall
        let why =
            "read \(percent(read)), parse+route \(percent(parse)), other \(percent(other)), "
            + "blocked \(percent(blocked)) of wall"
        if other > read && other > parse { return (.routerOther, why) }
        return (read >= parse ? .tapeReading : .parsingRouting, why)
    }

    /// Router-thread wall time not in read, parse+route, blocked or pacing (never negative).
    static func routerOtherSeconds(_ stages: RunReport.Stages) -> Double {
        Swift.max(
            0,
            stages.wallSeconds - stages.readSeconds - stages.parseRouteSeconds - stages.routerBlockedSeconds
                - stages.pacingWaitSeconds)
    }

    static func percent(_ fraction: Double) -> String {
        String(format: "%.0f%%", fraction * 100)
    }
}

/// One worker count's results over its repeated runs.
struct BenchRow: Codable, Sendable, Equatable {
    struct Latency: Codable, Sendable, Equatable {
        var p50: BenchSpread
        var p99: BenchSpread
        var p999: BenchSpread
    }
    struct Lateness: Codable, Sendable, Equatable {
        var p50: BenchSpread
        var p99: BenchSpread
        var max: BenchSpread
    }
    struct Balance: Codable, Sendable, Equatable {
        /// Messages applied by each worker, in worker order (identical in every run: routing is deterministic).
        var messagesPerWorker: [Int]
        /// Busiest over least busy worker's message count (1 = perfectly even; 0 when a worker got nothing).
        var maxOverMin: Double
    }
    struct Memory: Codable, Sendable, Equatable {
        /// Each worker's resident set size when it finished (workers keep their books to the end,
        /// so this is close to their peak), median over runs, in worker order.
        var workerResidentBytes: [Int]
        /// The router process's peak RSS (VmHWM, reset before each run), max over runs.
        var routerPeakBytes: Int?
    }
    struct CPU: Codable, Sendable, Equatable {
        /// Router process CPU seconds ÷ wall seconds of the run, worker start to exit (1 = one core
        /// busy the whole run).
        var routerUtilisation: BenchSpread
        /// All workers' CPU seconds ÷ wall seconds (up to the worker count).
        var workersUtilisation: BenchSpread
    }
    struct Stages: Codable, Sendable, Equatable {
        var readSeconds: Double
        var parseRouteSeconds: Double
        var routerBlockedSeconds: Double
        var pacingWaitSeconds: Double
        /// Wall − read − parse+route − blocked − pacing: tape digest and bookkeeping.
        var routerOtherSeconds: Double
        var workerApplySeconds: Double
        var maxWorkerApplySeconds: Double
        var wallSeconds: Double
    }

    var workers: Int
    var runs: Int
    var wallSeconds: BenchSpread
    var messagesPerSecond: BenchSpread
    var megabytesPerSecond: BenchSpread
    /// Book updates applied (snapshots + price changes + tick-size changes that reached a book) per second.
    var bookUpdatesPerSecond: BenchSpread
    /// Router → worker latency in µs; each run contributes its slowest worker's percentile.
    var latencyMicros: Latency?
    /// Lateness against the recorded schedule in µs; absent at max speed.
    var latenessMicros: Lateness?
    var balance: Balance
    var memory: Memory
    var cpu: CPU
    /// Medians over runs of each stage time, in seconds.
    var stages: Stages
    var bottleneck: String
    var bottleneckReason: String
}

/// The whole sweep (`polytape-bench/1`).
struct BenchReport: Codable, Sendable, Equatable {
    static let currentSchema = "polytape-bench/1"

    struct Tape: Codable, Sendable, Equatable {
        var name: String
        var paths: [String]
        var contentDigest: String
        var digestAlgorithm: String
        var frames: Int
        var messages: Int
        var bytes: Int
        var compressedBytes: Int?
    }
    struct Options: Codable, Sendable, Equatable {
        var workers: [Int]
        var speed: String
        var repeats: Int
        var exchangeHash: String
        var routing: String
        var backpressure: String
        /// The words given after `replay bench`, to rerun the same sweep.
        var arguments: [String]
    }

    var schema = BenchReport.currentSchema
    /// ISO-8601 UTC time the sweep started.
    var date: String
    var machine: MachineDescription
    var tape: Tape
    var options: Options
    var rows: [BenchRow]

    func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }
}

/// One run's raw measurements, taken from its report plus the router's peak RSS.
struct BenchSample: Sendable {
    var report: RunReport
    var routerPeakBytes: Int?
    /// Wall time of the whole `ReplayRun.execute` call (worker start to worker exit): the interval
    /// the CPU times cover. `stages.wallSeconds` covers only the replay loop.
    var executeSeconds: Double?

    var wallSeconds: Double { report.stages?.wallSeconds ?? report.throughput?.wallSeconds ?? 0 }
    var bookUpdates: Int { report.workers.reduce(0) { $0 + $1.updates } }
}

extension BenchRow {
    /// Summarises the runs of one worker count.
    init(workers: Int, samples: [BenchSample]) {
        func spread(_ value: (BenchSample) -> Double?) -> BenchSpread {
            BenchSpread(samples.compactMap(value))
        }
        self.workers = workers
        runs = samples.count
        wallSeconds = spread { $0.wallSeconds }
        messagesPerSecond = spread { $0.report.throughput?.messagesPerSecond }
        megabytesPerSecond = spread { $0.report.throughput?.megabytesPerSecond }
        bookUpdatesPerSecond = spread { $0.wallSeconds > 0 ? Double($0.bookUpdates) / $0.wallSeconds : nil }

        let withLatency = samples.filter { $0.report.workers.contains { $0.latency != nil } }
        if withLatency.isEmpty {
            latencyMicros = nil
        } else {
            func worst(_ pick: (RunReport.Latency) -> Double) -> BenchSpread {
                BenchSpread(withLatency.map { $0.report.workers.compactMap { $0.latency.map(pick) }.max() ?? 0 })
            }
            latencyMicros = Latency(p50: worst(\.p50), p99: worst(\.p99), p999: worst(\.p999))
        }
        let paced = samples.compactMap(\.report.pacing)
        latenessMicros =
            paced.isEmpty
            ? nil
            : Lateness(
                p50: BenchSpread(paced.map(\.p50)), p99: BenchSpread(paced.map(\.p99)),
                max: BenchSpread(paced.map(\.max)))

        let counts = samples.first?.report.workers.map(\.messagesProcessed) ?? []
        let most = counts.max() ?? 0
        let least = counts.min() ?? 0
        balance = Balance(
            messagesPerWorker: counts, maxOverMin: least > 0 ? Double(most) / Double(least) : (most > 0 ? 0 : 1))

        let workerCount = samples.first?.report.workers.count ?? 0
        let resident = (0..<workerCount).map { index in
            Int(
                BenchSpread(
                    samples.compactMap { sample in
                        sample.report.workers.first { $0.index == index }?.memoryBytes.map(Double.init)
                    }
                ).median)
        }
        memory = Memory(workerResidentBytes: resident, routerPeakBytes: samples.compactMap(\.routerPeakBytes).max())

        let stageSamples = samples.compactMap(\.report.stages)
        func stage(_ pick: (RunReport.Stages) -> Double) -> Double { BenchSpread(stageSamples.map(pick)).median }
        func utilisation(_ pick: @escaping (RunReport.Stages) -> Double) -> BenchSpread {
            BenchSpread(
                samples.compactMap { sample in
                    sample.report.stages.map { pick($0) / Swift.max(sample.executeSeconds ?? $0.wallSeconds, 1e-9) }
                })
        }
        cpu = CPU(
            routerUtilisation: utilisation(\.routerCPUSeconds), workersUtilisation: utilisation(\.workersCPUSeconds))
        let median = RunReport.Stages(
            readSeconds: stage(\.readSeconds), parseRouteSeconds: stage(\.parseRouteSeconds),
            routerBlockedSeconds: stage(\.routerBlockedSeconds), pacingWaitSeconds: stage(\.pacingWaitSeconds),
            workerApplySeconds: stage(\.workerApplySeconds), maxWorkerApplySeconds: stage(\.maxWorkerApplySeconds),
            wallSeconds: stage(\.wallSeconds), routerCPUSeconds: stage(\.routerCPUSeconds),
            workersCPUSeconds: stage(\.workersCPUSeconds))
        stages = Stages(
            readSeconds: median.readSeconds, parseRouteSeconds: median.parseRouteSeconds,
            routerBlockedSeconds: median.routerBlockedSeconds, pacingWaitSeconds: median.pacingWaitSeconds,
            routerOtherSeconds: BenchBottleneck.routerOtherSeconds(median),
            workerApplySeconds: median.workerApplySeconds, maxWorkerApplySeconds: median.maxWorkerApplySeconds,
            wallSeconds: median.wallSeconds)
        if stageSamples.isEmpty {
            bottleneck = "unknown"
            bottleneckReason = "the runs reported no stage times"
        } else {
            let verdict = BenchBottleneck.classify(median)
            bottleneck = verdict.bottleneck.rawValue
            bottleneckReason = verdict.reason
        }
    }
}

/// The router process's peak resident set size, read from /proc/self/status (VmHWM), and a way
/// to reset it (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0) so each run gets its own peak.
enum ProcessMemory {
    static func resetPeak() {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
        try? handle.write(contentsOf: Data("5".utf8))
        try? handle.close()
    }

    static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return parseKilobytes(field: "VmHWM:", in: status).map { $0 * 1024 }
    }

    /// The kB value of a `/proc/<pid>/status` line such as `VmHWM:     12345 kB`.
    static func parseKilobytes(field: String, in status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
        return line.dropFirst(field.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }
            .first
    }
}
