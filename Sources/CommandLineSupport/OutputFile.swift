// The files a command is asked to write (`--report FILE`, `-o OUT`), with every failure reported:
// written through symlinks, atomically replaced when they are regular files, and written in
// place when they are devices or FIFOs.
public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Output files named on the command line (`--report FILE`, `-o OUT`): checked before the work
/// starts, and written so that a symlink keeps pointing at its (rewritten) target, a regular file
/// is replaced atomically (never left half-written), and a device or FIFO (`/dev/stdout`,
/// `/dev/null`, a named pipe) is written in place instead of being replaced by a regular file.
public enum OutputFile {
    /// The path a write to `path` lands on: symlinks (also dangling ones) followed to their target,
    /// up to a /proc/…/fd link (what /dev/stdout leads to).
    public static func resolve(_ path: String) -> String {
        resolveLinks(path).path
    }

    /// `resolve`, and whether the chain of symlinks never ended (a loop, or more than 40 links).
    static func resolveLinks(_ path: String) -> (path: String, loops: Bool) {
        var current = path
        for _ in 0..<40 {
            // /proc/self/fd/N links to an open file (or to "pipe:[…]"): it is written in place.
            if writesInPlace(current) { return (current, false) }
            var info = stat()
            guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return (current, false) }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(current, &buffer, buffer.count - 1)
            guard count > 0 else { return (current, false) }
            let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("/") {
                current = target
            } else {
                let folder = folderPart(of: current)
                current = folder.isEmpty ? target : folder + "/" + target
            }
        }
        return (current, true)
    }

    /// What a write to `path` would do, or why it cannot be done. Checked before a command
    /// starts its work, so that a typo does not cost a whole run.
    /// - Parameters:
    ///   - option: how the command line named the path (`--report`, `-o`), for the message.
    ///   - example: a file name to suggest when `path` is a directory (`report.json`).
    ///   - allowsSpecialFiles: false when the output must be a regular file (tapes are written
    ///     beside the target and renamed over it).
    public static func check(
        _ path: String, option: String, example: String, allowsSpecialFiles: Bool = true
    ) throws(CommandError) {
        guard !path.isEmpty else {
            throw CommandError("\(option) needs a file name, like \(example)", status: ExitStatus.usage)
        }
        let (target, loops) = resolveLinks(path)
        if loops {
            throw CommandError("\(option) \(path) is a symlink loop; remove the link or choose another path")
        }
        var info = stat()
        if stat(path, &info) == 0 {
            let kind = info.st_mode & S_IFMT
            if kind == S_IFDIR {
                let suggestion = path.hasSuffix("/") ? path + example : path + "/" + example
                throw CommandError("\(option) \(path) is a directory; give a file name like \(suggestion)")
            }
            if kind != S_IFREG || writesInPlace(target) {
                guard allowsSpecialFiles else {
                    throw CommandError(
                        "\(option) \(path) is not a regular file (it is written to a new file that is renamed "
                            + "into place); give a file name like \(example)")
                }
                guard access(path, W_OK) == 0 else {
                    throw CommandError("\(option) \(path) is not writable; choose another path")
                }
                return
            }
        }
        let folder = parentFolder(of: target)
        var folderInfo = stat()
        guard stat(folder, &folderInfo) == 0 else {
            throw CommandError(
                "\(option) \(path): the folder \(folder) does not exist; create it or choose another path")
        }
        guard folderInfo.st_mode & S_IFMT == S_IFDIR else {
            throw CommandError("\(option) \(path): \(folder) is a file, not a folder; choose another path")
        }
        guard access(folder, W_OK) == 0 else {
            throw CommandError("\(option) \(path): the folder \(folder) is not writable; choose another path")
        }
        let nameLength = lastComponent(of: target).utf8.count
        if nameLength > Int(NAME_MAX) {
            throw CommandError(
                "\(option) \(path): the file name is \(nameLength) bytes long, more than the \(Int(NAME_MAX)) "
                    + "a file name may have; choose a shorter name")
        }
    }

    /// The temporary name an output `name` is written under before it is renamed into place:
    /// `.NAME.<tag>` when that fits in a file name (NAME_MAX), else the short `.replay.<tag>`,
    /// so that a valid long name never fails only after the work.
    public static func temporaryName(for name: String, tag: String) -> String {
        let long = ".\(name).\(tag)"
        return long.utf8.count <= Int(NAME_MAX) ? long : ".replay.\(tag)"
    }

    /// Writes `data` to `path` (through symlinks): a regular or new file is written beside the
    /// target and renamed over it; a device or FIFO is written in place. Throws an `OutputError`
    /// naming `path` and the errno; nothing is left behind on failure.
    public static func write(_ data: Data, to path: String) throws(OutputError) {
        var info = stat()
        // stat(2) follows the links itself, also the /proc ones behind /dev/stdout.
        let exists = stat(path, &info) == 0
        if exists && info.st_mode & S_IFMT == S_IFDIR { throw OutputError(target: path, code: EISDIR) }
        let target = resolve(path)
        if exists && (info.st_mode & S_IFMT != S_IFREG || writesInPlace(target)) {
            try writeInPlace(data, to: path)
        } else {
            try replace(target, with: data, named: path, mode: exists ? info.st_mode & 0o7777 : nil)
        }
    }

    /// /dev/stdout, /dev/fd/N and /proc/self/fd/N name a file the process already has open
    /// (a shell redirection): it is written, not replaced.
    static func writesInPlace(_ resolved: String) -> Bool {
        resolved.hasPrefix("/proc/") || resolved.hasPrefix("/dev/fd/")
    }

    /// The folder `path` lies in: "." for a bare name ("r"), "/" for "/r"; trailing slashes and
    /// repeated slashes are ignored. Plain string logic, total for every input.
    public static func parentFolder(of path: String) -> String {
        let folder = folderPart(of: path)
        return folder.isEmpty ? "." : folder
    }

    /// The last component of `path` ("r" for "a/r" and "a/r/").
    public static func lastComponent(of path: String) -> String {
        var text = Substring(path)
        while text.count > 1 && text.hasSuffix("/") { text = text.dropLast() }
        if text == "/" { return "/" }
        guard let slash = text.lastIndex(of: "/") else { return String(text) }
        return String(text[text.index(after: slash)...])
    }

    /// `path` without its last component: "" for a bare name, "/" for a name in the root.
    static func folderPart(of path: String) -> String {
        var text = Substring(path)
        while text.count > 1 && text.hasSuffix("/") { text = text.dropLast() }
        guard let slash = text.lastIndex(of: "/") else { return "" }
        var folder = text[..<slash]
        while folder.hasSuffix("/") { folder = folder.dropLast() }
        return folder.isEmpty ? "/" : String(folder)
    }

    private static func writeInPlace(_ data: Data, to path: String) throws(OutputError) {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw OutputError(target: path, code: errno) }
        var failure: OutputError?
        do throws(OutputError) {
            try writeAll(data, to: fd, target: path)
        } catch {
            failure = error
        }
        if close(fd) != 0 && failure == nil { failure = OutputError(target: path, code: errno) }
        if let failure { throw failure }
    }

    private static func replace(_ target: String, with data: Data, named path: String, mode: mode_t?)
        throws(OutputError)
    {
        let name = lastComponent(of: target)
        var fd: Int32 = -1
        var temporary = ""
        for attempt in 0..<100 {
            temporary = parentFolder(of: target) + "/" + temporaryName(for: name, tag: "\(getpid())-\(attempt).tmp")
            // 0666 minus the umask, as for any new file; a replaced file keeps its own mode.
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw OutputError(target: path, code: errno) }
        if let mode { fchmod(fd, mode) }
        var failure: OutputError?
        do throws(OutputError) {
            try writeAll(data, to: fd, target: path)
        } catch {
            failure = error
        }
        if failure == nil && fsync(fd) != 0 { failure = OutputError(target: path, code: errno) }
        if close(fd) != 0 && failure == nil { failure = OutputError(target: path, code: errno) }
        if failure == nil && rename(temporary, target) != 0 { failure = OutputError(target: path, code: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }
}
