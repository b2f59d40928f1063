import CommandLineSupport
import Foundation
import TestSupport
import Testing

/// Regression (newcomer review): the report's throughput used the router loop's wall time, so a
/// run whose workers lagged behind (checking hashes) claimed 800k messages/s for a 5 s run. The
/// throughput wall now lasts until every worker has applied every message: never shorter than
/// the router's loop, and messages/s × wall is the routed count.
@Test func throughputWallCoversTheWorkersNotOnlyTheRouter() throws {
    let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "2", "--json", "--quiet"])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    let json = try #require(run.json)
    let throughput = try #require(json["throughput"] as? [String: Any])
    let stages = try #require(json["stages"] as? [String: Any])
    let router = try #require(json["router"] as? [String: Any])
    let wall = try #require(throughput["wallSeconds"] as? Double)
    let loop = try #require(stages["wallSeconds"] as? Double)
    let rate = try #require(throughput["messagesPerSecond"] as? Double)
    let routed = try #require(router["routed"] as? Int)
    #expect(wall >= loop, "throughput wall \(wall) s is shorter than the router loop \(loop) s")
    #expect(abs(rate * wall - Double(routed)) < 1, "rate × wall = \(rate * wall), routed \(routed)")
}
