// swift-tools-version: 6.0
// PolyTape: record, replay and verify Polymarket market-channel order-book feeds.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "PolyTape",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "replay", targets: ["ReplayTool"]),
        .executable(name: "capture", targets: ["CaptureTool"]),
        .library(name: "Feed", targets: ["Feed"]),
        .library(name: "Book", targets: ["Book"]),
        .library(name: "Tape", targets: ["Tape"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Verify", targets: ["Verify"]),
        .library(name: "Capture", targets: ["Capture"]),
    ],
    targets: [
        // C: the only C in the package. Each is a thin door to a Debian library or a syscall.
        .systemLibrary(
            name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .target(name: "CShim", path: "Sources/CShim"),

        // Libraries: all behaviour lives here and is tested in-process.
        .target(name: "Feed", swiftSettings: strict),
        .target(name: "CommandLineSupport", dependencies: ["CShim"], swiftSettings: strict),
        .target(name: "Book", dependencies: ["Feed", "COpenSSL"], swiftSettings: strict),
        .target(name: "Tape", dependencies: ["Feed", "Book", "CZstd"], swiftSettings: strict),
        .target(name: "WebSocket", dependencies: ["COpenSSL", "CShim"], swiftSettings: strict),
        .target(name: "Engine", dependencies: ["Feed", "Book", "CShim", "COpenSSL"], swiftSettings: strict),
        .target(
            name: "Verify", dependencies: ["Feed", "Book", "Engine", "CommandLineSupport"], swiftSettings: strict),
        .target(
            name: "Capture", dependencies: ["Feed", "Tape", "WebSocket", "CShim", "CommandLineSupport"],
            swiftSettings: strict),
        .target(
            name: "ReplayKit",
            dependencies: ["Feed", "Book", "Tape", "Engine", "Verify", "WebSocket", "CShim", "CommandLineSupport"],
            swiftSettings: strict),

        // Thin executables: argument parsing, printing, exit codes.
        .executableTarget(
            name: "ReplayTool", dependencies: ["ReplayKit", "Engine", "Tape", "Verify", "CommandLineSupport"],
            swiftSettings: strict),
        .executableTarget(
            name: "CaptureTool", dependencies: ["Capture", "Tape", "CommandLineSupport"], swiftSettings: strict),

        // Shared by the test targets: fixture paths, seeded RNG, binary locator, golden assertions.
        .target(name: "TestSupport", dependencies: ["Feed"], swiftSettings: strict),

        .testTarget(name: "FeedTests", dependencies: ["Feed", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "BookTests", dependencies: ["Book", "Feed", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "TapeTests", dependencies: ["Tape", "Feed", "Book", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "EngineTests", dependencies: ["Engine", "Feed", "Book", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "VerifyTests", dependencies: ["Verify", "Engine", "Book", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "CaptureTests", dependencies: ["CommandLineSupport", "Capture", "Tape", "WebSocket", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ReplayTests",
            dependencies: [
                "CommandLineSupport", "ReplayKit", "Tape", "Verify", "Feed", "WebSocket", "Book", "TestSupport",
            ],
            swiftSettings: strict),
    ]
)
