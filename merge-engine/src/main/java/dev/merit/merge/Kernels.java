package dev.merit.merge;

import java.util.Arrays;

/**
 * The strategies' inner loops: each turns one loaded {@link Block} into the merged change
 * {@code b.out[0, len)}. Loops run over plain float arrays, input by input, so C2 vectorizes
 * the common ones (average, fisher, task arithmetic).
 */
final class Kernels {

    private Kernels() {}

    static void merge(Block b, TensorCtx c) {
        MergeParameters p = c.rule.params();
        switch (c.rule.strategy()) {
            case AVERAGE -> average(b, c, p.averageOver() == MergeParameters.Over.TOUCHED);
            case KRUM, MULTI_KRUM -> average(b, c, false);
            case FISHER -> fisher(b, c, p);
            case TASK_ARITHMETIC -> taskArithmetic(b, c, (float) p.lambda());
            case TIES -> ties(b, c, (float) p.lambda());
            case DARE -> dare(b, c, p.dropRate(), (float) p.lambda());
            case MEDIAN -> orderStatistic(b, p.averageOver() == MergeParameters.Over.TOUCHED, 0, true);
            case TRIMMED_MEAN -> orderStatistic(b, p.averageOver() == MergeParameters.Over.TOUCHED, p.beta(), false);
            case BASE -> Arrays.fill(b.out, 0, b.len, 0f);
            case REGMEAN -> throw new IllegalStateException("regmean tensor '" + c.name() + "' reached the per-entry kernels");
        }
    }

    private static void weightedSum(Block b, TensorCtx c, float scale) {
        int len = b.len;
        float[] out = b.out;
        Arrays.fill(out, 0, len, 0f);
        for (int i = 0; i < b.n; i++) {
            float w = c.w[i] * scale;
            if (w == 0) {
                continue;
            }
            float[] d = b.d[i];
            for (int j = 0; j < len; j++) {
                out[j] += w * d[j];
            }
        }
    }

    static void average(Block b, TensorCtx c, boolean touchedOnly) {
        int len = b.len;
        float[] out = b.out;
        if (!touchedOnly) {
            weightedSum(b, c, 1f / c.wSum);
            return;
        }
        weightedSum(b, c, 1f);
        float[] den = b.tmp;
        Arrays.fill(den, 0, len, 0f);
        for (int i = 0; i < b.n; i++) {
            float w = c.w[i];
            float[] m = b.m[i];
            for (int j = 0; j < len; j++) {
                den[j] += w * m[j];
            }
        }
        for (int j = 0; j < len; j++) {
            out[j] = den[j] != 0 ? out[j] / den[j] : 0f;
        }
    }

    static void fisher(Block b, TensorCtx c, MergeParameters p) {
        int len = b.len;
        float[] num = b.out;
        float[] den = b.tmp;
        Arrays.fill(num, 0, len, 0f);
        if (p.favorBase()) {
            float bw = (float) p.baseWeight();
            float[] bf = b.baseFisher;
            for (int j = 0; j < len; j++) {
                den[j] = bw * bf[j];
            }
        } else {
            Arrays.fill(den, 0, len, 0f);
        }
        for (int i = 0; i < b.n; i++) {
            float w = c.w[i];
            if (w == 0) {
                continue;
            }
            float[] d = b.d[i];
            float[] f = b.f[i];
            float[] m = b.m[i];
            for (int j = 0; j < len; j++) {
                float a = w * f[j] * m[j];
                num[j] += a * d[j];
                den[j] += a;
            }
        }
        for (int j = 0; j < len; j++) {
            num[j] = den[j] != 0 ? num[j] / den[j] : 0f;
        }
    }

    static void taskArithmetic(Block b, TensorCtx c, float lambda) {
        weightedSum(b, c, lambda);
    }

    static void ties(Block b, TensorCtx c, float lambda) {
        int len = b.len;
        float[] mass = b.tmp;
        float[] num = b.out;
        float[] den = b.baseFisher; // free: TIES reads no Fisher
        Arrays.fill(mass, 0, len, 0f);
        Arrays.fill(num, 0, len, 0f);
        Arrays.fill(den, 0, len, 0f);
        for (int i = 0; i < b.n; i++) {
            float w = c.w[i];
            float thr = c.thr[i];
            float[] d = b.d[i];
            for (int j = 0; j < len; j++) {
                float t = Math.abs(d[j]) >= thr ? d[j] : 0f;
                mass[j] += w * t;
            }
        }
        for (int i = 0; i < b.n; i++) {
            float w = c.w[i];
            float thr = c.thr[i];
            float[] d = b.d[i];
            for (int j = 0; j < len; j++) {
                float t = Math.abs(d[j]) >= thr ? d[j] : 0f;
                // Only entries whose sign matches the elected one (the sign of the total mass) count.
                if (t > 0 && mass[j] > 0 || t < 0 && mass[j] < 0) {
                    num[j] += w * t;
                    den[j] += w;
                }
            }
        }
        for (int j = 0; j < len; j++) {
            num[j] = den[j] != 0 ? lambda * num[j] / den[j] : 0f;
        }
    }

    static void dare(Block b, TensorCtx c, double p, float lambda) {
        int len = b.len;
        float[] out = b.out;
        Arrays.fill(out, 0, len, 0f);
        float rescale = (float) (1 / (1 - p));
        // keep iff the 53-bit uniform u >= p, i.e. its integer form >= ceil(p * 2^53)
        long cut = (long) Math.ceil(p * 0x1p53);
        for (int i = 0; i < b.n; i++) {
            float w = c.w[i] * rescale * lambda;
            long salt = c.salt[i];
            float[] d = b.d[i];
            if (b.gathered) {
                long[] pos = b.pos;
                for (int j = 0; j < len; j++) {
                    if ((Dare.hash(salt, pos[j]) >>> 11) >= cut) {
                        out[j] += w * d[j];
                    }
                }
            } else {
                for (int j = 0; j < len; j++) {
                    if ((Dare.hash(salt, b.start + j) >>> 11) >= cut) {
                        out[j] += w * d[j];
                    }
                }
            }
        }
    }

    static void orderStatistic(Block b, boolean touchedOnly, double beta, boolean median) {
        int len = b.len;
        float[] v = b.sortBuf;
        for (int j = 0; j < len; j++) {
            int k = 0;
            for (int i = 0; i < b.n; i++) {
                if (!touchedOnly || b.m[i][j] != 0) {
                    float x = b.d[i][j];
                    int q = k++;
                    while (q > 0 && v[q - 1] > x) { // insertion sort: n is small
                        v[q] = v[q - 1];
                        q--;
                    }
                    v[q] = x;
                }
            }
            float r;
            if (k == 0) {
                r = 0f;
            } else if (median) {
                r = (k & 1) == 1 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) * 0.5f;
            } else {
                int cut = (int) Math.floor(beta * k);
                float s = 0f;
                for (int q = cut; q < k - cut; q++) {
                    s += v[q];
                }
                r = s / (k - 2 * cut);
            }
            b.out[j] = r;
        }
    }
}
