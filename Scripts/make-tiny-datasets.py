#!/usr/bin/env python3
"""Writes tiny data sets for smoke-testing the examples (CI runs them on these, in release builds).

    python3 Scripts/make-tiny-datasets.py DIR

DIR/mnist/     the four IDX files of an MNIST-style set (gzip-compressed): 64 training and 32 test images of
               28x28 pixels whose classes are told apart by which rows are bright, labels 0-9.
DIR/text.txt   a few hundred words of English for the language model.
Only the Python standard library is used.
"""
import gzip
import os
import random
import struct
import sys


def idx(path, type_code, shape, data):
    header = bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(data))


def images(count, rng):
    labels, pixels = [], []
    for i in range(count):
        label = i % 10
        labels.append(label)
        for r in range(28):
            for c in range(28):
                bright = (r // 3) == label  # a bright band whose position is the class
                pixels.append(min(255, (200 if bright else 20) + rng.randrange(40)))
    return labels, pixels


def main():
    out = sys.argv[1]
    rng = random.Random(0)
    mnist = os.path.join(out, "mnist")
    os.makedirs(mnist, exist_ok=True)
    for prefix, count in (("train", 64), ("t10k", 32)):
        labels, pixels = images(count, rng)
        idx(os.path.join(mnist, prefix + "-images-idx3-ubyte.gz"), 0x08, (count, 28, 28), pixels)
        idx(os.path.join(mnist, prefix + "-labels-idx1-ubyte.gz"), 0x08, (count,), labels)
    words = ("the quick brown fox jumps over the lazy dog . a license grants the right to copy , modify and "
             "distribute the work under these terms . ").split()
    with open(os.path.join(out, "text.txt"), "w", encoding="utf-8") as f:
        for line in range(40):
            f.write(" ".join(words[(line * 7 + k) % len(words)] for k in range(12)) + "\n")


if __name__ == "__main__":
    main()
