import Testing

@testable import WebSocket

/// Regression: a port already in use was reported with client advice ("check that the peer is
/// reachable"); a server must say that another process listens and how to pick a free port.
@Test func aPortInUseSaysAnotherProcessListens() throws {
    let first = try WebSocketServer(host: "127.0.0.1", port: 0)
    defer { first.stop() }
    do {
        let second = try WebSocketServer(host: "127.0.0.1", port: first.port)
        second.stop()
        Issue.record("binding port \(first.port) twice succeeded")
    } catch {
        #expect(error.description.contains("Another process listens on that port"), "\(error)")
        #expect(error.description.contains("port 0 for a free one"), "\(error)")
    }
}
