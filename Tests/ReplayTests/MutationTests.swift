// Mutation tests: change one thing in the real G3 tape (drop a price change, re-deliver one,
// swap two of one asset, change a size), replay it against the bundled golden, and check that
// verification fails naming the asset that was touched and no other; and that the exchange-hash
// oracle alone (no golden) catches a dropped change.
import CommandLineSupport
import Foundation
import ReplayKit
import TestSupport
import Testing

/// The bundled G3 tape as lines, with its price-change entries located (parsed with Foundation).
struct G3Tape {
    /// One price-change entry: where it is and what it sets.
    struct Entry {
        var line: Int  // index into `lines`
        var message: Int  // index of the message in the frame (0 for an object frame)
        var entry: Int  // index in `price_changes`
        var asset: String
        var side: String
        var price: String
        var size: String
        var level: String { "\(asset)/\(side)/\(price)" }
    }

    var lines: [[UInt8]]
    var entries: [Entry] = []

    init() throws {
        lines = try tapeLines(ReplayBinary.bundledTape)
        if let last = lines.last, lineObject(last)?["kind"] as? String == "footer" { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            guard let object = lineObject(line), object["kind"] as? String == "frame", let frame = object["frame"]
            else { continue }
            let messages = (frame as? [[String: Any]]) ?? [(frame as? [String: Any]) ?? [:]]
            for (messageIndex, message) in messages.enumerated()
            where message["event_type"] as? String == "price_change" {
                for (entryIndex, change) in ((message["price_changes"] as? [[String: Any]]) ?? []).enumerated() {
                    entries.append(
                        Entry(
                            line: index, message: messageIndex, entry: entryIndex,
                            asset: change["asset_id"] as? String ?? "", side: change["side"] as? String ?? "",
                            price: change["price"] as? String ?? "", size: change["size"] as? String ?? ""))
                }
            }
        }
    }

    /// Token ids touched by the price changes of one line.
    func assets(onLine line: Int) -> Set<String> {
        Set(entries.filter { $0.line == line }.map(\.asset))
    }

    /// Entries that are the last to touch their level and whose previous touch set another size,
    /// with a later entry for the same asset (whose exchange hash then depends on this one):
    /// removing or changing one of them must change that asset's final book.
    func decisiveEntries() -> [(last: Entry, previous: Entry)] {
        var result: [(Entry, Entry)] = []
        for (position, entry) in entries.enumerated() {
            let later = entries[(position + 1)...]
            guard !later.contains(where: { $0.level == entry.level }),
                later.contains(where: { $0.asset == entry.asset }),
                let previous = entries[..<position].last(where: { $0.level == entry.level }),
                previous.size != entry.size, previous.line != entry.line
            else { continue }
            result.append((entry, previous))
        }
        return result
    }

    /// A frame line rebuilt with a changed frame: the envelope keeps its values, `frame_len` is
    /// recomputed (a stale hint would point the reader at the wrong bytes).
    func rewritten(line index: Int, _ change: (inout [[String: Any]]) -> Void) throws -> [UInt8] {
        let object = try #require(lineObject(lines[index]))
        let frame = try #require(object["frame"])
        let isArray = frame is [Any]
        var messages: [[String: Any]]
        if let array = frame as? [[String: Any]] {
            messages = array
        } else {
            messages = [try #require(frame as? [String: Any])]
        }
        change(&messages)
        let value: Any = isArray ? messages : messages[0]
        let frameBytes = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        func number(_ key: String) throws -> String { "\(try #require((object[key] as? NSNumber)?.int64Value))" }
        var text = #"{"kind":"frame","recv_ns":\#(try number("recv_ns")),"mono_ns":\#(try number("mono_ns")),"#
        text += #""conn":\#(try number("conn")),"seq":\#(try number("seq")),"frame_len":\#(frameBytes.count),"frame":"#
        return Array(text.utf8) + Array(frameBytes) + [UInt8(ascii: "}")]
    }

    /// The line with one entry's field set to a new value (or the entry removed when nil).
    func line(_ entry: Entry, settingSize size: String?) throws -> [UInt8] {
        try rewritten(line: entry.line) { messages in
            var changes = messages[entry.message]["price_changes"] as? [[String: Any]] ?? []
            if let size { changes[entry.entry]["size"] = size } else { changes.remove(at: entry.entry) }
            messages[entry.message]["price_changes"] = changes
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(5)))
struct MutationTests {
    typealias R = ReplayBinary

    /// Replays `lines` with 2 workers against the bundled 2-worker golden, expects exit 3, and
    /// returns the assets the difference text and the structured verification name.
    func verifyFails(_ lines: [[UInt8]], name: String) throws -> (
        text: Set<String>, structured: Set<String>, kinds: Set<String>, workers: Set<Int>
    ) {
        let scratch = try ScratchDirectory()
        let tape = try scratch.writeLines(lines, to: "\(name).ndjson")
        let report = scratch.path("\(name).report.json")
        let run = try R.run(["run", tape, "--workers", "2", "--golden", R.goldenW2, "--report", report, "--quiet"])
        #expect(run.status == ExitStatus.verificationFailed, "stdout: \(run.stdoutText)\nstderr: \(run.stderr)")
        // The golden pins the tape digest: that difference is listed first, and the rest still follows.
        #expect(run.stdoutText.contains("different tape"), "stdout: \(run.stdoutText)")
        let verify = try R.run(["verify", report, R.goldenW2, "--json"])
        #expect(verify.status == ExitStatus.verificationFailed, "verify: \(verify.stderr)")
        let result = try #require(verify.json, "verify --json: \(verify.stdoutText.prefix(300))")
        let differences = result.array("differences")
        return (
            Set(assetIDs(in: run.stdoutText)), Set(differences.compactMap { $0.string("assetID") }),
            Set(differences.compactMap { $0.string("kind") }), Set(differences.compactMap { $0.int("worker") })
        )
    }

    /// The named assets include one of `touched` and nothing else.
    func expectNamesOnly(_ named: Set<String>, _ touched: Set<String>, _ what: String) {
        #expect(!named.isDisjoint(with: touched), "\(what): none of \(touched) named; named \(named)")
        #expect(named.isSubset(of: touched), "\(what): unrelated assets named: \(named.subtracting(touched))")
    }

    @Test func theTapeHasDecisiveEntriesToMutate() throws {
        let tape = try G3Tape()
        #expect(tape.entries.count == 102)
        #expect(!tape.decisiveEntries().isEmpty)
    }

    @Test func droppedPriceChangeFailsVerificationNamingItsAsset() throws {
        let tape = try G3Tape()
        let (target, _) = try #require(tape.decisiveEntries().first)
        var lines = tape.lines
        lines[target.line] = try tape.line(target, settingSize: nil)
        let named = try verifyFails(lines, name: "dropped")
        let touched = tape.assets(onLine: target.line)
        expectNamesOnly(named.text, touched, "diff text")
        expectNamesOnly(named.structured, touched, "verify --json")
        #expect(named.structured.contains(target.asset))
        #expect(named.kinds.contains("book-changed") || named.kinds.contains("asset-digest"), "\(named.kinds)")
    }

    @Test func droppedPriceChangeIsCaughtByTheExchangeHashOracleAlone() throws {
        let tape = try G3Tape()
        let (target, _) = try #require(tape.decisiveEntries().first)
        var lines = tape.lines
        lines[target.line] = try tape.line(target, settingSize: nil)
        let scratch = try ScratchDirectory()
        let path = try scratch.writeLines(lines, to: "dropped.ndjson")
        let run = try R.run(["run", path, "--workers", "2", "--json"])
        #expect(run.status == ExitStatus.success, "stderr: \(run.stderr)")
        let report = try #require(run.json)
        let hash = report.object("exchangeHash")
        let caught = (hash.int("diverged") ?? 0) + (hash.int("mismatchedTransient") ?? 0)
        #expect(caught > 0, "the oracle did not notice the dropped change: \(hash)")
        let first = hash.object("firstDivergence")
        #expect(first.string("assetID") == target.asset, "firstDivergence: \(first), dropped from \(target.asset)")
        #expect(report.string("status") == "warnings")
        // The divergence is noticed at the dropped line (1-based: index + 1) or later, never before it.
        let line = first.int("line") ?? 0
        #expect(line >= target.line + 1, "firstDivergence.line \(line) is before the dropped line \(target.line + 1)")
        #expect(line <= tape.lines.count, "firstDivergence.line \(line) is past the end of the tape")
        // The same tape, unmutated, has no divergence (the bundled golden pins 130 verified hashes).
        #expect(report.object("input").int("frames") == 110)
    }

    @Test func changedSizeFailsVerificationNamingItsAsset() throws {
        let tape = try G3Tape()
        let (target, _) = try #require(tape.decisiveEntries().first)
        var lines = tape.lines
        let size = target.size == "12.5" ? "13.5" : "12.5"
        lines[target.line] = try tape.line(target, settingSize: size)
        let named = try verifyFails(lines, name: "resized")
        let touched = tape.assets(onLine: target.line)
        expectNamesOnly(named.text, touched, "diff text")
        expectNamesOnly(named.structured, touched, "verify --json")
        #expect(named.structured.contains(target.asset))
    }

    @Test func swappedPriceChangesOfOneAssetFailVerificationNamingIt() throws {
        let tape = try G3Tape()
        let (last, previous) = try #require(tape.decisiveEntries().first)
        var lines = tape.lines
        lines.swapAt(last.line, previous.line)
        let named = try verifyFails(lines, name: "swapped")
        let touched = tape.assets(onLine: last.line).union(tape.assets(onLine: previous.line))
        expectNamesOnly(named.text, touched, "diff text")
        expectNamesOnly(named.structured, touched, "verify --json")
        #expect(named.structured.contains(last.asset))
    }

    /// A stale copy of a price change delivered again after the level moved on.
    @Test func reDeliveredStalePriceChangeFailsVerificationNamingItsAsset() throws {
        let tape = try G3Tape()
        let (last, previous) = try #require(tape.decisiveEntries().first)
        var lines = tape.lines
        lines.insert(lines[previous.line], at: last.line + 1)
        let named = try verifyFails(lines, name: "duplicated")
        let touched = tape.assets(onLine: previous.line)
        expectNamesOnly(named.text, touched, "diff text")
        expectNamesOnly(named.structured, touched, "verify --json")
        #expect(named.structured.contains(previous.asset))
    }

    /// A frame delivered twice in a row leaves every book as it was (price changes carry
    /// absolute sizes), so verification fails only on what counts messages: the tape identity,
    /// the input totals and the owning worker's statistics. No book may be reported different.
    @Test func adjacentDuplicateFailsOnCountsOnlyAndNamesNoBook() throws {
        let tape = try G3Tape()
        let target = try #require(tape.entries.first)
        var lines = tape.lines
        lines.insert(lines[target.line], at: target.line + 1)
        let named = try verifyFails(lines, name: "adjacent")
        #expect(named.structured.isEmpty, "books named: \(named.structured)")
        #expect(named.text.isEmpty, "books named: \(named.text)")
        #expect(named.kinds.contains("tape-identity"))
        #expect(named.kinds.contains("input"), "\(named.kinds)")
        // Only workers owning an asset of that frame count differently.
        let golden = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: R.goldenW2))) as? [String: Any]
        )
        let touched = tape.assets(onLine: target.line)
        let owners = Set(
            golden.array("workers").filter { worker in
                worker.array("books").contains { touched.contains($0.string("assetID") ?? "") }
            }.compactMap { $0.int("index") })
        #expect(!named.workers.isEmpty)
        #expect(named.workers.isSubset(of: owners), "workers named \(named.workers), owners \(owners)")
    }

    /// With goldens recorded with levels (`--golden-levels`, as the bundled ones are), a book that
    /// differs shows its first differing level, expected against actual.
    @Test func aChangedSizeShowsTheFirstDifferingLevel() throws {
        let tape = try G3Tape()
        let (target, _) = try #require(tape.decisiveEntries().first)
        var lines = tape.lines
        lines[target.line] = try tape.line(target, settingSize: "777")
        let scratch = try ScratchDirectory()
        let path = try scratch.writeLines(lines, to: "resized.ndjson")
        let run = try R.run(["run", path, "--workers", "2", "--quiet", "--golden", R.goldenW2])
        #expect(run.status == ExitStatus.verificationFailed, "stderr: \(run.stderr)")
        let side = target.side == "BUY" ? "bid" : "ask"
        #expect(run.stdoutText.contains("first differing \(side) level"), "stdout: \(run.stdoutText)")
        #expect(run.stdoutText.contains("\(target.price) × 777"), "stdout: \(run.stdoutText)")
    }
}
