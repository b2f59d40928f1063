// `--assets-file FILE`, shared by `replay run` and `capture record`: one asset id per line
// (commas and blanks also separate), `#` starts a comment, blank lines are ignored. LF and CRLF
// line ends and a leading UTF-8 byte-order mark are accepted; a binary file is refused.
import Foundation

/// Why an `--assets-file` could not be read; the description is one line naming the file.
public enum AssetsFileError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case unreadable(String)
    case notText(String)

    public var description: String {
        switch self {
        case .missing(let path):
            "--assets-file \(path): no such file; check the path (one asset id per line)"
        case .unreadable(let path):
            "--assets-file \(path): cannot be read (permissions?)"
        case .notText(let path):
            "--assets-file \(path) is not a text file: give one asset id per line (# starts a comment)"
        }
    }
}

public enum AssetsFile {
    /// The ids in the file at `path`, in file order (repeats kept; callers dedupe if they need to).
    public static func read(_ path: String) throws(AssetsFileError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw .missing(path)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        return try parse(data, path: path)
    }

    /// The ids in `data` (the contents of `path`, which only names the file in errors).
    static func parse(_ data: Data, path: String) throws(AssetsFileError) -> [String] {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard !bytes.contains(0), let text = String(data: bytes, encoding: .utf8) else { throw .notText(path) }
        var ids: [String] = []
        // Unicode scalars, not Characters: "\r\n" is one Character, equal to neither "\r" nor "\n".
        for line in text.unicodeScalars.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let content = line.prefix { $0 != "#" }
            for item in content.split(whereSeparator: { $0 == "," || $0.properties.isWhitespace }) {
                ids.append(String(String.UnicodeScalarView(item)))
            }
        }
        return ids
    }
}
