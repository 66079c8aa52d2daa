import Foundation
import XCTest

@testable import Catena

final class PlotAndPrintReportTests: TemporaryDirectoryTestCase {
    func testLinearAxesHaveNiceTicksWithinTheDataRange() {
        // A loss from 0.36 down to 0.0006: ticks in steps of 0.1 from 0 (not below: the data is non-negative).
        let loss = PlotAxis.linear([0.36, 0.05, 0.0006], integral: false)
        XCTAssertEqual(loss.low, 0)
        XCTAssertEqual(loss.high, 0.4, accuracy: 1e-12)
        XCTAssertEqual(loss.labels, ["0.0", "0.1", "0.2", "0.3", "0.4"])
        // An accuracy from 0.87 to 0.9999: never above 1.
        let accuracy = PlotAxis.linear([0.87, 0.99, 0.9999], integral: false)
        XCTAssertLessThanOrEqual(accuracy.high, 1)
        XCTAssertGreaterThanOrEqual(accuracy.high, 0.9999)
        XCTAssertLessThanOrEqual(accuracy.low, 0.87)
        XCTAssertEqual(accuracy.labels, ["0.86", "0.88", "0.90", "0.92", "0.94", "0.96", "0.98", "1.00"])
        // Signed data may go below 0; ticks are multiples of the step.
        let signed = PlotAxis.linear([-3.2, 7.9], integral: false)
        XCTAssertEqual(signed.ticks, [-4, -2, 0, 2, 4, 6, 8])
        // Epochs 1…5: whole-number ticks.
        XCTAssertEqual(PlotAxis.linear([1, 2, 3, 4, 5], integral: true).labels, ["1", "2", "3", "4", "5"])
        // One value: a range around it (at 0 for a zero loss).
        let one = PlotAxis.linear([0], integral: false)
        XCTAssertEqual(one.low, 0)
        XCTAssertGreaterThan(one.high, 0)
        XCTAssertEqual(PlotAxis.linear([1, 1], integral: false).high, 1, "an accuracy of exactly 1 stays at 1")
    }

    func testLogAxesSpanWholeDecades() {
        let a = PlotAxis.logarithmic([0.36, 0.0006])
        XCTAssertEqual(a.low, 1e-4, accuracy: 1e-18)
        XCTAssertEqual(a.high, 1, accuracy: 1e-15)
        XCTAssertEqual(a.labels, ["0.0001", "0.001", "0.01", "0.1", "1"])
        XCTAssertEqual(a.fraction(0.01), 0.5, accuracy: 1e-12)
        // Fewer than three decades: 2 and 5 as well.
        XCTAssertEqual(PlotAxis.logarithmic([0.15, 0.9]).labels, ["0.1", "0.2", "0.5", "1"])
    }

    func testTheSVGSizesItsLegendAndDrawsALogScale() throws {
        let plot = PlotReport(["main/loss", "validation/main/a_rather_long_key_name"], xKey: "epoch", yScale: .log)
        // No data yet: still a valid document.
        XCTAssertTrue(plot.svg().hasSuffix("</svg>\n"))
        let short = PlotReport(["a"], xKey: "epoch").svg(), long = plot.svg()
        func width(_ svg: String) -> Double {
            let r = svg.range(of: "width=\"")!
            return Double(svg[r.upperBound...].prefix { $0 != "\"" })!
        }
        // The legend column grows with the key: 7 px per character here.
        XCTAssertEqual(width(long) - width(short), 7 * Double("validation/main/a_rather_long_key_name".count - 1), accuracy: 1)
        XCTAssertTrue(long.contains(">log scale<"))
    }

    func testPrintReportPrintsTheWholeTableAgainAfterAResume() throws {
        let dir = tempDir("print")
        func makeTrainer(_ iterations: Int, _ sink: @escaping (String) -> Void) -> Trainer {
            let trainer = Trainer(updater: ScriptedUpdater(values: [1, 2, 3, 4]), stopTrigger: IntervalTrigger(Double(iterations), .iteration), out: dir)
            trainer.extend(LogReport(trigger: IntervalTrigger(1, .iteration), filename: nil))
            trainer.extend(PrintReport(["iteration", "v"], out: TextSink(isTerminal: false, sink)))
            return trainer
        }
        var first = ""
        let a = makeTrainer(2) { first += $0 }
        try a.run()
        XCTAssertEqual(first.split(separator: "\n").count, 3)   // header + 2 rows
        let saved = Dictionary(uniqueKeysWithValues: try DictionarySerializer.serialize(a).map { ($0.key, $0.value) })
        var second = ""
        let b = makeTrainer(4) { second += $0 }
        try DictionaryDeserializer.load(b, from: saved)
        try b.run()
        let lines = second.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(lines.count, 5, second)                  // header + the 2 restored rows + 2 new ones
        XCTAssertTrue(lines[0].hasPrefix("iteration"))
        XCTAssertEqual(lines[1...].map { $0.split(separator: " ").first.map(String.init) }, ["1", "2", "3", "4"])
        // A negative count in a snapshot is refused.
        var bad = saved
        bad["extensions/PrintReport/_printed"] = .array(NDArray(values: [Int64(-3)], shape: []))
        XCTAssertThrowsError(try DictionaryDeserializer.load(makeTrainer(4) { _ in }, from: bad)) { XCTAssertTrue("\($0)".contains("negative"), "\($0)") }
    }
}
