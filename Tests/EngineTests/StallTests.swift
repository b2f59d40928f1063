import Dispatch
import Feed
import Foundation
import Glibc
import Synchronization
import Testing

@testable import Engine

/// SIGKILLs `pid` if `body` has not returned within `seconds`, so a broken stall detection
/// fails the test (the router then sees a dead worker) instead of hanging the suite.
func withWatchdog<R>(killing pid: Int32, after seconds: Int, _ body: () throws -> R) rethrows -> R {
    let finished = DispatchSemaphore(value: 0)
    let watchdog = Thread {
        if finished.wait(timeout: .now() + .seconds(seconds)) == .timedOut { kill(pid, SIGKILL) }
    }
    watchdog.start()
    defer { finished.signal() }
    return try body()
}

/// A configuration with a short stall timeout.
func stallConfiguration(stallTimeout: Duration = .seconds(1)) -> WorkerManager.Configuration {
    var configuration = testConfiguration(ringCapacity: 1 << 16)
    configuration.stallTimeout = stallTimeout
    return configuration
}

/// An asset id that routes to `worker` of `workerCount` under md5.
func asset(routingTo worker: Int, of workerCount: Int) throws -> String {
    for candidate in 0..<1000
    where try Router.worker(forAssetID: "asset-\(candidate)", workerCount: workerCount) == worker {
        return "asset-\(candidate)"
    }
    Issue.record("no asset routes to worker \(worker)")
    return "asset-0"
}

/// Routes price changes for `assetID` until the router fails or `limit` events were sent.
func routeUntilFailure(_ router: inout Router, assetID: String, limit: Int = 2_000_000) -> Int {
    var sent = 0
    while router.failure == nil && sent < limit {
        withPriceChange(asset: assetID, cents: 40, size: Int64(1 + sent % 7), side: .bid) { router.onPriceChange($0) }
        sent += 1
    }
    return sent
}

@Suite struct StallTests {
    @Test func defaultStallTimeoutIsThreeHeartbeatsButAtLeastTenSeconds() {
        #expect(WorkerManager.Configuration().stallTimeout == .seconds(15))
        #expect(WorkerManager.Configuration(heartbeatInterval: .seconds(1)).stallTimeout == .seconds(10))
        #expect(WorkerManager.Configuration(heartbeatInterval: .seconds(20)).stallTimeout == .seconds(60))
        #expect(WorkerManager.Configuration(stallTimeout: .seconds(2)).stallTimeout == .seconds(2))
    }

    @Test func aZeroStallTimeoutIsRejected() {
        var configuration = testConfiguration()
        configuration.stallTimeout = .zero
        #expect(throws: EngineError.self) { try WorkerManager(workerCount: 1, configuration: configuration) }
    }

    /// A worker that stops consuming (test-only hang record) with a full ring: the blocked router
    /// fails with `.workerStalled` instead of waiting forever, and stop kills the worker at once
    /// (SIGKILL, not the SIGTERM it would get at 60 % of the budget) while the other one drains.
    @Test func routerBlockedOnAHungWorkersFullRingFailsWithWorkerStalled() throws {
        let manager = try WorkerManager(workerCount: 2, configuration: stallConfiguration())
        try manager.start()
        let victim = manager.pids[0]
        var router = try Router(channels: manager.inputChannels)
        try router.awaitWorkers()
        try router.sendTestHang(worker: 0, ignoreTerm: false)
        let assetID = try asset(routingTo: 0, of: 2)
        withWatchdog(killing: victim, after: 60) { _ = routeUntilFailure(&router, assetID: assetID) }
        guard case .workerStalled(let worker, let pid, let seconds) = router.failure else {
            Issue.record("expected workerStalled, got \(String(describing: router.failure))")
            _ = try manager.stop(timeout: .seconds(2))
            return
        }
        #expect(worker == 0)
        #expect(pid == victim)
        #expect(seconds >= 1.0)
        let message = router.failure?.description ?? ""
        #expect(message.contains("worker 0 (pid \(victim))"), "\(message)")
        #expect(message.contains("SIGSTOP"), "\(message)")
        #expect(message.contains("aborted"), "\(message)")
        #expect(router.stats.queueFullEvents >= 1)
        #expect(throws: EngineError.self) { try router.flush() }
        let result = try manager.stop(timeout: .seconds(10))
        #expect(result.workers[0].stopStep == .killed)
        #expect(result.workers[0].exit == .signaled(signal: SIGKILL))
        #expect(result.workers[1].drained)
    }

    /// A real worker stopped with SIGSTOP: the router fails with `.workerStalled` once the ring
    /// is full, and stop kills and reaps the stopped process (SIGKILL ends stopped processes).
    @Test func sigstoppedWorkerIsDetectedKilledAndReaped() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: stallConfiguration())
        try manager.start()
        let victim = manager.pids[0]
        var router = try Router(channels: manager.inputChannels)
        try router.awaitWorkers()
        #expect(kill(victim, SIGSTOP) == 0)
        var stopped = true
        defer { if stopped { kill(victim, SIGKILL) } }
        withWatchdog(killing: victim, after: 60) { _ = routeUntilFailure(&router, assetID: "asset-1") }
        #expect(router.failure?.description.contains("worker 0 (pid \(victim)) consumed nothing") == true)
        if case .workerStalled = router.failure {} else { Issue.record("got \(String(describing: router.failure))") }
        let result = try manager.stop(timeout: .seconds(10))
        stopped = false
        #expect(result.workers[0].stopStep == .killed)
        #expect(result.workers[0].exit == .signaled(signal: SIGKILL))
        #expect(!processExists(victim) || !isZombieChild(victim))
    }

    /// At recorded speed the ring never fills: `flush()` notices a stopped worker whose queued
    /// messages stay unread for the stall timeout.
    @Test func flushNoticesAStoppedWorkerWithUnreadMessagesInANonFullRing() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: stallConfiguration())
        try manager.start()
        let victim = manager.pids[0]
        var router = try Router(channels: manager.inputChannels)
        try router.awaitWorkers()
        #expect(kill(victim, SIGSTOP) == 0)
        var stopped = true
        defer { if stopped { kill(victim, SIGKILL) } }
        withPriceChange(asset: "asset-1", cents: 40, size: 1, side: .bid) { router.onPriceChange($0) }
        try router.flush()  // just published: pending, but not for long
        let deadline = ContinuousClock.now + .seconds(15)
        var failure: (any Error)?
        while failure == nil && ContinuousClock.now < deadline {
            usleep(50_000)
            do { try router.flush() } catch { failure = error }
        }
        guard case .workerStalled(let worker, let pid, let seconds) = failure as? EngineError else {
            Issue.record("expected workerStalled, got \(String(describing: failure))")
            return
        }
        #expect(worker == 0 && pid == victim && seconds >= 1.0)
        let result = try manager.stop(timeout: .seconds(10))
        stopped = false
        #expect(result.workers[0].stopStep == .killed)
    }

    /// A worker that keeps getting stopped for 150 ms and continued is slow but progressing:
    /// with a 3 s stall timeout (margin for a loaded machine) it is never flagged, and every
    /// message arrives.
    @Test func slowButProgressingWorkerIsNotFlagged() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: stallConfiguration(stallTimeout: .seconds(3)))
        try manager.start()
        let victim = manager.pids[0]
        var router = try Router(channels: manager.inputChannels)
        try router.awaitWorkers()
        let done = Atomic<Bool>(false)
        let throttled = DispatchSemaphore(value: 0)
        let throttle = Thread {
            while !done.load(ordering: .acquiring) {
                kill(victim, SIGSTOP)
                usleep(150_000)
                kill(victim, SIGCONT)
                usleep(30_000)
            }
            kill(victim, SIGCONT)
            throttled.signal()
        }
        throttle.start()
        let total = 60_000
        for index in 0..<total {
            withPriceChange(asset: "asset-\(index % 5)", cents: 40 + Int64(index % 9), size: 1, side: .ask) {
                router.onPriceChange($0)
            }
        }
        done.store(true, ordering: .releasing)
        throttled.wait()
        #expect(router.failure == nil)
        try router.flush()
        #expect(router.stats.routed == UInt64(total))
        #expect(router.stats.queueFullEvents >= 1, "the ring never filled: the test did not exercise a slow worker")
        let result = try manager.stop(timeout: .seconds(10))
        #expect(result.workers[0].drained)
        #expect(result.workers[0].stats.messagesProcessed == UInt64(total))
    }

    /// An idle worker with an empty ring (a quiet stretch of a paced replay) is not stalled, for
    /// however long it stays idle.
    @Test func idleWorkerWithAnEmptyRingIsNotFlagged() throws {
        let manager = try WorkerManager(workerCount: 1, configuration: stallConfiguration())
        try manager.start()
        var router = try Router(channels: manager.inputChannels)
        try router.awaitWorkers()
        withPriceChange(asset: "asset-1", cents: 40, size: 1, side: .bid) { router.onPriceChange($0) }
        try router.flush()
        let channel = manager.inputChannels[0]
        #expect(waitUntil { channel.producer.unreadBytes == 0 })
        usleep(1_500_000)  // idle for longer than the stall timeout
        try router.flush()
        withPriceChange(asset: "asset-1", cents: 41, size: 1, side: .bid) { router.onPriceChange($0) }
        try router.flush()
        #expect(router.failure == nil)
        let result = try manager.stop(timeout: .seconds(10))
        #expect(result.workers[0].drained)
    }

    /// Ring level: a consumer that releases one record every 10 ms never makes a producer with
    /// a 1 s stall limit report a stall, although the producer waits for space all the time.
    @Test func slowConsumerNeverStallsTheProducerWait() throws {
        let (ring, memfd) = try SharedRing.create(capacity: 1 << 16, name: "polytape-ring-stall-test")
        SystemCalls.close(memfd)
        let dataFD = try SystemCalls.makeEventFD("test")
        let spaceFD = try SystemCalls.makeEventFD("test")
        defer {
            SystemCalls.close(dataFD)
            SystemCalls.close(spaceFD)
        }
        let total = 64
        let size = 4096
        let shared = SendableRing(ring)
        let done = DispatchSemaphore(value: 0)
        let consumerThread = Thread {
            var consumer = RingConsumer(ring: shared.ring, dataWakeFD: dataFD, spaceWakeFD: spaceFD)
            var seen = 0
            while seen < total {
                if consumer.refresh() {
                    while let record = consumer.next() {
                        usleep(10_000)
                        consumer.advance(Int(record.load(as: UInt32.self)))
                        consumer.release()
                        seen += 1
                    }
                } else {
                    consumer.sleep(timeoutMs: 100)
                }
            }
            done.signal()
        }
        consumerThread.start()
        var producer = RingProducer(ring: ring, dataWakeFD: dataFD, spaceWakeFD: spaceFD)
        var outcomes: [SpaceWait] = []
        for _ in 0..<total {
            let needed = producer.bytesNeeded(size)
            if !producer.hasSpace(needed) {
                outcomes.append(
                    producer.waitForSpace(needed, deadline: .max, stallNanos: 1_000_000_000, isAlive: { true }))
            }
            let target = producer.claim(size)
            target.storeBytes(of: UInt32(size), as: UInt32.self)
            producer.commit(size)
            producer.publish()
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(!outcomes.isEmpty, "the ring never filled")
        #expect(outcomes.allSatisfy { $0 == .ready }, "\(outcomes)")
    }
}
