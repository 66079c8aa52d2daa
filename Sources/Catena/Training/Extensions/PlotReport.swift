import Foundation

/// Plots reported values against the iteration or epoch as an SVG line chart, viewable in any browser (Chainer's
/// `PlotReport`, which writes PNG through matplotlib). Values are averaged over each `trigger` interval, as in
/// ``LogReport``; the file is rewritten atomically after each point.
public final class PlotReport: Extension {
    public let yKeys: [String]
    public let xKey: String
    public let filename: String
    private let trigger: Trigger
    private var summary = DictSummary()
    /// The points so far: for each key, (x, mean) pairs.
    public private(set) var data: [String: [(Double, Double)]] = [:]

    /// - Parameters:
    ///   - xKey: `iteration` or `epoch`.
    public init(_ yKeys: [String], xKey: String = "iteration", trigger: Trigger = IntervalTrigger(1, .epoch), filename: String = "plot.svg") {
        self.yKeys = yKeys
        self.xKey = xKey
        self.trigger = trigger
        self.filename = filename
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

    /// The chart as an SVG document.
    public func svg(width: Double = 640, height: Double = 400) -> String {
        let left = 70.0, right = 180.0, top = 20.0, bottom = 45.0
        let pw = width - left - right, ph = height - top - bottom
        let points = data.values.flatMap { $0 }.filter { $0.1.isFinite }
        let xs = points.map(\.0), ys = points.map(\.1)
        var x0 = xs.min() ?? 0, x1 = xs.max() ?? 1, y0 = ys.min() ?? 0, y1 = ys.max() ?? 1
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05
        y0 -= pad
        y1 += pad
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * ph }
        func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for i in 0...4 {
            let yv = y0 + (y1 - y0) * Double(i) / 4, xv = x0 + (x1 - x0) * Double(i) / 4
            s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(yv)))\" x2=\"\(fmt(left + pw))\" y2=\"\(fmt(py(yv)))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(yv) + 4))\" text-anchor=\"end\">\(String(format: "%.4g", yv))</text>\n"
            s += "<text x=\"\(fmt(px(xv)))\" y=\"\(fmt(top + ph + 18))\" text-anchor=\"middle\">\(String(format: "%.4g", xv))</text>\n"
        }
        s += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(pw))\" height=\"\(fmt(ph))\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(fmt(left + pw / 2))\" y=\"\(fmt(height - 8))\" text-anchor=\"middle\">\(xKey)</text>\n"
        for (i, key) in yKeys.enumerated() {
            let color = colors[i % colors.count]
            let pts = (data[key] ?? []).filter { $0.1.isFinite }
            if !pts.isEmpty {
                let path = pts.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
                for p in pts { s += "<circle cx=\"\(fmt(px(p.0)))\" cy=\"\(fmt(py(p.1)))\" r=\"2.5\" fill=\"\(color)\"/>\n" }
            }
            let ly = top + 14 + Double(i) * 18
            s += "<line x1=\"\(fmt(left + pw + 12))\" y1=\"\(fmt(ly - 4))\" x2=\"\(fmt(left + pw + 32))\" y2=\"\(fmt(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(fmt(left + pw + 38))\" y=\"\(fmt(ly))\">\(key.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;"))</text>\n"
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

/// Writes the computational graph behind a reported variable as a Graphviz `dot` file, once, on the first
/// iteration (Chainer's `DumpGraph`). Render it with `dot -Tsvg cg.dot -o cg.svg`.
public final class DumpGraph: Extension {
    public let rootName: String
    public let filename: String
    private var called = false
    private var savedFlag = false

    public init(_ rootName: String = "main/loss", filename: String = "cg.dot") {
        self.rootName = rootName
        self.filename = filename
    }

    public override var defaultName: String { "dump_graph" }

    public override func initialize(_ trainer: Trainer) throws {
        savedFlag = Config.current.keepGraphOnReport
        Config.current.keepGraphOnReport = true
    }

    public override func callAsFunction(_ trainer: Trainer) throws {
        if called { return }
        called = true
        defer {
            Config.current.keepGraphOnReport = savedFlag
            trainer.reporter.variables = [:]
        }
        guard let root = trainer.reporter.variables[rootName] else {
            throw TrainingError("DumpGraph: nothing was reported as '\(rootName)' with its graph (report a Variable under that name)")
        }
        try writeAtomically(Data(DumpGraph.dot(root).utf8), to: trainer.out + "/" + filename)
    }

    public override func finalize(_ trainer: Trainer) {
        if !called { Config.current.keepGraphOnReport = savedFlag }
    }

    /// The graph behind `root` in Graphviz's dot language: variables as octagons (`shape, dtype`, parameters with
    /// their names), functions as boxes, edges in the direction of computation.
    public static func dot(_ root: Variable) -> String {
        var lines = ["digraph graphname{rankdir=TB;"]
        var seenVars = Set<ObjectIdentifier>(), seenFuncs = Set<ObjectIdentifier>()
        var stack = [root]
        func id(_ o: AnyObject) -> String { String(UInt(bitPattern: ObjectIdentifier(o).hashValue)) }
        func addVar(_ v: Variable) {
            if !seenVars.insert(ObjectIdentifier(v)).inserted { return }
            let shape = "(" + v.shape.map(String.init).joined(separator: ", ") + (v.ndim == 1 ? ",)" : ")")
            let label = (v is Parameter ? (v.name.map { "\($0): " } ?? "") : "") + "\(shape), \(v.dtype)"
            lines.append("\(id(v)) [label=\"\(label)\",shape=\"octagon\",fillcolor=\"#E0E0E0\",style=\"filled\"];")
        }
        addVar(root)
        while let v = stack.popLast() {
            guard let f = v.creator else { continue }
            if seenFuncs.insert(ObjectIdentifier(f)).inserted {
                lines.append("\(id(f)) [label=\"\(f.label)\",shape=\"record\",fillcolor=\"#6495ED\",style=\"filled\"];")
                for x in f.inputs {
                    addVar(x)
                    lines.append("\(id(x)) -> \(id(f));")
                    stack.append(x)
                }
            }
            lines.append("\(id(f)) -> \(id(v));")
        }
        return lines.joined() + "}"
    }
}
