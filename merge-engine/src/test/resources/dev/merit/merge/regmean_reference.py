"""Independent numpy reference for RegMean (test oracle, float64).

usage: python3 regmean_reference.py spec.json
spec: {"models": [path...], "grams": [path...], "weights": [...], "alpha": a, "out": path}
For every 2-D tensor that has a Gram matrix G_i (packed upper triangle with metadata
"merit.gram": "packed-upper", or full [in, in]) in every Gram file:
  G_i' = alpha G_i + (1 - alpha) diag(G_i);  W^T = (sum_i w_i G_i')^-1 sum_i w_i G_i' W_i^T.
Other floating-point tensors: the weighted mean of the models. Writes F32 safetensors.
"""
import json, struct, sys
import numpy as np

DT = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = hdr.get("__metadata__", {})
    out, order = {}, []
    for name, e in hdr.items():
        if name == "__metadata__" or e["dtype"] not in DT:
            continue
        b, en = e["data_offsets"]
        out[name] = np.frombuffer(data[b:en], dtype=DT[e["dtype"]]).astype(np.float64).reshape(e["shape"])
        order.append(name)
    return out, order, meta


def gram(tensors, meta, name, n_in):
    g = tensors[name]
    if g.ndim == 2:
        return np.triu(g) + np.triu(g, 1).T  # the upper triangle is what counts
    assert meta.get("merit.gram") == "packed-upper", "packed Gram without metadata"
    full = np.zeros((n_in, n_in))
    full[np.triu_indices(n_in)] = g  # row-major upper triangle
    return full + np.triu(full, 1).T


def main():
    spec = json.load(open(sys.argv[1]))
    models = [read(p) for p in spec["models"]]
    grams = [read(p) for p in spec["grams"]]
    w = np.array(spec["weights"], dtype=np.float64)
    alpha = spec["alpha"]
    order = models[0][1]
    result = {}
    for name in order:
        ws = [m[0][name] for m in models]
        if ws[0].ndim == 2 and all(name in g[0] for g in grams):
            n_in = ws[0].shape[1]
            a = np.zeros((n_in, n_in))
            rhs = np.zeros((n_in, ws[0].shape[0]))
            for i, (gt, _, meta) in enumerate(grams):
                g = gram(gt, meta, name, n_in)
                g = alpha * g + (1 - alpha) * np.diag(np.diag(g))
                a += w[i] * g
                rhs += w[i] * g @ ws[i].T
            result[name] = np.linalg.solve(a, rhs).T
        else:
            result[name] = sum(w[i] * ws[i] for i in range(len(ws))) / w.sum()
    hdr, off, blobs = {}, 0, []
    for name in order:
        a = np.ascontiguousarray(result[name], dtype="<f4")
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(spec["out"], "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


main()
