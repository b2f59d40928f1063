import CommandLineSupport
import Foundation
import Testing

@testable import ReplayKit

/// Regression: huge but accepted time values trapped (SIGILL, exit 132): `--heartbeat 1e9` after
/// the whole replay (arithmetic overflow stopping the workers), `--stall-timeout 1e19`,
/// `--stats-interval 1e19`, `serve --idle-close 1e19`, `tape synth --duration 99999999h`. Each
/// option now has a range checked at parse time, named in the usage error.
@Suite struct TimeOptionRangeTests {
    @Test(arguments: [
        ("heartbeat", "1e9", "--heartbeat must be a number of seconds from 0.001 to 3600"),
        ("heartbeat", "9223372036", "--heartbeat must be a number of seconds from 0.001 to 3600"),
        ("stall-timeout", "1e9", "--stall-timeout must be a number of seconds from 0.001 to 86400"),
        ("stall-timeout", "1e19", "--stall-timeout must be a number of seconds from 0.001 to 86400"),
        ("stats-interval", "1e19", "--stats-interval must be a number of seconds from 0.001 to 86400"),
        ("heartbeat", "0", "--heartbeat must be a number of seconds from 0.001 to 3600"),
        ("heartbeat", "nan", "--heartbeat must be a number of seconds from 0.001 to 3600"),
    ])
    func runRefusesTimesOutsideTheirRange(option: String, value: String, message: String) {
        #expect {
            try RunOptions.parse(["--\(option)", value])
        } throws: { error in
            (error as? UsageError)?.message == "\(message) (like 5 or 0.5s), not '\(value)'"
        }
    }

    @Test func theRangeBoundsAreAccepted() throws {
        let low = try RunOptions.parse([
            "--heartbeat", "0.001", "--stall-timeout", "0.001s", "--stats-interval", "0.001",
        ])
        #expect(low.heartbeatSeconds == 0.001 && low.stallTimeoutSeconds == 0.001 && low.statsSeconds == 0.001)
        let high = try RunOptions.parse([
            "--heartbeat", "3600", "--stall-timeout", "86400", "--stats-interval", "86400",
        ])
        #expect(high.heartbeatSeconds == 3600 && high.stallTimeoutSeconds == 86400 && high.statsSeconds == 86400)
    }

    @Test func serveRefusesAnIdleCloseOutsideItsRange() {
        #expect {
            try ServeCommand.parse(["tape.ndjson.zst", "--idle-close", "1e19"])
        } throws: { error in
            (error as? UsageError)?.message.hasPrefix("--idle-close must be a number of seconds from 0.001 to 86400")
                == true
        }
    }

    /// The last line of defence: seconds become a `Duration` without trapping, whatever the value.
    @Test func secondsBecomeADurationWithoutTrapping() {
        #expect(saturatingDuration(seconds: 1e19) == .milliseconds(1_000_000_000_000_000))
        #expect(saturatingDuration(seconds: .infinity) == .milliseconds(1_000_000_000_000_000))
        #expect(saturatingDuration(seconds: -5) == .zero)
        #expect(saturatingDuration(seconds: 2.5) == .milliseconds(2500))
    }

    @Test func theBinariesExit64NamingTheRange() throws {
        let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--heartbeat", "1e9"])
        #expect(run.status == ExitStatus.usage, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("--heartbeat must be a number of seconds from 0.001 to 3600"), "\(run.stderr)")
        let scratch = try ScratchDirectory()
        let synth = try ReplayBinary.run([
            "tape", "synth", "--assets", "2", "--duration", "99999999h", "-o", scratch.path("x.ndjson.zst"),
        ])
        #expect(synth.status == ExitStatus.usage, "stderr: \(synth.stderr)")
        #expect(synth.stderr.contains("--duration must be from 1ms to 720h, not '99999999h'"), "\(synth.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("x.ndjson.zst")))
    }
}
