// The raw syscalls the pool uses, wrapped once: EINTR is retried here and failures become
// `EngineError.systemCall` with the call's name and what the pool was doing.
import CShim
import Glibc

enum SystemCalls {
    static func check(_ result: Int32, _ name: String, _ context: @autoclosure () -> String) throws(EngineError)
        -> Int32
    {
        if result < 0 { throw EngineError.systemCall(name: name, errno: errno, context: context()) }
        return result
    }

    /// An eventfd that never blocks the caller (readers block in poll instead) and is not inherited.
    static func makeEventFD(_ context: String) throws(EngineError) -> Int32 {
        try check(cshim_eventfd(0, cshim_efd_cloexec() | cshim_efd_nonblock()), "eventfd", context)
    }

    /// A close-on-exec pipe: (read end, write end).
    static func makePipe(_ context: String) throws(EngineError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try check(cshim_pipe_cloexec(&fds), "pipe2", context)
        return (fds[0], fds[1])
    }

    static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Adds one to an eventfd counter (a wake-up). EAGAIN means the counter is saturated,
    /// which already guarantees a wake-up.
    static func signalEventFD(_ fd: Int32) {
        var one: UInt64 = 1
        while true {
            let written = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
            if written >= 0 || errno != EINTR { return }
        }
    }

    /// Resets an eventfd counter without blocking.
    static func drainEventFD(_ fd: Int32) {
        var value: UInt64 = 0
        while true {
            let count = withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) }
            if count >= 0 || errno != EINTR { return }
        }
    }

    /// Waits until `fd` is readable or `timeoutMs` passes (-1: forever). Returns true if readable.
    static func waitReadable(_ fd: Int32, timeoutMs: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let result = poll(&pfd, 1, timeoutMs)
            if result >= 0 { return result > 0 }
            if errno != EINTR { return false }
        }
    }

    /// Writes every byte, retrying short writes and EINTR. Returns false on any other error.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    _ = waitWritable(fd)
                    continue
                }
                return false
            }
            offset += written
        }
        return true
    }

    static func waitWritable(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        return poll(&pfd, 1, 100) > 0
    }

    /// Reads what is available into `buffer`. Returns bytes read, 0 at end of file, -1 for
    /// "nothing now" (EAGAIN) and -2 for an error.
    static func readAvailable(_ fd: Int32, into buffer: inout [UInt8], chunk: Int = 65536) -> Int {
        let start = buffer.count
        buffer.reserveCapacity(start + chunk)
        var result = 0
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        while true {
            result = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + start, chunk) }
            if result >= 0 || errno != EINTR { break }
        }
        if result > 0 {
            buffer.removeLast(chunk - result)
            return result
        }
        buffer.removeLast(chunk)
        if result == 0 { return 0 }
        return errno == EAGAIN ? -1 : -2
    }

    /// Number of online CPUs.
    static var onlineCPUCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}
