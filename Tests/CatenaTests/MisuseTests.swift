import Foundation
import XCTest

@testable import Catena

/// Misuse that must stop the program with a clear message. Each runs in a child process (see
/// `runMisuseScenario`); the value is a fragment the message must contain.
nonisolated(unsafe) let misuseScenarios: [String: (run: () -> Void, expect: String)] = [
    "add-shapes": ({ _ = NDArray.zeros([2, 3]) + NDArray.zeros([2, 4]) }, "add: shapes [2, 3] and [2, 4] cannot be broadcast together"),
    "mixed-dtypes": ({ _ = NDArray.zeros([2]) * NDArray.zeros([2], dtype: .float64) }, "mul: dtypes differ (float32 and float64)"),
    "matmul-inner": ({ _ = NDArray.matmul(NDArray.zeros([2, 3]), NDArray.zeros([4, 5])) }, "matmul: the contracted axes differ"),
    "reshape-size": ({ _ = NDArray.zeros([2, 3]).reshaped(4, -1) }, "reshape: cannot reshape array of size 6 (shape [2, 3]) into shape [4, -1]"),
    "index-range": ({ _ = NDArray.zeros([2, 3])[0, 3] }, "getitem: index 3 is out of bounds for axis 1 with size 3"),
    "axis-range": ({ _ = NDArray.zeros([2, 3]).sum(axis: 2) }, "sum: axis 2 is out of bounds for an array of dimension 2"),
    "inplace-broadcast": ({ var a = NDArray.zeros([3]); a += NDArray.zeros([2, 3]) }, "add (in place): the result would have shape [2, 3]"),
    "int-fraction": ({ _ = NDArray.zeros([2], dtype: .int32) * 0.5 }, "cannot be combined with an int32 array"),
    "linear-width": ({ _ = F.linear(Variable(NDArray.zeros([2, 3])), Variable(NDArray.zeros([5, 4]))) }, "linear: x.shape[1...] flattens to 3 features but W.shape[1] is 4"),
    "backward-nonscalar": ({ F.tanh(Variable(NDArray.zeros([2]))).backward() }, "backward: the output has shape [2]; only one-element outputs get an initial gradient of 1"),
    "node-twice": ({ let f = Cube(); _ = f.apply(Variable(NDArray.ones([1]))); _ = f.apply(Variable(NDArray.ones([1]))) }, "Cube: a function node can be applied only once"),
    "nstep-input-size": ({ _ = NStepLSTM(1, 3, 4, 0)(nil, nil, [Variable(NDArray.zeros([5, 2]))]) }, "NStepLSTM: xs[0] must have shape (length, 3), got [5, 2]"),
    "nstep-state-shape": ({ _ = NStepGRU(2, 3, 4, 0)(Variable(NDArray.zeros([1, 2, 4])), [Variable(NDArray.zeros([5, 3])), Variable(NDArray.zeros([2, 3]))]) }, "NStepGRU: hx must have shape [2, 2, 4]"),
    "nstep-increasing-batch": ({
        let w = (0..<2).map { _ in Variable(NDArray.zeros([4, 4])) }, b = (0..<2).map { _ in Variable(NDArray.zeros([4])) }
        _ = F.nStepRNN(1, 0, Variable(NDArray.zeros([1, 1, 4])), [w], [b], [Variable(NDArray.zeros([1, 4])), Variable(NDArray.zeros([2, 4]))])
    }, "the batch sizes of xs must not increase"),
    "lazy-parameter": ({ _ = F.sum(Parameter(initializer: Constant(1)) * 2) }, "has no data yet"),
    "lstm-width": ({ _ = F.lstm(Variable(NDArray.zeros([2, 3])), Variable(NDArray.zeros([2, 8]))) }, "lstm: x.shape[1] (8) must equal 4 * c.shape[1] (4 * 3)"),
    "sce-labels": ({ _ = F.softmaxCrossEntropy(Variable(NDArray.zeros([2, 3])), NDArray([0, 3], dtype: .int32)) }, "softmax_cross_entropy: label 3 is out of range for 3 classes"),
    "rnn-batch-grew": ({ let r = SimpleRNN(2, 3); _ = r(Variable(NDArray.zeros([2, 2]))); _ = r(Variable(NDArray.zeros([3, 2]))) }, "SimpleRNN: the batch grew from 2 to 3; call resetState() before a larger batch"),
    "gru-batch-grew": ({ let r = GRU(2, 3); _ = r(Variable(NDArray.zeros([1, 2]))); _ = r(Variable(NDArray.zeros([2, 2]))) }, "GRU: the batch grew from 1 to 2; call resetState()"),
    "rnn-1d-input": ({ _ = LSTM(3, 4)(Variable(NDArray.zeros([3]))) }, "LSTM: the input must have shape (batch, features), got [3]"),
    "embed-negative": ({ _ = F.embedID(.constant(NDArray(values: [Int32(-1)], shape: [1])), Variable(NDArray.zeros([5, 3]))) }, "embed_id: id -1 is out of range for a vocabulary of 5"),
    "embed-range": ({ _ = EmbedID(4, 2)(NDArray(values: [Int32(4)], shape: [1])) }, "embed_id: id 4 is out of range for a vocabulary of 4"),
    "take-range": ({ _ = NDArray.zeros([4, 2]).take(NDArray(values: [Int32(4)], shape: [1])) }, "take: index 4 is out of bounds"),
]

final class MisuseScenarioRunner: XCTestCase {
    /// Does nothing in a normal run; in a child process started by `runMisuseScenario` it runs one scenario.
    func testRunScenario() {
        guard let name = ProcessInfo.processInfo.environment["CATENA_MISUSE_SCENARIO"] else { return }
        guard let scenario = misuseScenarios[name] else {
            FileHandle.standardError.write("unknown scenario \(name)\n".data(using: .utf8)!)
            exit(3)
        }
        scenario.run()
        FileHandle.standardError.write("scenario \(name) did not stop\n".data(using: .utf8)!)
        exit(99)
    }
}

final class MisuseTests: XCTestCase {
    func testEveryMisuseStopsWithItsMessage() {
        for (name, scenario) in misuseScenarios.sorted(by: { $0.key < $1.key }) {
            let (stderr, status) = runMisuseScenario(name)
            XCTAssertNotEqual(status, 0, "\(name) should stop the program")
            XCTAssertNotEqual(status, 99, "\(name) did not stop")
            XCTAssertTrue(stderr.contains(scenario.expect), "\(name): message should contain «\(scenario.expect)», got: \(stderr.suffix(400))")
        }
    }
}
