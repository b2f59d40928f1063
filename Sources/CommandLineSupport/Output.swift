// Writing what a command prints, with every failure reported: standard output goes through
// write(2), so a full disk, a closed or a broken stream is an error the command reports, never a
// trap or a silent loss.
import CShim
public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A write that failed: what was being written (`standard output`, a path) and the errno.
public struct OutputError: Error, CustomStringConvertible, Equatable {
    /// What the bytes were for: "standard output" or a file path.
    public var target: String
    public var code: Int32

    public init(target: String, code: Int32) {
        self.target = target
        self.code = code
    }

    /// The reader of a pipe went away (`| head -1`): not worth a message.
    public var isBrokenPipe: Bool { code == EPIPE }

    /// The system's words for the errno, e.g. "No space left on device".
    public var reason: String { String(cString: strerror(code)) }

    public var description: String { "cannot write to \(target): \(reason)" }
}

/// Writes all of `bytes` to `fd`, retrying after EINTR and partial writes.
public func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, target: String) throws(OutputError) {
    guard var next = bytes.baseAddress else { return }
    var left = bytes.count
    while left > 0 {
        let written = write(fd, next, left)
        if written < 0 {
            let code = errno
            if code == EINTR { continue }
            throw OutputError(target: target, code: code)
        }
        next += written
        left -= written
    }
}

/// Standard output (fd 1), unbuffered: each call is written before it returns, so text printed by
/// a command and bytes written by it stay in order, and a failed write is an error the command
/// reports (`Subcommand.main` prints it as one `Error:` line and exits 1; a broken pipe ends the
/// command quietly with `ExitStatus.brokenPipe`).
public enum StandardOutput {
    public static let target = "standard output"

    public static func write(_ bytes: UnsafeRawBufferPointer) throws(OutputError) {
        try writeAll(bytes, to: STDOUT_FILENO, target: target)
    }

    public static func write(_ data: Data) throws(OutputError) {
        try writeAll(data, to: STDOUT_FILENO, target: target)
    }

    /// Writes `text` and `terminator`, as `print` would.
    public static func print(_ text: String, terminator: String = "\n") throws(OutputError) {
        var data = Data(text.utf8)
        data.append(contentsOf: terminator.utf8)
        try write(data)
    }

    /// Flushes C stdio's `stdout` (anything printed with `print`) and reports a failed write
    /// there: the last line of defence of the executables' entry points.
    public static func flushStdio() throws(OutputError) {
        let code = cshim_flush_stdout()
        if code != 0 { throw OutputError(target: target, code: code) }
    }

    /// Gives fds 0, 1 and 2 a placeholder when they were closed at start (`>&-`), so files the
    /// program opens never take their numbers: writes to standard output then fail with EBADF
    /// and are reported, instead of landing in a tape or report file that got fd 1.
    public static func reserveClosedStandardStreams() {
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(fd, F_GETFD) < 0 && errno == EBADF {
            // Opened read-only: a write to it fails with EBADF, as to the closed stream.
            let placeholder = open("/dev/null", O_RDONLY)
            if placeholder >= 0 && placeholder != fd {
                dup2(placeholder, fd)
                close(placeholder)
            }
        }
    }
}

/// Writes all of `data` to `fd` (see `writeAll(_:to:target:)`).
public func writeAll(_ data: Data, to fd: Int32, target: String) throws(OutputError) {
    var failure: OutputError?
    data.withUnsafeBytes { raw in
        do throws(OutputError) {
            try writeAll(raw, to: fd, target: target)
        } catch {
            failure = error
        }
    }
    if let failure { throw failure }
}

/// Writes to standard error, ignoring failures: there is nowhere left to report them.
public func writeStandardError(_ text: String) {
    try? writeAll(Data(text.utf8), to: STDERR_FILENO, target: "standard error")
}
