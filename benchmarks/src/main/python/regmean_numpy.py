"""RegMean in numpy, the way a numpy user would write it, for RegMeanBench.

usage: python3 regmean_numpy.py spec.json   (spec: models, grams, weights, alpha, out, reps, threads)
Reads the safetensors files (mmap, no copy), merges each linear layer with
W^T = solve(sum_i w_i G_i', sum_i w_i G_i' W_i^T) in float32 (LAPACK sgesv), other tensors by
the weighted mean, writes the result; prints JSON with the best of `reps` whole runs and of the
compute alone.
"""
import json, mmap, os, struct, sys, time
import numpy as np

DT = {"F32": np.float32, "F16": np.float16}


def open_st(path):
    f = open(path, "rb")
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    n = struct.unpack("<Q", m[:8])[0]
    hdr = json.loads(m[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    out = {}
    for name, e in hdr.items():
        b, en = e["data_offsets"]
        out[name] = np.frombuffer(m, dtype=DT[e["dtype"]], count=(en - b) // np.dtype(DT[e["dtype"]]).itemsize,
                                  offset=8 + n + b).reshape(e["shape"])
    return out, list(hdr), meta, (f, m)


def full_gram(g, n_in):
    if g.ndim == 2:
        return g.astype(np.float32)
    full = np.zeros((n_in, n_in), dtype=np.float32)
    full[np.triu_indices(n_in)] = g
    return full + np.triu(full, 1).T


def merge(models, grams, w, alpha):
    result = {}
    for name in models[0][1]:
        ws = [m[0][name] for m in models]
        if ws[0].ndim == 2 and all(name in g[0] for g in grams):
            n_in = ws[0].shape[1]
            a = np.zeros((n_in, n_in), dtype=np.float32)
            rhs = np.zeros((n_in, ws[0].shape[0]), dtype=np.float32)
            for i, g in enumerate(grams):
                gi = full_gram(g[0][name], n_in)
                gi = alpha * gi + (1 - alpha) * np.diag(np.diag(gi))
                a += w[i] * gi
                rhs += (w[i] * gi) @ ws[i].T
            result[name] = np.linalg.solve(a, rhs).T
        else:
            result[name] = sum(w[i] * ws[i] for i in range(len(ws))) / w.sum()
    return result, models[0][1]


def write(path, tensors, order):
    hdr, off = {}, 0
    for name in order:
        a = tensors[name]
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.size * 4]}
        off += a.size * 4
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name in order:
            f.write(np.ascontiguousarray(tensors[name], dtype="<f4").data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    spec = json.load(open(sys.argv[1]))
    w = np.array(spec["weights"], dtype=np.float32)
    best_whole, best_compute = float("inf"), float("inf")
    for _ in range(spec["reps"] + 1):
        t0 = time.perf_counter()
        models = [open_st(p) for p in spec["models"]]
        grams = [open_st(p) for p in spec["grams"]]
        t1 = time.perf_counter()
        result, order = merge(models, grams, w, spec["alpha"])
        t2 = time.perf_counter()
        write(spec["out"], result, order)
        t3 = time.perf_counter()
        best_whole = min(best_whole, t3 - t0)
        best_compute = min(best_compute, t2 - t1)
    print(json.dumps({"whole": best_whole, "compute": best_compute}))


main()
