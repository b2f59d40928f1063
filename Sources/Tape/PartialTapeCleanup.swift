// Ctrl-C or SIGTERM while a tape tool writes `-o OUT`: the half-written partial file is removed
// before the process ends, so an interrupted tool leaves nothing behind (as a failed one does).
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The partial file of the `TapeWriter` writing a single-file tape, kept as a C string so that a
/// signal handler can unlink it with async-signal-safe calls only. One per process: the tape
/// tools write one tape at a time.
public enum PartialTapeCleanup {
    /// PATH_MAX bytes for the path, written only while `armed` is false.
    nonisolated(unsafe) private static let path = UnsafeMutablePointer<CChar>.allocate(capacity: Int(PATH_MAX) + 1)
    private static let armed = Atomic<Bool>(false)

    /// Called by `TapeWriter` when it creates a partial file.
    static func remember(_ partial: String) {
        armed.store(false, ordering: .sequentiallyConsistent)
        let bytes = Array(partial.utf8.prefix(Int(PATH_MAX)))
        for (index, byte) in bytes.enumerated() { path[index] = CChar(bitPattern: byte) }
        path[bytes.count] = 0
        armed.store(true, ordering: .sequentiallyConsistent)
    }

    /// Called by `TapeWriter` when the partial file was renamed into place or removed.
    static func forget() {
        armed.store(false, ordering: .sequentiallyConsistent)
    }

    /// Makes SIGINT and SIGTERM remove the partial file being written (if any), say so on
    /// standard error, and end the process with status 130.
    public static func installSignalHandlers() {
        // Touch the statics now: their lazy initialisation is not async-signal-safe.
        _ = path
        _ = armed.load(ordering: .relaxed)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { _ in
                // Only async-signal-safe calls: unlink(2), write(2), _exit(2).
                if PartialTapeCleanup.armed.exchange(false, ordering: .sequentiallyConsistent) {
                    unlink(PartialTapeCleanup.path)
                }
                let message: StaticString = "\nreplay: interrupted: the tape was not written\n"
                _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
                _exit(130)
            }
        }
    }
}
