import Foundation

/// Averages the reported values over an interval and appends them to a log, written to `out/log` as JSON
/// (Chainer's `LogReport`): each row holds the means (keys in the order first reported), then `epoch`,
/// `iteration` and `elapsed_time`. The file is rewritten whole, atomically, after each row.
///
/// The extension runs every iteration to accumulate; its own `trigger` decides when a row is made (once per epoch
/// by default), as in Chainer.
public final class LogReport: Extension {
    /// The keys to log (all reported keys when nil).
    public let keys: [String]?
    /// The file name inside the trainer's output directory (nil: do not write a file).
    public let filename: String?
    /// Called on each row before it is stored (may add or change values).
    public let postprocess: ((inout LogEntry) -> Void)?
    private let trigger: Trigger
    private var summary = DictSummary()
    /// The rows so far.
    public private(set) var log: [LogEntry] = []

    /// A log of the means of the reported values over each `trigger` interval.
    /// - Parameters:
    ///   - keys: the keys to log; nil logs every reported key.
    ///   - trigger: when a row is made (once per epoch by default); the extension itself runs every iteration.
    ///   - postprocess: called on each row before it is stored.
    ///   - filename: the JSON file inside the trainer's output directory (`log`); nil writes none.
    public init(keys: [String]? = nil, trigger: Trigger = IntervalTrigger(1, .epoch), postprocess: ((inout LogEntry) -> Void)? = nil,
                filename: String? = "log") {
        self.keys = keys
        self.trigger = trigger
        self.postprocess = postprocess
        self.filename = filename
    }

    public override var defaultName: String { "LogReport" }

    public override func callAsFunction(_ trainer: Trainer) throws {
        var obs = trainer.observation
        if let keys { obs = obs.filter { keys.contains($0.key) } }
        summary.add(obs)
        guard trainer.isBeforeTraining || trigger(trainer) else { return }
        var row = LogEntry(summary.names.map { (key: $0, value: summary.summaries[$0]!.mean, isInteger: false) })
        row.items.append((key: "epoch", value: Double(trainer.updater.epoch), isInteger: true))
        row.items.append((key: "iteration", value: Double(trainer.updater.iteration), isInteger: true))
        row.items.append((key: "elapsed_time", value: trainer.elapsedTime, isInteger: false))
        postprocess?(&row)
        log.append(row)
        if let filename {
            try writeAtomically(Data(LogEntry.render(log, pretty: true).utf8), to: trainer.out + "/" + filename)
        }
        summary = DictSummary()
    }

    /// Chainer's keys: `_trigger/…`, `_summary/_names` and `_summary/_summaries/<i>/{_x,_x2,_n}`, `_log`.
    public override func serialize(_ s: Serializer) throws {
        try trigger.serialize(s["_trigger"])
        try serializeSummary(&summary, s["_summary"])
        var text = LogEntry.render(log, pretty: false)
        try s("_log", &text)
        if s.isLoading { log = try LogEntry.parse(text) }
    }
}

/// Saves or loads a ``DictSummary`` in Chainer's layout (`_names` as a JSON list, then `_summaries/<i>/…`).
func serializeSummary(_ summary: inout DictSummary, _ s: Serializer) throws {
    var names = "[" + summary.names.map { "\"\(jsonEscape($0))\"" }.joined(separator: ", ") + "]"
    try s("_names", &names)
    var list = summary.names
    if s.isLoading {
        guard let data = names.data(using: .utf8), let parsed = try? JSONSerialization.jsonObject(with: data) as? [String] else {
            throw SerializationError("_summary/_names: '\(names)' is not a JSON list of names")
        }
        list = parsed
    }
    var restored: [String: Summary] = [:]
    for (i, name) in list.enumerated() {
        let one = summary.summaries[name] ?? Summary()
        var x = one.sum, x2 = one.sumOfSquares, n = one.count
        let c = s["_summaries"][String(i)]
        try c("_x", &x)
        try c("_x2", &x2)
        try c.counter("_n", &n)
        restored[name] = Summary(sum: x, sumOfSquares: x2, count: n)
    }
    if s.isLoading { summary = DictSummary(names: list, summaries: restored) }
}

/// Prints the rows of a ``LogReport`` as a table (Chainer's `PrintReport`): a header of the chosen entries, then
/// one line per row, each value in Python's `{:g}` format, left-aligned in a column at least 10 wide.
public final class PrintReport: Extension {
    /// The log keys printed, one column each, in order (`epoch`, `main/loss`, …).
    public let entries: [String]
    /// The name of the ``LogReport`` extension whose rows are printed (`LogReport` by default).
    public let logReportName: String
    private let out: TextSink
    private var printed = 0
    private var headerDone = false

    /// A table of the given log keys.
    /// - Parameters:
    ///   - entries: the keys to print, one column each; a row without a key leaves its cell blank.
    ///   - logReport: the name of the ``LogReport`` extension to read.
    ///   - out: where to print (standard output by default).
    public init(_ entries: [String], logReport: String = "LogReport", out: TextSink = .standardOutput) {
        self.entries = entries
        logReportName = logReport
        self.out = out
    }

    public override var defaultName: String { "PrintReport" }

    private var widths: [Int] { entries.map { Swift.max(10, $0.count) } }

    public override func callAsFunction(_ trainer: Trainer) throws {
        guard let log = (trainer.getExtension(logReportName) as? LogReport)?.log else {
            throw TrainingError("PrintReport: the trainer has no LogReport named '\(logReportName)'; add one with trainer.extend(LogReport())")
        }
        if !headerDone {
            out.write(zip(entries, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ") + "\n")
            headerDone = true
        }
        while printed < log.count {
            let row = log[printed]
            var line = out.isTerminal ? "\u{1B}[J" : ""
            for (e, w) in zip(entries, widths) {
                if let v = row[e] {
                    line += PrintReport.format(v, isInteger: row.items.first { $0.key == e }?.isInteger ?? false)
                        .padding(toLength: Swift.max(w, 1), withPad: " ", startingAt: 0) + "  "
                } else {
                    line += String(repeating: " ", count: w + 2)
                }
            }
            out.write(line + "\n")
            printed += 1
        }
    }

    /// Python's `'{:g}'.format(v)`: six significant digits, trailing zeros removed.
    static func format(_ v: Double, isInteger: Bool) -> String {
        if isInteger && Swift.abs(v) < 1e6 { return String(Int(v)) }
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        return String(format: "%g", v)
    }

    /// Saves how many rows were printed (`_printed`). A resumed run prints the header and every row of the
    /// restored log again, so that its output shows the whole table.
    public override func serialize(_ s: Serializer) throws {
        var n = printed
        if !s.isLoading || s.contains("_printed") { try s("_printed", &n) }
        if s.isLoading {
            if n < 0 { throw SerializationError("PrintReport: the snapshot's printed row count is negative (\(n))") }
            printed = 0
            headerDone = false
        }
    }
}

/// A progress bar with speed and estimated time left (Chainer's `ProgressBar`). On a terminal it redraws in place
/// every `updateInterval` iterations; elsewhere (a file, a pipe) it prints one plain line instead.
public final class ProgressBar: Extension {
    /// How many iterations pass between redraws.
    public let updateInterval: Int
    /// The width of the bars, in characters.
    public let barLength: Int
    private let out: TextSink
    private var recent: [(iteration: Int, epochDetail: Double, time: Double)] = []
    private var drawn = false

    /// - Parameters:
    ///   - updateInterval: draw every this many iterations (at least 1).
    ///   - barLength: the width of the bars, in characters.
    ///   - out: where to draw (``TextSink/progress`` by default: standard output on a terminal, standard error
    ///     otherwise, so that a log table sent to a file stays clean).
    public init(updateInterval: Int = 100, barLength: Int = 50, out: TextSink = .progress) {
        self.updateInterval = Swift.max(1, updateInterval)
        self.barLength = barLength
        self.out = out
    }

    public override var defaultName: String { "ProgressBar" }

    public override func callAsFunction(_ trainer: Trainer) throws {
        let u = trainer.updater
        let now = Trainer.now()
        recent.append((u.iteration, u.epochDetail, now))
        if recent.count > 100 { recent.removeFirst() }
        guard u.iteration % updateInterval == 0 else { return }
        out.write(render(trainer, now: now))
        drawn = true
    }

    func render(_ trainer: Trainer, now: Double) -> String {
        let u = trainer.updater
        let length = trainer.stopTrigger.trainingLength
        var rate = 0.0
        if let (len, unit) = length { rate = Swift.min(1, (unit == .iteration ? Double(u.iteration) : u.epochDetail) / len) }
        let epochRate = u.epochDetail - u.epochDetail.rounded(.down)
        var speed = Double.infinity, eta = 0.0
        if let first = recent.first, now > first.time, u.iteration > first.iteration {
            speed = Double(u.iteration - first.iteration) / (now - first.time)
            if let (len, unit) = length {
                if unit == .iteration {
                    eta = (len - Double(u.iteration)) / speed
                } else if u.epochDetail > first.epochDetail {
                    eta = (len - u.epochDetail) / ((u.epochDetail - first.epochDetail) / (now - first.time))
                }
            }
        }
        let lengthText = length.map { "\(PrintReport.format($0.0, isInteger: $0.0 == $0.0.rounded())) \($0.1.rawValue)s" } ?? "?"
        let speedText = String(format: "%10.5g", speed) + " iters/sec. Estimated time to finish: \(ProgressBar.clock(Swift.max(eta, 0)))."
        if !out.isTerminal {
            return String(format: "%10d iter, %d epoch / ", u.iteration, u.epoch) + lengthText + String(format: " (%6.2f%%) ", rate * 100)
                + speedText.trimmingCharacters(in: .whitespaces) + "\n"
        }
        func bar(_ r: Double) -> String {
            let filled = Int(r * Double(barLength))
            return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barLength - filled) + "]"
        }
        return "\u{1B}[J" + "     total \(bar(rate)) \(String(format: "%6.2f%%", rate * 100))\n"
            + "this epoch \(bar(epochRate)) \(String(format: "%6.2f%%", epochRate * 100))\n"
            + String(format: "%10d iter, %d epoch / ", u.iteration, u.epoch) + lengthText + "\n"
            + speedText + "\n" + "\u{1B}[4A"
    }

    /// `h:mm:ss`, as Python prints a `timedelta`.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }

    public override func finalize(_ trainer: Trainer) {
        if drawn && out.isTerminal { out.write("\u{1B}[J") }
    }
}
