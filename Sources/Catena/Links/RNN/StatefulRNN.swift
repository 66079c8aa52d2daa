import Foundation

/// A recurrent layer that keeps its state between calls (``LSTM``, ``GRU``, ``SimpleRNN``), so code can reset any
/// of them the same way.
public protocol StatefulRNN: UnaryLink {
    /// Forgets the state (a new sequence starts).
    func resetState()
    /// Whether snapshots include the state (off by default).
    var serializesState: Bool { get set }
}

extension LSTM: StatefulRNN {}
extension StatefulGRU: StatefulRNN {}
extension SimpleRNN: StatefulRNN {}

/// Stops with a message naming `link` unless `x` has a batch axis (shape `(batch, features…)`).
func checkRecurrentInput(_ x: Variable, link: String) {
    if x.ndim < 2 {
        typeCheckFailure("\(link): the input must have shape (batch, features), got \(x.shape); reshape a single example to (1, \(x.count))")
    }
}

/// Splits a recurrent state for a step on `batch` rows, as Chainer's stateful links do: the first `batch` rows,
/// which the step updates, and the rows after them, which carry through unchanged (nil when the batch is the
/// state's). Stops with a message naming `link` when the batch grew, which needs `resetState()`.
func splitRecurrentState(_ h: Variable?, batch: Int, link: String) -> (head: Variable?, rest: Variable?) {
    guard let h else { return (nil, nil) }
    let n = h.shape[0]
    if n < batch { typeCheckFailure("\(link): the batch grew from \(n) to \(batch); call resetState() before a larger batch") }
    if n == batch { return (h, nil) }
    let parts = F.splitAxis(h, indices: [batch], axis: 0)
    return (parts[0], parts[1])
}
