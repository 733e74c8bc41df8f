#!/usr/bin/env python3
"""Writes the Fashion-MNIST subset bundled with merit (used when the full set is not installed).

Reads the idx files of Debian's dataset-fashion-mnist and keeps, per class, the first
TRAIN_PER_CLASS training and TEST_PER_CLASS test examples, in their original order. The output
is gzip with a zero timestamp, so running the script again gives identical bytes.

    python3 contributor-node/scripts/make-fashion-mnist-subset.py [SRC_DIR] [OUT_DIR]
"""
import gzip
import struct
import sys
from pathlib import Path

TRAIN_PER_CLASS = 1200
TEST_PER_CLASS = 200
SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else
           Path(__file__).resolve().parent.parent / "src/main/resources/dev/merit/train/data/fashion-mnist-subset")


def read(name):
    return gzip.decompress((SRC / name).read_bytes())


def subset(split, per_class):
    images, labels = read(f"{split}-images-idx3-ubyte.gz"), read(f"{split}-labels-idx1-ubyte.gz")
    _, n, rows, cols = struct.unpack(">IIII", images[:16])
    size = rows * cols
    taken, keep = [0] * 10, []
    for i in range(n):
        y = labels[8 + i]
        if taken[y] < per_class:
            taken[y] += 1
            keep.append(i)
    img = struct.pack(">IIII", 0x803, len(keep), rows, cols) + b"".join(
        images[16 + i * size:16 + (i + 1) * size] for i in keep)
    lab = struct.pack(">II", 0x801, len(keep)) + bytes(labels[8 + i] for i in keep)
    for name, data in ((f"{split}-images-idx3-ubyte.gz", img), (f"{split}-labels-idx1-ubyte.gz", lab)):
        (OUT / name).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return len(keep)


OUT.mkdir(parents=True, exist_ok=True)
print("train", subset("train", TRAIN_PER_CLASS), "test", subset("t10k", TEST_PER_CLASS), "->", OUT)
