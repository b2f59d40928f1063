// Errors of the Verify module and the JSON helpers every file format here shares. Reports,
// goldens and targets are small, read once per run and reviewed by people, so Foundation's
// JSON coders are the right tool (this is not a hot path).
import Foundation

/// Why reading, writing or checking a report, golden or targets file failed. Each message names
/// the file and says what to do.
public enum VerifyError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, permissions).
    case unreadable(path: String, reason: String)
    /// The file is not valid JSON or lacks a required field.
    case malformed(path: String, what: String, reason: String)
    /// The file is another kind or version (e.g. a report given where a golden was expected).
    case wrongFormat(path: String, what: String, found: String, expected: String)
    /// Refused to replace an existing golden without the explicit bless flag.
    case goldenExists(path: String)
    /// Writing a file failed.
    case writeFailed(path: String, reason: String)
    /// Options that cannot be combined (the CLI maps this to a usage error, exit 64).
    case invalidOptions(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .malformed(let path, let what, let reason):
            "\(path) is not a valid \(what): \(reason)"
        case .wrongFormat(let path, let what, let found, let expected):
            "\(path) is not a \(what) this version reads: found '\(found)', expected '\(expected)'"
        case .goldenExists(let path):
            "golden file \(path) already exists; pass --bless to overwrite it deliberately "
                + "(review the differences first with --golden \(path))"
        case .writeFailed(let path, let reason):
            "cannot write \(path): \(reason)"
        case .invalidOptions(let message):
            message
        }
    }
}

/// Stable JSON: pretty-printed, sorted keys, no escaped slashes, trailing newline.
enum StableJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func encode(_ value: some Encodable) throws -> Data {
        var data = try encoder().encode(value)
        data.append(0x0A)
        return data
    }

    static func read(_ path: String, what: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw VerifyError.unreadable(path: path, reason: "no such file (expected a \(what) JSON file)")
        }
        if isDirectory.boolValue {
            throw VerifyError.unreadable(path: path, reason: "is a directory, not a \(what) file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VerifyError.unreadable(path: path, reason: "permission denied or I/O error")
        }
        return data
    }

    /// Reads one top-level string field without decoding the rest, so a wrong kind of file gets a
    /// "wrong format" message instead of a list of missing fields.
    static func peekString(key: String, in data: Data, source: String, what: String) throws -> String? {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw VerifyError.malformed(path: source, what: what, reason: notJSONReason(data))
        }
        guard let dictionary = object as? [String: Any] else {
            throw VerifyError.malformed(path: source, what: what, reason: "the top level is not a JSON object")
        }
        return dictionary[key] as? String
    }

    /// What a file that does not parse as JSON is, in words (not Foundation's error text).
    static func notJSONReason(_ data: Data) -> String {
        let bytes = [UInt8](data.prefix(4096))
        if bytes.isEmpty { return "the file is empty" }
        if bytes.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return "zstd-compressed data (a tape?), not JSON" }
        if bytes.starts(with: Array(#"{"kind":"header""#.utf8)) { return "an NDJSON tape, not a JSON file" }
        if bytes.contains(0) || bytes.filter({ $0 < 0x09 || ($0 > 0x0D && $0 < 0x20) }).count * 20 > bytes.count {
            return "binary data, not JSON"
        }
        return "not valid JSON"
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw VerifyError.malformed(path: source, what: what, reason: describe(error))
        } catch {
            throw VerifyError.malformed(path: source, what: what, reason: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func pathText(_ path: [any CodingKey]) -> String {
            var text = ""
            for key in path {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text.isEmpty ? "the top level" : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "the top level" : pathText(context.codingPath)
            return "missing field '\(key.stringValue)' in \(parent)"
        case .typeMismatch(let type, let context):
            return "\(pathText(context.codingPath)) should be \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(pathText(context.codingPath)) is null, expected \(typeName(type))"
        case .dataCorrupted(let context):
            // Foundation says "Cannot initialize Status from invalid String value bogus".
            let text = context.debugDescription
            if let range = text.range(of: "from invalid String value ") {
                return "\(pathText(context.codingPath)) has an unknown value '\(text[range.upperBound...])'"
            }
            return "\(pathText(context.codingPath)): \(text)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int32.Type, is Int64.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "a list" : "an object (\(type))"
        }
    }
}
