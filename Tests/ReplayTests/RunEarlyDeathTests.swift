import CommandLineSupport
import Foundation
import ReplayKit
import TestSupport
import Testing
import Verify

/// A worker that dies before the replay starts (here: a "worker" executable that exits at once,
/// so every run hits the case that a SIGKILL races into only sometimes). The router's start-up
/// query then fails on the closed reply pipe; the error must tell the death once, without a
/// "Cause:" that repeats it as an unreadable reply.
@Test func aWorkerDeadBeforeTheFirstFrameIsToldOnceNotAgainAsAClosedReplyPipe() throws {
    var options = try RunOptions.parse([Repo.fixture("tapes/g3-enrico-2026-09.ndjson.zst").path, "--workers", "1"])
    options.heartbeatSeconds = 0.2
    let failing = URL(fileURLWithPath: "/bin/false")
    do {
        _ = try ReplayRun.execute(options: options, workerExecutable: failing)
        Issue.record("a run whose only worker exits at once succeeded")
    } catch let error as RunFailed {
        let text = "\(error)"
        #expect(error.report.status == .failed)
        // The report says why it failed (regression: `status failed` gave no reason).
        let reasons = error.report.statusReasons ?? []
        #expect(reasons.count == 1 && reasons[0].contains("exited with status 1"), "\(reasons)")
        #expect(text.contains("worker 0 (pid "), "\(text)")
        #expect(text.contains("exited with status 1 before the replay started; the run is incomplete"), "\(text)")
        #expect(!text.contains("Cause:"), "\(text)")
        #expect(!text.contains("unreadable reply"), "\(text)")
    }
}
