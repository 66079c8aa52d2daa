// The command line and data of the patch-RNN seed, shared by patch-rnn-mnist and its data-parallel form
// (Distributed/Examples/PatchRNNMNISTMN).
import Catena

/// The patch-RNN seed's options, declared on `parser` (each example adds its own output and resume flags).
public struct PatchRNNOptions {
    public let epochs, batchSize, units, patch, trainSize, testSize: Option<Int>
    public let lr: Option<Double>
    public let fashion, quiet: Option<Bool>
    public let data: Option<String?>
    public let seed: Option<UInt64>

    public init(_ parser: ArgumentParser, batchHelp: String = "examples per update") {
        epochs = parser.int("--epochs", default: 20, in: 1...10_000, help: "passes over the training images (the seed: 100)")
        batchSize = parser.int("--batchsize", default: 50, in: 1...60_000, help: batchHelp)
        units = parser.int("--units", default: 128, in: 1...4096, help: "hidden units")
        patch = parser.int("--patch", default: 7, in: 1...784, help: "pixels per step; must divide 784")
        lr = parser.double("--lr", default: 2e-4, in: 1e-12...10, help: "RMSprop learning rate")
        trainSize = parser.int("--train-size", default: 5000, in: 1...60_000, help: "the first N training images are trained on")
        testSize = parser.int("--test-size", default: 1000, in: 1...10_000, help: "the first N test images are the validation set")
        fashion = parser.flag("--fashion", help: "Fashion-MNIST instead of MNIST (Debian: apt-get install dataset-fashion-mnist)")
        data = parser.optionalString("--data", metavar: "DIR", help: "directory holding the four IDX files (default: the standard places)")
        seed = parser.uint64("--seed", default: 0, help: "random seed for weights and shuffling")
        quiet = parser.flag("--quiet", help: "no progress bar")
        let patch = self.patch
        parser.require {
            if 784 % patch.value != 0 { throw UsageError("--patch (\(patch.value)) must divide the 784 pixels of an image") }
        }
    }

    /// The help text on normalisation and where the data is read from.
    public static let notes = """
        The normalisation is the seed's: mean and std (ddof 0) per pixel over all 60,000 training images, then
        x → (x − mean) / (std + 1e-5) for training and validation images alike.

        Data is read from --data DIR, else $CATENA_DATASET_ROOT/mnist (or /fashion-mnist), ~/.catena/dataset/...,
        /usr/share/datasets/... (Fashion-MNIST: apt-get install dataset-fashion-mnist). Nothing is downloaded.
        """

    /// The seed's training and validation sets: the first `--train-size` training and `--test-size` test images,
    /// normalised with the whole training set's per-pixel statistics (computed before taking the subset, as the
    /// seed does).
    public func loadData() throws -> (train: TupleDataset, valid: TupleDataset, name: String) {
        let digits = try loadDigits(fashion: fashion.value, directory: data.value, scale: 255, dtype: .float32)
        let all = digits.train.arrays[0]
        let mean = all.mean(axis: 0), std = (all - mean).std(axis: 0) + 1e-5
        func normalised(_ d: TupleDataset, _ n: Int) -> TupleDataset {
            let part = firstExamples(d, n)
            return TupleDataset((part.arrays[0] - mean) / std, part.arrays[1])
        }
        return (normalised(digits.train, trainSize.value), normalised(digits.test, testSize.value), digits.name)
    }
}
