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
