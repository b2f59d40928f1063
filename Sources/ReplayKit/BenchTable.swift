// The worker sweep as an aligned text table for the terminal, with each row's stage breakdown.
import Foundation

/// Renders a `BenchReport` as text: a header naming the tape and machine, the table, then the
/// stage times behind each row's bottleneck.
enum BenchTable {
    static func render(_ report: BenchReport) -> String {
        lines(report).joined(separator: "\n") + "\n"
    }

    static func lines(_ report: BenchReport) -> [String] {
        var out: [String] = []
        out.append(
            "replay bench: \(report.tape.name) (\(ProgressLine.compact(Double(report.tape.messages))) messages, "
                + String(format: "%.1f MB", Double(report.tape.bytes) / 1e6)
                + ", digest \(report.tape.contentDigest.prefix(16))), speed \(report.options.speed), "
                + "\(report.options.repeats) run(s) per worker count, exchange-hash \(report.options.exchangeHash)")
        out.append("\(report.machine.line), \(report.date)")
        out.append("")
        let headers = [
            "workers", "msg/s", "(min–max)", "MB/s", "book upd/s", "p50 µs", "p99 µs", "p99.9 µs", "late p99 µs",
            "msgs/worker", "max/min", "RSS router", "RSS worker", "CPU router", "CPU workers", "bottleneck",
        ]
        var cells: [[String]] = []
        for row in report.rows {
            let latency = row.latencyMicros
            cells.append([
                "\(row.workers)",
                ProgressLine.compact(row.messagesPerSecond.median),
                "\(ProgressLine.compact(row.messagesPerSecond.min))–\(ProgressLine.compact(row.messagesPerSecond.max))",
                String(format: "%.1f", row.megabytesPerSecond.median),
                ProgressLine.compact(row.bookUpdatesPerSecond.median),
                latency.map { micros($0.p50.median) } ?? "-",
                latency.map { micros($0.p99.median) } ?? "-",
                latency.map { micros($0.p999.median) } ?? "-",
                row.latenessMicros.map { micros($0.p99.median) } ?? "-",
                row.balance.messagesPerWorker.map { ProgressLine.compact(Double($0)) }.joined(separator: "/"),
                row.balance.maxOverMin > 0 ? String(format: "%.2f", row.balance.maxOverMin) : "∞",
                row.memory.routerPeakBytes.map(megabytes) ?? "-",
                row.memory.workerResidentBytes.max().map(megabytes) ?? "-",
                String(format: "%.2f", row.cpu.routerUtilisation.median),
                String(format: "%.2f", row.cpu.workersUtilisation.median),
                row.bottleneck,
            ])
        }
        out += align(headers: headers, rows: cells, leftAligned: [headers.count - 1])
        out.append("")
        out.append(
            "Stage times, median seconds (router thread: read / parse+route / other = digest and bookkeeping / blocked on a full ring / pacing):"
        )
        for row in report.rows {
            let s = row.stages
            out.append(
                String(
                    format:
                        "  %2d worker(s): wall %.3f, read %.3f, parse+route %.3f, other %.3f, blocked %.3f, pacing %.3f; "
                        + "apply %.3f (busiest worker %.3f) → ", row.workers, s.wallSeconds, s.readSeconds,
                    s.parseRouteSeconds, s.routerOtherSeconds, s.routerBlockedSeconds, s.pacingWaitSeconds,
                    s.workerApplySeconds,
                    s.maxWorkerApplySeconds) + "\(row.bottleneck): \(row.bottleneckReason)")
        }
        out.append(
            "RSS router = peak (VmHWM) of the replay process; RSS worker = largest worker's resident size at its end. "
                + "CPU = CPU seconds ÷ wall seconds of the run from worker start to exit.")
        return out
    }

    static func micros(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    static func megabytes(_ bytes: Int) -> String {
        String(format: "%.0f MB", Double(bytes) / 1e6)
    }

    /// Pads every column to its widest cell: numbers right-aligned, the named columns left-aligned.
    static func align(headers: [String], rows: [[String]], leftAligned: Set<Int>) -> [String] {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                return leftAligned.contains(index) ? cell + padding : padding + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return [line(headers), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)
    }
}
