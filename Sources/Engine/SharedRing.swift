// A single-producer single-consumer byte ring in shared memory (memfd + mmap MAP_SHARED in the
// router process and in one worker process).
//
// Layout: a 4 KiB control page, then `capacity` bytes of data (a power of two).
//   +0    head  (u64, written by the producer: bytes ever published)
//   +128  tail  (u64, written by the consumer: bytes ever released)
//   +256  consumerSleeping (u32)      +384  producerWaiting (u32)   +448  producerWantsTail (u64)
// head and tail sit on separate cache lines (and 128 apart for adjacent-line prefetch).
// Records never straddle the end: a record that does not fit in the rest of the ring is
// preceded by a wrap marker (length 0xFFFF_FFFF) and starts at offset 0.
//
// Wake-ups cannot be lost: a sleeper stores its flag, issues a seq_cst fence and re-checks the
// index before blocking in poll(2) on its eventfd; the other side stores the index, issues a
// seq_cst fence and then reads the flag. With both fences, at least one of them sees the other's
// store (Dekker), so either the sleeper sees new data or the waker sees the flag and writes the
// eventfd. Extra eventfd counts only cause a spurious wake-up, which the loops tolerate.
import CShim
import Glibc

enum RingLayout {
    static let controlSize = 4096
    static let headOffset = 0
    static let tailOffset = 128
    static let consumerSleepingOffset = 256
    static let producerWaitingOffset = 384
    /// The tail a waiting producer wants before it is woken (hysteresis: a quarter ring).
    static let producerWantsTailOffset = 448
    static let minimumCapacity = 1 << 16
}

/// A mapping of one ring. The router's side creates it; a worker attaches to the inherited fd.
/// Unmapped on deinit; the memfd is closed by the owner once every process holds its own copy,
/// so the memory is freed with the last mapping (nothing to leak in /dev/shm).
/// Typed access to the ring's control block (head, tail, sleeping flags), shared by both ends.
protocol RingControlAccess {
    var control: UnsafeMutableRawPointer { get }
}

extension RingControlAccess {
    @inline(__always) func word(_ offset: Int) -> UnsafeMutablePointer<UInt64> {
        (control + offset).assumingMemoryBound(to: UInt64.self)
    }
    @inline(__always) func flag(_ offset: Int) -> UnsafeMutablePointer<UInt32> {
        (control + offset).assumingMemoryBound(to: UInt32.self)
    }
}

final class SharedRing: RingControlAccess {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    let mask: Int
    private let mappingSize: Int

    /// Creates a ring in a new memfd; returns the ring and the fd (close-on-exec) to hand to a worker.
    static func create(capacity: Int, name: String) throws(EngineError) -> (SharedRing, Int32) {
        guard capacity >= RingLayout.minimumCapacity, capacity & (capacity - 1) == 0 else {
            throw .invalidConfiguration("ring capacity must be a power of two ≥ 64 KiB, got \(capacity)")
        }
        let fd = cshim_memfd_create(name, 1 /* MFD_CLOEXEC */)
        if fd < 0 { throw .systemCall(name: "memfd_create", errno: errno, context: "creating ring \(name)") }
        if ftruncate(fd, off_t(RingLayout.controlSize + capacity)) != 0 {
            let code = errno
            Glibc.close(fd)
            throw .systemCall(name: "ftruncate", errno: code, context: "sizing ring \(name)")
        }
        do throws(EngineError) {
            let ring = try SharedRing(fd: fd, capacity: capacity)
            return (ring, fd)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Maps an existing ring fd (the worker side).
    init(fd: Int32, capacity: Int) throws(EngineError) {
        mappingSize = RingLayout.controlSize + capacity
        guard let pointer = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            pointer != MAP_FAILED
        else {
            throw .systemCall(name: "mmap", errno: errno, context: "mapping a ring of \(capacity) bytes")
        }
        base = pointer
        self.capacity = capacity
        mask = capacity - 1
    }

    deinit { munmap(base, mappingSize) }

    var data: UnsafeMutableRawPointer { base + RingLayout.controlSize }

    /// The control block sits at the start of the mapping.
    var control: UnsafeMutableRawPointer { base }

    /// Test hook: the address of the producer-waiting flag, readable from any thread with
    /// `SharedRing.isFlagSet(address:)` (a router blocked on a full ring has it set).
    var producerWaitingAddress: Int { Int(bitPattern: flag(RingLayout.producerWaitingOffset)) }

    static func isFlagSet(address: Int) -> Bool {
        guard let pointer = UnsafeMutablePointer<UInt32>(bitPattern: address) else { return false }
        return cshim_atomic_load32(pointer) != 0
    }

    /// Largest record the ring accepts (half the ring, so a wrap never deadlocks).
    var maxRecordSize: Int { capacity / 2 }
}

/// The producer's private state for one ring: where it writes next, what it last saw of the
/// consumer's tail, and how many records it has written but not yet published.
struct RingProducer: RingControlAccess {
    /// Keeps the mapping alive; the hot path uses the plain copies below (no ARC traffic).
    let ring: SharedRing
    let dataWakeFD: Int32
    let spaceWakeFD: Int32
    let capacity: Int
    let mask: Int
    let data: UnsafeMutableRawPointer
    let control: UnsafeMutableRawPointer
    var localHead: UInt64 = 0
    var cachedTail: UInt64 = 0
    var unpublishedRecords: Int = 0
    /// Set when the pool stops: the router must not write into a ring nobody reads.
    var isClosed = false
    /// Stall watch (see `pendingNanos(now:)`): the consumer's tail at the last look, and since
    /// when (monotonic ns, 0 = nothing pending) it has had bytes to read without releasing any.
    var watchedTail: UInt64 = 0
    var pendingSinceNanos: UInt64 = 0

    init(ring: SharedRing, dataWakeFD: Int32, spaceWakeFD: Int32) {
        self.ring = ring
        self.dataWakeFD = dataWakeFD
        self.spaceWakeFD = spaceWakeFD
        capacity = ring.capacity
        mask = ring.mask
        data = ring.data
        control = ring.base
    }

    /// Bytes needed to place a record of `size` at the current head, including a wrap skip.
    @inline(__always)
    func bytesNeeded(_ size: Int) -> Int {
        let index = Int(localHead) & mask
        let contiguous = capacity - index
        return contiguous >= size ? size : contiguous + size
    }

    @inline(__always)
    mutating func hasSpace(_ needed: Int) -> Bool {
        if Int(localHead &- cachedTail) + needed <= capacity { return true }
        cachedTail = cshim_atomic_load_acquire(word(RingLayout.tailOffset))
        return Int(localHead &- cachedTail) + needed <= capacity
    }

    /// Returns where to write a record of `size` bytes; call only after `hasSpace(bytesNeeded(size))`.
    @inline(__always)
    mutating func claim(_ size: Int) -> UnsafeMutableRawPointer {
        var index = Int(localHead) & mask
        if capacity - index < size {
            (data + index).storeBytes(of: RecordCodec.wrapMarker, as: UInt32.self)
            localHead &+= UInt64(capacity - index)
            index = 0
        }
        return data + index
    }

    @inline(__always)
    mutating func commit(_ size: Int) {
        localHead &+= UInt64(size)
        unpublishedRecords += 1
    }

    /// Makes every written record visible and wakes the consumer if it sleeps.
    @inline(__always)
    mutating func publish() {
        unpublishedRecords = 0
        cshim_atomic_store_release(word(RingLayout.headOffset), localHead)
        cshim_fence_seq_cst()
        let sleeping = flag(RingLayout.consumerSleepingOffset)
        if cshim_atomic_load32(sleeping) != 0 && cshim_atomic_exchange32(sleeping, 0) != 0 {
            SystemCalls.signalEventFD(dataWakeFD)
        }
    }

    /// How long (ns) the consumer has had published bytes to read without releasing any: 0
    /// when its ring is empty (an idle consumer is not stalled) or its tail moved since the last
    /// look. Progress is the tail advancing, which the consumer already publishes at least every
    /// 64 records and whenever it runs dry, so a slow consumer that keeps going never counts.
    /// Measured from the first look that saw the bytes pending, so it never overstates.
    mutating func pendingNanos(now: UInt64) -> UInt64 {
        let tail = cshim_atomic_load_acquire(word(RingLayout.tailOffset))
        cachedTail = tail
        // The head is this producer's own store: a relaxed load sees its latest value.
        let published = cshim_atomic_load_relaxed(word(RingLayout.headOffset))
        if tail == published {
            watchedTail = tail
            pendingSinceNanos = 0
            return 0
        }
        if tail != watchedTail || pendingSinceNanos == 0 {
            watchedTail = tail
            pendingSinceNanos = now
            return 0
        }
        return now &- pendingSinceNanos
    }

    /// Bytes published but not yet released by the consumer.
    var unreadBytes: UInt64 {
        cshim_atomic_load_relaxed(word(RingLayout.headOffset)) &- cshim_atomic_load_acquire(word(RingLayout.tailOffset))
    }

    /// Blocks until `needed` bytes are free, `deadline` (monotonic ns) passes, `isAlive` says
    /// the consumer is gone, or the consumer releases nothing for `stallNanos` while bytes wait
    /// for it (`pendingNanos`; `.max` disables the check). Publishes first so the consumer can
    /// make progress.
    mutating func waitForSpace(
        _ needed: Int, deadline: UInt64, stallNanos: UInt64 = .max, isAlive: () -> Bool
    ) -> SpaceWait {
        publish()
        let waiting = flag(RingLayout.producerWaitingOffset)
        // Ask to be woken only once a quarter of the ring is free, so a router faster than its
        // worker refills in large bursts instead of waking every time 64 records are released.
        let wanted = UInt64(max(needed, capacity / 4))
        let wantTail = localHead &+ wanted >= UInt64(capacity) ? localHead &+ wanted &- UInt64(capacity) : 0
        cshim_atomic_store_release(word(RingLayout.producerWantsTailOffset), wantTail)
        while true {
            if hasSpace(needed) { return .ready }
            cshim_atomic_store32(waiting, 1)
            cshim_fence_seq_cst()
            if hasSpace(needed) {
                cshim_atomic_store32(waiting, 0)
                return .ready
            }
            let now = cshim_monotonic_ns()
            if !isAlive() {
                cshim_atomic_store32(waiting, 0)
                return .consumerGone
            }
            if now >= deadline {
                cshim_atomic_store32(waiting, 0)
                return .timedOut
            }
            let pending = pendingNanos(now: now)
            if pending >= stallNanos {
                cshim_atomic_store32(waiting, 0)
                return .stalled(nanos: pending)
            }
            // Short waits so a dead or stalled consumer is noticed within ~20 ms of the limit
            // even if no wake-up comes.
            let remainingMs = Int32(min((deadline - now) / 1_000_000 + 1, 20))
            _ = SystemCalls.waitReadable(spaceWakeFD, timeoutMs: remainingMs)
            SystemCalls.drainEventFD(spaceWakeFD)
        }
    }
}

/// How `RingProducer.waitForSpace` ended.
enum SpaceWait: Equatable {
    /// The space is there.
    case ready
    /// The deadline passed first.
    case timedOut
    /// The consumer process is gone.
    case consumerGone
    /// The consumer released nothing for this many ns while bytes waited for it.
    case stalled(nanos: UInt64)
}

/// The consumer's side of a ring (used by the worker process, and in-process by tests).
struct RingConsumer: RingControlAccess {
    /// Keeps the mapping alive; the hot path uses the plain copies below (no ARC traffic).
    let ring: SharedRing
    let dataWakeFD: Int32
    let spaceWakeFD: Int32
    let capacity: Int
    let mask: Int
    let data: UnsafeMutableRawPointer
    let control: UnsafeMutableRawPointer
    var tail: UInt64 = 0
    var head: UInt64 = 0

    init(ring: SharedRing, dataWakeFD: Int32, spaceWakeFD: Int32) {
        self.ring = ring
        self.dataWakeFD = dataWakeFD
        self.spaceWakeFD = spaceWakeFD
        capacity = ring.capacity
        mask = ring.mask
        data = ring.data
        control = ring.base
        tail = cshim_atomic_load_relaxed(word(RingLayout.tailOffset))
    }

    /// Refreshes the view of the producer's head; true when there is something to read.
    @inline(__always)
    mutating func refresh() -> Bool {
        head = cshim_atomic_load_acquire(word(RingLayout.headOffset))
        return head != tail
    }

    /// The next record in the published range, skipping wrap markers; nil when caught up.
    @inline(__always)
    mutating func next() -> UnsafeRawPointer? {
        while tail != head {
            let index = Int(tail) & mask
            let pointer = UnsafeRawPointer(data + index)
            let length = pointer.load(as: UInt32.self)
            if length == RecordCodec.wrapMarker {
                tail &+= UInt64(capacity - index)
                continue
            }
            return pointer
        }
        return nil
    }

    @inline(__always)
    mutating func advance(_ length: Int) { tail &+= UInt64(length) }

    /// Publishes the tail (frees space) and wakes a waiting producer once the tail reaches the
    /// point it asked for.
    @inline(__always)
    mutating func release() {
        cshim_atomic_store_release(word(RingLayout.tailOffset), tail)
        cshim_fence_seq_cst()
        let waiting = flag(RingLayout.producerWaitingOffset)
        if cshim_atomic_load32(waiting) != 0
            && tail >= cshim_atomic_load_acquire(word(RingLayout.producerWantsTailOffset))
            && cshim_atomic_exchange32(waiting, 0) != 0
        {
            SystemCalls.signalEventFD(spaceWakeFD)
        }
    }

    /// Sleeps until data arrives or `timeoutMs` passes, with the lost-wake-up-free protocol.
    mutating func sleep(timeoutMs: Int32) {
        release()
        let sleeping = flag(RingLayout.consumerSleepingOffset)
        cshim_atomic_store32(sleeping, 1)
        cshim_fence_seq_cst()
        if refresh() {
            cshim_atomic_store32(sleeping, 0)
            return
        }
        _ = SystemCalls.waitReadable(dataWakeFD, timeoutMs: timeoutMs)
        SystemCalls.drainEventFD(dataWakeFD)
        cshim_atomic_store32(sleeping, 0)
    }
}
