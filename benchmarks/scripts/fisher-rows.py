#!/usr/bin/env python3
"""Per classifier row, each contributor's share of the Fisher in a Q1 run folder.

Usage: fisher-rows.py RUN_DIR [empirical|exact] [CLASSIFIER_WEIGHT] [K]
RUN_DIR is OUT/q1/<setting>/seed<N> as written by `merit experiment q1`. Each contributor's Fisher
is first divided by its total (as normalize_fishers does, up to a constant), then each row's sum is
shown as a percentage of that row's sum over all contributors.
"""
import json
import struct
import sys

import numpy as np


def load(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        start, end = info['data_offsets']
        out[name] = np.frombuffer(raw[8 + n + start:8 + n + end], dtype=np.float32).reshape(info['shape'])
    return out


def main():
    run = sys.argv[1]
    kind = sys.argv[2] if len(sys.argv) > 2 else 'empirical'
    layer = sys.argv[3] if len(sys.argv) > 3 else '4.weight'
    k = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    rows = []
    for i in range(k):
        f = load(f'{run}/c{i}.fisher-{kind}.safetensors')
        total = sum(float(v.sum()) for v in f.values())
        rows.append(f[layer].sum(axis=1) / total)
    rows = np.array(rows)
    print('| row | ' + ' | '.join(f'c{i}' for i in range(k)) + ' |')
    print('|---|' + '---|' * k)
    for c in range(rows.shape[1]):
        col = rows[:, c]
        print(f'| {c} | ' + ' | '.join(f'{100 * x / col.sum():.1f}' for x in col) + ' |')


if __name__ == '__main__':
    main()
