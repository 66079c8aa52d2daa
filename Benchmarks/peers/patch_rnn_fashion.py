"""Patch RNN on real Fashion-MNIST, the recipe of the MinPy "RNN on MNIST patches" tutorial, in PyTorch.

Unlike b3_patch_rnn.py (training-step time on random data), this script trains
to accuracy and prints the learning curve, one JSON line per epoch.

Recipe:
  data   : Fashion-MNIST IDX files (gzip), 784 raw pixel values 0..255 as float32.
           Per-pixel normalisation from the full 60,000-image training set:
             mean = train.mean(axis=0); std = (train - mean).std(axis=0)  (ddof=0)
             x -> (x - mean) / (std + 1e-5)            (train and test alike)
           training set = first 5000 training images, validation = first 1000 test images.
           Each image is a sequence of 112 steps of 7 values (reshape (N, 112, 7), C order).
  model  : h_t = tanh(x_t Wx + h_{t-1} Wh + b), h_0 = 0, y = h_112 Wa + ba,
           softmax cross entropy (mean over the batch).
  init   : Wh = I (128x128), b = 0, Wx (7x128) and Wa (128x10) Glorot uniform
           (limit sqrt(6 / (fan_in + fan_out))), ba = 0.
  update : RMSprop lr 2e-4, alpha 0.99, eps 1e-8 outside the sqrt:
             cache = 0.99 cache + 0.01 g^2;  p -= lr g / (sqrt(cache) + eps)
           (torch.optim.RMSprop has exactly this form).
  loop   : batch 50, training set reshuffled every epoch (seeded), 100 updates per
           epoch, then accuracy on the 1000 validation images.

--impl fused : torch.nn.RNN over all 112 steps (batch_first).
--impl cell  : torch.nn.RNNCell stepped in a Python loop.

Output, one line per epoch:
  {"framework": "torch", "impl": ..., "workload": "patch_rnn_fashion", "epoch": k,
   "train_loss": mean loss of the epoch's 100 batches, "val_accuracy": ...,
   "seconds": wall seconds of the epoch's training only (evaluation excluded),
   "eval_seconds": wall seconds of the validation pass, "threads": ...}
(plus "train_accuracy" on the 5000 training images with --train-accuracy).

  usage: .venv-peers/bin/python patch_rnn_fashion.py --impl fused --epochs 20 --threads 2
"""
import argparse
import gzip
import json
import os
import time

import common  # before numpy / torch, so that setup_threads() takes effect

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
STEPS, IN_SIZE, HIDDEN, N_OUT = 112, 7, 128, 10
N_TRAIN, N_VAL, BATCH = 5000, 1000, 50
LR, ALPHA, EPS = 2e-4, 0.99, 1e-8


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--impl", choices=("fused", "cell"), default="fused",
                   help="fused nn.RNN, or nn.RNNCell stepped in Python")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2,
                   help="BLAS / OpenMP / torch intra-op threads (default 2)")
    p.add_argument("--data", default=DEFAULT_DATA,
                   help="directory holding the four Fashion-MNIST *-ubyte.gz files")
    p.add_argument("--train-accuracy", action="store_true",
                   help="also report accuracy on the 5000 training images each epoch")
    return p.parse_args()


# ---- data ------------------------------------------------------------------

def read_idx(path):
    """Read a gzip'd IDX file (big-endian header: magic, then one uint32 per dimension)."""
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic >> 8 != 0x08:  # 0x00 0x00 0x08 (unsigned byte) ndim
        raise ValueError("%s: not an unsigned-byte IDX file (magic 0x%08x)" % (path, magic))
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError("%s: %d values for dims %s" % (path, data.size, dims))
    return data.reshape(dims)


def load_data(directory):
    """Normalised (x_train, t_train, x_val, t_val); x as (N, 112, 7) float32, t int64."""
    import numpy as np

    def images(name):
        x = read_idx(os.path.join(directory, name))
        return x.reshape(len(x), -1).astype(np.float32)  # raw 0..255, not scaled

    def labels(name):
        return read_idx(os.path.join(directory, name)).astype(np.int64)

    train = images("train-images-idx3-ubyte.gz")
    test = images("t10k-images-idx3-ubyte.gz")
    t_train = labels("train-labels-idx1-ubyte.gz")
    t_test = labels("t10k-labels-idx1-ubyte.gz")
    assert train.shape == (60000, 784) and test.shape[1] == 784

    # Per-pixel statistics of the FULL training set (population std).
    mean = train.mean(axis=0)
    std = (train - mean).std(axis=0)
    scale = std + np.float32(1e-5)

    def prep(x):
        return np.ascontiguousarray(((x - mean) / scale).reshape(len(x), STEPS, IN_SIZE))

    return (prep(train[:N_TRAIN]), t_train[:N_TRAIN],
            prep(test[:N_VAL]), t_test[:N_VAL])


# ---- model -----------------------------------------------------------------

def build_model(impl):
    import torch
    import torch.nn as nn

    class PatchRNN(nn.Module):
        def __init__(self):
            super().__init__()
            if impl == "fused":
                self.rnn = nn.RNN(IN_SIZE, HIDDEN, nonlinearity="tanh", batch_first=True)
            else:
                self.rnn = nn.RNNCell(IN_SIZE, HIDDEN, nonlinearity="tanh")
            self.out = nn.Linear(HIDDEN, N_OUT)
            # torch computes x W_ih^T + b_ih + h W_hh^T + b_hh, so W_ih = Wx^T (128x7),
            # W_hh = Wh^T = I, and b = b_ih + b_hh = 0. Glorot's limit is symmetric in
            # fan_in / fan_out, so initialising the transposed shapes is the same draw law.
            with torch.no_grad():
                for name, prm in self.rnn.named_parameters():
                    if name.startswith("weight_ih"):
                        nn.init.xavier_uniform_(prm)   # fan_in 7, fan_out 128
                    elif name.startswith("weight_hh"):
                        prm.copy_(torch.eye(HIDDEN))
                    else:                              # bias_ih, bias_hh
                        prm.zero_()
                nn.init.xavier_uniform_(self.out.weight)  # fan_in 128, fan_out 10
                self.out.bias.zero_()

        def forward(self, xs):  # xs: (batch, 112, 7)
            if impl == "fused":
                hs, _ = self.rnn(xs)          # h_0 = 0 by default
                return self.out(hs[:, -1])
            h = torch.zeros(xs.shape[0], HIDDEN)
            for t in range(STEPS):
                h = self.rnn(xs[:, t], h)
            return self.out(h)

    return PatchRNN()


def accuracy(net, x, t, chunk=1000):
    import torch
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            y = net(torch.from_numpy(x[i:i + chunk]))
            correct += int((y.argmax(dim=1) == torch.from_numpy(t[i:i + chunk])).sum())
    return correct / len(x)


# ---- main ------------------------------------------------------------------

def main():
    args = parse_args()
    common.setup_threads(args.threads)
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)

    x_train, t_train, x_val, t_val = load_data(args.data)
    net = build_model(args.impl)
    opt = torch.optim.RMSprop(net.parameters(), lr=LR, alpha=ALPHA, eps=EPS)

    for epoch in range(1, args.epochs + 1):
        net.train()
        order = rng.permutation(N_TRAIN)
        # Gather the shuffled epoch (a 16 MB copy) inside the timed region, so that
        # "seconds" covers all of the epoch's training work.
        t0 = time.perf_counter()
        xs_epoch = torch.from_numpy(x_train[order])
        ts_epoch = torch.from_numpy(t_train[order])
        losses = []
        for i in range(0, N_TRAIN, BATCH):  # 100 updates
            loss = F.cross_entropy(net(xs_epoch[i:i + BATCH]), ts_epoch[i:i + BATCH])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        seconds = time.perf_counter() - t0

        net.eval()
        t1 = time.perf_counter()
        val_accuracy = accuracy(net, x_val, t_val)
        eval_seconds = time.perf_counter() - t1
        record = {"framework": "torch", "impl": args.impl, "workload": "patch_rnn_fashion",
                  "epoch": epoch, "train_loss": round(sum(losses) / len(losses), 6),
                  "val_accuracy": val_accuracy,
                  "seconds": round(seconds, 3), "eval_seconds": round(eval_seconds, 3),
                  "threads": args.threads}
        if args.train_accuracy:
            record["train_accuracy"] = accuracy(net, x_train, t_train)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
