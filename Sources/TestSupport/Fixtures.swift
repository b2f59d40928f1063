// Shared by the test targets: where the repository's fixtures are, and where the built
// executables are. Not shipped in any product.
public import Foundation

/// Paths inside this repository, found from this source file's location so tests work from
/// any working directory and on a fresh clone (no ../shared needed).
public enum Repo {
    /// The repository root (the folder holding Package.swift).
    public static let root: URL = {
        URL(fileURLWithPath: #filePath)  // Sources/TestSupport/Fixtures.swift
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// Fixtures/ at the repository root.
    public static let fixtures: URL = root.appendingPathComponent("Fixtures")

    /// The in-repo copy of the real corpus (Fixtures/corpus, see its README for provenance).
    public static let corpus: URL = fixtures.appendingPathComponent("corpus")

    /// A path below Fixtures/.
    public static func fixture(_ relativePath: String) -> URL {
        fixtures.appendingPathComponent(relativePath)
    }

    /// Reads a fixture's bytes; fails the calling test with a clear message if missing.
    public static func bytes(_ relativePath: String) throws -> [UInt8] {
        let url = fixture(relativePath)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw FixtureError.missing(url.path)
        }
        return [UInt8](data)
    }

    /// The lines of a fixture file (LF-separated, without empty trailing line).
    public static func lines(_ relativePath: String) throws -> [[UInt8]] {
        let data = try bytes(relativePath)
        var lines: [[UInt8]] = []
        var start = 0
        for i in 0..<data.count where data[i] == 0x0A {
            lines.append(Array(data[start..<i]))
            start = i + 1
        }
        if start < data.count { lines.append(Array(data[start...])) }
        return lines
    }

    /// The directory holding the built products (`.build/debug` or `.build/release`), found
    /// from the running test bundle. End-to-end tests run executables from here.
    public static let productsDirectory: URL = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // swift-testing / xctest runners live in <products>/PolyTapePackageTests.xctest/... on Linux
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("replay").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug")
    }()

    /// A built executable (e.g. "replay"). Build with `swift build` (tools/test does) first.
    public static func executable(_ name: String) -> URL {
        productsDirectory.appendingPathComponent(name)
    }
}

public enum FixtureError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
        switch self {
        case .missing(let path): "fixture not found: \(path) (run tests from a full checkout)"
        }
    }
}

/// A small, fast, seeded PRNG (SplitMix64) so generated test data is identical on every run.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
