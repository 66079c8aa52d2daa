"""Snapshot I/O peer: NumPy's savez / savez_compressed / load on the arrays of `catena-bench npz`.

The B4c MLP (784-1000-1000-10) as Chainer lays it out in a snapshot: W and b of three Linear layers, and Adam's
m and v for each (float32, LeCun-normal weights, small m and v), about 21.6 MB. MB/s of array data, as Catena reports.
"""
import os
import tempfile

import common

SIZES = (784, 1000, 1000, 10)


def arrays(np):
    rng = np.random.RandomState(0)
    out = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), 1):
        params = {"W": (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32),
                  "b": np.zeros(n_out, np.float32)}
        for name, a in params.items():
            out["model/predictor/l%d/%s" % (i, name)] = a
            out["optimizer/predictor/l%d/%s/m" % (i, name)] = (rng.standard_normal(a.shape) * 1e-3).astype(np.float32)
            out["optimizer/predictor/l%d/%s/v" % (i, name)] = (rng.standard_normal(a.shape) ** 2 * 1e-6).astype(np.float32)
    return out


def main():
    p = common.base_parser(__doc__, frameworks=("numpy",))
    p.set_defaults(reps=5, warmup=1)
    args = p.parse_args()
    common.setup_threads(args.threads)
    versions = common.init_framework("numpy", args.threads, args.seed)
    import numpy as np
    data = arrays(np)
    mb = sum(a.nbytes for a in data.values()) / 1e6
    record = {"bench": "npz_io", "framework": "numpy", "array_mb": round(mb, 1), "versions": versions}
    d = tempfile.mkdtemp()
    try:
        for tag, save in (("stored", np.savez), ("deflate", np.savez_compressed)):
            path = os.path.join(d, tag + ".npz")
            write = common.time_reps(lambda: save(path, **data), args.warmup, args.reps)

            def read():
                with np.load(path) as f:
                    for k in f.files:
                        f[k]
            rd = common.time_reps(read, args.warmup, args.reps)
            record[tag + "_write_mb_per_s"] = common.summary([mb / t for t in write], ndigits=1)
            record[tag + "_read_mb_per_s"] = common.summary([mb / t for t in rd], ndigits=1)
            record[tag + "_file_mb"] = round(os.path.getsize(path) / 1e6, 1)
    finally:
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        os.rmdir(d)
    common.emit(record)


if __name__ == "__main__":
    main()
