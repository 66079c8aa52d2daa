import Foundation

/// A recurrent layer that keeps its state between calls (``LSTM``, ``GRU``, ``SimpleRNN``), so code can reset any
/// of them the same way.
public protocol StatefulRNN: UnaryLink {
    /// Forgets the state (a new sequence starts).
    func resetState()
    /// Whether snapshots include the state (off by default).
    var serializesState: Bool { get set }
    /// Whether a loaded state that does not fit the link (another batch size) is dropped with a warning instead
    /// of failing the load (off by default).
    var discardsMismatchedState: Bool { get set }
    /// The batch size of the current state (nil when there is none).
    var stateBatchSize: Int? { get }
}

extension LSTM {
    public var stateBatchSize: Int? { h?.shape[0] }
}

extension StatefulGRU {
    public var stateBatchSize: Int? { h?.shape[0] }
}

extension SimpleRNN {
    public var stateBatchSize: Int? { h?.shape[0] }
}

/// After a model was loaded for training on batches of `batch`, checks every stateful recurrent link whose state
/// was loaded with it: a state saved with another batch size is refused (or dropped, when the link's
/// `discardsMismatchedState` says so), since the first step would otherwise stop on it.
func checkLoadedRecurrentStates(_ model: Link, batch: Int, key: String) throws {
    for (path, link) in model.namedLinks() {
        // The links that hold the state themselves (not wrappers that forward to a child).
        guard let rnn = link as? any StatefulRNN, !link.children().contains(where: { $0 is any StatefulRNN }), rnn.serializesState,
              let saved = rnn.stateBatchSize, saved != batch else { continue }
        if rnn.discardsMismatchedState {
            printWarning("snapshot: the state of \(key)\(path) has batch \(saved), this run's batches have \(batch); the state is dropped (discardsMismatchedState)")
            rnn.resetState()
        } else {
            throw SerializationError("key '\(key)\(path == "/" ? "" : path)': the snapshot's recurrent state has batch \(saved), but this run's iterator gives batches of \(batch); resume with the batch size of the saved run, or set discardsMismatchedState on the link")
        }
    }
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

/// One step of a stateful link on `x`, with Chainer's convention for a changing batch: the state's first
/// `x.shape[0]` rows go to `step` (nil before the first call) and the rows after them carry through unchanged.
/// Returns the step's output and the new state.
func recurrentStep(_ state: Variable?, _ x: Variable, link: String, _ step: (Variable?) -> Variable) -> (output: Variable, state: Variable) {
    checkRecurrentInput(x, link: link)
    let (head, rest) = splitRecurrentState(state, batch: x.shape[0], link: link)
    let out = step(head)
    return (out, rest.map { F.concat([out, $0], axis: 0) } ?? out)
}

/// Splits a recurrent state for a step on `batch` rows, as Chainer's stateful links do: the first `batch` rows,
/// which the step updates, and the rows after them, which carry through unchanged (nil when the batch is the
/// state's). Stops with a message naming `link` when the batch grew, which needs `resetState()`.
func splitRecurrentState(_ h: Variable?, batch: Int, link: String) -> (head: Variable?, rest: Variable?) {
    guard let h else { return (nil, nil) }
    let n = h.shape[0]
    if n < batch {
        typeCheckFailure("\(link): the batch grew from \(n) to \(batch); call resetState() before a larger batch (or before training with a snapshot's state saved with a smaller batch)")
    }
    if n == batch { return (h, nil) }
    let parts = F.splitAxis(h, indices: [batch], axis: 0)
    return (parts[0], parts[1])
}
