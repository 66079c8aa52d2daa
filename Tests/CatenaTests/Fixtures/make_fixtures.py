"""Writes the NumPy and Chainer files that Catena's serializer tests read.

Run from this folder with NumPy 1.26 and Chainer 7.8 (the venv of ../shared/peers/setup_venv.sh):

    python make_fixtures.py

The tests compare what Catena reads against values they compute themselves from the formulas below (``wave``), and
against outputs computed here by Chainer itself (saved next to the models). Every value is deterministic, so running
the script again rewrites identical arrays.
"""

import json
import os
import shutil
import tempfile

import numpy as np


def wave(shape, dtype=np.float32, scale=1.0, offset=0.0):
    """sin(1.37 i + 0.3) * scale + offset over the C-order positions i: the tests' `testArray` formula."""
    n = int(np.prod(shape))
    v = np.sin(np.arange(n, dtype=np.float64) * 1.37 + 0.3) * scale + offset
    if np.issubdtype(np.dtype(dtype), np.integer):
        v = np.rint(v)
    return v.astype(dtype).reshape(shape)


def numpy_archives():
    """One archive of every kind of array an .npz can hold, written by savez and by savez_compressed."""
    arrays = {
        "f32": wave((2, 3)),
        "f64": wave((4,), np.float64, scale=1e3),
        "i32": wave((2, 2), np.int32, scale=100),
        "i64": np.array([-(2 ** 40), -1, 0, 2 ** 40 + 7], dtype=np.int64),
        "b": np.array([True, False, False, True, True]),
        "f32_3d": wave((2, 3, 4), scale=2, offset=1),
        "scalar_f64": np.float64(2.5),
        "scalar_i64": np.int64(-7),
        "scalar_b": np.bool_(True),
        "empty_f32": np.zeros((0,), np.float32),
        "empty_f64_203": np.zeros((2, 0, 3), np.float64),
        "fortran_f32": np.asfortranarray(wave((3, 4))),
        "fortran_i32": np.asfortranarray(wave((2, 3, 2), np.int32, scale=50)),
        "big_f4": wave((2, 2)).astype(">f4"),
        "big_i8": np.array([1, -2, 3 * 2 ** 33], dtype=">i8"),
        "i16": np.array([-300, 0, 300], dtype=np.int16),
        "u8": np.array([0, 7, 255], dtype=np.uint8),
        "f16": np.array([0.5, -2.0, 1024.0], dtype=np.float16),
        "text": np.array("snapshot ✓"),
        "nothing": np.array(None, dtype=object),
    }
    assert arrays["fortran_f32"].flags.f_contiguous and not arrays["fortran_f32"].flags.c_contiguous
    np.savez("numpy_savez.npz", **arrays)
    np.savez_compressed("numpy_savez_compressed.npz", **arrays)


def npy_versions():
    """The same array in .npy format versions 1.0, 2.0 and 3.0 (3.0 allows a utf-8 header)."""
    a = wave((3, 5), np.float32, scale=3)
    for version in [(1, 0), (2, 0), (3, 0)]:
        with open("npy_v%d.npy" % version[0], "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    np.save("npy_f64_fortran.npy", np.asfortranarray(wave((2, 3), np.float64)))


def chainer_mlp():
    """Chainer's save_npz of an MLP classifier with formula weights, and Chainer's own forward output."""
    import chainer
    import chainer.functions as F
    import chainer.links as L

    class MLP(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.l1 = L.Linear(4, 5)
                self.l2 = L.Linear(5, 3)

        def forward(self, x):
            return self.l2(F.relu(self.l1(x)))

    model = L.Classifier(MLP())
    p = model.predictor
    p.l1.W.array[...] = wave((5, 4), scale=0.5)
    p.l1.b.array[...] = wave((5,), scale=0.1, offset=0.05)
    p.l2.W.array[...] = wave((3, 5), scale=0.7, offset=-0.1)
    p.l2.b.array[...] = wave((3,), scale=0.2)
    chainer.serializers.save_npz("chainer_mlp.npz", model)
    x = wave((6, 4), scale=2)
    with chainer.using_config("train", False):
        y = model.predictor(x).array
    np.savez("chainer_mlp_io.npz", x=x, y=y)


def chainer_rnn():
    """A Chainer EmbedID -> LSTM -> Linear language model with random weights, and its outputs over 5 steps."""
    import chainer
    import chainer.links as L

    class RNN(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.embed = L.EmbedID(10, 6)
                self.l1 = L.LSTM(6, 6)
                self.l2 = L.Linear(6, 10)

        def forward(self, x):
            return self.l2(self.l1(self.embed(x)))

    np.random.seed(0)
    model = RNN()
    # Non-zero biases in every gate, so that a wrong gate layout cannot go unnoticed.
    model.l1.upward.b.array[...] = np.random.uniform(-1, 1, model.l1.upward.b.shape).astype(np.float32)
    chainer.serializers.save_npz("chainer_rnn.npz", model)
    tokens = np.array([[1, 2], [2, 2], [2, 3], [3, 3], [3, 9]], dtype=np.int32)
    ys = []
    with chainer.using_config("train", False):
        for t in tokens:
            ys.append(model(t).array)
    np.savez("chainer_rnn_io.npz", tokens=tokens, y=np.stack(ys))


def chainer_nstep():
    """Chainer's NStep links with random weights over three sequences of different lengths: the saved links, and
    their outputs, final states and the gradients of a weighted sum of them (inputs, states and every parameter)."""
    import chainer
    import chainer.functions as F
    import chainer.links as L

    np.random.seed(1)
    cases = {
        "lstm": L.NStepLSTM(2, 3, 4, 0.0),
        "bigru": L.NStepBiGRU(2, 3, 4, 0.0),
        "birnn_tanh": L.NStepBiRNNTanh(1, 3, 4, 0.0),
        "rnn_relu": L.NStepRNNReLU(1, 3, 4, 0.0),
    }
    for name, link in cases.items():
        # Non-zero biases everywhere, so that a bias in the wrong gate cannot go unnoticed.
        for p in link.params():
            if p.name.startswith("b"):
                p.array[...] = np.random.uniform(-0.5, 0.5, p.shape).astype(np.float32)
        chainer.serializers.save_npz("chainer_nstep_%s.npz" % name, link)
        lengths = [4, 2, 3]
        xs = [chainer.Variable(wave((n, 3), scale=1.2, offset=0.1 * i)) for i, n in enumerate(lengths)]
        states = (link.n_layers * link.direction, len(xs), link.out_size)
        hx = chainer.Variable(wave(states, scale=0.5))
        cx = chainer.Variable(wave(states, scale=0.7, offset=0.2))
        if name == "lstm":
            hy, cy, ys = link(hx, cx, xs)
        else:
            hy, ys = link(hx, xs)
            cy = None
        loss = F.sum(hy * wave(hy.shape, scale=0.9))
        if cy is not None:
            loss += F.sum(cy * wave(cy.shape, scale=0.4, offset=0.3))
        for k, y in enumerate(ys):
            loss += F.sum(y * wave(y.shape, scale=1.1, offset=0.05 * k))
        link.cleargrads()
        loss.backward()
        out = {"hy": hy.array, "ghx": hx.grad}
        if cy is not None:
            out["cy"] = cy.array
            out["gcx"] = cx.grad
        for k, (x, y) in enumerate(zip(xs, ys)):
            out["y%d" % k] = y.array
            out["gx%d" % k] = x.grad
        for path, p in link.namedparams():
            out["grad" + path] = p.grad
        np.savez("chainer_nstep_%s_io.npz" % name, **out)


def chainer_trainer():
    """A Chainer trainer snapshot after 3 of 6 iterations, and the parameters and log after all 6."""
    import chainer
    import chainer.links as L
    from chainer import training
    from chainer.training import extensions

    def run(out, stop):
        model = L.Classifier(L.Linear(3, 2))
        model.predictor.W.array[...] = wave((2, 3), scale=0.5)
        model.predictor.b.array[...] = np.array([0.1, -0.2], np.float32)
        x = wave((10, 3), scale=1.5)
        t = (np.arange(10) % 2).astype(np.int32)
        it = chainer.iterators.SerialIterator(chainer.datasets.TupleDataset(x, t), 4, shuffle=False)
        opt = chainer.optimizers.Adam(alpha=0.05)
        opt.setup(model)
        updater = training.updaters.StandardUpdater(it, opt)
        trainer = training.Trainer(updater, (stop, "iteration"), out=out)
        trainer.extend(extensions.LogReport(trigger=(1, "iteration")))
        trainer.extend(extensions.snapshot(), trigger=(3, "iteration"))
        trainer.run()
        return model

    out = tempfile.mkdtemp()
    try:
        model = run(out, 6)
        shutil.copy(os.path.join(out, "snapshot_iter_3"), "chainer_trainer_snapshot_iter_3.npz")
        np.savez("chainer_trainer_after_6.npz", W=model.predictor.W.array, b=model.predictor.b.array)
        with open(os.path.join(out, "log")) as f:
            log = json.load(f)
        losses = np.array([row["main/loss"] for row in log], np.float64)
        np.save("chainer_trainer_losses.npy", losses)
    finally:
        shutil.rmtree(out)


if __name__ == "__main__":
    import sys

    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) > 1:
        # Only the named parts, e.g. `python make_fixtures.py chainer_nstep`.
        for part in sys.argv[1:]:
            globals()[part]()
        sys.exit(0)
    numpy_archives()
    npy_versions()
    chainer_mlp()
    chainer_rnn()
    chainer_nstep()
    chainer_trainer()
