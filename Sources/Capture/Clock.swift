// Time for the capture sessions. Every deadline (PING cadence, PONG timeout, data
// silence, reconnect backoff, flush interval) is computed from an injected clock so that
// tests drive hours of session behaviour in milliseconds without sleeping.
import CShim
import Glibc

/// The time source and sleeper used by capture sessions and the tape writer thread.
///
/// `monotonicNanoseconds` orders events and measures intervals; `wallNanoseconds` is what the
/// tape records as the receive time. `sleep(nanoseconds:unlessStopped:)` must return early
/// (with `false`) once `stop` is raised, so that a stop request never waits for a backoff.
public protocol CaptureClock: Sendable {
    func monotonicNanoseconds() -> UInt64
    func wallNanoseconds() -> UInt64
    /// Sleeps for up to `nanoseconds`; returns `false` if `stop` was raised before or during it.
    func sleep(nanoseconds: UInt64, unlessStopped stop: StopSignal) -> Bool
}

/// The machine's clocks: CLOCK_MONOTONIC and CLOCK_REALTIME, sleeping on the stop signal.
public struct SystemClock: CaptureClock {
    public init() {}
    public func monotonicNanoseconds() -> UInt64 { cshim_monotonic_ns() }
    public func wallNanoseconds() -> UInt64 { cshim_wall_ns() }
    public func sleep(nanoseconds: UInt64, unlessStopped stop: StopSignal) -> Bool {
        !stop.wait(nanoseconds: nanoseconds)
    }
}

/// A one-way stop flag that sleepers can wait on. Raised once (by a signal handler's
/// thread, a duration limit or a fatal writer error); never lowered.
public final class StopSignal: Sendable {
    private let lock = ConditionLock()
    // Guarded by `lock`; the class is Sendable because `ConditionLock` is.
    private let raised = Guarded(false)

    public init() {}

    /// True once `raise()` has been called.
    public var isRaised: Bool { lock.withLock { raised.value } }

    /// Raises the flag and wakes every waiter.
    public func raise() {
        lock.withLock { raised.value = true }
        lock.broadcast()
    }

    /// Waits up to `nanoseconds` for the flag; returns true if it is raised.
    public func wait(nanoseconds: UInt64) -> Bool {
        let deadline = cshim_monotonic_ns() &+ nanoseconds
        return lock.withLock {
            while !raised.value {
                let now = cshim_monotonic_ns()
                if now >= deadline { return false }
                lock.waitLocked(nanoseconds: deadline - now)
            }
            return true
        }
    }
}

/// A pthread mutex and condition variable (CLOCK_MONOTONIC) on the heap, for the few places
/// that need to sleep until another thread hands over work: the writer queue and stop signal.
/// `Synchronization.Mutex` has no condition variable.
final class ConditionLock: @unchecked Sendable {
    // @unchecked: the pointers are allocated once in init, never reassigned, freed in deinit,
    // and every use goes through pthread calls that are themselves thread-safe.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits on the condition for at most `nanoseconds`; the mutex must be held (inside `withLock`).
    func waitLocked(nanoseconds: UInt64) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = UInt64(now.tv_nsec) + nanoseconds % 1_000_000_000
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(nanoseconds / 1_000_000_000) + Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        pthread_cond_timedwait(condition, mutex, &deadline)
    }

    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }
}
