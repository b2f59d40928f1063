import Book
import Feed
import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

@testable import Engine

/// The worker executable: the built `replay` binary (`swift build --build-tests` builds it).
func testConfiguration(
    ringCapacity: Int = 1 << 20, heartbeatMs: Int = 5000, statsMs: Int = 30000,
    sink: (@Sendable (PoolEvent) -> Void)? = nil
) -> WorkerManager.Configuration {
    WorkerManager.Configuration(
        executable: Repo.executable("replay"), ringCapacity: ringCapacity,
        heartbeatInterval: .milliseconds(heartbeatMs), statsInterval: .milliseconds(statsMs),
        verifyExchangeHash: false, eventSink: sink)
}

/// Polls `condition` every 5 ms until it holds or `seconds` pass (a wait, not a timing assertion).
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5000)
    }
    return condition()
}

/// Reads a /proc file with read(2) until EOF (its reported size is 0, so size-based readers
/// can come back empty).
func readProcFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
}

func processExists(_ pid: Int32) -> Bool {
    FileManager.default.fileExists(atPath: "/proc/\(pid)")
}

/// True when `pid` is a zombie child of this process.
func isZombieChild(_ pid: Int32) -> Bool {
    let text = readProcFile("/proc/\(pid)/stat")
    guard let close = text.lastIndex(of: ")")
    else { return false }
    let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
    return fields.count > 1 && fields[0] == "Z" && Int32(fields[1]) == getpid()
}

/// A stable identity for an open fd: its link target plus its inode or eventfd id.
func fdIdentity(_ fd: Int32) -> String? {
    guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
        case let info = readProcFile("/proc/self/fdinfo/\(fd)"), !info.isEmpty
    else { return nil }
    let lines = info.split(separator: "\n")
    let id = lines.first { $0.hasPrefix("eventfd-id") } ?? lines.first { $0.hasPrefix("ino") } ?? ""
    return link + "|" + id
}

func openFDIdentities() -> Set<String> {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return Set(names.compactMap { Int32($0).flatMap(fdIdentity) })
}

/// pids that some open pidfd of this process refers to.
func pidfdTargets() -> Set<Int32> {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    var pids: Set<Int32> = []
    for name in names {
        let info = readProcFile("/proc/self/fdinfo/\(name)")
        for line in info.split(separator: "\n") where line.hasPrefix("Pid:") {
            if let pid = Int32(line.dropFirst(4).trimmingCharacters(in: .whitespaces)) { pids.insert(pid) }
        }
    }
    return pids
}

/// Routes a seeded synthetic stream and returns each asset's final book summary.
func runSynthetic(workers: Int, changes: Int, assets: Int = 40, ringCapacity: Int = 1 << 16) throws
    -> (RunResult, RouterStats)
{
    let manager = try WorkerManager(workerCount: workers, configuration: testConfiguration(ringCapacity: ringCapacity))
    try manager.start()
    var router = try Router(channels: manager.inputChannels)
    var feed = SyntheticFeed(assets: assets, seed: 7)
    feed.emitBooks(into: &router)
    feed.emitChanges(changes, into: &router)
    try router.flush()
    let result = try manager.stop(timeout: .seconds(20))
    return (result, router.stats)
}

@Suite(.serialized) struct WorkerPoolTests {
    @Test func rejectsWorkerCountBelowOne() {
        #expect(throws: EngineError.invalidWorkerCount(0)) { try WorkerManager(workerCount: 0) }
        #expect(throws: EngineError.invalidWorkerCount(-3)) { try WorkerManager(workerCount: -3) }
    }

    @Test func routerRejectsChannelCountMismatch() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        #expect(throws: EngineError.channelCountMismatch(channels: 1, expected: 2)) {
            try Router(channels: Array(manager.inputChannels.prefix(1)), workerCount: 2)
        }
        #expect(throws: EngineError.channelCountMismatch(channels: 2, expected: 3)) {
            try Router(channels: manager.inputChannels, workerCount: 3)
        }
        #expect(throws: EngineError.channelCountMismatch(channels: 2, expected: 2)) {
            try Router(channels: manager.inputChannels.reversed())
        }
        _ = try Router(channels: manager.inputChannels, workerCount: 2)
    }

    @Test func warnsWhenWorkersExceedCores() throws {
        let seen = Mutex<[PoolEvent]>([])
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let manager = try WorkerManager(
            workerCount: cores + 1,
            configuration: testConfiguration(sink: { event in seen.withLock { $0.append(event) } }))
        #expect(manager.warnings.count == 1)
        #expect(manager.warnings[0].contains("\(cores + 1) workers exceed the \(cores) CPU cores"))
        #expect(seen.withLock { $0 } == [.warning(manager.warnings[0])])
        let fine = try WorkerManager(workerCount: 1, configuration: testConfiguration())
        #expect(fine.warnings.isEmpty)
    }

    @Test func startRunsRealProcessesAndStopReapsThem() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        #expect(!manager.isHealthy)
        #expect(manager.aliveCount == 0)
        try manager.start()
        let pids = manager.pids
        #expect(pids.count == 2 && pids.allSatisfy { $0 > 0 } && Set(pids).count == 2)
        for pid in pids {
            #expect(processExists(pid))
            // posix_spawn returns once the child's exec has replaced its memory, which can be
            // just before the kernel fills in the new argument area: wait for it.
            var cmdline = ""
            _ = waitUntil {
                cmdline = readProcFile("/proc/\(pid)/cmdline")
                return !cmdline.isEmpty
            }
            #expect(cmdline.contains(WorkerProcess.modeArgument))
        }
        #expect(manager.isHealthy)
        #expect(manager.aliveCount == 2)
        let result = try manager.stop(timeout: .seconds(10))
        #expect(result.allDrained)
        #expect(result.workers.map(\.pid) == pids)
        #expect(result.workers.allSatisfy { $0.stopStep == .drained && $0.exit == .exited(status: 0) })
        for pid in pids {
            #expect(!processExists(pid) || !isZombieChild(pid))
        }
        #expect(!manager.isHealthy)
        #expect(manager.aliveCount == 0)
        #expect(throws: EngineError.self) { try manager.stop() }
    }

    @Test func differentAssetsReachTheirMd5Workers() throws {
        // Verified: md5("asset-1") key % 2 == 1, md5("asset-2") key % 2 == 0 (see RoutingTests).
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        try manager.start()
        var router = try Router(channels: manager.inputChannels)
        #expect(router.worker(forAssetID: "asset-1") == 1)
        #expect(router.worker(forAssetID: "asset-2") == 0)
        for asset in ["asset-1", "asset-2"] {
            withBook(asset: asset, bids: [level(40, 1)], asks: [level(60, 1)]) { router.onBook($0) }
        }
        withPriceChange(asset: "asset-1", cents: 41, size: 3, side: .bid) { router.onPriceChange($0) }
        try router.flush()
        let result = try manager.stop()
        #expect(result.workers[0].books.map(\.assetID) == ["asset-2"])
        #expect(result.workers[1].books.map(\.assetID) == ["asset-1"])
        #expect(result.workers[1].stats.messagesProcessed == 2)
        #expect(result.workers[0].stats.messagesProcessed == 1)
        #expect(router.stats.perWorker == [1, 2])
        #expect(router.stats.assets == 2)
        #expect(router.stats.namedCounts["routedToWorker1"] == 2)
        #expect(router.stats.namedCounts["routed"] == 3)
        #expect(router.stats.namedCounts["books"] == 2)
    }

    @Test func crashedWorkerIsDetectedAndRouterFailsInsteadOfHanging() throws {
        let events = Mutex<[PoolEvent]>([])
        let manager = try WorkerManager(
            workerCount: 2,
            configuration: testConfiguration(ringCapacity: 1 << 16, sink: { e in events.withLock { $0.append(e) } }))
        try manager.start()
        let victim = manager.pids[0]
        var router = try Router(channels: manager.inputChannels)
        // Make worker 0 stop reading, so its ring fills, then kill it while the router waits.
        try router.sendTestHang(worker: 0, ignoreTerm: false)
        #expect(kill(victim, SIGKILL) == 0)
        #expect(waitUntil { manager.aliveCount == 1 })
        #expect(!manager.isHealthy)
        #expect(manager.deadWorkers.count == 1)
        #expect(manager.deadWorkers.first?.worker == 0)
        #expect(manager.deadWorkers.first?.exit == .signaled(signal: SIGKILL))
        #expect(
            waitUntil {
                events.withLock {
                    $0.contains(
                        .workerExited(worker: 0, pid: victim, exit: .signaled(signal: SIGKILL), expected: false))
                }
            })
        // "asset-2" routes to worker 0: enough price changes to fill its 64 KiB ring many times.
        for _ in 0..<20_000 {
            withPriceChange(asset: "asset-2", cents: 40, size: 1, side: .bid) { router.onPriceChange($0) }
        }
        #expect(router.failure == .workerDied(worker: 0, pid: victim, exit: .signaled(signal: SIGKILL)))
        #expect(router.stats.dropped > 0)
        #expect(throws: EngineError.workerDied(worker: 0, pid: victim, exit: .signaled(signal: SIGKILL))) {
            try router.flush()
        }
        let result = try manager.stop(timeout: .seconds(5))
        #expect(result.workers[0].stopStep == .diedBeforeStop)
        #expect(result.workers[0].exit == .signaled(signal: SIGKILL))
        #expect(result.workers[1].drained)
    }

    @Test func routerAlreadyBlockedOnAFullRingFailsWhenItsWorkerDies() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: testConfiguration(ringCapacity: 1 << 16))
        try manager.start()
        let victim = manager.pids[0]
        var router = try Router(channels: manager.inputChannels)
        try router.sendTestHang(worker: 0, ignoreTerm: true)
        // Kill the worker only once the router is blocked waiting for space in its full ring.
        let flagAddress = manager.inputChannels[0].ring.producerWaitingAddress
        let killer = Thread {
            while !SharedRing.isFlagSet(address: flagAddress) { usleep(1000) }
            kill(victim, SIGKILL)
        }
        killer.start()
        var sent = 0
        while router.failure == nil && sent < 1_000_000 {
            withPriceChange(asset: "asset-\(sent % 3)", cents: 40, size: 1, side: .bid) { router.onPriceChange($0) }
            sent += 1
        }
        #expect(router.failure == .workerDied(worker: 0, pid: victim, exit: .signaled(signal: SIGKILL)))
        #expect(router.failure?.description.contains("worker 0 (pid \(victim)) killed by signal 9") == true)
        #expect(router.stats.queueFullEvents >= 1)
        let result = try manager.stop(timeout: .seconds(2))
        #expect(result.workers[0].stopStep == .diedBeforeStop)
    }

    /// Regression (newcomer review): a router blocked on one worker's full ring only watched
    /// that worker, so another worker's death surfaced seconds later (at the next health check
    /// or at the end). Worker 0 hangs with its ring full, worker 1 exits: routing must fail
    /// naming worker 1, long before worker 0's stall timeout (60 s here).
    @Test func aDeathElsewhereEndsAWaitForAFullRing() throws {
        var configuration = testConfiguration(ringCapacity: 1 << 16)
        configuration.stallTimeout = .seconds(60)
        let manager = try WorkerManager(workerCount: 2, configuration: configuration)
        try manager.start()
        var router = try Router(channels: manager.inputChannels, batchSize: 1)
        try router.awaitWorkers()
        let hung = try Router.worker(forAssetID: "asset-2", workerCount: 2)
        let dying = 1 - hung
        try router.sendTestHang(worker: hung, ignoreTerm: false)
        try router.sendTestExit(worker: dying, status: 4)
        #expect(waitUntil { manager.aliveCount == 1 })
        let began = Date()
        var sent = 0
        while router.failure == nil && sent < 100_000 {
            withPriceChange(asset: "asset-2", cents: 40, size: 1, side: .bid) { router.onPriceChange($0) }
            sent += 1
        }
        let failure = try #require(router.failure, "routing never noticed the dead worker")
        guard case .workerDied(let worker, _, let exit) = failure else {
            Issue.record("expected workerDied for worker \(dying), got \(failure)")
            _ = try manager.stop(timeout: .seconds(2))
            return
        }
        #expect(worker == dying)
        #expect(exit == .exited(status: 4))
        #expect(Date().timeIntervalSince(began) < 30, "noticed only after the wait's own timeouts")
        _ = try manager.stop(timeout: .seconds(2))
    }

    @Test func aWorkerThatExitsWithAStatusIsReportedWithIt() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        try manager.start()
        var router = try Router(channels: manager.inputChannels)
        try router.sendTestExit(worker: 1, status: 3)
        #expect(waitUntil { manager.aliveCount == 1 })
        #expect(manager.deadWorkers.map(\.worker) == [1])
        #expect(manager.deadWorkers.first?.exit == .exited(status: 3))
        #expect(ExitReason.exited(status: 3).description == "exited with status 3")
        let result = try manager.stop()
        #expect(result.workers[1].stopStep == .diedBeforeStop)
        #expect(result.workers[1].exit == .exited(status: 3))
        #expect(!result.workers[1].drained)
        #expect(result.workers[0].drained)
        #expect(!result.allDrained)
    }

    /// Guard: once every worker has died the stats pipe has no writer left; a kernel that reports
    /// that as POLLHUP on every poll would make a monitor that keeps polling the pipe spin. Its
    /// read syscalls over a pause must stay few. (This kernel does not report it for pipe2 pipes,
    /// so the guard could not fail here before the monitor learned to drop the pipe at EOF.)
    @Test func monitorThreadIdlesAfterEveryWorkerDied() throws {
        func poolThreads() -> Set<String> {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return Set(tasks.filter { readProcFile("/proc/self/task/\($0)/comm").hasPrefix("polytape-pool") })
        }
        let otherPools = poolThreads()  // other tests' pools may run in this process too
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        try manager.start()
        let monitor = poolThreads().subtracting(otherPools).first
        for pid in manager.pids { kill(pid, SIGKILL) }
        #expect(waitUntil { manager.aliveCount == 0 })
        guard let monitor else {
            Issue.record("no thread named polytape-pool")
            _ = try manager.stop()
            return
        }
        func readCalls() -> Int {
            let io = readProcFile("/proc/self/task/\(monitor)/io")
            let line = io.split(separator: "\n").first { $0.hasPrefix("syscr:") } ?? ""
            return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? -1
        }
        let before = readCalls()
        usleep(300_000)
        let after = readCalls()
        #expect(before >= 0)
        #expect(after - before < 50, "the monitor made \(after - before) read calls while idle")
        let result = try manager.stop()
        #expect(result.workers.allSatisfy { $0.stopStep == .diedBeforeStop })
    }

    @Test func gracefulStopOfFourWorkersAppliesEveryQueuedMessage() throws {
        // A 64 KiB ring per worker: the router blocks and wraps many times; stop comes right
        // after the last flush, so most messages are still queued when it is called.
        let (result, routerStats) = try runSynthetic(workers: 4, changes: 60_000)
        #expect(result.allDrained)
        #expect(routerStats.routed == 60_040)
        #expect(routerStats.dropped == 0)
        #expect(result.totalStats.messagesProcessed == routerStats.routed)
        for worker in result.workers {
            #expect(worker.stats.messagesProcessed == routerStats.perWorker[worker.index])
            #expect(worker.latency.count == worker.stats.messagesProcessed)
            #expect(worker.stopStep == .drained)
        }
        #expect(result.workers.reduce(0) { $0 + $1.books.count } == 40)
    }

    @Test func identicalBooksWithOneTwoAndFourWorkers() throws {
        var byWorkerCount: [[String: BookSummary]] = []
        for workers in [1, 2, 4] {
            let (result, _) = try runSynthetic(workers: workers, changes: 20_000)
            #expect(result.allDrained)
            var books: [String: BookSummary] = [:]
            for worker in result.workers {
                for book in worker.books { books[book.assetID] = book }
            }
            #expect(books.count == 40)
            byWorkerCount.append(books)
        }
        #expect(byWorkerCount[0] == byWorkerCount[1])
        #expect(byWorkerCount[0] == byWorkerCount[2])
    }

    @Test func dropModeCountsEveryDropAndSigtermEndsAStuckWorker() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: testConfiguration(ringCapacity: 1 << 16))
        try manager.start()
        var router = try Router(channels: manager.inputChannels, backpressure: .drop)
        try router.sendTestHang(worker: 0, ignoreTerm: false)
        let sent = 10_000
        for index in 0..<sent {
            withPriceChange(asset: "asset-\(index % 5)", cents: 45, size: 2, side: .ask) { router.onPriceChange($0) }
        }
        try router.flush()
        #expect(router.stats.dropped > 0)
        #expect(router.stats.routed + router.stats.dropped == UInt64(sent))
        #expect(router.stats.queueFullEvents == router.stats.dropped)
        let result = try manager.stop(timeout: .seconds(2))
        #expect(result.workers[0].stopStep == .terminated)
        #expect(result.workers[0].exit == .signaled(signal: SIGTERM))
        #expect(!result.workers[0].drained)
    }

    @Test func hungWorkerIgnoringSigtermIsKilledWithinTheBudget() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        try manager.start()
        try manager.sendTestHang(worker: 1, ignoreTerm: true)
        let budget = Duration.seconds(1)
        let result = try manager.stop(timeout: budget)
        #expect(result.workers[1].stopStep == .killed)
        #expect(result.workers[1].exit == .signaled(signal: SIGKILL))
        #expect(result.workers[0].drained)
        // Escalation is bounded by the budget (plus reaping slack), not by the hung worker.
        #expect(result.stopNanos < 6_000_000_000)
        #expect(!processExists(manager.pids[1]) || !isZombieChild(manager.pids[1]))
    }

    @Test func queryAnswersWhileRunningAndHeartbeatsArrive() throws {
        let events = Mutex<[PoolEvent]>([])
        let manager = try WorkerManager(
            workerCount: 2,
            configuration: testConfiguration(
                heartbeatMs: 20, statsMs: 50, sink: { e in events.withLock { $0.append(e) } }))
        try manager.start()
        var router = try Router(channels: manager.inputChannels)
        withBook(asset: "asset-4", bids: [level(40, 1), level(41, 2)], asks: [level(60, 1)]) { router.onBook($0) }
        let summary = try router.queryBook(assetID: "asset-4", depth: 5)
        #expect(summary?.assetID == "asset-4")
        #expect(try router.queryBook(assetID: "never-seen", depth: 5) == nil)
        #expect(
            waitUntil {
                events.withLock { list in
                    list.contains { if case .heartbeat(worker: _, bookCount: 1, _, _) = $0 { true } else { false } }
                        && list.contains { if case .stats = $0 { true } else { false } }
                }
            })
        #expect(manager.stats().values.contains { $0.messagesProcessed == 1 })
        let result = try manager.stop()
        #expect(result.allDrained)
        #expect(result.workers.map(\.stats.controlMessages).reduce(0, +) == 2)
    }

    @Test func sideDataAndInvalidationTravelInBand() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
        try manager.start()
        var router = try Router(channels: manager.inputChannels)
        for asset in ["asset-1", "asset-2", "asset-4"] {
            withBook(asset: asset, bids: [level(40, 1)], asks: [level(60, 1)]) { router.onBook($0) }
        }
        try router.setSideData(MarketSideData(market: "0xm", minOrderSize: "5", negRisk: false), forAsset: "asset-1")
        try router.invalidate(assetIDs: ["asset-1", "asset-2"])
        withBook(asset: "asset-2", bids: [level(41, 1)], asks: [level(59, 1)]) { router.onBook($0) }
        try router.flush()
        let result = try manager.stop()
        // Invalidated books stay untrusted until their next snapshot; asset-2 got a new one.
        let books = Dictionary(uniqueKeysWithValues: result.workers.flatMap(\.books).map { ($0.assetID, $0) })
        #expect(books.keys.sorted() == ["asset-1", "asset-2", "asset-4"])
        #expect(books["asset-1"]?.trusted == false)
        #expect(books["asset-2"]?.trusted == true)
        #expect(books["asset-4"]?.trusted == true)
        #expect(result.workers.map(\.counters.invalidations).reduce(0, +) == 2)
        #expect(router.stats.controlMessages == 3)
    }

    @Test func noZombiesAndNoLeakedDescriptorsAfterStop() throws {
        var ours: Set<String> = []
        var pids: [Int32] = []
        do {
            let manager = try WorkerManager(workerCount: 3, configuration: testConfiguration())
            for channel in manager.inputChannels {
                for fd in [
                    channel.ringFD, channel.dataWakeFD, channel.spaceWakeFD, channel.replyReadFD, channel.replyWriteFD,
                ] {
                    if let identity = fdIdentity(fd) { ours.insert(identity) }
                }
            }
            // Per worker: memfd, two eventfds, one pipe (both ends share the pipe inode).
            #expect(ours.count == 12)
            try manager.start()
            pids = manager.pids
            var router = try Router(channels: manager.inputChannels)
            var feed = SyntheticFeed(assets: 10, seed: 1)
            feed.emitBooks(into: &router)
            try router.flush()
            #expect(pidfdTargets().isSuperset(of: pids))
            _ = try manager.stop()
        }
        #expect(openFDIdentities().isDisjoint(with: ours))
        #expect(pidfdTargets().isDisjoint(with: pids))
        for pid in pids { #expect(!isZombieChild(pid)) }
    }

    @Test func missingExecutableFailsStartWithTheWorkerAndPath() throws {
        var configuration = testConfiguration()
        configuration.executable = URL(fileURLWithPath: "/nonexistent/replay")
        let manager = try WorkerManager(workerCount: 2, configuration: configuration)
        #expect(throws: EngineError.spawnFailed(worker: 0, executable: "/nonexistent/replay", errno: ENOENT)) {
            try manager.start()
        }
        #expect(!manager.isHealthy)
        #expect(manager.aliveCount == 0)
    }

    @Test func abandonedManagerKillsAndReapsItsWorkers() throws {
        var pids: [Int32] = []
        do {
            let manager = try WorkerManager(workerCount: 2, configuration: testConfiguration())
            try manager.start()
            pids = manager.pids
        }
        for pid in pids {
            #expect(!processExists(pid) || !isZombieChild(pid))
        }
    }
}
