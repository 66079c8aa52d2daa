import Foundation

/// Chainer's `chainer.links` namespace: `L.Linear(3, 4)` names the same type as `Linear(3, 4)`.
public enum L {
    /// Chainer's `L.Linear`: the same type as ``Catena/Linear``.
    public typealias Linear = Catena.Linear
    /// Chainer's `L.EmbedID`: the same type as ``Catena/EmbedID``.
    public typealias EmbedID = Catena.EmbedID
    /// Chainer's `L.LSTM`: the same type as ``Catena/LSTM``.
    public typealias LSTM = Catena.LSTM
    /// Chainer's `L.StatelessLSTM`: the same type as ``Catena/StatelessLSTM``.
    public typealias StatelessLSTM = Catena.StatelessLSTM
    /// Chainer's `L.GRU`: the same type as ``Catena/GRU``, the stateful GRU.
    public typealias GRU = Catena.GRU
    /// Chainer's `L.StatefulGRU`: the same type as ``Catena/StatefulGRU``.
    public typealias StatefulGRU = Catena.StatefulGRU
    /// Chainer's `L.StatelessGRU`: the same type as ``Catena/StatelessGRU``.
    public typealias StatelessGRU = Catena.StatelessGRU
    /// `L.SimpleRNN`: the same type as ``Catena/SimpleRNN`` (Catena's own link; Chainer has none).
    public typealias SimpleRNN = Catena.SimpleRNN
    /// Chainer's `L.LayerNormalization`: the same type as ``Catena/LayerNormalization``.
    public typealias LayerNormalization = Catena.LayerNormalization
    /// Chainer's `L.Classifier`: the same type as ``Catena/Classifier``.
    public typealias Classifier = Catena.Classifier
    /// Chainer's `L.NStepLSTM`: the same type as ``Catena/NStepLSTM``.
    public typealias NStepLSTM = Catena.NStepLSTM
    /// Chainer's `L.NStepBiLSTM`: the same type as ``Catena/NStepBiLSTM``.
    public typealias NStepBiLSTM = Catena.NStepBiLSTM
    /// Chainer's `L.NStepGRU`: the same type as ``Catena/NStepGRU``.
    public typealias NStepGRU = Catena.NStepGRU
    /// Chainer's `L.NStepBiGRU`: the same type as ``Catena/NStepBiGRU``.
    public typealias NStepBiGRU = Catena.NStepBiGRU
    /// Chainer's `L.NStepRNNTanh`: the same type as ``Catena/NStepRNNTanh``.
    public typealias NStepRNNTanh = Catena.NStepRNNTanh
    /// Chainer's `L.NStepRNNReLU`: the same type as ``Catena/NStepRNNReLU``.
    public typealias NStepRNNReLU = Catena.NStepRNNReLU
    /// Chainer's `L.NStepBiRNNTanh`: the same type as ``Catena/NStepBiRNNTanh``.
    public typealias NStepBiRNNTanh = Catena.NStepBiRNNTanh
    /// Chainer's `L.NStepBiRNNReLU`: the same type as ``Catena/NStepBiRNNReLU``.
    public typealias NStepBiRNNReLU = Catena.NStepBiRNNReLU
}
