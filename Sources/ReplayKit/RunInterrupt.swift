// Ctrl-C during `replay run`: stop reading, drain the workers, report what was replayed.
import Glibc
import Synchronization

/// Set by SIGINT/SIGTERM/SIGHUP (a closed terminal) while a run is in progress; the run loop checks it once per frame.
/// A second signal (more than 0.3 s after the first) restores the default action, so pressing
/// Ctrl-C twice always ends the process.
public enum RunInterrupt {
    private static let requestedFlag = Atomic<Bool>(false)
    /// When the first signal came (CLOCK_MONOTONIC ns): a second one within `duplicateWindowNs`
    /// is the same request delivered twice (`timeout` signals the child and then its group),
    /// not a person pressing Ctrl-C again.
    private static let firstSignalNs = Atomic<Int64>(0)
    static let duplicateWindowNs: Int64 = 300_000_000

    public static var requested: Bool { requestedFlag.load(ordering: .relaxed) }

    /// Installs the handlers; the workers ignore SIGINT and lead their own process groups, so
    /// only this process reacts.
    public static func install() {
        requestedFlag.store(false, ordering: .relaxed)
        firstSignalNs.store(0, ordering: .relaxed)
        // A parent may have spawned us with these signals blocked (the mask is inherited):
        // unblock them on this thread, or Ctrl-C and `kill` would wait until the run ends.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { number in
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)  // async-signal-safe
                let nowNs = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
                _ = RunInterrupt.firstSignalNs.compareExchange(expected: 0, desired: nowNs, ordering: .relaxed)
                if RunInterrupt.requestedFlag.exchange(true, ordering: .relaxed) {
                    if nowNs - RunInterrupt.firstSignalNs.load(ordering: .relaxed) < RunInterrupt.duplicateWindowNs {
                        return
                    }
                    // Only async-signal-safe calls here: write(2) of a static message.
                    let message: StaticString = "\nreplay: second interrupt: stopping at once, without a report\n"
                    _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
                    signal(number, SIG_DFL)
                    raise(number)
                }
            }
        }
    }

    /// Restores the default actions (after the run).
    public static func uninstall() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        signal(SIGHUP, SIG_DFL)
    }
}
