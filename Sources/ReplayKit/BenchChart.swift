// The worker-sweep chart: a self-contained SVG with two panels (throughput and p99 router →
// worker latency against the worker count), error bars from min/max over the repeats, axis
// labels, ticks, a legend and a title naming the tape and the machine. Also an HTML page
// that embeds it with the table. Written by hand: no outside packages.
import Foundation

/// A linear map from data values to pixels, with "nice" tick values (1, 2, 2.5 or 5 × 10^k).
struct ChartScale: Equatable {
    var domainLow: Double
    var domainHigh: Double
    var rangeLow: Double
    var rangeHigh: Double
    var ticks: [Double]

    /// A scale from 0 (or `low`, if negative) up to a nice value at or above `high`, with about
    /// `tickCount` ticks, mapped onto `rangeLow...rangeHigh` (rangeHigh may be below rangeLow,
    /// as for a y axis in SVG coordinates).
    init(low: Double = 0, high: Double, tickCount: Int = 5, rangeLow: Double, rangeHigh: Double) {
        let ticks = Self.niceTicks(low: Swift.min(low, 0), high: high, count: tickCount)
        self.domainLow = ticks.first ?? 0
        self.domainHigh = ticks.last ?? 1
        self.rangeLow = rangeLow
        self.rangeHigh = rangeHigh
        self.ticks = ticks
    }

    func callAsFunction(_ value: Double) -> Double {
        let span = domainHigh - domainLow
        guard span > 0 else { return rangeLow }
        return rangeLow + (value - domainLow) / span * (rangeHigh - rangeLow)
    }

    /// The step between ticks: 1, 2, 2.5 or 5 × a power of ten, at least `span / count`.
    static func niceStep(span: Double, count: Int) -> Double {
        guard span > 0, span.isFinite, count > 0 else { return 1 }
        let rough = span / Double(count)
        let magnitude = pow(10, floor(log10(rough)))
        for factor in [1.0, 2.0, 2.5, 5.0, 10.0] where factor * magnitude >= rough * (1 - 1e-9) {
            return factor * magnitude
        }
        return 10 * magnitude
    }

    /// Evenly spaced nice ticks covering `low...high` (first ≤ low, last ≥ high). A zero or
    /// empty span gives 0...1 (or 0...value) so a flat series still draws.
    static func niceTicks(low: Double, high: Double, count: Int) -> [Double] {
        var low = low
        var high = high
        if !(high > low) || !high.isFinite || !low.isFinite {
            low = Swift.min(0, low.isFinite ? low : 0)
            high = high.isFinite && high > low ? high : low + 1
        }
        let step = niceStep(span: high - low, count: count)
        let first = floor(low / step + 1e-9) * step
        var ticks: [Double] = []
        var index = 0.0
        while true {
            let value = first + index * step
            ticks.append(abs(value) < step * 1e-9 ? 0 : value)
            if value >= high - step * 1e-9 { break }
            index += 1
        }
        if ticks.count < 2 { ticks.append(first + step) }
        return ticks
    }

    /// A data value to three significant digits with a k/M/G suffix: "282k", "35.7k", "1.23M", "8.5".
    static func valueLabel(_ value: Double) -> String {
        let magnitude = abs(value)
        let (scaled, suffix) =
            magnitude >= 1e9
            ? (value / 1e9, "G")
            : magnitude >= 1e6 ? (value / 1e6, "M") : magnitude >= 1e3 ? (value / 1e3, "k") : (value, "")
        let digits = abs(scaled) >= 100 ? 0 : abs(scaled) >= 10 ? 1 : 2
        var text = String(format: "%.\(digits)f", scaled)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text + suffix
    }

    /// "0", "250k", "1.5M", "2.5", "0.25": short tick labels.
    static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        func trimmed(_ number: Double, _ suffix: String) -> String {
            var text = String(format: "%.2f", number)
            while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
            return text + suffix
        }
        if magnitude >= 1e9 { return trimmed(value / 1e9, "G") }
        if magnitude >= 1e6 { return trimmed(value / 1e6, "M") }
        if magnitude >= 1e3 { return trimmed(value / 1e3, "k") }
        return trimmed(value, "")
    }
}

/// Renders a `BenchReport` as SVG and HTML.
enum BenchChart {
    /// One point of a panel: the median and the min–max error bar.
    struct Point: Equatable {
        var label: String
        var spread: BenchSpread
    }

    static let width = 980.0
    static let height = 500.0

    /// The complete SVG document.
    static func svg(_ report: BenchReport) -> String {
        let throughput = report.rows.map { Point(label: "\($0.workers)", spread: $0.messagesPerSecond) }
        let latency = report.rows.compactMap { row in
            row.latencyMicros.map { Point(label: "\(row.workers)", spread: $0.p99) }
        }
        let labels = report.rows.map { "\($0.workers)" }
        let machine = report.machine
        let title = "replay bench — \(report.tape.name)"
        let memory = String(format: "%.1f GiB", Double(machine.memoryBytes) / 1_073_741_824)
        let subtitle =
            "\(machine.cores) cores, \(machine.cpuModel), \(memory) · speed \(report.options.speed) · exchange-hash \(report.options.exchangeHash) · "
            + "\(report.options.repeats) run(s) per point · tape \(report.tape.contentDigest.prefix(12)) · \(report.date)"

        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">
            <title>\(escape(title))</title>
            <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="#ffffff"/>
            <text x="\(Int(width / 2))" y="28" text-anchor="middle" font-size="18" font-weight="bold">\(escape(title))</text>
            <text x="\(Int(width / 2))" y="50" text-anchor="middle" font-size="12" fill="#444444">\(escape(subtitle))</text>

            """
        let top = 96.0
        let bottom = height - 110
        out += panel(
            id: "throughput", title: "Throughput", yLabel: "messages per second (median)", points: throughput,
            labels: labels, color: "#1f77b4", left: 90, right: 460, top: top, bottom: bottom)
        out += panel(
            id: "latency", title: "Router → worker latency, p99 (slowest worker)", yLabel: "p99 latency (µs)",
            points: latency, labels: labels, color: "#d62728", left: 580, right: 950, top: top, bottom: bottom)
        out += legend(y: height - 40, runs: report.options.repeats)
        out += "</svg>\n"
        return out
    }

    /// One panel: frame, grid, ticks, axis labels, the median line, points and error bars.
    static func panel(
        id: String, title: String, yLabel: String, points: [Point], labels: [String], color: String, left: Double,
        right: Double, top: Double, bottom: Double
    ) -> String {
        // 8 % headroom so the value labels above the highest point stay inside the frame.
        let high = (points.map(\.spread.max).max() ?? 0) * 1.08
        let y = ChartScale(high: high, tickCount: 5, rangeLow: bottom, rangeHigh: top)
        let slot = (right - left) / Double(max(labels.count, 1))
        func x(_ label: String) -> Double {
            let index = labels.firstIndex(of: label) ?? 0
            return left + slot * (Double(index) + 0.5)
        }
        var out = "<g id=\"\(id)\">\n"
        out += text(x: (left + right) / 2, y: top - 12, title, anchor: "middle", extra: "font-weight=\"bold\"")
        for tick in y.ticks {
            let py = y(tick)
            out +=
                "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(right))\" y2=\"\(f(py))\" stroke=\"#e5e5e5\"/>\n"
            out +=
                "<line x1=\"\(f(left - 5))\" y1=\"\(f(py))\" x2=\"\(f(left))\" y2=\"\(f(py))\" stroke=\"#333333\"/>\n"
            out += text(x: left - 8, y: py + 4, ChartScale.label(tick), anchor: "end", extra: "class=\"ytick\"")
        }
        for label in labels {
            let px = x(label)
            out +=
                "<line x1=\"\(f(px))\" y1=\"\(f(bottom))\" x2=\"\(f(px))\" y2=\"\(f(bottom + 5))\" stroke=\"#333333\"/>\n"
            out += text(x: px, y: bottom + 20, label, anchor: "middle", extra: "class=\"xtick\"")
        }
        out +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"#333333\"/>\n"
        out += text(x: (left + right) / 2, y: bottom + 42, "worker processes", anchor: "middle")
        let midY = (top + bottom) / 2
        out += text(
            x: left - 62, y: midY, yLabel, anchor: "middle",
            extra: "transform=\"rotate(-90 \(f(left - 62)) \(f(midY)))\"")
        if points.isEmpty {
            out += text(x: (left + right) / 2, y: midY, "not measured", anchor: "middle", extra: "fill=\"#888888\"")
        }
        if points.count > 1 {
            let path = points.map { "\(f(x($0.label))),\(f(y($0.spread.median)))" }.joined(separator: " ")
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
        }
        for point in points {
            let px = x(point.label)
            let low = y(point.spread.min)
            let highY = y(point.spread.max)
            out += "<g class=\"errorbar\" stroke=\"\(color)\" stroke-width=\"1.5\">"
            out += "<line x1=\"\(f(px))\" y1=\"\(f(low))\" x2=\"\(f(px))\" y2=\"\(f(highY))\"/>"
            out += "<line x1=\"\(f(px - 6))\" y1=\"\(f(low))\" x2=\"\(f(px + 6))\" y2=\"\(f(low))\"/>"
            out += "<line x1=\"\(f(px - 6))\" y1=\"\(f(highY))\" x2=\"\(f(px + 6))\" y2=\"\(f(highY))\"/></g>\n"
            out +=
                "<circle class=\"point\" cx=\"\(f(px))\" cy=\"\(f(y(point.spread.median)))\" r=\"4.5\" fill=\"\(color)\">"
            out += "<title>\(point.label) workers: \(ChartScale.label(point.spread.median)) "
            out += "(min \(ChartScale.label(point.spread.min)), max \(ChartScale.label(point.spread.max)))</title>"
            out += "</circle>\n"
            out += text(
                x: px + 10, y: y(point.spread.median) - 6, ChartScale.valueLabel(point.spread.median), anchor: "start",
                extra: "font-size=\"11\" fill=\"\(color)\"")
        }
        out += "</g>\n"
        return out
    }

    static func legend(y: Double, runs: Int) -> String {
        var out = "<g id=\"legend\" font-size=\"12\">\n"
        out += "<line x1=\"250\" y1=\"\(f(y))\" x2=\"280\" y2=\"\(f(y))\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
        out += "<circle cx=\"265\" cy=\"\(f(y))\" r=\"4.5\" fill=\"#1f77b4\"/>\n"
        out += text(x: 288, y: y + 4, "messages/s, median", anchor: "start")
        out += "<line x1=\"430\" y1=\"\(f(y))\" x2=\"460\" y2=\"\(f(y))\" stroke=\"#d62728\" stroke-width=\"2\"/>"
        out += "<circle cx=\"445\" cy=\"\(f(y))\" r=\"4.5\" fill=\"#d62728\"/>\n"
        out += text(x: 468, y: y + 4, "p99 latency µs, median", anchor: "start")
        out +=
            "<g stroke=\"#333333\" stroke-width=\"1.5\"><line x1=\"640\" y1=\"\(f(y - 8))\" x2=\"640\" y2=\"\(f(y + 8))\"/>"
        out += "<line x1=\"634\" y1=\"\(f(y - 8))\" x2=\"646\" y2=\"\(f(y - 8))\"/>"
        out += "<line x1=\"634\" y1=\"\(f(y + 8))\" x2=\"646\" y2=\"\(f(y + 8))\"/></g>\n"
        out += text(x: 654, y: y + 4, "error bar: min–max over \(runs) run(s)", anchor: "start")
        out += "</g>\n"
        return out
    }

    /// An HTML page with the chart inline and the table below it.
    static func html(_ report: BenchReport) -> String {
        let svgBody = svg(report).split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
            .joined(separator: "\n")
        var rows = ""
        for line in BenchTable.lines(report) {
            rows += escape(line) + "\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>replay bench — \(escape(report.tape.name))</title>
            <style>body{font-family:sans-serif;margin:2em;color:#222} pre{font-size:12px;background:#f6f6f6;padding:1em;overflow-x:auto}</style>
            </head>
            <body>
            <h1>replay bench — \(escape(report.tape.name))</h1>
            <p>\(escape(report.machine.line)) · date \(escape(report.date)) · tape digest \
            <code>\(escape(report.tape.contentDigest))</code> · speed \(escape(report.options.speed)) · \
            \(report.options.repeats) run(s) per worker count</p>
            \(svgBody)
            <pre>\(rows)</pre>
            </body>
            </html>

            """
    }

    static func text(x: Double, y: Double, _ content: String, anchor: String, extra: String = "") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\"\(extra.isEmpty ? "" : " " + extra)>\(escape(content))</text>\n"
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
