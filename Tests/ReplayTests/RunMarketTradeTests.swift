import CommandLineSupport
import Foundation
import TestSupport
import Testing

/// Regression: with 2 workers the two tokens of a market usually live on different workers,
/// and a trade was routed only to the traded token's worker. The other worker's book then
/// hashed with a stale last trade price: its checks matched only after a search of the 0.001
/// price grid (1,001 hashes each; a run 28x slower than with 1 worker) and were counted
/// "verified late", so a 2-worker run failed a 1-worker golden. The router now copies each
/// trade to every worker of the market. Smallest tape that showed it: 4 assets, 2 s.
@Test func exchangeHashResultsDoNotDependOnTheWorkerCount() throws {
    let scratch = try ScratchDirectory()
    let tape = try scratch.synthTape("synth.ndjson.zst", assets: 4, duration: "2s", rate: "200", seed: 1)
    let golden = scratch.path("w1.golden.json")
    let one = try ReplayBinary.run(["run", tape, "--workers", "1", "--json", "--quiet", "--write-golden", golden])
    #expect(one.status == ExitStatus.success, "stderr: \(one.stderr)")
    let two = try ReplayBinary.run(["run", tape, "--workers", "2", "--json", "--quiet", "--golden", golden])
    #expect(two.status == ExitStatus.success, "a 2-worker run must pass the 1-worker golden: \(two.stderr)")
    let hashOne = try #require(one.json?["exchangeHash"] as? [String: Any])
    let hashTwo = try #require(two.json?["exchangeHash"] as? [String: Any])
    let checked = try #require(hashOne["checked"] as? Int)
    #expect(checked > 500)
    #expect(hashOne["verified"] as? Int == checked)
    #expect(hashTwo["verified"] as? Int == checked, "\(hashTwo)")
    #expect(hashTwo["verifiedLate"] as? Int == 0, "\(hashTwo)")
    let router = try #require(two.json?["router"] as? [String: Any])
    #expect((router["marketTradeCopies"] as? Int ?? 0) > 0)
}
