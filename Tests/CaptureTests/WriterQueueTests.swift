import Capture
import Foundation
import Testing

private func frame(_ connection: UInt32, _ sequence: UInt64, _ text: String = "{}") -> CapturedFrame {
    CapturedFrame(
        connection: connection, sequence: sequence, wallNanoseconds: 1000 + sequence, monotonicNanoseconds: sequence,
        bytes: Array(text.utf8))
}

@Test func aFullQueueDropsCountsAndRecordsAGapBeforeTheNextFrame() throws {
    let counters = CaptureCounters()
    let queue = WriterQueue(capacityFrames: 2, capacityBytes: 1 << 20, fullWaitNanoseconds: 0, counters: counters)
    #expect(queue.push(frame: frame(1, 1), shard: 0))
    #expect(queue.push(frame: frame(1, 2), shard: 0))
    #expect(!queue.push(frame: frame(1, 3), shard: 0))
    #expect(!queue.push(frame: frame(1, 4), shard: 0))
    // Events are never dropped.
    queue.push(
        event: TimedConnectionEvent(
            wallNanoseconds: 0, monotonicNanoseconds: 0, event: .reconnecting(shard: 1, attempt: 1, delayNanoseconds: 1)
        ))
    var batch: [WriterItem] = []
    #expect(queue.take(into: &batch, maxWaitNanoseconds: 0))
    #expect(batch.count == 3)
    batch.removeAll()
    #expect(queue.push(frame: frame(1, 5), shard: 0))
    #expect(queue.take(into: &batch, maxWaitNanoseconds: 0))
    #expect(batch.count == 2)
    if case .event(let event) = batch.first,
        case .gap(let connection, _, let reason, let dropped, let since) = event.event
    {
        #expect(connection == 1)
        #expect(dropped == 2)
        #expect(since == 3)
        #expect(reason.contains("writer queue full"))
    } else {
        Issue.record("expected a gap event first, got \(batch)")
    }
    let snapshot = counters.snapshot()
    #expect(snapshot.queueDroppedFrames == 2)
    #expect(snapshot.queueFullEpisodes == 1)
    #expect(snapshot.queueHighWaterFrames == 2)
}

@Test func pendingDropsAreReportedBeforeTheConnectionsDisconnect() throws {
    let counters = CaptureCounters()
    let queue = WriterQueue(capacityFrames: 1, capacityBytes: 1 << 20, fullWaitNanoseconds: 0, counters: counters)
    queue.push(frame: frame(7, 1), shard: 2)
    queue.push(frame: frame(7, 2), shard: 2)
    var batch: [WriterItem] = []
    _ = queue.take(into: &batch, maxWaitNanoseconds: 0)
    batch.removeAll()
    queue.push(
        event: TimedConnectionEvent(
            wallNanoseconds: 5, monotonicNanoseconds: 5,
            event: .disconnected(connection: 7, shard: 2, closeCode: 1006, reason: "x")))
    _ = queue.take(into: &batch, maxWaitNanoseconds: 0)
    let names = batch.compactMap { item -> String? in if case .event(let e) = item { e.event.name } else { nil } }
    #expect(names == ["gap", "disconnected"])
}

@Test func byteCapacityBoundsTheQueueToo() {
    let counters = CaptureCounters()
    let queue = WriterQueue(capacityFrames: 100, capacityBytes: 10, fullWaitNanoseconds: 0, counters: counters)
    #expect(queue.push(frame: frame(1, 1, "123456"), shard: 0))
    #expect(!queue.push(frame: frame(1, 2, "123456"), shard: 0))
    // A single frame larger than the byte capacity is still accepted into an empty queue.
    var batch: [WriterItem] = []
    _ = queue.take(into: &batch, maxWaitNanoseconds: 0)
    #expect(queue.push(frame: frame(1, 3, String(repeating: "x", count: 50)), shard: 0))
}

@Test func closedQueueDrainsThenReportsTheEnd() {
    let queue = WriterQueue(
        capacityFrames: 10, capacityBytes: 1 << 20, fullWaitNanoseconds: 0, counters: CaptureCounters())
    queue.push(frame: frame(1, 1), shard: 0)
    queue.close()
    #expect(!queue.push(frame: frame(1, 2), shard: 0))
    var batch: [WriterItem] = []
    #expect(queue.take(into: &batch, maxWaitNanoseconds: 0))
    #expect(batch.count == 1)
    batch.removeAll()
    #expect(!queue.take(into: &batch, maxWaitNanoseconds: 0))
}

@Test func aReaderWaitsForRoomWhileTheWriterDrains() throws {
    let counters = CaptureCounters()
    let queue = WriterQueue(
        capacityFrames: 1, capacityBytes: 1 << 20, fullWaitNanoseconds: 10 * SessionPolicy.second, counters: counters)
    #expect(queue.push(frame: frame(1, 1), shard: 0))
    let writer = Thread {
        var batch: [WriterItem] = []
        usleep(50_000)
        _ = queue.take(into: &batch, maxWaitNanoseconds: 0)
    }
    writer.start()
    #expect(queue.push(frame: frame(1, 2), shard: 0))  // blocks until the writer took frame 1
    #expect(counters.snapshot().queueDroppedFrames == 0)
    #expect(queue.depth == 1)
}
