"""Independent safetensors writer/checker built on numpy, for SafetensorsNumpyInteropTest.

write OUT.safetensors OUT.json : writes one tensor per dtype (keys in reverse offset order,
                                 unpadded header) and the expected values as float64 lists.
check ORIG COPY                : parses both files and exits non-zero unless every tensor's
                                 dtype, shape and bytes and the __metadata__ are equal.
"""
import json
import struct
import sys

import numpy as np

LE = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
      "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?", "BF16": "<u2"}


def tensors():
    rng = np.random.default_rng(7)
    out = {}
    base = rng.standard_normal(24) * 100
    out["f64"] = ("F64", [2, 3, 4], base.astype("<f8"))
    out["f32"] = ("F32", [4, 6], base.astype("<f4"))
    out["f16"] = ("F16", [24], base.astype("<f2"))
    f32 = base.astype("<f4")
    bf = (f32.view("<u4") >> 16).astype("<u2")  # truncation: exact bf16 values
    out["bf16"] = ("BF16", [3, 8], bf)
    out["i64"] = ("I64", [24], rng.integers(-2**40, 2**40, 24).astype("<i8"))
    out["i32"] = ("I32", [24], rng.integers(-2**31, 2**31 - 1, 24).astype("<i4"))
    out["i16"] = ("I16", [24], rng.integers(-2**15, 2**15 - 1, 24).astype("<i2"))
    out["i8"] = ("I8", [24], rng.integers(-128, 127, 24).astype("i1"))
    out["u8"] = ("U8", [24], rng.integers(0, 255, 24).astype("u1"))
    out["bool"] = ("BOOL", [24], rng.integers(0, 2, 24).astype("?"))
    out["scalar"] = ("F32", [], np.array([-0.0], dtype="<f4"))
    out["empty"] = ("F16", [0, 5], np.zeros(0, dtype="<f2"))
    return out


def as_float64(dtype, arr):
    if dtype == "BF16":
        return (arr.astype("<u4") << 16).view("<f4").astype(np.float64)
    return arr.astype(np.float64)


def write(path, expected_path):
    ts = tensors()
    data = b""
    entries = {}
    for name, (dtype, shape, arr) in ts.items():
        raw = arr.tobytes()
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    header = {"__metadata__": {"format": "np", "source": "numpy"}}
    for name in reversed(list(entries)):
        header[name] = entries[name]
    h = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        f.write(data)
    expected = {name: {"dtype": d, "shape": s, "values": [float(v) for v in as_float64(d, a)]}
                for name, (d, s, a) in ts.items()}
    with open(expected_path, "w") as f:
        json.dump(expected, f)


def parse(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    md = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=LE[e["dtype"]])
        assert arr.size == int(np.prod(e["shape"], dtype=np.int64)), name
        out[name] = (e["dtype"], list(e["shape"]), data[b:end])
    return md, out


def check(orig, copy):
    md1, t1 = parse(orig)
    md2, t2 = parse(copy)
    if md1 != md2:
        sys.exit("metadata differs: %r vs %r" % (md1, md2))
    if set(t1) != set(t2):
        sys.exit("tensor names differ")
    for name in t1:
        if t1[name] != t2[name]:
            sys.exit("tensor %s differs" % name)
    print("ok %d tensors" % len(t1))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        check(sys.argv[2], sys.argv[3])
