#!/usr/bin/env python3
"""Writes the fuzzer's seed corpora: valid files of every kind the readers accept, made by NumPy and by hand,
plus Catena's and Chainer's own snapshots (copied in by Fuzz/run.sh).

    python3 Fuzz/make-seeds.py DIR        # DIR/npy, DIR/npz, DIR/idx, DIR/snapshot
Uses NumPy (any version) when it is installed.
"""
import gzip
import io
import os
import struct
import sys

try:
    import numpy as np
except ImportError:  # the hand-made seeds below still work; Catena's and Chainer's files are added by run.sh
    np = None


def main():
    out = sys.argv[1]
    for d in ("npy", "npz", "idx", "snapshot"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    for i, data in enumerate([b"", bytes(range(16)), bytes([1, 4, 0, 9, 5, 1, 2, 3]) * 4, bytes([0, 6, 1, 2, 3]) * 3]):
        open(os.path.join(out, "snapshot", "edits%d" % i), "wb").write(data)
    if np is None:
        print("make-seeds: NumPy is not installed; only the snapshot seeds and Catena's and Chainer's files are used", file=sys.stderr)
        return
    rng = np.random.RandomState(0)
    arrays = {
        "f4": rng.randn(2, 3).astype("<f4"), "f8": rng.randn(4).astype("<f8"), "i4": np.arange(6, dtype="<i4").reshape(3, 2),
        "i8": np.array([-1, 1 << 40], "<i8"), "u1": np.array([0, 7, 255], "u1"), "i1": np.array([-3, 3], "i1"),
        "i2": np.array([-300, 300], "<i2"), "u2": np.array([65535], "<u2"), "u4": np.array([1 << 31], "<u4"),
        "b1": np.array([True, False]), "f2": np.array([0.5, -2], "<f2"), "scalar": np.float64(2.5), "empty": np.zeros((0, 3), "<f4"),
        "big": np.arange(3, dtype=">f4"), "fortran": np.asfortranarray(rng.randn(2, 3).astype("<f4")), "text": np.array("snapshot"),
    }
    for name, a in arrays.items():
        np.save(os.path.join(out, "npy", name + ".npy"), a)
    for version in ((1, 0), (2, 0), (3, 0)):
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arrays["f4"], version=version)
        open(os.path.join(out, "npy", "v%d.npy" % version[0]), "wb").write(buf.getvalue())
    np.save(os.path.join(out, "npy", "none.npy"), np.array(None, dtype=object), allow_pickle=True)
    np.savez(os.path.join(out, "npz", "savez.npz"), **{k: v for k, v in arrays.items() if k != "text"})
    np.savez_compressed(os.path.join(out, "npz", "compressed.npz"), a=arrays["f4"], b=np.zeros(1000, "<f4"), c=arrays["text"])
    np.savez(os.path.join(out, "npz", "one.npz"), x=np.arange(4, dtype="<i8"))

    def idx(name, type_code, a, compress):
        data = bytes([0, 0, type_code, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape) + a.astype(a.dtype.newbyteorder(">")).tobytes()
        path = os.path.join(out, "idx", name + (".gz" if compress else ""))
        open(path, "wb").write(gzip.compress(data) if compress else data)
    for compress in (False, True):
        idx("images", 0x08, rng.randint(0, 256, (3, 4, 4)).astype("u1"), compress)
        idx("labels", 0x08, np.arange(10, dtype="u1"), compress)
        idx("ints", 0x0C, np.arange(-3, 3, dtype="i4"), compress)
        idx("floats", 0x0D, rng.randn(2, 2).astype("f4"), compress)
        idx("doubles", 0x0E, rng.randn(3).astype("f8"), compress)


if __name__ == "__main__":
    main()
