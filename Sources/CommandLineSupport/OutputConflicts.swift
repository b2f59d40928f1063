// The one check that an output named on a command line (`--report`, `--junit`, `-o`, ...) is not
// one of the command's inputs, not inside an input folder of segments, and not another output of
// the same command: any of these would silently overwrite data.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Refuses, before any work, outputs that would overwrite an input or each other. Paths are
/// compared after following symlinks (`OutputFile.resolve`, then realpath(3) of the folder), and
/// by device and inode where the files exist, so `./x`, `dir/../x` and a link to `x` are all `x`.
/// Devices, FIFOs and /dev/stdout-like paths are written in place and are never refused here.
/// A conflict is a usage error (exit 64).
public enum OutputConflicts {
    /// A path with what the messages call it: for an input (a file the command reads, or a
    /// folder whose segments it reads) its role ("the tape", "the golden"); for an output the
    /// option that named it ("--report", "-o").
    public struct NamedPath: Sendable {
        public var label: String
        public var path: String
        public init(_ label: String, _ path: String) {
            self.label = label
            self.path = path
        }
    }
    public typealias Input = NamedPath
    public typealias Output = NamedPath

    /// Throws a usage error naming the first output that is an input, lies in an input folder,
    /// or is the same file as an earlier output. Standard input (`-`) and empty paths are skipped
    /// (`OutputFile.check` refuses an empty output name).
    public static func check(inputs: [Input], outputs: [Output]) throws(CommandError) {
        var earlier: [(output: Output, location: Location)] = []
        for output in outputs where !output.path.isEmpty {
            guard let location = Location(output.path) else { continue }
            for input in inputs where input.path != "-" && !input.path.isEmpty {
                var info = stat()
                guard stat(input.path, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFDIR {
                    guard let folder = realPath(input.path) else { continue }
                    if location.path == folder || location.path.hasPrefix(folder == "/" ? "/" : folder + "/") {
                        throw CommandError(
                            "\(output.label) \(output.path) lies inside \(input.label) folder \(input.path), "
                                + "whose files are read as input; write it outside that folder",
                            status: ExitStatus.usage)
                    }
                } else if info.st_mode & S_IFMT == S_IFREG, let identity = location.identity,
                    identity == (info.st_dev, info.st_ino)
                {
                    throw CommandError(
                        "\(output.label) \(output.path) is \(input.label) \(input.path) too; writing it would "
                            + "destroy the input: choose another path",
                        status: ExitStatus.usage)
                }
            }
            if let first = earlier.first(where: { $0.location.isSame(as: location) }) {
                throw CommandError(
                    "\(first.output.label) \(first.output.path) and \(output.label) \(output.path) are the same "
                        + "file; one would overwrite the other: give each its own path",
                    status: ExitStatus.usage)
            }
            earlier.append((output, location))
        }
    }

    /// Where an output lands: the canonical path (links followed, folder made absolute and
    /// free of `.`/`..`/links) and, when the file exists, its device and inode. Nil for paths
    /// that are written in place (devices, FIFOs, /dev/stdout) and never replaced.
    struct Location {
        var path: String
        var identity: (dev_t, ino_t)?

        init?(_ given: String) {
            let resolved = OutputFile.resolve(given)
            if OutputFile.writesInPlace(resolved) { return nil }
            var info = stat()
            if stat(resolved, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFREG else { return nil }
                identity = (info.st_dev, info.st_ino)
            }
            let name = OutputFile.lastComponent(of: resolved)
            let folder = OutputFile.parentFolder(of: resolved)
            if let real = realPath(folder) {
                path = real == "/" ? "/" + name : real + "/" + name
            } else {
                path = resolved
            }
        }

        func isSame(as other: Location) -> Bool {
            if let mine = identity, let theirs = other.identity { return mine == theirs }
            return path == other.path
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
