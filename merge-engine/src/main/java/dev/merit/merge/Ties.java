package dev.merit.merge;

import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * TIES needs each input's magnitude threshold per tensor (the k-th largest non-zero |d|, k =
 * round(density x numel)) before merging it: an extra pass over the tensor. Dense tensors use a
 * radix select over the float bits, so the tensor is never held; sparse ones sort their supports.
 */
final class Ties {

    private Ties() {}

    /** The threshold from the sorted non-zero magnitudes {@code mag[0, nz)}. */
    private static float select(float[] mag, int nz, long k) {
        Arrays.sort(mag, 0, nz);
        return k == 0 ? Float.POSITIVE_INFINITY : k >= nz ? Float.MIN_VALUE : mag[(int) (nz - k)];
    }

    /** Thresholds of a tensor read block by block (clipped changes). */
    static float[] thresholds(MergePlan plan, ForkJoinPool pool, OpenedTensor o) {
        TensorCtx c = o.c;
        int n = plan.n;
        long numel = c.numel();
        long k = Math.round(c.rule.params().density() * numel);
        float[] thr = new float[n];
        if (numel <= plan.blockSize) {
            // One block: sort the magnitudes.
            Block b = plan.borrow();
            try {
                o.load(b, 0, (int) numel, false);
                for (int i = 0; i < n; i++) {
                    float[] mag = new float[b.len];
                    int nz = 0;
                    for (int j = 0; j < b.len; j++) {
                        if (b.d[i][j] != 0) {
                            mag[nz++] = Math.abs(b.d[i][j]);
                        }
                    }
                    thr[i] = select(mag, nz, k);
                }
            } finally {
                plan.release(b);
            }
            return thr;
        }
        // Exact k-th largest magnitude without holding the tensor: a radix select over the
        // float bits of |d| (ordered like the values), high 16 bits first, then low 16 bits.
        long[][] high = histogram(plan, pool, o, null);
        int[] bucket = new int[n];
        long[] rest = new long[n];
        boolean second = false;
        for (int i = 0; i < n; i++) {
            long nz = Arrays.stream(high[i]).sum();
            bucket[i] = -1;
            if (k == 0) {
                thr[i] = Float.POSITIVE_INFINITY;
            } else if (k >= nz) {
                thr[i] = Float.MIN_VALUE;
            } else {
                long cum = 0;
                for (int h = 0xffff; h >= 0; h--) {
                    if (cum + high[i][h] >= k) {
                        bucket[i] = h;
                        rest[i] = k - cum;
                        second = true;
                        break;
                    }
                    cum += high[i][h];
                }
            }
        }
        if (second) {
            long[][] low = histogram(plan, pool, o, bucket);
            for (int i = 0; i < n; i++) {
                if (bucket[i] < 0) {
                    continue;
                }
                long cum = 0;
                for (int l = 0xffff; l >= 0; l--) {
                    cum += low[i][l];
                    if (cum >= rest[i]) {
                        thr[i] = Float.intBitsToFloat(bucket[i] << 16 | l);
                        break;
                    }
                }
            }
        }
        return thr;
    }

    /**
     * Per input, counts of the non-zero |d| by the high 16 bits of their float bits; or, when
     * {@code bucket} is given, by the low 16 bits among those whose high bits equal bucket[i].
     * Counts are integers, so the parallel reduction is exact whatever the split.
     */
    private static long[][] histogram(MergePlan plan, ForkJoinPool pool, OpenedTensor o, int[] bucket) {
        int n = plan.n;
        int blockSize = plan.blockSize;
        long numel = o.c.numel();
        int nb = Math.toIntExact((numel + blockSize - 1) / blockSize);
        int parts = Math.min(plan.threads, nb);
        return pool.submit(() -> IntStream.range(0, parts).parallel().mapToObj(part -> {
            long[][] h = new long[n][65536];
            Block b = plan.borrow();
            try {
                for (int k = (int) ((long) part * nb / parts); k < (int) ((long) (part + 1) * nb / parts); k++) {
                    long start = (long) k * blockSize;
                    int len = (int) Math.min(blockSize, numel - start);
                    o.load(b, start, len, false);
                    for (int i = 0; i < n; i++) {
                        float[] d = b.d[i];
                        long[] hi = h[i];
                        int want = bucket == null ? 0 : bucket[i];
                        for (int j = 0; j < len; j++) {
                            int bits = Float.floatToRawIntBits(d[j]) & 0x7fffffff;
                            if (bits == 0) {
                                continue;
                            }
                            if (bucket == null) {
                                hi[bits >>> 16]++;
                            } else if (bits >>> 16 == want) {
                                hi[bits & 0xffff]++;
                            }
                        }
                    }
                }
            } finally {
                plan.release(b);
            }
            return h;
        }).reduce((x, y) -> {
            for (int i = 0; i < n; i++) {
                for (int q = 0; q < 65536; q++) {
                    x[i][q] += y[i][q];
                }
            }
            return x;
        }).orElseThrow()).join();
    }

    /** Thresholds of a sparse tensor from its inputs' supports: the same k-th largest non-zero |d| as the dense pass finds. */
    static float[] sparseThresholds(SparseMerge sm, OpenedTensor o, SparseMerge.Union u) {
        MergePlan plan = o.plan;
        int n = plan.n;
        long k = Math.round(o.c.rule.params().density() * o.c.numel());
        float[][] mag = new float[n][];
        int[] nz = new int[n];
        for (int i = 0; i < n; i++) {
            mag[i] = new float[o.sparse[i] == null ? 0 : (int) o.sparse[i].count()];
        }
        Block b = plan.borrow();
        try {
            long[] cursor = new long[n];
            for (int g = 0; g < u.groups(); g++) {
                int from = u.groupStart()[g];
                int len = u.groupStart()[g + 1] - from;
                sm.gather(b, o, u, from, len, cursor, false);
                for (int i = 0; i < n; i++) {
                    float[] d = b.d[i];
                    float[] m = b.m[i];
                    for (int j = 0; j < len; j++) {
                        if (m[j] != 0 && d[j] != 0) {
                            mag[i][nz[i]++] = Math.abs(d[j]);
                        }
                    }
                }
            }
        } finally {
            plan.release(b);
        }
        float[] thr = new float[n];
        for (int i = 0; i < n; i++) {
            thr[i] = select(mag[i], nz[i], k);
        }
        return thr;
    }
}
