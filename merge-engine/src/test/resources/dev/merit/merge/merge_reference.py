"""Independent numpy reference for Merit's merge strategies (test oracle, float64).

usage: python3 merge_reference.py spec.json
spec: {"base": path|null, "models": [path...], "kind": "model"|"delta", "masks": [path...]|null,
       "fishers": [path...]|null, "base_fisher": path|null, "weights": [...], "strategy": str,
       "params": {...}, "out": path}
Sparse inputs are given as dense deltas plus 0/1 masks. Writes the expected merged tensors as F32 safetensors.
"""
import json, struct, sys
import numpy as np

MASK64 = (1 << 64) - 1


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in hdr.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        buf = data[b:en]
        dt = e["dtype"]
        if dt not in ("F32", "F16", "BF16", "F64"):
            continue  # only floating-point tensors are merged
        if dt == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(buf, dtype={"F32": "<f4", "F16": "<f2", "F64": "<f8"}[dt])
        out[name] = a.astype(np.float64).reshape(e["shape"]) if e["shape"] else a.astype(np.float64)
    return out, [k for k in hdr if k in out]


def write_st(path, tensors, order):
    hdr, off, blobs = {}, 0, []
    for name in order:
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def mix(z):  # SplitMix64 finalizer on uint64 arrays
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
    return z ^ (z >> np.uint64(31))


def java_hash(s):
    h = 0
    for c in s:
        h = (31 * h + ord(c)) & 0xffffffff
    return h | (MASK64 ^ 0xffffffff) if h & 0x80000000 else h  # sign-extend to 64 bits


def dare_keep(seed, i, name, numel, p):
    with np.errstate(over="ignore"):
        g = np.uint64(0x9E3779B97F4A7C15)
        s0 = mix(np.uint64((seed ^ 0x4d45524954) & MASK64))
        salt = s0 + np.uint64(i) * g + mix(np.uint64(java_hash(name)))
        salt = mix(np.uint64(salt))
        h = mix(salt + np.arange(numel, dtype=np.uint64) * g)
    u = (h >> np.uint64(11)).astype(np.float64)
    return u >= np.ceil(p * 2.0 ** 53)


def main():
    spec = json.load(open(sys.argv[1]))
    P = spec["params"]
    n = len(spec["models"])
    models = [read_st(p)[0] for p in spec["models"]]
    ref_order = read_st(spec["models"][0])[1]
    base = read_st(spec["base"])[0] if spec.get("base") else None
    if base is not None:
        ref_order = read_st(spec["base"])[1]
    masks = [read_st(p)[0] for p in spec["masks"]] if spec.get("masks") else None
    fishers = [read_st(p)[0] for p in spec["fishers"]] if spec.get("fishers") else None
    bfisher = read_st(spec["base_fisher"])[0] if spec.get("base_fisher") else None
    w = np.array(spec["weights"], dtype=np.float64)
    strat = spec["strategy"]
    over_touched = P.get("average_over", "all") == "touched"

    def delta(i, t):
        x = models[i][t]
        if spec["kind"] == "model" and base is not None:
            return x - base[t]
        return x

    def mask(i, t):
        return masks[i][t] if masks else np.ones_like(delta(i, t))

    names = ref_order
    D = {t: [delta(i, t) for i in range(n)] for t in names}
    M = {t: [mask(i, t) for i in range(n)] for t in names}
    # clipping first
    clip = P.get("clip_norm", 0)
    if clip > 0:
        if P.get("clip_scope", "model") == "model":
            norms = [np.sqrt(sum((D[t][i] ** 2).sum() for t in names)) for i in range(n)]
            for t in names:
                for i in range(n):
                    if norms[i] > clip:
                        D[t][i] = D[t][i] * (clip / norms[i])
        else:
            for t in names:
                for i in range(n):
                    nn = np.sqrt((D[t][i] ** 2).sum())
                    if nn > clip:
                        D[t][i] = D[t][i] * (clip / nn)
    lam = P.get("lambda", 1.0)
    eta = P.get("step_size", 1.0)
    sel_w = w.copy()
    if strat in ("krum", "multi-krum"):
        flat = [np.concatenate([D[t][i].ravel() for t in names]) for i in range(n)]
        f = P.get("byzantine", -1)
        if f < 0:
            f = max(0, (n - 3) // 2)
        k = n - f - 2
        scores = []
        for i in range(n):
            d2 = sorted(((flat[i] - flat[j]) ** 2).sum() for j in range(n) if j != i)
            scores.append(sum(d2[:k]))
        order = sorted(range(n), key=lambda i: (scores[i], i))
        sel_w = np.zeros(n)
        if strat == "krum":
            sel_w[order[0]] = 1.0
        else:
            m = P.get("select", 0) or n - f
            for q in order[:m]:
                sel_w[q] = w[q]
    if fishers is not None and P.get("normalize_fishers", False):
        means = []
        for i in range(n):
            s = sum((fishers[i][t] * M[t][i]).sum() for t in names)
            c = sum(M[t][i].sum() for t in names)
            means.append(s / c)
        fishers = [{t: fishers[i][t] / means[i] for t in names} for i in range(n)]
        if bfisher is not None:
            bm = sum(bfisher[t].sum() for t in names) / sum(bfisher[t].size for t in names)
            bfisher = {t: bfisher[t] / bm for t in names}
    out = {}
    for t in names:
        d = np.stack(D[t])
        m = np.stack(M[t])
        shape = d.shape[1:]
        wv = w.reshape((n,) + (1,) * len(shape))
        if strat == "average":
            if over_touched:
                den = (wv * m).sum(0)
                r = np.where(den != 0, (wv * d).sum(0) / np.where(den != 0, den, 1), 0)
            else:
                r = (wv * d).sum(0) / w.sum()
        elif strat in ("krum", "multi-krum"):
            sv = sel_w.reshape(wv.shape)
            r = (sv * d).sum(0) / sel_w.sum()
        elif strat == "fisher":
            floor = P.get("fisher_floor", 1e-6)
            F = np.maximum(np.stack([fishers[i][t] for i in range(n)]), floor)
            a = wv * F * m
            num = (a * d).sum(0)
            den = a.sum(0)
            if P.get("favor_base", False):
                bf = bfisher[t] if bfisher is not None else np.full(shape, P["base_fisher_value"])
                den = den + P.get("base_weight", 1.0) * np.maximum(bf, floor)
            r = np.where(den != 0, num / np.where(den != 0, den, 1), 0)
        elif strat == "task-arithmetic":
            r = lam * (wv * d).sum(0)
        elif strat == "ties":
            numel = int(np.prod(shape)) if shape else 1
            k = int(np.floor(P.get("density", 0.2) * numel + 0.5))
            tr = np.zeros_like(d)
            for i in range(n):
                mag = np.abs(d[i]).ravel()
                nz = np.sort(mag[mag != 0])
                if k == 0:
                    thr = np.inf
                elif k >= nz.size:
                    thr = 1e-300
                else:
                    thr = nz[nz.size - k]
                tr[i] = np.where(np.abs(d[i]) >= thr, d[i], 0)
            mass = (wv * tr).sum(0)
            agree = (tr != 0) & (np.sign(tr) == np.sign(mass)) & (mass != 0)
            num = (wv * tr * agree).sum(0)
            den = (wv * agree).sum(0)
            r = lam * np.where(den != 0, num / np.where(den != 0, den, 1), 0)
        elif strat == "dare":
            p = P.get("drop_rate", 0.9)
            numel = int(np.prod(shape)) if shape else 1
            r = np.zeros(shape)
            for i in range(n):
                keep = dare_keep(P.get("seed", 0), i, t, numel, p).reshape(shape)
                r = r + w[i] * np.where(keep, d[i], 0) / (1 - p)
            r = lam * r
        elif strat in ("median", "trimmed-mean"):
            flatd = d.reshape(n, -1)
            flatm = m.reshape(n, -1)
            r = np.zeros(flatd.shape[1])
            beta = P.get("beta", 0.1)
            for j in range(flatd.shape[1]):
                v = np.sort(flatd[:, j][flatm[:, j] != 0] if over_touched else flatd[:, j])
                if v.size == 0:
                    continue
                if strat == "median":
                    r[j] = np.median(v)
                else:
                    c = int(np.floor(beta * v.size))
                    r[j] = v[c:v.size - c].mean()
            r = r.reshape(shape)
        else:
            raise SystemExit("unknown strategy " + strat)
        b = base[t] if base is not None else 0.0
        out[t] = b + eta * r
    write_st(spec["out"], out, names)


if __name__ == "__main__":
    main()
