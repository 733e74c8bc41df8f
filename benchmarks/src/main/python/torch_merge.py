"""PyTorch peer for Merit's merge benchmark: the same weighted average / Fisher merge over the
same safetensors files, read through mmap (no copy) and computed with torch ops.

usage: python3 torch_merge.py average|fisher OUT.safetensors THREADS MODEL:WEIGHT[:FISHER] ...
Prints one JSON line: {"seconds": merge time excluding interpreter start-up and imports}.
"""
import json, mmap, struct, sys, time
import numpy as np
import torch


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
        out[name] = (torch.from_numpy(a).view(e["shape"]), e["shape"])
    return out


def write_st(path, tensors):
    hdr, off = {}, 0
    for name, t in tensors.items():
        nb = t.numel() * 4
        hdr[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + nb]}
        off += nb
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors.values():
            f.write(t.numpy().tobytes())


def main():
    mode, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    specs = [a.split(":") for a in sys.argv[4:]]
    t0 = time.perf_counter()
    models = [open_st(s[0]) for s in specs]
    weights = [float(s[1]) for s in specs]
    fishers = [open_st(s[2]) for s in specs] if mode == "fisher" else None
    result = {}
    with torch.no_grad():
        for name in models[0]:
            if mode == "average":
                acc = models[0][name][0] * weights[0]
                for m, w in zip(models[1:], weights[1:]):
                    acc.add_(m[name][0], alpha=w)
                acc.div_(sum(weights))
            else:
                num = None
                den = None
                for i, m in enumerate(models):
                    f = fishers[i][name][0].clamp_min(1e-6).mul_(weights[i])
                    num = f * m[name][0] if num is None else num.addcmul_(f, m[name][0])
                    den = f if den is None else den.add_(f)
                acc = num.div_(den)
            result[name] = acc
    write_st(out, result)
    print(json.dumps({"seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
