// The one error type of the Engine module: what happened, to which worker, and what to do.
import Glibc

/// How a worker process ended, as `waitpid` reported it.
public enum ExitReason: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The process called exit with this status.
    case exited(status: Int32)
    /// The process was killed by this signal number.
    case signaled(signal: Int32)

    public var description: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signaled(let signal): "killed by signal \(signal)\(ExitReason.signalName(signal))"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case 9: " (SIGKILL)"
        case 15: " (SIGTERM)"
        case 6: " (SIGABRT)"
        case 11: " (SIGSEGV)"
        case 2: " (SIGINT)"
        case 4: " (SIGILL)"
        case 5: " (SIGTRAP)"
        default: ""
        }
    }
}

/// Errors of the worker pool and the router. Each message names the worker (index and pid)
/// or the argument involved and says what to do about it.
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `WorkerManager(workerCount:)` got fewer than one worker.
    case invalidWorkerCount(Int)
    /// The router was given a channel list that does not match the pool.
    case channelCountMismatch(channels: Int, expected: Int)
    /// A configuration value is out of range.
    case invalidConfiguration(String)
    /// A system call failed.
    case systemCall(name: String, errno: Int32, context: String)
    /// A worker process could not be started.
    case spawnFailed(worker: Int, executable: String, errno: Int32)
    /// A worker process ended while the router or a query needed it.
    case workerDied(worker: Int, pid: Int32, exit: ExitReason)
    /// A worker left messages in its queue without consuming any for `seconds` (at least the
    /// pool's `Configuration.stallTimeout`): stopped (SIGSTOP), stuck, or starved of CPU.
    case workerStalled(worker: Int, pid: Int32, seconds: Double)
    /// A worker's process is still there but has sent no heartbeat for `secondsSinceHeartbeat`,
    /// more than the pool's heartbeat-age limit `limitSeconds` (`Configuration.stallTimeout`, at
    /// least 3 heartbeat intervals): stopped (SIGSTOP) or stuck, even with an empty queue.
    case workerUnresponsive(worker: Int, pid: Int32, secondsSinceHeartbeat: Double, limitSeconds: Double)
    /// One routed message does not fit in a worker's ring.
    case messageTooLarge(bytes: Int, limit: Int, asset: String)
    /// The pool is not in the state the call needs (e.g. routing after stop).
    case notRunning(String)
    /// A worker sent a reply that could not be decoded.
    case badReply(worker: Int, detail: String)
    /// A query got no answer in time.
    case timedOut(worker: Int, what: String)

    public var description: String {
        switch self {
        case .invalidWorkerCount(let count):
            return "workerCount must be at least 1 (got \(count)); pass --workers 1 or more"
        case .channelCountMismatch(let channels, let expected):
            return "router got \(channels) input channels but the pool has \(expected) workers; "
                + "pass manager.inputChannels unchanged"
        case .invalidConfiguration(let detail):
            return "invalid worker pool configuration: \(detail)"
        case .systemCall(let name, let errno, let context):
            return "\(name) failed (\(EngineError.errnoText(errno))) while \(context)"
        case .spawnFailed(let worker, let executable, let errno):
            return "could not start worker \(worker) from \(executable) (\(EngineError.errnoText(errno))); "
                + "check that the executable exists and supports the hidden worker mode"
        case .workerDied(let worker, let pid, let exit):
            return "worker \(worker) (pid \(pid)) \(exit); its queued messages are lost. "
                + "Check the worker's stderr; rerun to reproduce"
        case .workerStalled(let worker, let pid, let seconds):
            return
                "worker \(worker) (pid \(pid)) consumed nothing from its queue for \(EngineError.tenths(seconds)) s although messages "
                + "were waiting; it may be stopped (SIGSTOP) or stuck, so the run is aborted and the pool kills it. "
                + "Check the process (ps -o pid,stat,wchan -p \(pid)); if the machine is merely overloaded, "
                + "raise the stall timeout (replay run --stall-timeout)"
        case .workerUnresponsive(let worker, let pid, let seconds, let limit):
            return
                "worker \(worker) (pid \(pid)) sent no heartbeat for \(EngineError.tenths(seconds)) s (limit \(EngineError.tenths(limit)) s) "
                + "although its process is still there; it may be stopped (SIGSTOP) or stuck, "
                + "so the run is aborted and the pool kills it. Check the process (ps -o pid,stat,wchan -p \(pid)); "
                + "if the machine is merely overloaded, raise the stall timeout (replay run --stall-timeout)"
        case .messageTooLarge(let bytes, let limit, let asset):
            return "a message of \(bytes) bytes for asset \(asset) exceeds the ring record limit of \(limit) bytes; "
                + "raise Configuration.ringCapacity"
        case .notRunning(let detail):
            return "worker pool is not running: \(detail)"
        case .badReply(let worker, let detail):
            return "worker \(worker) sent an unreadable reply: \(detail)"
        case .timedOut(let worker, let what):
            return "worker \(worker) did not answer \(what) in time"
        }
    }

    /// Seconds with one decimal ("12.3"), for messages.
    static func tenths(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: text)), errno \(code)"
    }
}
