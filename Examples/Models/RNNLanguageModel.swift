// CatenaModels: models that the bundled examples (and the tests and benchmarks) share. They are written with
// Catena's public API only, as a user's model would be, and are not part of the library.
#if !CATENA_FUZZ_HARNESS
import Catena
#endif
import Foundation

/// The recurrent cell of an ``RNNLanguageModel``.
public enum RNNCellKind: String, Sendable, CaseIterable {
    /// ``LSTM``.
    case lstm
    /// ``SimpleRNN`` with tanh.
    case rnn
    /// ``GRU``.
    case gru
}

/// A next-token model: embedding → one recurrent layer → linear output over the vocabulary, with optional dropout
/// before the recurrent and output layers (the `RNNForLM` of Chainer's PTB example, with one recurrent layer).
///
/// Parameters: `/embed/W`, `/l1/…` (the recurrent layer's), `/l2/W`, `/l2/b`. Call it one time step at a time;
/// ``resetState()`` starts a new sequence.
public final class RNNLanguageModel: Chain, StatefulRNN {
    public let embed: EmbedID
    public let l1: any StatefulRNN
    public let l2: Linear
    public let cell: RNNCellKind
    public let vocabularySize: Int
    public let units: Int
    /// The dropout ratio before the recurrent and output layers (0: none). Active only in training mode.
    public let dropout: Double
    /// The generator of the dropout masks.
    public let dropoutRNG: RandomState

    /// - Parameters:
    ///   - rng: the generator for initial weights (and, split from it, for dropout).
    public init(vocabularySize: Int, units: Int, cell: RNNCellKind = .lstm, dropout: Double = 0, rng: RandomState = .global) {
        self.cell = cell
        self.vocabularySize = vocabularySize
        self.units = units
        self.dropout = dropout
        embed = EmbedID(vocabularySize, units, initialW: Uniform(scale: 0.1), rng: rng)
        switch cell {
        case .lstm: l1 = LSTM(units, units, lateralInit: Uniform(scale: 0.1), upwardInit: Uniform(scale: 0.1), rng: rng)
        case .rnn: l1 = SimpleRNN(units, units, upwardInit: Uniform(scale: 0.1), lateralInit: Uniform(scale: 0.1), rng: rng)
        case .gru: l1 = GRU(units, units, initialW: Uniform(scale: 0.1), innerInit: Uniform(scale: 0.1), rng: rng)
        }
        l2 = Linear(units, vocabularySize, initialW: Uniform(scale: 0.1), rng: rng)
        dropoutRNG = RandomState(seed: rng.nextUInt64())
        super.init()
    }

    public func resetState() { l1.resetState() }

    /// Whether snapshots include the recurrent layer's state.
    public var serializesState: Bool {
        get { l1.serializesState }
        set { l1.serializesState = newValue }
    }

    /// The batch size of the recurrent layer's state.
    public var stateBatchSize: Int? { l1.stateBatchSize }

    /// Whether a loaded state of another batch size is dropped with a warning instead of failing the load.
    public var discardsMismatchedState: Bool {
        get { l1.discardsMismatchedState }
        set { l1.discardsMismatchedState = newValue }
    }

    /// Scores over the vocabulary for the next token, given the current tokens (int32, one per stream).
    public func callAsFunction(_ x: Variable) -> Variable {
        var h = embed(x)
        if dropout > 0 { h = F.dropout(h, ratio: dropout, rng: dropoutRNG) }
        h = l1(h)
        if dropout > 0 { h = F.dropout(h, ratio: dropout, rng: dropoutRNG) }
        return l2(h)
    }

    public override func makeCopy() -> Link {
        RNNLanguageModel(vocabularySize: vocabularySize, units: units, cell: cell, dropout: dropout, rng: RandomState(seed: 0))
    }

    /// Also saves the dropout generator's state (under `dropout_rng/state`), so that a resumed run draws the same
    /// masks as an uninterrupted one.
    public override func serialize(_ s: Serializer) throws {
        try serializeParametersAndChildren(s)
        if dropout > 0 && (!s.isLoading || s.contains("dropout_rng/state")) { try dropoutRNG.serialize(s["dropout_rng"]) }
    }
}

/// The repeat-count sequence of the seed experiment: 1, 2, 2, 3, 3, 3, …, 9 (each i repeated i times, 45 tokens),
/// repeated to `length` tokens and started `offset` tokens into the pattern, as int32.
public func repeatCountSequence(length: Int, offset: Int = 0) -> [Int32] {
    let pattern = (1...9).flatMap { i in [Int32](repeating: Int32(i), count: i) }
    return (0..<length).map { pattern[($0 + offset) % pattern.count] }
}
