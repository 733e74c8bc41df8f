"""Training throughput of PyTorch on the benchmark's MLP, for comparison with Merit's trainer.

    python3 torch_train.py DATA_DIR HIDDEN1 HIDDEN2 BATCH STEPS WARMUP THREADS

Trains nn.Sequential(Linear(784, H1), ReLU, Linear(H1, H2), ReLU, Linear(H2, 10)) with plain
SGD on Fashion-MNIST images scaled to [0, 1], batches drawn in a seeded random order, and
prints one line: examples/s over STEPS steps after WARMUP steps.
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch

data, h1, h2, batch, steps, warmup, threads = sys.argv[1], *map(int, sys.argv[2:8])
torch.set_num_threads(threads)
img = gzip.open(data + "/train-images-idx3-ubyte.gz").read()
lab = gzip.open(data + "/train-labels-idx1-ubyte.gz").read()
n = struct.unpack(">I", img[4:8])[0]
x_all = np.frombuffer(img[16:], dtype=np.uint8).reshape(n, 784)
y_all = np.frombuffer(lab[8:], dtype=np.uint8).astype(np.int64)
model = torch.nn.Sequential(torch.nn.Linear(784, h1), torch.nn.ReLU(), torch.nn.Linear(h1, h2), torch.nn.ReLU(),
                            torch.nn.Linear(h2, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
loss_fn = torch.nn.CrossEntropyLoss()
rng = np.random.default_rng(1)


def step():
    idx = rng.integers(0, n, batch)
    x = torch.from_numpy(x_all[idx].astype(np.float32) / 255.0)
    y = torch.from_numpy(y_all[idx])
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


for _ in range(warmup):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
print(batch * steps / (time.perf_counter() - start))
