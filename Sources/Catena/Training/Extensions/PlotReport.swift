import Foundation

/// How the value axis of a ``PlotReport`` is scaled.
public enum PlotScale: String, Sendable {
    /// Linear: the default.
    case linear
    /// Logarithmic: for values that fall over several orders of magnitude (a loss from 0.4 to 0.0006); values
    /// that are not positive are left out.
    case log
}

/// Plots reported values against the iteration or epoch as an SVG line chart, viewable in any browser (Chainer's
/// `PlotReport`, which writes PNG through matplotlib). Values are averaged over each `trigger` interval, as in
/// ``LogReport``; the file is rewritten atomically after each point.
///
/// The axes have rounded ("nice") ticks and stay within the data's natural range: an axis of non-negative values
/// (a loss) does not go below 0, and one of values within [0, 1] (an accuracy) does not go above 1. The legend is
/// sized to the longest key.
public final class PlotReport: Extension {
    /// The reported keys plotted, one line each.
    public let yKeys: [String]
    /// The horizontal axis: `iteration` or `epoch`.
    public let xKey: String
    /// The chart's file name in the trainer's output directory (`plot.svg` by default).
    public let filename: String
    /// Linear or logarithmic value axis.
    public let yScale: PlotScale
    private let trigger: Trigger
    private var summary = DictSummary()
    /// The points so far: for each key, (x, mean) pairs.
    public private(set) var data: [String: [(Double, Double)]] = [:]

    /// - Parameters:
    ///   - yKeys: the reported keys to plot, one line each (`main/loss`, `validation/main/loss`).
    ///   - xKey: `iteration` or `epoch`.
    ///   - trigger: when to add a point (the mean since the last one) and rewrite the file; every epoch by default.
    ///   - filename: the chart's file name, in the trainer's output directory.
    ///   - yScale: `.log` for values spanning orders of magnitude.
    public init(_ yKeys: [String], xKey: String = "iteration", trigger: Trigger = IntervalTrigger(1, .epoch), filename: String = "plot.svg",
                yScale: PlotScale = .linear) {
        self.yKeys = yKeys
        self.xKey = xKey
        self.trigger = trigger
        self.filename = filename
        self.yScale = yScale
    }

    public override var defaultName: String { "PlotReport" }

    public override func callAsFunction(_ trainer: Trainer) throws {
        summary.add(trainer.observation.filter { yKeys.contains($0.key) })
        guard trigger(trainer) else { return }
        let x = xKey == "epoch" ? Double(trainer.updater.epoch) : Double(trainer.updater.iteration)
        for k in yKeys { if let m = summary.mean[k] { data[k, default: []].append((x, m)) } }
        summary = DictSummary()
        try writeAtomically(Data(svg().utf8), to: trainer.out + "/" + filename)
    }

    /// The chart as an SVG document, with a plot area of `width` × `height` pixels (the margins and the legend
    /// come on top).
    public func svg(width plotWidth: Double = 430, height plotHeight: Double = 330) -> String {
        let isLog = yScale == .log
        func usable(_ p: (Double, Double)) -> Bool { p.0.isFinite && p.1.isFinite && (!isLog || p.1 > 0) }
        let points = yKeys.flatMap { data[$0] ?? [] }.filter(usable)
        let xAxis = PlotAxis.linear(points.map(\.0), integral: xKey == "epoch" || xKey == "iteration")
        let yAxis = isLog ? PlotAxis.logarithmic(points.map(\.1)) : PlotAxis.linear(points.map(\.1), integral: false)
        let longest = yKeys.map(\.count).max() ?? 0
        let left = 14 + 7.0 * Double(yAxis.labels.map(\.count).max() ?? 1), top = 22.0, bottom = 44.0
        let legendWidth = 52 + 7.0 * Double(longest)
        let width = left + plotWidth + legendWidth, height = top + plotHeight + bottom
        func px(_ x: Double) -> Double { left + xAxis.fraction(x) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - yAxis.fraction(y)) * plotHeight }
        func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
        func escape(_ t: String) -> String {
            t.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width.rounded(.up)))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (v, label) in zip(yAxis.ticks, yAxis.labels) {
            s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(v)))\" x2=\"\(fmt(left + plotWidth))\" y2=\"\(fmt(py(v)))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(v) + 4))\" text-anchor=\"end\">\(label)</text>\n"
        }
        for (v, label) in zip(xAxis.ticks, xAxis.labels) {
            s += "<line x1=\"\(fmt(px(v)))\" y1=\"\(fmt(top + plotHeight))\" x2=\"\(fmt(px(v)))\" y2=\"\(fmt(top + plotHeight + 5))\" stroke=\"black\"/>\n"
            s += "<text x=\"\(fmt(px(v)))\" y=\"\(fmt(top + plotHeight + 19))\" text-anchor=\"middle\">\(label)</text>\n"
        }
        s += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotWidth))\" height=\"\(fmt(plotHeight))\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(height - 8))\" text-anchor=\"middle\">\(escape(xKey))</text>\n"
        if isLog { s += "<text x=\"\(fmt(left))\" y=\"\(fmt(top - 8))\" fill=\"#555\" font-size=\"11\">log scale</text>\n" }
        for (i, key) in yKeys.enumerated() {
            let color = colors[i % colors.count]
            // One polyline per run of usable points: a NaN (or, on a log axis, a non-positive value) breaks the line.
            var runs: [[(Double, Double)]] = [[]]
            for p in data[key] ?? [] {
                if usable(p) { runs[runs.count - 1].append(p) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
            }
            for run in runs where !run.isEmpty {
                if run.count > 1 {
                    let path = run.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
                    s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
                }
                for p in run { s += "<circle cx=\"\(fmt(px(p.0)))\" cy=\"\(fmt(py(p.1)))\" r=\"2.5\" fill=\"\(color)\"/>\n" }
            }
            let ly = top + 14 + Double(i) * 18
            s += "<line x1=\"\(fmt(left + plotWidth + 12))\" y1=\"\(fmt(ly - 4))\" x2=\"\(fmt(left + plotWidth + 32))\" y2=\"\(fmt(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(fmt(left + plotWidth + 38))\" y=\"\(fmt(ly))\">\(escape(key))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// The points as JSON under `_plot_<filename>` (as Chainer), and the running summary.
    public override func serialize(_ s: Serializer) throws {
        try trigger.serialize(s["_trigger"])
        try serializeSummary(&summary, s["_summary"])
        var rows = yKeys.map { k in LogEntry((data[k] ?? []).flatMap { [(key: "x", value: $0.0, isInteger: false), (key: "y", value: $0.1, isInteger: false)] }) }
        var text = LogEntry.render(rows, pretty: false)
        try s("_plot_" + filename, &text)
        if s.isLoading {
            rows = try LogEntry.parse(text)
            data = [:]
            for (k, row) in zip(yKeys, rows) {
                var pts: [(Double, Double)] = []
                var i = 0
                while i + 1 < row.items.count {
                    pts.append((row.items[i].value, row.items[i + 1].value))
                    i += 2
                }
                if !pts.isEmpty { data[k] = pts }
            }
        }
    }
}

/// One axis of a ``PlotReport`` chart: its range, where its ticks go and how they are labelled.
struct PlotAxis {
    let low: Double, high: Double
    let ticks: [Double]
    let labels: [String]
    let isLog: Bool

    /// Where `v` falls along the axis, 0 at `low` and 1 at `high`.
    func fraction(_ v: Double) -> Double {
        isLog ? (Foundation.log10(v) - Foundation.log10(low)) / (Foundation.log10(high) - Foundation.log10(low)) : (v - low) / (high - low)
    }

    /// The "nice" number (1, 2 or 5 times a power of ten) closest to `x` (Heckbert's rounding), so that a range
    /// divided by 5 gives 4 to 8 ticks.
    static func niceStep(_ x: Double) -> Double {
        let e = Foundation.pow(10, (Foundation.log10(x)).rounded(.down))
        let f = x / e
        return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * e
    }

    /// A linear axis over `values` with about five rounded ticks. Non-negative data keeps the axis at or above 0,
    /// data within [0, 1] keeps it at or below 1; `integral` data (epochs, iterations) gets whole-number ticks.
    static func linear(_ values: [Double], integral: Bool) -> PlotAxis {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        let nonNegative = lo >= 0, fraction = lo >= 0 && hi <= 1
        if hi <= lo {
            let span = lo == 0 ? 1 : Swift.abs(lo) * 0.1
            lo -= span
            hi += span
        }
        var step = niceStep((hi - lo) / 5)
        if integral { step = Swift.max(1, step.rounded()) }
        lo = (lo / step).rounded(.down) * step
        hi = (hi / step).rounded(.up) * step
        if nonNegative { lo = Swift.max(lo, 0) }
        if fraction { hi = Swift.min(hi, 1) }
        if hi <= lo { hi = lo + step }
        var ticks: [Double] = []
        var t = lo
        while t <= hi + step * 1e-9 {
            ticks.append(Swift.abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        let decimals = Swift.max(0, Int((-Foundation.log10(step)).rounded(.up)))
        let big = Swift.max(Swift.abs(lo), Swift.abs(hi)) >= 1e6
        let labels = ticks.map { big ? String(format: "%.3g", $0) : String(format: "%.\(decimals)f", $0) }
        return PlotAxis(low: lo, high: hi, ticks: ticks, labels: labels, isLog: false)
    }

    /// A logarithmic axis over the positive `values`, from the decade below the smallest to the decade above the
    /// largest, with a tick per decade (and at 2 and 5 when there are fewer than three decades).
    static func logarithmic(_ values: [Double]) -> PlotAxis {
        let positive = values.filter { $0 > 0 }
        let lo = Foundation.pow(10, Foundation.log10(positive.min() ?? 0.1).rounded(.down))
        var hi = Foundation.pow(10, Foundation.log10(positive.max() ?? 1).rounded(.up))
        if hi <= lo { hi = lo * 10 }
        let decades = Int((Foundation.log10(hi) - Foundation.log10(lo)).rounded())
        var ticks: [Double] = []
        var d = lo
        while d <= hi * (1 + 1e-9) {
            ticks.append(d)
            if decades < 3 && d < hi { ticks += [2 * d, 5 * d] }
            d *= 10
        }
        return PlotAxis(low: lo, high: hi, ticks: ticks, labels: ticks.map { String(format: "%g", $0) }, isLog: true)
    }
}
