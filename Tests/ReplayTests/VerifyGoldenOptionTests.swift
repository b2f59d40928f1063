import CommandLineSupport
import Foundation
import TestSupport
import Testing

/// `replay verify` takes the golden as `--golden FILE`, like `replay run`, or as its second
/// argument, but not both (found by a newcomer who typed `--golden` and got "unknown option").
@Test func verifyTakesTheGoldenAsAnOptionToo() throws {
    let scratch = try ScratchDirectory()
    let report = scratch.path("report.json")
    let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "2", "--quiet", "--report", report])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    let viaOption = try ReplayBinary.run(["verify", report, "--golden", ReplayBinary.goldenW2])
    #expect(viaOption.status == ExitStatus.success, "stdout: \(viaOption.stdoutText)\nstderr: \(viaOption.stderr)")
    #expect(viaOption.stdoutText.hasPrefix("PASS"))
    let both = try ReplayBinary.run(["verify", report, ReplayBinary.goldenW2, "--golden", ReplayBinary.goldenW2])
    #expect(both.status == ExitStatus.usage)
    #expect(both.stderr.contains("give the golden once"))
}

/// Regression (newcomer review): `--exchange-hash off` against a golden recorded with checks
/// reported 31 "differences" in hash fields (each wrongly blaming the book's levels), and the
/// bundled default run with `--exchange-hash off` skipped its golden without a word.
@Test func hashChecksOffIsRefusedAgainstAGoldenThatPinsThem() throws {
    let refused = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "2", "--exchange-hash", "off", "--golden", ReplayBinary.goldenW2,
    ])
    #expect(refused.status == ExitStatus.usage, "stderr: \(refused.stderr)")
    #expect(refused.stderr.contains("--exchange-hash off cannot verify against"), "\(refused.stderr)")
    #expect(refused.stderr.contains("drop --exchange-hash off"), "\(refused.stderr)")
    let bundled = try ReplayBinary.run(["run", "--exchange-hash", "off", "--quiet"])
    #expect(bundled.status == ExitStatus.success, "stderr: \(bundled.stderr)")
    #expect(bundled.stderr.contains("note: not verified against the bundled golden"), "\(bundled.stderr)")
}

/// A golden recorded with `--exchange-hash off` verifies runs with checks off.
@Test func aGoldenRecordedWithHashChecksOffVerifiesSuchRuns() throws {
    let scratch = try ScratchDirectory()
    let golden = scratch.path("off.golden.json")
    let record = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "2", "--exchange-hash", "off", "--quiet", "--write-golden",
        golden,
    ])
    #expect(record.status == ExitStatus.success, "stderr: \(record.stderr)")
    let verify = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "2", "--exchange-hash", "off", "--golden", golden,
    ])
    #expect(verify.status == ExitStatus.success, "stdout: \(verify.stdoutText)\nstderr: \(verify.stderr)")
    #expect(verify.stdoutText.contains("PASS"))
    // Regression (newcomer review): checks on against it reported one hashStatus difference per book.
    let checksOn = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "2", "--golden", golden])
    #expect(checksOn.status == ExitStatus.usage, "stderr: \(checksOn.stderr)")
    #expect(checksOn.stderr.contains("was recorded with --exchange-hash off"), "\(checksOn.stderr)")
    #expect(checksOn.stderr.contains("add --exchange-hash off"), "\(checksOn.stderr)")
    let report = scratch.path("on.json")
    let run = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "2", "--quiet", "--report", report])
    #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
    let verifyOn = try ReplayBinary.run(["verify", report, golden, "--json"])
    #expect(verifyOn.status == ExitStatus.verificationFailed, "\(verifyOn.stdoutText)")
    let differences = verifyOn.json?["differences"] as? [[String: Any]] ?? []
    #expect(differences.count == 1, "\(verifyOn.stdoutText)")
    #expect(differences.first?["kind"] as? String == "option")
}

/// Regression (newcomer review): with checks off the report said "0 checked …" and its options
/// did not record the setting.
@Test func reportsSayWhenHashChecksWereOff() throws {
    let text = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "1", "--exchange-hash", "off"])
    #expect(text.stdoutText.contains("exchange hash: not checked (--exchange-hash off)"), "\(text.stdoutText)")
    let json = try ReplayBinary.run([
        "run", ReplayBinary.bundledTape, "--workers", "1", "--exchange-hash", "off", "--json", "--quiet",
    ])
    #expect((json.json?["options"] as? [String: Any])?["exchangeHash"] as? String == "off")
    let on = try ReplayBinary.run(["run", ReplayBinary.bundledTape, "--workers", "1", "--json", "--quiet"])
    #expect((on.json?["options"] as? [String: Any])?["exchangeHash"] as? String == "on")
}
