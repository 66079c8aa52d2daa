import Foundation

/// Chainer's `chainer.links` namespace: `L.Linear(3, 4)` names the same type as `Linear(3, 4)`.
public enum L {
    public typealias Linear = Catena.Linear
    public typealias EmbedID = Catena.EmbedID
    public typealias LSTM = Catena.LSTM
    public typealias StatelessLSTM = Catena.StatelessLSTM
    public typealias GRU = Catena.GRU
    public typealias StatefulGRU = Catena.StatefulGRU
    public typealias StatelessGRU = Catena.StatelessGRU
    public typealias SimpleRNN = Catena.SimpleRNN
    public typealias LayerNormalization = Catena.LayerNormalization
    public typealias Classifier = Catena.Classifier
    public typealias NStepLSTM = Catena.NStepLSTM
    public typealias NStepBiLSTM = Catena.NStepBiLSTM
    public typealias NStepGRU = Catena.NStepGRU
    public typealias NStepBiGRU = Catena.NStepBiGRU
    public typealias NStepRNNTanh = Catena.NStepRNNTanh
    public typealias NStepRNNReLU = Catena.NStepRNNReLU
    public typealias NStepBiRNNTanh = Catena.NStepBiRNNTanh
    public typealias NStepBiRNNReLU = Catena.NStepBiRNNReLU
}
