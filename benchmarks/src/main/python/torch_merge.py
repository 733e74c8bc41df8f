"""PyTorch peer for Merit's merge benchmark: the same weighted average / Fisher merge over the
same safetensors files, read through mmap (no copy) and computed with torch ops.

usage: python3 torch_merge.py average|fisher OUT.safetensors THREADS REPS SYNC MODEL:WEIGHT[:FISHER] ...

Each of the REPS runs does what `merit merge` does: open and parse the files, merge, write the
output under a temporary name (with os.fsync when SYNC is 1, as Merit flushes its output to the
device), then rename it into place. Prints one JSON line per run with its phases in seconds:
{"seconds": whole run, "open": ..., "compute": merge in memory, "write": ..., "fsync": ..., "close": unmapping}.
Interpreter start-up and imports are not counted.
"""
import json, mmap, os, struct, sys, time, warnings
import numpy as np
import torch

# The inputs are read-only mappings; torch only reads them, so its warning about that is noise.
warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


def open_st(path):
    f = open(path, "rb")
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    n = struct.unpack("<Q", mm[:8])[0]
    hdr = json.loads(mm[8:8 + n])
    start = 8 + n
    out = {}
    for name, e in hdr.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", "benchmark files are F32"
        b, en = e["data_offsets"]
        a = np.frombuffer(mm, dtype="<f4", count=(en - b) // 4, offset=start + b)
        out[name] = torch.from_numpy(a).view(e["shape"])
    return out


def write_st(path, tensors, sync):
    hdr, off = {}, 0
    for name, t in tensors.items():
        nb = t.numel() * 4
        hdr[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + nb]}
        off += nb
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors.values():
            f.write(t.numpy().data)  # the tensor's own buffer: no extra copy
        f.flush()
        t_sync = time.perf_counter()
        if sync:
            os.fsync(f.fileno())
        t_sync = time.perf_counter() - t_sync
    os.replace(tmp, path)
    return t_sync


def merge(mode, models, weights, fishers):
    result = {}
    with torch.no_grad():
        for name in models[0]:
            if mode == "average":
                acc = models[0][name] * weights[0]
                for m, w in zip(models[1:], weights[1:]):
                    acc.add_(m[name], alpha=w)
                acc.div_(sum(weights))
            else:
                num = None
                den = None
                for i, m in enumerate(models):
                    f = fishers[i][name].clamp_min(1e-6).mul_(weights[i])
                    num = f * m[name] if num is None else num.addcmul_(f, m[name])
                    den = f if den is None else den.add_(f)
                acc = num.div_(den)
            result[name] = acc
    return result


def main():
    mode, out, threads, reps, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
    torch.set_num_threads(threads)
    specs = [a.split(":") for a in sys.argv[6:]]
    for _ in range(reps):
        if os.path.exists(out):
            os.remove(out)  # a new file each run, as the Java side does
        t0 = time.perf_counter()
        models = [open_st(s[0]) for s in specs]
        weights = [float(s[1]) for s in specs]
        fishers = [open_st(s[2]) for s in specs] if mode == "fisher" else None
        t1 = time.perf_counter()
        result = merge(mode, models, weights, fishers)
        t2 = time.perf_counter()
        t_sync = write_st(out, result, sync)
        t3 = time.perf_counter()
        # Unmapping the inputs is part of the run, as Merit closes its files before returning.
        del models, fishers, result
        t4 = time.perf_counter()
        print(json.dumps({"seconds": t4 - t0, "open": t1 - t0, "compute": t2 - t1,
                          "write": t3 - t2 - t_sync, "fsync": t_sync, "close": t4 - t3}), flush=True)


if __name__ == "__main__":
    main()
