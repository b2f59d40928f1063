// The bounded hand-off between socket reader threads and the single tape writer thread.
//
// Readers must never block on disk: a push waits at most `fullWait` for room and then
// drops the frame, counts it, and remembers the drop so that a `gap` event is queued in
// front of that connection's next frame (or its disconnect). Lifecycle events are never
// dropped: they are rare and replay depends on them.
import CShim

/// An item for the writer thread.
public enum WriterItem: Sendable {
    case frame(CapturedFrame)
    case event(TimedConnectionEvent)
}

/// Bounded multi-producer, single-consumer queue of frames and events.
public final class WriterQueue: Sendable {
    private struct PendingDrop {
        var shard: Int
        var count: UInt64
        var sinceMonotonic: UInt64
    }

    private struct State {
        var items: [WriterItem] = []
        var bytes = 0
        var frames = 0
        var closed = false
        var pendingDrops: [UInt32: PendingDrop] = [:]
        var inFullEpisode = false
    }

    private let lock = ConditionLock()
    private let state: Guarded<State>
    private let counters: CaptureCounters
    /// Most frames held at once.
    public let capacityFrames: Int
    /// Most frame bytes held at once.
    public let capacityBytes: Int
    /// How long a reader waits for room before dropping.
    public let fullWaitNanoseconds: UInt64
    private let wakeThreshold: Int

    public init(capacityFrames: Int, capacityBytes: Int, fullWaitNanoseconds: UInt64, counters: CaptureCounters) {
        self.capacityFrames = max(1, capacityFrames)
        self.capacityBytes = max(1, capacityBytes)
        self.fullWaitNanoseconds = fullWaitNanoseconds
        self.counters = counters
        self.wakeThreshold = max(1, self.capacityFrames / 4)
        var initial = State()
        initial.items.reserveCapacity(min(self.capacityFrames, 65536))
        self.state = Guarded(initial)
    }

    /// Queues a frame; returns false if it was dropped because the queue stayed full.
    @discardableResult
    public func push(frame: CapturedFrame, shard: Int) -> Bool {
        let size = frame.bytes.count
        var wake = false
        let accepted: Bool = lock.withLock {
            var waited = false
            let deadline = cshim_monotonic_ns() &+ fullWaitNanoseconds
            while !state.value.closed && isFull(adding: size) {
                let now = cshim_monotonic_ns()
                if waited && now >= deadline || fullWaitNanoseconds == 0 { break }
                waited = true
                lock.broadcast()  // make sure the writer is draining
                lock.waitLocked(nanoseconds: deadline > now ? deadline - now : 0)
            }
            if state.value.closed { return false }
            if isFull(adding: size) {
                recordDrop(connection: frame.connection, shard: shard, monotonic: frame.monotonicNanoseconds)
                return false
            }
            state.value.inFullEpisode = false
            if let drop = state.value.pendingDrops.removeValue(forKey: frame.connection) {
                appendGap(
                    for: frame.connection, drop: drop, wall: frame.wallNanoseconds,
                    monotonic: frame.monotonicNanoseconds)
                wake = true
            }
            state.value.items.append(.frame(frame))
            state.value.frames += 1
            state.value.bytes += size
            counters.raiseHighWater(state.value.frames)
            if state.value.frames >= wakeThreshold || state.value.bytes >= capacityBytes / 4 { wake = true }
            return true
        }
        // Broadcast, not signal: readers waiting for room share the condition with the writer.
        if wake { lock.broadcast() }
        return accepted
    }

    /// Queues a lifecycle event; never dropped. Pending drops of the event's connection are
    /// reported first as a `gap` so the tape shows them before the disconnect.
    public func push(event: TimedConnectionEvent) {
        lock.withLock {
            guard !state.value.closed else { return }
            if let connection = event.event.connectionID,
                let drop = state.value.pendingDrops.removeValue(forKey: connection)
            {
                appendGap(
                    for: connection, drop: drop, wall: event.wallNanoseconds,
                    monotonic: event.monotonicNanoseconds)
            }
            state.value.items.append(.event(event))
        }
        lock.broadcast()
    }

    /// Moves everything queued into `batch` (which must be empty), waiting up to
    /// `maxWaitNanoseconds` for enough to arrive. Returns false once the queue is closed and drained.
    public func take(into batch: inout [WriterItem], maxWaitNanoseconds: UInt64) -> Bool {
        lock.withLock {
            if state.value.items.count < wakeThreshold && !state.value.closed && maxWaitNanoseconds > 0 {
                lock.waitLocked(nanoseconds: maxWaitNanoseconds)
            }
            swap(&batch, &state.value.items)
            state.value.frames = 0
            state.value.bytes = 0
            let more = !(state.value.closed && batch.isEmpty)
            lock.broadcast()  // wake readers waiting for room
            return more
        }
    }

    /// Frames currently queued.
    public var depth: Int { lock.withLock { state.value.frames } }

    /// No more pushes are accepted; the writer drains what is left and stops.
    public func close() {
        lock.withLock { state.value.closed = true }
        lock.broadcast()
    }

    private func isFull(adding size: Int) -> Bool {
        state.value.frames >= capacityFrames || (state.value.frames > 0 && state.value.bytes + size > capacityBytes)
    }

    private func recordDrop(connection: UInt32, shard: Int, monotonic: UInt64) {
        counters.queueDroppedFrames.add(1, ordering: .relaxed)
        if !state.value.inFullEpisode {
            state.value.inFullEpisode = true
            counters.queueFullEpisodes.add(1, ordering: .relaxed)
        }
        if state.value.pendingDrops[connection] == nil {
            state.value.pendingDrops[connection] = PendingDrop(shard: shard, count: 0, sinceMonotonic: monotonic)
        }
        state.value.pendingDrops[connection]!.count += 1
    }

    private func appendGap(for connection: UInt32, drop: PendingDrop, wall: UInt64, monotonic: UInt64) {
        let gap = ConnectionEvent.gap(
            connection: connection, shard: drop.shard,
            reason: "writer queue full: \(drop.count) frame(s) dropped (disk too slow?)",
            droppedFrames: drop.count, sinceMonotonicNanoseconds: drop.sinceMonotonic)
        state.value.items.append(
            .event(TimedConnectionEvent(wallNanoseconds: wall, monotonicNanoseconds: monotonic, event: gap)))
    }
}

extension ConnectionEvent {
    /// The physical connection an event belongs to, if any.
    public var connectionID: UInt32? {
        switch self {
        case .connected(let connection, _, _, _), .subscribed(let connection, _, _),
            .disconnected(let connection, _, _, _), .gap(let connection, _, _, _, _):
            connection
        case .connectFailed, .reconnecting: nil
        }
    }
}

/// A value only touched while its owner's `ConditionLock` is held.
final class Guarded<Value>: @unchecked Sendable {
    // @unchecked: owners (WriterQueue) access `value` only inside `lock.withLock`, which
    // serialises all reads and writes; the box is private to its owner.
    var value: Value
    init(_ value: Value) { self.value = value }
}
