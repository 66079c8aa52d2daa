import Foundation

/// Where MNIST-style datasets are looked for, and how their four IDX files are found.
///
/// A dataset named `name` (`mnist`, `fashion-mnist`) is searched for, in order:
/// 1. the directory given to the loader (and nowhere else when one is given);
/// 2. `$CATENA_DATASET_ROOT/<name>` when the environment variable is set (Chainer's `CHAINER_DATASET_ROOT`);
/// 3. `~/.catena/dataset/<name>`;
/// 4. `/usr/share/datasets/<name>`, where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
///
/// A directory holds the dataset when it has the four files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each plain or with `.gz` (the names on the MNIST and
/// Fashion-MNIST sites; the variants with a dot, `train-images.idx3-ubyte`, are accepted too).
public enum DatasetLocation {
    /// The directories searched for a dataset named `name` when the loader is given none.
    public static func searchPath(for name: String) -> [String] {
        var dirs: [String] = []
        if let root = ProcessInfo.processInfo.environment["CATENA_DATASET_ROOT"], !root.isEmpty { dirs.append(root + "/" + name) }
        dirs.append(FileManager.default.homeDirectoryForCurrentUser.path + "/.catena/dataset/" + name)
        dirs.append("/usr/share/datasets/" + name)
        return dirs
    }

    /// The directory that holds all four files of the MNIST-style dataset `name` (`mnist`, `fashion-mnist`):
    /// `directory` if it does, or the first of ``searchPath(for:)`` that does; nil when none does.
    public static func find(_ name: String, directory: String? = nil) -> String? {
        for dir in directory.map({ [$0] }) ?? searchPath(for: name)
        where MNISTFiles.stems.allSatisfy({ idxFile($0, in: dir) != nil }) {
            return dir
        }
        return nil
    }

    /// The path of one IDX file (`stem` like `train-images-idx3-ubyte`) in `dir`, if present in any accepted spelling.
    static func idxFile(_ stem: String, in dir: String) -> String? {
        let dotted = stem.replacingOccurrences(of: "-idx", with: ".idx")
        for name in [stem, stem + ".gz", dotted, dotted + ".gz"] {
            var isDir: ObjCBool = false
            let path = dir + "/" + name
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue { return path }
        }
        return nil
    }
}

/// The four files of an MNIST-style dataset.
struct MNISTFiles {
    static let stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    let paths: [String]

    /// Finds the files, or throws an error listing every directory searched and what was missing there.
    static func locate(_ name: String, title: String, directory: String?, howToGet: String) throws -> MNISTFiles {
        let dirs = directory.map { [$0] } ?? DatasetLocation.searchPath(for: name)
        var report: [String] = []
        for dir in dirs {
            let found = stems.map { DatasetLocation.idxFile($0, in: dir) }
            if found.allSatisfy({ $0 != nil }) { return MNISTFiles(paths: found.map { $0! }) }
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) || !isDir.boolValue {
                report.append("  \(dir): no such directory")
            } else {
                let missing = zip(stems, found).filter { $0.1 == nil }.map { $0.0 + "[.gz]" }
                report.append("  \(dir): missing \(missing.joined(separator: ", "))")
            }
        }
        throw DatasetError("\(title) not found. Looked in:\n\(report.joined(separator: "\n"))\n\(howToGet)")
    }
}

/// Gets the MNIST handwritten digits (Chainer's `get_mnist`): 60,000 training and 10,000 test images of 28×28
/// pixels with labels 0–9, read from the four IDX files on disk. Nothing is downloaded.
///
/// Each pixel, one byte in the files, becomes `byte · scale / 255` in `dtype` (as Chainer's `images *= scale / 255`),
/// so the default gives float32 values in `[0, 1]`; `dtype: .int32` or `.uint8` with `scale: 255` keeps the raw
/// byte values (as the IRNN seed feeds them to an `EmbedID`).
///
/// ```swift
/// let (train, test) = try getMnist()                         // TupleDataset: example i is [image (784,), label]
/// let (raw, _) = try getMnist(ndim: 2, scale: 255, dtype: .uint8, directory: "data/mnist")
/// ```
///
/// The files are looked for as ``DatasetLocation`` describes (`directory`, `$CATENA_DATASET_ROOT/mnist`,
/// `~/.catena/dataset/mnist`, `/usr/share/datasets/mnist`).
/// - Parameters:
///   - withLabel: examples are `[image, label]`; without, each example is `[image]` (Chainer returns a bare array
///     then; here the images are `train.arrays[0]`).
///   - ndim: 1 gives images of shape `(784,)`, 2 `(28, 28)`, 3 `(1, 28, 28)` (or `(3, 28, 28)` with `rgbFormat`).
///   - scale: the value of a white pixel (255 in the files).
///   - dtype: the images' dtype; a float type, or an integer type with `scale: 255`.
///   - labelDType: the labels' dtype (int32, as Chainer's default).
///   - rgbFormat: repeat the gray channel three times, giving images of shape `(3, 28, 28)`; needs `ndim: 3`.
///   - directory: the directory holding the four files; nil searches the standard places.
/// - Throws: ``DatasetError`` listing every place searched when the files are not found, or naming the file and
///   the problem when one is damaged (truncated, not IDX, images and labels of different counts, a label outside
///   0–9).
/// - Precondition: `ndim` is 1, 2 or 3; an integer `dtype` comes with `scale == 255`.
public func getMnist(withLabel: Bool = true, ndim: Int = 1, scale: Double = 1, dtype: DType = .float32, labelDType: DType = .int32,
                     rgbFormat: Bool = false, directory: String? = nil) throws -> (train: TupleDataset, test: TupleDataset) {
    try loadMNISTStyle(name: "mnist", title: "MNIST", directory: directory,
                       howToGet: "Put MNIST's four files (from http://yann.lecun.com/exdb/mnist/ or a mirror) in one of these directories, or pass its path (--data DIR in the examples). Fashion-MNIST, a drop-in replacement, comes with Debian: apt-get install dataset-fashion-mnist.",
                       withLabel: withLabel, ndim: ndim, scale: scale, dtype: dtype, labelDType: labelDType, rgbFormat: rgbFormat)
}

/// Gets Fashion-MNIST (Chainer's `get_fashion_mnist`): 28×28 images of ten kinds of clothing, in MNIST's format
/// and sizes, with the same parameters as ``getMnist(withLabel:ndim:scale:dtype:labelDType:rgbFormat:directory:)``.
///
/// Debian's `dataset-fashion-mnist` package installs the files in `/usr/share/datasets/fashion-mnist`, which is
/// searched after `directory`, `$CATENA_DATASET_ROOT/fashion-mnist` and `~/.catena/dataset/fashion-mnist`.
/// - Throws: ``DatasetError`` as ``getMnist(withLabel:ndim:scale:dtype:labelDType:rgbFormat:directory:)``.
public func getFashionMnist(withLabel: Bool = true, ndim: Int = 1, scale: Double = 1, dtype: DType = .float32, labelDType: DType = .int32,
                            rgbFormat: Bool = false, directory: String? = nil) throws -> (train: TupleDataset, test: TupleDataset) {
    try loadMNISTStyle(name: "fashion-mnist", title: "Fashion-MNIST", directory: directory,
                       howToGet: "Install it with: apt-get install dataset-fashion-mnist (Debian, Ubuntu), or put its four files (from https://github.com/zalandoresearch/fashion-mnist) in one of these directories, or pass its path (--data DIR in the examples).",
                       withLabel: withLabel, ndim: ndim, scale: scale, dtype: dtype, labelDType: labelDType, rgbFormat: rgbFormat)
}

func loadMNISTStyle(name: String, title: String, directory: String?, howToGet: String, withLabel: Bool, ndim: Int, scale: Double,
                    dtype: DType, labelDType: DType, rgbFormat: Bool) throws -> (train: TupleDataset, test: TupleDataset) {
    if ![1, 2, 3].contains(ndim) { typeCheckFailure("get\(title): ndim must be 1, 2 or 3, got \(ndim)") }
    if rgbFormat && ndim != 3 { typeCheckFailure("get\(title): rgbFormat needs ndim 3, got \(ndim)") }
    if dtype == .bool || labelDType == .bool || labelDType.isFloatingPoint {
        typeCheckFailure("get\(title): images need a float or integer dtype and labels an integer one (got \(dtype) and \(labelDType))")
    }
    if !dtype.isFloatingPoint && scale != 255 {
        typeCheckFailure("get\(title): integer images (\(dtype)) keep the raw bytes and need scale: 255, got \(scale)")
    }
    let files = try MNISTFiles.locate(name, title: title, directory: directory, howToGet: howToGet)
    func split(_ imagePath: String, _ labelPath: String) throws -> TupleDataset {
        let images = try readIDX(imagePath), labels = try readIDX(labelPath)
        guard images.dtype == .uint8, images.ndim == 3 else {
            throw DatasetError("\(imagePath): expected unsigned-byte images of shape (count, rows, columns), found \(images.dtype) of shape \(images.shape)")
        }
        guard labels.dtype == .uint8, labels.ndim == 1 else {
            throw DatasetError("\(labelPath): expected unsigned-byte labels of shape (count,), found \(labels.dtype) of shape \(labels.shape)")
        }
        guard images.shape[0] == labels.shape[0] else {
            throw DatasetError("\(imagePath) holds \(images.shape[0]) images but \(labelPath) holds \(labels.shape[0]) labels")
        }
        if let bad = labels.withUnsafeBufferPointer(as: UInt8.self, { $0.firstIndex { $0 > 9 } }) {
            throw DatasetError("\(labelPath): label \(bad) is \(labels.item(bad)), outside the classes 0–9")
        }
        let (n, rows, cols) = (images.shape[0], images.shape[1], images.shape[2])
        var x = scaledPixels(images, scale: scale, dtype: dtype)
        switch ndim {
        case 1: x = x.reshaped(n, rows * cols)
        case 2: break
        default:
            x = x.reshaped(n, 1, rows, cols)
            if rgbFormat { x = x.broadcast(to: [n, 3, rows, cols]).contiguous() }
        }
        let t = labels.astype(labelDType)
        return withLabel ? TupleDataset(x, t) : TupleDataset(x)
    }
    return (try split(files.paths[0], files.paths[1]), try split(files.paths[2], files.paths[3]))
}

/// `byte · scale / 255` in `dtype`, computed as Chainer does (in the target float type).
private func scaledPixels(_ bytes: NDArray, scale: Double, dtype: DType) -> NDArray {
    if !dtype.isFloatingPoint { return bytes.astype(dtype) }
    let out = NDArray(uninitializedShape: bytes.shape, dtype: dtype)
    bytes.withUnsafeBufferPointer(as: UInt8.self) { src in
        func go<T: NDFloatingPoint>(_: T.Type) {
            let factor = T(scale / 255), dst = out.pointer(T.self)
            for i in 0..<src.count { dst[i] = T(src[i]) * factor }
        }
        dtype.withFloatType(orFail: "get_mnist: expected a floating-point dtype, got \(dtype)") { go($0) }
    }
    return out
}
