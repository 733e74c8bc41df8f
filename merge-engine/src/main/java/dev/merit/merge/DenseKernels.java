package dev.merit.merge;

import java.util.Arrays;

/**
 * Single-pass kernels for the common strategies when every input is dense: each input is read
 * straight into a small tile and folded into the result, instead of being loaded into the block's
 * per-input arrays first. That halves the bytes moved per element and keeps the working set in
 * the L1/L2 caches, so the merge runs at the speed memory can feed it.
 *
 * <p>The arithmetic is the general path's ({@code OpenedTensor.load} then {@link Kernels}), operation
 * for operation and in the same order, so both give bit-identical results.
 */
final class DenseKernels {

    /** Elements per tile: a few 16 KiB float arrays stay in L1 while the inputs stream through. */
    static final int TILE = 4096;

    private DenseKernels() {}

    /**
     * Puts the merged change of elements [start, start + len) in {@code b.out[0, len)} and the
     * base in {@code b.base[0, len)}; returns false, doing nothing, if the strategy has no kernel here.
     */
    static boolean merge(Block b, TensorCtx c, OpenedTensor o, long start, int len) {
        MergeParameters p = c.rule.params();
        switch (c.rule.strategy()) {
            case AVERAGE -> {
                if (p.averageOver() == MergeParameters.Over.TOUCHED) {
                    return false;
                }
                weighted(b, c, o, start, len, 1f / c.wSum);
            }
            case KRUM, MULTI_KRUM -> weighted(b, c, o, start, len, 1f / c.wSum);
            case TASK_ARITHMETIC -> weighted(b, c, o, start, len, (float) p.lambda());
            case FISHER -> fisher(b, c, o, p, start, len);
            default -> {
                return false;
            }
        }
        return true;
    }

    /** The base for tile [start + off, start + off + tl) into {@code bt[0, tl)}, and into {@code b.base} where the caller expects it. */
    private static void readBase(Block b, OpenedTensor o, long start, int off, int tl, float[] bt) {
        if (o.base != null) {
            BlockIO.read(o.base, o.baseType, start + off, tl, bt, b.s16, b.f64);
        } else {
            Arrays.fill(bt, 0, tl, 0f);
        }
        System.arraycopy(bt, 0, b.base, off, tl);
    }

    // The loops below index tile arrays from 0: with an offset into one array and not the other,
    // C2 cannot rule out overlap between two float[]s and leaves the loop scalar (several times slower).

    /** {@code out = sum_i (w_i * scale) * d_i}, with {@code d_i = (x_i - base) * clip_i}. */
    private static void weighted(Block b, TensorCtx c, OpenedTensor o, long start, int len, float scale) {
        float[] x = b.tmp;
        float[] ot = b.d[0];
        float[] bt = b.m[0];
        for (int off = 0; off < len; off += TILE) {
            int tl = Math.min(TILE, len - off);
            readBase(b, o, start, off, tl, bt);
            Arrays.fill(ot, 0, tl, 0f);
            for (int i = 0; i < b.n; i++) {
                float w = c.w[i] * scale;
                if (w == 0) {
                    continue;
                }
                BlockIO.read(o.seg[i], o.type[i], start + off, tl, x, b.s16, b.f64);
                float s = c.scale == null ? 1f : c.scale[i];
                boolean minus = o.minusBase[i];
                // Four loops rather than one with branches, so each stays a plain vectorizable loop.
                if (minus && s != 1f) {
                    for (int j = 0; j < tl; j++) {
                        ot[j] += w * ((x[j] - bt[j]) * s);
                    }
                } else if (minus) {
                    for (int j = 0; j < tl; j++) {
                        ot[j] += w * (x[j] - bt[j]);
                    }
                } else if (s != 1f) {
                    for (int j = 0; j < tl; j++) {
                        ot[j] += w * (x[j] * s);
                    }
                } else {
                    for (int j = 0; j < tl; j++) {
                        ot[j] += w * x[j];
                    }
                }
            }
            System.arraycopy(ot, 0, b.out, off, tl);
        }
    }

    /** {@code out = sum_i a_i d_i / (B + sum_i a_i)} with {@code a_i = w_i * max(F_i * inv_i, floor)}; 0 where the denominator is 0. */
    private static void fisher(Block b, TensorCtx c, OpenedTensor o, MergeParameters p, long start, int len) {
        float[] x = b.tmp;
        float[] f = b.f[0];
        float[] den = b.baseFisher;
        float[] num = b.d[0];
        float[] bt = b.m[0];
        float floor = (float) p.fisherFloor();
        int n = b.n;
        for (int off = 0; off < len; off += TILE) {
            int tl = Math.min(TILE, len - off);
            readBase(b, o, start, off, tl, bt);
            Arrays.fill(num, 0, tl, 0f);
            if (p.favorBase()) {
                if (o.baseFisherSeg != null) {
                    BlockIO.read(o.baseFisherSeg, o.baseFisherType, start + off, tl, den, b.s16, b.f64);
                } else {
                    Arrays.fill(den, 0, tl, (float) p.baseFisherValue());
                }
                float inv = o.baseFisherSeg != null ? c.fisherInv[n] : 1f;
                float bw = (float) p.baseWeight();
                for (int j = 0; j < tl; j++) {
                    den[j] = bw * Math.max(den[j] * inv, floor);
                }
            } else {
                Arrays.fill(den, 0, tl, 0f);
            }
            for (int i = 0; i < n; i++) {
                float w = c.w[i];
                if (w == 0) {
                    continue;
                }
                BlockIO.read(o.seg[i], o.type[i], start + off, tl, x, b.s16, b.f64);
                BlockIO.read(o.fisher[i], o.fisherType[i], start + off, tl, f, b.s16, b.f64);
                float s = c.scale == null ? 1f : c.scale[i];
                if (o.minusBase[i]) {
                    for (int j = 0; j < tl; j++) {
                        x[j] -= bt[j];
                    }
                }
                if (s != 1f) {
                    for (int j = 0; j < tl; j++) {
                        x[j] *= s;
                    }
                }
                float inv = c.fisherInv[i];
                for (int j = 0; j < tl; j++) {
                    float a = w * Math.max(f[j] * inv, floor);
                    num[j] += a * x[j];
                    den[j] += a;
                }
            }
            for (int j = 0; j < tl; j++) {
                num[j] = den[j] != 0 ? num[j] / den[j] : 0f;
            }
            System.arraycopy(num, 0, b.out, off, tl);
        }
    }
}
